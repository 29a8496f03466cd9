"""A venue's fingerprint samples as the positioner's training matrices (without pulling in plotting)."""

from __future__ import annotations

import numpy as np

from fingerprints.model import VenueMap
from positioning import MISSING_DBM


def training_set(venue: VenueMap) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(AP ids, X (n, n_aps) dBm with unheard = MISSING_DBM, y (n, 4) building/floor/x/y): the same
    matrices portal.tracking.models.build_venue_model fits."""
    if not venue.samples:
        raise ValueError(f"venue {venue.id} has no fingerprint samples")
    ap_ids = venue.ap_ids()
    index = {ap: i for i, ap in enumerate(ap_ids)}
    X = np.full((len(venue.samples), len(ap_ids)), MISSING_DBM, dtype=float)
    y = np.zeros((len(venue.samples), 4), dtype=float)
    for row, sample in enumerate(venue.samples):
        for ap, rssi in sample.rssi.items():
            if ap in index:
                X[row, index[ap]] = rssi
        y[row] = (venue.building, sample.floor, sample.x, sample.y)
    return ap_ids, X, y
