"""Many phones' readings as flat arrays, and what the locator asks of them, for a whole batch at once.

The tracker positions phones in batches of hundreds, each heard ~200 times in the last minute; one
Python loop per reading (parse, age weight, medians per AP and span) cost it twice what the positioner
itself does. Here every step runs over the batch's readings at once with numpy (the tracker's batch takes the
steps after the sort, and the stale readings' test, as compiled passes phone by phone: positioning/readings_kernel.py,
the same arrays), and gives exactly what the one-phone rules in positioning/recency.py (which call this with one
phone) and positioning/coldstart.py define, bit for bit: the same comparisons, the same order of additions (sums
run left to right, as Python's `sum` and the running weight do), `math.exp` for the age weights, ties broken in
the order the readings came (a phone's APs in the order each was first heard).

A reading is (phone, AP, ts, rssi, associated); `phone` numbers the batch's phones 0..n-1 and a phone's
readings are contiguous, in the order they came (the window query's order: by time)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from positioning.vectors import MISSING_DBM


@dataclass(frozen=True)
class Readings:
    phone: np.ndarray  # (n,) int: the phone each reading is of, ascending
    ap: np.ndarray  # (n,) int: index into `aps`
    aps: list[str]  # AP names (BSSIDs)
    ts: np.ndarray  # (n,) float: epoch seconds
    rssi: np.ndarray  # (n,) float: dBm
    associated: np.ndarray  # (n,) bool: the reading says the phone is associated with the AP
    n_phones: int

    @classmethod
    def from_mappings(cls, phones: Sequence[Mapping[str, Sequence[Sequence]]]) -> Readings:
        """From per-phone {AP: [(ts, rssi[, associated]), ...]} (the one-phone API's shape)."""
        names: dict[str, int] = {}
        phone, ap, ts, rssi, assoc = [], [], [], [], []
        for i, readings in enumerate(phones):
            for name, items in readings.items():
                code = names.setdefault(name, len(names))
                for item in items:
                    phone.append(i)
                    ap.append(code)
                    ts.append(float(item[0]))
                    rssi.append(float(item[1]))
                    assoc.append(bool(item[2]) if len(item) > 2 else False)
        return cls(np.asarray(phone, dtype=np.int64), np.asarray(ap, dtype=np.int64), list(names),
                   np.asarray(ts, dtype=np.float64), np.asarray(rssi, dtype=np.float64),
                   np.asarray(assoc, dtype=bool), len(phones))

    def columns(self, ap_ids: Sequence[str]) -> np.ndarray:
        """(n,) each reading's column in `ap_ids`, -1 for an AP the model does not know."""
        index = {a: i for i, a in enumerate(ap_ids)}
        return np.asarray([index.get(a, -1) for a in self.aps], dtype=np.int64)[self.ap]

    def first_heard(self) -> np.ndarray:
        """(n,) per reading: the position of its (phone, AP)'s first reading, i.e. the order in which a
        phone's APs were first heard (the iteration order of the one-phone dicts)."""
        n = len(self.phone)
        key = self.phone * max(1, len(self.aps)) + self.ap
        first = np.full(self.n_phones * max(1, len(self.aps)), n, dtype=np.int64)
        np.minimum.at(first, key, np.arange(n))  # each pair's first position (a quarter of a stable sort's time)
        return first[key]

    def oldest(self, default: float) -> np.ndarray:
        """(n_phones,) each phone's oldest reading's time (`default` for a phone with none)."""
        out = _per_phone(np.minimum, self.phone, self.ts, self.n_phones, np.inf)
        return np.where(np.isinf(out), default, out)

    def latest_associated(self) -> list[str | None]:
        """Per phone, positioning.coldstart.strongest_associated: the AP of its newest association-flagged
        reading, the stronger on a tie (then the first in the phone's order); None when no reading says."""
        out: list[str | None] = [None] * self.n_phones
        flagged = np.flatnonzero(self.associated)
        if flagged.size == 0:
            return out
        first = self.first_heard()[flagged]
        best: dict[int, tuple[float, float]] = {}
        for r in flagged[np.lexsort((flagged, first))].tolist():  # the one-phone loop's order
            p, mark = int(self.phone[r]), (float(self.ts[r]), float(self.rssi[r]))
            if p not in best or mark > best[p]:
                best[p], out[p] = mark, self.aps[int(self.ap[r])]
        return out


def without_stale(readings: Readings, reach: Mapping[str, float], misses: int = 3, moment_s: float = 1.0,
                  min_aps: int = 2, compiled: bool = False) -> Readings:
    """The readings less those of each (phone, AP) whose AP no longer hears the phone: the AP's last report
    reached (`reach`: AP -> its newest reading) past at least `misses` moments at which other APs heard the
    phone after this AP last did. An AP's report holds every phone it heard over its period, so it missed
    the phone's frames then: the phone has walked out of its range, and its older readings (a still span's
    median takes up to a minute of them) describe where the phone was, not where it is. One missed moment
    can be fading at the edge of range (or a phone that was not transmitting); `misses` of them are not.
    A moment is a whole `moment_s` (times are counted in those steps): APs time one frame, or one channel
    sweep of probe requests, tenths of a second apart (each on its own channel; a relay stamps arrival), and
    those are one moment, not several. And a moment is one at which at least `min_aps` APs heard the phone:
    a frame only the phone's own AP hears (data on its channel, which the other APs do not listen to) says
    nothing of what those others should have heard. `compiled`: judged phone by phone in a compiled loop
    (positioning/readings_kernel.py, the same readings left: the tracker's batch); else in numpy."""
    n = readings.phone.size
    if n == 0 or not reach:
        return readings
    n_aps = max(1, len(readings.aps))
    t0 = float(np.floor(readings.ts.min() / moment_s))
    steps = np.floor(readings.ts / moment_s) - t0  # each reading's moment, from 0
    scale = float(steps.max()) + 2.0  # a phone's steps lie in [0, scale - 2]
    ap_reach = np.asarray([reach.get(name, -np.inf) for name in readings.aps], dtype=np.float64)
    ap_reach[np.isnan(ap_reach)] = -np.inf  # a reach that is not a number: as none
    upper = np.clip(np.floor(ap_reach / moment_s) - t0, -1.0, scale - 1.0)  # each AP's reach, as a step
    if compiled:
        from positioning import readings_kernel  # lazy: numba, the tracker's batch path only

        _check_phone_order(readings.phone)
        keep = ~readings_kernel.stale_readings(readings.phone, readings.ap, steps, n_aps, upper, misses, min_aps)
    else:
        keep = _not_stale(readings, steps, scale, upper, misses, min_aps)
    if keep.all():
        return readings
    return Readings(readings.phone[keep], readings.ap[keep], readings.aps, readings.ts[keep], readings.rssi[keep],
                    readings.associated[keep], readings.n_phones)


def _not_stale(readings: Readings, steps: np.ndarray, scale: float, upper: np.ndarray, misses: int, min_aps: int
               ) -> np.ndarray:
    """`without_stale`'s readings to keep, in numpy, for the whole batch at once."""
    n_aps = max(1, len(readings.aps))
    group = readings.phone * n_aps + readings.ap
    by_group = np.argsort(group, kind="stable")
    sorted_groups = group[by_group]
    starts = _groups(sorted_groups)[0]
    groups = sorted_groups[starts]  # the (phone, AP) pairs heard, ascending
    last = np.full(readings.n_phones * n_aps, -np.inf)
    last[groups] = np.maximum.reduceat(steps[by_group], starts)  # each pair's last moment
    # Each phone's distinct moments on one axis (phone * scale + step), so one searchsorted counts the
    # moments of that phone in (its AP's last moment, the AP's reach] for every (phone, AP) at once.
    moments = _moments(readings.phone * scale + steps, readings.ap, n_aps, min_aps)
    phone_of, ap_of = groups // n_aps, groups % n_aps
    missed = np.searchsorted(moments, phone_of * scale + upper[ap_of], side="right") \
        - np.searchsorted(moments, phone_of * scale + last[groups], side="right")
    stale = np.zeros(readings.n_phones * n_aps, dtype=bool)
    stale[groups[missed >= misses]] = True
    return ~stale[group]


def _moments(keys: np.ndarray, ap: np.ndarray, n_aps: int, min_aps: int) -> np.ndarray:
    """The distinct `keys` (a phone's moment, as phone * scale + step) at which at least `min_aps` APs heard."""
    if min_aps <= 1:
        return np.unique(keys)
    heard = np.unique(keys * n_aps + ap)  # each (moment, AP) once; exact: keys and APs are small integers
    moments, counts = np.unique(np.floor(heard / n_aps), return_counts=True)
    return moments[counts >= min_aps]


@dataclass(frozen=True)
class Vectors:
    """Per phone: its RSSI vector over the model's APs, how many APs it hears (0: none known recently,
    where the one-phone rule raises ValueError), and the still span its medians cover (0: age-weighted)."""
    vectors: np.ndarray  # (n_phones, n_aps)
    heard: np.ndarray  # (n_phones,) int
    span: np.ndarray  # (n_phones,) float


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values in sorted `keys`."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.diff(np.r_[starts, keys.size])


def _check_phone_order(phone: np.ndarray) -> None:
    """ValueError unless a batch's readings are in phone order (each phone's contiguous, ascending)."""
    if phone.size and not (phone[1:] >= phone[:-1]).all():
        raise ValueError("a batch's readings must be in phone order")


def _per_phone(reduce: np.ufunc, phone: np.ndarray, values: np.ndarray, n_phones: int, fill: float) -> np.ndarray:
    """(n_phones,) `reduce` (np.minimum, np.maximum) of each phone's values, `fill` for a phone with none, over
    each phone's contiguous run (readings are in phone order; a batch that is not is refused)."""
    _check_phone_order(phone)
    out = np.full(n_phones, fill)
    starts = _groups(phone)[0]
    if starts.size:
        out[phone[starts]] = reduce.reduceat(values, starts)
    return out


def _sort_by(key: np.ndarray, second: np.ndarray, third: np.ndarray) -> np.ndarray:
    """np.lexsort((third, second, key)): by key, then second, then third, ties in the order given. The floats
    are replaced by their ranks and the three packed into one integer, which sorts three to four times
    faster than lexsort's float passes (the tracker's batch: 11.5 -> 3.3 ms per 256 phones)."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    second_values, second_rank = np.unique(second, return_inverse=True)
    third_values, third_rank = np.unique(third, return_inverse=True)
    if (int(key.max()) + 1) * len(second_values) * len(third_values) >= 2**62 or int(key.min()) < 0 \
            or np.isnan(second_values).any() or np.isnan(third_values).any():
        return np.lexsort((third, second, key))  # would not fit in 63 bits, or NaN (np.unique keeps each)
    packed = (key * len(second_values) + second_rank) * len(third_values) + third_rank
    return np.argsort(packed, kind="stable")


def _sort_readings(key: np.ndarray, rssi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`_sort_by(key, rssi, weight)`, one sort of floats less where it can be: a phone's readings come by time and
    a reading's weight grows with its time, so a stable sort by (key, rssi) alone mostly leaves each run of equal
    (key, rssi) in non-decreasing weight already; that is then the very order `_sort_by` gives (within a run, by
    weight and then as given is as given). It is checked, and any other batch sorted by all three."""
    if key.size == 0 or int(key.min()) < 0 or np.isnan(rssi).any() or np.isnan(weight).any():
        return _sort_by(key, rssi, weight)
    low, high = float(rssi.min()), float(rssi.max())
    if high - low < 2**16 and (rssi == np.floor(rssi)).all():  # whole dB, as feeds give them: ranked by offset
        width, rank = int(high - low) + 1, (rssi - low).astype(np.int64)  # (a sort of the floats less: np.unique's)
    else:
        values, rank = np.unique(rssi, return_inverse=True)
        width = len(values)
    if (int(key.max()) + 1) * width >= 2**62:
        return _sort_by(key, rssi, weight)
    packed = key * width + rank
    order = np.argsort(packed, kind="stable")
    run, ordered = packed[order], weight[order]
    if ((run[1:] == run[:-1]) & (ordered[1:] < ordered[:-1])).any():  # a run not in weight order
        return _sort_by(key, rssi, weight)
    return order


def _medians(group: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group keys, statistics.median of each group's values) for values sorted by (group, value): the
    middle value, or the mean of the two middle ones, (a + b) / 2, as statistics.median computes it."""
    starts, sizes = _groups(group)
    low, high = values[starts + (sizes - 1) // 2], values[starts + sizes // 2]
    return group[starts], np.where(sizes % 2 == 1, low, (low + high) / 2)


def settled_vectors(readings: Readings, ap_ids: Sequence[str], *, now: float, half_life_s: float = 6.0,
                    recent_s: float = 8.0, spans_s: Sequence[float] = (20.0, 40.0, 60.0), max_change_db: float = 4.0,
                    min_shared: int = 3, strongest: int = 4, min_weight: float = 0.125,
                    missing: float = MISSING_DBM, compiled: bool = False) -> Vectors:
    """positioning.recency.settled_vector for every phone of the batch (its docstring says what it does).
    `compiled`: the steps after the sort in one compiled pass (positioning/readings_kernel.py, the same arrays:
    the tracker's batch); else in numpy (`_settle`), which a web worker weighing one phone uses without numba."""
    if half_life_s <= 0:
        raise ValueError("half_life_s must be positive")
    if strongest < 0:
        raise ValueError("strongest must be 0 or more")
    n_phones, n_aps = readings.n_phones, len(ap_ids)
    column = readings.columns(ap_ids)
    # usable: a known AP, not from the future (clock skew over 1 s), not NaN
    use = np.flatnonzero((column >= 0) & (readings.ts <= now + 1.0) & (readings.rssi == readings.rssi))
    phone, ts = readings.phone[use], readings.ts[use]
    newest = _per_phone(np.maximum, phone, ts, n_phones, -np.inf)
    # recency_vector: per (phone, AP), the weighted median of (rssi, weight) sorted, weight 0.5 ** (age / half
    # life). np.exp: the same doubles as math.exp here (tests/positioning_tests/test_batch_readings.py).
    weight = np.exp((ts - newest[phone]) * (math.log(2) / half_life_s))
    weight[ts >= newest[phone]] = 1.0
    key = phone * max(1, n_aps) + column[use]  # one (phone, AP) group
    order = _sort_readings(key, readings.rssi[use], weight)
    # From here on every array is in (phone, AP, rssi, weight) order, so any subset of it is sorted by
    # (group, rssi) too: the medians below need no sort of their own.
    age = (newest[phone] - ts)[order]
    key, rssi, weight, phone = key[order], readings.rssi[use][order], weight[order], phone[order]
    first = readings.first_heard()[use][order]
    if compiled and key.size:  # (a known AP heard: n_aps >= 1)
        from positioning import readings_kernel  # lazy: numba, the tracker's batch path only

        return Vectors(*readings_kernel.settle(key, rssi, weight, age, first, n_phones, n_aps,
                                               np.asarray(sorted(spans_s), dtype=np.float64), recent_s,
                                               max_change_db, min_shared, strongest, min_weight, missing))
    return _settle(key, rssi, weight, age, first, phone, n_phones, n_aps, recent_s=recent_s, spans_s=spans_s,
                   max_change_db=max_change_db, min_shared=min_shared, strongest=strongest, min_weight=min_weight,
                   missing=missing)


def _settle(key: np.ndarray, rssi: np.ndarray, weight: np.ndarray, age: np.ndarray, first: np.ndarray,
            phone: np.ndarray, n_phones: int, n_aps: int, *, recent_s: float, spans_s: Sequence[float],
            max_change_db: float, min_shared: int, strongest: int, min_weight: float, missing: float) -> Vectors:
    """`settled_vectors` after its sort, in numpy: the readings in (phone, AP, rssi, weight) order."""
    starts, sizes = _groups(key)
    if starts.size == 0:  # no phone hears a known AP
        return Vectors(np.full((n_phones, n_aps), missing), np.zeros(n_phones, dtype=np.int64), np.zeros(n_phones))
    padded = np.zeros((starts.size, int(sizes.max())))
    padded[np.repeat(np.arange(starts.size), sizes), np.arange(key.size) - np.repeat(starts, sizes)] = weight
    running = np.cumsum(padded, axis=1)  # left to right along each row: the one-phone loop's running weight
    total = running[np.arange(starts.size), sizes - 1]
    at = np.argmax(running >= (total / 2)[:, None], axis=1)
    kept = total >= min_weight
    group_phone, group_col = phone[starts], key[starts] % max(1, n_aps)
    vectors = np.full((n_phones, n_aps), missing)
    vectors[group_phone[kept], group_col[kept]] = np.maximum(rssi[starts + at][kept], missing)
    heard = np.bincount(group_phone[kept], minlength=n_phones)
    span = np.zeros(n_phones)

    # settled_vector: the longest still span whose older readings' medians stay within max_change_db
    recent_keys, recent_median = _medians(key[age <= recent_s], rssi[age <= recent_s])
    rank = np.full(key.max() + 1 if key.size else 0, np.iinfo(np.int64).max)
    np.minimum.at(rank, key, first)
    alive, chosen, start = heard > 0, np.zeros(n_phones), recent_s
    for length in sorted(spans_s):
        older = (start < age) & (age <= length)
        start = length
        older_keys, older_median = _medians(key[older], rssi[older])
        both = np.isin(recent_keys, older_keys)
        shared_keys = recent_keys[both]
        shared_phone = shared_keys // max(1, n_aps)
        diff = recent_median[both] - older_median[np.searchsorted(older_keys, shared_keys)]
        square = diff * diff
        # per phone: its `strongest` APs by recent median, ties in the order first heard
        order = np.lexsort((rank[shared_keys], -recent_median[both], shared_phone))
        shared_phone, square = shared_phone[order], square[order]
        starts, sizes = _groups(shared_phone)
        counts = np.zeros(n_phones, dtype=np.int64)
        counts[shared_phone[starts]] = np.minimum(sizes, strongest)
        squares = np.zeros(n_phones)
        for j in range(strongest):  # the sum of squares left to right, as Python's sum
            has = sizes > j
            squares[shared_phone[starts[has]]] += square[starts[has] + j]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.sqrt(squares / counts)
        alive &= (counts >= min_shared) & (change <= max_change_db)
        chosen[alive] = length
    for length in sorted(set(chosen[chosen > 0].tolist())):
        phones = chosen == length
        inside = phones[phone] & (age <= length)
        keys, medians = _medians(key[inside], rssi[inside])
        vectors[phones] = missing
        vectors[keys // max(1, n_aps), keys % max(1, n_aps)] = np.maximum(medians, missing)
        heard[phones] = (vectors[phones] > missing).sum(axis=1)
        span[phones] = length
    return Vectors(vectors, heard, span)
