"""The set-up checklist of a venue: each step says whether it is done, what is missing, and which tool
fixes it. Figures come from the stored map and the live stores (the validation walk: its stored result),
nothing is estimated here; the checklist page adds the expected-error heatmaps of the live estimate.

Survey coverage is measured on a grid of COVER_CELL_M cells over the zones: a cell is covered when a
reference point lies within COVER_RADIUS_M of its centre (the WKNN positioner interpolates between
neighbouring points; further than that it extrapolates). `coverage_grid` is also what the coverage
heatmap and the survey route draw."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely
from flask import url_for
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from core.memo import BoundedMemo
from fingerprints.model import VenueMap
from fingerprints.routes import build_graph
from portal.ingest.health import IngestHealth
from portal.maps.validation import ValidationWalks

COVER_CELL_M = 4.0
COVER_RADIUS_M = 6.0
COVERAGE_GOAL = 0.8
LIVE_WITHIN_S = 300.0


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str
    missing: list[str] = field(default_factory=list)
    link: str = ""
    link_text: str = ""


def coverage_grid(venue_map: VenueMap, level: int) -> list[tuple[float, float, int]]:
    """(cell centre x, y, reference points within COVER_RADIUS_M) for every cell whose centre is in a zone,
    cells in column order (x, then y). Computed once per floor's content (see `_floor_inputs`)."""
    inputs = _floor_inputs(venue_map, level)
    return list(_grids.get(inputs, lambda: _grid(*inputs)))


def survey_route(venue_map: VenueMap, level: int, start: tuple[float, float] = (0.0, 0.0)) -> list[tuple[float, float]]:
    """The uncovered cells of a floor in walking order (nearest next, from `start`): where to survey."""
    inputs = _floor_inputs(venue_map, level)
    start = (float(start[0]), float(start[1]))

    def compute() -> tuple[tuple[float, float], ...]:
        todo = [(x, y) for x, y, n in _grids.get(inputs, lambda: _grid(*inputs)) if n == 0]
        return tuple(nearest_next_order(todo, start))

    return list(_routes.get((inputs, start), compute))


# Per floor, keyed by what the grid is made of (size, zone rings, survey points) rather than by (venue,
# version): a version number comes back with other content after a store is emptied (tests, a restore),
# and building the key is a small fraction of a grid's cost. The values are shared: callers get copies.
# 16 floors: a campus floor's grid is a few MB, and computing one again takes well under a second.
_grids = BoundedMemo(16)
_routes = BoundedMemo(16)
_TIE_M = 1e-6  # well above the KD-tree's rounding, well below any distance that tells two cells apart


def _floor_inputs(venue_map: VenueMap, level: int) -> tuple:
    fl = venue_map.floor(level)
    rings = tuple(tuple(map(tuple, z.polygon)) for z in venue_map.zones if z.floor == level and len(z.polygon) >= 3)
    points = tuple((s.x, s.y) for s in venue_map.samples if s.floor == level)
    return float(fl.width_m), float(fl.height_m), rings, points


def _grid(width: float, height: float, rings: tuple, points: tuple) -> tuple[tuple[float, float, int], ...]:
    """The grid of `coverage_grid`: each zone tests only the cell centres within its bounds (one vectorised
    shapely call), and a KD-tree of the survey points counts each cell's neighbours."""
    cols, rows = max(1, math.ceil(width / COVER_CELL_M)), max(1, math.ceil(height / COVER_CELL_M))
    xs, ys = (np.arange(cols) + 0.5) * COVER_CELL_M, (np.arange(rows) + 0.5) * COVER_CELL_M
    inside = np.zeros((cols, rows), dtype=bool)
    for ring in rings:
        polygon = Polygon(ring)
        if polygon.is_empty:
            continue
        min_x, min_y, max_x, max_y = polygon.bounds
        (i0, i1), (j0, j1) = _span(min_x, max_x, cols), _span(min_y, max_y, rows)
        if i0 < i1 and j0 < j1:
            gx, gy = np.meshgrid(xs[i0:i1], ys[j0:j1], indexing="ij")
            inside[i0:i1, j0:j1] |= shapely.contains_xy(polygon, gx, gy)
    inside &= (xs <= width)[:, None] & (ys <= height)[None, :]
    ii, jj = np.nonzero(inside)  # row-major: x outer, y inner, the order cells always had
    centres = np.column_stack((xs[ii], ys[jj]))
    counts = _points_within(centres, np.array(points, dtype=float).reshape(-1, 2))
    return tuple(zip(centres[:, 0].tolist(), centres[:, 1].tolist(), counts.tolist(), strict=True))


