"""Visits per zone: one counter each, under the venue's hash tag."""

from __future__ import annotations

import redis

from core.storage import VenueKeys


class HelloKeys(VenueKeys):
    def visits(self, zone: str) -> str:
        return self.key("hello", "visits", zone)


class HelloStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def visit(self, venue: str, zone: str) -> int:
        return int(self.db.incr(HelloKeys(venue).visits(zone)))
