"""Navigation views: the route page (server-drawn SVG, Leaflet on request), the JSON route API, plan SVGs.

Query parameters of the page and the API: `from`, `to` (me | shop:<id> | zone:<id> | <floor>,<x>,<y>),
`accessible` (1: lifts only, no stairs or escalators), `to_label` (a name for a point destination, e.g.
"Your car"), and the shopper's `c` token (needed for `me`)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from fingerprints.model import name_in
from fingerprints.plan import PX_PER_M, plan_window, render_plan_svg
from fingerprints.routes import shared_graph
from lightapps.navigation.routing import PlaceError, RouteResult, parse_bool, parse_place, plan_route
from portal.apps.location_consent import location_declined, position_phone, privacy_choices_url
from portal.apps.views import is_zh as _zh
from portal.apps.views import venue_or_404 as _venue_map
from portal.errors import error_body
from portal.i18n import chosen_lang
from portal.services import services
from portal.shopper import shopper_for_venue, shopper_token

bp = Blueprint("navigation", __name__, url_prefix="/v/<venue>", template_folder="templates")

MAX_LABEL = 60
START_COLOUR, GOAL_COLOUR, CONNECTOR_COLOUR, ROUTE_COLOUR = "#2e7d32", "#d32f2f", "#ef6c00", "#d32f2f"
# What the route page says for each PlaceError.kind, in the page's language; %(label)s is the parameter's box on
# the form (PARAM_LABELS). The JSON API answers the error's own English text instead.
PLACE_REFUSALS = {
    "missing": _l("%(label)s: choose a place."),
    "too_long": _l("%(label)s must be at most %(n)s characters."),
    "unplaced": _l("%(label)s: the portal cannot tell where you are right now; choose a place."),
    "unknown_shop": _l("%(label)s: this mall has no such shop."),
    "unknown_zone": _l("%(label)s: this mall has no such area."),
    "no_floor": _l("%(label)s: this mall has no floor %(floor)s."),
    "off_plan": _l("%(label)s: that point is off the plan of floor %(floor)s."),
    "not_a_place": _l("%(label)s: the map does not know this place."),
    "not_yes_or_no": _l("%(label)s must be on or off."),
    "location_off": _l("%(label)s: you turned location-based services off, so the portal does not use where you "
                       "are; choose a place."),
}
PARAM_LABELS = {"from": _l("From"), "to": _l("To"), "to_label": _l("Destination name"),
                "accessible": _l("Step-free (lifts only, no stairs or escalators)")}


def _locate(venue: str):
    # only the phone this shopper's own token is verified on, and not once she declined location-based services
    phone = position_phone(shopper_for_venue(venue))
    return lambda: services().locator.locate(venue, phone) if phone else None


LOCATION_OFF = "location-based services are off in your privacy choices; choose a place"


def _me_refused(venue: str, params: dict[str, str | None]) -> list[PlaceError]:
    """`me` asked for (in `params`, name -> raw value) by a shopper who declined location-based services: a 409
    refusal for each parameter that asks, which says why (not "cannot place you right now")."""
    asked = [param for param, raw in params.items() if (raw or "").strip() == "me"]
    if not asked or not location_declined(shopper_for_venue(venue)):
        return []
    return [PlaceError(param, LOCATION_OFF, 409, kind="location_off") for param in asked]


def _floor_name(venue_map, level: int) -> str:
    return venue_map.floor_name(level, _zh())


def _place_name(place, label: str = "") -> str:
    if place.kind == "me":
        return _("your position")
    if place.kind == "point" and label:
        return label
    if place.kind == "point":
        return _("the chosen point")
    return name_in(place.name_en, place.name_zh, _zh())


def _label_arg() -> str:
    label = request.args.get("to_label", "").strip()
    if len(label) > MAX_LABEL:
        raise PlaceError("to_label", f"is too long (at most {MAX_LABEL} characters)", kind="too_long", n=MAX_LABEL)
    return label


def place_refusal(exc: PlaceError) -> str:
    """What the route page says for `exc`, in the page's language."""
    return str(PLACE_REFUSALS[exc.kind]) % {**exc.params, "label": PARAM_LABELS.get(exc.param, exc.param)}


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def step_text(step: dict, venue_map, result: RouteResult, label: str = "") -> str:
    action = step["action"]
    if action == "start":
        return _("Start at %(place)s (floor %(floor)s)", place=_place_name(result.start),
                 floor=_floor_name(venue_map, step["floor"]))
    if action == "arrive":
        return _("Arrive at %(place)s (floor %(floor)s)", place=_place_name(result.goal, label),
                 floor=_floor_name(venue_map, step["floor"]))
    if action == "walk":
        return _("Walk %(m)s m on floor %(floor)s (about %(min)s min)", m=step["metres"],
                 floor=_floor_name(venue_map, step["floor"]), min=_minutes(step["seconds"]))
    floor = _floor_name(venue_map, step["to_floor"])
    up = step.get("direction") == "up"
    texts = {
        "escalator": (_("Take the escalator up to floor %(floor)s", floor=floor) if up
                      else _("Take the escalator down to floor %(floor)s", floor=floor)),
        "elevator": (_("Take the lift up to floor %(floor)s", floor=floor) if up
                     else _("Take the lift down to floor %(floor)s", floor=floor)),
        "stairs": (_("Take the stairs up to floor %(floor)s", floor=floor) if up
                   else _("Take the stairs down to floor %(floor)s", floor=floor)),
    }
    return texts.get(action, _("Change to floor %(floor)s", floor=floor))


