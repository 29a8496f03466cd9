"""The walkway graph derived from a venue plan, so an operator only edits what the plan gets wrong.

From IMDF (`derive_from_imdf`):
- every unit gets a node: a walkway-like unit (walkway, unenclosedarea, lobby, ramp, ...) its centre
  line (`centre_lines`), any other unit (shop, lift, stairs) one node at a point inside it;
- every opening gets a node at its middle, linked to the units it lies on (a door joins two rooms); the node is an
  entrance (`WalkNode.entrance`, where shoppers on foot come in from outside) when the opening is IMDF's principal
  pedestrian entrance (category "pedestrian.principal") wherever it is, or another pedestrian opening ("pedestrian",
  "pedestrian.transit") on the building's exterior: its middle on the outline of exactly one unit, not a staff-only
  room (DEAD_ENDS: a staff door, and one such a room's other door may leave unlinked), and on the floor's outer
  outline (the outline of the union of the floor's units, voids and fabric included, gaps under twice
  shapes.OUTLINE_CLOSE_M closed, as the export does; or the outline of its level features), as ArcGIS Indoors'
  "Generate Facility Entryways" takes the exterior edge of the units. Emergency exits, service, automobile and
  bicycle openings are never entrances. LIMITATION: a part of the floor no unit covers is outside as far as the rule
  can tell when it reaches the outline (a plan that leaves out a corridor running to the street: its shop doors onto
  it read as exterior), inside when it does not;
- a unit with no opening that touches a walkway is linked to it (plans often leave doors out);
- relationships join floors: elevator, stairs, escalator (one-way when "directed"), ramp, moving
  walkway, traversal; each origin -> intermediaries -> destination, as edges of that kind, a large unit (a
  corridor) joined where the relationship's geometry or the next feature of the chain is. Step-free
  routes (fingerprints.routes, accessible_only) use elevators, ramps and walks, never stairs or
  escalators.
Plans without IMDF: `centre_lines(polygon)` turns a corridor drawn as a polygon into its centre line
(the inner edges of the Voronoi diagram of its densified outline, which approximate the medial axis).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.ops import linemerge, nearest_points, unary_union

from fingerprints.imdf.shapes import OUTLINE_CLOSE_M, outer_outline, unit_parts, unit_polygon
from fingerprints.model import WalkEdge, WalkNode

WALKWAY_UNITS = frozenset({"walkway", "walkway.island", "unenclosedarea", "lobby", "ramp", "footbridge",
                           "movingwalkway", "platform"})
EDGE_KIND_FOR_RELATIONSHIP = {"elevator": "elevator", "stairs": "stairs", "escalator": "escalator",
                              "ramp": "ramp", "movingwalkway": "walk", "traversal": "walk",
                              "traversal.path": "walk"}
TOUCH_M = 0.5  # an opening or a unit this close to a unit's outline lies on it
SNAP_M = 1.0  # what joins a walkway's centre line this close to one of its nodes joins that node
DENSIFY_M = 1.0
SIMPLIFY_M = 0.5


def centre_lines(polygon: Polygon, spacing_m: float = DENSIFY_M) -> list[LineString]:
    """The centre line(s) of a corridor polygon: Voronoi edges of its densified outline that lie inside
    it and away from the walls (the spurs running into corners are trimmed)."""
    outline = shapely.segmentize(polygon.boundary, spacing_m)
    points = MultiPoint(shapely.get_coordinates(outline))
    edges = shapely.voronoi_polygons(points, only_edges=True)
    inside = [e for e in getattr(edges, "geoms", [edges]) if polygon.contains(e)]
    if not inside:
        return []
    depth = max(polygon.boundary.distance(Point(c)) for e in inside for c in e.coords)
    keep = depth * 0.8
    kept = [e for e in inside if all(polygon.boundary.distance(Point(c)) >= keep - 1e-6 for c in e.coords)]
    merged = linemerge(unary_union(kept)) if kept else None
    if merged is None or merged.is_empty:
        return []
    lines = [g.simplify(SIMPLIFY_M) for g in getattr(merged, "geoms", [merged])]
    return [line for line in lines if line.length > 0]


@dataclass
class _Unit:
    fid: str
    level: int
    category: str
    polygon: Polygon
    nodes: list[str] = field(default_factory=list)
    # a walkway's walk edges between its nodes that lie inside `inside`, with their lines, in the order they were
    # made: the segments a join may split, kept by GraphBuilder so that a join does not scan the whole graph
    walks: dict[tuple[str, str], LineString] = field(default_factory=dict)

    @cached_property
    def inside(self) -> Polygon:
        """Where a segment of the unit's centre line may be joined (buffered once, not on every join)."""
        return self.polygon.buffer(TOUCH_M)

    def nearest_walk(self, here: Point) -> tuple[tuple[str, str], LineString]:
        """The segment of `walks` nearest `here`; of several as near, the first made (argmin keeps the first, as
        min() over a scan of all the graph's edges did: the same ties, the same graph)."""
        walks = list(self.walks.items())
        return walks[int(shapely.distance([segment for _, segment in walks], here).argmin())]


