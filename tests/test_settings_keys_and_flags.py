"""Settings an operator can get wrong without noticing: deploy/mallportal.env's placeholder keys (public, so anyone
could forge a CAPPORT URI or read the phone hashes), a STORE_TIMEOUT_S that takes the portal down, LOAD_DEMO words
read unlike every other yes/no setting, and `serve`'s flags held to the rules of the settings they replace."""

from __future__ import annotations

import pytest

from core.settings import Settings

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
    assert said.startswith("SECRET_KEY, MAC_HASH_KEY, PHONE_KEY, VAPID_PRIVATE_KEY are placeholders or too short to "
                           "be secret: set SECRET_KEY, MAC_HASH_KEY, PHONE_KEY to 32+ random bytes each")
    assert "\n" not in said and "P-256" in said
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize(("bad", "value"), [
    ("SECRET_KEY", "a"), ("MAC_HASH_KEY", "x" * 31), ("PHONE_KEY", "change-me-" + "0" * 54),
    ("VAPID_PRIVATE_KEY", "change-me"),
])
def test_one_weak_key_is_named_alone(tmp_path, bad, value):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD, bad: value})
    assert str(refused.value).startswith(f"{bad} is a placeholder or too short to be secret: ")


def test_keys_of_32_bytes_and_generated_keys_pass(tmp_path):
    given = Settings.from_env({"DATA_DIR": str(tmp_path), **SHARED, **GOOD})
    assert given.secret_key == "s" * 32 and given.generated_keys == ()
    generated = Settings.from_env({"DATA_DIR": str(tmp_path / "own")})
    assert generated.generated_keys == ("SECRET_KEY", "MAC_HASH_KEY", "PHONE_KEY", "VAPID_PRIVATE_KEY")
    again = Settings.from_env({"DATA_DIR": str(tmp_path / "own")})
    assert again.secret_key == generated.secret_key and again.generated_keys == ()


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
