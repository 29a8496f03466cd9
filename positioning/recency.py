"""Recent readings weighted by their age: a phone that walks on is placed where it is now, not where it
was half a minute ago (a flat window gives a reading from 50 s ago as much say as one from now).

The rules are stated here for one phone; positioning/readings.py carries them out for a whole batch of
phones at once (the tracker's), and these functions call it with one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from positioning.readings import Readings, settled_vectors
from positioning.vectors import MISSING_DBM


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value at which half the total weight lies on each side (robust to one reflected burst)."""
    return _median_of_sorted(sorted(zip(map(float, values), weights, strict=True)), sum(weights))


def _median_of_sorted(pairs: Sequence[tuple[float, float]], total: float) -> float:
    """Weighted median of (value, weight) pairs already sorted by value: where the running weight passes
    half of `total`."""
    half, acc = total / 2, 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= half:
            return value
    return pairs[-1][0]


def recency_vector(
    readings: Mapping[str, Sequence[Sequence[float]]],
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
    found = settled_vectors(Readings.from_mappings([readings]), ap_ids, now=now, half_life_s=half_life_s, spans_s=(),
                            min_weight=min_weight, missing=missing)
    if found.heard[0] == 0:
        raise ValueError("no known AP hears this client recently")
    return found.vectors[0], int(found.heard[0])


def settled_vector(
    readings: Mapping[str, Sequence[Sequence[float]]],
    ap_ids: Sequence[str],
    *,
    now: float,
    half_life_s: float = 6.0,
    recent_s: float = 8.0,
    spans_s: Sequence[float] = (20.0, 40.0, 60.0),
    max_change_db: float = 4.0,
    min_shared: int = 3,
    strongest: int = 4,
    missing: float = MISSING_DBM,
) -> tuple[np.ndarray, int, float]:
    """(vector, APs in it, seconds averaged): readings weighted by age (`recency_vector`) while the phone
    moves, but the plain median of a longer span once it has stood still over that span.

    A shopper dwelling in a shop is heard dozens of times a minute; every reading carries a few dB of
    fading, so the median of a minute of them is far steadier than that of the last few seconds. Whether
    the phone stood still is read from the readings themselves: the median of the last `recent_s` seconds
    against the median of the older part of a span, per AP heard in both; when they differ by at most
    `max_change_db` (root mean square, over at least `min_shared` APs) the phone is taken to have stayed
    put over the span, and the longest such span of `spans_s` is used. A phone that walked 10 m changes
    its nearest APs' readings by far more than that, so the span stops where the walk ended."""
    found = settled_vectors(Readings.from_mappings([readings]), ap_ids, now=now, half_life_s=half_life_s,
                            recent_s=recent_s, spans_s=spans_s, max_change_db=max_change_db, min_shared=min_shared,
                            strongest=strongest, missing=missing)
    if found.heard[0] == 0:
        raise ValueError("no known AP hears this client recently")
    return found.vectors[0], int(found.heard[0]), float(found.span[0])
