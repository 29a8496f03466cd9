"""The set-up checklist's survey coverage grid and survey route (portal.maps.checklist), made fast for campus
plans (a 585 x 617 m floor took 9 s for the checklist and 17 s for the coverage SVG): the same cells, counts
and route as the plain definitions below, which are what the functions used to run (every cell of the floor
against every zone, every survey point against every cell, the nearest remaining cell found by measuring
all of them). Timing is not asserted here (busy CI); the measurement is in the fix's report."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from fingerprints.model import Floor, Sample, VenueMap, Zone
from portal.maps import checklist
from portal.maps.checklist import COVER_CELL_M, COVER_RADIUS_M, coverage_grid, nearest_next_order, survey_route


def reference_grid(venue_map: VenueMap, level: int) -> list[tuple[float, float, int]]:
    fl = venue_map.floor(level)
    zones = [Polygon(z.polygon) for z in venue_map.zones if z.floor == level and len(z.polygon) >= 3]
    points = [(s.x, s.y) for s in venue_map.samples if s.floor == level]
    cells = []
    for i in range(max(1, math.ceil(fl.width_m / COVER_CELL_M))):
        for j in range(max(1, math.ceil(fl.height_m / COVER_CELL_M))):
            x, y = (i + 0.5) * COVER_CELL_M, (j + 0.5) * COVER_CELL_M
            if x > fl.width_m or y > fl.height_m or not any(z.contains(Point(x, y)) for z in zones):
                continue
            near = sum(1 for px, py in points if (px - x) ** 2 + (py - y) ** 2 <= COVER_RADIUS_M ** 2)
            cells.append((x, y, near))
    return cells


def reference_route(cells: list[tuple[float, float]], start: tuple[float, float]) -> list[tuple[float, float]]:
    todo, route, here = list(cells), [], start
    while todo:
        nxt = min(todo, key=lambda c: (c[0] - here[0]) ** 2 + (c[1] - here[1]) ** 2)
        todo.remove(nxt)
        route.append(nxt)
        here = nxt
    return route


def random_map(rng: random.Random) -> VenueMap:
    """Two floors of odd sizes; zones that are lattice-aligned rectangles (edges through cell centres), random
    and often self-crossing rings, rings partly off the floor, and rings too short to count; survey points
    at random and exactly 6 m (or 3.6 / 4.8 m apart) from cell centres."""
    w, h = rng.choice([rng.uniform(5, 70), 4.0 * rng.randint(1, 18)]), rng.choice([rng.uniform(5, 50), 40.0])
    zones = []
    for k in range(rng.randint(0, 7)):
        kind, cx, cy = rng.random(), rng.uniform(-10, w + 10), rng.uniform(-10, h + 10)
        if kind < 0.3:
            x0, y0 = 2 + 4 * rng.randint(-2, 10), 2 + 4 * rng.randint(-2, 8)
            dx, dy = 4 * rng.randint(1, 6), 4 * rng.randint(1, 5)
            ring = [(x0, y0), (x0 + dx, y0), (x0 + dx, y0 + dy), (x0, y0 + dy)]
        elif kind < 0.9:
            ring = [(cx + rng.uniform(-15, 15), cy + rng.uniform(-15, 15)) for _ in range(rng.randint(3, 9))]
        else:
            ring = [(cx, cy), (cx + 1, cy)]
        zones.append(Zone(f"z{k}", f"Zone {k}", "", rng.choice([0, 0, 1]), ring))
    samples = []
    for _ in range(rng.randint(0, 60)):
        if rng.random() < 0.4:
            x = 2 + 4 * rng.randint(0, 15) + rng.choice([0, 6, -6, 3.6, -3.6, 4.8, 2, 0.1])
            y = 2 + 4 * rng.randint(0, 10) + rng.choice([0, 4.8, -4.8, 3.6, 6, 2])
        else:
            x, y = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
        samples.append(Sample(rng.choice([0, 1]), x, y, {}))
    return VenueMap("grid", "grid", "", [Floor(0, "G", w, h), Floor(1, "1", w, h)], zones=zones, samples=samples)


@pytest.mark.parametrize("seed", range(6))
def test_grid_and_route_are_the_plain_definitions_on_small_maps(seed):
    rng = random.Random(seed)
    for _ in range(40):
        venue_map = random_map(rng)
        for level in (0, 1):
            cells = reference_grid(venue_map, level)
            assert coverage_grid(venue_map, level) == cells
            todo = [(x, y) for x, y, n in cells if n == 0]
            for start in ((0.0, 0.0), (rng.uniform(-5, 80), rng.uniform(-5, 60))):
                assert survey_route(venue_map, level, start) == reference_route(todo, start)


def test_demo_mall_grid_is_the_plain_definition(demo_map):
    for floor in demo_map.floors:
        cells = reference_grid(demo_map, floor.level)
        assert cells and coverage_grid(demo_map, floor.level) == cells


def test_route_over_a_large_uncovered_floor_is_nearest_next():
    """2,500 uncovered cells (the KD-tree is rebuilt as they are taken), many at equal distances: the
    reference is the same rule measured with numpy (cell centres are exact in binary, so no rounding)."""
    side = 200.0
    venue_map = VenueMap("big", "big", "", [Floor(0, "G", side, side)],
                         zones=[Zone("all", "All", "", 0, [(0, 0), (side, 0), (side, side), (0, side)])])
    cells = [(x, y) for x, y, n in coverage_grid(venue_map, 0)]
    assert len(cells) == 2500
    coords, left, here, expected = np.array(cells), np.ones(len(cells), dtype=bool), np.zeros(2), []
    for _ in cells:
        d2 = ((coords - here) ** 2).sum(axis=1)
        d2[~left] = np.inf
        best = int(np.argmin(d2))  # the first of the nearest, as min() over the remaining list
        left[best], here = False, coords[best]
        expected.append(cells[best])
    assert survey_route(venue_map, 0) == expected


def test_route_ties_go_to_the_first_cell_in_grid_order():
    cells = [(6.0, 2.0), (2.0, 6.0), (2.0, 2.0), (10.0, 2.0)]
    assert nearest_next_order(cells, (4.0, 4.0)) == reference_route(cells, (4.0, 4.0))
    assert nearest_next_order(cells, (4.0, 4.0))[0] == (6.0, 2.0)
    assert nearest_next_order([], (0.0, 0.0)) == []


def test_a_changed_floor_is_measured_again_and_callers_get_copies():
    """The grid is kept per floor content: the same venue id and version number with other zones or points
    (a store emptied and filled again) is not served the old grid; a caller changing its list changes no
    one else's."""
    floor = Floor(0, "G", 40.0, 40.0)
    zone = Zone("a", "A", "", 0, [(0, 0), (40, 0), (40, 40), (0, 40)])
    first = VenueMap("same", "same", "", [floor], zones=[zone], version=1)
    second = VenueMap("same", "same", "", [floor], zones=[zone], version=1, samples=[Sample(0, 20.0, 20.0, {})])
    before = coverage_grid(first, 0)
    assert all(n == 0 for _, _, n in before) and len(survey_route(first, 0)) == len(before)
    after = coverage_grid(second, 0)
    assert after == reference_grid(second, 0) and any(n for _, _, n in after)
    assert survey_route(second, 0) == reference_route([(x, y) for x, y, n in after if n == 0], (0.0, 0.0))
    before.clear()
    survey_route(first, 0).clear()
    assert coverage_grid(first, 0) == reference_grid(first, 0)
    assert len(survey_route(first, 0)) == len(reference_grid(first, 0))


def test_each_floor_is_computed_once(monkeypatch):
    """The checklist and the coverage SVG (grid, then route) ask for the same floor: one computation."""
    calls = []
    grid = checklist._grid
    monkeypatch.setattr(checklist, "_grid", lambda *args: calls.append(args[:2]) or grid(*args))
    venue_map = VenueMap("once", "once", "", [Floor(0, "G", 33.0, 21.0)],
                         zones=[Zone("a", "A", "", 0, [(1, 1), (30, 2), (25, 20)])], version=7)
    for _ in range(3):
        coverage_grid(venue_map, 0)
        survey_route(venue_map, 0)
    assert calls == [(33.0, 21.0)]
