"""Venue maps in Redis, stored whole per version so the portal can switch models atomically and
operators can roll back."""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict

import redis

from core.storage import VenueKeys
from fingerprints.model import VenueMap

GLOBAL_TAG = "_global"


class VenueKeysMap(VenueKeys):
    def current_version(self) -> str:
        return self.key("map", "current")

    def map_version(self, version: int) -> str:
        return self.key("map", "v", str(version))

    def versions(self) -> str:
        return self.key("map", "versions")


class VenueStore:
    """Which venues exist, and each venue's map versions."""

    CACHED_MAPS = 8

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._venues_key = VenueKeys(GLOBAL_TAG).key("venues")
        # A stored version never changes, so its parsed map can be shared: parsing the demo mall's
        # ~2 MB of JSON on every page view cost more than the rest of the request.
        self._parsed: OrderedDict[tuple[str, int], VenueMap] = OrderedDict()
        self._lock = threading.Lock()

    def venue_ids(self) -> list[str]:
        return sorted(v.decode() for v in self.db.smembers(self._venues_key))

    def exists(self, venue: str) -> bool:
        return bool(self.db.sismember(self._venues_key, venue))

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
        """Store the map as a new version and make it current, in one transaction."""
        keys = VenueKeysMap(venue_map.id)
        with self.db.pipeline() as pipe:
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
                    pipe.sadd(self._venues_key, venue_map.id)
                    pipe.execute()
                    return version
                except redis.WatchError:
                    continue

    def set_current(self, venue: str, version: int) -> None:
        """Roll back (or forward) to a stored version."""
        keys = VenueKeysMap(venue)
        if not self.db.exists(keys.map_version(version)):
            raise KeyError(f"venue {venue} has no map version {version}")
        self.db.set(keys.current_version(), version)

    def versions(self, venue: str) -> list[int]:
        return [int(v) for v in self.db.lrange(VenueKeysMap(venue).versions(), 0, -1)]
