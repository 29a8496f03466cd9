"""The pure parts of landing on the right zone: readings weighted by age, the motion model over zones
(floor changes need evidence and a stairway), cold start from the associated AP's coverage, and zone
groups decided from the posterior mass."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning.coldstart import ApCoverage, strongest_associated
from positioning.groups import derive_groups, place
from positioning.motion import MotionFilter, ZoneGraph, off_zone
from positioning.recency import recency_vector, settled_vector, weighted_median
from positioning.vectors import MISSING_DBM
from positioning.wknn import Estimate


def rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


# Floor 0: a hall along the bottom, two shops above it; floor 1: one hall. Stairs join the halls only.
ZONES = [("hall0", 0, rect(0, 0, 40, 10)), ("shop", 0, rect(0, 10, 10, 20)), ("shop2", 0, rect(10, 10, 20, 20)),
         ("hall1", 1, rect(0, 0, 40, 10))]
GRAPH = ZoneGraph(ZONES, floors=[0, 1], connectors=[("hall0", "hall1")])


def est(floor=0, x=5.0, y=15.0, confidence=0.8):
    return Estimate(building=0, floor=floor, x=x, y=y, confidence=confidence, neighbours=())


def run(filt, steps, state=None, t0=0.0, dt=5.0):
    motion = None
    for i, (estimate, scores) in enumerate(steps):
        state, motion = filt.update(state, estimate, scores, t0 + i * dt)
        state = json.loads(json.dumps(state))  # the state goes through the store as JSON
    return state, motion


def best(motion):
    return max(motion.posterior, key=motion.posterior.get)


# -- readings weighted by age ------------------------------------------------------------------------

def test_newer_readings_outweigh_older_ones():
    readings = {"a": [(0.0, -80.0), (1.0, -80.0), (2.0, -80.0), (58.0, -50.0), (59.0, -50.0)]}
    vector, heard = recency_vector(readings, ["a", "b"], now=60.0, half_life_s=10.0)
    assert heard == 1 and vector[0] == -50.0 and vector[1] == MISSING_DBM


def test_an_ap_heard_only_long_before_the_others_is_left_out():
    readings = {"a": [(0.0, -60.0)], "b": [(55.0, -70.0)]}
    vector, heard = recency_vector(readings, ["a", "b"], now=60.0, half_life_s=10.0)
    assert heard == 1 and vector[0] == MISSING_DBM and vector[1] == -70.0


def test_a_phone_whose_newest_report_is_old_is_still_placed_from_it():
    """Ages count from the phone's newest reading: a late probe (a loaded server) or a once-a-minute batch
    feed still finds what the phone last sent; the store's window decides what is too old."""
    readings = {"a": [(0.0, -60.0)], "b": [(1.0, -70.0)]}
    vector, heard = recency_vector(readings, ["a", "b"], now=50.0)
    assert heard == 2 and list(vector) == [-60.0, -70.0]
    with pytest.raises(ValueError):
        recency_vector({"a": [(70.0, -60.0)]}, ["a"], now=50.0)  # only from the future
    with pytest.raises(ValueError):
        recency_vector({"z": [(49.0, -60.0)]}, ["a"], now=50.0)  # no known AP


# No machine-speed checks: the VM is shared (tests never depend on how fast it is).
RELAXED = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(st.lists(st.tuples(st.floats(-100, -20), st.floats(0.01, 10)), min_size=1, max_size=20))
def test_weighted_median_is_one_of_the_values(pairs):
    values, weights = zip(*pairs, strict=True)
    m = weighted_median(values, weights)
    assert m in values and min(values) <= m <= max(values)


# -- the motion model --------------------------------------------------------------------------------

def test_walking_from_the_hall_into_a_shop_moves_the_phone_within_two_reports():
    filt = MotionFilter(GRAPH)
    state, motion = run(filt, [(est(x=5, y=5), {"hall0": 1.0})] * 4)
    assert best(motion) == "hall0"
    state, motion = run(filt, [(est(x=5, y=15), {"shop": 0.8, "hall0": 0.2})] * 2, state, t0=20.0)
    assert best(motion) == "shop"


def test_a_floor_change_needs_evidence_and_a_stairway():
    filt = MotionFilter(GRAPH)
    upstairs = (est(floor=1, x=5, y=5), {"hall1": 1.0})
    in_shop, _ = run(filt, [(est(x=5, y=15), {"shop": 1.0})] * 4)
    _, one = run(filt, [upstairs], in_shop, t0=20.0)
    _, two = run(filt, [upstairs] * 2, in_shop, t0=20.0)
    assert one.floor == 0 and two.floor == 0  # no stairs from the shop: two odd estimates do not move it
    in_hall, _ = run(filt, [(est(x=35, y=5), {"hall0": 1.0})] * 4)
    _, near_stairs = run(filt, [upstairs] * 2, in_hall, t0=20.0)
    assert near_stairs.floor == 1 and best(near_stairs) == "hall1"
    _, long_run = run(filt, [upstairs] * 6, in_shop, t0=20.0)
    assert long_run.floor == 1  # steady evidence wins in the end (the filter recovers from a wrong start)


def test_a_cold_start_seed_tilts_the_first_update():
    filt = MotionFilter(GRAPH)
    ambiguous = {"shop": 0.5, "shop2": 0.5}
    _, plain = filt.update(None, est(x=10, y=15), ambiguous, 0.0)
    _, seeded = filt.update(None, est(x=10, y=15), ambiguous, 0.0, seed={"shop2": 1.0})
    assert seeded.posterior["shop2"] > plain.posterior["shop2"] > 0


