"""Set-up checklist coverage speed: the survey coverage grid and the survey route of one campus-sized floor.

    python bench/checklist_coverage.py [--width 585] [--height 617] [--zones 120] [--points 330] [--reference]

A synthetic floor the size of the SPBSTU campus plan (585 x 617 m) with rectangular units spread over it
and survey points inside them; prints the first (computed) and the second (kept per floor) call of
`coverage_grid` and `survey_route`. `--reference` also times the plain definitions they replaced (every
cell of the floor against every zone, every point against every cell, the nearest remaining cell found by
measuring all of them: tens of seconds) and checks that both give the same cells, counts and route.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shapely.geometry import Point, Polygon  # noqa: E402

from fingerprints.model import Floor, Sample, VenueMap, Zone  # noqa: E402
from portal.maps import checklist  # noqa: E402


def campus(width: float, height: float, zones: int, points: int, seed: int = 3) -> VenueMap:
    rng = random.Random(seed)
    units = []
    for k in range(zones):
        w, h = rng.uniform(8, 60), rng.uniform(8, 40)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        units.append(Zone(f"u{k}", f"Unit {k}", "", 0, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]))
    samples = []
    for _ in range(points):
        (x0, y0), (x1, _), (_, y1) = rng.choice(units).polygon[:3]
        samples.append(Sample(0, rng.uniform(x0, x1), rng.uniform(y0, y1), {}))
    return VenueMap("bench", "bench", "", [Floor(0, "G", width, height)], zones=units, samples=samples, version=1)


def reference(venue_map: VenueMap) -> tuple[list, list]:
    """The plain definitions (what portal.maps.checklist ran before it was made fast)."""
    fl, r2, c = venue_map.floor(0), checklist.COVER_RADIUS_M ** 2, checklist.COVER_CELL_M
    zones = [Polygon(z.polygon) for z in venue_map.zones]
    pts = [(s.x, s.y) for s in venue_map.samples]
    cells = []
    for i in range(max(1, math.ceil(fl.width_m / c))):
        for j in range(max(1, math.ceil(fl.height_m / c))):
            x, y = (i + 0.5) * c, (j + 0.5) * c
            if x <= fl.width_m and y <= fl.height_m and any(z.contains(Point(x, y)) for z in zones):
                cells.append((x, y, sum(1 for px, py in pts if (px - x) ** 2 + (py - y) ** 2 <= r2)))
    todo, route, here = [(x, y) for x, y, n in cells if n == 0], [], (0.0, 0.0)
    while todo:
        nxt = min(todo, key=lambda p: (p[0] - here[0]) ** 2 + (p[1] - here[1]) ** 2)
        todo.remove(nxt)
        route.append(nxt)
        here = nxt
    return cells, route


def timed(label: str, call):
    start = time.perf_counter()
    value = call()
    print(f"{label:<34} {time.perf_counter() - start:8.3f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=585.0)
    parser.add_argument("--height", type=float, default=617.0)
    parser.add_argument("--zones", type=int, default=120)
    parser.add_argument("--points", type=int, default=330)
    parser.add_argument("--reference", action="store_true", help="also time and compare the plain definitions")
    args = parser.parse_args()
    venue_map = campus(args.width, args.height, args.zones, args.points)
    cells = timed("coverage_grid (computed)", lambda: checklist.coverage_grid(venue_map, 0))
    route = timed("survey_route (computed)", lambda: checklist.survey_route(venue_map, 0))
    timed("both again (kept per floor)",
          lambda: (checklist.coverage_grid(venue_map, 0), checklist.survey_route(venue_map, 0)))
    print(f"{len(cells)} cells, {sum(1 for *_, n in cells if n)} covered, {len(route)} on the survey route")
    if args.reference:
        ref_cells, ref_route = timed("plain definitions (grid + route)", lambda: reference(venue_map))
        print("same cells, counts and route:", ref_cells == cells and ref_route == route)


if __name__ == "__main__":
    main()
