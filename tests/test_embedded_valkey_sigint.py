"""A Ctrl-C to `make run` reaches its whole process group: the embedded Valkey must outlive it until the web
workers, the tracker and the notify worker have written their last batch, and then stop when `portal serve`
stops it (SIGTERM). core/storage.py starts it with SIGINT blocked, which the server inherits."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
import redis

from core.storage import start_embedded_valkey


def blocked_signals(pid: int) -> int:
    """The process's blocked-signal mask, as Linux reports it (bit n-1 for signal n)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the mask from Linux's /proc")
def test_the_embedded_valkey_ignores_a_ctrl_c_and_stops_when_told(tmp_path):
    server = start_embedded_valkey(tmp_path / "valkey")
    process = server._process
    try:
        assert blocked_signals(process.pid) & (1 << (signal.SIGINT - 1))
        assert redis.Redis.from_url(server.connection_url).ping()
    finally:
        server.stop()
    assert process.poll() == 0  # SIGTERM: a clean shutdown
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())  # the caller's mask as it was


def test_a_start_off_the_main_thread_works_and_changes_no_mask(tmp_path):
    result = {}

    def start():
        server = start_embedded_valkey(tmp_path / "v2")
        result["pong"] = redis.Redis.from_url(server.connection_url).ping()
        server.stop()

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(timeout=60)
    assert result == {"pong": True}
