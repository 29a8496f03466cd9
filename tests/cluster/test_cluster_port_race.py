"""A local cluster's node whose port was taken before it bound it starts again on other ports.

`free_port` finds a port free at that moment only: the suite's two workers start servers and clusters side by side,
and outgoing connections take ephemeral ports from the same range, so a node can lose its port before it binds it
(a fresh-clone run, 2026-12-04: "Address already in use", and 56 cluster tests errored on their session fixture)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from portal.tools import valkey_cluster
from portal.tools.net import free_port, wait_for_port


@pytest.fixture(params=["bound", "listening"])
def taken_port(request):
    """A port the race hands a node: bound by another socket (an outgoing connection's), or another server's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if request.param == "listening":
            sock.listen()  # it accepts and never answers: not the node
        yield sock.getsockname()[1]


def test_a_node_that_lost_its_port_is_started_on_another(tmp_path, monkeypatch, taken_port):
    handed = iter([taken_port])
    monkeypatch.setattr(valkey_cluster, "free_port", lambda: next(handed, None) or free_port())
    cluster = valkey_cluster.start_local_cluster(tmp_path, primaries=1, replicas=0)
    try:
        (node,) = cluster.nodes
        assert node.port != taken_port
        assert node.client().set("{v}:k", "1") and node.client().get("{v}:k") == b"1"
        assert cluster.alive() == [node]
    finally:
        cluster.stop()


def test_a_port_that_stays_taken_fails_after_the_tries(tmp_path, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        taken = sock.getsockname()[1]
        monkeypatch.setattr(valkey_cluster, "free_port", lambda: taken)
        with pytest.raises(ChildProcessError, match=f"could not bind port {taken} in 3 tries"):
            valkey_cluster.start_local_cluster(tmp_path, primaries=1, replicas=0)


@pytest.mark.parametrize("taken_port", ["listening"], indirect=True)
def test_waiting_for_a_port_ends_when_its_server_has_exited(taken_port):
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    gone.wait()
    with pytest.raises(ChildProcessError, match=r"exited \(3\)"):
        wait_for_port(free_port(), timeout=30, process=gone)
    wait_for_port(taken_port, timeout=30, process=gone)  # a port that answers: no matter the process


def test_a_node_slow_to_answer_is_still_its_own(tmp_path):
    """A node that answers late (a busy machine; here stopped for 3 s) is asked again while its process runs, so
    it is not taken for another server on its port."""
    cluster = valkey_cluster.start_local_cluster(tmp_path, primaries=1, replicas=0)
    try:
        (node,) = cluster.nodes
        os.kill(node.process.pid, signal.SIGSTOP)
        started = time.monotonic()  # before the timer starts: it resumes the node 3 s after this at the earliest
        threading.Timer(3.0, os.kill, (node.process.pid, signal.SIGCONT)).start()
        assert valkey_cluster._answers_as(node, timeout=60)
        assert time.monotonic() - started >= 2.5
    finally:
        cluster.stop()


@pytest.mark.parametrize("taken_port", ["listening"], indirect=True)
def test_a_listener_that_never_answers_is_not_the_node(tmp_path, taken_port):
    """Another program's listener on the node's port, the node's own process gone (it could not bind): not the
    node, said after one ask (2 s), not after redis-py's retries with backoff (59 s before; the bound below is
    that, halved: far from what a busy machine adds to one ask)."""
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    gone.wait()
    node = valkey_cluster.Node(port=taken_port, bus_port=free_port(), data_dir=tmp_path, process=gone)
    started = time.monotonic()
    assert not valkey_cluster._answers_as(node, timeout=60)
    assert time.monotonic() - started < 30
