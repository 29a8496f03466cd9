"""Replica-confirmed writes (core/replication.py) on a cluster whose primaries have a replica each: the count of online
replicas is read from the primary and again after REFRESH_S (a replica that rejoined is waited for again), a replica
in its full resync counts as none (ingest acknowledges alone, no 503), and a queue number is not given while the
replica does not confirm it (a failover then would give it again)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from core.replication import COUNTS, REFRESH_S, NotReplicated, ReplicaCounts, confirm, online_replicas
from core.settings import Settings
from core.storage import connect
from core.store_health import is_store_fault
from lightapps.queue.store import QueueStore
from portal.ingest.observation import Observation
from portal.ingest.store import RssiStore
from portal.tools.valkey_cluster import Node, start_local_cluster

pytestmark = pytest.mark.slow
KEY = "mp:{demo}:queue"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Its own cluster, a replica per primary: these tests stop and cut off the replica of demo's primary."""
    cluster = start_local_cluster(tmp_path_factory.mktemp("replica-pair"))
    yield cluster
    cluster.stop()


@pytest.fixture
def primary(pair) -> Node:
    return pair.primary_of("{demo}")


@pytest.fixture
def replica(pair, primary) -> Iterator[Node]:
    """The replica, online again after each test (whatever the test did to it)."""
    node = pair.nodes[pair.primaries + pair.nodes.index(primary)]  # as start_local_cluster pairs them
    assert node.client().info("replication")["master_port"] == primary.port
    yield node
    os.kill(node.process.pid, signal.SIGCONT)
    primary.client().config_set("repl-diskless-sync-delay", 0)
    wait_until(lambda: states(primary) == ["online"], "the replica never came back online")
    COUNTS.forget()


def connected(pair) -> redis.RedisCluster:
    """A client of the cluster, as a new process makes one (its slot map read on first use)."""
    settings = Settings(redis_url=pair.url, redis_cluster=True, secret_key="s" * 32, mac_hash_key="m" * 32,
                        load_demo=False, testing=True)
    return connect(settings, timeout_s=10)


def wait_until(check: Callable[[], bool], message: str, timeout_s: float = 60.0) -> None:
    """Until the servers reach a state (a deadline for a hung server only: nothing here is timed)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def states(primary: Node) -> list[str]:
    """The state of each replica the primary has connected (online, wait_bgsave, send_bulk, ...)."""
    info = primary.client().info("replication")
    return [v["state"] for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]


def listed_replicas(primary: Node) -> int:
    """How many replicas CLUSTER SLOTS lists for demo's slot (what a client's slot map says)."""
    slot = primary.client().cluster("keyslot", KEY)
    ranges = primary.client().execute_command("CLUSTER", "SLOTS")
    return next(len(r) - 3 for r in ranges if r[0] <= slot <= r[1])


def waits(primary: Node) -> int:
    return int((primary.client().info("commandstats").get("cmdstat_wait") or {}).get("calls", 0))


@contextlib.contextmanager
def cut_off(primary: Node, replica: Node) -> Iterator[None]:
    """The replica stopped (SIGSTOP) and its link dropped by the primary (a network blip), until the block ends."""
    os.kill(replica.process.pid, signal.SIGSTOP)
    primary.client().client_kill_filter(_type="replica")
    wait_until(lambda: states(primary) == [], "the primary kept its replica")
    try:
        yield
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)


def reading(client: str = "02:00:5e:00:53:01") -> list[Observation]:
    return [Observation(client=client, ap="aa:bb:cc:00:00:01", rssi=-60.0, ts=time.time())]


def test_the_count_is_read_from_the_primary_again_after_refresh_s(pair, primary, replica):
    now = [0.0]
    counts = ReplicaCounts(clock=lambda: now[0])
    db = connected(pair)
    assert counts.online(db, KEY) == 1
    with cut_off(primary, replica):
        assert counts.online(db, KEY) == 1  # kept
        now[0] += REFRESH_S + 1
        assert counts.online(db, KEY) == 0
    wait_until(lambda: states(primary) == ["online"], "the replica did not rejoin")
    assert counts.online(db, KEY) == 0  # kept
    now[0] += REFRESH_S + 1
    assert counts.online(db, KEY) == 1  # the rejoined replica is waited for again
    assert counts.refresh(db, KEY) == 1


def test_ingest_waits_for_a_replica_that_rejoined_after_the_slot_map_was_read(pair, primary, replica):
    """The audit's lapse: a slot map read while the primary had no replica (it failed) said 0 for good."""
    with cut_off(primary, replica):
        wait_until(lambda: listed_replicas(primary) == 0, "the stopped replica was never marked failed")
        db = connected(pair)
        db.ping()  # the slot map is read now: no replica
    wait_until(lambda: states(primary) == ["online"] and listed_replicas(primary) == 1, "the replica did not rejoin")
    COUNTS.forget()  # the process's cache, as REFRESH_S later
    before = waits(primary)
    assert RssiStore(db).write("demo", reading(), time.time()) == 1
    assert waits(primary) == before + 1


