"""The quality report's zones it lands worst (fingerprints.quality.LiveEstimate.weakest_zones) and how far each
lies from the nearest AP of its floor (fingerprints.geometry.nearest_ap_m)."""

import math

import pytest

from fingerprints.geometry import nearest_ap_m
from fingerprints.model import AccessPoint, Floor, VenueMap, Zone
from fingerprints.quality import LiveAssumptions, LiveEstimate


def estimate(by_zone: dict) -> LiveEstimate:
    nan = float("nan")
    return LiveEstimate(venue="v", version=1, n_points=sum(n for n, _, _ in by_zone.values()), settled_zone_rate=nan,
                        early_zone_rate=nan, floor_rate=nan, mean_error_m=nan, median_error_m=nan, p95_error_m=nan,
                        by_kind={}, by_zone=by_zone, assumptions=LiveAssumptions(), cannot_know=[])


KINDS = {"stall-1": "stall", "stall-2": "stall", "shop-a": "shop", "shop-b": "shop", "hall": "corridor"}


def test_the_worst_dwell_zones_come_first_and_perfect_or_transit_zones_are_left_out():
    live = estimate({"stall-1": (6, 0.5, 0.2), "stall-2": (5, 0.5, 0.6), "shop-a": (9, 1.0, 0.9),
                     "shop-b": (8, 1.0, 1.0), "hall": (20, 0.1, 0.1), "gone": (3, 0.0, 0.0)})
    assert live.weakest_zones(KINDS) == [("stall-1", 6, 0.5, 0.2), ("stall-2", 5, 0.5, 0.6),
                                         ("shop-a", 9, 1.0, 0.9)]
    assert live.weakest_zones(KINDS, limit=1) == [("stall-1", 6, 0.5, 0.2)]
    assert estimate({"shop-b": (8, 1.0, 1.0)}).weakest_zones(KINDS) == []
    live.unsurveyed = {"stall-1": 0}  # its floor has no reference point: said apart, not listed here
    assert [z for z, *_ in live.weakest_zones(KINDS)] == ["stall-2", "shop-a"]


def plan(aps: list[AccessPoint]) -> VenueMap:
    zones = [Zone("stall-1", "Stall 1", "", 0, [(0, 0), (5, 0), (5, 7), (0, 7)], "stall"),
             Zone("shop-a", "Shop A", "", 0, [(20, 20), (30, 20), (30, 30), (20, 30)], "shop"),
             Zone("up", "Up", "", 1, [(0, 0), (5, 0), (5, 5), (0, 5)], "shop")]
    return VenueMap("v", "V", "", [Floor(0, "G", 40, 40), Floor(1, "1", 40, 40)], aps=aps, zones=zones)


def test_the_nearest_ap_of_the_zones_floor_from_its_outline():
    venue = plan([AccessPoint("aa:00", 0, 25.0, 25.0), AccessPoint("aa:01", 0, 5.0, 37.0),
                  AccessPoint("aa:02", 1, 2.0, 2.0)])
    by_id = {z.id: z for z in venue.zones}
    assert nearest_ap_m(venue, by_id["shop-a"]) == 0.0  # an AP inside
    assert nearest_ap_m(venue, by_id["stall-1"]) == pytest.approx(min(30.0, math.hypot(20, 18)))
    assert nearest_ap_m(plan([AccessPoint("aa:00", 0, 25.0, 25.0)]), by_id["up"]) is None  # none on its floor
