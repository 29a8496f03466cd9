"""From a client id to a place: the venue's positioning model (cached per process, rebuilt when
the map version changes), the client's recent RSSI, temporal smoothing and the zone."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import redis

from fingerprints.geometry import zone_map
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore
from fingerprints.training import training_set
from portal.ingest.store import RssiStore
from portal.storage import VenueKeys
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


class Locator:
    def __init__(self, db: redis.Redis, models: ModelCache, rssi: RssiStore, smoother: TemporalSmoother,
                 footfall=None) -> None:
        self.db = db
        self.models = models
        self.rssi = rssi
        self.smoother = smoother
        self.footfall = footfall  # FootfallStore: every live position feeds the aggregated footfall counts

    def locate(self, venue: str, client: str, now: float | None = None) -> Position | None:
        """None when the client is not heard, or the venue has no model yet."""
        now = time.time() if now is None else now
        model = self.models.get(venue)
        if model is None:
            return None
        # The client's readings and its smoothing state in one round trip, the writes in a second.
        key = TrackKeys(venue).track(client)
        pipe = self.db.pipeline(transaction=False)
        self.rssi.queue_window(pipe, venue, client, now)
        pipe.get(key)
        raw_readings, raw_state = pipe.execute()
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
        pipe = self.db.pipeline(transaction=False)
        pipe.set(key, json.dumps(state), ex=int(self.rssi.window_s * 5))
        if self.footfall is not None:
            self.footfall.record(venue, client, zone, smoothed.floor, smoothed.x, smoothed.y, now, pipe=pipe)
        pipe.execute()
        return Position(
            floor=smoothed.floor, x=smoothed.x, y=smoothed.y, zone=zone,
            confidence=smoothed.confidence, zone_confidence=zone_conf,
        )
