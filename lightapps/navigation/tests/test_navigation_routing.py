"""Places and legs (no Flask): parsing from/to, routes across floors, escalator direction, step-free."""

from __future__ import annotations

import copy

import pytest

from lightapps.navigation.routing import PlaceError, parse_bool, parse_place, plan_route
from portal.tracking import Position

ESC_UP, ESC_DOWN, LIFT, STAIRS = (58.0, 6.0), (62.0, 6.0), (44.0, 54.0), (76.0, 54.0)


def place(venue, raw, param="to", locate=None):
    return parse_place(venue, raw, param, locate)


def connector_points(result):
    """Where each leg ends before a floor change."""
    return [leg.points[-1] for leg in result.legs[:-1]]


def test_parse_places(demo_map):
    shop = place(demo_map, "shop:starlight")
    assert (shop.kind, shop.floor, shop.x, shop.y, shop.name_zh) == ("shop", 1, 22, 30, "星光影城")
    point = place(demo_map, " 0, 12.5 ,30 ")
    assert (point.kind, point.floor, point.x, point.y, point.ref) == ("point", 0, 12.5, 30.0, "0,12.5,30")
    zone = place(demo_map, "zone:atrium")
    assert (zone.kind, zone.floor, zone.x, zone.y) == ("zone", 0, 60.0, 30.0)
    me = place(demo_map, "me", locate=lambda: Position(1, 50.0, 20.0, "foodcourt", 0.9, 0.8))
    assert (me.kind, me.floor, me.x, me.y) == ("me", 1, 50.0, 20.0)
    # an estimate a little off the outline is put back on the plan
    me = place(demo_map, "me", locate=lambda: Position(0, -1.5, 61.0, None, 0.5, 0.5))
    assert (me.x, me.y) == (0.0, 60.0)


@pytest.mark.parametrize("raw, words", [
    (None, "required"), ("", "required"), ("   ", "required"),
    ("shop:nope", "unknown shop"), ("zone:nope", "unknown zone"),
    ("9,10,10", "no floor 9"), ("0,500,10", "off the plan"), ("0,-3,10", "off the plan"),
    ("0,10", "must be"), ("a,b,c", "must be"), ("0,nan,1", "must be"), ("0,1e3,1", "must be"),
    ("x" * 101, "too long"), ("somewhere", "must be"),
])
def test_bad_places_name_the_parameter(demo_map, raw, words):
    with pytest.raises(PlaceError) as info:
        place(demo_map, raw, "to")
    assert info.value.param == "to" and info.value.status == 400
    assert words in info.value.message
    assert str(info.value).startswith("to: ")


def test_me_unplaced_is_409(demo_map):
    with pytest.raises(PlaceError) as info:
        place(demo_map, "me", "from", locate=lambda: None)
    assert (info.value.param, info.value.status) == ("from", 409)
    with pytest.raises(PlaceError):
        place(demo_map, "me", "from")  # no locator at all
    with pytest.raises(PlaceError) as info:  # placed on a floor this map does not have
        place(demo_map, "me", "from", locate=lambda: Position(7, 1.0, 1.0, None, 0.5, 0.5))
    assert info.value.status == 409


def test_parse_bool():
    assert parse_bool("1") and parse_bool("true") and parse_bool("on")
    assert not parse_bool(None) and not parse_bool("0") and not parse_bool("")
    with pytest.raises(PlaceError) as info:
        parse_bool("maybe")
    assert info.value.param == "accessible"


def test_same_floor_route(demo_map):
    result = plan_route(demo_map, place(demo_map, "shop:kopi"), place(demo_map, "shop:lumen"))
    assert result.floors == [0]
    assert [s["action"] for s in result.steps] == ["start", "walk", "arrive"]
    assert result.points[0] == (0, 90, 15) and result.points[-1] == (0, 100, 45)
    assert 30 < result.length_m < 80 and result.seconds == pytest.approx(result.length_m / 1.2, rel=0.01)


