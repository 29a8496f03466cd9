"""Walking routes on a venue's walkway graph (networkx): shortest by time, across floors.

Escalators are one-way; elevators and stairs cost more than their length (waiting, climbing);
`accessible_only` leaves out stairs and escalators (wheelchairs, prams).

A start or goal joins the graph at the nearest walkway node it can walk to in a straight line without
crossing a wall (`join_node`), and that leg counts in the route's length and time."""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import Polygon

from fingerprints.model import VenueMap

WALK_SPEED_M_S = 1.2
# Extra seconds per use of a connector between floors, beyond walking its plan length.
CONNECTOR_SECONDS = {"escalator": 25.0, "stairs": 30.0, "elevator": 45.0}
NOT_ACCESSIBLE = {"escalator", "stairs"}
# Nodes tried, nearest first, for a straight walk from a point before falling back to its zone's own nodes:
# enough to reach past the nodes of the rooms next door on a dense grid (the demo's 6 m grid).
JOIN_CANDIDATES = 32
DOOR_TOUCH_M = 0.5  # a node this close to a zone's outline is on it (its door)
# A leg may start or end on a wall (a position clamped onto the outline, a door node in a wall's line):
# only a wall met farther than this from both of its ends blocks it.
WALL_CLEARANCE_M = 1e-6


@dataclass
class Route:
    points: list[tuple[int, float, float]]  # (floor, x, y) from start to goal
    seconds: float
    length_m: float
    steps: list[str] = field(default_factory=list)  # "escalator to floor 1", ...

    def on_floor(self, floor: int) -> list[tuple[float, float]]:
        return [(x, y) for f, x, y in self.points if f == floor]


def build_graph(venue: VenueMap, accessible_only: bool = False) -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in venue.nodes:
        graph.add_node(node.id, floor=node.floor, x=node.x, y=node.y)
    for edge in venue.edges:
        if accessible_only and edge.kind in NOT_ACCESSIBLE:
            continue
        a, b = graph.nodes[edge.a], graph.nodes[edge.b]
        metres = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
        seconds = metres / WALK_SPEED_M_S + CONNECTOR_SECONDS.get(edge.kind, 0.0)
        graph.add_edge(edge.a, edge.b, seconds=seconds, metres=metres, kind=edge.kind)
        if not edge.oneway:
            graph.add_edge(edge.b, edge.a, seconds=seconds, metres=metres, kind=edge.kind)
    return graph


_SHARED: dict[tuple[int, bool], tuple[weakref.ref, nx.DiGraph]] = {}
_SHARED_LOCK = threading.Lock()


def shared_graph(venue: VenueMap, accessible_only: bool = False) -> nx.DiGraph:
    """build_graph's graph of a map that is not changed any more (VenueStore.get_map's shared object of a
    version), built once while that object lives: routes are asked for per request, and the graph and its
    wall index (join_node) cost more than the search. A map being changed needs build_graph."""
    key = (id(venue), accessible_only)
    with _SHARED_LOCK:
        held = _SHARED.get(key)
        if held is not None and held[0]() is venue:
            return held[1]
    graph = build_graph(venue, accessible_only)
    with _SHARED_LOCK:
        for stale in [k for k, (ref, _) in _SHARED.items() if ref() is None]:
            del _SHARED[stale]  # maps of versions no longer current, gone with the store's cache
        _SHARED[key] = (weakref.ref(venue), graph)
    return graph


@dataclass
class _FloorNodes:
    """One floor's linked walkway nodes and walls, indexed for join_node (built once per graph and floor)."""

    ids: list[str]
    xy: np.ndarray  # (n, 2) the nodes' coordinates, in the order of ids
    walls: shapely.STRtree


def _floor_nodes(venue: VenueMap, graph: nx.DiGraph, floor: int) -> _FloorNodes | None:
    cache = graph.graph.setdefault("join_floors", {})
    if floor not in cache:
        # Nodes no edge reaches (a grid point that fell on a wall) cannot start or end a route.
        ids = [n for n, d in graph.nodes(data=True) if d["floor"] == floor and graph.degree(n) > 0]
        plan = next((f for f in venue.floors if f.level == floor), None)
        walls = [((w[0], w[1]), (w[2], w[3])) for w in (plan.walls if plan is not None else [])]
        cache[floor] = _FloorNodes(
            ids=ids, xy=np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in ids], dtype=float).reshape(-1, 2),
            walls=shapely.STRtree(shapely.linestrings(walls) if walls else []),
        ) if ids else None
    return cache[floor]


