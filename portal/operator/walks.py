"""Live validation walks: the operator walks a known route with a phone on the WiFi and, at each point of
it, taps "I am here"; the page shows the live position's error there, floor right or wrong, and whether a
probe would land on the right zone's app, with a summary. The position is the live one (services().locator,
the code a probe gets its position from), taken when the point is marked.

    /console/ops/<venue>/walk                 start a walk: a route (between two zones along the walkways,
                                              or typed points), the phone (MAC or client id)
    /console/ops/<venue>/walk/<id>            the route with a button per point, the marks, the summary
    /console/ops/<venue>/walk/<id>/mark       POST point=<index>
    /console/ops/<venue>/walk/<id>/finish     POST: the result goes to the set-up checklist

The phone's MAC is hashed at once (the client id the feeds use) and never stored or logged."""

from __future__ import annotations

import math
import re
import time

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.security import normalise_mac
from fingerprints.model import VenueMap
from fingerprints.quality import ValidationWalk, WalkResult
from fingerprints.routes import shortest_route
from portal.auth import audit, current_account
from portal.errors import input_error_text
from portal.maps.validation import LIVE_WALK_SOURCE, MAX_ROUTE_POINTS, LiveWalks, ValidationWalks
from portal.operator.blueprint import bp, wants_json
from portal.operator.mapedit import load_map
from portal.services import services
from portal.tracking.estimate import summarise_walk
from portal.tracking.positions import landing_zone

CLIENT_ID = re.compile(r"^[0-9a-f]{24}$")
ROUTE_SPACING_M = 8.0  # a walkway route is marked about this often (and at every floor change)
POINT_LINE = re.compile(r"^\s*(-?\d+)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*$")


def _client(raw: str) -> str:
    """The client id of a MAC (hashed as the feeds hash it) or a client id as the console shows it."""
    raw = (raw or "").strip().lower()
    if CLIENT_ID.match(raw):
        return raw
    try:
        normalise_mac(raw)
    except ValueError:
        raise ValueError(_("Enter the phone's WiFi MAC address (e.g. 02:1a:2b:3c:4d:5e) or its client id.")) from None
    return services().hasher.client_id(raw)


def _typed_route(venue_map: VenueMap, text: str) -> list[tuple[int, float, float]]:
    levels = {f.level: f for f in venue_map.floors}
    route = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        m = POINT_LINE.match(line)
        floor = levels.get(int(m.group(1))) if m else None
        if floor is None or not (0 <= float(m.group(2)) <= floor.width_m and 0 <= float(m.group(3)) <= floor.height_m):
            raise ValueError(_("Route line %(n)s: write floor,x,y in metres, on a floor of this venue.", n=n))
        route.append((floor.level, float(m.group(2)), float(m.group(3))))
    return route


def _walkway_route(venue_map: VenueMap, start: str, goal: str) -> list[tuple[int, float, float]]:
    zones = {z.id: z for z in venue_map.zones}
    if start not in zones or goal not in zones or start == goal:
        raise ValueError(_("Choose two different zones for the route."))

    def centre(zone_id: str) -> tuple[int, float, float]:
        z = zones[zone_id]
        return (z.floor, sum(x for x, _ in z.polygon) / len(z.polygon), sum(y for _, y in z.polygon) / len(z.polygon))

    found = shortest_route(venue_map, centre(start), centre(goal))
    if found is None:
        raise ValueError(_("No walkway joins these two zones."))
    return thin_route(found.points, ROUTE_SPACING_M)


def thin_route(points: list[tuple[int, float, float]], spacing_m: float) -> list[tuple[int, float, float]]:
    """Points along a route about `spacing_m` apart (rounded to 0.1 m): the start, the goal (once), both ends
    of every floor change (where the lift, escalator or stairs is taken and where it arrives), and points
    evenly spread along each floor's stretch of the route, interpolated on long walkway links, so that no two
    points that follow each other on a floor are more than `spacing_m` apart along the route (nor ever the
    same point). A route that would have more than MAX_ROUTE_POINTS points is marked more sparsely instead."""
    spacing = spacing_m
    for _attempt in range(40):
        marked = _route_marks(points, spacing)
        if len(marked) <= MAX_ROUTE_POINTS:
            return marked
        spacing *= 1.25
    return marked[:MAX_ROUTE_POINTS - 1] + marked[-1:]


