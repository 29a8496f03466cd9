"""From a client id to a place: the venue's positioning model (cached per process, rebuilt when
the map version changes), the client's recent RSSI, temporal smoothing and the zone.

A position is computed once per new set of readings: it is kept (`cache_s`, in the store, so every
worker shares it) with the newest reading it was computed from, and a lookup whose newest reading is
still that one gets it back without positioning again. The tracker (portal/tracking.py) computes it
as readings arrive, so a probe usually finds it; the smoother steps once per new evidence, not once
per question asked."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

import redis

from core.storage import VenueKeys
from fingerprints.geometry import zone_map
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore
from fingerprints.training import training_set
from portal.ingest.store import RssiStore
from positioning import TemporalSmoother, WKNNPositioner, ZoneMap, build_vector


@dataclass(frozen=True)
class Position:
    floor: int
    x: float
    y: float
    zone: str | None
    confidence: float
    zone_confidence: float


@dataclass
class VenueModel:
    version: int
    venue: VenueMap
    ap_ids: list[str]
    positioner: WKNNPositioner
    zones: ZoneMap
    sample_zones: list[str | None]


def build_venue_model(venue: VenueMap) -> VenueModel:
    """Fit the positioner on the venue's fingerprint samples."""
    ap_ids, X, y = training_set(venue)  # the same matrices the map quality report cross-validates
    positioner = WKNNPositioner().fit(X, y)
    return VenueModel(
        version=venue.version,
        venue=venue,
        ap_ids=ap_ids,
        positioner=positioner,
        zones=zone_map(venue),
        sample_zones=[s.zone for s in venue.samples],
    )


class ModelCache:
    """One fitted model per venue per process; a new map version is picked up on the next lookup
    and swapped in whole, so a request never sees half of a rebuild."""

    def __init__(self, venues: VenueStore, recheck_s: float = 2.0) -> None:
        self.venues = venues
        self.recheck_s = recheck_s
        self._models: dict[str, tuple[float, VenueModel]] = {}
        self._lock = threading.Lock()

    def get(self, venue: str) -> VenueModel | None:
        now = time.monotonic()
        cached = self._models.get(venue)
        if cached and now - cached[0] < self.recheck_s:
            return cached[1]
        version = self.venues.current_version(venue)
        if not version:
            return None
        if cached and cached[1].version == version:
            self._models[venue] = (now, cached[1])
            return cached[1]
        with self._lock:
            venue_map = self.venues.get_map(venue, version)
            if venue_map is None or not venue_map.samples:
                return None
            model = build_venue_model(venue_map)
            self._models[venue] = (time.monotonic(), model)
            return model


    def install(self, venue: str, model: VenueModel) -> None:
        """Hand over a model built elsewhere (the operator console's background rebuild), swapped in whole."""
        with self._lock:
            self._models[venue] = (time.monotonic(), model)


class TrackKeys(VenueKeys):
    def track(self, client: str) -> str:
        return self.key("track", client)

    def last_position(self, client: str) -> str:
        """Hash: the last computed position and the newest reading it used (field `newest`)."""
        return self.key("pos", client)


# The kept position's hash fields; probe_state.py reads them by name in this order (zone third).
KEPT_FIELDS = ("newest", "at", "zone", "zconf", "floor", "x", "y", "conf")


def position_fields(position: Position, newest: bytes, now: float) -> dict[str, str | bytes]:
    return {"newest": newest, "at": repr(now), "floor": str(position.floor), "x": repr(position.x),
            "y": repr(position.y), "zone": position.zone or "", "conf": repr(position.confidence),
            "zconf": repr(position.zone_confidence)}


def position_from_fields(fields: dict[bytes, bytes]) -> Position:
    return Position(floor=int(fields[b"floor"]), x=float(fields[b"x"]), y=float(fields[b"y"]),
                    zone=fields[b"zone"].decode() or None, confidence=float(fields[b"conf"]),
                    zone_confidence=float(fields[b"zconf"]))


class Locator:
    def __init__(self, db: redis.Redis, models: ModelCache, rssi: RssiStore, smoother: TemporalSmoother,
                 footfall=None, cache_s: float = 30.0) -> None:
        self.db = db
        self.models = models
        self.rssi = rssi
        self.smoother = smoother
        self.footfall = footfall  # FootfallStore: every computed position feeds the aggregated footfall counts
        self.cache_s = cache_s  # how long a position stays reusable while no new reading arrives; 0: never

    def is_fresh(self, fields: dict[bytes, bytes], newest: bytes | None, now: float) -> bool:
        """A kept position still answers for the client: no newer reading, and not older than cache_s."""
        if not fields or newest is None or fields.get(b"newest") != newest:
            return False
        return 0 <= now - float(fields[b"at"]) < self.cache_s

    def locate(self, venue: str, client: str, now: float | None = None) -> Position | None:
        """None when the client is not heard, or the venue has no model yet."""
        now = time.time() if now is None else now
        model = self.models.get(venue)
        if model is None:
            return None
        # The client's readings, its smoothing state and its kept position in one round trip; the
        # writes (when a new position was computed) in a second.
        keys = TrackKeys(venue)
        key, last_key = keys.track(client), keys.last_position(client)
        pipe = self.db.pipeline(transaction=False)
        self.rssi.queue_window(pipe, venue, client, now)
        pipe.get(key)
        pipe.hgetall(last_key)
        raw_readings, raw_state, kept = pipe.execute()
        newest = raw_readings[-1] if raw_readings else None
        if self.is_fresh(kept, newest, now):
            return position_from_fields(kept)
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
        pipe = self.db.pipeline(transaction=False)
        pipe.set(key, json.dumps(state), ex=int(self.rssi.window_s * 5))
        if self.cache_s > 0:
            pipe.hset(last_key, mapping=position_fields(position, newest, now))
            pipe.expire(last_key, max(1, math.ceil(self.cache_s)))
        if self.footfall is not None:
            self.footfall.record(venue, client, zone, smoothed.floor, smoothed.x, smoothed.y, now, pipe=pipe)
        pipe.execute()
        return position
