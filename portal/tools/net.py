"""Loopback helpers for the test suite and the benchmarks, which start real servers."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

from core.storage import free_port  # the one owner (core may not import portal); re-exported for the tools

__all__ = ["free_port", "stop_process", "wait_for_port"]


def wait_for_port(port: int, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Until something accepts connections on 127.0.0.1:port; RuntimeError after `timeout` s. With `process` (the
    server), ChildProcessError as soon as it has exited: e.g. the port `free_port` gave was taken before the server
    bound it (another process's server, or an outgoing connection's ephemeral port)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise ChildProcessError(f"server for port {port} exited ({process.returncode})") from None
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def stop_process(proc: subprocess.Popen, grace_s: float = 60.0, sig: int = signal.SIGTERM) -> None:
    """Ask a server we started to stop (`sig`), wait up to `grace_s` (a loaded machine is slow to shut a
    gunicorn down, and a test's teardown must not fail for it), then kill it."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
