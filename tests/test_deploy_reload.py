"""`systemctl reload mallportal` (deploy/mallportal.service's ExecReload): gunicorn's SIGHUP, which starts workers on
the installed release's code and retires the old ones, the socket open throughout; and no unit asks systemd for a
watchdog none of these processes pings. Nothing here is timed: gunicorn gets minutes to start."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from portal.tools.net import free_port, wait_for_port
from tests.captive.test_deploy import TEST_MAC_KEY, TEST_SECRET, TIMEOUT_S, env_file, unit_gunicorn_args
from tests.captive.test_deploy import request as http_request

UNIT = PROJECT_ROOT / "deploy" / "mallportal.service"
WAIT_S = 300.0  # a worker's boot imports the app: more than a minute on a busy 2-core host


def unit_value(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in unit.read_text().splitlines() if line.startswith(key + "=")]


def test_reload_is_gunicorns_hup_and_no_unit_wants_a_watchdog():
    assert unit_value(UNIT, "ExecReload") == ["/bin/kill -s HUP $MAINPID"]
    # a preloaded app would be the master's old code in every new worker: the reload would change nothing
    assert "--preload" not in unit_value(UNIT, "ExecStart")[0]
    assert "preload_app" not in (PROJECT_ROOT / "gunicorn.conf.py").read_text()
    for unit in (PROJECT_ROOT / "deploy").glob("*.service"):
        assert not unit_value(unit, "WatchdogSec"), unit.name  # gunicorn and the workers send no WATCHDOG=1


def wait_for_status(port: int, path: str, status: int, deadline_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if http_request(port, "GET", path, "127.0.0.1")[0] == status:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not answer {status} within {deadline_s:.0f} s")
        time.sleep(0.5)


def wait_for_text(path: Path, needle: str, times: int = 1, deadline_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + deadline_s
    while path.read_text().count(needle) < times:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in {path} within {deadline_s:.0f} s:\n{path.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.mark.slow
def test_exec_reload_restarts_the_workers_and_they_answer_ready(live_valkey, tmp_path):
    port = free_port()
    env = {**os.environ, **env_file(), "VAPID_PRIVATE_KEY": "", "PHONE_KEY": "",  # the file's are placeholders
           "REDIS_URL": live_valkey.connection_url + "/5",
           "SECRET_KEY": TEST_SECRET, "MAC_HASH_KEY": TEST_MAC_KEY, "DATA_DIR": str(tmp_path / "var"),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *unit_gunicorn_args(port)], cwd=PROJECT_ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, timeout=TIMEOUT_S)
        wait_for_status(port, "/readyz", 200)
        reload_command = shlex.split(unit_value(UNIT, "ExecReload")[0].replace("$MAINPID", str(proc.pid)))
        subprocess.run(reload_command, check=True, timeout=TIMEOUT_S)
        wait_for_text(log, "Hang up: Master")  # gunicorn's own line for a HUP
        wait_for_text(log, "Booting worker", times=4)  # 2 new workers beside the 2 it retires
        wait_for_status(port, "/readyz", 200)
        assert proc.poll() is None  # the master, and its socket, stayed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=TIMEOUT_S)
