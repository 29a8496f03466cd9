"""`python -m portal serve` (what `make run` runs): embedded Valkey with AOF, demo mall, gunicorn;
Ctrl-C stops everything; data survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from core.settings import PROJECT_ROOT
from portal.tools.net import free_port, wait_for_port

pytestmark = pytest.mark.slow


def start(data_dir, port):
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "WEB_WORKERS": "1", "WEB_THREADS": "4",
           "DEMO": "1", "PAY_SANDBOX_PORT": str(free_port()),  # as `make run` sets it: /demo is served
           "LOAD_DEMO_GALLERIA": "0"}  # its survey costs seconds of CPU; tests/test_demo_galleria.py loads it
    env.pop("REDIS_URL", None)
    for name in ("PAY_SANDBOX_URL", "WECHATPAY_MCHID", "ALIPAY_APPID"):  # no provider: the sandbox starts
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "portal", "serve"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def stop_with_ctrl_c(proc) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group on Ctrl-C
    out, _ = proc.communicate(timeout=30)
    return out.decode()


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=120) as resp:
        return resp.status, resp.read().decode()


def test_serve_embedded_valkey_demo_and_restart(tmp_path):
    port = free_port()
    proc = start(tmp_path, port)
    try:
        wait_for_port(port, timeout=120)
        status, body = get(f"http://127.0.0.1:{port}/demo")
        assert status == 200 and 'id="plan"' in body
        token = (tmp_path / "secrets" / "demo_api_token").read_text()
        assert token
    finally:
        output = stop_with_ctrl_c(proc)
    assert proc.returncode == 0, output
    assert "embedded Valkey stopped" in output
    assert "tracker: positioning phones as their readings arrive" in output  # started beside gunicorn
    assert "payment sandbox on http://" in output  # no payment provider configured
    assert "notify: delivering notifications" in output  # the notification worker too
    assert (tmp_path / "valkey" / "appendonlydir").is_dir()  # AOF on

    # Restart: the map is still there (no second demo build), and so is the token.
    port = free_port()
    started = time.time()
    proc = start(tmp_path, port)
    try:
        wait_for_port(port, timeout=120)
        status, _ = get(f"http://127.0.0.1:{port}/v/demo/")
        assert status == 200
    finally:
        output = stop_with_ctrl_c(proc)
    assert "building the demo mall" not in output, output
    assert time.time() - started < 120
