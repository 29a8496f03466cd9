"""Venue maps in Redis, stored whole per version so the portal can switch models atomically and
operators can roll back."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import OrderedDict

import redis

from core.storage import GLOBAL_TAG, Store, VenueKeys
from fingerprints.model import VenueMap

log = logging.getLogger(__name__)


class VenueKeysMap(VenueKeys):
    def current_version(self) -> str:
        return self.key("map", "current")

    def map_version(self, version: int) -> str:
        return self.key("map", "v", str(version))

    def versions(self) -> str:
        return self.key("map", "versions")


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
        self._parsed: OrderedDict[tuple[str, int], VenueMap] = OrderedDict()
        self._lock = threading.Lock()

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
        key = (venue, version)
        with self._lock:
            cached = self._parsed.get(key)
            if cached is not None:
                self._parsed.move_to_end(key)
        if cached is None:
            raw = self.db.get(VenueKeysMap(venue).map_version(version))
            if raw is None:
                return None
            cached = VenueMap.from_dict(json.loads(raw))
            with self._lock:
                self._parsed[key] = cached
                while len(self._parsed) > self.CACHED_MAPS:
                    self._parsed.popitem(last=False)
        return copy.deepcopy(cached) if for_update else cached

    def put_map(self, venue_map: VenueMap) -> int:
        """Store the map as a new version and make it current, in one transaction on the venue's slot;
        versions beyond the newest `versions_kept` are dropped in it (the live one is the new one)."""
        keys = VenueKeysMap(venue_map.id)
        with self.db.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(keys.current_version(), keys.versions())
                    # Past every version ever stored, not just the current one: after a rollback from
                    # v10 to v3 the next change is v11, and v4..v10 (and caches keyed by them) stay valid.
                    stored = [int(v) for v in pipe.lrange(keys.versions(), 0, -1)]
                    version = max([int(pipe.get(keys.current_version()) or 0), *stored]) + 1
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

    def set_current(self, venue: str, version: int) -> None:
        """Roll back (or forward) to a stored version."""
        keys = VenueKeysMap(venue)
        if not self.db.exists(keys.map_version(version)):
            raise KeyError(f"venue {venue} has no map version {version}")
        self.db.set(keys.current_version(), version)

    def versions(self, venue: str) -> list[int]:
        return [int(v) for v in self.db.lrange(VenueKeysMap(venue).versions(), 0, -1)]
