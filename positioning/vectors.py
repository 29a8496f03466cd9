"""From recent per-AP readings to one RSSI vector over the venue's AP list."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import numpy as np

MISSING_DBM = -105.0
# Plain Python on purpose: a client has ~20 APs with a few readings each, where numpy's per-call
# overhead (~25 us for np.median) cost more than the rest of building the vector.
AGGREGATES = {"median": statistics.median, "mean": statistics.fmean, "max": max, "last": lambda v: v[-1]}
# An AP counts as silent in a set of live vectors only where at least this many of them should have heard it
# (`gone_columns`: by where they were placed, else by the survey's rate): the chance of none hearing a working AP
# is then under 1% (Poisson, e^-5), and a short test file, or one whose phones never went near an AP, does not
# silence it. Chosen before measuring.
GONE_MIN_EXPECTED = 5.0
# More than this share of the map's APs silent at once is the feed failing (or wired to one wing), not APs.
SILENT_MAX_SHARE = 0.5


def weakest_listed_dbm(X: np.ndarray, missing: float = MISSING_DBM) -> float | None:
    """The weakest level a survey's fingerprints list, its hearing: their 0.1th percentile, so that a few stray
    readings do not set it (the simulated surveys list down to the APs' -95 dBm; a survey tool may cut earlier or
    list weaker); None when they list nothing."""
    heard = X[missing < X]
    return float(np.percentile(heard, 0.1)) if heard.size else None


def hears_surveyed(train_X: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per row of X: whether it hears an AP some row of `train_X` hears (a column nobody in the training rows
    hears is known by name only: a query hearing nothing else matches no fingerprint). The fitted form of
    this rule is WKNNPositioner.hears_known."""
    surveyed = (train_X > MISSING_DBM).any(axis=0)
    return (X[:, surveyed] > MISSING_DBM).any(axis=1)


def gone_columns(train_X: np.ndarray, live_X: np.ndarray, neighbours: Sequence[Sequence[int]] | None = None,
                 min_expected: float = GONE_MIN_EXPECTED, max_share: float = SILENT_MAX_SHARE,
                 missing: float = MISSING_DBM) -> np.ndarray:
    """The columns (sorted) that rows of `train_X` hear and no row of `live_X` does, though `min_expected` live
    rows would have heard each: APs gone since the survey. How many would have: with `neighbours` (per live row,
    the training rows it was placed among: `Estimate.neighbours`), the sum over live rows of the share of their
    neighbours hearing the AP, so that rows that never went near an AP do not count towards silencing it; without,
    the training rows' overall rate of hearing it times the live rows. None when more than `max_share` of the APs
    the training rows hear would go (a feed outage, or a file from one wing). The live model's rule for a feed's
    silent APs, with time in place of counts, is portal/tracking/models.py `silent_aps`; this is its form for a
    batch of vectors (`evaluate`). Not portal/tracking/locator.py `silent_columns`: the APs known not to hear one
    phone, for its partial match."""
    heard = np.asarray(train_X) > missing
    live_heard = (np.asarray(live_X) > missing).any(axis=0)
    if neighbours is None:  # whole counts: n_live x heard_rows / n_train >= min_expected, without float rounding
        enough = heard.sum(axis=0) * len(live_X) >= min_expected * len(heard)
    else:
        expected = sum((heard[list(rows)].mean(axis=0) for rows in neighbours if len(rows)),
                       np.zeros(heard.shape[1]))
        enough = expected >= min_expected - 1e-9
    silent = np.flatnonzero(enough & heard.any(axis=0) & ~live_heard)
    return silent if len(silent) <= max_share * heard.any(axis=0).sum() else silent[:0]


def _values(readings: Sequence, now: float | None, window_s: float | None) -> list[float]:
    """Readings are (ts, rssi) pairs or bare RSSI floats; pairs outside the window are dropped."""
    values = []
    for item in readings:
        if isinstance(item, tuple | list):
            ts, rssi = item
            if now is not None and window_s is not None and not now - window_s <= ts <= now + 1.0:
                continue
        else:
            rssi = item
        values.append(float(rssi))
    return values


def build_vector(
    readings: Mapping[str, Sequence],
    ap_ids: Sequence[str],
    *,
    missing: float = MISSING_DBM,
    agg: str = "median",
    now: float | None = None,
    window_s: float | None = None,
) -> np.ndarray:
    """RSSI vector (dBm) in `ap_ids` order; APs not heard get `missing`.

    The median is the default aggregate: one reflected burst should not move the shopper."""
    if agg not in AGGREGATES:
        raise ValueError(f"unknown aggregate {agg!r}; choose one of {sorted(AGGREGATES)}")
    index = {ap: i for i, ap in enumerate(ap_ids)}
    vector = np.full(len(ap_ids), missing, dtype=float)
    heard = 0
    for ap, items in readings.items():
        i = index.get(ap)
        if i is None:
            continue
        values = _values(items, now, window_s)
        if not values:
            continue
        if any(v != v for v in values):
            raise ValueError(f"RSSI for AP {ap} is NaN")
        vector[i] = max(float(AGGREGATES[agg](values)), missing)
        heard += 1
    if heard == 0:
        raise ValueError("no known AP hears this client")
    return vector