def test_route_across_floors(demo_map):
    result = plan_route(demo_map, place(demo_map, "shop:kopi"), place(demo_map, "shop:pixel"))
    assert result.floors == [0, 1]
    assert result.legs[0].points[0] == (90, 15) and result.legs[-1].points[-1] == (102, 45)
    kinds = [s["action"] for s in result.steps]
    assert kinds[0] == "start" and kinds[-1] == "arrive"
    change = [s for s in result.steps if s["action"] not in ("start", "walk", "arrive")]
    assert len(change) == 1 and change[0]["from_floor"] == 0 and change[0]["to_floor"] == 1
    assert change[0]["direction"] == "up"
    # each leg lies on its floor; legs join at the connector
    assert {f for f, _, _ in result.points} == {0, 1}
    assert result.legs[0].points[-1] == result.legs[1].points[0]
    assert result.length_m == pytest.approx(sum(leg.metres for leg in result.legs), abs=0.5)


def test_escalators_are_one_way(demo_map):
    down, up = place(demo_map, "0,60,10"), place(demo_map, "1,60,10")
    going_up = plan_route(demo_map, down, up)
    assert connector_points(going_up) == [ESC_UP]
    assert going_up.steps[2] == {"action": "escalator", "from_floor": 0, "to_floor": 1, "direction": "up"}
    going_down = plan_route(demo_map, up, down)
    assert connector_points(going_down) == [ESC_DOWN]
    assert going_down.steps[2]["direction"] == "down"


def test_accessible_route_avoids_escalators_and_stairs(demo_map):
    down, up = place(demo_map, "0,60,10"), place(demo_map, "1,60,10")
    for a, b in ((down, up), (up, down)):
        fast = plan_route(demo_map, a, b)
        step_free = plan_route(demo_map, a, b, accessible=True)
        assert step_free.accessible
        assert connector_points(step_free) == [LIFT]
        actions = {s["action"] for s in step_free.steps}
        assert "elevator" in actions and not actions & {"escalator", "stairs"}
        assert step_free.seconds > fast.seconds
    # stairs near the start are not taken either
    near_stairs = plan_route(demo_map, place(demo_map, "0,76,50"), place(demo_map, "1,76,50"))
    assert connector_points(near_stairs) == [STAIRS]
    assert connector_points(plan_route(demo_map, place(demo_map, "0,76,50"), place(demo_map, "1,76,50"),
                                       accessible=True)) == [LIFT]


def test_no_step_free_route_without_a_lift(demo_map):
    venue = copy.deepcopy(demo_map)
    venue.edges = [e for e in venue.edges if e.kind != "elevator"]
    a, b = place(venue, "shop:kopi"), place(venue, "shop:pixel")
    assert plan_route(venue, a, b, accessible=True) is None
    assert plan_route(venue, a, b) is not None


def test_lift_across_several_floors_is_one_step(demo_map):
    """A third floor with only the lift reaching it: the lift ride 0 -> 2 passes floor 1 (one step)."""
    from fingerprints.model import Floor, WalkEdge, WalkNode

    venue = copy.deepcopy(demo_map)
    venue.floors.append(Floor(level=2, name="L2", width_m=120.0, height_m=60.0))
    venue.nodes += [WalkNode("lift-2", 2, 44.0, 54.0), WalkNode("roof-a", 2, 60.0, 54.0)]
    lift_1 = next(n.id for n in venue.nodes if n.floor == 1 and (n.x, n.y) == LIFT)
    venue.edges += [WalkEdge(lift_1, "lift-2", kind="elevator"), WalkEdge("lift-2", "roof-a")]
    result = plan_route(venue, place(venue, "0,44,50"), place(venue, "2,60,54"), accessible=True)
    rides = [s for s in result.steps if s["action"] == "elevator"]
    assert rides == [{"action": "elevator", "from_floor": 0, "to_floor": 2, "direction": "up"}]
    assert result.floors == [0, 2]
