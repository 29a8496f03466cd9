"""The live estimate's first probe, modelled as the landing bench's phones get it: a phone joining on entering a
zone is heard from inside it (not from the shop's door or the corridor outside, the walkway node nearest its
spot); a phone joining on arrival joins on a walkway of the car park, lobby or corridor (not against the shop
fronts), in the car park at the stated share of arrivals. Pure numerics; no store needed."""

from __future__ import annotations

import numpy as np
import pytest

from fingerprints.geometry import zone_map
from fingerprints.model import AccessPoint, Floor, Sample, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.quality import LiveAssumptions, WalkIn
from fingerprints.simulator import RadioSimulator
from fingerprints.training import training_set
from portal.tracking.estimate import (
    _Survey,
    _visit,
    arrival_place,
    arrival_spot,
    arrival_zone,
    spot_in_zone,
    walkway_spots,
)
from positioning import MISSING_DBM


def rect(zone_id: str, kind: str, x0: float, y0: float, x1: float, y1: float) -> Zone:
    return Zone(id=zone_id, name=zone_id, name_zh=zone_id, floor=0, kind=kind,
                polygon=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def corridor_mall() -> VenueMap:
    """A 40 x 8 m corridor with its walkway along y = 4, a shop on either side, a car park beyond it."""
    nodes = [WalkNode(id=f"c{i}", floor=0, x=4.0 * i, y=4.0) for i in range(11)]
    nodes += [WalkNode(id="door-shop-n", floor=0, x=10.0, y=8.0), WalkNode(id="in-shop-n", floor=0, x=10.0, y=14.0)]
    edges = [WalkEdge(a=f"c{i}", b=f"c{i + 1}") for i in range(10)]
    edges += [WalkEdge(a="c2", b="door-shop-n"), WalkEdge(a="door-shop-n", b="in-shop-n")]
    return VenueMap(id="v", name="v", name_zh="v", floors=[Floor(level=0, name="G", width_m=80, height_m=30)],
                    zones=[rect("corridor", "corridor", 0, 0, 40, 8), rect("shop-n", "shop", 0, 8, 20, 20),
                           rect("shop-s", "shop", 20, 8, 40, 20), rect("car-park", "garage", 40, 0, 80, 30)],
                    nodes=nodes, edges=edges)


def test_a_shopper_walks_into_a_shop_through_its_door_to_its_own_node():
    """A spot near the shop front is nearer a corridor node than the shop's own: the walk still goes in by the
    door to the shop's node (the straight line from the corridor node would cross the shop front)."""
    venue = corridor_mall()
    walk_in = WalkIn(venue, np.array([(0, 0.0, 0.0)]), 20.0)
    route = walk_in.route(0, 3.0, 9.5, np.random.default_rng(1), "shop-n")
    assert route[-2:] == [(10.0, 8.0), (10.0, 14.0)]
    assert walk_in.route(0, 3.0, 9.5, np.random.default_rng(1), "shop-s")[-1] == (4.0, 4.0)  # no node of its own


def on_walkway(venue: VenueMap, x: float, y: float) -> bool:
    """(x, y) lies on one of the plan's walkway edges."""
    nodes = {n.id: n for n in venue.nodes}
    for e in venue.edges:
        a, b = np.array([nodes[e.a].x, nodes[e.a].y]), np.array([nodes[e.b].x, nodes[e.b].y])
        u = np.clip(np.dot((x, y) - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        if np.hypot(*((x, y) - (a + u * (b - a)))) < 1e-6:
            return True
    return False


def test_a_phone_joining_on_arrival_stands_on_the_walkway():
    venue = corridor_mall()
    zones = zone_map(venue)
    walkways = walkway_spots(WalkIn(venue, np.array([(0, 0.0, 0.0)]), 60.0), zones)
    rng = np.random.default_rng(7)
    corridor = venue.zones[0]
    spots = [arrival_spot(corridor, walkways, zones, rng) for _ in range(50)]
    assert all(on_walkway(venue, x, y) and zones.zone_at(0, x, y) == "corridor" for x, y in spots)
    assert len({round(x) for x, _ in spots}) > 10  # along the whole corridor, not one point
    # the car park has no walkway here: anywhere in it, as before
    car_park = venue.zones[3]
    assert all(zones.zone_at(0, *arrival_spot(car_park, walkways, zones, rng)) == "car-park" for _ in range(10))


def test_arrivals_come_in_from_the_car_park_at_the_stated_share():
    venue = corridor_mall()
    arrivals = [venue.zones[0], rect("corridor-2", "corridor", 0, 20, 40, 28),
                rect("lobby", "lobby", 40, 30, 50, 40), venue.zones[3]]
    rng = np.random.default_rng(3)
    by_car = [arrival_zone(arrivals, 0.5, rng).kind == "garage" for _ in range(2000)]
    assert np.mean(by_car) == pytest.approx(0.5, abs=0.04)  # one zone in four alike would give 0.25
    assert all(arrival_zone(arrivals, 1.0, rng).kind == "garage" for _ in range(50))
    assert not any(arrival_zone(arrivals, 0.0, rng).kind == "garage" for _ in range(50))
    # a plan without a car park: everyone on foot; with only a car park: everyone there
    assert all(arrival_zone(arrivals[:3], 1.0, rng).kind != "garage" for _ in range(20))
    assert all(arrival_zone(arrivals[3:], 0.0, rng).kind == "garage" for _ in range(20))


def test_arrivals_on_foot_join_at_the_entrances_when_they_are_known():
    """`entrances` (those the map marks, `VenueMap.entrance_spots`): a shopper on foot joins at one of them, in whatever
    zone it lies (or none: a street door outside every zone); the car park's arrivals are as before. Without
    entrances the place is `arrival_zone` then `arrival_spot`, drawn from the same random numbers."""
    venue = corridor_mall()
    zones = zone_map(venue)
    walkways = walkway_spots(WalkIn(venue, np.array([(0, 0.0, 0.0)]), 60.0), zones)
    arrivals = [venue.zones[0], venue.zones[3]]
    doors = [(0, 0.5, 4.0), (0, 40.0, -3.0)]  # the corridor's west end; a street door south of the plan
    rng = np.random.default_rng(11)
    places = [arrival_place(arrivals, walkways, zones, doors, 0.5, rng) for _ in range(400)]
    on_foot = [p for p in places if p.zone != "car-park"]
    assert {(p.floor, p.x, p.y) for p in on_foot} == set(doors)
    assert {p.zone for p in on_foot} == {"corridor", None}
    by_car = [p for p in places if p.zone == "car-park"]
    assert 150 < len(by_car) < 250 and all(zones.zone_at(0, p.x, p.y) == "car-park" for p in by_car)
    # no entrances: the draw `arrival_zone` and `arrival_spot` make, number for number
    first, second = np.random.default_rng(12), np.random.default_rng(12)
    for _ in range(50):
        place = arrival_place(arrivals, walkways, zones, (), 0.5, first)
        zone = arrival_zone(arrivals, 0.5, second)
        assert (place.floor, place.x, place.y, place.zone) == (zone.floor, *arrival_spot(zone, walkways, zones, second),
                                                               zone.id)


def test_a_plan_without_lobby_or_corridor_has_its_arrivals_on_foot_at_its_entrances():
    """Shops straight off the street: no lobby or corridor zone to place an on-foot arrival in, yet the marked
    entrances are where those shoppers join (by car in the car park as before); with no car park either, all of
    them at the entrances."""
    venue = corridor_mall()
    zones = zone_map(venue)
    walkways = walkway_spots(WalkIn(venue, np.array([(0, 0.0, 0.0)]), 60.0), zones)
    doors = [(0, 10.0, 19.0)]
    rng = np.random.default_rng(5)
    car_park_only = [venue.zones[3]]
    places = [arrival_place(car_park_only, walkways, zones, doors, 0.5, rng) for _ in range(400)]
    at_doors = [p for p in places if (p.floor, p.x, p.y) == doors[0]]
    assert 150 < len(at_doors) < 250 and {p.zone for p in at_doors} == {"shop-n"}
    assert all(p.zone == "car-park" for p in places if p not in at_doors)
    assert all((p.floor, p.x, p.y) == doors[0] for p in (arrival_place([], walkways, zones, doors, 0.5, rng)
                                                           for _ in range(20)))


def test_a_phone_joining_on_entering_a_zone_is_heard_from_inside_it(demo_map):
    """`entered` (when it joins, and what the 30 s and 120 s probes count from) is inside the zone: the walk
    ends at the zone's own walkway node (the walkway node nearest the spot was often its door or the corridor)."""
    zones = zone_map(demo_map)
    _, X, _ = training_set(demo_map)
    survey = _Survey(demo_map, X)
    walk_in = WalkIn(demo_map, survey.coords, 60.0)
    rng = np.random.default_rng(5)
    visits = 0
    for zone in [z for z in demo_map.zones if z.kind not in ("garage", "atrium")]:
        for _ in range(5):
            visit = _visit(walk_in, survey, zone, spot_in_zone(zone, zones, rng), rng, LiveAssumptions(), zones)
            inside = [zones.zone_at(*w) == zone.id for w in visit.where]
            assert all(inside[visit.entered:])  # heard from inside from then on, to its spot
            visits += 1
    assert visits >= 20


def test_a_zone_without_a_walkway_node_is_entered_where_the_walk_crosses_into_it():
    """shop-s has no node of its own: the walk ends at a corridor node and goes straight to the spot; the
    phone joining on entering is heard from the walk's first second inside the shop, not from the corridor."""
    venue = corridor_mall()
    venue.samples = [Sample(floor=0, x=float(x), y=float(y), rssi={}) for x in range(0, 80, 4) for y in range(0, 30, 4)]
    zones = zone_map(venue)
    survey = _Survey(venue, np.full((len(venue.samples), 1), MISSING_DBM))
    walk_in = WalkIn(venue, survey.coords, 30.0)
    rng = np.random.default_rng(2)
    for spot in [(30.0, 16.0), (24.0, 18.0), (36.0, 12.0)]:
        visit = _visit(walk_in, survey, venue.zones[2], spot, rng, LiveAssumptions(), zones)
        inside = [zones.zone_at(*w) == "shop-s" for w in visit.where]
        assert inside[visit.entered] and not inside[visit.entered - 1] and all(inside[visit.entered:])


def shops_off_the_street() -> VenueMap:
    """Three 12 x 12 m shops in a row off the street, no lobby, corridor or car park: a walk along their middles
    from a street door at the west end (the entrance), surveyed by the radio simulator from three APs."""
    nodes = [WalkNode(id="street", floor=0, x=0.5, y=6.0, entrance=True)]
    nodes += [WalkNode(id=f"s{i}", floor=0, x=6.0 + 12.0 * i, y=6.0) for i in range(3)]
    edges = [WalkEdge(a="street", b="s0"), WalkEdge(a="s0", b="s1"), WalkEdge(a="s1", b="s2")]
    venue = VenueMap(id="v", name="v", name_zh="v", floors=[Floor(level=0, name="G", width_m=36, height_m=12)],
                     zones=[rect(f"shop-{i}", "shop", 12.0 * i, 0, 12.0 * (i + 1), 12) for i in range(3)],
                     nodes=nodes, edges=edges,
                     aps=[AccessPoint(bssid=f"02:bb:00:00:00:{i:02x}", floor=0, x=6.0 + 12.0 * i, y=6.0)
                          for i in range(3)])
    venue.samples = RadioSimulator(venue).survey_grid(step_m=3.0, scans=2)
    return venue


def test_the_live_estimate_of_a_plan_of_shops_only_has_its_arrivals_join_at_its_entrances(monkeypatch):
    """A plan with marked entrances and no lobby, corridor or car park zone (nothing to arrive in): the live
    estimate's phones joining on arrival still do, at the entrance (they were all taken to join on entering a
    shop when only those zones counted as places to arrive)."""
    from portal.tracking import estimate

    venue = shops_off_the_street()
    assert venue.entrance_spots() == [(0, 0.5, 6.0)]
    places = []

    def recorded(*args, **kwargs):
        places.append(place := arrival_place(*args, **kwargs))
        return place

    monkeypatch.setattr(estimate, "arrival_place", recorded)
    claim = estimate.live_estimate(venue, max_points=12)
    assert claim.n_points == 12 and places  # about half the visits join on arrival
    assert {(p.floor, p.x, p.y, p.zone) for p in places} == {(0, 0.5, 6.0, "shop-0")}
