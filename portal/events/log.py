"""The venue's event log: one bounded Valkey stream per venue, the one source of insights and moments.

Every producer goes through `EventLog.emit` (or the presence script, which writes the same fields):
the tracking locator's presence listener (arrive, zone_enter, zone_leave, leave), the captive landing
(landing) and the light apps' transactions (txn, through portal.apps.views.record_event). A stream
entry's fields (the schema; README "Insights and moments"):

    k    kind: arrive | zone_enter | dwell | zone_leave | leave | landing | txn
    at   when it happened, epoch seconds (the stream id is when it was written)
    dev  the phone's client id (keyed HMAC of its MAC; never the MAC), when known
    sh   the shopper id (portal/shopper.py: random, what the light apps key their data by), when known
    z    the zone, when there is one
    d    JSON object of the rest (dwell_s, app, action, member, tier, link, ...)

The stream is trimmed to about `maxlen` entries (XADD MAXLEN ~); readers that must see every event
(the moments engine) use a consumer group (XREADGROUP + XACK), so a crash re-reads what it did not ack.
What trimming lost, the insights must not read as "nothing happened": `kept_since` says from when on the
stream still holds every event.

`emit_later` (the probe's `landing`, one per probe on the hottest request) queues the entry in this process
and a background thread appends the queue every FLUSH_EVERY_S, many entries per round trip (DeferredAppends;
what it can lose is said there). This process's own reads (read, read_group, length, delete_where) write
its queue first, so whoever emitted an event here reads it back."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

import redis

from core.storage import VenueKeys
from core.store_health import STORE_ERRORS

if TYPE_CHECKING:
    from portal.payments.store import Order

log = logging.getLogger(__name__)

KINDS = ("arrive", "zone_enter", "dwell", "zone_leave", "leave", "landing", "txn")
MAXLEN = 1_000_000
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # one encoder: made once, not per event
FLUSH_EVERY_S = 0.2  # a deferred event reaches the stream about this long after it happened
MAX_DEFERRED = 20_000  # events a process holds while the store cannot take them; more are dropped (counted)
BATCH = 500  # entries per round trip
# How long `emit_once` remembers an event it wrote: longer than anything that writes it is repeated (a provider
# resends an unacknowledged payment notice for about a day).
ONCE_KEEP_S = 7 * 86400


class EventKeys(VenueKeys):
    def stream(self) -> str:
        """Stream: the venue's events (fields above)."""
        return self.key("ev")

    def presence(self) -> str:
        """Hash: device -> "zone|zone since|last seen|arrived" of each phone present now (portal/events/presence.py)."""
        return self.key("ev", "here")

    def present_by_time(self) -> str:
        """Sorted set: device by last seen, to find the ones that left."""
        return self.key("ev", "seen")

    def untracked(self) -> str:
        """Sorted set: the phones whose shopper declined location-based services (score: until when, epoch s;
        portal/consent.py keeps it): the presence script appends no event for them and keeps no state of theirs."""
        return self.key("ev", "untracked")

    def dwell_marks(self) -> str:
        """Set: minutes (the dwell rules' N) at which the presence script emits a `dwell` event in a stay."""
        return self.key("ev", "marks")

    def insights_cache(self, generation: int, scope: str, since: float, until: float) -> str:
        """String (JSON, short TTL): the figures of one scope and range (portal/events/report.py)."""
        return self.key("ev", "ins", str(generation), scope, f"{since:.0f}", f"{until:.0f}")

    def insights_generation(self) -> str:
        """Counter: bumped by an erasure or a retention run, so no cached figure outlives the data it counted."""
        return self.key("ev", "ins", "gen")

    def kept_since(self) -> str:
        """String: the write time (epoch ms) of the oldest entry the stream held once it had been trimmed
        (EventLog.kept_since); never lowered."""
        return self.key("ev", "kept")

    def occupancy_limits(self) -> str:
        """Hash: zone -> the occupancy at which the consoles raise an alert."""
        return self.key("ev", "limits")

    def once(self, name: str) -> str:
        """String (expires after ONCE_KEEP_S): the event named `name` was written (`EventLog.emit_once`)."""
        return self.key("ev", "once", name)


