"""Recent readings weighted by their age: a phone that walks on is placed where it is now, not where it
was half a minute ago (a flat window gives a reading from 50 s ago as much say as one from now)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from positioning.vectors import MISSING_DBM


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value at which half the total weight lies on each side (robust to one reflected burst)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    half = sum(weights) / 2
    acc = 0.0
    for i in order:
        acc += weights[i]
        if acc >= half:
            return float(values[i])
    return float(values[order[-1]])


def recency_vector(
    readings: Mapping[str, Sequence[tuple[float, float]]],
    ap_ids: Sequence[str],
    *,
    now: float,
    half_life_s: float = 6.0,
    min_weight: float = 0.125,
    missing: float = MISSING_DBM,
) -> tuple[np.ndarray, int]:
    """(RSSI vector in `ap_ids` order, number of APs in it) from (ts, rssi) readings per AP.

    Each reading weighs 0.5 ** (age / half_life_s), its age counted from the client's newest reading (not
    from `now`): an AP heard only well before the others is left out when its readings weigh less than
    `min_weight` in all (one reading three half lives older than the newest) - the phone has moved away from
    it - but a phone whose newest report is itself old (a once-a-minute batch feed, a loaded server that
    answers a probe late) is still placed from what it last sent; how old is too old for that is the
    caller's window (RSSI_WINDOW_S). Readings from the future (clock skew over 1 s) are ignored. Raises
    ValueError when no known AP is left."""
    if half_life_s <= 0:
        raise ValueError("half_life_s must be positive")
    index = {ap: i for i, ap in enumerate(ap_ids)}
    vector = np.full(len(ap_ids), missing, dtype=float)
    usable = {ap: [(ts, rssi) for ts, rssi in items if ts <= now + 1.0 and rssi == rssi]
              for ap, items in readings.items() if ap in index}
    newest = max((ts for items in usable.values() for ts, _ in items), default=None)
    heard = 0
    for ap, items in usable.items():
        if not items:
            continue
        values = [float(rssi) for _, rssi in items]
        weights = [0.5 ** (max(0.0, newest - ts) / half_life_s) for ts, _ in items]
        if sum(weights) < min_weight:
            continue
        vector[index[ap]] = max(weighted_median(values, weights), missing)
        heard += 1
    if heard == 0:
        raise ValueError("no known AP hears this client recently")
    return vector, heard