def _markers(venue_map, result: RouteResult, level: int, label: str) -> list[tuple[float, float, str, str]]:
    markers = []
    for i, leg in enumerate(result.legs):
        if leg.floor != level:
            continue
        if i > 0:
            came_from = _floor_name(venue_map, result.legs[i - 1].floor)
            markers.append((*leg.points[0], CONNECTOR_COLOUR, _("Arrive from floor %(floor)s", floor=came_from)))
        if i < len(result.legs) - 1:
            markers.append((*leg.points[-1], CONNECTOR_COLOUR, _("Change floor here")))
    if result.start.floor == level:
        markers.append((result.start.x, result.start.y, START_COLOUR, _place_name(result.start)))
    if result.goal.floor == level:
        markers.append((result.goal.x, result.goal.y, GOAL_COLOUR, _place_name(result.goal, label)))
    return markers


def route_svg(venue_map, level: int, result: RouteResult, label: str = "") -> Markup:
    """The floor plan with this floor's legs and the start/goal/connector markers, as inline SVG."""
    markers = _markers(venue_map, result, level, label)
    shown = [p for leg in result.legs_on(level) for p in leg.points] + [(x, y) for x, y, *_ in markers]
    svg = render_plan_svg(venue_map, level, show_aps=False, lang="zh" if _zh() else "en",
                          window=plan_window(venue_map, level, shown))  # the route's part, legible on a phone
    aria = escape(_("Route on floor %(floor)s", floor=_floor_name(venue_map, level)), {'"': "&quot;"})
    svg = svg.replace("<svg ", f'<svg role="img" class="plan-svg" id="plan-svg-{level}" aria-label="{aria}" ', 1)
    body, closing = svg[: -len("</svg>")], "</svg>"
    s = PX_PER_M
    extra = []
    for leg in result.legs_on(level):
        if len(leg.points) >= 2:
            points = " ".join(f"{x * s:.1f},{y * s:.1f}" for x, y in leg.points)
            extra.append(f'<polyline class="route" points="{points}" fill="none" stroke="{ROUTE_COLOUR}" '
                         f'stroke-width="5" stroke-linecap="round" stroke-linejoin="round" opacity="0.85"/>')
    for x, y, colour, title in markers:
        extra.append(f'<circle cx="{x * s:.1f}" cy="{y * s:.1f}" r="7" fill="{colour}" stroke="#fff" '
                     f'stroke-width="2"><title>{escape(title)}</title></circle>')
    return Markup(body + "".join(extra) + closing)