# A `Since` feature: the light apps write their own transaction for a paid order (`paid_transaction`). A release
# before them logged the `payment` only, which the insights then count as the purchase (insights.prepare).
PAID_TRANSACTIONS = "paid_transactions"


class SinceKeys(VenueKeys):
    def since(self) -> str:
        """Hash: feature -> when this install first ran a release with it at the venue (epoch s; `Since`)."""
        return self.key("since")


_since_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store client -> its Since
_since_lock = threading.Lock()


class Since:
    """When this install first ran each of a few things a release brought, per venue (feature -> epoch s, one small
    hash in the venue's slot, `SinceKeys`): what the store holds from before was written by a release without it,
    and is read by the rules of its own time. A privacy notice is in force from when the venue's pages first showed it
    (portal/consent.py: a mall that upgraded late showed the one before until then), and a `payment` event is a
    purchase's transaction before the apps wrote their own (PAID_TRANSACTIONS).

    Each store class that owns such a feature names it (`running`, no I/O); the first read of a venue's records every
    one named that no process recorded before as starting now (HSETNX: the first process of the release wins), in one
    MULTI with the read of the whole hash, which is then kept for the process: it changes only on a deploy. It is read
    before what a feature first writes or shows (a payment event, a shopper's answer read for her page) and by what
    reads by it (the insights), not when a process starts: a store nothing was written to stays empty. One instance per
    store client (`of`): every owner in a process shares its one read of each venue's."""

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self.features: set[str] = set()
        self._known: dict[str, dict[str, float]] = {}  # venue -> its hash

    @classmethod
    def of(cls, db: redis.Redis) -> Since:
        """The one instance for this store client (made at its first use)."""
        with _since_lock:
            since = _since_of.get(db)
            if since is None:
                since = _since_of[db] = cls(db)
            return since

    def running(self, feature: str) -> Since:
        """This process runs `feature` (recorded at a venue's next read where no process did before)."""
        self.features.add(feature)
        return self

    def read(self, venue: str, now: float | None = None) -> dict[str, float]:
        """Every feature's first time at the venue, those this process runs included (recorded `now` where
        missing)."""
        known = self._known.get(venue)
        if known is None or not self.features <= known.keys():
            key, at = SinceKeys(venue).since(), f"{time.time() if now is None else now:.3f}"
            pipe = self.db.pipeline(transaction=True)
            for feature in sorted(self.features - (known or {}).keys()):
                pipe.hsetnx(key, feature, at)
            pipe.hgetall(key)
            raw = pipe.execute()[-1]
            self._known[venue] = known = {_text(k): float(v) for k, v in raw.items()}
        return known

    def record(self, venue: str) -> None:
        """Before a feature's first write at the venue: this release's features are recorded from now where none
        was before (free once read). Fails open (logged): the write goes on, and the next read records them."""
        try:
            self.read(venue)
        except STORE_ERRORS as exc:
            log.warning("release start not recorded yet: %s", exc.__class__.__name__)

    def set(self, venue: str, feature: str, at: float) -> None:
        """What is known better than the first process's run (a release before this record was deployed on that
        day): kept for good, in this process at once, in the others at their next start."""
        self.db.hset(SinceKeys(venue).since(), feature, f"{at:.3f}")
        self._known.pop(venue, None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Event:
    kind: str
    at: float
    venue: str
    device: str | None = None
    shopper: str | None = None
    zone: str | None = None
    data: dict = field(default_factory=dict)
    id: str = ""

    def fields(self) -> dict[str, str]:
        return _fields(self.kind, self.at, self.device, self.shopper, self.zone, self.data)

    @classmethod
    def from_entry(cls, venue: str, entry_id: bytes | str, raw: dict[bytes, bytes]) -> Event | None:
        """From an XRANGE/XREADGROUP entry; None for one that is not an event (a malformed write)."""
        try:  # field by field: a reader of a month decodes millions of them
            dev, sh, z, d = raw.get(b"dev"), raw.get(b"sh"), raw.get(b"z"), raw.get(b"d")
            return cls(kind=raw[b"k"].decode(), at=float(raw[b"at"]), venue=venue,
                       device=None if dev is None else dev.decode(), shopper=None if sh is None else sh.decode(),
                       zone=None if z is None else z.decode(), data={} if d is None else json.loads(d),
                       id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
        except (KeyError, ValueError, UnicodeDecodeError):
            return None


def _fields(kind: str, at: float, device: str | None, shopper: str | None, zone: str | None,
            data: dict) -> dict[str, str]:
    """A stream entry's fields (the schema above): `Event.fields`, and `EventLog.entry` without making an
    Event (the writer makes one entry per probe's `landing`: a frozen dataclass cost a third of it)."""
    out = {"k": kind, "at": f"{at:.3f}"}
    if device:
        out["dev"] = device
    if shopper:
        out["sh"] = shopper
    if zone:
        out["z"] = zone
    if data:
        out["d"] = _COMPACT_JSON.encode(data)
    return out


@functools.lru_cache(maxsize=4096)
def _stream_key(venue: str) -> str:
    """EventKeys(venue).stream(), memoised (bounded): the writer asks it once per entry."""
    return EventKeys(venue).stream()


def _at(raw: dict[bytes, bytes]) -> float | None:
    """An entry's `at`, read before the rest of it (most entries a reader gets are outside its range)."""
    try:
        return float(raw[b"at"])
    except (KeyError, ValueError):
        return None


def _identifies(raw: dict[bytes, bytes]) -> bool:
    """The entry names a shopper or is a transaction: what a look-back over identities needs."""
    return b"sh" in raw or raw.get(b"k") == b"txn"


class LogEntry(NamedTuple):
    """One event ready to append (EventLog.entry): XADD stream MAXLEN ~ maxlen * fields."""
    stream: str
    maxlen: int
    fields: dict[str, str]


# KEYS[1]: a venue's stream. ARGV[1]: its maxlen; ARGV[2]: the entries, a JSON list of [name, value, ...]
# lists (one argument for the batch: redis-py encodes each argument in Python, which cost more than the
# XADDs). Trimmed once per batch.
_APPEND = """
local entries = cjson.decode(ARGV[2])
for _, fields in ipairs(entries) do
  redis.call('XADD', KEYS[1], '*', unpack(fields))
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
return #entries
"""


# KEYS[1]: a venue's stream, KEYS[2]: its kept-since mark. ARGV[1]: its maxlen. A stream that lost entries
# (entries-added > length) while as long as its bound lost them to trimming (XADD MAXLEN ~ never leaves fewer
# than maxlen; an erasure or a retention run takes a few, or rewrites them at the end): it holds every event
# written from its first entry on. The mark keeps the latest such time, so it holds when the bound is raised
# later or an erasure takes the stream below it. Returns the mark (epoch ms) or nil.
_KEPT_SINCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info, f = redis.call('XINFO', 'STREAM', KEYS[1]), {}
  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
  local first = f['first-entry']
  if first and f['length'] >= tonumber(ARGV[1]) and f['entries-added'] > f['length'] then
    local ms = tonumber(string.match(first[1], '^(%d+)'))
    if ms > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], ms) end
  end
