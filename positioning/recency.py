"""Recent readings weighted by their age: a phone that walks on is placed where it is now, not where it
was half a minute ago (a flat window gives a reading from 50 s ago as much say as one from now)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import median

import numpy as np

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


def _usable(readings: Mapping[str, Sequence[Sequence[float]]], known, now: float) -> dict:
    """(ts, rssi) of the known APs' readings, without those from the future (clock skew over 1 s) or NaN.
    item[0], item[1]: (ts, rssi, ...) - extra fields (e.g. an association flag) are ignored."""
    latest = now + 1.0
    return {ap: [(item[0], item[1]) for item in items if item[0] <= latest and item[1] == item[1]]
            for ap, items in readings.items() if ap in known}


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
    if half_life_s <= 0:
        raise ValueError("half_life_s must be positive")
    index = {ap: i for i, ap in enumerate(ap_ids)}
    vector = np.full(len(ap_ids), missing, dtype=float)
    usable = _usable(readings, index, now)
    newest = max((ts for items in usable.values() for ts, _ in items), default=None)
    decay = math.log(2) / half_life_s
    heard = 0
    for ap, items in usable.items():
        if not items:
            continue
        # (value, weight) sorted by value: the weighted median is where the running weight passes half
        pairs = sorted((float(rssi), math.exp((ts - newest) * decay) if ts < newest else 1.0) for ts, rssi in items)
        total = sum(w for _, w in pairs)
        if total < min_weight:
            continue
        vector[index[ap]] = max(_median_of_sorted(pairs, total), missing)
        heard += 1
    if heard == 0:
        raise ValueError("no known AP hears this client recently")
    return vector, heard


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
    vector, heard = recency_vector(readings, ap_ids, now=now, half_life_s=half_life_s, missing=missing)
    usable = _usable(readings, set(ap_ids), now)
    newest = max((ts for items in usable.values() for ts, _ in items), default=now)
    recent = {ap: [r for ts, r in items if newest - ts <= recent_s] for ap, items in usable.items()}
    # statistics.median, not np.median: these are lists of a few readings, ~100 per phone per position,
    # and numpy's per-call overhead made this the tracker's costliest step
    recent_median = {ap: median(values) for ap, values in recent.items() if values}
    chosen, span_used = None, 0.0
    start = recent_s
    for span in sorted(spans_s):
        older = {ap: [r for ts, r in items if start < newest - ts <= span] for ap, items in usable.items()}
        start = span
        shared = sorted((ap for ap in recent_median if older[ap]), key=lambda ap: -recent_median[ap])[:strongest]
        if len(shared) < min_shared:
            break
        change = math.sqrt(sum((recent_median[ap] - median(older[ap])) ** 2 for ap in shared) / len(shared))
        if change > max_change_db:
            break
        chosen, span_used = span, span
    if chosen is None:
        return vector, heard, 0.0
    index = {ap: i for i, ap in enumerate(ap_ids)}
    settled = np.full(len(ap_ids), missing, dtype=float)
    for ap, items in usable.items():
        values = [r for ts, r in items if newest - ts <= chosen]
        if values:
            settled[index[ap]] = max(float(median(values)), missing)
    return settled, int((settled > missing).sum()), span_used