def _span(lo: float, hi: float, n: int) -> tuple[int, int]:
    """Indices [a, b) of the cells whose centre ((i + 0.5) * COVER_CELL_M) may lie in [lo, hi]: one cell of
    margin each side, the polygon test decides (all of them for a ring with a coordinate that is not finite)."""
    a = max(0, math.floor(lo / COVER_CELL_M - 0.5) - 1) if math.isfinite(lo) else 0
    b = min(n, math.ceil(hi / COVER_CELL_M - 0.5) + 2) if math.isfinite(hi) else n
    return a, b


def _points_within(centres: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How many of `points` lie within COVER_RADIUS_M of each centre, the test being exactly the Python
    `(px - x) ** 2 + (py - y) ** 2 <= COVER_RADIUS_M ** 2` it always was."""
    counts = np.zeros(len(centres), dtype=int)
    if not len(centres) or not len(points):
        return counts
    near = cKDTree(points).query_ball_point(centres, COVER_RADIUS_M + _TIE_M)
    lengths = np.fromiter(map(len, near), dtype=int, count=len(near))
    if not lengths.sum():
        return counts
    owner = np.repeat(np.arange(len(centres)), lengths)
    dx, dy = points[np.concatenate(near).astype(int)].T - centres[owner].T
    d2, limit = dx * dx + dy * dy, COVER_RADIUS_M ** 2
    within = d2 <= limit
    # numpy squares by multiplying, Python's ** calls pow(): they may differ in the last bit, which only
    # matters for a point right on the circle. Those few are decided as before.
    for k in np.flatnonzero(np.abs(d2 - limit) <= 1e-9):
        within[k] = float(dx[k]) ** 2 + float(dy[k]) ** 2 <= limit
    np.add.at(counts, owner[within], 1)
    return counts


def nearest_next_order(cells: list[tuple[float, float]], start: tuple[float, float]) -> list[tuple[float, float]]:
    """`cells` in nearest-next order from `start`: the same order as taking, again and again, the first of the
    remaining cells with the least `(x - hx) ** 2 + (y - hy) ** 2`, but each step asks a KD-tree for the
    few nearest cells instead of measuring all that remain."""
    if not cells:
        return []
    coords = np.array(cells, dtype=float)
    alive = np.ones(len(cells), dtype=bool)
    ids, tree = np.arange(len(cells)), cKDTree(coords)
    route, here = [], start
    for left in range(len(cells), 0, -1):
        if len(ids) - left > len(ids) // 2 and len(ids) > 64:  # most of the tree taken: rebuild it over the rest
            ids = ids[alive[ids]]
            tree = cKDTree(coords[ids])
        best = _nearest_alive(tree, ids, alive, cells, here)
        alive[best] = False
        route.append(cells[best])
        here = cells[best]
    return route


def _nearest_alive(tree: cKDTree, ids: np.ndarray, alive: np.ndarray, cells: list, here: tuple) -> int:
    """The index of the first remaining cell nearest `here` (ties: the lowest index)."""
    k = min(8, len(ids))
    while True:
        dist, pos = (np.atleast_1d(a) for a in tree.query(here, k=k))
        live = alive[ids[pos]]
        if live.any():
            reach = dist[live][0] + _TIE_M
            if k == len(ids) or dist[-1] > reach:  # every cell as near as the nearest remaining one is here
                found = ids[pos[live & (dist <= reach)]].tolist()
                return min(found, key=lambda c: ((cells[c][0] - here[0]) ** 2 + (cells[c][1] - here[1]) ** 2, c))
        k = min(4 * k, len(ids))


def checklist(svc, venue: str, venue_map: VenueMap | None, model: dict) -> list[Step]:
    drafts = url_for("operator.drafts", venue=venue)
    if venue_map is None or not venue_map.floors:
        return [Step("plan", "Floor plan", False, "The venue has no map yet.", ["an IMDF archive or floors"],
                     drafts, "Start a draft and add the IMDF plan")]
    floors = venue_map.floors
    steps = [Step("plan", "Floor plan", True, f"{len(floors)} floors, {len(venue_map.zones)} zones.",
                  link=url_for("operator.setup", venue=venue), link_text="Venue set-up")]
    unscaled = [f.name for f in floors if f.plan_image and not f.metres_per_pixel]
    steps.append(Step("scale", "Scale", not unscaled, "Every floor is in metres." if not unscaled else
                      "Plan images without a scale.", unscaled,
                      url_for("operator.floor", venue=venue, level=floors[0].level, tool="scale"), "Set the scale"))
    no_aps = [f.name for f in floors if not any(a.floor == f.level for a in venue_map.aps)]
    steps.append(Step("aps", "Access points", not no_aps, f"{len(venue_map.aps)} AP entries placed.",
                      [f"floor {n}: no AP" for n in no_aps], drafts, "Add an AP list (CSV, Ekahau, Meraki, UniFi)"))
    apps = svc.zone_apps.all(venue)
    no_app = [z.id for z in venue_map.zones if z.id not in apps]
    steps.append(Step("zones", "Zones and their apps", bool(venue_map.zones) and not no_app,
                      f"{len(venue_map.zones)} zones, {len(venue_map.zones) - len(no_app)} with a light app.",
                      [f"zone {z}: no app" for z in no_app[:20]], url_for("operator.owners", venue=venue),
                      "Zone owners"))
    steps.append(_walkways(venue, venue_map))
    steps.append(_coverage(venue, venue_map))
    health = IngestHealth(svc.db).snapshot(venue, time.time(), venue_map, svc.settings.ap_silent_after_s)
    live = [s for s in health["sources"] if s.get("last_report_age_s") is not None
            and s["last_report_age_s"] <= LIVE_WITHIN_S]
    steps.append(Step("sources", "Report sources seen live", bool(live),
                      f"{len(live)} sources reported in the last {LIVE_WITHIN_S / 60:.0f} minutes; "
                      f"{health['totals']['aps_silent']} of {health['totals']['aps']} APs silent.",
                      [f"AP {b}: silent" for b in health["silent_aps"][:20]] or ([] if live else ["no report yet"]),
                      url_for("operator.health", venue=venue), "Ingest health"))
    ready = model.get("state") == "ready" and model.get("version") == venue_map.version
    steps.append(Step("model", "Positioning model", ready, f"Model of map v{model.get('version', '-')}: "
                      f"{model.get('state', 'not built')}.", [] if ready else [model.get("error") or "not built"],
                      url_for("operator.versions", venue=venue), "Map versions"))
    steps.append(_validation(svc, venue, venue_map))
    return steps


def _validation(svc, venue: str, venue_map: VenueMap) -> Step:
    """The last validation walk (portal.maps.validation): what shoppers' phones really get along a route."""
    link = url_for("operator.validation", venue=venue)
    last = ValidationWalks(svc.db).last(venue)
    if last is None:
        return Step("validation", "Validation walk", False, "No validation walk recorded yet.",
                    ["walk a route with a phone, then upload the route (ts,floor,x,y) and the phone's readings "
                     "at the APs (ts,ap,rssi), or run `flask validation-walk`"], link, "Run a validation walk")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last["at"]))
    detail = (f"Last walk {when} on map v{last['version']}: {last['points']} route points, right zone "
              f"{_share(last['zone_rate'])}, right floor {_share(last['floor_rate'])}, live error mean "
              f"{_metres(last['mean_error_m'])}, p95 {_metres(last['p95_error_m'])}.")
    stale = [] if last["version"] == venue_map.version else [
        f"the map changed since (now v{venue_map.version}): walk again to measure this version"]
    return Step("validation", "Validation walk", True, detail, stale, link, "Validation walks")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _metres(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} m"


