"""Route places and legs: parse a `from`/`to` value, run the walkway-graph search, split the result into
per-floor legs and connector steps. No Flask here (views.py turns steps into words).

A place is written `me` (where the portal places the shopper), `shop:<id>`, `zone:<id>` (the zone's
middle) or `<floor>,<x>,<y>` (metres on that floor's plan)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx

from core.errors import InputError
from core.settings import yes_or_no
from fingerprints.model import VenueMap
from fingerprints.routes import WALK_SPEED_M_S, shortest_route

MAX_PLACE = 100
_POINT = re.compile(r"^\s*(-?\d{1,3})\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class PlaceError(InputError):
    """A bad `from`/`to`/`accessible` value: `param` names it; `status` is the HTTP status to answer; `message`
    is the API's English text. `kind` says which refusal it is (the route page words each kind in the page's
    language: views.PLACE_REFUSALS) and `params` the values that wording may show."""

    template = "{field}: {message}"

    def __init__(self, param: str, message: str, status: int = 400, *, kind: str, **params: object) -> None:
        super().__init__(param, message)
        self.param = param
        self.status = status
        self.kind, self.params = kind, params


@dataclass(frozen=True)
class Place:
    kind: str  # me, shop, zone, point
    floor: int
    x: float
    y: float
    name_en: str = ""
    name_zh: str = ""
    ref: str = ""  # the value it was parsed from (shop:kopi, 1,20,30, me)

    @property
    def xyz(self) -> tuple[int, float, float]:
        return (self.floor, self.x, self.y)


@dataclass
class Leg:
    floor: int
    points: list[tuple[float, float]]
    metres: float


@dataclass
class RouteResult:
    start: Place
    goal: Place
    accessible: bool
    points: list[tuple[int, float, float]]
    seconds: float
    length_m: float
    legs: list[Leg]
    steps: list[dict] = field(default_factory=list)

    @property
    def floors(self) -> list[int]:
        """Floors with a leg to draw, in the order the route visits them (each once)."""
        seen: list[int] = []
        for leg in self.legs:
            if leg.floor not in seen:
                seen.append(leg.floor)
        return seen

    def legs_on(self, floor: int) -> list[Leg]:
        return [leg for leg in self.legs if leg.floor == floor]


def parse_bool(raw: str | None, param: str = "accessible") -> bool:
    """A yes/no query argument (core.settings.yes_or_no; absent is no)."""
    flag = yes_or_no(raw, empty=False)
    if flag is None:
        raise PlaceError(param, "must be 1 or 0", kind="not_yes_or_no")
    return flag


def _on_plan(venue: VenueMap, param: str, floor: int, x: float, y: float) -> None:
    plan = next((f for f in venue.floors if f.level == floor), None)
    if plan is None:
        raise PlaceError(param, f"there is no floor {floor}", kind="no_floor", floor=floor)
    if not (0 <= x <= plan.width_m and 0 <= y <= plan.height_m):
        raise PlaceError(param, f"({x:g}, {y:g}) is off the plan of floor {plan.name} "
                                f"(0-{plan.width_m:g} by 0-{plan.height_m:g} m)", kind="off_plan", floor=plan.name)


def parse_place(venue: VenueMap, raw: str | None, param: str,
                locate: Callable[[], object | None] | None = None) -> Place:
    """One `from`/`to` value -> Place. `locate` returns the shopper's Position (or None) for `me`.
    Raises PlaceError naming `param` (status 400; 409 when `me` cannot be placed right now)."""
    if raw is None or not raw.strip():
        raise PlaceError(param, "is required (me, shop:<id>, zone:<id> or <floor>,<x>,<y>)", kind="missing")
    if len(raw) > MAX_PLACE:
        raise PlaceError(param, f"is too long (at most {MAX_PLACE} characters)", kind="too_long", n=MAX_PLACE)
    value = raw.strip()
    if value == "me":
        position = locate() if locate is not None else None
        if position is None:
            raise PlaceError(param, "the portal cannot place you right now; choose a starting point", 409,
                             kind="unplaced")
        floor, x, y = int(position.floor), float(position.x), float(position.y)
        plan = next((f for f in venue.floors if f.level == floor), None)
        if plan is None:
            raise PlaceError(param, "the portal cannot place you right now; choose a starting point", 409,
                             kind="unplaced")
        # an estimate can fall a little outside the outline: clamp it onto the plan
        x, y = min(max(x, 0.0), plan.width_m), min(max(y, 0.0), plan.height_m)
        return Place("me", floor, x, y, "Your position", "您的位置", "me")
    if value.startswith("shop:"):
        shop_id = value[5:]
        shop = next((s for s in venue.shops if s.id == shop_id), None)
        if shop is None:
            raise PlaceError(param, f"unknown shop {shop_id!r}", kind="unknown_shop")
        _on_plan(venue, param, shop.floor, shop.x, shop.y)
        return Place("shop", shop.floor, shop.x, shop.y, shop.name, shop.name_zh, value)
    if value.startswith("zone:"):
        zone = venue.zone(value[5:])
        if zone is None or not zone.polygon:
            raise PlaceError(param, f"unknown zone {value[5:]!r}", kind="unknown_zone")
        x = sum(px for px, _ in zone.polygon) / len(zone.polygon)
        y = sum(py for _, py in zone.polygon) / len(zone.polygon)
        _on_plan(venue, param, zone.floor, x, y)
        return Place("zone", zone.floor, x, y, zone.name, zone.name_zh, value)
    match = _POINT.match(value)
    if not match:
        raise PlaceError(param, "must be me, shop:<id>, zone:<id> or <floor>,<x>,<y>", kind="not_a_place")
    floor, x, y = int(match.group(1)), float(match.group(2)), float(match.group(3))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise PlaceError(param, "x and y must be numbers", kind="not_a_place")
    _on_plan(venue, param, floor, x, y)
    return Place("point", floor, x, y, "Chosen point", "所选地点", f"{floor},{x:g},{y:g}")


def _metres(points: list[tuple[float, float]]) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False))


def _connector_kinds(route_steps: list[str]) -> list[str]:
    """fingerprints.routes writes each non-walk edge as '<kind> to floor <n>'."""
    return [step.rsplit(" to floor ", 1)[0] for step in route_steps]


def plan_route(venue: VenueMap, start: Place, goal: Place, accessible: bool = False,
               graph: nx.DiGraph | None = None) -> RouteResult | None:
    """The fastest route, split into legs per floor and steps; None when there is none (e.g. step-free
    only and no lift reaches the goal's floor, or a floor with no walkways). `graph`: the map's walkway graph
    for `accessible` (fingerprints.routes.shared_graph), built here when not given."""
    route = shortest_route(venue, start.xyz, goal.xyz, accessible_only=accessible, graph=graph)
    if route is None:
        return None
    points = [route.points[0]]
    for point in route.points[1:]:
        if point != points[-1]:
            points.append(point)
    runs: list[list[tuple[int, float, float]]] = [[points[0]]]
    for point in points[1:]:
        if point[0] == runs[-1][-1][0]:
            runs[-1].append(point)
        else:
            runs.append([point])
    kinds = _connector_kinds(route.steps)
    if len(kinds) != len(runs) - 1:
        kinds = ["connector"] * (len(runs) - 1)
    legs = [Leg(run[0][0], [(x, y) for _, x, y in run], _metres([(x, y) for _, x, y in run])) for run in runs]

    steps: list[dict] = [{"action": "start", "floor": start.floor, "place": start.ref}]
    for i, leg in enumerate(legs):
        if leg.metres >= 0.5:
            steps.append({"action": "walk", "floor": leg.floor, "metres": round(leg.metres),
                          "seconds": round(leg.metres / WALK_SPEED_M_S)})
        if i < len(kinds):
            to_floor = legs[i + 1].floor
            previous = steps[-1]
            # a lift ridden past a floor: one step, not one per floor
            if previous.get("action") == kinds[i] and previous.get("to_floor") == leg.floor and leg.metres < 0.5:
                previous["to_floor"] = to_floor
                previous["direction"] = "up" if to_floor > previous["from_floor"] else "down"
                continue
            steps.append({"action": kinds[i], "from_floor": leg.floor, "to_floor": to_floor,
                          "direction": "up" if to_floor > leg.floor else "down"})
    steps.append({"action": "arrive", "floor": goal.floor, "place": goal.ref})
    # floors only ridden through (a lift passing a floor) have nothing to draw
    drawn = [leg for i, leg in enumerate(legs) if leg.metres >= 0.5 or i in (0, len(legs) - 1)]
    return RouteResult(start=start, goal=goal, accessible=accessible, points=points, seconds=route.seconds,
                       length_m=route.length_m, legs=drawn, steps=steps)
