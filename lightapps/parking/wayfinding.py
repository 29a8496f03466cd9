"""The walk back to the car: where it starts, the route (fingerprints.routes), and the plan drawn as SVG.

The route starts where the portal places the shopper (the WiFi fix), or, when it cannot, at the car
park's entrance from the mall: the zone config's ``entrance`` ("floor,x,y" in metres) if set, else the
walkway door on the garage zone's outline, else the middle of the zone."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from core.errors import N_
from fingerprints.plan import PX_PER_M, plan_window, render_plan_svg
from fingerprints.routes import NOT_ACCESSIBLE, Route, shared_graph, shortest_route

Point = tuple[int, float, float]
BAY_W_M, BAY_D_M = 2.4, 4.8
STATE_COLOURS = {"free": "#4caf50", "occupied": "#e57373"}
UNKNOWN_COLOUR = "#bdbdbd"


ENTRANCE_FORMAT = N_("Entrance must be floor,x,y in metres, e.g. 0,40,30")


class EntranceError(ValueError):
    """A configured entrance that cannot be used. `template % params` is the English text; the owner console
    shows `_(template, **params)` (portal/owner/forms.py `field_error`), so the N_ templates are catalog msgids."""

    def __init__(self, template: str, **params: object) -> None:
        self.template, self.params = template, params
        super().__init__(template % params if params else template)


def parse_entrance(raw: str) -> Point | None:
    """'0,40,30' -> (0, 40.0, 30.0); '' -> None. EntranceError (a ValueError) with a user-facing message."""
    raw = (raw or "").strip()
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 3:
        raise EntranceError(ENTRANCE_FORMAT)
    try:
        floor, x, y = int(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise EntranceError(ENTRANCE_FORMAT) from None
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        raise EntranceError(N_("Entrance x and y must be metres on the plan"))
    return floor, x, y


def check_entrance(venue_map, point: Point) -> None:
    """EntranceError unless the point lies on a floor plan of the venue: `entrance()` would silently ignore it
    and start the walk at the garage door, so the owner is told when saving instead."""
    floor, x, y = point
    plan = next((f for f in venue_map.floors if f.level == floor), None)
    if plan is None:
        raise EntranceError(N_("Entrance floor %(floor)s is not a floor of this venue (its floors: %(floors)s)"),
                            floor=floor, floors=", ".join(str(f.level) for f in venue_map.floors))
    if not on_plan(venue_map, point):
        raise EntranceError(N_("Entrance %(x)s,%(y)s is off the plan: floor %(floor)s is %(width)s by %(height)s "
                               "metres"), x=f"{x:g}", y=f"{y:g}", floor=floor, width=f"{plan.width_m:g}",
                            height=f"{plan.height_m:g}")


def _on_outline(polygon, x: float, y: float, tolerance: float = 0.5) -> bool:
    for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        if math.hypot(ax + t * dx - x, ay + t * dy - y) <= tolerance:
            return True
    return False


def on_plan(venue_map, point: Point) -> bool:
    floor, x, y = point
    plan = next((f for f in venue_map.floors if f.level == floor), None)
    return plan is not None and 0 <= x <= plan.width_m and 0 <= y <= plan.height_m


def entrance(venue_map, zone, config: dict | None = None) -> Point:
    """Where the walk starts when the portal cannot place the shopper."""
    try:
        configured = parse_entrance((config or {}).get("entrance") or "")
    except ValueError:
        configured = None
    if configured is not None and on_plan(venue_map, configured):
        return configured
    polygon = list(zone.polygon)
    doors = [n for n in venue_map.nodes if n.floor == zone.floor and n.id.startswith("door")
             and _on_outline(polygon, n.x, n.y)]
    if doors:
        cx = sum(f.width_m for f in venue_map.floors if f.level == zone.floor) / 2
        door = min(doors, key=lambda n: (abs(n.x - cx), n.id))  # the one facing the middle of the mall
        return zone.floor, door.x, door.y
    return (zone.floor, sum(x for x, _ in polygon) / len(polygon), sum(y for _, y in polygon) / len(polygon))


def route(venue_map, start: Point, goal: Point, step_free: bool = False) -> Route | None:
    """Fastest walk from start to goal (on the map version's one graph and wall index, as navigation's); with
    `step_free`, lifts only (no stairs, no escalators: trolleys, prams, wheelchairs). None when there is none
    (or a point is off the plan)."""
    try:
        return shortest_route(venue_map, start, goal, accessible_only=step_free,
                              graph=shared_graph(venue_map, step_free))
    except (ValueError, KeyError):
        return None


def is_step_free(found: Route) -> bool:
    """No stairs and no escalators on the way (the same floor throughout, or lifts)."""
    return not any(step.split(" ", 1)[0] in NOT_ACCESSIBLE for step in found.steps)


_STEP = re.compile(r"^(\w+) to floor (-?\d+)$")


def route_steps(found: Route, name_of) -> list[tuple[str, str]]:
    """[(connector kind, level name)] for the floor changes of a route."""
    out = []
    for step in found.steps:
        match = _STEP.match(step)
        if match:
            out.append((match.group(1), name_of(int(match.group(2)))))
    return out


@dataclass
class Marker:
    x: float
    y: float
    colour: str
    title: str
    label: str = ""


def plan_svg(venue_map, level: int, *, zone=None, bays=(), states: dict[str, str] | None = None,
             highlight: str | None = None, route_points: list[tuple[float, float]] = (),
             markers: list[Marker] = (), lang: str = "en", svg_id: str = "", label: str = "") -> Markup:
    """The level's plan cropped to the garage (and the route on it), bays as small rectangles (coloured
    by status when `states` is given, the car's bay highlighted), the route and markers on top. `label`: the
    text alternative a screen reader reads for the picture."""
    s = PX_PER_M
    svg = render_plan_svg(venue_map, level, show_aps=False, lang=lang)
    focus = [(x, y) for x, y in route_points] + [(m.x, m.y) for m in markers]
    if zone is not None and zone.floor == level:
        focus += list(zone.polygon)
    focus += [(b.x, b.y) for b in bays if b.level == level]
    x0, y0, x1, y1 = plan_window(venue_map, level, focus)
    w, h = (x1 - x0) * s, (y1 - y0) * s
    head_end = svg.index(">") + 1
    attrs = (f' id={quoteattr(svg_id)}' if svg_id else "") + (f" aria-label={quoteattr(label)}" if label else "")
    head = (f'<svg xmlns="http://www.w3.org/2000/svg"{attrs} width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="{x0 * s:.1f} {y0 * s:.1f} {w:.1f} {h:.1f}" font-family="sans-serif" font-size="9" '
            f'role="img" class="plan">')
    body = svg[head_end:-len("</svg>")]
    if zone is not None and bays:  # the bays cover the zone's name; the page says where the car is
        label = escape(zone.label(lang == "zh"))
        body = re.sub(r'<text [^>]*>' + re.escape(label) + "</text>", "", body, count=1)
    parts = [head, body]
    for bay in bays:
        if bay.level != level:
            continue
        colour = "#ffffff" if states is None else STATE_COLOURS.get(states.get(bay.id, ""), UNKNOWN_COLOUR)
        is_car = bay.id == highlight
        stroke = ' stroke="#b71c1c" stroke-width="2"' if is_car else ' stroke="#9e9e9e" stroke-width=".5"'
        fill = "#ff9800" if is_car else colour
        parts.append(
            f'<rect class="bay" data-bay={quoteattr(bay.id)} x="{(bay.x - BAY_D_M / 2) * s:.1f}" '
            f'y="{(bay.y - BAY_W_M / 2) * s:.1f}" width="{BAY_D_M * s:.1f}" height="{BAY_W_M * s:.1f}" '
            f'fill="{fill}"{stroke}><title>{escape(bay.id)}</title></rect>')
    if len(route_points) >= 2:
        points = " ".join(f"{x * s:.1f},{y * s:.1f}" for x, y in route_points)
        parts.append(f'<polyline class="route" points="{points}" fill="none" stroke="#1565c0" stroke-width="3" '
                     f'stroke-linejoin="round" stroke-dasharray="6 3"/>')
    for m in markers:
        parts.append(f'<circle cx="{m.x * s:.1f}" cy="{m.y * s:.1f}" r="6" fill="{escape(m.colour)}" stroke="#fff" '
                     f'stroke-width="2"><title>{escape(m.title)}</title></circle>')
        if m.label:
            parts.append(f'<text x="{m.x * s + 8:.1f}" y="{m.y * s - 8:.1f}" font-size="11" font-weight="700" '
                         f'fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke">{escape(m.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