def _walkways(venue: str, venue_map: VenueMap) -> Step:
    """Done when every zone has a linked walkway node in or next to it and, on a venue of more than one
    floor, every floor's walkways join the others' (a route can go from any floor to any other)."""
    link = url_for("operator.drafts", venue=venue)
    if not venue_map.nodes:
        return Step("walkways", "Walkways", False, "No walkway graph.", ["derive it from the IMDF plan"], link,
                    "Add derived walkways to a draft")
    graph = build_graph(venue_map)
    # Each floor's linked nodes as one array of points: one vectorised distance call per zone rather than a
    # Point and a call per (zone, node), most of the page's time on a campus plan once the grid was fast.
    linked: dict[int, list[tuple[float, float]]] = {}
    for n in graph:
        if graph.degree(n) > 0:
            linked.setdefault(graph.nodes[n]["floor"], []).append((graph.nodes[n]["x"], graph.nodes[n]["y"]))
    nodes = {level: shapely.points(np.array(xy, dtype=float)) for level, xy in linked.items()}
    unreached = []
    for zone in venue_map.zones:
        polygon = Polygon(zone.polygon)
        if zone.floor not in nodes or not (shapely.distance(polygon, nodes[zone.floor]) <= 3.0).any():
            unreached.append(f"zone {zone.id}: no walkway node in or next to it")
    detail = f"{len(venue_map.nodes)} nodes, {len(venue_map.edges)} links."
    apart, one_way = floors_not_joined(venue_map, graph)
    missing = []
    if apart or one_way:
        names = {f.level: f.name for f in venue_map.floors}

        def floors(levels: list[int]) -> str:
            return ("floor " if len(levels) == 1 else "floors ") + ", ".join(names[level] for level in levels)

        if apart:
            detail += (f" The floors are not all joined: the walkways fall into {len(apart)} parts that no lift, "
                       "escalator or stairs link joins (" + " | ".join(floors(p) for p in apart) + "), and a "
                       "route from one to another is refused.")
            missing += [f"{floors(part)}: no lift, escalator or stairs link joins {'it' if len(part) == 1 else 'them'}"
                        f" to {floors(apart[0])}" for part in apart[1:]]
        if one_way:
            missing.append(f"{floors(one_way)}: reached or left one way only (an escalator with no way back, no "
                           "lift or stairs)")
        missing.append("to fix: link the floors in the map editor (a floor's walkway tool: a lift, escalator or "
                       "stairs link between a node on each floor), or add the IMDF plan's relationship features "
                       "(elevator, escalator, stairs) and import it again")
        first = apart[1][0] if apart else one_way[0]
        link, link_text = url_for("operator.floor", venue=venue, level=first, tool="walkway"), "Link the floors"
    else:
        link_text = "Add derived walkways to a draft"
    missing += unreached[:20]
    return Step("walkways", "Walkways", not missing, detail, missing, link, link_text)


