"""Walking routes on the demo mall's walkway graph."""

import pytest

from fingerprints.routes import build_graph, shortest_route


def test_route_on_one_floor(demo_map):
    route = shortest_route(demo_map, (0, 10, 30), (0, 100, 30))
    assert route is not None and route.steps == []
    assert 90 <= route.length_m <= 140
    assert route.points[0] == (0, 10, 30) and route.points[-1] == (0, 100, 30)


def test_route_between_floors_uses_a_connector(demo_map):
    route = shortest_route(demo_map, (0, 60, 30), (1, 20, 30))
    assert route is not None and len(route.steps) == 1
    assert {f for f, _, _ in route.points} == {0, 1}


def test_escalators_are_one_way(demo_map):
    up = shortest_route(demo_map, (0, 58, 8), (1, 58, 8))
    down = shortest_route(demo_map, (1, 58, 8), (0, 58, 8))
    assert up.steps == ["escalator to floor 1"]
    assert "escalator to floor 0" in down.steps[0] or down.steps[0].startswith(("stairs", "elevator"))
    assert all("esc-up" not in s for s in down.steps)


def test_accessible_only_takes_the_lift(demo_map):
    route = shortest_route(demo_map, (0, 60, 30), (1, 20, 30), accessible_only=True)
    assert route is not None and route.steps == ["elevator to floor 1"]
    graph = build_graph(demo_map, accessible_only=True)
    assert all(d["kind"] not in ("stairs", "escalator") for _, _, d in graph.edges(data=True))


def test_points_off_the_plan_are_refused(demo_map):
    with pytest.raises(ValueError):
        shortest_route(demo_map, (0, -5, 30), (0, 10, 10))
    with pytest.raises(ValueError):
        shortest_route(demo_map, (9, 5, 30), (0, 10, 10))
