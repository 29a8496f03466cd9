"""`python -m portal serve` stops with one line, before serving anything, when it cannot serve as asked: a bad
--workers/--threads/--host (held to the rules of WEB_WORKERS, WEB_THREADS and HOST), or a payment sandbox port that
another program holds (the payments would otherwise ask that program for their keys), or a sandbox that exits
as it starts."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from core.settings import Settings
from portal import __main__ as command_line
from portal.__main__ import CommandFailed, _wait_for_sandbox
from portal.tools.net import free_port
from tests.test_portal_command_line import KEYS

DROPPED = ("REDIS_URL", "REDIS_CLUSTER", *KEYS, "PAY_SANDBOX_URL", "WECHATPAY_MCHID", "ALIPAY_APPID")


@pytest.fixture
def refused(tmp_path, monkeypatch):
    """`serve(workers, threads, host)` in this process, as `python -m portal serve` calls it, on DATA_DIR=tmp_path
    (its SIGTERM handler left out: this is the suite's process): what stopped it, CommandFailed."""
    for name in DROPPED:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"DATA_DIR": str(tmp_path), "PORT": str(free_port()), "LOAD_DEMO": "0", "DEMO": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(command_line, "_stop_on_sigterm", lambda: None)

    def run(workers: str | None = None, threads: str | None = None, host: str | None = None) -> CommandFailed:
        with pytest.raises(CommandFailed) as stopped:
            command_line.serve(workers, threads, host)
        assert "\n" not in stopped.value.message
        return stopped.value

    return run


@pytest.mark.parametrize(("flags", "says"), [
    ({"workers": "0"}, "--workers must be a whole number of at least 1, got '0'"),
    ({"host": "999.1.1.1"}, "--host must be an IPv4 address or a host name to listen on"),
])
def test_a_bad_flag_is_refused_as_its_setting_would_be(refused, tmp_path, flags, says):
    stopped = refused(**flags)
    assert stopped.code == 2 and stopped.message.startswith(f"python -m portal serve: {says}")
    assert not (tmp_path / "valkey").exists()  # refused before any store was started


def test_a_sandbox_port_another_program_holds_stops_serve(refused, tmp_path, monkeypatch, capsys):
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        monkeypatch.setenv("PAY_SANDBOX_PORT", str(port))
        stopped = refused()
    assert stopped.code == 1
    assert stopped.message.startswith(f"python -m portal serve: the payment sandbox cannot listen on 127.0.0.1:{port} "
                                      "(Address already in use): stop what holds that port, or set PAY_SANDBOX_PORT")
    assert "payment sandbox on" not in capsys.readouterr().out
    assert not (tmp_path / "valkey").exists()


def test_a_sandbox_that_exits_at_start_stops_serve(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "PAY_SANDBOX_PORT": str(free_port())})
    failed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(CommandFailed) as stopped:
        _wait_for_sandbox(failed, settings)
    assert stopped.value.code == 1
    assert stopped.value.message == (f"python -m portal serve: the payment sandbox on http://127.0.0.1:"
                                     f"{settings.payments.sandbox_port}/ exited (3); its output is above")