@dataclass
class GraphBuilder:
    """Nodes and links, with node ids made from the feature ids (stable across re-imports)."""

    nodes: dict[str, WalkNode] = field(default_factory=dict)
    edges: dict[tuple[str, str], WalkEdge] = field(default_factory=dict)
    walkway_of: dict[str, _Unit] = field(default_factory=dict)  # a walkway's node -> that walkway

    def node(self, node_id: str, level: int, x: float, y: float, unit: _Unit | None = None) -> str:
        """The node (made unless it exists); `unit`: the unit it is one of the nodes of, if any."""
        if node_id not in self.nodes:
            self.nodes[node_id] = WalkNode(id=node_id, floor=level, x=round(x, 2), y=round(y, 2))
            if unit is not None and unit.category in WALKWAY_UNITS:
                self.walkway_of[node_id] = unit
        return node_id

    def link(self, a: str, b: str, kind: str = "walk", oneway: bool = False) -> None:
        """One edge per pair of nodes, except a one-way edge beside the one-way edge back (an up and a down
        escalator between the same two units are two edges)."""
        forward, back = self.edges.get((a, b)), self.edges.get((b, a))
        if a == b or forward is not None or (back is not None and not (oneway and back.oneway)):
            return
        self.edges[(a, b)] = WalkEdge(a=a, b=b, kind=kind, oneway=oneway)
        self._index_walk(a, b, kind)

    def _line(self, a: str, b: str) -> LineString:
        return LineString([(self.nodes[n].x, self.nodes[n].y) for n in (a, b)])

    def _index_walk(self, a: str, b: str, kind: str) -> None:
        """A walk edge between two nodes of one walkway joins its `walks` if it lies inside the walkway (a line
        simplified past a hole, a void, may cut across it: no place to join). Node places never change and edges
        are only added at the end of `edges`, so `walks` holds what a scan of all edges would find, in its order."""
        unit = self.walkway_of.get(a)
        if kind != "walk" or unit is None or self.walkway_of.get(b) is not unit:
            return
        segment = self._line(a, b)
        if unit.inside.contains(segment):
            unit.walks[(a, b)] = segment

    def nearest(self, candidates: Iterable[str], x: float, y: float) -> str | None:
        best = min(candidates, key=lambda n: (self.nodes[n].x - x) ** 2 + (self.nodes[n].y - y) ** 2, default=None)
        return best

    def join_point(self, unit: _Unit, x: float, y: float, by: str) -> str:
        """Where something at (x, y) joins the unit: a walkway's centre line at the point of it nearest (x, y), a
        node made there (its walk edge split in two) unless a node of the line is within SNAP_M; any other unit's
        node nearest. `by`: what joins it (a feature id), which names the node with the unit, so that the id is
        stable across re-imports whatever the plan's frame and the order of the features. A straight corridor's line
        has nodes at its two ends only: a door joined to the nearer end sent a route between two doors 15 m apart
        along the corridor to its end and back (107 m)."""
        if not unit.walks:  # not a walkway, or one without a segment to join
            return self.nearest(unit.nodes, x, y)
        here = Point(x, y)
        (a, b), segment = unit.nearest_walk(here)
        at = segment.interpolate(segment.project(here))
        for end in (a, b):
            if at.distance(Point(self.nodes[end].x, self.nodes[end].y)) <= SNAP_M:
                return end
        node_id = "j-" + hashlib.blake2b(f"{unit.fid}|{by}".encode(), digest_size=16).hexdigest()
        if node_id not in self.nodes:
            self.node(node_id, unit.level, at.x, at.y, unit)
            del self.edges[(a, b)], unit.walks[(a, b)]
            self.link(a, node_id)
            self.link(node_id, b)
            unit.nodes.append(node_id)
        return node_id


def _gap(g: GraphBuilder, a: str, b: str) -> float:
    return (g.nodes[a].x - g.nodes[b].x) ** 2 + (g.nodes[a].y - g.nodes[b].y) ** 2


def _node_part(fid: str) -> str:
    """The feature id (a UUID) as a node-id part: all of it, as features stacked on two floors often differ
    only in their last digits (Apple's sample archive), and one node for both would join the floors."""
    return fid.replace("-", "").lower()