def floors_not_joined(venue_map: VenueMap, graph: nx.DiGraph | None = None) -> tuple[list[list[int]], list[int]]:
    """On a venue of more than one floor: ([the floors of each part of the walkway graph that no link joins to
    the others], [floors joined to the rest but reached, or left, one way only]); ([], []) when a route
    goes from every floor to every other. Parts are the graph's connected pieces (links taken both ways),
    each given as its floors in level order; a floor with no linked walkway node is a part of its own. The
    largest part (most floors, then most nodes) comes first."""
    levels = sorted(f.level for f in venue_map.floors)
    if len(levels) < 2:
        return [], []
    graph = graph if graph is not None else build_graph(venue_map)
    linked = graph.subgraph([n for n in graph if graph.degree(n) > 0])
    known = set(levels)

    def floors_of(nodes) -> set[int]:
        return {graph.nodes[n]["floor"] for n in nodes} & known

    weak = sorted(nx.weakly_connected_components(linked), key=lambda c: (-len(floors_of(c)), -len(c)))
    # A floor belongs to the first (largest) part holding one of its nodes: a stray piece of walkway on a
    # joined floor is not a floor cut off (the zones' check above names what it leaves unreached).
    parts: list[list[int]] = []
    placed: set[int] = set()
    for component in weak:
        floors = sorted(floors_of(component) - placed)
        if floors:
            parts.append(floors)
            placed.update(floors)
    parts += [[level] for level in levels if level not in placed]
    if len(parts) == 1:
        # Joined when links are taken both ways; a route needs them the way they run (escalators).
        main = weak[0]
        strong = max(nx.strongly_connected_components(linked.subgraph(main)),
                     key=lambda c: (len(floors_of(c)), len(c)))
        return [], sorted(set(parts[0]) - floors_of(strong))
    return parts, []


def _coverage(venue: str, venue_map: VenueMap) -> Step:
    missing, covered_all, cells_all = [], 0, 0
    for fl in venue_map.floors:
        cells = coverage_grid(venue_map, fl.level)
        covered = sum(1 for _, _, n in cells if n > 0)
        covered_all, cells_all = covered_all + covered, cells_all + len(cells)
        if cells and covered / len(cells) < COVERAGE_GOAL:
            missing.append(f"floor {fl.name}: {covered / len(cells):.0%} of its zones within "
                           f"{COVER_RADIUS_M:g} m of a reference point")
    share = covered_all / cells_all if cells_all else 0.0
    return Step("coverage", "Survey coverage", cells_all > 0 and not missing,
                f"{len(venue_map.samples)} reference points; {share:.0%} of the zones covered.", missing,
                url_for("operator.survey", venue=venue), "Survey (plans a route over what is uncovered)")
