"""Estimated wait, shown to shoppers as a range (like Google's waitlist `estimated_seat_time_range`).

The estimator, per table class:

1. **Samples**: the gaps, in minutes, between consecutive "seated" presses in this class today (the
   last `MAX_SAMPLES`). A table of the class came free about once per gap. Gaps longer than
   `LULL_FACTOR` x the owner's "minutes per table turn" are lulls (a quiet hour), not turns: dropped.
2. **Interval per party** (low, high):
   - with `MIN_SAMPLES` or more samples: the 25th and 75th percentiles of the samples;
   - with none: the owner's configured turn time T, as (0.75 T, 1.25 T);
   - with fewer than `MIN_SAMPLES`: a blend of the two, weighted by how many samples there are.
3. **Range** for a party with `k` parties ahead of it in its class: from ``k x low`` (everyone ahead
   is seated at the fast pace, and a table frees right then) to ``(k + 1) x high x 1.1`` (the slow
   pace, one more turn for our own table, padded 10%), rounded to whole minutes (down / up).

It is monotone in `k` (more parties ahead never shows a shorter wait) and recomputed on every page
view, so each seat / cancel / no-show moves it."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_SAMPLES = 10
MIN_SAMPLES = 3
LULL_FACTOR = 4.0
PAD = 1.1


@dataclass(frozen=True)
class WaitRange:
    low: int  # minutes
    high: int  # minutes

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


def intervals(seat_times: list[float], turn_minutes: float) -> list[float]:
    """Seat timestamps (seconds, any order) -> recent gaps in minutes, lulls dropped."""
    times = sorted(seat_times)
    gaps = [(b - a) / 60.0 for a, b in zip(times, times[1:], strict=False)]
    limit = LULL_FACTOR * max(turn_minutes, 1.0)
    return [g for g in gaps if 0 <= g <= limit][-MAX_SAMPLES:]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def per_party(samples: list[float], turn_minutes: float) -> tuple[float, float]:
    """(low, high) minutes per party ahead."""
    prior = (0.75 * turn_minutes, 1.25 * turn_minutes)
    if not samples:
        return prior
    observed = (_percentile(samples, 0.25), _percentile(samples, 0.75))
    weight = min(1.0, len(samples) / MIN_SAMPLES)
    return (weight * observed[0] + (1 - weight) * prior[0], weight * observed[1] + (1 - weight) * prior[1])


def estimate(parties_ahead: int, samples: list[float], turn_minutes: float) -> WaitRange:
    low_i, high_i = per_party(samples, turn_minutes)
    k = max(0, parties_ahead)
    low = math.floor(k * low_i)
    high = max(low + 1, math.ceil((k + 1) * high_i * PAD))
    return WaitRange(low, high)
