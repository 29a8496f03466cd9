"""Routes never go through a wall: a start or goal joins the walkway graph at a node it can walk to in a
straight line (fingerprints.routes.join_node), and that leg counts in the route's length."""

from __future__ import annotations

import math
import random

import pytest
from shapely.geometry import LineString, Point, Polygon

from fingerprints.mallgen import generate_mall
from fingerprints.model import Floor, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.routes import join_node, shared_graph, shortest_route
from portal.shopper import Shopper, shopper_token
from portal.tracking import Position


def walls_crossed(venue: VenueMap, points) -> list[tuple]:
    """(leg, wall) for each leg of a route on one floor whose line crosses a wall of that floor."""
    walls = {f.level: [LineString([(w[0], w[1]), (w[2], w[3])]) for w in f.walls] for f in venue.floors}
    out = []
    for p, q in zip(points, points[1:], strict=False):
        if p[0] != q[0] or p[1:] == q[1:]:
            continue  # a floor change, or no walk at all
        leg = LineString([p[1:], q[1:]])
        out += [((p, q), wall.coords[:]) for wall in walls[p[0]] if leg.crosses(wall)]
    return out


def walked_m(points) -> float:
    return sum(math.hypot(q[1] - p[1], q[2] - p[2]) for p, q in zip(points, points[1:], strict=False))


def random_points(venue: VenueMap, n: int, seed: int) -> list[tuple[int, float, float]]:
    """n points strictly inside the venue's zones (a zone drawn at random, then a point in it)."""
    rnd = random.Random(seed)
    zones = [Polygon(z.polygon) for z in venue.zones]
    floors = [z.floor for z in venue.zones]
    out = []
    while len(out) < n:
        i = rnd.randrange(len(zones))
        x0, y0, x1, y1 = zones[i].bounds
        x, y = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
        if zones[i].contains(Point(x, y)):
            out.append((floors[i], x, y))
    return out


@pytest.fixture(scope="module")
def ring_mall():
    return generate_mall(7, "ring", survey_step_m=400.0, scans=1).venue  # no survey needed: walls and walkways


@pytest.fixture(scope="module")
def linear_mall():
    return generate_mall(2026, "linear", survey_step_m=400.0, scans=1).venue


def test_the_reviewers_start_in_the_bookshop_stays_out_of_the_coffee_shop(client, demo, demo_map):
    """Inside Mango Tree Books, the nearest node (99, 3) lies behind the wall x=100 in Kopi Coffee."""
    body = client.get("/v/demo/route", query_string={"from": "0,101,2", "to": "shop:lumen"}).get_json()
    points = [tuple(p) for p in body["points"]]
    assert points[0] == (0, 101, 2)
    for p, q in zip(points, points[1:], strict=False):
        crosses = LineString([p[1:], q[1:]]).crosses(LineString([(100, 0), (100, 13)]))
        assert not crosses, (p, q)
    assert walls_crossed(demo_map, points) == []
    assert body["length_m"] == pytest.approx(walked_m(points), abs=0.2)  # the joining legs count


def test_a_located_shopper_joins_the_walkways_the_same_way(client, demo, demo_map, svc, app, monkeypatch):
    with app.test_request_context():
        token = shopper_token(Shopper("demo", "client-walls-1", phone="client-walls-1", phone_verified=True))
    monkeypatch.setattr(svc.locator, "locate", lambda venue, client_id, now=None: Position(
        floor=0, x=100.4, y=4.4, zone="books", confidence=0.9, zone_confidence=0.9))
    body = client.get("/v/demo/route", query_string={"from": "me", "to": "shop:books", "c": token}).get_json()
    points = [tuple(p) for p in body["points"]]
    assert points[0] == (0, 100.4, 4.4) and points[1][1] > 100  # into the bookshop, not next door
    assert walls_crossed(demo_map, points) == []


@pytest.mark.parametrize("mall", ["demo_map", "ring_mall", "linear_mall"])
def test_no_leg_of_a_route_between_random_points_crosses_a_wall(request, mall):
    venue = request.getfixturevalue(mall)
    graph = shared_graph(venue)
    points = random_points(venue, 240, seed=len(venue.zones))
    routed = 0
    for start, goal in zip(points[::2], points[1::2], strict=True):
        route = shortest_route(venue, start, goal, graph=graph)
        if route is None:
            continue
        routed += 1
        assert walls_crossed(venue, route.points) == [], (start, goal)
        assert route.length_m == pytest.approx(walked_m(route.points), abs=0.01)
    assert routed >= 100


def test_a_car_park_bay_is_walked_to_along_the_aisle_not_through_the_lift_lobby(ring_mall):
    """The reviewer's bay in car park A (12, 5): its nearest node in a straight line is the lift in the lobby
    next door, 45 m away through the lobby's concrete wall."""
    route = shortest_route(ring_mall, (0, 40.0, 40.0), (0, 12.0, 5.0))
    assert route is not None and walls_crossed(ring_mall, route.points) == []
    car_park_a = Polygon(ring_mall.zone("p-a").polygon)
    assert car_park_a.contains(Point(route.points[-2][1:]))  # the last node is in car park A, not the lift


def _room_behind_a_row_of_nodes() -> VenueMap:
    """A 10 x 20 m room whose only door (y 18-20 of its east wall) is far from a point in its south-east
    corner, and a walkway of 40 nodes just outside the wall: all of them nearer that point than the door."""
    walls = [(0, 0, 40, 0), (40, 0, 40, 20), (0, 20, 40, 20), (0, 0, 0, 20), (10, 0, 10, 18)]
    nodes = [WalkNode(f"w{i}", 0, 11.0, 0.5 * i) for i in range(40)] + [WalkNode("door", 0, 10.0, 19.0)]
    edges = [WalkEdge(f"w{i}", f"w{i + 1}") for i in range(39)] + [WalkEdge("door", "w38")]
    zones = [Zone("room", "Room", "房间", 0, [(0, 0), (10, 0), (10, 20), (0, 20)]),
             Zone("hall", "Hall", "大厅", 0, [(10, 0), (40, 0), (40, 20), (10, 20)], kind="corridor")]
    return VenueMap("walls", "Walls", "墙", [Floor(0, "G", 40.0, 20.0, walls=walls)], zones=zones, nodes=nodes,
                    edges=edges)


def test_a_point_whose_nearest_nodes_are_all_behind_a_wall_joins_at_its_rooms_door():
    venue = _room_behind_a_row_of_nodes()
    graph = shared_graph(venue)
    assert join_node(venue, graph, 0, 9.0, 1.0) == "door"
    route = shortest_route(venue, (0, 9.0, 1.0), (0, 30.0, 10.0), graph=graph)
    assert route.points[1] == (0, 10.0, 19.0) and walls_crossed(venue, route.points) == []
    assert route.length_m == pytest.approx(walked_m(route.points))
    assert join_node(venue, graph, 0, 30.0, 1.0) == "w2"  # in the hall: the nearest node in sight, as before
