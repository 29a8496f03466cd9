"""The tracker's weighing of a batch of phones' readings, compiled: `settled_vectors` after its sort.

Per (phone, AP) group of readings sorted by (rssi, weight), the weighted median and the medians of the recent
span and of each older span; per phone, the still-span test over its strongest shared APs and, where a span
holds, the span's medians. In numpy (positioning/readings.py `_settle`) that is a dozen passes over the batch
(masks, medians per span, a lexsort per span) and took ~70% of the weighing's 12-17 ms a batch of 256 phones
(line-timed); here it is one pass over each phone's readings (the whole weighing ~11 -> ~6 ms a batch). The numbers
are the numpy path's bit for bit: the same comparisons, sums left to right from the first term (a running weight as
`np.cumsum` adds it, a sum of squares as Python's `sum`), medians as `statistics.median` takes them, the strongest
APs picked by recent median, ties in the order first heard, NaN last (tests/positioning_tests/test_batch_readings.py
holds the two paths and the one-phone Python rules to the same arrays). The age weights come in already computed
(numpy's exp, as the one-phone path's). So does `stale_readings`, `without_stale`'s test.

Loaded only by the tracker's batch (`compiled=True`): a web worker weighing one phone's readings never imports
numba (positioning/kernels.py)."""

from __future__ import annotations

import numpy as np

from positioning.kernels import compiled


