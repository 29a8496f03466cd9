"""Recent RSSI readings per client, per venue, in a sliding window.

One sorted set per client, scored by time, members "ap|rssi|ts": a batch for a client is one ZADD,
old readings are trimmed by score, and the positioner reads the window in one round trip."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import redis

from portal.ingest.observation import Observation
from portal.storage import VenueKeys


class RssiKeys(VenueKeys):
    def readings(self, client: str) -> str:
        return self.key("rssi", client)

    def ap_last_seen(self) -> str:
        return self.key("ap", "last")


class RssiStore:
    def __init__(self, db: redis.Redis, window_s: float = 60.0) -> None:
        self.db = db
        self.window_s = window_s

    def write(self, venue: str, observations: Iterable[Observation], now: float) -> int:
        keys = RssiKeys(venue)
        by_client: dict[str, dict[str, float]] = defaultdict(dict)
        ap_last: dict[str, float] = {}
        for obs in observations:
            by_client[obs.client][f"{obs.ap}|{obs.rssi:g}|{obs.ts:.3f}"] = obs.ts
            ap_last[obs.ap] = max(obs.ts, ap_last.get(obs.ap, 0.0))
        ttl = max(1, int(self.window_s * 2))
        cutoff = now - self.window_s
        # Not a transaction: every command is idempotent and the batch was validated whole before.
        pipe = self.db.pipeline(transaction=False)
        for client, members in by_client.items():
            key = keys.readings(client)
            pipe.zadd(key, members)
            pipe.zremrangebyscore(key, "-inf", cutoff)
            pipe.expire(key, ttl)
        if ap_last:
            pipe.hset(keys.ap_last_seen(), mapping=ap_last)
        pipe.execute()
        return sum(len(m) for m in by_client.values())

    def readings(self, venue: str, client: str, now: float) -> dict[str, list[tuple[float, float]]]:
        """AP -> [(ts, rssi), ...] within the window."""
        raw = self.db.zrangebyscore(RssiKeys(venue).readings(client), now - self.window_s, "+inf")
        out: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for member in raw:
            ap, rssi, ts = member.decode().split("|")
            out[ap].append((float(ts), float(rssi)))
        return dict(out)
