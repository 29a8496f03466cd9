"""`python -m portal serve` (what `make run` runs): embedded Valkey with AOF, demo mall, gunicorn;
Ctrl-C stops everything; data survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

from core.settings import PROJECT_ROOT
from portal.tools.net import free_port, wait_for_port

pytestmark = pytest.mark.slow


class Served:
    """`python -m portal serve` as a process, its output read as it comes (so a test can wait for a line
    instead of guessing how long a busy machine takes to print it)."""

    def __init__(self, data_dir, port) -> None:
        env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "WEB_WORKERS": "1", "WEB_THREADS": "4",
               "DEMO": "1", "PAY_SANDBOX_PORT": str(free_port()),  # as `make run` sets it: /demo is served
               "LOAD_DEMO_GALLERIA": "0"}  # its survey costs seconds of CPU; tests/test_demo_galleria.py loads it
        env.pop("REDIS_URL", None)
        for name in ("PAY_SANDBOX_URL", "WECHATPAY_MCHID", "ALIPAY_APPID"):  # no provider: the sandbox starts
            env.pop(name, None)
        self.proc = subprocess.Popen([sys.executable, "-m", "portal", "serve"], cwd=PROJECT_ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self.changed:
                self.lines.append(raw.decode(errors="replace"))
                self.changed.notify_all()

    def output(self) -> str:
        with self.changed:
            return "".join(self.lines)

    def wait_for(self, *texts: str, timeout_s: float = 300) -> None:
        """Until every text has been printed (generous: the processes start one by one on a busy machine)."""
        with self.changed:
            self.changed.wait_for(lambda: all(t in "".join(self.lines) for t in texts), timeout=timeout_s)
        missing = [t for t in texts if t not in self.output()]
        assert not missing, f"never printed: {missing}\n{self.output()}"

    def stop_with_ctrl_c(self) -> str:
        os.killpg(self.proc.pid, signal.SIGINT)  # what the terminal sends to the whole group on Ctrl-C
        self.proc.wait(timeout=60)
        self.reader.join(timeout=60)
        return self.output()


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=120) as resp:
        return resp.status, resp.read().decode()


def test_serve_embedded_valkey_demo_and_restart(tmp_path):
    port = free_port()
    served = Served(tmp_path, port)
    try:
        wait_for_port(port, timeout=120)
        status, body = get(f"http://127.0.0.1:{port}/demo")
        assert status == 200 and 'id="plan"' in body
        token = (tmp_path / "secrets" / "demo_api_token").read_text()
        assert token
        served.wait_for("tracker: positioning phones as their readings arrive",  # started beside gunicorn
                        "payment sandbox on http://",  # no payment provider configured
                        "notify: delivering notifications",  # the notification worker too
                        "payments sweep: every venue's payment duties")  # and the payments sweeper
    finally:
        output = served.stop_with_ctrl_c()
    assert served.proc.returncode == 0, output
    assert "embedded Valkey stopped" in output
    assert "was sent SIGKILL" not in output and "Worker exiting" in output  # every worker stopped in its time
    assert (tmp_path / "valkey" / "appendonlydir").is_dir()  # AOF on

    # Restart: the map is still there (no second demo build), and so is the token.
    port = free_port()
    served = Served(tmp_path, port)
    try:
        wait_for_port(port, timeout=120)
        status, _ = get(f"http://127.0.0.1:{port}/v/demo/")
        assert status == 200
    finally:
        output = served.stop_with_ctrl_c()
    assert "building the demo mall" not in output, output
