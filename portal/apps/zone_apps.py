"""Which light app each zone lands on, and that app's config for the zone."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import redis

from core.storage import VenueKeys

DEFAULT_APP = "directory"


class ZoneAppKeys(VenueKeys):
    def assignments(self) -> str:
        return self.key("zoneapp")


class ZoneAppStore:
    COPY_MAX_AGE_S = 2.0  # how stale this process's copy of a venue's table may be (`from_copy`)

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._copies: dict[str, tuple[float, dict[bytes, bytes]]] = {}  # venue -> (read at, table)

    def get(self, venue: str, zone: str) -> tuple[str, dict[str, Any]]:
        return self.decode(self.db.hget(ZoneAppKeys(venue).assignments(), zone))

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def app_of(raw: bytes | None) -> str:
        """Just the app name of a stored assignment (the probe path's question), memoised: a mall has
        a few hundred distinct assignments, asked about on every probe."""
        return ZoneAppStore.decode(raw)[0]

    @staticmethod
    def decode(raw: bytes | None) -> tuple[str, dict[str, Any]]:
        """(app, config) from a stored assignment; a zone with none runs the default app."""
        if not raw:
            return DEFAULT_APP, {}
        data = json.loads(raw)
        return data["app"], data.get("config", {})

    def set(self, venue: str, zone: str, app: str, config: dict[str, Any]) -> None:
        self.db.hset(ZoneAppKeys(venue).assignments(), zone, json.dumps({"app": app, "config": config}))
        self._copies.pop(venue, None)

    def from_copy(self, venue: str, zone: str) -> bytes | None:
        """The zone's stored assignment from this process's copy of the venue's table, read again once
        older than COPY_MAX_AGE_S (kept while the store cannot be read): for the probe of a venue whose
        phones lie in other slots than its own (core/storage.py, phone buckets), which must not add a
        round trip to the venue's slot. Another process's change is seen within that age."""
        now = time.monotonic()
        copy = self._copies.get(venue)
        if copy is None or now - copy[0] >= self.COPY_MAX_AGE_S:
            try:
                copy = (now, self.db.hgetall(ZoneAppKeys(venue).assignments()))
            except redis.RedisError:
                if copy is None:
                    raise
                copy = (now, copy[1])  # the venue's shard is failing over: the last copy, tried again later
            self._copies[venue] = copy
        return copy[1].get(zone.encode())

    def all(self, venue: str) -> dict[str, tuple[str, dict[str, Any]]]:
        raw = self.db.hgetall(ZoneAppKeys(venue).assignments())
        return {zone.decode(): self.decode(value) for zone, value in raw.items()}

    def config_for(self, venue: str, zone: str, app: str) -> dict[str, Any] | None:
        """The zone's config if the zone runs this app, else None (the app is not on in that zone)."""
        assigned, config = self.get(venue, zone)
        return config if assigned == app else None
