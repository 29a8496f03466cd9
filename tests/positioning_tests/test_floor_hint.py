"""A phone heard for a moment by a few APs: the floors of its associated AP's coverage weigh the motion
filter's evidence, so a weak estimate on another floor does not place it there."""

from __future__ import annotations

import numpy as np

from positioning.motion import HINT_FLOOR, MotionFilter, ZoneGraph
from positioning.wknn import Estimate

ZONES = [("hall0", 0, [(0, 0), (40, 0), (40, 10), (0, 10)]), ("shop", 0, [(0, 10), (10, 10), (10, 20), (0, 20)]),
         ("hall1", 1, [(0, 0), (40, 0), (40, 10), (0, 10)])]
GRAPH = ZoneGraph(ZONES, floors=[0, 1], connectors=[("hall0", "hall1")])


def test_the_floor_hint_weighs_a_weak_estimate_on_another_floor():
    filt = MotionFilter(GRAPH)
    weak = Estimate(building=0, floor=1, x=5.0, y=5.0, confidence=0.6, neighbours=())
    _, alone = filt.update(None, weak, {"hall1": 1.0}, 0.0)
    assert alone.floor == 1
    _, hinted = filt.update(None, weak, {"hall1": 1.0}, 0.0, floor_hint={"shop": 0.7, "hall0": 0.3})
    assert hinted.floor == 0


def test_floor_weights_follow_the_hints_mass_per_floor():
    filt = MotionFilter(GRAPH)
    weights = filt.floor_weights({"shop": 0.5, "~0": 0.25, "hall1": 0.25, "unknown": 5.0})
    on_floor0 = GRAPH.floor_of == 0
    assert np.allclose(weights[on_floor0], HINT_FLOOR + (1 - HINT_FLOOR) * 0.75)
    assert np.allclose(weights[~on_floor0], HINT_FLOOR + (1 - HINT_FLOOR) * 0.25)
    assert np.allclose(filt.floor_weights({"unknown": 1.0}), 1.0)  # a hint about nothing known: no weight
