"""Resharding onto a NEW primary (a node that joined the cluster and holds no slot yet, so no slot map lists it):
a script called on a key the migration moved there is ASKed to it, where it was never loaded (script_load loaded
it on the listed primaries only). It is loaded there and the call succeeds, so the venue's deferred events are
written; and a NOSCRIPT the retry still meets keeps the batch to retry, never drops it. On a cluster of its own
(2 primaries and the new, empty one), so the suite's cluster keeps its shape."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis

from core.storage import connect
from portal.events.log import EventKeys, EventLog
from portal.tools import valkey_cluster
from portal.tools.net import free_port


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> Iterator[tuple[valkey_cluster.LocalCluster, valkey_cluster.Node]]:
    """A 2-primary cluster and a third node met into it that holds no slot (a primary still empty)."""
    folder = tmp_path_factory.mktemp("grown-cluster")
    cluster = valkey_cluster.start_local_cluster(folder, primaries=2, replicas=0)
    new = valkey_cluster.Node(port=free_port(), bus_port=free_port(), data_dir=folder / "new")
    new.data_dir.mkdir()
    cluster.nodes.append(new)  # stopped with the rest
    try:
        args = ["--cluster-node-timeout", "1000"]
        binary = valkey_cluster._binary()
        valkey_cluster._spawn(binary, new, args)
        valkey_cluster._serving(binary, new, args, timeout=60)
        cluster.nodes[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", new.port, new.bus_port)
        valkey_cluster._wait(lambda: all(valkey_cluster._known_nodes(n) == 3 for n in cluster.nodes), 60,
                             "the new node did not join")
        cluster.wait_ok(60)
        yield cluster, new
    finally:
        cluster.stop()


@pytest.fixture
def db(grown, settings):
    client = connect(settings.with_(redis_url=grown[0].url), timeout_s=10)
    yield client
    client.close()


@contextlib.contextmanager
def migrating_to(db, key: str, target: valkey_cluster.Node, moved: list[str]) -> Iterator[None]:
    """`key`'s slot IMPORTING on `target`, MIGRATING on its owner, the keys `moved` MIGRATEd; then the rest moved
    and the slot handed over to `target`, as `valkey-cli --cluster reshard` does."""
    slot = db.keyslot(key)
    owner_node = db.nodes_manager.get_node_from_slot(slot)
    owner, there = db.get_redis_connection(owner_node), target.client()
    there_id = there.execute_command("CLUSTER", "MYID").decode()
    there.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", owner.execute_command("CLUSTER", "MYID").decode())
    owner.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", there_id)

    def move(keys: list) -> None:
        if keys:
            owner.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)

    try:
        move(moved)
        yield
    finally:
        move(owner.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000))
        for client in [there, owner, *(db.get_redis_connection(n) for n in db.get_primaries())]:
            with contextlib.suppress(redis.ResponseError):
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", there_id)


def logged_events(db, venue: str, new: valkey_cluster.Node) -> tuple[EventLog, str]:
    """An EventLog whose queue is written by hand (`flush`), one event of `venue` already written (the append
    script loaded on the listed primaries; none on the new node), and the venue's stream."""
    new.client().script_flush()
    events = EventLog(db)
    events.deferred.stop(1)
    events.emit_later(venue, "landing", device="d0")
    assert events.deferred.flush() == 1
    return events, EventKeys(venue).stream()


def test_a_script_asked_to_a_new_primary_is_loaded_there(db, grown):
    _cluster, new = grown
    events, stream = logged_events(db, "newprimary1", new)
    assert new.client().script_exists(events.deferred._append.sha) == [False]
    with migrating_to(db, stream, new, moved=[stream]):
        for i in range(3):
            events.emit_later("newprimary1", "landing", device=f"d{i + 1}")
        assert events.deferred.flush() == 3 and not events.deferred._pending
    db.nodes_manager.initialize()
    assert db.xlen(stream) == 4


def test_a_batch_a_script_load_missed_is_kept_not_dropped(db, grown, monkeypatch):
    """NOSCRIPT again after the reload (a load that did not reach the node the call goes to): the batch waits
    in the queue for the next flush, as for any refusal that passes."""
    _cluster, new = grown
    events, stream = logged_events(db, "newprimary2", new)
    with migrating_to(db, stream, new, moved=[stream]):
        events.emit_later("newprimary2", "landing", device="d1")
        with monkeypatch.context() as missed:
            missed.setattr(db, "script_load", lambda script: events.deferred._append.sha)
            assert events.deferred.flush() == 0
        assert len(events.deferred._pending) == 1 and events.deferred.dropped == 0
        assert events.deferred.flush() == 1
    db.nodes_manager.initialize()
    assert db.xlen(stream) == 2