@compiled(inline="always")
def _median_within(rssi, age, start: int, end: int, low_age: float, high_age: float, picked) -> tuple[int, float]:
    """(count, median) of the group's readings rssi[start:end] (sorted by value) whose age lies in (low_age,
    high_age]; the median as statistics.median: the middle value, or (a + b) / 2 of the two middle ones."""
    count = 0
    for r in range(start, end):
        if low_age < age[r] <= high_age:
            picked[count] = rssi[r]
            count += 1
    if count == 0:
        return 0, 0.0
    low, high = picked[(count - 1) // 2], picked[count // 2]
    return count, low if count % 2 == 1 else (low + high) / 2


@compiled(inline="always")
def _weighted_median_at(weight, start: int, end: int) -> tuple[int, float]:
    """(the reading at which the running weight reaches half the group's total, that total): the weights of
    weight[start:end] added left to right from the first, as np.cumsum adds them (the first reading when none does:
    np.argmax of all False)."""
    total = 0.0
    for r in range(start, end):
        total += weight[r]
    running, half = 0.0, total / 2
    for r in range(start, end):
        running += weight[r]
        if running >= half:
            return r, total
    return start, total


@compiled(inline="always")
def _stronger(a: float, rank_a: int, b: float, rank_b: int) -> bool:
    """Recent median a (first heard at rank_a) comes before b, as np.lexsort((rank, -median)) orders them: the
    higher median first, equal ones in the order first heard, NaN after every number (an infinite reading's)."""
    if a != a:
        return b != b and rank_a < rank_b
    return b != b or a > b or (a == b and rank_a < rank_b)


@compiled(inline="always")
def _still_over(rssi, age, bounds, groups: int, recent, has_recent, rank, span_start: float, length: float,
                strongest: int, min_shared: int, max_change_db: float, square, shared, picked) -> bool:
    """Whether the phone stood still over (span_start, length]: its `strongest` APs by recent median among those
    heard both recently and then, at least `min_shared` of them, changed by at most `max_change_db` (root mean
    square; the squares summed in that order from 0.0, as Python's `sum`)."""
    n_shared = 0
    for g in range(groups):
        shared[g] = False
        if has_recent[g]:
            count, older = _median_within(rssi, age, bounds[g], bounds[g + 1], span_start, length, picked)
            if count > 0:
                diff = recent[g] - older
                square[g], shared[g] = diff * diff, True
                n_shared += 1
    counted = min(n_shared, strongest)
    squares = 0.0
    for _ in range(counted):
        best = -1
        for g in range(groups):
            if shared[g] and (best < 0 or _stronger(recent[g], rank[g], recent[best], rank[best])):
                best = g
        squares += square[best]
        shared[best] = False
    return counted > 0 and counted >= min_shared and np.sqrt(squares / counted) <= max_change_db


@compiled()
def settle(key: np.ndarray, rssi: np.ndarray, weight: np.ndarray, age: np.ndarray, first: np.ndarray,
           n_phones: int, width: int, spans: np.ndarray, recent_s: float, max_change_db: float, min_shared: int,
           strongest: int, min_weight: float, missing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors (n_phones, width), heard, span) from readings sorted by (key, rssi, weight), key = phone * width +
    column; `age` from the phone's newest reading, `first` the position of the (phone, AP)'s first reading (ties
    among equal recent medians), `spans` ascending. `settled_vectors` says what each step does."""
    vectors = np.full((n_phones, width), missing)
    heard = np.zeros(n_phones, dtype=np.int64)
    span = np.zeros(n_phones)
    # per AP of the phone at hand: its readings' bounds, column, recent median, rank first heard, the span's square
    bounds = np.empty(width + 1, dtype=np.int64)
    columns = np.empty(width, dtype=np.int64)
    recent = np.empty(width)
    has_recent = np.empty(width, dtype=np.bool_)
    rank = np.empty(width, dtype=np.int64)
    square = np.empty(width)
    shared = np.empty(width, dtype=np.bool_)
    picked = np.empty(max(1, key.size))
    at = 0
    while at < key.size:
        phone, groups = key[at] // width, 0
        while at < key.size and key[at] // width == phone:  # the phone's APs, one group each
            bounds[groups], columns[groups], rank[groups] = at, key[at] % width, first[at]  # (a pair's first: one)
            while at < key.size and key[at] == key[bounds[groups]]:
                at += 1
            groups += 1
        bounds[groups] = at
        for g in range(groups):  # recency_vector: the weighted median of each AP heard enough
            chosen, total = _weighted_median_at(weight, bounds[g], bounds[g + 1])
            if total >= min_weight:
                vectors[phone, columns[g]] = max(rssi[chosen], missing)
                heard[phone] += 1
            count, recent[g] = _median_within(rssi, age, bounds[g], bounds[g + 1], -np.inf, recent_s, picked)
            has_recent[g] = count > 0
        still_for, span_start = 0.0, recent_s
        for length in spans:  # settled_vector: the longest span it stood still over, while each shorter one held
            if heard[phone] == 0 or not _still_over(rssi, age, bounds, groups, recent, has_recent, rank, span_start,
                                                    length, strongest, min_shared, max_change_db, square, shared,
                                                    picked):
                break
            still_for, span_start = length, length
        if still_for > 0:
            _span_medians(rssi, age, bounds, columns, groups, still_for, missing, vectors[phone], picked)
            heard[phone] = np.sum(vectors[phone] > missing)
            span[phone] = still_for
    return vectors, heard, span


@compiled(inline="always")
def _span_medians(rssi, age, bounds, columns, groups: int, length: float, missing: float, row, picked) -> None:
    """The phone's vector (`row`) as the medians of its readings of the last `length` seconds, each AP's."""
    row[:] = missing
    for g in range(groups):
        count, median = _median_within(rssi, age, bounds[g], bounds[g + 1], -np.inf, length, picked)
        if count > 0:
            row[columns[g]] = max(median, missing)


@compiled(inline="always")
def _closed(n_moments: int, aps_at: int, min_aps: int) -> int:
    """The count of moments once the last one is closed: dropped when fewer than `min_aps` APs heard the phone at it."""
    return n_moments - 1 if n_moments > 0 and aps_at < min_aps else n_moments


@compiled(inline="always")
def _next_moment(moments, n_moments: int, aps_at: int, min_aps: int, step: float) -> int:
    """Close the moment before (`_closed`: `aps_at` APs heard the phone at it) and start `step`; the new count."""
    n_moments = _closed(n_moments, aps_at, min_aps)
    moments[n_moments] = step
    return n_moments + 1


@compiled(inline="always")
def _moments_in_order(ap, steps, start: int, end: int, min_aps: int, seen, moments) -> int:
    """The phone's moments (`stale_readings`) into `moments`, ascending; their count. Its readings by time
    (steps non-decreasing, as the window query gives them): each step's APs counted once each through `seen`
    (per AP, the last step it was counted at; left at the phone's last step)."""
    n_moments, aps_at = 0, 0
    for r in range(start, end):
        step = steps[r]
        if n_moments == 0 or moments[n_moments - 1] != step:
            n_moments, aps_at = _next_moment(moments, n_moments, aps_at, min_aps, step), 0
        if seen[ap[r]] != step:
            seen[ap[r]] = step
            aps_at += 1
    return _closed(n_moments, aps_at, min_aps)


@compiled(inline="always")
def _moments_sorted(ap, steps, start: int, end: int, n_aps: int, min_aps: int, moments) -> int:
    """`_moments_in_order` for readings in any order: each (step, AP) as one number, sorted."""
    heard = np.empty(end - start)
    for r in range(start, end):
        heard[r - start] = steps[r] * n_aps + ap[r]
    heard.sort()
    n_moments, aps_at = 0, 0
    for i in range(heard.size):
        if i > 0 and heard[i] == heard[i - 1]:
            continue  # an AP twice at one moment counts once
        step = np.floor(heard[i] / n_aps)
        if n_moments == 0 or moments[n_moments - 1] != step:
            n_moments, aps_at = _next_moment(moments, n_moments, aps_at, min_aps, step), 0
        aps_at += 1
    return _closed(n_moments, aps_at, min_aps)


@compiled()
def stale_readings(phone: np.ndarray, ap: np.ndarray, steps: np.ndarray, n_aps: int, upper: np.ndarray,
                   misses: int, min_aps: int) -> np.ndarray:
    """(n,) per reading: whether its (phone, AP) is stale (`without_stale`'s rule): the phone's moments (the steps
    at which at least `min_aps` APs heard it) up to the AP's `upper` step less those up to the pair's last step
    are at least `misses`. A phone's readings are contiguous; `steps` whole numbers (as floats) from 0."""
    n = phone.size
    stale = np.zeros(n, dtype=np.bool_)
    width = max(1, n_aps)
    last = np.full(width, -np.inf)  # per AP: the phone at hand's last step with it
    seen = np.full(width, -1.0)
    judged = np.zeros(width, dtype=np.bool_)
    verdict = np.zeros(width, dtype=np.bool_)
    moments = np.empty(n)
    start = 0
    while start < n:
        end, in_order = start, True
        while end < n and phone[end] == phone[start]:
            last[ap[end]] = max(last[ap[end]], steps[end])
            in_order = in_order and (end == start or steps[end] >= steps[end - 1])
            end += 1
        if in_order:
            n_moments = _moments_in_order(ap, steps, start, end, min_aps, seen, moments)
        else:
            n_moments = _moments_sorted(ap, steps, start, end, n_aps, min_aps, moments)
        counted = moments[:n_moments]
        for r in range(start, end):
            a = ap[r]
            if not judged[a]:
                missed = np.searchsorted(counted, upper[a], side="right") \
                    - np.searchsorted(counted, last[a], side="right")
                verdict[a], judged[a] = missed >= misses, True
            stale[r] = verdict[a]
        for r in range(start, end):
            last[ap[r]], judged[ap[r]], seen[ap[r]] = -np.inf, False, -1.0
        start = end
    return stale