def _walkable(nodes: _FloorNodes, x: float, y: float, candidates: np.ndarray) -> np.ndarray:
    """For each candidate node (indices into nodes): can one walk from (x, y) to it in a straight line
    without crossing a wall? One STRtree query for all the legs."""
    if candidates.size == 0:
        return np.zeros(0, dtype=bool)
    start = np.array([x, y], dtype=float)
    ends = nodes.xy[candidates]
    delta = ends - start
    length = np.hypot(delta[:, 0], delta[:, 1])
    at_node = length <= 2 * WALL_CLEARANCE_M
    trim = (WALL_CLEARANCE_M / np.where(at_node, 1.0, length))[:, None]
    legs = shapely.linestrings(np.stack([start + delta * trim, ends - delta * trim], axis=1))
    hits = nodes.walls.query(legs, predicate="intersects")
    blocked = np.zeros(candidates.size, dtype=bool)
    blocked[hits[0]] = True
    return at_node | ~blocked


def _zone_nodes(venue: VenueMap, nodes: _FloorNodes, floor: int, x: float, y: float) -> np.ndarray:
    """Indices of the nodes in or on the outline of the zone the point stands in (its doors, its inside
    node), nearest first; empty when it stands in none."""
    for zone in venue.zones:
        if zone.floor != floor or len(zone.polygon) < 3:
            continue
        outline = Polygon(zone.polygon)
        if outline.is_valid and shapely.intersects_xy(outline, x, y):
            near = shapely.dwithin(outline, shapely.points(nodes.xy), DOOR_TOUCH_M)
            own = np.flatnonzero(near)
            return own[np.argsort(np.hypot(*(nodes.xy[own] - (x, y)).T))]
    return np.zeros(0, dtype=int)


def join_node(venue: VenueMap, graph: nx.DiGraph, floor: int, x: float, y: float) -> str | None:
    """The walkway node a point joins the graph at: the nearest one it can walk to in a straight line
    without crossing a wall; else (a room whose walkways are out of sight) the nearest such node of the
    zone it stands in, else that zone's nearest door or node; else the nearest node. None when the floor
    has no walkways."""
    nodes = _floor_nodes(venue, graph, floor)
    if nodes is None:
        return None
    order = np.argsort(np.hypot(nodes.xy[:, 0] - x, nodes.xy[:, 1] - y), kind="stable")
    nearest = order[:JOIN_CANDIDATES]
    seen = nearest[_walkable(nodes, x, y, nearest)]
    if seen.size:
        return nodes.ids[seen[0]]
    own = _zone_nodes(venue, nodes, floor, x, y)
    seen = own[_walkable(nodes, x, y, own)]
    pick = seen[0] if seen.size else own[0] if own.size else order[0]
    return nodes.ids[pick]


def _leg_m(point: tuple[int, float, float], node: dict) -> float:
    return math.hypot(point[1] - node["x"], point[2] - node["y"])


def shortest_route(venue: VenueMap, start: tuple[int, float, float], goal: tuple[int, float, float],
                   accessible_only: bool = False, graph: nx.DiGraph | None = None) -> Route | None:
    """Fastest route from start to goal, each (floor, x, y); None when the goal cannot be reached
    (e.g. accessible only and no lift, or a floor with no walkways). Raises ValueError for a point off
    every floor. `graph`: build_graph's (or shared_graph's) graph of this map, to reuse."""
    for floor, x, y in (start, goal):
        plan = next((f for f in venue.floors if f.level == floor), None)
        if plan is None or not (0 <= x <= plan.width_m and 0 <= y <= plan.height_m):
            raise ValueError(f"({floor}, {x:g}, {y:g}) is not on the plan")
    graph = graph if graph is not None else build_graph(venue, accessible_only)
    source, target = join_node(venue, graph, *start), join_node(venue, graph, *goal)
    if source is None or target is None:
        return None
    try:
        path = nx.shortest_path(graph, source, target, weight="seconds")
    except nx.NetworkXNoPath:
        return None
    nodes = [graph.nodes[n] for n in path]
    edges = [graph.edges[a, b] for a, b in zip(path, path[1:], strict=False)]
    joins_m = _leg_m(start, nodes[0]) + _leg_m(goal, nodes[-1])
    steps = [f"{edge['kind']} to floor {graph.nodes[b]['floor']}"
             for edge, b in zip(edges, path[1:], strict=True) if edge["kind"] != "walk"]
    return Route(points=[start] + [(d["floor"], d["x"], d["y"]) for d in nodes] + [goal],
                 seconds=sum(e["seconds"] for e in edges) + joins_m / WALK_SPEED_M_S,
                 length_m=sum(e["metres"] for e in edges) + joins_m, steps=steps)
