"""Replica-confirmed writes on a Valkey Cluster: the one owner of the rule "acknowledged once the primary's live
replica has it", so that a primary dying right after loses nothing acknowledged (docs/cluster.md).

What counts is the replicas the key's primary itself reports online (INFO replication, `slaveN:...state=online`),
not those the client's cached slot map lists: that map is re-read only after an error, so a map read while a
promoted primary had no replica yet said "none" for good after the old primary rejoined, and a map listing a
replica still in its full resync made every WAIT time out. A replica not online (syncing, its link down) counts as
none: a primary without a live replica acknowledges alone, as documented. The count is kept per primary for
REFRESH_S and read again at once after a wait that was not confirmed.

A single node (no cluster) costs nothing: no INFO, no WAIT."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from core.memo import BoundedMemo
from core.storage import Store, hash_tag, is_cluster, node_client, pack_command, replica_count, slot_pool

log = logging.getLogger(__name__)

# How long a primary's count of online replicas is kept. A replica that comes online (a rejoined old primary, a
# finished resync) is waited for within this long; a shorter time costs one INFO per primary per process that much
# more often. One that drops is seen sooner: a wait it fails re-reads the count at once.
REFRESH_S = 10.0
WAIT_MS = 1000  # how long a write waits for its replica before it is answered 503 (the client retries)
# The confirmation's own write (see `confirm`), kept this long after the last one so the key does not pile up.
MARK_TTL_MS = 60_000


class NotReplicated(redis.TimeoutError):
    """A write reached its primary but not the primary's online replica in time: not acknowledged (a view answers
    503 with Retry-After, as for any store timeout; the write may survive or not, so the client retries)."""


class ReplicaCounts:
    """Online replicas per primary, each read from the primary (INFO replication) at most every `max_age_s`."""

    def __init__(self, max_age_s: float = REFRESH_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._memo = BoundedMemo(256, max_age_s=max_age_s, clock=clock)

    def online(self, db: Store, key: str) -> int:
        """How many replicas `key`'s primary reports online (0 on a single node, asking nothing)."""
        if not is_cluster(db):
            return 0
        pool = slot_pool(db, key)
        return self._memo.get(_node_id(pool), lambda: _ask_online(db, key, pool))

    def refresh(self, db: Store, key: str) -> int:
        """`online`, read from the primary now (after a wait that was not confirmed: the replica may be gone)."""
        if not is_cluster(db):
            return 0
        pool = slot_pool(db, key)
        count = _ask_online(db, key, pool)
        self._memo.put(_node_id(pool), count)
        return count

    def online_at(self, db: Store, key: str, pool: redis.ConnectionPool) -> int:
        """`online` of the primary `pool` talks to (the node an ASK named: one importing `key`'s slot)."""
        return self._memo.get(_node_id(pool), lambda: _ask_online(db, key, pool))

    def forget(self) -> None:
        """Every count read again on its next use (a test that changed the replicas behind the cache's back)."""
        self._memo.clear()


COUNTS = ReplicaCounts()  # the process's one cache (tests make their own with a clock)


def online_replicas(db: Store, key: str) -> int:
    """How many replicas `key`'s primary reports online now (kept up to REFRESH_S); 0 on a single node."""
    return COUNTS.online(db, key)


def require_acked(db: Store, key: str, acked: int, wanted: int, what: str) -> None:
    """WAIT's answer `acked` for a write on `key` meant to reach `wanted` replicas: NotReplicated when fewer did,
    the count read again first (the next write does not wait for a replica that has gone)."""
    if acked < wanted:
        COUNTS.refresh(db, key)
        raise NotReplicated(f"the replica did not confirm {what} in time")


def confirm(db: Store, key: str, timeout_ms: int = WAIT_MS, replicas: int = 1) -> None:
    """After a write on `key` that must not be lost (a queue number, a claimed code, a held seat, a payment): wait
    until up to `replicas` of its primary's online replicas have it, else NotReplicated. No replica online, or a
    single node: returns at once, sending nothing.
    WAIT counts the writes of the connection it is sent on, and the caller's write went over a pooled connection
    of its own: so a small write of this slot is sent first, on one connection with the WAIT. The replication
    stream is in order: a replica that has this later write has the caller's. While the slot is being resharded
    the caller's write followed the ASK to the importing node, and so does this one (ASKING, then the write and
    the WAIT there, for that node's replicas): unfollowed, the ASK answered a stored write 503."""
    wanted = min(replicas, online_replicas(db, key))
    if wanted == 0:
        return
    mark = "mp:{" + (hash_tag(key) or key) + "}:-replicated-"
    try:
        acked = _mark_and_wait(slot_pool(db, key), mark, wanted, timeout_ms)
    except redis.exceptions.AskError as ask:
        target = node_client(db, ask.host, ask.port).connection_pool
        wanted = min(replicas, COUNTS.online_at(db, key, target))
        if wanted == 0:
            return
        acked = _mark_and_wait(target, mark, wanted, timeout_ms, asking=True)
    require_acked(db, key, acked, wanted, "the write")


def _mark_and_wait(pool: redis.ConnectionPool, mark: str, wanted: int, timeout_ms: int, asking: bool = False) -> int:
    """The mark written and WAIT sent on one connection of `pool` (after ASKING: a node importing the slot);
    how many replicas acknowledged."""
    commands = [pack_command("ASKING")] if asking else []
    commands += [pack_command("SET", mark, "1", "PX", MARK_TTL_MS), pack_command("WAIT", wanted, timeout_ms)]
    conn = pool.get_connection()
    try:
        conn.send_packed_command(commands)
        if asking:
            conn.read_response()
        conn.read_response()  # raises if the write was refused (the slot moved, out of memory)
        return conn.read_response()
    except BaseException:
        conn.disconnect()  # a reply may still be due on it
        raise
    finally:
        pool.release(conn)


def _node_id(pool: redis.ConnectionPool) -> tuple[object, object]:
    """The primary a pool talks to (its replicas are the node's, whichever client asks)."""
    kwargs = pool.connection_kwargs
    return kwargs.get("host"), kwargs.get("port")


def _ask_online(db: Store, key: str, pool: redis.ConnectionPool) -> int:
    """The replicas the primary reports online. A server that refuses INFO (an ACL without it) is taken at its
    slot map's word: the replicas it lists (re-read only after an error, so a replica that rejoined may be missed)."""
    try:
        info = redis.Redis(connection_pool=pool).info("replication")
    except redis.ResponseError as exc:
        log.warning("the store refuses INFO replication (%s): replicas counted from the slot map",
                    type(exc).__name__)
        return replica_count(db, key)
    return sum(1 for name, replica in info.items()
               if name.startswith("slave") and isinstance(replica, dict) and replica.get("state") == "online")