def route_json(venue_map, result: RouteResult, label: str = "") -> dict:
    def place(p, name):
        return {"kind": p.kind, "ref": p.ref, "floor": p.floor, "x": round(p.x, 2), "y": round(p.y, 2),
                "name": name}

    floors = []
    for level in result.floors:
        legs = [[[round(x, 2), round(y, 2)] for x, y in leg.points] for leg in result.legs_on(level)]
        floors.append({"floor": level, "name": _floor_name(venue_map, level), "legs": legs,
                       "points": [p for leg in legs for p in leg],
                       "length_m": round(sum(leg.metres for leg in result.legs_on(level)), 1)})
    return {
        "venue": venue_map.id,
        "from": place(result.start, _place_name(result.start)),
        "to": place(result.goal, _place_name(result.goal, label)),
        "accessible": result.accessible,
        "seconds": round(result.seconds, 1),
        "minutes": _minutes(result.seconds),
        "length_m": round(result.length_m, 1),
        "floors": floors,
        "points": [[f, round(x, 2), round(y, 2)] for f, x, y in result.points],
        "steps": [{**step, "text": step_text(step, venue_map, result, label)} for step in result.steps],
    }


def _api_error(param: str | None, message: str, status: int, **extra: str):
    """The API's error in the one JSON shape (`error_body`: "field" always there, null when no one parameter is
    at fault); "parameter" repeats the field, as this API has answered from the start; `extra`: links."""
    body = error_body(f"{param}: {message}" if param else message, param)
    if param:
        body["parameter"] = param
    return jsonify({**body, **extra}), status


@bp.get("/route")
def route_api(venue: str):
    """JSON route: 400 naming the bad parameter, 409 when `me` cannot be placed, 404 when no route."""
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        return _api_error(None, "unknown venue", 404)
    refused = _me_refused(venue, {"from": request.args.get("from"), "to": request.args.get("to")})
    if refused:  # with the page where she may change that
        first = refused[0]
        return _api_error(first.param, first.message, first.status, privacy_choices=privacy_choices_url(venue))
    try:
        accessible = parse_bool(request.args.get("accessible"))
        label = _label_arg()
        start = parse_place(venue_map, request.args.get("from"), "from", _locate(venue))
        goal = parse_place(venue_map, request.args.get("to"), "to", _locate(venue))
    except PlaceError as exc:
        return _api_error(exc.param, exc.message, exc.status)
    result = plan_route(venue_map, start, goal, accessible, shared_graph(venue_map, accessible))
    if result is None:
        return _api_error(None, "no step-free route between these places" if accessible
                          else "no route between these places", 404)
    response = jsonify(route_json(venue_map, result, label))
    response.headers["Cache-Control"] = "no-store"
    return response


def _field(parse, errors: list[PlaceError], default=None):
    """parse() or, when it refuses, `default` with the refusal added to `errors`: each field is read on its
    own, so one bad field leaves the others selected and every refusal is shown."""
    try:
        return parse()
    except PlaceError as exc:
        errors.append(exc)
        return default


def _read_route_form(venue: str, venue_map, raw_from: str, raw_to: str) -> dict:
    """The route form's fields: accessible, label, position, start, goal, errors (PlaceErrors, 400 unless
    a `me` destination cannot be placed or `me` is refused: she declined location-based services), notice (the
    start is `me` and cannot be placed)."""
    errors: list[PlaceError] = []
    accessible = _field(lambda: parse_bool(request.args.get("accessible")), errors, False)
    label = _field(_label_arg, errors, "")
    refused = _me_refused(venue, {"from": raw_from, "to": raw_to})  # she declined location-based services
    errors += refused
    refused_params = {exc.param for exc in refused}
    position = _locate(venue)() if not refused and (raw_from == "me" or "me" in raw_to) else None
    unplaced: list[PlaceError] = []
    start = None  # "": no start named, and none by default (she declined location-based services)
    if raw_from and "from" not in refused_params:
        start = _field(lambda: parse_place(venue_map, raw_from, "from", lambda: position), unplaced)
    if unplaced and unplaced[0].status != 409:
        errors += unplaced
    goal = (_field(lambda: parse_place(venue_map, raw_to, "to", lambda: position), errors)
            if raw_to and "to" not in refused_params else None)
    notice = (_("The portal cannot tell where you are right now. Choose where you are:")
              if unplaced and unplaced[0].status == 409 else None)
    return {"accessible": accessible, "label": label, "position": position, "start": start, "goal": goal,
            "errors": errors, "notice": notice}