def _route_marks(points: list[tuple[int, float, float]], spacing_m: float) -> list[tuple[int, float, float]]:
    legs: list[list[tuple[int, float, float]]] = []  # the route's stretches on one floor each, in order
    for point in points:
        if legs and legs[-1][0][0] == point[0]:
            legs[-1].append(point)
        else:
            legs.append([point])
    marked: list[tuple[int, float, float]] = []
    for leg in legs:
        steps = [math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(leg, leg[1:], strict=False)]
        length = sum(steps)
        parts = max(1, math.ceil(length / spacing_m - 1e-9))
        targets = [length * k / parts for k in range(parts + 1)] if length > 0 else [0.0]
        i, start_of_step = 0, 0.0  # the step (leg[i] -> leg[i + 1]) holding the target, and where it starts
        for k, target in enumerate(targets):
            while i < len(steps) - 1 and start_of_step + steps[i] < target:
                start_of_step += steps[i]
                i += 1
            if k == 0 or k == len(targets) - 1:  # the leg's own ends, exactly
                floor, x, y = leg[0] if k == 0 else leg[-1]
            elif steps[i] == 0:
                floor, x, y = leg[i]
            else:  # on the link leg[i] -> leg[i + 1]
                t = min(1.0, max(0.0, (target - start_of_step) / steps[i]))
                a, b = leg[i], leg[i + 1]
                floor, x, y = a[0], a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])
            point = (int(floor), round(x, 1), round(y, 1))
            if not marked or marked[-1] != point:
                marked.append(point)
    return marked


def walk_summary(walk: dict, version: int) -> ValidationWalk | None:
    """The walk as a ValidationWalk (the set-up checklist's record): one point per route point visited, in
    route order, with the route's length (the points never marked are counted as not visited), or None
    before the first mark."""
    # A route point marked more than once counts once, by its LAST mark (not an average): marking again is the
    # operator trying again (she tapped before reaching the point, the phone was not placed yet), and the
    # last mark is the one the page shows beside the point. The marks are in the order made.
    last = {m["point"]: m for m in walk["marks"]}
    points = [WalkResult(m["at"], m["floor"], m["x"], m["y"], m["zone"], m["est_floor"],
                         _num(m["est_x"]), _num(m["est_y"]), m["landed"], _num(m["error_m"]))
              for _, m in sorted(last.items())]
    return summarise_walk(walk.get("venue", ""), version, points, route_points=len(walk["route"])) if points else None


def _num(value) -> float:
    return math.nan if value is None else float(value)