# Unit categories no route crosses: voids (a floor open to the one below) and the building's fabric.
NOT_WALKED = frozenset({"opentobelow", "brick", "column", "concrete", "drywall", "glass", "structure", "wood"})
# Staff-only rooms: a place to reach (a service zone), not a way through between two walkways.
DEAD_ENDS = frozenset({"nonpublic"})


def derive_from_imdf(feats: dict[str, list[dict]], level_of: dict[str, int],
                     to_plan: Callable[[float, float], tuple[float, float]]) -> tuple[list[WalkNode], list[WalkEdge]]:
    """The walkway graph of a validated archive's features (`feats` as the validator keeps them)."""
    g = GraphBuilder()
    units: dict[str, _Unit] = {}
    for f in feats.get("unit.geojson", []):
        props, geom = f["properties"], f["geometry"]
        if props["category"] in NOT_WALKED:
            continue  # a void or the building's fabric: nobody walks there, so no route crosses it
        polygon = unit_polygon(geom, to_plan).buffer(0)  # holes kept: a walkway round a void goes round it
        if polygon.is_empty:
            continue
        unit = _Unit(f["id"], level_of[props["level_id"]], props["category"], polygon)
        units[f["id"]] = unit
        lines = centre_lines(polygon) if unit.category in WALKWAY_UNITS else []
        at: dict[tuple[float, float], str] = {}  # centre lines meet at shared points: one node there
        for line in lines:
            ids = []
            for x, y in line.coords:
                key = (round(x, 1), round(y, 1))
                if key not in at:
                    at[key] = g.node(f"w-{_node_part(f['id'])}-{len(at)}", unit.level, x, y, unit)
                ids.append(at[key])
            for a, b in zip(ids, ids[1:], strict=False):
                g.link(a, b)
            if unit.nodes and not set(ids) & set(unit.nodes):  # a line that does not meet the others
                g.link(ids[0], g.nearest(unit.nodes, *line.coords[0]))
            unit.nodes += [n for n in ids if n not in unit.nodes]
        if not unit.nodes:
            rep = polygon.representative_point()
            unit.nodes.append(g.node(f"u-{_node_part(f['id'])}", unit.level, rep.x, rep.y, unit))
    opened: set[str] = set()
    opening_nodes = _link_openings(g, feats, units, level_of, to_plan, opened)
    walkways = [u for u in units.values() if u.category in WALKWAY_UNITS]
    for unit in units.values():
        if unit.fid in opened:
            continue
        links = []
        for walkway in walkways:
            touches = walkway.level == unit.level and walkway.polygon.distance(unit.polygon) <= TOUCH_M
            if walkway is not unit and touches:
                if unit.category in WALKWAY_UNITS:  # two walkways: their nearest nodes
                    links.append(min(((a, b) for a in unit.nodes for b in walkway.nodes),
                                     key=lambda ab: _gap(g, *ab)))
                else:  # a room without a door: where the walkway passes nearest its node
                    node = g.nodes[unit.nodes[0]]
                    links.append((unit.nodes[0], g.join_point(walkway, node.x, node.y, by=unit.fid)))
        if unit.category in DEAD_ENDS:  # reached from one walkway, never a way between two
            links = sorted(links, key=lambda ab: _gap(g, *ab))[:1]
        for a, b in links:
            g.link(a, b)
    related = _relationships(g, feats, units, opening_nodes, to_plan)
    _stacked_connectors(g, [u for u in units.values() if u.fid not in related])
    return list(g.nodes.values()), list(g.edges.values())


class _Outlines:
    """The units' outlines, per floor, in an STRtree: an opening is tested against the few units near it, not every
    unit on its floor (1,803 doors, 624 units a floor, on a 3-floor plan: 1.1 million distances, most of the time)."""

    def __init__(self, units: Iterable[_Unit]) -> None:
        by_level: dict[int, list[_Unit]] = {}
        for unit in units:
            by_level.setdefault(unit.level, []).append(unit)
        self._floors: dict[int, tuple[list[_Unit], list[shapely.Geometry], shapely.STRtree]] = {}
        for level, members in by_level.items():
            outlines = [unit.polygon.boundary for unit in members]
            self._floors[level] = (members, outlines, shapely.STRtree(outlines))

    def touching(self, level: int, line: LineString) -> list[_Unit]:
        """The units on `level` whose outline is within TOUCH_M of `line`, in the order they were given (the order
        doors are joined in decides which door a staff-only room keeps). The tree only narrows the candidates to
        outlines whose boxes are within twice TOUCH_M (a margin, so that rounding drops none); the same distance
        test as before decides, so the same units match."""
        if level not in self._floors:
            return []
        members, outlines, tree = self._floors[level]
        minx, miny, maxx, maxy = line.bounds
        margin = 2 * TOUCH_M
        near = tree.query(shapely.box(minx - margin, miny - margin, maxx + margin, maxy + margin))
        return [members[i] for i in sorted(near.tolist()) if outlines[i].distance(line) <= TOUCH_M]


