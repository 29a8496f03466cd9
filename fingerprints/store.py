"""Venue maps in Redis, stored whole per version so the portal can switch models atomically and
operators can roll back.

Every change of a map is one unit of work, `VenueStore.edit`:

    with venues.edit(venue, "ap.place", bssid=...) as m:   # the venue's map lock is held from here
        edits.place_ap(m, ...)                              # a private copy; raise to store nothing
    m.version                                               # the new version, announced to listeners

It takes the per-venue lock, hands a private copy, writes it with an expected-version check
(`put_map(expected=...)`, so a writer that forgot the lock still cannot lose a change), and then tells
every listener (`VenueStore.listen`: the audit log and the model rebuild, wired once by the host)
about the new version (a `MapChanged`).

A version is announced at least once even when the store fails around its write: the write carries an edit id
(`map:edits`, version -> id) and an "unannounced" marker (`map:unannounced`, edit id -> the MapChanged), in the
same MULTI/EXEC. When EXEC's reply is lost, the id says whether this edit committed (then it is a success, not a
StaleMapError against its own version; MapSaveUnknownError when the store cannot say). The marker is cleared once
the listeners have run; one left by a fault after the write is announced by the next change, roll back or look at
the versions, under the map lock (LATE_TRIES times at most). The marker names who made the change (`by`), so a late
announcement is audited as theirs, not as whoever's request replays it.

What follows the write (learning a lost reply's outcome, the announcement, the lock's release) runs without the
request's store budget (core.storage.unbudgeted): a save that spent it on its EXEC must still end as saved or "may have
been saved", and free the map for the operator's next try."""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import redis

from core.errors import N_, CatalogInputError
from core.memo import BoundedMemo
from core.storage import GLOBAL_TAG, Store, StoreBudgetSpent, VenueKeys, unbudgeted
from core.store_health import is_store_fault
from fingerprints.model import VenueMap

EDIT_LOCK_S = 30.0

log = logging.getLogger(__name__)


class StaleMapError(CatalogInputError):
    """put_map(expected=N) found another version current: somebody else changed the map meanwhile."""

    def __init__(self, venue: str, current: int, expected: int) -> None:
        super().__init__("map", N_("map of %(venue)s is at version %(current)s, not %(expected)s: changed meanwhile; "
                                   "nothing was stored"), venue=venue, current=current, expected=expected)


class MapSaveUnknownError(redis.ConnectionError):
    """The store failed while a map change was being written and cannot say whether it was: the change may be
    stored (then it is announced later: module docstring). A store fault, so a caller that does not say it
    answers as for any other (503); the console and the CLI say this message (`template`, a catalog msgid)."""

    template = N_("The store stopped answering while the map was being saved: the change may have been saved. "
                  "See Map versions before trying again.")

    def __init__(self, venue: str) -> None:
        super().__init__(f"map of {venue}: {self.template}")
        self.venue = venue


class _NoSuchVersion(LookupError):
    """A map version that is not stored (internal to get_map)."""


class MapBusyError(CatalogInputError):
    """Another change of the venue's map held the lock for longer than we wait (the console's words: the
    same situation reads the same wherever it is met)."""

    def __init__(self) -> None:
        super().__init__("map", N_("The map is busy with another change; nothing was stored. Try again in a moment."))


@dataclass(frozen=True)
class MapChanged:
    """A new map version became current (announced after it is stored)."""

    venue: str
    version: int
    previous: int
    action: str
    detail: dict = field(default_factory=dict)


class VenueKeysMap(VenueKeys):
    def current_version(self) -> str:
        return self.key("map", "current")

    def map_version(self, version: int) -> str:
        return self.key("map", "v", str(version))

    def versions(self) -> str:
        return self.key("map", "versions")

    def edit_lock(self) -> str:
        return self.key("map", "lock")

    def edits(self) -> str:
        """HASH version -> the id of the edit that stored it (how a writer whose reply was lost learns the outcome)."""
        return self.key("map", "edits")

    def unannounced(self) -> str:
        """HASH edit id -> the MapChanged (JSON) of a change stored but not yet announced."""
        return self.key("map", "unannounced")

    def announce_tries(self) -> str:
        """HASH edit id -> how many late announcements of its change failed on a store fault (VenueStore.LATE_TRIES)."""
        return self.key("map", "unannounced", "tries")