def test_a_replica_in_its_full_resync_counts_as_none(pair, primary, replica):
    """A rejoined replica loading the primary's data is listed by the slot map, but acknowledges nothing yet: ingest
    acknowledges alone (docs/cluster.md), instead of a 503 after each 1 s wait until the sync ends."""
    cfg = primary.client()
    cfg.config_set("repl-diskless-sync", "yes")
    cfg.config_set("repl-diskless-sync-delay", 3600)  # the full sync waits (the fixture ends the wait)
    cfg.config_set("repl-diskless-sync-max-replicas", 0)
    cfg.config_set("repl-backlog-size", 16384)
    with cut_off(primary, replica):
        for i in range(40):  # past the backlog: the replica cannot catch up from it, it loads everything anew
            cfg.set(f"filler{{demo}}{i}", "x" * 65536)
    wait_until(lambda: states(primary) == ["wait_bgsave"] and listed_replicas(primary) == 1,
               "the replica did not start a full resync")
    db = connected(pair)
    COUNTS.forget()
    before = waits(primary)
    assert online_replicas(db, KEY) == 0
    assert RssiStore(db).write("demo", reading(), time.time()) == 1  # no NotReplicated
    assert QueueStore(db).take("demo", "jade", "A", 2, "alice").ok
    assert waits(primary) == before


def test_a_queue_number_is_not_given_while_the_replica_does_not_confirm_it(pair, primary, replica):
    primary.client().flushall()  # demo's numbers start again
    db = connected(pair)
    queue = QueueStore(db)
    before = waits(primary)
    assert queue.take("demo", "jade", "A", 2, "alice").ok
    assert waits(primary) == before + 1  # confirmed by the replica
    os.kill(replica.process.pid, signal.SIGSTOP)  # connected, online to the primary, acknowledging nothing
    with pytest.raises(NotReplicated) as refused:
        queue.take("demo", "jade", "A", 2, "bob")
    # a store timeout: the view answers 503 with Retry-After (portal/errors.py), the breaker counts it
    assert isinstance(refused.value, redis.TimeoutError) and is_store_fault(refused.value)
    with pytest.raises(NotReplicated):  # the number bob was shown nowhere stays unconfirmed on a retry too
        queue.take("demo", "jade", "A", 2, "bob")
    os.kill(replica.process.pid, signal.SIGCONT)
    again = queue.take("demo", "jade", "A", 2, "bob")  # the retry once the replica is back: his number, confirmed
    assert again.reason == "ACTIVE" and queue.last_number("demo", "jade", "A") == 2


@contextlib.contextmanager
def migrating(pair, primary: Node) -> Iterator[Node]:
    """demo's slot MIGRATING from its primary to another primary, every key of it moved there (a legacy reshard
    just before its handover), then moved back and the slot left stable."""
    source = primary.client()
    other = next(node for node in pair.nodes[:pair.primaries] if node.port != primary.port)
    target = other.client()
    slot = source.cluster("keyslot", KEY)
    source_id, target_id = source.cluster("myid"), target.cluster("myid")
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    if keys := source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000):
        source.execute_command("MIGRATE", "127.0.0.1", other.port, "", 0, 5000, "KEYS", *keys)
    try:
        yield other
    finally:  # the owner stable first: migrating, it would send the keys coming back to the importing node
        source.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
        if keys := target.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000):
            target.execute_command("MIGRATE", "127.0.0.1", primary.port, "", 0, 5000, "KEYS", *keys)
        target.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")


def test_a_write_during_a_reshard_is_confirmed_where_it_went(pair, primary, replica):
    """The slot moving: a write went to the importing node (the client followed the ASK; a multi-key script there
    gets TRYAGAIN until the handover, a single key goes through); its confirmation follows it there, waited for by
    that node's replica, not answered 503 by an unfollowed ASK."""
    db = connected(pair)
    db.set(KEY + ":before", "1")
    confirm(db, KEY + ":before")  # the mark written on demo's primary, before any reshard
    with migrating(pair, primary) as importing:
        before = waits(importing)
        db.set(KEY + ":during", "1")
        confirm(db, KEY + ":during")
        assert waits(importing) == before + 1


def test_a_booking_and_a_call_wait_for_the_replica_too(pair, primary, replica):
    """A slot booking lost in a failover would give its place again, a call would call the same party twice: both
    are acknowledged once the replica has them, else NotReplicated (503)."""
    primary.client().flushall()
    queue = QueueStore(connected(pair))
    assert queue.take("demo", "jade", "A", 2, "erin").ok
    os.kill(replica.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(NotReplicated):
            queue.reserve("demo", "jade", "2030-01-02", "19:00", 2, "A", "frank", capacity=1)
        with pytest.raises(NotReplicated):
            queue.call_next("demo", "jade", "A")
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    assert queue.reserve("demo", "jade", "2030-01-02", "19:00", 2, "A", "frank", capacity=1).reason == "ACTIVE"