PRINCIPAL_ENTRANCE = "pedestrian.principal"  # IMDF's opening category for a principal pedestrian entrance


class _OuterOutlines:
    """Each floor's outer outlines, made when first asked for: of the union of its units (all of them: a void or a
    wall drawn as a unit is inside the building) and of its level features."""

    def __init__(self, feats: dict[str, list[dict]], level_of: dict[str, int],
                 to_plan: Callable[[float, float], tuple[float, float]]) -> None:
        self._feats, self._level_of, self._to_plan = feats, level_of, to_plan
        self._floors: dict[int, list[shapely.Geometry]] = {}

    def distance(self, level: int, here: Point) -> float:
        if level not in self._floors:
            units = [f for f in self._feats.get("unit.geojson", [])
                     if self._level_of[f["properties"]["level_id"]] == level]
            levels = [f for f in self._feats.get("level.geojson", []) if self._level_of[f["id"]] == level]
            self._floors[level] = [outer_outline(self._parts(units), OUTLINE_CLOSE_M),
                                   outer_outline(self._parts(levels))]
        return min((outline.distance(here) for outline in self._floors[level] if not outline.is_empty),
                   default=math.inf)

    def _parts(self, features: list[dict]) -> list[Polygon]:
        return [part for f in features for part in unit_parts(f["geometry"], self._to_plan)]


def _is_entrance(category: str, level: int, mid: Point, touching: list[_Unit], outer: _OuterOutlines) -> bool:
    """Whether an opening is where shoppers on foot come in from outside (the rule: the module's docstring)."""
    if category == PRINCIPAL_ENTRANCE:
        return True
    if category != "pedestrian" and not category.startswith("pedestrian."):
        return False  # an emergency exit, a service or car door
    on = [unit for unit in touching if unit.polygon.boundary.distance(mid) <= TOUCH_M]
    if len(on) != 1 or on[0].category in DEAD_ENDS:
        return False  # a door between two units, or a staff door: staff-only rooms are no way in for shoppers
    return outer.distance(level, mid) <= TOUCH_M


def _link_openings(g: GraphBuilder, feats: dict[str, list[dict]], units: dict[str, _Unit], level_of: dict[str, int],
                   to_plan: Callable[[float, float], tuple[float, float]], opened: set[str]) -> dict[str, str]:
    """A node at each opening's middle, linked to the units it lies on, marked an entrance where the opening is one
    (`_is_entrance`); returns the node of each opening and adds the units entered by a door to `opened`. The doors
    between two units or more are linked first, then those on one unit only (a street door): a staff-only room keeps
    one door, and it is its door into the mall whichever the archive lists first (its street door first cut the room,
    and an entrance into it, off the mall)."""
    outlines = _Outlines(units.values())
    outer = _OuterOutlines(feats, level_of, to_plan)
    opening_nodes: dict[str, str] = {}
    doors = []
    for f in feats.get("opening.geojson", []):
        level = level_of[f["properties"]["level_id"]]
        line = LineString([to_plan(*p[:2]) for p in f["geometry"]["coordinates"]])
        mid = line.interpolate(0.5, normalized=True)
        node = g.node(f"o-{_node_part(f['id'])}", level, mid.x, mid.y)
        opening_nodes[f["id"]] = node
        touching = outlines.touching(level, line)
        g.nodes[node].entrance = _is_entrance(f["properties"]["category"], level, mid, touching, outer)
        doors.append((f["id"], node, mid, touching))
    for fid, node, mid, touching in sorted(doors, key=lambda door: len(door[3]) < 2):  # stable: else file order
        linked = False
        for unit in touching:
            if unit.category in DEAD_ENDS and unit.fid in opened:
                continue  # a staff-only room is entered by one door here: never a way between two
            g.link(node, g.join_point(unit, mid.x, mid.y, by=fid))
            opened.add(unit.fid)
            linked = True
        if g.nodes[node].entrance and touching and not linked:
            # an entrance into a staff-only room entered already (its second street door): joined to it all the
            # same (a dead end off the room, no way between two walkways), else a route could never start there
            g.link(node, g.join_point(touching[0], mid.x, mid.y, by=fid))
    return opening_nodes


