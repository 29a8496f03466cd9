"""Venue maps in Redis, stored whole per version so the portal can switch models atomically and
operators can roll back.

Every change of a map is one unit of work, `VenueStore.edit`:

    with venues.edit(venue, "ap.place", bssid=...) as m:   # the venue's map lock is held from here
        edits.place_ap(m, ...)                              # a private copy; raise to store nothing
    m.version                                               # the new version, announced to listeners

It takes the per-venue lock, hands a private copy, writes it with an expected-version check
(`put_map(expected=...)`, so a writer that forgot the lock still cannot lose a change), and then tells
every listener (`VenueStore.listen`: the audit log and the model rebuild, wired once by the host)
about the new version (a `MapChanged`)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis

from core.errors import N_, CatalogInputError
from core.memo import BoundedMemo
from core.storage import GLOBAL_TAG, Store, VenueKeys
from fingerprints.model import VenueMap

EDIT_LOCK_S = 30.0

log = logging.getLogger(__name__)


class StaleMapError(CatalogInputError):
    """put_map(expected=N) found another version current: somebody else changed the map meanwhile."""

    def __init__(self, venue: str, current: int, expected: int) -> None:
        super().__init__("map", N_("map of %(venue)s is at version %(current)s, not %(expected)s: changed meanwhile; "
                                   "nothing was stored"), venue=venue, current=current, expected=expected)


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


class VenueStore:
    """Which venues exist, and each venue's map versions.

    A venue exists when its own `{venue}` slot holds a current map version, so a request about one
    venue only ever reads that venue's shard. The list of every venue (a set in the `{_global}` slot,
    with a version counter) is for the tracker, the warm-up and the console's venue list: read
    through a per-process copy refreshed when the counter moves, and kept when its shard is down."""

    CACHED_MAPS = 8
    REGISTRY_RECHECK_S = 2.0

    def __init__(self, db: Store, versions_kept: int = 20) -> None:
        self.db = db
        self.versions_kept = max(1, versions_kept)
        registry = VenueKeys(GLOBAL_TAG)
        self._venues_key = registry.key("venues")
        self._registry_version_key = registry.key("venues", "version")
        self._registry: tuple[float, bytes | None, list[str]] = (float("-inf"), None, [])
        # A stored version never changes, so its parsed map can be shared: parsing the demo mall's
        # ~2 MB of JSON on every page view cost more than the rest of the request.
        self._parsed = BoundedMemo(self.CACHED_MAPS)
        self._listeners: list[Callable[[MapChanged], None]] = []

    def listen(self, listener: Callable[[MapChanged], None]) -> None:
        """Call `listener(MapChanged)` after every change made through `edit` or `set_current`."""
        self._listeners.append(listener)

    def announce(self, event: MapChanged) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - the version is stored; a listener's failure must not undo that
                log.exception("map listener %r failed for %s v%s", listener, event.venue, event.version)

    def edit_lock(self, venue: str, timeout_s: float = EDIT_LOCK_S):
        """The per-venue lock every map change takes (a redis-py Lock in the venue's hash tag)."""
        return self.db.lock(VenueKeysMap(venue).edit_lock(), timeout=timeout_s, blocking_timeout=timeout_s)

    @contextlib.contextmanager
    def locked(self, venue: str) -> Iterator[None]:
        """The block under the venue's map lock; MapBusyError (what `edit` raises), not redis-py's LockError,
        when another change holds it longer than we wait."""
        try:
            with self.edit_lock(venue):
                yield
        except redis.exceptions.LockError:
            raise MapBusyError() from None

    @contextlib.contextmanager
    def edit(self, venue: str, action: str, *, create: VenueMap | None = None, **detail) -> Iterator[VenueMap]:
        """One change of the venue's map: lock, private copy, checked write, announcement.

        Yields a private copy of the current map (or `create` when the venue has none yet; without it a
        venue with no map is a ValueError). An exception inside the block stores nothing. On exit the copy
        is stored as the next version (its `.version` is then the new number) and listeners are told."""
        try:
            with self.edit_lock(venue):
                venue_map = self.get_map(venue, for_update=True)
                if venue_map is None:
                    if create is None:
                        raise ValueError(f"venue {venue} has no map yet")
                    venue_map = create.copy()
                    venue_map.id, venue_map.version = venue, 0
                previous = venue_map.version
                yield venue_map
                version = self.put_map(venue_map, expected=previous)
        except redis.exceptions.LockError:
            raise MapBusyError() from None
        self.announce(MapChanged(venue, version, previous, action, dict(detail)))

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

    def exists(self, venue: str) -> bool:
        return self.current_version(venue) > 0

    def current_version(self, venue: str) -> int:
        raw = self.db.get(VenueKeysMap(venue).current_version())
        return int(raw) if raw else 0

    def get_map(self, venue: str, version: int | None = None, for_update: bool = False) -> VenueMap | None:
        """The map (current version unless given). The result is shared between callers: treat it as
        read-only, or pass for_update=True for a private copy to change and put_map back."""
        if version is None:
            version = self.current_version(venue)
            if not version:
                return None
        try:
            cached = self._parsed.get((venue, version), lambda: self._parse(venue, version))
        except _NoSuchVersion:
            return None
        return cached.copy() if for_update else cached

    def _parse(self, venue: str, version: int) -> VenueMap:
        raw = self.db.get(VenueKeysMap(venue).map_version(version))
        if raw is None:
            raise _NoSuchVersion  # not memoised: only what was read is
        return VenueMap.from_dict(json.loads(raw))

    def put_map(self, venue_map: VenueMap, expected: int | None = None) -> int:
        """Store the map as a new version and make it current, in one transaction on the venue's slot
        (versions beyond the newest `versions_kept` are dropped in it; the live one is the new one). With
        `expected`, only if that version is still the current one (0: no map yet), else StaleMapError.
        Changes go through `edit`; a bare put_map is for tests and fixtures."""
        keys = VenueKeysMap(venue_map.id)
        with self.db.pipeline(transaction=True) as pipe:
            while True:
                try:
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
                    pipe.rpush(keys.versions(), version)
                    for old in self._beyond_kept(stored):
                        pipe.delete(keys.map_version(old))
                        pipe.lrem(keys.versions(), 0, old)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        self._register(venue_map.id)
        return version

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
            previous = self.current_version(venue)
            self.db.set(keys.current_version(), version)
        self.announce(MapChanged(venue, version, previous, "map.rollback", {"by": by} if by else {}))

    def versions(self, venue: str) -> list[int]:
        return [int(v) for v in self.db.lrange(VenueKeysMap(venue).versions(), 0, -1)]
