"""A phone whose readings say it stood still: the motion filter does not walk it to a neighbouring place
between two estimates (`MotionFilter.stood_still`), so the estimates of a dwell add up instead of each
one standing nearly alone, and one odd estimate does not move it next door or across the floor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fingerprints.simulator import RadioSimulator
from portal.tracking.locator import position_of
from portal.tracking.models import build_venue_model
from positioning.motion import MotionFilter, ZoneGraph
from positioning.wknn import Estimate


def row_of_shops() -> ZoneGraph:
    """Ten 9 x 9 m shops in a row on one floor, each touching the next, and the floor's corridor."""
    return ZoneGraph([(f"s{k}", 1, [(10 * k, 0), (10 * k + 9, 0), (10 * k + 9, 9), (10 * k, 9)])
                      for k in range(10)], [1])


def at(zone: int) -> Estimate:
    return Estimate(0, 1, 10 * zone + 4.5, 4.5, 0.99, (0, 1, 2))


def dwell(motion: MotionFilter, still_s: float, odd: int | None = None) -> dict:
    """Twenty estimates 2 s apart in shop s4 (the last one in shop `odd`, when given): the last posterior."""
    state = None
    for i in range(20):
        zone = odd if odd is not None and i == 19 else 4
        state, _ = motion.update(state, at(zone), {f"s{zone}": 1.0}, 2.0 * i, still_s=still_s)
    return state["p"]


def test_stood_still_needs_a_still_span_covering_the_time_since_the_last_estimate():
    assert MotionFilter.stood_still(20.0, 2.0) and MotionFilter.stood_still(60.0, 60.0)
    assert not MotionFilter.stood_still(0.0, 2.0)  # readings weighted by age: the phone may have walked
    assert not MotionFilter.stood_still(20.0, 45.0)  # still for the last 20 s, but the last estimate is older


def test_a_still_phone_keeps_its_mass_in_place_between_estimates():
    motion = MotionFilter(row_of_shops())
    prior = motion.graph.distribution({"s4": 1.0})
    walked, stayed = motion.predict(prior, 2.0), motion.predict(prior, 2.0, still=True)
    i, neighbour = motion.graph.index["s4"], motion.graph.index["s5"]
    assert walked[neighbour] > 0.05  # a phone that may walk: a share moves next door every 2 s
    assert stayed[neighbour] < 1e-3 and stayed[i] > 0.99  # only the "anything" term leaves
    assert stayed.sum() == pytest.approx(1.0)


def test_one_odd_estimate_does_not_move_a_phone_that_stood_still():
    motion = MotionFilter(row_of_shops())
    moving = dwell(motion, 0.0, odd=5)
    assert max(moving, key=moving.get) == "s5"  # a phone that may walk: next door after one estimate there
    for odd in (5, 9):  # the shop next door; one across the floor
        still = dwell(motion, 60.0, odd)
        assert max(still, key=still.get) == "s4"


def test_the_estimates_of_a_dwell_add_up():
    """Standing still, the mass outside the phone's shop shrinks estimate after estimate; a phone that may
    walk keeps a share next door, refilled at every step."""
    motion = MotionFilter(row_of_shops())
    moving, still = dwell(motion, 0.0), dwell(motion, 60.0)
    assert 1 - moving.get("s4", 0.0) > 1e-3
    assert 1 - still.get("s4", 0.0) < 1e-5


@pytest.fixture(scope="module")
def demo_model(demo_map):
    return build_venue_model(demo_map)


def test_the_locator_steps_a_phone_standing_in_a_shop_as_still(demo_map, demo_model):
    """Through the live step (`position_of`): a phone standing at a shop's centre for a minute, positioned
    every 3 s, its vector the still span's medians: its posterior ends on its shop alone (the other places
    pruned), where a phone stepped as moving keeps some mass next door after every step."""
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(3)
    shop = next(z for z in demo_map.zones if z.kind == "shop")
    x, y = np.mean(np.asarray(shop.polygon, dtype=float), axis=0)
    readings: dict[str, list] = {}
    state, position = None, None
    for i in range(21):
        now = 3.0 * i
        for ap, rssi in sim.measure(shop.floor, x, y, rng).items():
            readings.setdefault(ap, []).append((now, rssi, False))
        new_state, position = position_of(demo_model, readings, state, now)
        state = json.loads(json.dumps(new_state))  # through the store
    assert position.zone == shop.id
    assert state["p"] == {shop.id: 1.0}