# What EXEC may fail with when its reply, not the transaction, was lost: the store may have run it.
_LOST_REPLY = (redis.WatchError, redis.ConnectionError, redis.TimeoutError, StoreBudgetSpent)


def _refused(exc: redis.RedisError) -> bool:
    """Whether a failed EXEC surely ran nothing: a WATCHed key changed (redis-py raises WatchError for a connection
    lost while watching too: that one is a lost reply)."""
    lost_connection = isinstance(exc.__context__, redis.ConnectionError | redis.TimeoutError)
    return isinstance(exc, redis.WatchError) and not lost_connection


def parse_map(raw: bytes) -> VenueMap:
    """A stored map version's JSON as a VenueMap (its own: nothing else holds it)."""
    return VenueMap.from_dict(json.loads(raw))


class VenueStore:
    """Which venues exist, and each venue's map versions.

    A venue exists when its own `{venue}` slot holds a current map version, so a request about one
    venue only ever reads that venue's shard. The list of every venue (a set in the `{_global}` slot,
    with a version counter) is for the tracker, the warm-up and the console's venue list: read
    through a per-process copy refreshed when the counter moves, and kept when its shard is down."""

    CACHED_MAPS = 8
    REGISTRY_RECHECK_S = 2.0
    COMMIT_TRIES = 3  # a change staged again after another writer's (then MapBusyError)
    LATE_TRIES = 5  # late announcements of one change that may fail on a store fault before its marker is dropped

    def __init__(self, db: Store, versions_kept: int = 20) -> None:
        self.db = db
        self.versions_kept = max(1, versions_kept)
        registry = VenueKeys(GLOBAL_TAG)
        self._venues_key = registry.key("venues")
        self._registry_version_key = registry.key("venues", "version")
        self._registry: tuple[float, bytes | None, list[str]] = (float("-inf"), None, [])
        self._rereading = threading.Lock()  # `listed`'s read of the registry in the background: one at a time
        self._reread_at = float("-inf")
        # A stored version never changes, so its parsed map can be shared: parsing the demo mall's
        # ~2 MB of JSON on every page view cost more than the rest of the request.
        self._parsed = BoundedMemo(self.CACHED_MAPS)
        self._listeners: list[Callable[[MapChanged], None]] = []
        # Who is making a change, when the caller does not say (`by`): the host's (the console's signed-in account).
        self.actor: Callable[[], str | None] = lambda: None
        # Where one unit of work (the host's: a request) keeps the current versions it read, so that it reads each
        # venue's once and sees one version throughout (a page asked for it 2-4 times); None: read every time.
        self.work_scope: Callable[[], dict[str, int] | None] = lambda: None

    def listen(self, listener: Callable[[MapChanged], None]) -> None:
        """Call `listener(MapChanged)` after every change made through `edit` or `set_current`."""
        self._listeners.append(listener)

    def announce(self, event: MapChanged) -> None:
        """Tell every listener; a listener's store fault is raised once all have run (the change is then
        announced again later: its marker stays), any other failure of one is logged (a bug: announcing the change
        again would fail the same way)."""
        fault = None
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - the version is stored; a listener's failure must not undo that
                if is_store_fault(exc):
                    fault = exc
                else:
                    log.exception("map listener %r failed for %s v%s", listener, event.venue, event.version)
        if fault is not None:
            raise fault

    def edit_lock(self, venue: str, timeout_s: float = EDIT_LOCK_S):
        """The per-venue lock every map change takes (a redis-py Lock in the venue's hash tag)."""
        return self.db.lock(VenueKeysMap(venue).edit_lock(), timeout=timeout_s, blocking_timeout=timeout_s)

    @contextlib.contextmanager
    def locked(self, venue: str, blocking: bool = True) -> Iterator[None]:
        """The block under the venue's map lock; MapBusyError (what `edit` raises), not redis-py's LockError,
        when another change holds it longer than we wait. A failed release is logged, not raised: what the
        block did is done (a map version stored), and the lock lapses by itself within its timeout."""
        lock = self.edit_lock(venue)
        try:
            if not lock.acquire(blocking=blocking):
                raise MapBusyError()
        except redis.exceptions.LockError:
            raise MapBusyError() from None
        try:
            yield
        finally:
            try:
                with unbudgeted():  # else a save that spent the request's budget holds the map for EDIT_LOCK_S
                    lock.release()
            except redis.RedisError as exc:
                log.warning("map lock of %s not released (it lapses by itself): %s", venue, exc.__class__.__name__)

    @contextlib.contextmanager
    def edit(self, venue: str, action: str, *, create: VenueMap | None = None, **detail) -> Iterator[VenueMap]:
        """One change of the venue's map: lock, private copy, checked write, announcement.

        Yields a private copy of the current map (or `create` when the venue has none yet; without it a
        venue with no map is a ValueError). An exception inside the block stores nothing. On exit the copy
        is stored as the next version (its `.version` is then the new number) and listeners are told."""
        with self.locked(venue):
            self._announce_left(venue)
            venue_map = self.get_map(venue, for_update=True)
            if venue_map is None:
                if create is None:
                    raise ValueError(f"venue {venue} has no map yet")
                venue_map = create.copy()
                venue_map.id, venue_map.version = venue, 0
            previous = venue_map.version
            yield venue_map
            edit_id = secrets.token_hex(8)
            event = MapChanged(venue, 0, previous, action, self._signed(detail))
            version = self._commit(venue_map, previous, edit_id, event)
            self._settle(replace(event, version=version), edit_id)

    def venue_ids(self) -> list[str]:
        """Every venue with a map (this process's copy, at most REGISTRY_RECHECK_S old while the
        registry's shard answers; the last copy read while it does not)."""
        checked, version, ids = self._registry
        now = time.monotonic()
        if now - checked < self.REGISTRY_RECHECK_S:
            return ids
        try:
            current = self.db.get(self._registry_version_key)
            if current != version or version is None:
                ids = sorted(v.decode() for v in self.db.smembers(self._venues_key))
        except redis.RedisError as exc:
            if checked == float("-inf"):
                raise
            # asked again after REGISTRY_RECHECK_S, not on every call: a tracker asks every 0.2 s, and the
            # outage would fill the log with one line each time
            self._registry = (now, version, ids)
            log.warning("venue registry unavailable, using the copy read before: %s", exc.__class__.__name__)
            return ids
        self._registry = (now, current, ids)
        return ids

    def listed(self, venue: str) -> bool:
        """Whether this process's copy of the registry lists `venue`, without waiting on the store: for a shopper's
        request, which must never wait on the `{_global}` shard (core/store_health.py VenueBreakers keeps breakers
        only for venues known to exist). A venue it does not list has a copy older than REGISTRY_RECHECK_S read again
        in the background (one read at a time, one per REGISTRY_RECHECK_S at most), so a venue added since, or a copy
        never read (no warm-up) or dropped by a map write, is listed a moment later."""
        checked, _, ids = self._registry
        at = bisect.bisect_left(ids, venue)
        if at < len(ids) and ids[at] == venue:
            return True
        now = time.monotonic()
        if (now - max(checked, self._reread_at) >= self.REGISTRY_RECHECK_S
                and self._rereading.acquire(blocking=False)):
            self._reread_at = now
            threading.Thread(target=self._reread, name="venue-registry-copy", daemon=True).start()
        return False

    def _reread(self) -> None:
        try:
            self.venue_ids()
        except redis.RedisError as exc:  # never read yet, and its shard does not answer: the next `listed` asks again
            log.warning("venue registry unavailable: %s", exc.__class__.__name__)
        finally:
            self._rereading.release()

    def exists(self, venue: str) -> bool:
        return self.current_version(venue) > 0

    def current_version(self, venue: str, fresh: bool = False) -> int:
        """The venue's current version (0: no map), as the unit of work first read it (`work_scope`) unless `fresh`:
        a change reads it fresh, and a change made through this store updates what its unit of work reads next."""
        seen = None if fresh else self.work_scope()
        if seen is not None and venue in seen:
            return seen[venue]
        raw = self.db.get(VenueKeysMap(venue).current_version())
        version = int(raw) if raw else 0
        if seen is not None and version:  # a venue with no map yet may get one in this same unit of work
            seen[venue] = version
        return version

    def _now_current(self, venue: str, version: int) -> None:
        """What the unit of work reads as current after it changed it."""
        seen = self.work_scope()
        if seen is not None:
            seen[venue] = version

    def get_map(self, venue: str, version: int | None = None, for_update: bool = False) -> VenueMap | None:
        """The map (current version unless given). The result is shared between callers: treat it as
        read-only, or pass for_update=True for a private copy to change and put_map back (the current version
        read fresh: a change starts from what the store holds)."""
        if version is None:
            version = self.current_version(venue, fresh=for_update)
            if not version:
                return None
        try:
            cached = self._parsed.get((venue, version), lambda: self._parse(venue, version))
        except _NoSuchVersion:
            return None
        return cached.copy() if for_update else cached

    def version_counts(self, venue: str, version: int) -> dict[str, int] | None:
        """How many floors, APs, zones and samples a stored version holds (a version list's summary), None when
        it is not kept: its JSON read as plain data, not built into a VenueMap or memoised (a list of many
        versions must not push the maps in use out of `_parsed`)."""
        raw = self.db.get(VenueKeysMap(venue).map_version(version))
        if raw is None:
            return None
        data = json.loads(raw)
        return {name: len(data.get(name, [])) for name in ("floors", "aps", "zones", "samples")}

    def _parse(self, venue: str, version: int) -> VenueMap:
        raw = self.db.get(VenueKeysMap(venue).map_version(version))
        if raw is None:
            raise _NoSuchVersion  # not memoised: only what was read is
        return parse_map(raw)

    def put_map(self, venue_map: VenueMap, expected: int | None = None) -> int:
        """Store the map as a new version and make it current, in one transaction on the venue's slot
        (versions beyond the newest `versions_kept` are dropped in it; the live one is the new one). With
        `expected`, only if that version is still the current one (0: no map yet), else StaleMapError.
        Changes go through `edit`; a bare put_map is for tests and fixtures (not announced)."""
        version = self._commit(venue_map, expected, secrets.token_hex(8))
        self._register(venue_map.id)
        return version

    def _signed(self, detail: dict) -> dict:
        """A change's detail naming who makes it (`by`: the caller's, else the host's actor), kept in its marker."""
        by = detail.get("by") or self.actor()
        return {**detail, "by": by} if by else dict(detail)

    def _commit(self, venue_map: VenueMap, expected: int | None, edit_id: str,
                event: MapChanged | None = None) -> int:
        """put_map's transaction, written as edit `edit_id` (and, with `event`, marked unannounced). An EXEC whose
        reply was lost (`_LOST_REPLY`: a reset, a timeout, the request's store budget spent) is a success when the
        version's edit id is ours, else MapSaveUnknownError: it may still run, so it is never sent again. Only an EXEC
        the store refused (`_refused`) is staged again, COMMIT_TRIES times at most (then MapBusyError)."""
        keys = VenueKeysMap(venue_map.id)
        for _ in range(self.COMMIT_TRIES):
            with self._pipeline() as pipe:
                version = self._stage(pipe, keys, venue_map, expected, edit_id, event)
                try:
                    pipe.execute()
                    self._now_current(venue_map.id, version)
                    return version
                except _LOST_REPLY as exc:
                    lost = exc
            if self._committed(venue_map.id, version, edit_id, lost):
                self._now_current(venue_map.id, version)
                return version
            if not _refused(lost):
                raise MapSaveUnknownError(venue_map.id) from lost
        raise MapBusyError()

    @contextlib.contextmanager
    def _pipeline(self) -> Iterator[redis.client.Pipeline]:
        """A transaction pipeline whose reset (UNWATCH, the connection back to its pool) runs without the request's
        budget: after an EXEC that spent it, redis-py's own reset fails and keeps the connection."""
        pipe = self.db.pipeline(transaction=True)
        try:
            yield pipe
        finally:
            with unbudgeted():
                pipe.reset()

    def _stage(self, pipe, keys: VenueKeysMap, venue_map: VenueMap, expected: int | None, edit_id: str,
               event: MapChanged | None) -> int:
        """WATCH, read, check `expected` and queue the writes of the next version (returned)."""
        pipe.watch(keys.current_version(), keys.versions())
        # Past every version ever stored, not just the current one: after a rollback from
        # v10 to v3 the next change is v11, and v4..v10 (and caches keyed by them) stay valid.
        stored = [int(v) for v in pipe.lrange(keys.versions(), 0, -1)]
        current = int(pipe.get(keys.current_version()) or 0)
        if expected is not None and current != expected:
            raise StaleMapError(venue_map.id, current, expected)
        version = max([current, *stored]) + 1
        venue_map.version = version
        pipe.multi()
        pipe.set(keys.map_version(version), json.dumps(venue_map.to_dict(), separators=(",", ":")))
        pipe.set(keys.current_version(), version)
        # Once in the list even when the transaction runs twice: redis-py's cluster pipeline sends it again, without
        # its WATCH, after a connection error (a lost EXEC reply); every other write here repeats harmlessly.
        pipe.lrem(keys.versions(), 0, version)
        pipe.rpush(keys.versions(), version)
        pipe.hset(keys.edits(), version, edit_id)
        if event is not None:
            self._mark(pipe, keys, edit_id, replace(event, version=version))
        for old in self._beyond_kept(stored):
            pipe.delete(keys.map_version(old))
            pipe.lrem(keys.versions(), 0, old)
            pipe.hdel(keys.edits(), old)
        return version

    def _committed(self, venue: str, version: int, edit_id: str, exc: redis.RedisError) -> bool:
        """Whether the transaction whose reply was lost stored `version` (its edit id is ours); when the store
        cannot say, MapSaveUnknownError."""
        try:
            with unbudgeted():
                return self.db.hget(VenueKeysMap(venue).edits(), version) == edit_id.encode()
        except redis.RedisError:
            raise MapSaveUnknownError(venue) from exc

    @staticmethod
    def _mark(pipe, keys: VenueKeysMap, edit_id: str, event: MapChanged) -> None:
        """Queue the change's "unannounced" marker in the transaction that stores it (cleared by `_settle`)."""
        pipe.hset(keys.unannounced(), edit_id, json.dumps(asdict(event), separators=(",", ":"), default=str))

    def _settle(self, event: MapChanged, edit_id: str) -> None:
        """After a change is stored (under the map lock, without the request's budget): list the venue, tell the
        listeners, clear its marker. A failure here is logged, not raised: the change is stored. Its marker stays
        after a store fault, to have it announced later (`_tried_again`), and is dropped after any other."""
        keys = VenueKeysMap(event.venue)
        try:
            with unbudgeted():
                self._register(event.venue)
                self.announce(event)
                self._forget(keys, edit_id)
        except redis.RedisError as exc:
            if is_store_fault(exc) and self._tried_again(keys, edit_id, event):
                log.warning("map %s v%s stored; announced later (store fault: %s)", event.venue, event.version,
                            exc.__class__.__name__)
                return
            log.error("map %s v%s stored; not announced (%s)", event.venue, event.version, exc.__class__.__name__)
            with contextlib.suppress(redis.RedisError), unbudgeted():
                self._forget(keys, edit_id)

    def _tried_again(self, keys: VenueKeysMap, edit_id: str, event: MapChanged) -> bool:
        """Whether a change whose announcement met a store fault is announced again later: a late one LATE_TRIES times
        at most (every try runs every listener again, the audit too)."""
        if not event.detail.get("late"):
            return True
        try:
            with unbudgeted():
                return self.db.hincrby(keys.announce_tries(), edit_id, 1) < self.LATE_TRIES
        except redis.RedisError:
            return True  # the store is down: this try is not counted

    def _forget(self, keys: VenueKeysMap, edit_id: str | bytes) -> None:
        """Clear a change's marker (announced, or given up on)."""
        with self.db.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.unannounced(), edit_id)
            pipe.hdel(keys.announce_tries(), edit_id)
            pipe.execute()

    def _announce_left(self, venue: str) -> None:
        """Announce the changes stored but never announced (a fault after their write), under the map lock; their
        detail says `late` (recorded afterwards, by whoever came next). A marker that does not read as a MapChanged
        is logged and dropped: it must not stop every later change of the map."""
        keys = VenueKeysMap(venue)
        for edit_id, raw in self.db.hgetall(keys.unannounced()).items():
            try:
                event = MapChanged(**json.loads(raw))
                late = replace(event, detail={**event.detail, "late": True})
            except (ValueError, TypeError) as exc:
                log.error("map %s: unannounced change %r unreadable, dropped: %s", venue, edit_id, exc)
                with contextlib.suppress(redis.RedisError):
                    self._forget(keys, edit_id)
                continue
            self._settle(late, edit_id.decode())

    def _beyond_kept(self, stored: list[int]) -> list[int]:
        """Versions to drop once a new one is stored: all but the newest versions_kept - 1 of `stored`."""
        keep = self.versions_kept - 1
        return sorted(stored)[:-keep] if keep else list(stored)

    def _register(self, venue: str) -> None:
        """Add the venue to the registry (its own slot: never in the venue's transaction). Repeated on
        every map write, so a venue whose first write outlived a registry outage is listed by the next."""
        with self.db.pipeline(transaction=True) as pipe:
            pipe.sadd(self._venues_key, venue)
            pipe.incr(self._registry_version_key)
            pipe.execute()
        self._registry = (float("-inf"), None, [])

    def set_current(self, venue: str, version: int, by: str | None = None) -> None:
        """Roll back (or forward) to a stored version (announced as action "map.rollback"). `by`: who, when
        not the account of the request it is made in (a command: "cli")."""
        keys = VenueKeysMap(venue)
        if not self.db.exists(keys.map_version(version)):
            raise KeyError(f"venue {venue} has no map version {version}")
        with self.locked(venue):
            self._announce_left(venue)
            detail = self._signed({"by": by} if by else {})
            event = MapChanged(venue, version, self.current_version(venue, fresh=True), "map.rollback", detail)
            edit_id = secrets.token_hex(8)
            with self.db.pipeline(transaction=True) as pipe:
                pipe.set(keys.current_version(), version)
                self._mark(pipe, keys, edit_id, event)
                pipe.execute()
            self._now_current(venue, version)
            self._settle(event, edit_id)

    def versions(self, venue: str) -> list[int]:
        """The stored versions. Where the operator looks after a save that "may have been saved": a change
        stored but not announced is announced first (unless a change holds the map: that one does it)."""
        keys = VenueKeysMap(venue)
        if self.db.exists(keys.unannounced()):
            with contextlib.suppress(MapBusyError), self.locked(venue, blocking=False):
                self._announce_left(venue)
        return [int(v) for v in self.db.lrange(keys.versions(), 0, -1)]
