"""Zones from position and neighbours; temporal smoothing with hysteresis at zone borders."""

import pytest

from positioning.smoothing import TemporalSmoother
from positioning.wknn import Estimate
from positioning.zones import ZoneMap

SQUARES = [("west", 0, [(0, 0), (10, 0), (10, 10), (0, 10)]),
           ("east", 0, [(10, 0), (20, 0), (20, 10), (10, 10)]),
           ("upstairs", 1, [(0, 0), (20, 0), (20, 10), (0, 10)])]


def estimate(x, y=5.0, floor=0, confidence=0.8):
    return Estimate(building=0, floor=floor, x=x, y=y, confidence=confidence, neighbours=())


def test_zone_at_by_floor_and_polygon():
    zones = ZoneMap(SQUARES)
    assert zones.zone_at(0, 2, 5) == "west"
    assert zones.zone_at(0, 15, 5) == "east"
    assert zones.zone_at(1, 15, 5) == "upstairs"
    assert zones.zone_at(0, 50, 5) is None


def test_confidence_grows_with_depth_and_neighbour_agreement():
    zones = ZoneMap(SQUARES)
    _, at_border = zones.zone_for(estimate(9.8))
    _, deep = zones.zone_for(estimate(5.0))
    assert deep > at_border
    zone, agreed = zones.zone_for(estimate(5.0), ["west"] * 5)
    assert zone == "west" and agreed == pytest.approx(1.0)
    zone, split = zones.zone_for(estimate(9.8), ["east"] * 4 + ["west"])
    assert zone == "east" and split < agreed  # the neighbours outvote a position on the border


def test_outside_every_zone_with_no_neighbours():
    assert ZoneMap(SQUARES).zone_for(estimate(50)) == (None, 0.0)


@pytest.mark.parametrize("coords, message", [
    ([(0, 0), (1, 1)], "at least 3"),
    ([(0, 0), (10, 10), (10, 0), (0, 10)], "invalid polygon"),
    ([(0, 0), (1, 1), (2, 2)], "invalid polygon|no area"),
])
def test_bad_polygons_are_refused(coords, message):
    with pytest.raises(ValueError, match=message):
        ZoneMap([("bad", 0, coords)])


def test_border_jitter_does_not_flip_the_zone():
    smoother = TemporalSmoother()
    state, _, zone = smoother.update(None, estimate(9.5), "west", 0.55, now=0)
    zones_seen = []
    for t, (x, z) in enumerate([(10.5, "east"), (9.5, "west"), (10.5, "east"), (9.5, "west")], start=1):
        state, _, zone = smoother.update(state, estimate(x), z, 0.55, now=t)
        zones_seen.append(zone)
    assert zones_seen == ["west"] * 4


def test_walking_into_the_next_zone_switches_after_two_updates():
    smoother = TemporalSmoother(switch_after=2)
    state, _, _ = smoother.update(None, estimate(5), "west", 0.9, now=0)
    state, _, zone = smoother.update(state, estimate(15), "east", 0.6, now=1)
    assert zone == "west"
    state, _, zone = smoother.update(state, estimate(15), "east", 0.6, now=2)
    assert zone == "east"


def test_a_much_more_confident_zone_switches_at_once():
    smoother = TemporalSmoother(margin=0.25)
    state, _, _ = smoother.update(None, estimate(5), "west", 0.5, now=0)
    _, _, zone = smoother.update(state, estimate(15), "east", 0.95, now=1)
    assert zone == "east"


def test_position_is_smoothed_and_floor_needs_agreement():
    smoother = TemporalSmoother(alpha=0.5)
    state, _, _ = smoother.update(None, estimate(0), "west", 0.9, now=0)
    state, smoothed, _ = smoother.update(state, estimate(10), "west", 0.9, now=1)
    assert smoothed.x == pytest.approx(5.0)
    state, smoothed, _ = smoother.update(state, estimate(5, floor=1, confidence=0.6), "upstairs", 0.6, now=2)
    assert smoothed.floor == 0  # one unsure reading does not move the shopper upstairs
    state, smoothed, _ = smoother.update(state, estimate(5, floor=1, confidence=0.6), "upstairs", 0.6, now=3)
    assert smoothed.floor == 1


def test_stale_state_is_reset():
    smoother = TemporalSmoother(reset_after_s=30)
    state, _, _ = smoother.update(None, estimate(0), "west", 0.9, now=0)
    _, smoothed, zone = smoother.update(state, estimate(15), "east", 0.5, now=100)
    assert zone == "east" and smoothed.x == 15


def test_bad_alpha():
    with pytest.raises(ValueError):
        TemporalSmoother(alpha=0)


# A corridor 40 x 6 m with a 3 x 3 m kiosk standing in it, and two 5 x 7 m stalls side by side behind it.
HALL = [("corridor", 0, [(0, 0), (40, 0), (40, 6), (0, 6)]),
        ("kiosk", 0, [(10, 1.5), (13, 1.5), (13, 4.5), (10, 4.5)]),
        ("stall-a", 0, [(20, 6), (25, 6), (25, 13), (20, 13)]),
        ("stall-b", 0, [(25, 6), (30, 6), (30, 13), (25, 13)])]


def test_position_evidence_is_calibrated_to_the_estimates_spread():
    zones = ZoneMap(HALL)
    near_kiosk = zones.position_evidence(0, 14.5, 3.0)  # 1.5 m off the kiosk, inside the corridor
    assert near_kiosk["kiosk"] > near_kiosk["corridor"]  # a small zone near the estimate gets its due
    far = zones.position_evidence(0, 2.0, 3.0)  # 9 m from the kiosk: the corridor
    assert far["corridor"] > 2 * far["kiosk"]
    between = zones.position_evidence(0, 25.5, 9.0)  # 0.5 m into stall b: the stalls share it
    assert 0.35 < between["stall-a"] / (between["stall-a"] + between["stall-b"]) < 0.5
    deep = zones.position_evidence(0, 28.5, 9.0, sigma_m=1.0)  # a sharper estimate singles stall b out
    assert deep["stall-b"] > 10 * deep.get("stall-a", 0.0)
    assert sum(between.values()) == pytest.approx(1.0) and zones.position_evidence(5, 1.0, 1.0) == {}


def test_zone_scores_mix_the_position_and_the_neighbours_zones():
    zones = ZoneMap(HALL)
    alone = zones.zone_scores(estimate(27.5, 9.0), [])
    with_neighbours = zones.zone_scores(estimate(27.5, 9.0), ["stall-a"] * 3)
    assert alone["stall-b"] > alone["stall-a"]
    assert with_neighbours["stall-a"] > alone["stall-a"] and sum(with_neighbours.values()) == pytest.approx(1.0)


def test_position_evidence_leaves_out_only_what_is_too_far_to_count(monkeypatch):
    import positioning.zones as zones_module

    reach = ZoneMap(HALL).position_evidence(0, 12.0, 3.0, sigma_m=1.0)  # stall b lies > 5 spreads away
    monkeypatch.setattr(zones_module, "REACH_SIGMAS", 1e9)
    everything = ZoneMap(HALL).position_evidence(0, 12.0, 3.0, sigma_m=1.0)
    assert set(reach) <= set(everything)
    assert all(abs(reach.get(z, 0.0) - p) < 1e-5 for z, p in everything.items())