end
return redis.call('GET', KEYS[2])
"""


# KEYS[1]: a venue's stream, KEYS[2]: the event's once-mark. ARGV[1]: the stream's maxlen, ARGV[2]: how long the
# mark is kept (s), ARGV[3..]: the entry's fields (name, value, ...). Mark and entry in one step: a repeat finds the
# mark and writes nothing; a call cut short wrote neither, so its repeat writes the event. Returns 1 when written.
_EMIT_ONCE = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
return 1
"""


_queues: weakref.WeakSet[DeferredAppends] = weakref.WeakSet()  # every queue of this process


def _made(batch: list) -> Iterator[LogEntry]:
    for item in batch:
        if isinstance(item, LogEntry):
            yield item
            continue
        try:
            yield item()
        except (TypeError, ValueError) as exc:  # data that is not JSON: the caller's bug, logged once per event
            log.warning("event not logged: %s", exc.__class__.__name__)


def write_deferred_events() -> None:
    """Write every queue of this process now: at exit (atexit, below), and in the tests before the store
    is emptied (so no event of one test lands in the next one's store)."""
    for queue in list(_queues):
        queue.flush()


def _forget_after_fork() -> None:
    """A forked child starts with empty queues: the parent writes its own (never twice)."""
    for queue in list(_queues):
        queue._reset()