def _render_page(venue: str, zone_obj=None, default_from: str = "me"):
    """`default_from`: the start when the request names none ("me" only while she has not declined location-based
    services: then the form starts with no place chosen)."""
    venue_map = _venue_map(venue)
    shopper = shopper_for_venue(venue)
    location_off = location_declined(shopper)
    if location_off and default_from == "me":
        default_from = ""
    form = _read_route_form(venue, venue_map, request.args.get("from") or default_from, request.args.get("to", ""))
    accessible, label, position = form["accessible"], form["label"], form["position"]
    start, goal, errors, notice = form["start"], form["goal"], form["errors"], form["notice"]
    status = 400 if any(exc.status != 409 for exc in errors) else 200
    result = None
    if start is not None and goal is not None and not errors:
        result = plan_route(venue_map, start, goal, accessible, shared_graph(venue_map, accessible))
        if result is None:
            notice = (_("There is no step-free route between these places.") if accessible
                      else _("There is no route between these places."))
    shops = sorted(venue_map.shops, key=lambda s: (s.floor, s.name))
    plans, leaflet_data = [], None
    if result is not None:
        for level in result.floors:
            plans.append({"floor": level, "name": _floor_name(venue_map, level),
                          "svg": route_svg(venue_map, level, result, label)})
        leaflet_data = {"floors": [{
            "floor": level, "name": _floor_name(venue_map, level),
            "w": venue_map.floor(level).width_m, "h": venue_map.floor(level).height_m,
            "plan": url_for("navigation.plan", venue=venue, level=level, lang="zh" if _zh() else "en"),
            "legs": [[[x, y] for x, y in leg.points] for leg in result.legs_on(level)],
            "markers": [list(m) for m in _markers(venue_map, result, level, label)],
        } for level in result.floors]}
    zh = _zh()
    extra_from = extra_to = None
    if start is not None and start.kind in ("point", "zone"):
        extra_from = (start.ref, _place_name(start))
    if goal is not None and goal.kind in ("point", "zone", "me"):
        extra_to = (goal.ref, _place_name(goal, label))
    return render_template(
        "navigation/route.html", venue=venue_map, zone=zone_obj, shops=shops, zh=zh,
        selected_from=start.ref if start is not None else "", selected_to=goal.ref if goal is not None else "",
        extra_from=extra_from, extra_to=extra_to, accessible=accessible, label=label,
        result=result, steps=[step_text(s, venue_map, result, label) for s in result.steps] if result else [],
        plans=plans, leaflet_data=leaflet_data, errors=[(exc.param, place_refusal(exc)) for exc in errors],
        notice=notice, position=position, location_off=location_off,
        privacy_url=privacy_choices_url(venue) if location_off else None,
        position_zone=venue_map.zone(position.zone) if position is not None and position.zone else None,
        shopper_token=shopper_token(shopper), minutes=_minutes(result.seconds) if result else 0,
        floor_name=lambda level: _floor_name(venue_map, level),
    ), status


@bp.get("/navigate")
def route_page(venue: str):
    return _render_page(venue)


@bp.get("/navigate/zone/<zone>")
def landing(venue: str, zone: str):
    """Landing view (venue, zone): the route form, starting where the portal places the shopper, else
    from the middle of the zone."""
    venue_map = _venue_map(venue)
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    phone = position_phone(shopper_for_venue(venue))  # none once she declined location-based services
    position = services().locator.locate(venue, phone) if phone else None
    return _render_page(venue, zone_obj, default_from="me" if position is not None else f"zone:{zone}")


@bp.get("/plan/<int(signed=True):level>.svg")
def plan(venue: str, level: int):
    """A floor plan with no route (the Leaflet image overlay)."""
    venue_map = _venue_map(venue)
    if level not in {f.level for f in venue_map.floors}:
        abort(404, _("Unknown floor."))
    # The page names the language in the URL (`_render_page`); none is English, never the cookie's or the
    # browser's: the image is cached publicly by its URL.
    lang = "zh" if chosen_lang() == "zh" else "en"
    svg = render_plan_svg(venue_map, level, show_aps=False, lang=lang)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=300"})
