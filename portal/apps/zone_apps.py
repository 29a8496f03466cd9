"""Which light app each zone lands on, and that app's config for the zone."""

from __future__ import annotations

import functools
import json
from typing import Any

import redis

from core.storage import VenueKeys

DEFAULT_APP = "directory"


class ZoneAppKeys(VenueKeys):
    def assignments(self) -> str:
        return self.key("zoneapp")


class ZoneAppStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

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

    def all(self, venue: str) -> dict[str, tuple[str, dict[str, Any]]]:
        raw = self.db.hgetall(ZoneAppKeys(venue).assignments())
        return {zone.decode(): self.decode(value) for zone, value in raw.items()}

    def config_for(self, venue: str, zone: str, app: str) -> dict[str, Any] | None:
        """The zone's config if the zone runs this app, else None (the app is not on in that zone)."""
        assigned, config = self.get(venue, zone)
        return config if assigned == app else None