class DeferredAppends:
    """Entries queued in this process, appended by a background thread every FLUSH_EVERY_S, one script
    per venue per round trip. Fails open: the caller never waits for the store or sees its errors.

    What can be lost (each logged, without ids): the queue of a process killed without exiting (SIGKILL,
    out of memory, power): at most FLUSH_EVERY_S of its events; entries beyond MAX_DEFERRED while the store
    cannot take them (the store down for minutes; counted); a batch the store refuses (a key of the wrong
    type). A process that exits normally (gunicorn's worker exit, SIGTERM) writes its queue first (atexit).
    An event's `at` is when it happened; its stream id is when it was written, up to FLUSH_EVERY_S later
    (the readers' `since` bound already allows for that: an event is written at or after it happened)."""

    def __init__(self, db: redis.Redis, every_s: float = FLUSH_EVERY_S, limit: int = MAX_DEFERRED) -> None:
        self.every_s = every_s
        self.limit = limit
        self.dropped = 0  # over the limit, since the last write that succeeded
        self._append = db.register_script(_APPEND)
        self._reset()
        _queues.add(self)

    def _reset(self) -> None:
        self._pending: list[LogEntry | Callable[[], LogEntry]] = []
        self._lock = threading.Lock()  # the queue and the thread
        self._writing = threading.Lock()  # one writer at a time: the thread, a reader, the exit
        self._thread: threading.Thread | None = None
        self._failing = False
        # Set by stop(): the writer ends and none starts again (made anew after a fork: its lock may be held)
        stopped = getattr(self, "_stopped", None)
        self._stopped = threading.Event()
        if stopped is not None and stopped.is_set():
            self._stopped.set()

    def add(self, entry: LogEntry | Callable[[], LogEntry]) -> None:
        """Queue an entry, or what makes it (called by the writer: work off the caller's path)."""
        with self._lock:
            if len(self._pending) >= self.limit:
                self.dropped += 1
                return
            self._pending.append(entry)
            if self._thread is None and not self._stopped.is_set():  # stopped: written by the next flush()
                self._thread = threading.Thread(target=self._run, name="event-appends", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Write the queue every every_s; end when it is empty (the next add starts a new thread)."""
        try:
            while True:
                if self._stopped.wait(self.every_s):  # sleeps the interval, or ends at once when stopped
                    with self._lock:
                        self._thread = None
                    return
                self.flush()
                with self._lock:
                    if not self._pending:
                        self._thread = None  # under the lock that `add` checks: no entry is left without a writer
                        return
        except Exception:  # noqa: BLE001 - an entry that cannot be made, a store client's own error class
            log.exception("event writer stopped; the next event starts a new one")
            with self._lock:
                self._thread = None  # else `add` would never start a writer again and every event would wait

    def stop(self, timeout_s: float) -> None:
        """End the writer thread (its app is closing) and wait up to `timeout_s` for it (a write in flight ends
        first); none starts again. What is still queued is not written here, since closing must not wait for a
        store that is down: the next `flush()` writes it (write_deferred_events: at exit, and in the tests)."""
        self._stopped.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def flush(self) -> int:
        """Write what is queued now; returns how many were written. Never raises: what the store could not
        take (down, slow, out of memory for now) goes back to the front of the queue, what it refused for good is
        dropped; both are logged."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            by_stream: dict[str, list[LogEntry]] = {}
            for entry in _made(batch):
                by_stream.setdefault(entry.stream, []).append(entry)
            written, unwritten, error = 0, [], None
            for stream, entries in by_stream.items():
                for i in range(0, len(entries), BATCH):
                    chunk = entries[i : i + BATCH]
                    if error is None:
                        try:
                            written += self._write(stream, chunk)
                            continue
                        except STORE_ERRORS as exc:  # unavailable (down, slow, failing over): kept
                            error = exc
                    unwritten += chunk
            if error is not None:
                self._keep(unwritten, error)
            elif self._failing or self.dropped:
                log.warning("events written again; %d dropped while the store could not take them", self.dropped)
                self._failing, self.dropped = False, 0
            return written

    def _keep(self, unwritten: list[LogEntry], error: Exception) -> None:
        """Back to the front of the queue, as far as the limit allows (the rest is counted as dropped)."""
        if not self._failing:
            log.warning("events not written yet (kept to retry): %s", error.__class__.__name__)
        self._failing = True
        with self._lock:
            room = max(0, self.limit - len(self._pending))
            self.dropped += max(0, len(unwritten) - room)
            self._pending[:0] = unwritten[:room]

    def _write(self, stream: str, chunk: list[LogEntry]) -> int:
        entries = json.dumps([[part for pair in entry.fields.items() for part in pair] for entry in chunk])
        try:
            return int(self._append(keys=[stream], args=[chunk[0].maxlen, entries]))
        except redis.ResponseError as exc:
            if _passing(exc):  # raised as a store error: `flush` keeps the chunk to retry
                raise
            log.warning("%d events not logged: %s", len(chunk), exc.__class__.__name__)  # refused for good
            return 0


# Refusals that pass by themselves: memory full (noeviction: until keys expire or memory is added), a replica
# promoted or a slot moving (READONLY, TRYAGAIN, CLUSTERDOWN), a long script running, too few replicas in sync,
# a failed snapshot (BUSY, NOREPLICAS, MISCONF: redis-py has no class for them), a script the node lacks after its
# reload (NOSCRIPT: the node a resharding moves the stream to was not among those it was loaded on; the next try
# loads it again). Every other refusal (a key of the wrong type, a script error) would meet every retry again.
_PASSING = (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError, redis.exceptions.TryAgainError,
            redis.exceptions.ClusterDownError, redis.exceptions.NoScriptError)


def _passing(exc: redis.ResponseError) -> bool:
    """The refusal clears up on its own (retry later), as opposed to one every retry would meet again."""
    return isinstance(exc, _PASSING) or str(exc).startswith(("BUSY ", "NOREPLICAS ", "MISCONF "))


class EventLog:
    """Emit and read a venue's events. Emitting fails open: an analytics write never breaks a shopper's
    page (the failure is logged, without ids)."""

    def __init__(self, db: redis.Redis, maxlen: int = MAXLEN) -> None:
        self.db = db
        self.maxlen = max(1000, int(maxlen))
        # When an event without an explicit time happened: the wall clock, except inside a simulated day
        # (portal/events/sim.py drives the apps' real forms at simulated times, one request at a time).
        self.clock: Callable[[], float] = time.time
        self.deferred = DeferredAppends(db)
        self._kept_since = db.register_script(_KEPT_SINCE)
        self._emit_once = db.register_script(_EMIT_ONCE)
        self.since = Since.of(db).running(PAID_TRANSACTIONS)  # this release's apps write their paid transactions

    def emit(self, venue: str, kind: str, *, at: float | None = None, device: str | None = None,
             shopper: str | None = None, zone: str | None = None, pipe=None, **data) -> None:
        """Append one event (on `pipe` when given: the caller's round trip). `data`: JSON-able extras."""
        entry = self.entry(venue, kind, at=at, device=device, shopper=shopper, zone=zone, **data)
        target = pipe if pipe is not None else self.db
        try:
            target.xadd(entry.stream, entry.fields, maxlen=entry.maxlen, approximate=True)
        except redis.RedisError as exc:
            log.warning("event %s for venue %s not logged: %s", kind, venue, exc.__class__.__name__)

    def emit_once(self, venue: str, kind: str, once: str, *, at: float | None = None, device: str | None = None,
                  shopper: str | None = None, zone: str | None = None, **data) -> bool:
        """`emit`, at most once per `once` (a name for what happened, e.g. a paid order's) for ONCE_KEEP_S: whatever
        is done again (a payment notice delivered again) writes no second event. True when written now; fails
        open as `emit` does (False)."""
        entry = self.entry(venue, kind, at=at, device=device, shopper=shopper, zone=zone, **data)
        try:
            return bool(self._emit_once(keys=[entry.stream, EventKeys(venue).once(once)],
                                        args=[entry.maxlen, ONCE_KEEP_S, *chain.from_iterable(entry.fields.items())]))
        except redis.RedisError as exc:
            log.warning("event %s for venue %s not logged: %s", kind, venue, exc.__class__.__name__)
            return False

    def emit_later(self, venue: str, kind: str, *, at: float | None = None, device: str | None = None,
                   shopper: str | None = None, zone: str | None = None, **data) -> None:
        """Append one event off the caller's path (DeferredAppends): for the hottest request, the probe's
        `landing`, which must not wait for a round trip of its own."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        # The entry is made by the writer thread (in a probe it cost as much as sealing the token), from
        # what the event is now: its time is taken here.
        self.deferred.add(functools.partial(self.entry, venue, kind, at=self.clock() if at is None else at,
                                            device=device, shopper=shopper, zone=zone, **data))

    def flush(self) -> None:
        """Write this process's deferred events now (this process's readers see what it emitted)."""
        self.deferred.flush()

    def entry(self, venue: str, kind: str, *, at: float | None = None, device: str | None = None,
              shopper: str | None = None, zone: str | None = None, **data) -> LogEntry:
        """The stream entry `emit` appends (XADD stream MAXLEN ~ maxlen * fields)."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        fields = _fields(kind, self.clock() if at is None else float(at), device, shopper, zone,
                         {k: v for k, v in data.items() if v is not None})
        return LogEntry(_stream_key(venue), self.maxlen, fields)

    def read(self, venue: str, since: float | None = None, until: float | None = None, batch: int = 5000, *,
             sparse_until: float | None = None) -> Iterator[Event]:
        """The venue's events with since <= at < until, oldest written first; of those before `sparse_until`,
        only the ones that name a shopper or are a transaction (a look-back over identities: the presence
        events, most of a stream, are skipped before they are decoded).

        The scan runs to the stream's end, not to `until`: an event may be written long after it happened
        (a retention run rewrites old events at the end, privacy.py; a sweep writes a `leave` up to
        LEAVE_AFTER_S late); those past `until` are skipped on their `at` alone."""
        self.flush()
        key, start = EventKeys(venue).stream(), "-"
        if since is not None:  # ids are write times: an event is written at or after it happened
            start = f"{max(0, int(since * 1000) - 1)}-0"
        low, high = -float("inf") if since is None else since, float("inf") if until is None else until
        sparse = -float("inf") if sparse_until is None else sparse_until
        while True:
            entries = self.db.xrange(key, min=start, max="+", count=batch)
            for entry_id, raw in entries:
                at = _at(raw)
                if at is None or not low <= at < high or (at < sparse and not _identifies(raw)):
                    continue
                event = Event.from_entry(venue, entry_id, raw)
                if event is not None:
                    yield event
            if len(entries) < batch:
                return
            start = "(" + entries[-1][0].decode()

    def paid_transactions_since(self, venue: str) -> float:
        """When the venue's apps began writing their own transaction for a paid order (`paid_transaction`: the first
        payment, or read, of the release that brought it); a `payment` event from before is the purchase's."""
        return self.since.read(venue)[PAID_TRANSACTIONS]

    def kept_since(self, venue: str) -> float | None:
        """From when on (epoch seconds, a write time) the stream holds every event, once trimming has taken
        older ones: events that happened before it may be missing. None: it never lost any to its bound."""
        self.flush()
        keys = EventKeys(venue)
        mark = self._kept_since(keys=[keys.stream(), keys.kept_since()], args=[self.maxlen])
        return None if mark is None else int(mark) / 1000

    def set_dwell_marks(self, venue: str, minutes: set[int]) -> None:
        """The stay lengths (minutes) the presence script marks with a `dwell` event (the moments engine's
        dwell rules: each fires while the shopper is still in the zone, once per stay)."""
        key = EventKeys(venue).dwell_marks()
        pipe = self.db.pipeline(transaction=True)
        pipe.delete(key)
        if minutes:
            pipe.sadd(key, *sorted(int(m) for m in minutes))
        pipe.execute()

    def length(self, venue: str) -> int:
        self.flush()
        return int(self.db.xlen(EventKeys(venue).stream()))

    def ensure_group(self, venue: str, group: str, start: str = "$") -> None:
        """A consumer group on the venue's stream (created once; `start`: "$" new events, "0" all)."""
        try:
            self.db.xgroup_create(EventKeys(venue).stream(), group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_group(self, venue: str, group: str, consumer: str, count: int = 500,
                   claim_idle_ms: int | None = None) -> list[Event]:
        """Events delivered to this consumer: its pending ones first (a restart), then, with `claim_idle_ms`,
        other consumers' entries pending that long (a process that died before its XACK: XAUTOCLAIM, one
        key, so one slot), then new ones. Each process should read as its own consumer: a name shared by
        two would have each re-read the other's in-flight batch."""
        self.flush()
        key = EventKeys(venue).stream()
        out = self._entries(venue, group, self.db.xreadgroup(group, consumer, {key: "0"}, count=count))
        if not out and claim_idle_ms is not None:
            claimed = self.db.xautoclaim(key, group, consumer, claim_idle_ms, "0-0", count=count)
            out = self._entries(venue, group, [(key, claimed[1])])
        if not out:
            out = self._entries(venue, group, self.db.xreadgroup(group, consumer, {key: ">"}, count=count))
        return out

    def prune_consumers(self, venue: str, group: str, idle_ms: int, keep: str) -> int:
        """Delete the group's consumers idle for `idle_ms` with nothing pending (processes gone: each
        process reads as its own consumer, so every restart adds one). One with entries pending stays
        until another consumer claims them; one deleted while alive is made again by its next read."""
        key, gone = EventKeys(venue).stream(), 0
        for consumer in self.db.xinfo_consumers(key, group):
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            if name != keep and not consumer["pending"] and consumer["idle"] >= idle_ms:
                gone += int(self.db.xgroup_delconsumer(key, group, name) == 0)
        return gone

    def _entries(self, venue: str, group: str, streams) -> list[Event]:
        """The events of an XREADGROUP / XAUTOCLAIM answer; an entry trimmed away while pending is acked."""
        key, out = EventKeys(venue).stream(), []
        for _stream, entries in streams or []:
            for entry_id, raw in entries:
                event = Event.from_entry(venue, entry_id, raw) if raw else None
                if event is not None:
                    out.append(event)
                elif not raw:  # trimmed away while pending: nothing to do
                    self.db.xack(key, group, entry_id)
        return out

    def ack(self, venue: str, group: str, ids: list[str]) -> None:
        if ids:
            self.db.xack(EventKeys(venue).stream(), group, *ids)

    def invalidate_insights(self, venue: str) -> None:
        """Cached figures of the venue are stale (an erasure, a retention run): the next view recomputes."""
        self.db.incr(EventKeys(venue).insights_generation())

    def delete_where(self, venue: str, predicate) -> int:
        """Delete the events `predicate(event)` selects (a member's erasure); returns how many."""
        key, doomed = EventKeys(venue).stream(), []
        for event in self.read(venue):
            if predicate(event):
                doomed.append(event.id)
        for i in range(0, len(doomed), 500):
            self.db.xdel(key, *doomed[i:i + 500])
        if doomed:
            self.invalidate_insights(venue)
        return len(doomed)


atexit.register(write_deferred_events)
os.register_at_fork(after_in_child=_forget_after_fork)


def payment_listener(log: EventLog):
    """A PaymentService money listener (portal/payments): every payment and refund is a `txn` event
    (action `payment` / `refund`, `amount_fen`, the order's purpose as `app`) in the zone the order was bought in
    (its `merchant`). Money, not the shopper's transaction: the app writes that one (`paid_transaction`), and the
    insights count only it (insights.NOT_TRANSACTIONS), so a purchase counts once."""

    def listener(kind: str, order, amount: int) -> None:
        log.since.record(order.venue)  # a payment from now on has its app's transaction beside it (PAID_TRANSACTIONS)
        log.emit(order.venue, "txn", shopper=order.shopper or None, zone=order.merchant or None, app=order.purpose,
                 action="payment" if kind == "paid" else "refund", amount_fen=int(amount), order=order.id)

    return listener


def paid_transaction(log: EventLog, order: Order, app: str, action: str, **data) -> bool:
    """A light app's transaction for an order it delivered once paid (a ticket, a sale's unit, a group deposit),
    written once per order (the payment service tells a purpose again after a delivery cut short). It names the
    order's shopper and zone, not her phone: her other events (a landing, a hold) name both, and the funnels
    reach her phone through them. A refund of it later does not undo it (README "Insights and moments")."""
    # `paid` (not anonymous data: dropped when anonymised) gives it a pseudonym of its own then, as a payment's
    # (privacy._is_money): its time, zone and app match the order's ledger entry, which names the shopper
    return log.emit_once(order.venue, "txn", f"paid:{order.id}", shopper=order.shopper or None,
                         zone=order.merchant or None, app=app, action=action, paid="1", **data)
