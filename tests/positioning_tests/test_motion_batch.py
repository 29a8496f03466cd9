"""The motion filter's batch step (`MotionFilter.update_many`, the tracker's) against one phone at a time
(`update`), bit for bit: phones without a state, with one, with one too old, estimates on every floor and on
a floor the graph does not know, evidence of every shape, cold-start seeds, floor hints, repeated soon, still
spans that cover the time since the last estimate and ones that do not."""

from __future__ import annotations

import numpy as np
import pytest

from positioning.motion import MotionFilter, ZoneGraph, off_zone
from positioning.wknn import Estimate


def graph(n_floors: int, per_floor: int) -> ZoneGraph:
    zones = [(f"z{f}-{k}", f, [(10 * k, 0), (10 * k + 9, 0), (10 * k + 9, 9), (10 * k, 9)])
             for f in range(n_floors) for k in range(per_floor)]
    connectors = [(f"z{f}-0", f"z{f + 1}-0") for f in range(n_floors - 1)]
    return ZoneGraph(zones, list(range(n_floors)), connectors)


def one_step(rng: np.random.Generator, g: ZoneGraph, n: int):
    floors = [*g.floors, 7]  # 7: a floor the graph does not know
    estimates, scores, seeds, hints = [], [], [], []
    for _ in range(n):
        floor = int(rng.choice(floors, p=[0.9 / len(g.floors)] * len(g.floors) + [0.1]))
        estimates.append(Estimate(0, floor, float(rng.uniform(0, 90)), float(rng.uniform(0, 9)),
                                  float(rng.choice([0.2, 0.7, 0.99, float(rng.random())])), (1, 2, 3)))
        zones = [s for s in g.states if not s.startswith("~")]
        chosen = rng.choice(zones, size=int(rng.integers(0, 4)), replace=False).tolist()
        evidence = {z: float(rng.choice([rng.random(), -0.1, 0.0, 0.5])) for z in chosen}
        if rng.random() < 0.5:
            evidence[None] = float(rng.random())
        scores.append(evidence)
        seeds.append({z: float(rng.random()) for z in rng.choice(g.states, size=2).tolist()}
                     if rng.random() < 0.5 else None)
        hints.append({off_zone(int(rng.choice(g.floors))): 1.0, zones[0]: 0.5} if rng.random() < 0.3 else None)
    return estimates, scores, seeds, hints


@pytest.mark.parametrize(("n_floors", "per_floor"), [(2, 4), (4, 12)])
def test_batch_step_is_one_phone_step_bit_for_bit(n_floors, per_floor):
    rng, still_rng = np.random.default_rng(n_floors), np.random.default_rng(n_floors + 100)
    motion = MotionFilter(graph(n_floors, per_floor))
    n, now = 200, 1_800_000_000.0
    states: list = [None] * n
    for step in range(6):
        now += float(rng.choice([0.3, 1.0, 5.0, 30.0, 400.0]))
        estimates, scores, seeds, hints = one_step(rng, motion.graph, n)
        if step == 3:  # the same phones again a moment later (partial evidence), some states from the future
            states = [s if s is None or i % 7 else {**s, "ts": now + 5} for i, s in enumerate(states)]
        stills = still_rng.choice([0.0, 0.0, 20.0, 60.0], size=n).tolist()  # still spans, covering dt or not
        want = [motion.update(states[i], estimates[i], scores[i], now, seed=seeds[i], floor_hint=hints[i],
                              still_s=stills[i]) for i in range(n)]
        got = motion.update_many(states, estimates, scores, now, seeds, hints, stills)
        assert got == want
        states = [s if rng.random() < 0.9 else None for s, _ in got]


def test_row_sums_add_as_numpy_adds_one_row():
    from positioning.sums import row_sums

    rng = np.random.default_rng(0)
    for n in [*range(1, 140), 255, 300, 513]:
        rows = rng.random((20, n)) * 10.0 ** rng.uniform(-6, 6, size=(20, n))
        assert row_sums(rows).tolist() == [row.sum() for row in rows]

