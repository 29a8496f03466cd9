"""Estimated wait, shown to shoppers as a range (like Google's waitlist `estimated_seat_time_range`).

What the owner tells the estimator, per table class: the turn time T (the zone's "minutes per table turn":
minutes between two tables of the class coming free) and, optionally, how many tables N the class has
(``A:1-2x6``, rules.py). The estimator, per class:

1. **Turns**: when a table came free is when the host handed it to a party: the party's call (the host calls
   the next party when a table is free; the minutes a called party takes to walk back from the shops are its
   own, not the table's), or its seating where it was seated without a call. A gap between two such moments
   tells how fast the class's tables come free only when the party was given its table because one came
   free, i.e. when the class was full (all N tables taken) at the moment before:
   - the party must already have been waiting then (it took its number before the previous party was given
     a table, and was not given one itself). If it came later, the line was empty in between, tables may have
     stood free, and the gap measured arrivals, not tables: a new *run* of seatings starts (so does the first
     seating known);
   - in a run, up to N seatings may fill tables that were already free when the run started: all of them at
     opening, some after a quiet spell. A host calling the day's first ten parties in three minutes, or a
     group of walk-ins seated at once, shows how fast the host walks, not how fast tables turn. So the gaps up
     to the run's Nth seating are fills, not turns; from there on, each one needed a table to come free.
   The gaps that are turns are the samples (the last `MAX_SAMPLES`, of the current service: the view passes
   the previous service day's seatings only for hours past midnight, rules.service_began).
2. **Without N** a fill cannot be told from a turn, and a gap with a party waiting may still be a host who
   did not call: each sample is capped at `LULL_FACTOR` x T, and the samples may lengthen the owner's range but
   never shorten it (a burst of calls cannot make the wait look short; a restaurant faster than its owner says
   shows the owner's figure until the owner gives the table counts or a shorter T). With N the samples move the
   range either way, uncapped (the class was full and a party waited: the tables really were that slow).
3. **Range** for a party with `k` parties ahead of it in its class. Its table is the (k + 1)th to come free, so
   its wait is about the sum of the next k + 1 turns less the part of the current one already gone: at least
   k turns, at most k + 1. From the samples' mean m and standard deviation s (n samples), the sum of j future
   turns is predicted as ``j x m +- t x s x sqrt(j + j^2 / n)`` (the prediction interval of a sum of j draws
   from the turns seen: `j` for the turns' own spread, `j^2 / n` for how little n turns tell the mean pace;
   `t` the one-sided 90% Student t quantile for n - 1 degrees of freedom). The low end is the lower bound for
   j = k (0 when it is below), the high end the upper bound for j = k + 1, padded 10%; rounded to whole minutes
   (down / up). With no samples it is the owner's figure: ``k x 0.75 T`` to ``(k + 1) x 1.25 T x 1.1``; with
   fewer than `MIN_SAMPLES` the two ranges are blended by how many samples there are, so one quick or slow
   turn does not set the range by itself.

What the range promises: if the class's tables go on turning as they have (the same pace and spread as the
sampled turns, each turn independent of the others), the wait lies below the low end about 1 time in 10 and
above the high end about 1 time in 10 (less often where the pad helps). It is not a bound: it does not foresee a
change of pace (a kitchen falling behind, every table lingering), parties ahead who give up (the wait is then
shorter), or tables that all came free at once (uneven turns, such as tables freeing in pairs, widen it). The
tests check it on simulated days with known turn times (test_queue_wait_estimate.py).

It is monotone in `k` (more parties ahead never shows a shorter wait at either end) and recomputed on every
page view, so each call / seat / cancel / no-show moves it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

MAX_SAMPLES = 10
MIN_SAMPLES = 3
LULL_FACTOR = 4.0  # without a table count, a sample counts as at most this many owner's turn times
PAD = 1.1
# One-sided 90% quantiles of Student's t by degrees of freedom (1..20); beyond: the normal's.
_T90 = (3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372,
        1.363, 1.356, 1.350, 1.345, 1.341, 1.337, 1.333, 1.330, 1.328, 1.325)
_Z90 = 1.2816


@dataclass(frozen=True)
class WaitRange:
    low: int  # minutes
    high: int  # minutes

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


class Seating(NamedTuple):
    """One seating of a class, epoch seconds: when the party was seated, when it took its number (None where not
    recorded) and when it was called (None: seated without a call, or not recorded)."""

    at: float
    took: float | None
    called: float | None = None

    @property
    def handed(self) -> float:
        """When the party was given its table: its call, else its seating."""
        return self.at if self.called is None else self.called


def turns(seatings: Iterable[Sequence[float | None]], tables: int | None) -> list[float]:
    """The class's seatings, each (seated at, took its number at, called at) as `Seating` or a tuple (the call
    may be left out), any order -> the recent gaps in minutes that were table turns (step 1 above). `tables`:
    the class's number of tables, None when the owner did not give it (then every gap with a party waiting
    through it is kept: step 2 bounds what such samples can do)."""
    ordered = sorted((Seating(*seating) for seating in seatings), key=lambda seating: seating.handed)
    gaps: list[float] = []
    in_run = 1  # seatings of the current run, up to and including the one before the gap
    for before, seating in zip(ordered, ordered[1:], strict=False):
        if seating.took is None or seating.took > before.handed:  # nobody known to be waiting: a new run
            in_run = 1
            continue
        if tables is None or in_run >= tables:  # the class was full then: a table came free in the gap
            gaps.append((seating.handed - before.handed) / 60.0)
        in_run += 1
    return gaps[-MAX_SAMPLES:]


def _t90(degrees: int) -> float:
    return _T90[degrees - 1] if 1 <= degrees <= len(_T90) else _Z90


def _sum_bounds(j: int, mean: float, spread: float, n: int) -> tuple[float, float]:
    """(low, high) of the 80% prediction interval of the sum of `j` turns, from n samples (step 3)."""
    if j <= 0:
        return 0.0, 0.0
    margin = _t90(n - 1) * spread * math.sqrt(j + j * j / n)
    return max(0.0, j * mean - margin), j * mean + margin


def capped(samples: list[float], turn_minutes: float, tables: int | None) -> list[float]:
    """The samples the range is built from: without a table count each at most LULL_FACTOR x T (step 2)."""
    if tables is not None:
        return list(samples)
    limit = LULL_FACTOR * max(turn_minutes, 1.0)
    return [min(sample, limit) for sample in samples]


def estimate(parties_ahead: int, samples: list[float], turn_minutes: float, tables: int | None = None) -> WaitRange:
    """The range shown for `parties_ahead` parties ahead (steps 2 and 3 above); `samples` from turns() with the
    same `tables`, `turn_minutes` the owner's T."""
    k = max(0, parties_ahead)
    prior_low, prior_high = k * 0.75 * turn_minutes, (k + 1) * 1.25 * turn_minutes * PAD
    low, high = prior_low, prior_high
    values = capped(samples, turn_minutes, tables)
    if values:
        n = len(values)
        mean = sum(values) / n
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        observed_low = _sum_bounds(k, mean, spread, n)[0]
        observed_high = _sum_bounds(k + 1, mean, spread, n)[1] * PAD
        weight = min(1.0, n / MIN_SAMPLES)
        low = weight * observed_low + (1 - weight) * prior_low
        high = weight * observed_high + (1 - weight) * prior_high
        if tables is None:  # fills and turns look alike: the seatings may only lengthen the owner's range
            low, high = max(low, prior_low), max(high, prior_high)
    low_min = math.floor(low + 1e-9)
    return WaitRange(low_min, max(low_min + 1, math.ceil(high - 1e-9)))
