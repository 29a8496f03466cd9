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
