from __future__ import annotations

import pytest

from core.settings import Settings


def test_dev_secrets_are_generated_once_and_kept(tmp_path):
    first = Settings.from_env({"DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert first.secret_key and first.mac_hash_key and first.secret_key != first.mac_hash_key
    assert (first.secret_key, first.mac_hash_key) == (second.secret_key, second.mac_hash_key)
    assert oct((tmp_path / "secrets" / "secret_key").stat().st_mode)[-3:] == "600"


def test_environment_overrides(tmp_path):
    s = Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32,
                           "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I", "PHONE_KEY": "p" * 32,
                           "PORT": "9001", "REDIS_URL": "redis://127.0.0.1:1/0", "VENUE": "north",
                           "RSSI_WINDOW_S": "30"})
    assert (s.port, s.redis_url, s.default_venue, s.rssi_window_s) == (9001, "redis://127.0.0.1:1/0", "north", 30.0)
    assert s.secret_key == "s" * 32 and not (tmp_path / "secrets").exists()


def test_bad_numbers_are_reported_by_name(tmp_path):
    with pytest.raises(ValueError, match="PORT"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "PORT": "eighty"})


def test_app_refuses_to_start_without_a_store(tmp_path):
    from portal import create_app

    with pytest.raises(RuntimeError, match="REDIS_URL"):
        create_app(Settings.from_env({"DATA_DIR": str(tmp_path)}))


def test_mac_hash_is_keyed_and_normalised():
    from core.security import MacHasher

    a, b = MacHasher("k1"), MacHasher("k2")
    assert a.client_id("AA-BB-CC-DD-EE-FF") == a.client_id("aa:bb:cc:dd:ee:ff") == a.client_id("aabbccddeeff")
    assert a.client_id("aa:bb:cc:dd:ee:ff") != b.client_id("aa:bb:cc:dd:ee:ff")
    with pytest.raises(ValueError):
        a.client_id("aa:bb:cc:dd:ee")


CLUSTER_ENV = {"REDIS_CLUSTER": "1", "SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32,
               "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I"}


def test_a_cluster_url_may_list_several_nodes(tmp_path):
    from core.settings import redis_nodes

    url = "rediss://app:pw%2C1@10.0.0.5:7000,10.0.0.6:7001, [fd00::7]:7002,cfg.cache.example/0?ssl_cert_reqs=none"
    s = Settings.from_env({**CLUSTER_ENV, "DATA_DIR": str(tmp_path), "REDIS_URL": url})
    assert s.redis_url == url and s.redis_cluster
    # The first node's URL keeps the scheme (TLS), user, password, database and options for every node.
    assert redis_nodes(url) == ("rediss://app:pw%2C1@10.0.0.5:7000/0?ssl_cert_reqs=none", (
        ("10.0.0.5", 7000), ("10.0.0.6", 7001), ("fd00::7", 7002), ("cfg.cache.example", 6379)))
    # One node: the URL exactly as given.
    for single in ("redis://10.0.0.5:7000", "rediss://u:p@cfg.cache.example:6379/0?ssl_cert_reqs=none"):
        assert redis_nodes(single)[0] == single and len(redis_nodes(single)[1]) == 1


@pytest.mark.parametrize(("url", "reason"), [
    ("redis://10.0.0.5:7000,,10.0.0.6:7000", "an empty node"),
    ("redis://10.0.0.5:7000,10.0.0.6:port", "is not host:port"),
    ("redis://10.0.0.5:7000,10.0.0.6:70000", "out of range"),
    ("redis://10.0.0.5:7000,redis://10.0.0.6:7000", "not URLs"),
    ("redis://10.0.0.5:7000,10.0.0.5:7000", "listed twice"),
    ("redis://10.0.0.5:7000,10.0.0.6:7000/3", "only database 0"),
    ("redis://10.0.0.5:7000?db=2", "only database 0"),
    ("unix:///run/valkey.sock", "redis:// or rediss://"),
    ("redis://", "no host"),
])
def test_a_malformed_cluster_url_is_refused_at_start(tmp_path, url, reason):
    with pytest.raises(ValueError, match="REDIS_URL must be") as caught:
        Settings.from_env({**CLUSTER_ENV, "DATA_DIR": str(tmp_path), "REDIS_URL": url})
    assert reason in str(caught.value)


def test_a_refused_url_never_shows_its_password(tmp_path):
    with pytest.raises(ValueError) as caught:
        Settings.from_env({**CLUSTER_ENV, "DATA_DIR": str(tmp_path), "REDIS_URL": "redis://app:hunter2@h1:1,h2:x"})
    assert "hunter2" not in str(caught.value) and "app:***@h1:1,h2:x" in str(caught.value)


def test_several_nodes_need_cluster_mode(tmp_path):
    with pytest.raises(ValueError, match="REDIS_CLUSTER=1"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://10.0.0.5:6379,10.0.0.6:6379/0",
                           "SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32,
                           "VAPID_PRIVATE_KEY": CLUSTER_ENV["VAPID_PRIVATE_KEY"]})


def test_the_payment_sandbox_port_follows_the_portals(tmp_path):
    """`make run`'s payment sandbox: PAY_SANDBOX_PORT, else PORT + 10, so a second instance on another PORT
    does not reach for the first one's 8010 (its sandbox would fail to bind and it would pay through the
    first one's)."""
    def port(**env):
        return Settings.from_env({"DATA_DIR": str(tmp_path), **env}).payments.sandbox_port

    assert port() == 8010
    assert port(PORT="8001") == 8011
    assert port(PORT="8001", PAY_SANDBOX_PORT="9100") == 9100
    for bad in ("ninety", "0", "70000"):
        with pytest.raises(ValueError, match="PAY_SANDBOX_PORT"):
            port(PAY_SANDBOX_PORT=bad)