@RELAXED
@given(floor=st.integers(0, 2), x=st.floats(0, 40), confidence=st.floats(0, 1),
       scores=st.dictionaries(st.sampled_from(["hall0", "shop", "shop2", "hall1", None, "nowhere"]),
                              st.floats(0, 1), max_size=4), dt=st.floats(0, 1000))
def test_the_posterior_is_a_distribution_over_known_states(floor, x, confidence, scores, dt):
    filt = MotionFilter(GRAPH)
    state, _ = filt.update(None, est(x=5, y=5), {"hall0": 1.0}, 0.0)
    state, motion = filt.update(state, est(floor=floor, x=x, confidence=confidence), scores, dt)
    assert sum(motion.posterior.values()) == pytest.approx(1.0, abs=1e-3)
    assert set(motion.posterior) <= set(GRAPH.states) and motion.floor in (0, 1)
    assert json.loads(json.dumps(state)) == state


def test_graph_joins_touching_zones_corridors_and_stairs():
    walk = GRAPH.walk
    i = GRAPH.index
    assert walk[i["shop"], i["shop2"]] > 0 and walk[i["shop"], i[off_zone(0)]] > 0
    assert walk[i["hall0"], i["hall1"]] > 0 and walk[i["shop"], i["hall1"]] == 0


# -- zone groups ----------------------------------------------------------------------------------------

STALLS = [(f"stall{i}", 1, rect(4 * i, 10, 4 * i + 4, 14), "food", None) for i in range(5)]
HALL = ("foodhall", 1, rect(0, 0, 20, 10), "food", None)


def test_small_touching_zones_of_one_kind_group_under_the_hall_they_open_onto():
    groups = derive_groups([*STALLS, HALL, ("kiosk", 1, rect(30, 30, 33, 33), "shop", None)])
    assert {groups[f"stall{i}"] for i in range(5)} == {"foodhall"} and "kiosk" not in groups


def test_the_operator_names_groups():
    specs = [("a", 0, rect(0, 0, 5, 5), "shop", "hall"), ("hall", 0, rect(0, 5, 50, 30), "atrium", None),
             ("b", 0, rect(40, 40, 45, 45), "shop", "missing-zone")]
    assert derive_groups(specs) == {"a": "hall"}


def test_placement_reads_the_mass_not_only_the_best_zone():
    groups = {f"stall{i}": "foodhall" for i in range(5)}
    zones = {*groups, "foodhall", "cinema"}
    spread = place({"stall1": 0.3, "stall2": 0.25, "stall3": 0.25, "foodhall": 0.1, "cinema": 0.1}, groups, zones)
    assert spread.zone == "stall1" and spread.zone_confidence == 0.3
    assert spread.group == "foodhall" and spread.group_confidence == pytest.approx(0.9)
    sure = place({"cinema": 0.9, "stall1": 0.1}, groups, zones)
    assert sure.zone == "cinema" and sure.group is None
    assert place({off_zone(1): 1.0}, groups, zones).zone is None


# -- cold start ------------------------------------------------------------------------------------------

def test_ap_coverage_is_where_that_ap_is_strongest():
    fingerprints = [{"ap1": -40, "ap2": -70}] * 6 + [{"ap1": -75, "ap2": -45}] * 4 + [{"ap2": -50}] * 2
    places = ["shop"] * 6 + ["hall0"] * 4 + ["hall0"] * 2
    cov = ApCoverage().fit(fingerprints, places, [0] * 12, [(5.0, 15.0)] * 6 + [(20.0, 5.0)] * 6)
    ap1 = cov.estimate("ap1")
    assert max(ap1.places, key=ap1.places.get) == "shop" and ap1.places["shop"] > 0.7
    assert ap1.floor == 0 and ap1.floor_confidence == 1.0
    assert cov.estimate("unknown") is None and cov.estimate(None) is None


def test_the_associated_ap_is_the_newest_association_event():
    readings = {"ap1": [(10.0, -60.0, True), (30.0, -55.0, False)], "ap2": [(20.0, -70.0, True)],
                "ap3": [(40.0, -40.0, False)]}
    assert strongest_associated(readings) == "ap2"
    assert strongest_associated({"ap1": [(1.0, -50.0, False)]}) is None


def test_a_phone_that_stood_still_is_placed_from_the_whole_span():
    """Fading: single readings scatter by a few dB; once the strongest APs read the same over an older
    span, its median places the phone (steadier than the last seconds alone)."""
    fading = np.random.default_rng(1).normal(0.0, 3.0, (3, 60)).round()
    still = {ap: [(float(t), mean + fading[i, t]) for t in range(0, 60)]
             for i, (ap, mean) in enumerate({"a": -60.0, "b": -70.0, "c": -75.0}.items())}
    vector, heard, span = settled_vector(still, ["a", "b", "c"], now=59.0)
    assert heard == 3 and span == 60.0
    assert abs(vector - [-60.0, -70.0, -75.0]).max() <= 1.0  # the minute's median, not the last seconds'


def test_a_phone_that_walked_in_is_placed_from_where_it_stands_now():
    """A phone whose readings changed by more than the fading allows (it walked) is placed from its
    recent readings only: the span stops where the walk ended."""
    walked = {ap: [(float(t), (-85.0 if t < 40 else -55.0) - i) for t in range(0, 60)]
              for i, ap in enumerate("abc")}
    vector, _, span = settled_vector(walked, ["a", "b", "c"], now=59.0)
    assert span == 20.0 and vector[0] == -55.0
    newcomer = {"a": [(58.0, -60.0)], "b": [(59.0, -70.0)]}  # too little to compare: the recent readings
    vector, heard, span = settled_vector(newcomer, ["a", "b"], now=59.0)
    assert span == 0.0 and heard == 2
