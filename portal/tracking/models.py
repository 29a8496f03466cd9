"""The venue's positioning model per process: fitted on the map's survey, rebuilt when the map version
changes, swapped in whole."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fingerprints.geometry import zone_map
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore
from fingerprints.training import training_set
from positioning import WKNNPositioner, ZoneMap


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
