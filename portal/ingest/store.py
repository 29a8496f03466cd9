"""Recent RSSI readings per client, per venue, in a sliding window.

One sorted set per client, scored by time, members "ap|rssi|ts" (plus "|a" for a reading of an
associated client, "|p" for one heard by probe requests only): old readings are trimmed by score, the
key expires when the client falls silent, and the positioner reads the window in one round trip.

A reading timed ahead of now (a source's clock running fast, within MAX_CLOCK_SKEW_S) is stored as heard now:
never newer than it can be, so it cannot outrank fresher readings. "Now" differs on each resend, so such a
reading goes through a Lua check-and-write (`AHEAD_SCRIPT`) that keeps, per phone in its slot, the readings
stored ahead as their source timed them until that time comes (`RssiKeys.ahead`): a resend stores nothing.

Writing is the hot path of ingestion (~100,000 readings/s for a mall), and redis-py spends far more
time building and parsing each command than the server spends running it. So a validated batch is
sent as one pipelined stream of commands in the Redis protocol, with the server's per-command replies
switched off (CLIENT REPLY OFF, as in the Redis "mass insertion" guide), then ON again, then one
ordinary command whose reply proves the stream was applied (an out-of-memory server answers it with
an error). Every command in the stream is idempotent and the batch was validated whole beforehand,
so a retried request never double-counts, and a rejected request stores nothing. On a cluster the
stream goes to the primary of the venue's slot (of each bucket's slot, when the venue spreads its
phones over buckets: one stream per primary, all sent before any reply is read), with one check per
slot, a write on a key of the slot that nothing writes (core/storage.py absent_key). A slot that moved
answers it with MOVED (the writes before it were refused, not applied elsewhere), and the chunk is sent
again to the new owners. A slot being migrated (a resharding) answers it with ASK, for its owner lacks
that key, as it lacks every key already moved: the writes on those were refused unseen, so the chunk is
sent again with replies on, each slot's commands in one pipeline whose refused commands follow the ASK
(core/storage.py SlotCommands).
Key names that are not ASCII take an ordinary redis-py pipeline instead."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import chain

import numpy as np
import redis
from redis.cluster import RedisCluster

from core.memo import BoundedMemo
from core.replication import WAIT_MS, online_replicas, require_acked
from core.storage import (
    REDIRECTS,
    RawReplies,
    SlotCommands,
    Store,
    VenueKeys,
    absent_key,
    is_ask,
    pack_command,
    phone_bucket,
    phone_buckets,
    refresh_slots,
    slot_pool,
)
from fingerprints.store import MapChanged, VenueStore
from portal.ingest.observation import Batch, Observation
from positioning.readings import Readings

Command = tuple  # (name, *args): extra commands to send in the same round trip (e.g. health counters)

_REPLY_OFF = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n"
_REPLY_ON = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n"
_FLAG = {True: "|a", False: "|p", None: ""}
# APs heard live but not in the venue's map are kept apart (`RssiKeys.unknown_aps`), the newest this many: a feed
# may name any BSSID, and every one kept in the per-AP hashes would be read by every probe and every health view.
UNKNOWN_APS_KEPT = 500
# An AP not in the map that has not reported for this long is forgotten (a mistyped BSSID, an AP taken away). APs
# of the map are never forgotten: their silence is the point.
UNKNOWN_AP_FORGET_S = 7 * 86400


class RssiKeys(VenueKeys):
    def readings(self, client: str) -> str:
        return self.phone_key(client, "rssi", client)

    def readings_of(self, clients: Sequence[str]) -> list[str]:
        """`readings` of each client (a batch's)."""
        return self.phone_keys("rssi", clients)

    def ahead(self, client: str) -> str:
        """Sorted set: the client's readings stored ahead of their time (`AHEAD_SCRIPT`), as their source timed
        them ("ap|rssi|ts", scored by that time), until that time comes; in the slot of its readings."""
        return self.phone_key(client, "rssi-ahead", client)

    def of_phone(self, client: str) -> list[str]:
        """Every key of the client's readings (`readings`, `ahead`): what forgetting the phone deletes
        (portal/tracking/locator.py `forget_phone_state`)."""
        return [self.readings(client), self.ahead(client)]

    def ap_last_seen(self) -> str:
        """Hash: AP of the venue's map -> when its last report arrived (receipt time: "silent for too long" is
        about that). Read by HMGET of the map's APs, never whole (an AP not in the map: `unknown_aps`)."""
        return self.key("ap", "last")

    def unknown_aps(self) -> str:
        """Sorted set: APs that reported but are not in the venue's map (a mistyped BSSID, a new AP to survey),
        scored by when their last report arrived; the newest UNKNOWN_APS_KEPT, none older than
        UNKNOWN_AP_FORGET_S."""
        return self.key("ap", "unknown")

    def feed_since(self) -> str:
        """String: when the venue's feed began this run: set by the first report after none for `feed_gap_s`
        (the key expires that long after the last report). An AP of the map has been silent at most that long
        (portal/tracking/models.py `silent_aps`): one never heard is then as silent as the feed is old, and
        one heard before an outage is not silent at once when the feed comes back."""
        return self.key("ap", "since")

    def ap_reach(self) -> str:
        """Hash: AP of the venue's map -> the time of the newest reading in its last report (read by HMGET of the
        model's APs): how far that report reached. A phone first heard at or before it and not in that report was
        not heard by that AP (portal/tracking/locator.py `silent_columns`); the receipt time would say more than
        the report did when reports arrive late."""
        return self.key("ap", "reach")

    def new_readings(self, bucket: int = 0) -> str:
        """Set: the bucket's clients heard since the tracker (portal/tracking/tracker.py) last positioned them."""
        return self.bucket_key(bucket, "heard", "new")

    def being_positioned(self, bucket: int = 0, lane: int = 0) -> str:
        """Set: a batch a tracker took from the bucket's new_readings and has not finished (put back if it died); in
        two lanes, one being positioned while the next is read (portal/tracking/tracker.py)."""
        return self.bucket_key(bucket, "heard", "taken") if lane == 0 else self.bucket_key(bucket, "heard", "taken",
                                                                                             str(lane))


class _NodeStream:
    """What one primary is sent: the writes with replies off, then the checks (one per slot written) and
    WAIT with replies on."""

    def __init__(self, pool: redis.ConnectionPool, key: str) -> None:
        self.pool = pool
        self.key = key  # a key of one of its slots (which replicas to wait for)
        self.body: list[bytes] = []
        self.checks: list[bytes] = []
        self.replicas = 0

    def add(self, writes: bytes, check: bytes | None) -> None:
        self.body.append(writes)
        if check is not None:
            self.checks.append(check)

    def packed(self, replicas: int) -> list[bytes]:
        wait = [pack_command("WAIT", replicas, RssiStore.REPLICA_WAIT_MS)] if replicas else []
        return [_REPLY_OFF, *self.body, _REPLY_ON, *self.checks, *wait]


def _check(key: str) -> bytes:
    """A stream's check on `key`'s slot, read with replies on: a write of nothing (ZADD XX of a key nothing
    writes, core/storage.py absent_key), so a server out of memory refuses it as it refused the writes, a
    node that no longer owns the slot answers MOVED, and one that is migrating it answers ASK (it has the
    keys not yet moved, and refused unseen the writes on those already moved)."""
    return pack_command("ZADD", absent_key(key), "XX", 0, "-")


# Readings timed ahead of now, stored at now once each, however often they are sent. KEYS: per phone its
# readings and its record of readings stored ahead (RssiKeys.ahead), on one slot. ARGV[1]: now; then per phone
# its count n and n triples (the reading as its source timed it, that time, the reading as stored at now).
# A reading the record holds was stored by an earlier post: nothing is written. The record keeps a reading
# until its own time comes, for then a resend is no longer ahead (it is stored as timed, `_send_packed`).
AHEAD_SCRIPT = """
local now, at = ARGV[1], 2
for k = 1, #KEYS, 2 do
  local n = tonumber(ARGV[at])
  for i = at + 1, at + 3 * n, 3 do
    if redis.call('ZADD', KEYS[k + 1], 'NX', ARGV[i + 1], ARGV[i]) == 1 then
      redis.call('ZADD', KEYS[k], now, ARGV[i + 2])
    end
  end
  at = at + 1 + 3 * n
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now)
  local newest = redis.call('ZRANGE', KEYS[k + 1], -1, -1, 'WITHSCORES')
  if newest[2] then
    redis.call('EXPIRE', KEYS[k + 1], math.ceil(tonumber(newest[2]) - tonumber(now)) + 1)
  end
end
"""

Ahead = tuple[int, str, str, float, float, bool | None]  # (bucket, client, ap, rssi, ts as sent, flag)


def ahead_commands(keys: RssiKeys, ahead: Sequence[Ahead], now: float,
                   per_phone: bool = False) -> list[tuple[int, Command]]:
    """(bucket, the `AHEAD_SCRIPT` call storing its readings timed ahead of `now`): one per bucket, or one per
    phone with `per_phone` (while its slot is being migrated, a call whose keys lie on both sides is refused
    with TRYAGAIN: a phone's two keys rarely are)."""
    score = f"{now:.3f}"
    by_bucket: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for bucket, client, ap, rssi, ts, flag in ahead:
        by_bucket[bucket][client] += (f"{ap}|{rssi:g}|{ts:.3f}{_FLAG[flag]}", f"{ts:.3f}",
                                      f"{ap}|{rssi:g}|{score}{_FLAG[flag]}")
    groups = ([(bucket, {client: triples}) for bucket, clients in by_bucket.items()
               for client, triples in clients.items()] if per_phone else list(by_bucket.items()))
    commands: list[tuple[int, Command]] = []
    for bucket, clients in groups:
        names = [key for client in clients for key in (keys.readings(client), keys.ahead(client))]
        args = [x for triples in clients.values() for x in (len(triples) // 3, *triples)]
        commands.append((bucket, ("EVAL", AHEAD_SCRIPT, len(names), *names, score, *args)))
    return commands


def ap_times(fields: Mapping[bytes, bytes]) -> dict[str, float]:
    """An AP -> time hash as HGETALL reads it (`RssiKeys.ap_last_seen`, `.ap_reach`): names and times decoded."""
    return {ap.decode(): float(at) for ap, at in fields.items()}


def ap_times_of(aps: Sequence[str], values: Sequence[bytes | None]) -> dict[str, float]:
    """An AP -> time hash as HMGET of `aps` reads it (`RssiKeys.ap_last_seen`, `.ap_reach`): the APs it holds."""
    return {ap: float(at) for ap, at in zip(aps, values, strict=True) if at is not None}


class MapAps:
    """The BSSIDs of each venue's current map, per process, for the write path (`RssiStore`): a map change made
    here is seen at once (the map store's listeners), one made by another process within `recheck_s`."""

    def __init__(self, venues: VenueStore, recheck_s: float = 2.0) -> None:
        self.venues = venues
        self._memo = BoundedMemo(256, max_age_s=recheck_s)
        venues.listen(self._changed)

    def __call__(self, venue: str) -> frozenset[str]:
        return self._memo.get(venue, lambda: frozenset(self._map_ids(venue)))

    def _map_ids(self, venue: str) -> list[str]:
        venue_map = self.venues.get_map(venue)
        return venue_map.ap_ids() if venue_map is not None else []

    def _changed(self, event: MapChanged) -> None:
        self._memo.clear()


def newest_per_ap(batch: Batch, now: float = math.inf) -> dict[str, float]:
    """AP -> the time of its newest reading in the batch, no later than `now` (a reading timed ahead is stored
    as heard now)."""
    newest: dict[str, float] = {}
    for ap, ts in zip(batch.aps, batch.tss, strict=True):
        if ts > newest.get(ap, -math.inf):
            newest[ap] = ts
    return {ap: min(ts, now) for ap, ts in newest.items()}


class RssiStore:
    CHUNK = 10_000  # observations per stream: bounds how long one request holds the server
    WRITE_TIMEOUT_S = 5.0
    REPLICA_WAIT_MS = WAIT_MS
    use_stream = True  # False: always the plain pipeline (the tests compare the two)

    def __init__(self, db: Store, window_s: float = 60.0, wait_replicas: int = 1, feed_gap_s: float = 300.0,
                 map_aps: Callable[[str], Collection[str]] | None = None) -> None:
        self.db = db
        # The venue's map's APs (`MapAps`): only theirs go in the per-AP hashes. None: every AP counts as the map's
        # (a caller that writes only APs it placed itself: benchmarks, store tests).
        self.map_aps = map_aps
        self.window_s = window_s
        self.feed_gap_s = feed_gap_s  # no report for this long ends the feed's run (`RssiKeys.feed_since`)
        # On a cluster, a batch is acknowledged once this many of its primary's replicas have it (as many as the
        # primary reports online, when fewer: core/replication.py), so a primary that dies right after does not
        # lose it. Not replicated in time: NotReplicated, a 503 (the feed retries; every write is idempotent).
        self.wait_replicas = wait_replicas

    @property
    def ttl_s(self) -> int:
        return max(1, int(self.window_s * 2))

    def write(self, venue: str, observations: Iterable[Observation], now: float,
              extra: Sequence[Command] = ()) -> int:
        return self.write_batch(venue, Batch.of(observations), now, extra)

    def drop_stale(self, batch: Batch, now: float) -> int:
        """Drop the batch's readings that are already out of the window (`now - window_s`): a late feed's, or
        one whose clock is behind. Stored, they would be trimmed at once; the one owner of the rule, called
        by the ingest endpoints before they count what they accept, and by every write."""
        return batch.drop_older_than(now - self.window_s)

    def write_batch(self, venue: str, batch: Batch, now: float, extra: Sequence[Command] = ()) -> int:
        """Store a validated batch, less its readings out of the window (`drop_stale`: counted in
        `batch.stale`); returns how many readings it stored. `extra` commands (same venue's keys) ride along
        in the last round trip."""
        keys = RssiKeys(venue)
        fast = self.use_stream and keys.key("").isascii() and isinstance(self.db, redis.Redis | RedisCluster)
        self.drop_stale(batch, now)
        n = len(batch)
        reporters = dict.fromkeys([*batch.aps, *batch.reporters])
        if n == 0 and not extra and not reporters:
            return 0
        ap_commands = self._ap_commands(keys, batch, reporters, now)
        for start in range(0, max(n, 1), self.CHUNK):
            stop = min(n, start + self.CHUNK)
            tail = ap_commands + list(extra) if stop >= n else []
            if fast:
                try:
                    self._send_packed(keys, batch, start, stop, now, tail)
                except REDIRECTS as redirect:
                    if is_ask(redirect):  # a slot being migrated: per command, where its key is
                        self._send_following(keys, batch, start, stop, now, tail)
                    else:  # moved (resharding, failover), TRYAGAIN, CLUSTERDOWN: the slot map read again, once more
                        refresh_slots(self.db, min_interval_s=0.0)
                        self._send_packed(keys, batch, start, stop, now, tail)
                except redis.ConnectionError:
                    refresh_slots(self.db)  # a dead primary: the next request finds its promoted replica
                    raise
            else:
                self._send_pipeline(keys, batch, start, stop, now, tail)
        return n

    def _ap_commands(self, keys: RssiKeys, batch: Batch, reporters: Iterable[str], now: float) -> list[Command]:
        """The batch's per-AP writes: when each AP last reported, readings or not (the receipt time: what "silent
        for too long" is about), how far its report reached (`RssiKeys.ap_reach`), and when the feed's run began.
        An AP not in the venue's map goes in the bounded `unknown_aps` instead: a feed may name any BSSID."""
        on_map = self.map_aps(keys.venue) if self.map_aps is not None else None
        known = [ap for ap in reporters if on_map is None or ap in on_map]
        unknown = [ap for ap in reporters if on_map is not None and ap not in on_map][:UNKNOWN_APS_KEPT]
        reach = [(ap, ts) for ap, ts in newest_per_ap(batch, now).items() if on_map is None or ap in on_map]
        commands: list[Command] = []
        if known:
            commands.append(("HSET", keys.ap_last_seen(), *(x for ap in known for x in (ap, repr(now)))))
        if reach:
            commands.append(("HSET", keys.ap_reach(), *(x for ap, ts in reach for x in (ap, repr(ts)))))
        if unknown:
            key = keys.unknown_aps()
            commands += [("ZADD", key, *(x for ap in unknown for x in (repr(now), ap))),
                         ("ZREMRANGEBYRANK", key, 0, -UNKNOWN_APS_KEPT - 1),
                         ("ZREMRANGEBYSCORE", key, "-inf", repr(now - UNKNOWN_AP_FORGET_S)),
                         ("EXPIRE", key, UNKNOWN_AP_FORGET_S)]
        if known or unknown:
            gap = max(1, math.ceil(self.feed_gap_s))
            commands += [("SET", keys.feed_since(), repr(now), "NX", "EX", gap), ("EXPIRE", keys.feed_since(), gap)]
        return commands

    # -- the stream -------------------------------------------------------------------------------

    def _send_packed(self, keys: RssiKeys, batch: Batch, start: int, stop: int, now: float,
                     extra: list[Command]) -> None:
        """The chunk's commands, grouped by the phones' buckets (core/storage.py: one, `{venue}`, unless
        the venue spreads its phones), one stream per primary holding any of those buckets."""
        buckets = phone_buckets(keys.venue)
        prefixes = [keys.bucket_key(b, "rssi", "") for b in range(buckets)]
        parts: list[list[str]] = [[] for _ in range(buckets)]
        touched: dict[str, int] = {}
        ahead: list[Ahead] = []
        for client, ap, rssi, ts, flag in zip(batch.clients[start:stop], batch.aps[start:stop],
                                              batch.rssis[start:stop], batch.tss[start:stop],
                                              batch.flags[start:stop], strict=True):
            bucket = touched.get(client)
            if bucket is None:
                bucket = touched[client] = phone_bucket(keys.venue, client)
            if ts > now:  # a source's clock running fast: stored as now, once (AHEAD_SCRIPT)
                ahead.append((bucket, client, ap, rssi, ts, flag))
                continue
            prefix = prefixes[bucket]
            score = f"{ts:.3f}"
            member = f"{ap}|{rssi:g}|{score}{_FLAG[flag]}"
            parts[bucket].append(f"*4\r\n$4\r\nZADD\r\n${len(prefix) + len(client)}\r\n{prefix}{client}\r\n"
                                 f"${len(score)}\r\n{score}\r\n${len(member)}\r\n{member}\r\n")
        for bucket, command in ahead_commands(keys, ahead, now):  # before the trim, EXPIRE and SADD
            parts[bucket].append(pack_command(*command).decode())
        cutoff = repr(now - self.window_s)
        tail = f"$4\r\n-inf\r\n${len(cutoff)}\r\n{cutoff}\r\n"
        ttl = str(self.ttl_s)
        ttl_arg = f"${len(ttl)}\r\n{ttl}\r\n"
        sadds = [f"*3\r\n$4\r\nSADD\r\n${len(new)}\r\n{new}\r\n"
                 for new in (keys.new_readings(b) for b in range(buckets))]
        for client, bucket in touched.items():
            key = f"${len(prefixes[bucket]) + len(client)}\r\n{prefixes[bucket]}{client}\r\n"
            parts[bucket].append(f"*4\r\n$16\r\nZREMRANGEBYSCORE\r\n{key}{tail}*3\r\n$6\r\nEXPIRE\r\n"
                                 f"{key}{ttl_arg}{sadds[bucket]}${len(client)}\r\n{client}\r\n")
        streams: dict[int, _NodeStream] = {}

        def stream_for(key: str) -> _NodeStream:
            pool = slot_pool(self.db, key)
            return streams.setdefault(id(pool), _NodeStream(pool, key))

        for bucket in range(buckets):
            if parts[bucket]:
                stream_for(prefixes[bucket]).add("".join(parts[bucket]).encode(), _check(prefixes[bucket]))
        if extra:
            venue_slot = keys.ap_last_seen()
            covered = buckets == 1 and touched  # the venue's slot is bucket 0's, already checked
            stream_for(venue_slot).add(b"".join(pack_command(*command) for command in extra),
                                       None if covered else _check(venue_slot))
        sent: list[tuple[_NodeStream, redis.connection.AbstractConnection]] = []
        try:
            for node in streams.values():
                replicas = min(self.wait_replicas, online_replicas(self.db, node.key)) if self.wait_replicas else 0
                conn = node.pool.get_connection()
                sent.append((node, conn))
                # A bulk write may queue behind other feeds' streams: a longer timeout than the portal's
                # fail-fast one, for this connection and this write only.
                conn.update_current_socket_timeout(self.WRITE_TIMEOUT_S)
                conn.send_packed_command(node.packed(replicas))
                node.replicas = replicas
            for node, conn in sent:  # every primary is writing meanwhile
                if conn.read_response() not in (b"OK", "OK"):
                    raise redis.ResponseError("CLIENT REPLY ON was not acknowledged")
                for _ in node.checks:
                    conn.read_response()  # raises if the server refused writes (OOM) or the slot moved
                if node.replicas:
                    require_acked(self.db, node.key, conn.read_response(), node.replicas, "the readings")
                conn.update_current_socket_timeout(-1)  # back to the pool's own timeout
        except BaseException:
            for _node, conn in sent:
                conn.disconnect()  # never hand a connection in an unknown state back to the pool
            raise
        finally:
            for node, conn in sent:
                node.pool.release(conn)

    def _send_pipeline(self, keys: RssiKeys, batch: Batch, start: int, stop: int, now: float,
                       extra: list[Command]) -> None:
        pipe = self.db.pipeline(transaction=False)
        for commands in self._commands_by_slot(keys, batch, start, stop, now, extra).values():
            for command in commands:
                pipe.execute_command(*command)
        pipe.execute()

    def _send_following(self, keys: RssiKeys, batch: Batch, start: int, stop: int, now: float,
                        extra: list[Command]) -> None:
        """The chunk again after a slot being migrated answered its check with ASK: each slot's commands in
        one pipeline with replies on, those its owner refuses sent where the ASK says (SlotCommands). The
        writes its owner applied before are applied again, and so are those of the other slots: the same
        values (the health counters of `extra` may count the request twice, as a feed's retry does). Not
        waited on by the replicas (WAIT counts one connection's writes, and these went over two)."""
        send = SlotCommands(self.db)
        try:
            for commands in self._commands_by_slot(keys, batch, start, stop, now, extra, per_phone=True).values():
                send(tuple(commands))
        except redis.exceptions.TryAgainError:
            # The migration refuses AHEAD_SCRIPT while its two keys are not both on one side (the record of
            # readings ahead seldom exists): the readings timed ahead go in as plain writes at now, the rest
            # again (the same values). A resend during the resharding may then be stored twice: better than a
            # 503 for every batch with a reading ahead for as long as the resharding lasts.
            for commands in self._commands_by_slot(keys, batch, start, stop, now, extra, per_phone=True,
                                                   ahead_plain=True).values():
                send(tuple(commands))

    def _commands_by_slot(self, keys: RssiKeys, batch: Batch, start: int, stop: int, now: float,
                          extra: list[Command], per_phone: bool = False,
                          ahead_plain: bool = False) -> dict[str, list[Command]]:
        """The chunk's commands as `_send_packed` streams them, per slot: a key of the slot -> its commands (the
        first names a key: SlotCommands sends them where it lives). `per_phone`: see `ahead_commands`;
        `ahead_plain`: a reading timed ahead is written at now like any other, without the once-only check."""
        by_client: dict[str, dict[str, float]] = defaultdict(dict)
        ahead: list[Ahead] = []
        for client, ap, rssi, ts, flag in zip(batch.clients[start:stop], batch.aps[start:stop],
                                              batch.rssis[start:stop], batch.tss[start:stop],
                                              batch.flags[start:stop], strict=True):
            members = by_client[client]
            if ts > now and ahead_plain:
                members[f"{ap}|{rssi:g}|{now:.3f}{_FLAG[flag]}"] = round(now, 3)
            elif ts > now:  # stored as now, once (AHEAD_SCRIPT)
                ahead.append((phone_bucket(keys.venue, client), client, ap, rssi, ts, flag))
            else:
                members[f"{ap}|{rssi:g}|{ts:.3f}{_FLAG[flag]}"] = round(ts, 3)
        by_slot: dict[str, list[Command]] = defaultdict(list)
        tails: dict[str, list[Command]] = defaultdict(list)
        for client, members in by_client.items():
            key, new = keys.readings(client), keys.new_readings(phone_bucket(keys.venue, client))
            if members:
                by_slot[new].append(("ZADD", key, *(x for member, ts in members.items() for x in (ts, member))))
            by_slot[new].append(("ZREMRANGEBYSCORE", key, "-inf", now - self.window_s))
            tails[new] += [("EXPIRE", key, self.ttl_s), ("SADD", new, client)]
        for bucket, command in ahead_commands(keys, ahead, now, per_phone):
            by_slot[keys.new_readings(bucket)].append(command)
        for new, commands in tails.items():
            by_slot[new] += commands
        if extra:
            by_slot[keys.ap_last_seen()] += extra
        return by_slot

    # -- reading ----------------------------------------------------------------------------------

    def window_command(self, venue: str, client: str, now: float) -> tuple:
        """The window query as a command (name, *args), sent with the caller's other reads in one round trip;
        pass its result to `parse_readings`."""
        return ("ZRANGEBYSCORE", RssiKeys(venue).readings(client), now - self.window_s, "+inf")

    @staticmethod
    def _parse(raw: list[bytes]) -> list[tuple[str, float, float, str]]:
        out = []
        for member in raw:
            ap, rssi, ts, *flag = member.decode().split("|")
            out.append((ap, float(rssi), float(ts), flag[0] if flag else ""))
        return out

    def _window(self, venue: str, client: str, now: float) -> list[tuple[str, float, float, str]]:
        return self._parse(self.db.zrangebyscore(RssiKeys(venue).readings(client), now - self.window_s, "+inf"))

    @classmethod
    def parse_readings(cls, raw: list[bytes]) -> dict[str, list[tuple[float, float]]]:
        """AP -> [(ts, rssi), ...] from a window query's raw result."""
        out: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for ap, rssi, ts, _flag in cls._parse(raw):
            out[ap].append((ts, rssi))
        return dict(out)

    @classmethod
    def parse_flagged(cls, raw: list[bytes]) -> dict[str, list[tuple[float, float, bool]]]:
        """AP -> [(ts, rssi, associated), ...] from a window query's raw result (associated: the reading
        says the client is associated, e.g. a hostapd `assoc` event)."""
        # The tracker's hot loop (a phone's window is ~200 readings): split bytes, decode only the APs.
        by_ap: dict[bytes, list[tuple[float, float, bool]]] = {}
        for member in raw:
            parts = member.split(b"|")
            items = by_ap.get(parts[0])
            if items is None:
                items = by_ap[parts[0]] = []
            items.append((float(parts[2]), float(parts[1]), len(parts) > 3 and parts[3] == b"a"))
        return {ap.decode(): items for ap, items in by_ap.items()}

    @staticmethod
    def parse_batch(raws: Sequence[Sequence[bytes]]) -> Readings:
        """Many window queries' raw results (one per phone) as one batch of flat arrays: what
        `parse_flagged` reads, for the tracker's batch (positioning/readings.py). The members are read all
        at once in C: by pyarrow's CSV reader (`_read_members`), or, should one not be of the shape it
        reads, split at once (the flags dropped from the joined text, then every third field)."""
        members = list(chain.from_iterable(raws))
        ap, aps, rssi, ts, associated = _read_members(members) or _split_members(members)
        phone = np.repeat(np.arange(len(raws), dtype=np.int64), [len(raw) for raw in raws])
        return Readings(phone, ap, aps, ts, rssi, associated, len(raws))

    def window_commands(self, venue: str, clients: Sequence[str], now: float) -> list[tuple]:
        """`window_command` of each client (a batch's)."""
        since = now - self.window_s
        return [("ZRANGEBYSCORE", key, since, "+inf") for key in RssiKeys(venue).readings_of(clients)]

    @staticmethod
    def window_replies(raw: np.ndarray, start: int, n: int) -> WindowReplies | None:
        """n window queries' replies as the store sent them (RESP2 bytes from `start`, core/storage.py RawReplies),
        for the tracker's batch; None when one is not an array of members (an error reply: read them as hiredis
        does)."""
        return WindowReplies.of(raw, start, n)

    def readings(self, venue: str, client: str, now: float) -> dict[str, list[tuple[float, float]]]:
        """AP -> [(ts, rssi), ...] within the window."""
        return self.parse_readings(self.db.zrangebyscore(RssiKeys(venue).readings(client), now - self.window_s, "+inf"))

    def associated(self, venue: str, client: str, now: float) -> bool | None:
        """True if a reading in the window says the client is associated, False if the readings say
        it was heard by probe requests only, None if the feeds did not say (or it is not heard)."""
        flags = {flag for *_rest, flag in self._window(venue, client, now)}
        if "a" in flags:
            return True
        return False if "p" in flags else None


class WindowReplies:
    """Many window queries' raw replies (RESP2 bytes), indexed once: each phone's newest member (what the kept
    position is checked against) and, for any of the phones, their readings as one batch (`batch`): what
    `RssiStore.parse_batch` makes of the same members, read in a compiled loop without a Python object per member
    (portal/ingest/window_kernel.py); members it does not read (another number form, another shape) are read by
    `parse_batch` itself."""

    def __init__(self, raw: np.ndarray, ends: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                 last: np.ndarray) -> None:
        self.raw = raw
        self._ends = ends  # reply r spans raw[ends[r]:ends[r + 1]]
        self._starts = starts
        self._counts = counts
        self.newest: list[bytes | None] = [bytes(raw[at:at + size]) if size >= 0 else None
                                           for at, size in last.tolist()]

    @classmethod
    def of(cls, raw: np.ndarray, start: int, n: int) -> WindowReplies | None:
        from portal.ingest import window_kernel  # lazy: numba, the tracker's batch path only

        ok, ends, starts, counts, last = window_kernel.index_windows(raw, start, n)
        return cls(raw, ends, starts, counts, last) if ok else None

    def members(self, phone: int) -> list[bytes]:
        """One phone's members, as a window query's reply reads (`RssiStore.parse_readings`)."""
        return RawReplies.parsed(self.raw[self._ends[phone]:self._ends[phone + 1]], 1)[0]

    def batch(self, phones: Sequence[int]) -> Readings:
        """The phones' readings, in the order given, as `RssiStore.parse_batch` reads their members."""
        from portal.ingest import window_kernel  # lazy: numba, the tracker's batch path only

        order = list(phones)
        if order != sorted(set(order)):  # the kernel walks the replies in order, once each
            return RssiStore.parse_batch([self.members(p) for p in order])
        include = np.zeros(len(self._counts), dtype=bool)
        include[order] = True
        ok, ap, rssi, ts, associated, names = window_kernel.read_windows(self.raw, self._starts, self._counts, include)
        if not ok:
            return RssiStore.parse_batch([self.members(p) for p in order])
        aps = [bytes(self.raw[at:at + size]).decode() for at, size in names.tolist()]
        phone = np.repeat(np.arange(len(order), dtype=np.int64), self._counts[order])
        return Readings(phone, ap, aps, ts, rssi, associated, len(order))


# AP codes (0..k-1 in the order the APs were first read), AP names, RSSI, times, association flags
_Members = tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]


def _read_members(members: list[bytes]) -> _Members | None:
    """The members one a line ("ap|rssi|ts", a flag "|a" or "|p" dropped) read by pyarrow's CSV reader. Its
    float parser rounds correctly, as `float` does: the same doubles (tests/ingest/test_ingest_store.py).
    None when a member is not of that shape or a number is not one it reads (`_split_members` reads them)."""
    # pyarrow (already a dependency, for Parquet) is heavy to import; only the tracker parses batches
    import pyarrow as pa  # lazy: heavy, the tracker's only
    import pyarrow.compute as pc  # lazy: heavy, the tracker's only
    import pyarrow.csv as pacsv  # lazy: heavy, the tracker's only

    count = len(members)
    text = b"\n".join(members) + b"\n"
    if not count or text.count(b"\n") != count or b"\r" in text:  # a line break inside a member
        return None
    associated = np.zeros(count, dtype=bool)
    # Members have two separators, three with a flag: a count (one fast pass) says whether any has one,
    # where three substring searches over the batch's text cost a fifth of this function.
    if text.count(b"|") != 2 * count:
        if b"|a\n" in text:  # a member "ap|rssi|ts|a" (one with other fields is not read here)
            buf = np.frombuffer(text, dtype=np.uint8)
            ends = np.flatnonzero(buf == ord("\n"))
            associated = (buf[ends - 2] == ord("|")) & (buf[ends - 1] == ord("a"))
        for flag in (b"|a\n", b"|p\n"):
            if flag in text:
                text = text.replace(flag, b"\n")
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(column_names=["ap", "rssi", "ts"], use_threads=False,
                                           block_size=len(text) + 1),
            parse_options=pacsv.ParseOptions(delimiter="|", quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"ap": pa.binary(), "rssi": pa.float64(), "ts": pa.float64()}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=False))
    except pa.ArrowInvalid:  # a member with other fields, a number it does not read
        return None
    if table.num_rows != count:  # an empty member
        return None
    aps = pc.dictionary_encode(table.column("ap").combine_chunks())
    return (aps.indices.to_numpy().astype(np.int64), [name.decode() for name in aps.dictionary.to_pylist()],
            table.column("rssi").to_numpy(), table.column("ts").to_numpy(), associated)


