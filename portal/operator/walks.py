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
from typing import TYPE_CHECKING

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.security import normalise_mac
from fingerprints.model import VenueMap
from fingerprints.routes import shortest_route
from portal.auth import audit, current_account
from portal.maps.validation import MAX_ROUTE_POINTS, LiveWalks, ValidationWalks
from portal.operator.blueprint import bp, wants_json
from portal.operator.mapedit import load_map
from portal.services import services
from portal.tracking.positions import landing_zone

if TYPE_CHECKING:
    from fingerprints.quality import ValidationWalk

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
    """Points along a route about `spacing_m` apart: the start, the goal, every floor change, and every
    point `spacing_m` or more of walking after the last one kept."""
    kept = [points[0]]
    walked = 0.0
    for prev, here in zip(points, points[1:], strict=False):
        walked += math.hypot(here[1] - prev[1], here[2] - prev[2])
        if here[0] != kept[-1][0] or walked >= spacing_m:
            kept.append(here)
            walked = 0.0
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return [(int(f), round(x, 1), round(y, 1)) for f, x, y in kept][:MAX_ROUTE_POINTS]


def walk_summary(walk: dict, version: int) -> ValidationWalk | None:
    """The marks as a ValidationWalk (the set-up checklist's record), or None before the first mark."""
    from fingerprints.quality import WalkResult  # lazy: matplotlib (every worker and CLI start paid ~0.7 s)
    from portal.tracking.estimate import summarise_walk  # lazy: the estimate pulls in matplotlib

    points = [WalkResult(m["at"], m["floor"], m["x"], m["y"], m["zone"], m["est_floor"],
                         _num(m["est_x"]), _num(m["est_y"]), m["landed"], _num(m["error_m"])) for m in walk["marks"]]
    return summarise_walk(walk.get("venue", ""), version, points) if points else None


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
        return walk_start_page(venue, error=str(exc), status=400)
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
                        "finished": walk["finished"], "summary": _summary_json(summary)})
    marked = {m["point"] for m in walk["marks"]}
    next_point = next((i for i in range(len(walk["route"])) if i not in marked), None)
    return render_template("operator/walk.html", venue=venue, walk=walk, summary=summary, next_point=next_point,
                           chart=error_chart(walk["marks"]))


def _summary_json(summary: ValidationWalk | None) -> dict | None:
    if summary is None:
        return None
    return {"marks": len(summary.points), "zone_rate": _fig(summary.zone_rate), "floor_rate": _fig(summary.floor_rate),
            "mean_error_m": _fig(summary.mean_error_m), "median_error_m": _fig(summary.median_error_m),
            "p95_error_m": _fig(summary.p95_error_m)}


@bp.post("/<venue>/walk/<walk_id>/mark")
def walk_mark(venue: str, walk_id: str):
    """The operator is at route point `point` now: score the phone's live position against it."""
    svc = services()
    walk = _walk_or_404(venue, walk_id)
    raw = request.form.get("point", "")
    if not raw.isdigit() or int(raw) >= len(walk["route"]):
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
        abort(409, str(exc))
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
                                           f"live walk {walk['name'] or walk['id']}")
    audit("validation.live_finish", venue, walk=walk["id"], points=entry["points"])
    flash(_("Validation walk recorded: %(n)s route points, right zone %(z)s.", n=entry["points"],
            z=f"{(entry['zone_rate'] or 0):.0%}"))
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
