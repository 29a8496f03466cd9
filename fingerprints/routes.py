"""Walking routes on a venue's walkway graph (networkx): shortest by time, across floors.

Escalators are one-way; elevators and stairs cost more than their length (waiting, climbing);
`accessible_only` leaves out stairs and escalators (wheelchairs, prams)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx

from fingerprints.model import VenueMap

WALK_SPEED_M_S = 1.2
# Extra seconds per use of a connector between floors, beyond walking its plan length.
CONNECTOR_SECONDS = {"escalator": 25.0, "stairs": 30.0, "elevator": 45.0}
NOT_ACCESSIBLE = {"escalator", "stairs"}


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


def nearest_node(graph: nx.DiGraph, floor: int, x: float, y: float) -> str:
    # Nodes no edge reaches (a grid point that fell on a wall) cannot start or end a route.
    candidates = [(math.hypot(d["x"] - x, d["y"] - y), n) for n, d in graph.nodes(data=True)
                  if d["floor"] == floor and graph.degree(n) > 0]
    if not candidates:
        raise ValueError(f"floor {floor} has no walkways")
    return min(candidates)[1]


def shortest_route(venue: VenueMap, start: tuple[int, float, float], goal: tuple[int, float, float],
                   accessible_only: bool = False, graph: nx.DiGraph | None = None) -> Route | None:
    """Fastest route from start to goal, each (floor, x, y); None when the goal cannot be reached
    (e.g. accessible only and no lift). Raises ValueError for a point off every floor."""
    for floor, x, y in (start, goal):
        plan = next((f for f in venue.floors if f.level == floor), None)
        if plan is None or not (0 <= x <= plan.width_m and 0 <= y <= plan.height_m):
            raise ValueError(f"({floor}, {x:g}, {y:g}) is not on the plan")
    graph = graph if graph is not None else build_graph(venue, accessible_only)
    source, target = nearest_node(graph, *start), nearest_node(graph, *goal)
    try:
        path = nx.shortest_path(graph, source, target, weight="seconds")
    except nx.NetworkXNoPath:
        return None
    nodes = [graph.nodes[n] for n in path]
    points = [start] + [(d["floor"], d["x"], d["y"]) for d in nodes] + [goal]
    seconds = sum(graph.edges[a, b]["seconds"] for a, b in zip(path, path[1:], strict=False))
    metres = sum(graph.edges[a, b]["metres"] for a, b in zip(path, path[1:], strict=False))
    metres += math.hypot(start[1] - nodes[0]["x"], start[2] - nodes[0]["y"])
    metres += math.hypot(goal[1] - nodes[-1]["x"], goal[2] - nodes[-1]["y"])
    steps = [f"{graph.edges[a, b]['kind']} to floor {graph.nodes[b]['floor']}"
             for a, b in zip(path, path[1:], strict=False) if graph.edges[a, b]["kind"] != "walk"]
    return Route(points=points, seconds=seconds + (metres - sum(
        graph.edges[a, b]["metres"] for a, b in zip(path, path[1:], strict=False))) / WALK_SPEED_M_S,
        length_m=metres, steps=steps)
