"""The checklist page and its coverage SVG (portal.operator.opening) on the real store: the cells and the
survey route drawn are the plain definitions' (tests/maps/test_checklist_coverage_grid.py), each floor's grid
is computed once for the page and both SVGs, and a new map version is measured again."""

from __future__ import annotations

import re

import pytest

from fingerprints.model import Floor, Sample, VenueMap, Zone
from portal.auth import AccountStore
from portal.maps import checklist
from tests.maps.test_checklist_coverage_grid import reference_grid, reference_route

V = "/console/ops/harbour"
SCALE = 8.0  # the SVG's pixels per metre


@pytest.fixture
def harbour_ops(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def harbour(samples: list[Sample]) -> VenueMap:
    """Two floors: an L-shaped hall and a shop partly off the floor; a triangle upstairs."""
    return VenueMap("harbour", "Harbour", "", [Floor(0, "G", 61.0, 43.0), Floor(1, "1", 50.0, 30.0)], zones=[
        Zone("hall", "Hall", "", 0, [(0, 0), (60, 0), (60, 12), (14, 12), (14, 42), (0, 42)]),
        Zone("shop", "Shop", "", 0, [(30, 20), (70, 20), (70, 50), (30, 50)]),
        Zone("deck", "Deck", "", 1, [(2, 2), (48, 4), (10, 28)])], samples=samples)


def drawn(svg: str) -> tuple[list[tuple[int, int, str]], list[str]]:
    found = re.findall(r'class="cell" x="(-?\d+)" y="(-?\d+)"[^>]*><title>(\d+)<', svg)
    cells = [(int(x), int(y), n) for x, y, n in found]
    route = re.search(r'id="survey-route" points="([^"]*)"', svg)
    return cells, route.group(1).split() if route else []


def expected(venue_map: VenueMap, level: int) -> tuple[list[tuple[int, int, str]], list[str]]:
    cells = reference_grid(venue_map, level)
    half = checklist.COVER_CELL_M * SCALE / 2
    route = reference_route([(x, y) for x, y, n in cells if n == 0], (0.0, 0.0))
    return ([(int(f"{x * SCALE - half:.0f}"), int(f"{y * SCALE - half:.0f}"), str(n)) for x, y, n in cells],
            [f"{x * SCALE:.0f},{y * SCALE:.0f}" for x, y in route])


def test_coverage_svg_draws_the_plain_grid_and_route_computing_each_floor_once(client, harbour_ops, svc,
                                                                               monkeypatch):
    calls = []
    grid = checklist._grid
    monkeypatch.setattr(checklist, "_grid", lambda *args: calls.append(args[:2]) or grid(*args))
    venue_map = harbour([Sample(0, 5.0, 5.0, {}), Sample(0, 44.0, 30.0, {}), Sample(1, 20.0, 10.0, {})])
    svc.venues.put_map(venue_map)
    for _ in range(2):
        page = client.get(V + "/checklist")
        assert page.status_code == 200 and 'id="step-coverage"' in page.get_data(as_text=True)
        for level in (0, 1):
            svg = client.get(f"{V}/checklist/coverage/{level}.svg")
            assert svg.status_code == 200
            cells, route = drawn(svg.get_data(as_text=True))
            assert (cells, route) == expected(venue_map, level) and cells and route
    assert sorted(calls) == [(50.0, 30.0), (61.0, 43.0)]  # once per floor: page, SVG and route share it

    svc.venues.put_map(harbour(venue_map.samples + [Sample(1, 30.0, 8.0, {})]))  # a new version: measured again
    newer = svc.venues.get_map("harbour")
    assert newer.version == 2
    cells, route = drawn(client.get(V + "/checklist/coverage/1.svg").get_data(as_text=True))
    assert (cells, route) == expected(newer, 1) != expected(venue_map, 1)
    assert client.get(V + "/checklist/coverage/5.svg").status_code == 404
