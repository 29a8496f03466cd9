"""Settings an operator can get wrong without noticing: deploy/mallportal.env's placeholder keys (public, so anyone
could forge a CAPPORT URI or read the phone hashes), a STORE_TIMEOUT_S that takes the portal down, LOAD_DEMO words
read unlike every other yes/no setting, and `serve`'s flags held to the rules of the settings they replace."""

from __future__ import annotations

import logging

import pytest

from core.settings import INSTALL_KEYS, Settings, keys_checked

VAPID = "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I"  # a test key
GOOD = {"SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32, "VAPID_PRIVATE_KEY": VAPID}
SHIPPED = {"SECRET_KEY": "change-me-64-hex-chars", "MAC_HASH_KEY": "change-me-64-hex-chars",  # deploy/mallportal.env
           "PHONE_KEY": "change-me-64-hex-chars", "VAPID_PRIVATE_KEY": "change-me-python-m-portal-notify-vapid-key"}
SHARED = {"REDIS_URL": "redis://10.0.0.5:6379/0"}


@pytest.mark.parametrize("store", [{}, SHARED])
def test_the_shipped_placeholders_are_all_named_in_one_line(tmp_path, store):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"DATA_DIR": str(tmp_path), **store, **SHIPPED})
    said = str(refused.value)
    assert said.startswith("SECRET_KEY, MAC_HASH_KEY, PHONE_KEY, VAPID_PRIVATE_KEY are placeholders or no valid keys: "
                           "set SECRET_KEY, MAC_HASH_KEY, PHONE_KEY to 32+ random bytes each")
    assert "\n" not in said and "P-256" in said
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize(("bad", "value"), [
    ("PHONE_KEY", "change-me-" + "0" * 54), ("SECRET_KEY", "Change-Me"), ("VAPID_PRIVATE_KEY", "change-me"),
    ("VAPID_PRIVATE_KEY", "not-a-p256-key"),
])
def test_one_weak_key_is_named_alone(tmp_path, bad, value):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD, bad: value})
    assert str(refused.value).startswith(f"{bad} is a placeholder or no valid key: ")


@pytest.mark.parametrize("name", ["SECRET_KEY", "MAC_HASH_KEY", "PHONE_KEY"])
def test_a_real_key_shorter_than_32_bytes_starts_with_a_warning(tmp_path, caplog, name):
    """A release before the length rule took any key: refusing one would make its operator replace it, and lose
    the data the store holds under it (with a store from before fingerprints, the new key would be recorded)."""
    short = "q7Vx2LmZ9pR4tK8wY3nB6cD1"  # 24 random characters
    with caplog.at_level(logging.WARNING):
        settings = Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD, name: short})
    assert getattr(settings, name.lower()) == short
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "32 bytes" in r.message]
    assert warning.startswith(f"{name} is shorter than 32 bytes: kept") and "would lose" in warning


def test_keys_of_32_bytes_and_generated_keys_pass(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        given = Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD})
    assert given.secret_key == "s" * 32 and given.generated_keys == () and "32 bytes" not in caplog.text
    generated = Settings.from_env({"DATA_DIR": str(tmp_path / "own")})
    assert generated.generated_keys == INSTALL_KEYS
    keys_checked(tmp_path / "own")  # a start checked them against its store (portal/__main__.py check_store_keys)
    again = Settings.from_env({"DATA_DIR": str(tmp_path / "own")})
    assert again.secret_key == generated.secret_key and again.generated_keys == ()


def test_keys_generated_by_a_start_refused_after_them_are_still_new_to_the_next(tmp_path):
    """A start that generates its keys and then stops (here a bad TIME_ZONE, read after them; a taken port, no
    store...) before any store check: the next start still counts them as generated, or it would take them for the
    keys of a restored store's data."""
    with pytest.raises(ValueError, match="TIME_ZONE"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "TIME_ZONE": "Mars/Olympus_Mons"})
    assert (tmp_path / "secrets" / "mac_hash_key").exists()
    assert Settings.from_env({"DATA_DIR": str(tmp_path)}).generated_keys == INSTALL_KEYS


def test_keys_generated_for_a_redis_url_store_are_its_own(tmp_path):
    """Nothing checks a REDIS_URL store's keys (only DATA_DIR's embedded one is): they are written into it from the
    first start on, so a later start on DATA_DIR's own store takes them as the install's, not as new."""
    Settings.from_env({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert Settings.from_env({"DATA_DIR": str(tmp_path)}).generated_keys == ()


def test_a_key_copied_from_a_backup_over_a_generated_one_is_the_installs_own(tmp_path):
    Settings.from_env({"DATA_DIR": str(tmp_path)})  # generated, never checked
    (tmp_path / "secrets" / "mac_hash_key").write_text("the-backups-mac-hash-key-" + "b" * 24)
    again = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert "MAC_HASH_KEY" not in again.generated_keys and again.mac_hash_key.startswith("the-backups")
    assert again.generated_keys == ("SECRET_KEY", "PHONE_KEY", "VAPID_PRIVATE_KEY")


def test_a_blank_key_is_unset_not_the_key(tmp_path):
    """`SECRET_KEY=" "` is generated like an unset one (and listed as generated), not run on as the key " "."""
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": "  "})
    assert settings.secret_key.strip() == settings.secret_key and len(settings.secret_key) == 64
    assert "SECRET_KEY" in settings.generated_keys
    with pytest.raises(ValueError, match="SECRET_KEY is not set"):
        Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD, "SECRET_KEY": "  "})


@pytest.mark.parametrize("value", ["0", "-1", "0.0", "nan"])
def test_a_store_timeout_of_zero_or_less_is_refused_by_name(tmp_path, value):
    with pytest.raises(ValueError, match=f"STORE_TIMEOUT_S must be a number of seconds above 0, got '{value}'"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "STORE_TIMEOUT_S": value})
    assert Settings.from_env({"DATA_DIR": str(tmp_path), "STORE_TIMEOUT_S": "0.5"}).store_timeout_s == 0.5


@pytest.mark.parametrize(("word", "loads"), [("off", False), ("False", False), ("NO", False), (" 0", False),
                                             ("On", True), ("", True)])
def test_load_demo_takes_the_words_every_yes_no_setting_takes(tmp_path, word, loads):
    assert Settings.from_env({"DATA_DIR": str(tmp_path), "LOAD_DEMO": word}).load_demo is loads


def test_load_demo_refuses_a_word_it_does_not_know(tmp_path):
    with pytest.raises(ValueError, match="LOAD_DEMO must be 1 or 0, got 'maybe'"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "LOAD_DEMO": "maybe"})


@pytest.mark.parametrize(("flags", "says"), [
    ({"workers": "0"}, "--workers must be a whole number of at least 1, got '0'"),
    ({"threads": "-2"}, "--threads must be a whole number of at least 1, got '-2'"),
    ({"workers": "many"}, "--workers must be an integer, got 'many'"),
    ({"host": "999.1.1.1"}, "--host must be an IPv4 address or a host name to listen on"),
])
def test_serve_flags_follow_the_settings_rules(tmp_path, flags, says):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    with pytest.raises(ValueError, match=says):
        settings.with_serve_flags(**flags)
    given = settings.with_serve_flags(host="0.0.0.0", workers="3")
    assert (given.host, given.web_workers, given.web_threads) == ("0.0.0.0", 3, settings.web_threads)
