"""The stored results of a venue's validation walks (fingerprints.quality.validation_walk): an operator
walked a route with a phone, the APs' readings of that phone were positioned as the tracker would, and the
live error and landing along the route were measured. The set-up checklist shows the last one with its
date; the console page and `flask validation-walk` record each.

Keys (venue's hash tag): `validation:walks` list (newest first, capped at KEEP) of JSON summaries."""

from __future__ import annotations

import json
import math
import time

import redis

from core.storage import VenueKeys

KEEP = 20


class ValidationKeys(VenueKeys):
    def walks(self) -> str:
        return self.key("validation", "walks")


def _figure(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


class ValidationWalks:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def record(self, venue: str, walk, by: str, source: str = "", now: float | None = None) -> dict:
        """Keep the summary of a fingerprints.quality.ValidationWalk (not its points)."""
        located = [p for p in walk.points if p.est_floor is not None]
        entry = {"at": round(time.time() if now is None else now, 3), "by": by, "source": source[:200],
                 "version": walk.version, "points": len(walk.points), "located": len(located),
                 "zone_rate": _figure(walk.zone_rate), "floor_rate": _figure(walk.floor_rate),
                 "mean_error_m": _figure(walk.mean_error_m), "median_error_m": _figure(walk.median_error_m),
                 "p95_error_m": _figure(walk.p95_error_m)}
        key = ValidationKeys(venue).walks()
        with self.db.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(entry))
            pipe.ltrim(key, 0, KEEP - 1)
            pipe.execute()
        return entry

    def recent(self, venue: str, limit: int = KEEP) -> list[dict]:
        return [json.loads(raw) for raw in self.db.lrange(ValidationKeys(venue).walks(), 0, max(0, limit - 1))]

    def last(self, venue: str) -> dict | None:
        recent = self.recent(venue, 1)
        return recent[0] if recent else None
