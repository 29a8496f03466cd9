"""Venue maps in Redis, stored whole per version so the portal can switch models atomically and
operators can roll back."""

from __future__ import annotations

import json

import redis

from fingerprints.model import VenueMap
from portal.storage import VenueKeys

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

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._venues_key = VenueKeys(GLOBAL_TAG).key("venues")

    def venue_ids(self) -> list[str]:
        return sorted(v.decode() for v in self.db.smembers(self._venues_key))

    def exists(self, venue: str) -> bool:
        return bool(self.db.sismember(self._venues_key, venue))

    def current_version(self, venue: str) -> int:
        raw = self.db.get(VenueKeysMap(venue).current_version())
        return int(raw) if raw else 0

    def get_map(self, venue: str, version: int | None = None) -> VenueMap | None:
        keys = VenueKeysMap(venue)
        if version is None:
            version = self.current_version(venue)
            if not version:
                return None
        raw = self.db.get(keys.map_version(version))
        return VenueMap.from_dict(json.loads(raw)) if raw else None

    def put_map(self, venue_map: VenueMap) -> int:
        """Store the map as a new version and make it current, in one transaction."""
        keys = VenueKeysMap(venue_map.id)
        with self.db.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(keys.current_version())
                    version = int(pipe.get(keys.current_version()) or 0) + 1
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