def _fig(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _walk_or_404(venue: str, walk_id: str) -> dict:
    walk = LiveWalks(services().db).get(venue, walk_id[:40]) if re.fullmatch(r"[\w-]{1,40}", walk_id) else None
    if walk is None:
        abort(404, _("No such walk (walks are kept 6 hours)."))
    return walk


@bp.get("/<venue>/walk")
def walk_start_page(venue: str, error: str | None = None, status: int = 200):
    venue_map = load_map(venue)
    walks = LiveWalks(services().db).recent(venue)
    return render_template("operator/walk_start.html", venue=venue, map=venue_map, walks=walks, error=error,
                           form=request.form), status


@bp.post("/<venue>/walk")
def walk_start(venue: str):
    venue_map = load_map(venue)
    try:
        client = _client(request.form.get("phone", ""))
        if (request.form.get("points") or "").strip():
            route = _typed_route(venue_map, request.form["points"])
        else:
            route = _walkway_route(venue_map, request.form.get("from", ""), request.form.get("to", ""))
        if not 1 <= len(route) <= MAX_ROUTE_POINTS:
            raise ValueError(_("A route has 1 to %(n)s points.", n=MAX_ROUTE_POINTS))
    except ValueError as exc:
        return walk_start_page(venue, error=input_error_text(exc), status=400)
    name = (request.form.get("name") or "").strip()[:80]
    walk_id = LiveWalks(services().db).start(venue, client, route, current_account().username, venue_map.version, name)
    audit("validation.live_start", venue, walk=walk_id, points=len(route))
    return redirect(url_for("operator.walk_page", venue=venue, walk_id=walk_id), code=303)


@bp.get("/<venue>/walk/<walk_id>")
def walk_page(venue: str, walk_id: str):
    walk = _walk_or_404(venue, walk_id)
    walk["venue"] = venue
    summary = walk_summary(walk, walk["version"])
    if wants_json():
        return jsonify({"id": walk["id"], "route": walk["route"], "marks": walk["marks"],
                        "finished": walk["finished"], "summary": _summary_json(summary, len(walk["marks"]))})
    marked = {m["point"] for m in walk["marks"]}
    next_point = next((i for i in range(len(walk["route"])) if i not in marked), None)
    return render_template("operator/walk.html", venue=venue, walk=walk, summary=summary, next_point=next_point,
                           chart=error_chart(walk["marks"]))


def _summary_json(summary: ValidationWalk | None, marks: int) -> dict | None:
    """The summary (over the route points visited, each once) and `marks`, every tap made."""
    if summary is None:
        return None
    return {"route_points": summary.route_points, "visited": len(summary.points), "not_visited": summary.not_visited,
            "not_placed": summary.not_placed, "marks": marks,
            "zone_rate": _fig(summary.zone_rate), "floor_rate": _fig(summary.floor_rate),
            "mean_error_m": _fig(summary.mean_error_m), "median_error_m": _fig(summary.median_error_m),
            "p95_error_m": _fig(summary.p95_error_m)}


@bp.post("/<venue>/walk/<walk_id>/mark")
def walk_mark(venue: str, walk_id: str):
    """The operator is at route point `point` now: score the phone's live position against it."""
    svc = services()
    walk = _walk_or_404(venue, walk_id)
    raw = request.form.get("point", "")
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= len(walk["route"]):
        abort(400, _("Choose a point of the route."))
    point = int(raw)
    floor, x, y = walk["route"][point]
    now = time.time()
    position = svc.locator.locate(venue, walk["client"], now)
    model = svc.models.get(venue)
    truth = model.zones.zone_at(floor, x, y) if model is not None else None
    mark = {"point": point, "at": round(now, 3), "floor": floor, "x": x, "y": y, "zone": truth,
            "est_floor": None, "est_x": None, "est_y": None, "landed": None, "error_m": None, "source": None}
    if position is not None:
        mark.update(est_floor=position.floor, est_x=round(position.x, 2), est_y=round(position.y, 2),
                    landed=landing_zone(position), error_m=round(math.hypot(position.x - x, position.y - y), 2),
                    source=position.source)
    try:
        LiveWalks(svc.db).mark(venue, walk["id"], mark)
    except ValueError as exc:
        abort(409, input_error_text(exc))
    except LookupError:
        abort(404, _("No such walk (walks are kept 6 hours)."))
    if wants_json():
        return jsonify(mark)
    return redirect(url_for("operator.walk_page", venue=venue, walk_id=walk["id"]) + f"#p{point + 1}", code=303)


@bp.post("/<venue>/walk/<walk_id>/finish")
def walk_finish(venue: str, walk_id: str):
    """Close the walk; its summary goes to the venue's validation walks (the set-up checklist)."""
    svc = services()
    walk = _walk_or_404(venue, walk_id)
    walk["venue"] = venue
    summary = walk_summary(walk, walk["version"])
    if summary is None:
        abort(400, _("Mark at least one point before finishing the walk."))
    if not LiveWalks(svc.db).finish(venue, walk["id"]):
        abort(409, _("This walk is finished."))
    entry = ValidationWalks(svc.db).record(venue, summary, current_account().username,
                                           f"{LIVE_WALK_SOURCE}{walk['name'] or walk['id']}")
    audit("validation.live_finish", venue, walk=walk["id"], points=entry["points"])
    flash(_("Validation walk recorded: %(n)s of %(t)s route points visited (%(v)s not visited, %(u)s not placed), "
            "right zone %(z)s.", n=entry["points"], t=summary.route_points, v=summary.not_visited,
            u=summary.not_placed, z=f"{(entry['zone_rate'] or 0):.0%}"))
    return redirect(url_for("operator.walk_page", venue=venue, walk_id=walk["id"]), code=303)


def error_chart(marks: list[dict], width: int = 320, height: int = 90) -> dict | None:
    """An SVG bar chart of the error at each mark (drawn by the template; no JavaScript): bars in metres,
    red where the landing was wrong, grey where the phone was not placed."""
    if not marks:
        return None
    top = max([m["error_m"] for m in marks if m["error_m"] is not None] + [10.0])
    step = width / len(marks)
    bars = []
    for i, m in enumerate(marks):
        err = m["error_m"]
        h = height if err is None else max(2.0, height * err / top)
        colour = "#bbb" if err is None else ("#1a7f37" if m["landed"] == m["zone"] else "#c62828")
        bars.append({"x": round(i * step + 1, 1), "y": round(height - h, 1), "w": round(max(step - 2, 1), 1),
                     "h": round(h, 1), "colour": colour, "label": f"{m['point'] + 1}: "
                     + ("-" if err is None else f"{err:.1f} m")})
    return {"width": width, "height": height, "top": round(top, 1), "bars": bars}
