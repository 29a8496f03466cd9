"""Estimated wait, shown to shoppers as a range (like Google's waitlist `estimated_seat_time_range`).

What the owner tells the estimator, per table class: the turn time T (the zone's "minutes per table turn":
minutes between two tables of the class coming free) and, optionally, how many tables N the class has
(``A:1-2x6``, rules.py). The estimator, per class:

1. **Turns**: a "seated" press tells how fast the class's tables come free only when the party was seated
   because a table came free, i.e. when the class was full (all N tables taken) at the press before it:
   - the party seated must already have been waiting at the press before. If it came later, the line was
     empty in between, tables may have stood free, and the gap measured arrivals, not tables: a new *run*
     of seatings starts (so does the first seating known);
   - in a run, up to N seatings may fill tables that were already free when the run started: all of them at
     opening, some after a quiet spell. A host seating the day's first ten parties in three minutes, or a
     group of walk-ins at once, shows how fast the host walks, not how fast tables turn. So the gaps up to
     the run's Nth seating are fills, not turns; from there on, each seating needed a table to come free.
   The gaps that are turns are the samples (the last `MAX_SAMPLES`; the previous service day's seatings
   count too, so a restaurant open past midnight keeps its pace). Long gaps are kept: a party was waiting
   all along, so the tables really were that slow.
2. **Interval per party** (low, high):
   - with no samples: the owner's T, as (0.75 T, 1.25 T);
   - with `MIN_SAMPLES` or more: the 25th and 75th percentiles of the samples;
   - with fewer: a blend of the two, weighted by how many samples there are.
   Without N a fill cannot be told from a turn, so the samples may lengthen the owner's figure but never
   shorten it: a burst of seatings cannot make the wait look short, a slow restaurant still shows as slow,
   and one faster than its owner says shows the owner's figure until the owner gives the table counts (or a
   shorter T). With N the samples move it either way.
3. **Range** for a party with `k` parties ahead of it in its class: from ``k x low`` (everyone ahead is
   seated at the fast pace, and a table frees right then) to ``(k + 1) x high x 1.1`` (the slow pace, one
   more turn for our own table, padded 10%), rounded to whole minutes (down / up).

It is monotone in `k` (more parties ahead never shows a shorter wait) and recomputed on every page
view, so each seat / cancel / no-show moves it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SAMPLES = 10
MIN_SAMPLES = 3
PAD = 1.1


@dataclass(frozen=True)
class WaitRange:
    low: int  # minutes
    high: int  # minutes

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


def turns(seatings: Iterable[tuple[float, float | None]], tables: int | None) -> list[float]:
    """The class's seatings, each (seated at, when that party took its number or None where not recorded), in
    epoch seconds and any order -> the recent gaps in minutes that were table turns (step 1 above). `tables`:
    the class's number of tables, None when the owner did not give it (then every gap with a party waiting
    through it is kept: step 2 only lets such samples lengthen the estimate)."""
    ordered = sorted(seatings, key=lambda seating: seating[0])
    gaps: list[float] = []
    in_run = 1  # seatings of the current run, up to and including the one before the gap
    for (before, _took_before), (at, took) in zip(ordered, ordered[1:], strict=False):
        if took is None or took > before:  # nobody known to be waiting through the gap: a new run starts
            in_run = 1
            continue
        if tables is None or in_run >= tables:  # the class was full at `before`: a table came free in the gap
            gaps.append((at - before) / 60.0)
        in_run += 1
    return gaps[-MAX_SAMPLES:]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def per_party(samples: list[float], turn_minutes: float, tables: int | None = None) -> tuple[float, float]:
    """(low, high) minutes per party ahead (step 2 above)."""
    prior = (0.75 * turn_minutes, 1.25 * turn_minutes)
    if not samples:
        return prior
    observed = (_percentile(samples, 0.25), _percentile(samples, 0.75))
    weight = min(1.0, len(samples) / MIN_SAMPLES)
    low = weight * observed[0] + (1 - weight) * prior[0]
    high = weight * observed[1] + (1 - weight) * prior[1]
    if tables is None:  # fills and turns look alike: the seatings may only lengthen the owner's figure
        low, high = max(low, prior[0]), max(high, prior[1])
    return low, high


def estimate(parties_ahead: int, samples: list[float], turn_minutes: float, tables: int | None = None) -> WaitRange:
    """The range shown for `parties_ahead` parties ahead; `samples` from turns() with the same `tables`.

    Why the range is truthful (it is a promise to a shopper deciding whether to wait): no fill can shorten
    either end (with the table count fills are left out; without it the samples may only lengthen the owner's
    figure), so a burst of seatings never shows a wait the tables cannot deliver. The low end needs every party
    ahead to be seated at the pace of the faster quarter of turns and a table to free the moment ours is next: a
    shorter wait would need the tables to turn faster than they have, so it is not promised. The high end is the
    slower quarter's pace, one more turn for our own table, and 10% more. While there are few turns the owner's
    figure keeps its weight, so a single quick (or slow) turn does not set the range by itself."""
    low_i, high_i = per_party(samples, turn_minutes, tables)
    k = max(0, parties_ahead)
    low = math.floor(k * low_i)
    high = max(low + 1, math.ceil((k + 1) * high_i * PAD))
    return WaitRange(low, high)
