"""The web server's settings (HOST, WEB_WORKERS, WEB_THREADS) are read and checked once, in core/settings.py, like
every other setting: a bad value stops `python -m portal serve` with one line naming it. `python -m portal flask`
hands the store it found to the app it builds instead of writing REDIS_URL into its own environment."""

from __future__ import annotations

import os

import pytest

from core.settings import Settings
from portal.__main__ import flask_command
from tests.test_portal_command_line import one_line, portal


def test_the_web_servers_settings_are_read(tmp_path):
    default = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert (default.host, default.web_workers, default.web_threads) == ("127.0.0.1", 2, 8)
    given = Settings.from_env({"DATA_DIR": str(tmp_path), "HOST": "0.0.0.0", "WEB_WORKERS": "4", "WEB_THREADS": "16"})
    assert (given.host, given.web_workers, given.web_threads) == ("0.0.0.0", 4, 16)
    named = Settings.from_env({"DATA_DIR": str(tmp_path), "HOST": "portal-1.mall.example"})
    assert named.host == "portal-1.mall.example"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("WEB_WORKERS", "0", "WEB_WORKERS must be a whole number of at least 1, got '0'"),
    ("WEB_THREADS", "-2", "WEB_THREADS must be a whole number of at least 1, got '-2'"),
    ("WEB_THREADS", "eight", "WEB_THREADS must be an integer, got 'eight'"),
    ("HOST", "http://0.0.0.0", "HOST must be an IPv4 address or a host name to listen on"),
    ("HOST", "10.0.0.300", "HOST must be an IPv4 address or a host name to listen on"),
    ("HOST", "::", "HOST must be an IPv4 address or a host name to listen on"),
])
def test_bad_web_server_settings_are_refused_by_name(tmp_path, name, value, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_env({"DATA_DIR": str(tmp_path), name: value})


def test_serve_with_a_bad_worker_count_is_one_line(tmp_path):
    done = portal("serve", DATA_DIR=str(tmp_path), WEB_WORKERS="many")
    assert done.returncode == 2
    assert one_line(done) == "python -m portal serve: environment variable WEB_WORKERS must be an integer, got 'many'"
    assert not (tmp_path / "valkey").exists()  # refused before any store was started


@pytest.mark.single_node  # the store `serve` writes down is one server's URL
def test_the_flask_command_reaches_the_running_store_without_setting_redis_url(settings, svc, demo, tmp_path,
                                                                              monkeypatch, capsys):
    """No REDIS_URL: the store a running `make run` wrote down. The command's app is built on it, and the
    process's environment does not name it afterwards (a later Settings.from_env() in the process would)."""
    svc.tokens.issue("demo", "env-check-pos")
    (tmp_path / "valkey").mkdir()
    (tmp_path / "valkey" / "running.url").write_text(settings.redis_url)  # what `serve` writes
    for name in ("REDIS_URL", "REDIS_CLUSTER", "DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as done:  # click's standalone mode ends with the command's status
        flask_command(["list-tokens", "demo"])
    assert done.value.code == 0
    assert "env-check-pos" in capsys.readouterr().out
    assert "REDIS_URL" not in os.environ