def _split_members(members: list[bytes]) -> _Members:
    """`_read_members` with bytes.split and `float` per number (a ValueError for a reading without its fields)."""
    count = len(members)
    fields = (b"|".join(members) + b"|").replace(b"|a|", b"|").replace(b"|p|", b"|").split(b"|")
    fields.pop()
    if len(fields) != 3 * count:  # not the members RssiStore writes: one at a time (and a clear error)
        parts = [member.split(b"|") for member in members]
        fields = [field for p in parts for field in p[:3]]
        if len(fields) != 3 * count:
            raise ValueError("a reading without its three fields")
    codes: dict[bytes, int] = {}
    ap = np.fromiter(map(codes.setdefault, fields[0::3], range(count)), dtype=np.int64, count=count)
    ap = np.unique(ap, return_inverse=True)[1]  # codes 0..k-1, in the order the APs were first read
    rssi = np.asarray(list(map(float, fields[1::3])), dtype=np.float64).reshape(count)
    ts = np.asarray(list(map(float, fields[2::3])), dtype=np.float64).reshape(count)
    associated = np.zeros(count, dtype=bool)
    if any(b"|a" in member for member in members):
        associated[[i for i, member in enumerate(members) if member.split(b"|")[3:4] == [b"a"]]] = True
    return ap, [name.decode() for name in codes], rssi, ts, associated
