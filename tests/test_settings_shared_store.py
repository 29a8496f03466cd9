"""A shared store (a cluster, or a store on another host) needs the same SECRET_KEY and MAC_HASH_KEY on
every host: a host refuses to start without them instead of generating its own."""

from __future__ import annotations

import pytest

from core.settings import Settings

SECRETS = {"SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32,
           "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I", "PHONE_KEY": "p" * 32}  # test keys


@pytest.mark.parametrize("env", [
    {"REDIS_URL": "redis://10.0.0.5:6379/0"},
    {"REDIS_URL": "redis://127.0.0.1:7000", "REDIS_CLUSTER": "1"},
    {"REDIS_URL": "rediss://cache.example.net:6379", "SECRET_KEY": "s" * 32},
])
def test_shared_store_without_secrets_refuses_to_start(tmp_path, env):
    with pytest.raises(ValueError, match="same on every host"):
        Settings.from_env({"DATA_DIR": str(tmp_path), **env})
    assert not (tmp_path / "secrets").exists()


def test_shared_store_with_secrets(tmp_path):
    s = Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:7000", "REDIS_CLUSTER": "1",
                           **SECRETS})
    assert s.redis_cluster and s.secret_key == "s" * 32 and s.mac_hash_key == "m" * 32


def test_local_store_keeps_generated_development_secrets(tmp_path):
    s = Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert not s.redis_cluster and len(s.secret_key) == 64


def test_cluster_needs_a_url(tmp_path):
    with pytest.raises(ValueError, match="REDIS_CLUSTER=1 needs REDIS_URL"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_CLUSTER": "1", **SECRETS})


WHY = {"SECRET_KEY": "sign-ins", "MAC_HASH_KEY": "one phone would count as two", "PHONE_KEY": "phone numbers",
       "VAPID_PRIVATE_KEY": "push subscription"}


@pytest.mark.parametrize("missing", list(WHY))
def test_each_missing_key_is_named_with_its_own_reason(tmp_path, missing):
    """A shared store's missing key is said with what a key of each host's own would break for it (a phone key
    splits no session and counts no phone twice)."""
    env = {name: value for name, value in SECRETS.items() if name != missing}
    with pytest.raises(ValueError, match="same on every host") as refused:
        Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://10.0.0.5:6379/0", **env})
    said = str(refused.value)
    assert said.startswith(f"{missing} is not set") and WHY[missing] in said
    assert [why for name, why in WHY.items() if name != missing and why in said] == []