def _relationships(g: GraphBuilder, feats: dict[str, list[dict]], units: dict[str, _Unit],
                   opening_nodes: dict[str, str], to_plan: Callable[[float, float], tuple[float, float]]) -> set[str]:
    """Join what the relationships join; returns the ids of the units they name. A unit named is joined where the
    relationship's geometry is (its first point the origin, its last the destination: an escalator drawn as a
    line from one corridor to the other), else where the next feature in the chain is (the escalator unit between
    two corridors): joining a corridor at one fixed point of it (its node nearest its representative point, as
    before 2026-12-05) sent every route to the floor above through that point, wherever the escalator is."""
    named: set[str] = set()

    def known(ref: object) -> bool:
        return isinstance(ref, dict) and (ref.get("id") in units or ref.get("id") in opening_nodes)

    def anchor(ref: dict) -> Point:
        """Where a feature of the chain is: an opening's middle, a unit's representative point."""
        if ref["id"] in units:
            return units[ref["id"]].polygon.representative_point()
        node = g.nodes[opening_nodes[ref["id"]]]
        return Point(node.x, node.y)

    def node_near(ref: dict, place: shapely.Geometry, by: str) -> str:
        if ref["id"] not in units:
            return opening_nodes[ref["id"]]
        unit = units[ref["id"]]
        at, _ = nearest_points(place, unit.polygon)
        return g.join_point(unit, at.x, at.y, by)

    for f in feats.get("relationship.geojson", []):
        props = f["properties"]
        kind = EDGE_KIND_FOR_RELATIONSHIP.get(props["category"])
        if kind is None:
            continue
        if props.get("origin") is None or props.get("destination") is None:
            continue  # an end left out: nothing to walk between
        chain = [props["origin"], *(props.get("intermediary") or []), props["destination"]]
        named |= {ref.get("id") for ref in chain if isinstance(ref, dict)}
        drawn = _plan_points(f.get("geometry"), to_plan)
        # each known feature with where the drawing puts it: the origin at its first point, the destination at
        # its last, an intermediary anywhere on it; nothing drawn: the next feature's place, found below
        places = [None if not drawn else Point(drawn[0]) if i == 0 else Point(drawn[-1]) if i == len(chain) - 1
                  else MultiPoint(drawn) for i in range(len(chain))]
        kept = [(i, ref) for i, ref in enumerate(chain) if known(ref)]
        oneway = props["direction"] == "directed"
        for (i, a), (j, b) in zip(kept, kept[1:], strict=False):
            g.link(node_near(a, places[i] or anchor(b), f"{f['id']}|{i}"),
                   node_near(b, places[j] or anchor(a), f"{f['id']}|{j}"), kind, oneway)
    return named


def _plan_points(geometry: dict | None, to_plan: Callable[[float, float], tuple[float, float]]
                 ) -> list[tuple[float, float]]:
    """A relationship's geometry (any GeoJSON geometry, longitude/latitude) as the points it draws, in order, in plan
    metres; none when it has none."""
    if not geometry:
        return []
    return [to_plan(float(lon), float(lat)) for lon, lat in shapely.get_coordinates(shapely.geometry.shape(geometry))]


# Unit categories that are a way between floors, and the kind of link one stacked on another makes.
STACKED_KINDS = {"elevator": "elevator", "stairs": "stairs", "escalator": "escalator"}
STACKED_OVERLAP = 0.25  # of the smaller footprint: two stairwells drawn on consecutive floors


def _stacked_connectors(g: GraphBuilder, units: list[_Unit]) -> None:
    """Plans often leave the relationships out (Apple's sample archive has none), yet draw the lift shaft,
    the stairwell and the escalator on every floor they serve: a unit of one of these categories joins the
    unit of the same category on the next floor up whose footprint it mostly shares. Both ways, as the plan
    does not say which way an escalator runs; units a relationship names are joined by it instead."""
    ordinals = sorted({u.level for u in units})
    next_up = dict(zip(ordinals, ordinals[1:], strict=False))
    for unit in units:
        kind = STACKED_KINDS.get(unit.category)
        if kind is None or unit.level not in next_up:
            continue
        for above in units:
            if above.category != unit.category or above.level != next_up[unit.level]:
                continue
            shared = unit.polygon.intersection(above.polygon).area
            if shared >= STACKED_OVERLAP * min(unit.polygon.area, above.polygon.area):
                here, there = unit.polygon.representative_point(), above.polygon.representative_point()
                g.link(g.nearest(unit.nodes, here.x, here.y), g.nearest(above.nodes, there.x, there.y), kind)
