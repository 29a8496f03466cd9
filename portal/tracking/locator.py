"""From a client id to a place: the client's recent RSSI and its motion state -> a Position.

A position is computed once per new set of readings: it is kept (`cache_s`, in the store, so every
worker shares it) with the newest reading it was computed from, and a lookup whose newest reading is
still that one gets it back without positioning again. The tracker (portal/tracking/tracker.py)
computes it as readings arrive, so a probe usually finds it; the smoother steps once per new evidence,
not once per question asked. Listeners (`on_position`, e.g. footfall) hear every new position."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

import redis

from portal.ingest.store import RssiStore
from portal.tracking.models import ModelCache
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from positioning import TemporalSmoother, build_vector

# Called with (pipe, venue, client, position, now) for every newly computed position; writes ride on pipe.
PositionListener = Callable[[object, str, str, Position, float], None]


class Locator:
    def __init__(self, db: redis.Redis, models: ModelCache, rssi: RssiStore, smoother: TemporalSmoother,
                 cache_s: float = 30.0) -> None:
        self.db = db
        self.models = models
        self.rssi = rssi
        self.smoother = smoother
        self.cache_s = cache_s  # how long a position stays reusable while no new reading arrives; 0: never
        self.listeners: list[PositionListener] = []

    def on_position(self, listener: PositionListener) -> None:
        """Hear every newly computed position (its writes go in the same round trip as the kept position)."""
        self.listeners.append(listener)

    def fresh(self, kept: KeptPosition | None, newest: bytes | None, now: float) -> Position | None:
        """The kept position when it still answers for the client, else None."""
        if kept is None or not kept.is_fresh(newest, now, self.cache_s):
            return None
        return kept.position

    def locate(self, venue: str, client: str, now: float | None = None) -> Position | None:
        """None when the client is not heard, or the venue has no model yet."""
        now = time.time() if now is None else now
        model = self.models.get(venue)
        if model is None:
            return None
        # The client's readings, its smoothing state and its kept position in one round trip; the
        # writes (when a new position was computed) in a second.
        keys = TrackKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        self.rssi.queue_window(pipe, venue, client, now)
        pipe.get(keys.track(client))
        pipe.hgetall(keys.last_position(client))
        raw_readings, raw_state, raw_kept = pipe.execute()
        newest = raw_readings[-1] if raw_readings else None
        kept = self.fresh(KeptPosition.from_fields(raw_kept), newest, now)
        if kept is not None:
            return kept
        readings = self.rssi.parse_readings(raw_readings)
        try:
            vector = build_vector(readings, model.ap_ids, now=now, window_s=self.rssi.window_s)
        except ValueError:
            return None  # no known AP hears this client
        estimate = model.positioner.locate(vector)
        neighbour_zones = [model.sample_zones[i] for i in estimate.neighbours]
        zone, zone_conf = model.zones.zone_for(estimate, neighbour_zones)
        state = json.loads(raw_state) if raw_state else None
        state, smoothed, zone = self.smoother.update(state, estimate, zone, zone_conf, now)
        position = Position(
            floor=smoothed.floor, x=smoothed.x, y=smoothed.y, zone=zone,
            confidence=smoothed.confidence, zone_confidence=zone_conf,
        )
        self.keep(venue, client, position, json.dumps(state), newest, now)
        return position

    def keep(self, venue: str, client: str, position: Position, state: str, newest: bytes | None,
             now: float) -> None:
        """Write the new motion state and the kept position, and tell the listeners, in one round trip."""
        keys = TrackKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.set(keys.track(client), state, ex=int(self.rssi.window_s * 5))
        if self.cache_s > 0 and newest is not None:
            last_key = keys.last_position(client)
            pipe.hset(last_key, mapping=KeptPosition(position, newest, now).to_fields())
            pipe.expire(last_key, max(1, math.ceil(self.cache_s)))
        for listener in self.listeners:
            listener(pipe, venue, client, position, now)
        pipe.execute()
