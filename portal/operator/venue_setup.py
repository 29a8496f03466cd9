"""Venue set-up pages: floors and their plan images and scale, access points, zones, the walkway graph,
and import/export of the map (IMDF zip) and of the fingerprint samples (CSV).

    /console/ops/<venue>/setup                         floors, imports and exports
    /console/ops/<venue>/setup/floor/<level>?tool=...  one floor's plan: ap | zone | scale | walkway
Every change is a new map version (portal.operator.mapedit.change_map); bad input gets a 400 page naming
the problem and stores nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from fingerprints import edits, imdf, samples_io
from fingerprints.edits import EDGE_KINDS, MAX_PLAN_M, ZONE_KINDS
from fingerprints.model import ID_RE, Floor, VenueMap, normalise_bssid
from portal.errors import input_error_text
from portal.i18n import get_locale
from portal.operator.blueprint import bp
from portal.operator.mapedit import (
    PLAN_MAX_BYTES,
    UPLOAD_MAX_BYTES,
    change_map,
    check_plan_image,
    form_float,
    form_point,
    import_notes_warning,
    load_map,
    overlay_svg,
    plan_click,
    plan_image,
    plan_size,
    px_per_m,
    store_plan_image,
)
from portal.operator.opening import samples_import_args, samples_mode, survey_notes
from portal.operator.quality import map_version_arg
from portal.operator.surveys import imported_offset_warning
from portal.operator.zone_release import named_zones, zone_ids, zones_in_use
from portal.services import services

TOOLS = ("ap", "zone", "scale", "walkway")
POINT_RE = re.compile(r"^\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*$")
UPLOAD_SLACK = 64 * 1024  # the form's other fields and the multipart framing around the files
# Every console endpoint that takes files, with the bytes of files it may take (each file at most its own limit:
# UPLOAD_MAX_BYTES, PLAN_MAX_BYTES). Any other endpoint keeps the app-wide body limit (MAX_CONTENT_LENGTH, 1 MiB,
# sized for RSSI reports): a file form missing here is refused with a 413 above that.
# tests/operator/test_onboarding_review_fixes.py checks every file form of the templates is listed.
UPLOAD_LIMITS = {
    "operator.upload_plan": 2 * PLAN_MAX_BYTES,  # up to this we say "too large" ourselves; beyond, 413
    "operator.import_imdf": UPLOAD_MAX_BYTES,
    "operator.import_samples": 2 * UPLOAD_MAX_BYTES,  # the samples CSV and UJIIndoorLoc's WAP sidecar
    "operator.validation_upload": 2 * UPLOAD_MAX_BYTES,  # a route CSV and the walk's readings
    "operator.add_step": 2 * UPLOAD_MAX_BYTES,  # a draft's IMDF, AP list (+ Meraki/UniFi companion) or survey
}


@bp.before_app_request
def _upload_limits():
    """Uploads here are larger than the app-wide body limit (sized for RSSI reports). Set before the
    console's CSRF check reads the form."""
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    if limit:
        if (request.content_length or 0) > limit + UPLOAD_SLACK:
            # Answered here, before anything reads the body: the shared error page reads the form
            # (the shopper `c` parameter) and would fail on an over-limit body.
            return render_template("operator/too_large.html", venue=(request.view_args or {}).get("venue", ""),
                                   mb=limit // 2**20), 413
        request.max_content_length = limit + UPLOAD_SLACK


def _lang() -> str:
    return "zh" if str(get_locale()) == "zh" else "en"


def _upload(name: str, limit: int, what: str) -> tuple[bytes, str]:
    f = request.files.get(name)
    if f is None or not f.filename:
        raise ValueError(_("Choose a %(what)s file to upload.", what=what))
    data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(_("The %(what)s file is too large; at most %(mb)s MB.", what=what, mb=limit // 2**20))
    if not data:
        raise ValueError(_("The %(what)s file is empty.", what=what))
    return data, f.filename[:100]


class ZonesInUse(Exception):
    """A one-step change (a direct IMDF import, a rollback) that would remove zones in use, asked without ticking
    RELEASE_FIELD: refused, nothing stored (raised inside VenueStore.edit, or before the rollback)."""

    def __init__(self, zones: list[str]):
        super().__init__(", ".join(zones))
        self.zones = zones


RELEASE_FIELD = "release_zones"  # the checkbox that confirms releasing the zones in use a change removes


def refuse_unconfirmed_release(venue: str, before: Iterable[str], after: Iterable[str]) -> None:
    """Raise ZonesInUse when the change from `before` to `after` (zone ids) removes zones in use
    (zone_release.zones_in_use) and the form did not tick RELEASE_FIELD: a change made in one step releases them
    at once (release_left_zones), with no draft page to show it first."""
    if request.form.get(RELEASE_FIELD):
        return
    in_use = zones_in_use(venue, set(before) - set(after))
    if in_use:
        raise ZonesInUse(in_use)


def _floor_or_404(venue_map: VenueMap, level: int) -> Floor:
    try:
        return venue_map.floor(level)
    except KeyError:
        abort(404, _("This venue has no floor %(level)s.", level=level))


# -- the set-up home: floors, import, export ------------------------------------------------------------


@bp.get("/<venue>/setup")
def setup(venue: str, release: list[str] | None = None):
    """`release`: the zones in use a refused import would have removed, named by the import form's checkbox."""
    venue_map = load_map(venue)
    return render_template("operator/setup.html", venue=venue, map=venue_map, release=release,
                           release_field=RELEASE_FIELD)


def _setup_failed(venue: str, message: str):
    flash(message, "error")
    return setup(venue), 400


@bp.post("/<venue>/setup/floors")
def add_floor(venue: str):
    try:
        raw_level = (request.form.get("level") or "").strip()
        if not re.fullmatch(r"-?\d{1,3}", raw_level):
            raise ValueError(_("Level must be a whole number (0 = ground floor, -1 = first basement)."))
        level = int(raw_level)
        name = (request.form.get("name") or "").strip()
        if not 1 <= len(name) <= 20:
            raise ValueError(_("Give the floor a name of 1 to 20 characters (e.g. G, L1, B1)."))
        width = form_float("width_m", _("Width (m)"), 1, MAX_PLAN_M)
        height = form_float("height_m", _("Height (m)"), 1, MAX_PLAN_M)
        version = change_map(venue, lambda m: edits.add_floor(m, level, name, width, height), "floor.add",
                             level=level, name=name)
    except ValueError as exc:
        return _setup_failed(venue, input_error_text(exc))
    flash(_("Floor %(name)s added (map version %(v)s).", name=name, v=version))
    return redirect(url_for("operator.floor", venue=venue, level=level), code=303)


@bp.get("/<venue>/setup/export.imdf.zip")
def export_imdf(venue: str):
    venue_map = load_map(venue)
    try:
        data = imdf.imdf_zip_bytes(imdf.export_imdf(venue_map))
    except ValueError as exc:
        return _setup_failed(venue, _("The map cannot be exported as IMDF: %(e)s", e=input_error_text(exc)))
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{venue}-v{venue_map.version}.imdf.zip"'})


@bp.post("/<venue>/setup/import-imdf")
def import_imdf(venue: str):
    try:
        data, filename = _upload("imdf", UPLOAD_MAX_BYTES, _("IMDF archive"))
        # ImdfError (a ValueError) lists every problem; the notes say what was imported all the same, changed
        imported, notes = imdf.import_imdf_with_notes(data, venue_id=venue)

        def change(m: VenueMap) -> None:
            before = zone_ids(m)
            edits.merge_imported(m, imported.to_dict())
            refuse_unconfirmed_release(venue, before, zone_ids(m))  # under the map lock: exactly what it removes

        # the zones the archive no longer has are released by change_map, which says what was let go of
        version = change_map(venue, change, "map.import_imdf", file=filename)
    except ZonesInUse as exc:
        flash(_("Nothing was imported: the archive lacks zones in use (managed by owners, with an app set up or "
                "with moments rules): %(zones)s. Importing it would release them: take them from their owner "
                "accounts, drop their apps and settings and delete their moments rules. To go on, tick \"Release "
                "these zones\" and choose the file again; to keep them, import an archive that keeps their units "
                "(a draft shows what an import changes before it is applied).", zones=named_zones(exc.zones)), "error")
        return setup(venue, release=exc.zones), 409
    except ValueError as exc:
        return _setup_failed(venue, _("Nothing was imported. %(e)s", e=input_error_text(exc)))
    flash(_("IMDF archive imported as map version %(v)s.", v=version))
    warning = import_notes_warning(notes)
    if warning:
        flash(warning, "error")
    return redirect(url_for("operator.setup", venue=venue), code=303)


@bp.get("/<venue>/setup/samples.csv")
def export_samples(venue: str):
    fmt = request.args.get("format", "mallportal")
    if fmt not in samples_io.FORMATS:
        abort(400, _("Unknown sample format; choose one of %(f)s.", f=", ".join(samples_io.FORMATS)))
    venue_map = load_map(venue)
    text, sidecar = samples_io.export_samples(venue_map, fmt)
    name = f"{venue}-v{venue_map.version}-{fmt}"
    if request.args.get("part") == "waps":
        if sidecar is None:
            abort(400, _("Only the UJIIndoorLoc layout has a WAP sidecar file."))
        text, name = sidecar, name + ".waps"
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.post("/<venue>/setup/import-samples")
def import_samples(venue: str):
    try:
        mode = samples_mode()
        data, filename = _upload("samples", UPLOAD_MAX_BYTES, _("samples CSV"))
        options = samples_import_args()  # the one reader of a samples form's options (the draft's step too)
        count = {}

        def change(m: VenueMap) -> None:
            samples, count["notes"] = samples_io.import_samples_with_notes(m, data, name=filename, **options)
            count["n"] = len(samples)
            count["warning"] = imported_offset_warning(m, samples)  # against the map before this import
            edits.replace_samples(m, [asdict(s) for s in samples], mode)

        version = change_map(venue, change, "samples.import", file=filename, mode=mode)
    except ValueError as exc:
        return _setup_failed(venue, _("Nothing was imported. %(e)s", e=input_error_text(exc)))
    mode_words = _("replace") if mode == "replace" else _("append")  # the form's own words, not the code
    flash(_("%(n)s reference points imported (%(mode)s) as map version %(v)s.", n=count["n"], mode=mode_words,
            v=version))
    if count["warning"]:
        flash(count["warning"], "error")
    survey_notes(count["notes"])
    return redirect(url_for("operator.setup", venue=venue), code=303)


# -- one floor -------------------------------------------------------------------------------------------


def _pick_from_args(floor: Floor) -> tuple[float, float] | None:
    """A click on the plan in a GET form (no JavaScript): plan pixels; not Enter or Space on it (`plan_click`)."""
    if plan_click(request.args, "pick") is None:
        return None
    w, h = plan_size(floor)
    try:
        px, py = float(request.args.get("pick.x", "")), float(request.args.get("pick.y", ""))
    except ValueError:
        return None
    if 0 <= px <= w and 0 <= py <= h:
        return px, py
    return None


@bp.get("/<venue>/setup/floor/<int(signed=True):level>")
def floor(venue: str, level: int):
    venue_map = load_map(venue)
    fl = _floor_or_404(venue_map, level)
    tool = request.args.get("tool", "ap")
    if tool not in TOOLS:
        tool = "ap"
    w, h = plan_size(fl)
    s = px_per_m(fl)
    points = (request.args.get("points") or "")[:4000]
    scale = {k: (request.args.get(k) or "")[:12] for k in ("x1", "y1", "x2", "y2", "metres")}
    pick = _pick_from_args(fl)
    if pick is not None and tool == "zone":
        points = (points + f" {pick[0] / s:.2f},{pick[1] / s:.2f}").strip()
    elif pick is not None and tool == "scale":
        first = "1" if not scale["x1"] or (scale["x2"] and scale["y2"]) else "2"
        if first == "1":
            scale["x2"] = scale["y2"] = ""
        scale[f"x{first}"], scale[f"y{first}"] = f"{pick[0]:.0f}", f"{pick[1]:.0f}"
    image = plan_image(venue, fl.plan_image) if fl.plan_image else None
    return render_template(
        "operator/floor.html", venue=venue, map=venue_map, floor=fl, tool=tool, width=w, height=h,
        px_per_m=s, points=points, scale=scale, image=image, zone_kinds=ZONE_KINDS, edge_kinds=EDGE_KINDS,
        form=request.form if request.method == "POST" else {},
    )


def _floor_failed(venue: str, level: int, message: str, tool: str):
    flash(message, "error")
    request.args = request.args.copy()
    request.args["tool"] = tool
    return floor(venue, level), 400


def _floor_done(venue: str, level: int, tool: str, message: str):
    flash(message)
    return redirect(url_for("operator.floor", venue=venue, level=level, tool=tool), code=303)


@bp.get("/<venue>/setup/floor/<int(signed=True):level>/overlay.svg")
def overlay(venue: str, level: int):
    svc = services()
    version = map_version_arg()
    venue_map = svc.venues.get_map(venue, version) if version else load_map(venue)
    if venue_map is None:
        abort(404, _("No such map version."))
    _floor_or_404(venue_map, level)
    walkway = request.args.get("walkway") == "1"
    markers = []
    try:
        mx, my = float(request.args.get("mx", "")), float(request.args.get("my", ""))
        markers.append((mx, my, "#ef6c00", _("survey point")))
    except ValueError:
        pass
    svg = overlay_svg(venue_map, level, walkway=walkway, samples=request.args.get("samples") != "0",
                      markers=markers, lang=_lang())
    cache = "private, max-age=86400" if version else "no-store"
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": cache})


@bp.get("/<venue>/plans/<image_id>")
def plan_file(venue: str, image_id: str):
    if not re.fullmatch(r"[0-9a-f]{24}", image_id):
        abort(404, _("No such plan image."))
    image = plan_image(venue, image_id)
    if image is None:
        abort(404, _("No such plan image."))
    return Response(image["data"], mimetype=image["type"],
                    headers={"Cache-Control": "private, max-age=31536000, immutable"})


@bp.post("/<venue>/setup/floor/<int(signed=True):level>/plan")
def upload_plan(venue: str, level: int):
    _floor_or_404(load_map(venue), level)
    try:
        f = request.files.get("plan")
        if f is None or not f.filename:
            raise ValueError(_("Choose a floor-plan image to upload."))
        data = f.read(PLAN_MAX_BYTES + 1)
        mime, width, height = check_plan_image(data)
        image_id = store_plan_image(venue, data, mime, width, height)
        version = change_map(venue, lambda m: edits.set_plan_image(m, level, image_id, width, height),
                             "floor.plan", level=level, image=image_id, width_px=width, height_px=height)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "scale")
    return _floor_done(venue, level, "scale", _("Plan uploaded (%(w)s x %(h)s px, map version %(v)s). Now set its "
                                                "scale: click two points a known distance apart.",
                                                w=width, h=height, v=version))


@bp.post("/<venue>/setup/floor/<int(signed=True):level>/scale")
def set_scale(venue: str, level: int):
    fl = _floor_or_404(load_map(venue), level)
    try:
        if not fl.plan_image:
            raise ValueError(_("Upload a floor-plan image first; the scale is set on it."))
        w, h = plan_size(fl)
        x1, y1 = form_float("x1", "x1 (px)", 0, w), form_float("y1", "y1 (px)", 0, h)
        x2, y2 = form_float("x2", "x2 (px)", 0, w), form_float("y2", "y2 (px)", 0, h)
        metres = form_float("metres", _("Distance (m)"), 0.1, 10_000)
        dist = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
        if dist < 5:
            raise ValueError(_("The two points are too close together (%(d)s px); pick points further apart.",
                               d=f"{dist:.1f}"))
        new_mpp = metres / dist
        version = change_map(venue, lambda m: edits.rescale_floor(m, level, new_mpp), "floor.scale",
                             level=level, metres_per_pixel=round(new_mpp, 6))
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "scale")
    return _floor_done(venue, level, "ap", _("Scale set: %(cm)s cm per pixel (map version %(v)s).",
                                             cm=f"{new_mpp * 100:.2f}", v=version))


@bp.post("/<venue>/setup/floor/<int(signed=True):level>/aps")
def place_ap(venue: str, level: int):
    fl = _floor_or_404(load_map(venue), level)
    try:
        bssid = _bssid_field()
        name = (request.form.get("name") or "").strip()
        if len(name) > 40:
            raise ValueError(_("The AP name is too long (at most 40 characters)."))
        x, y = form_point(fl)
        moved = {}

        def change(m: VenueMap) -> None:
            moved["moved"] = edits.place_ap(m, bssid, level, x, y, name)

        version = change_map(venue, change, "ap.place", bssid=bssid, level=level, x=x, y=y)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "ap")
    what = _("moved") if moved["moved"] else _("placed")
    return _floor_done(venue, level, "ap", _("AP %(b)s %(what)s at (%(x)s m, %(y)s m); map version %(v)s.",
                                             b=bssid, what=what, x=f"{x:g}", y=f"{y:g}", v=version))


@bp.post("/<venue>/setup/aps/delete")
def delete_ap(venue: str):
    level = _level_field()
    try:
        bssid = _bssid_field()  # the model's own words are English: said in the page's language here
        version = change_map(venue, lambda m: edits.delete_ap(m, bssid), "ap.delete", bssid=bssid)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "ap")
    return _floor_done(venue, level, "ap", _("AP %(b)s removed; map version %(v)s.", b=bssid, v=version))


def _bssid_field() -> str:
    """The form's BSSID, normalised; ValueError in the page's language when it is not one."""
    try:
        return normalise_bssid((request.form.get("bssid") or "").strip())
    except ValueError:
        raise ValueError(_("%(b)s is not a BSSID; write six hex pairs, e.g. f0:9f:c2:1a:00:01.",
                           b=repr((request.form.get("bssid") or "")[:40]))) from None


def _level_field() -> int:
    raw = request.form.get("floor", "")
    if not re.fullmatch(r"-?\d{1,3}", raw):
        abort(400, _("Which floor? (floor field missing)"))
    return int(raw)


def parse_points(text: str) -> list[tuple[float, float]]:
    """"x1,y1 x2,y2 ..." (metres) -> points; ValueError naming the bad one."""
    items = [t for t in re.split(r"[\s;]+", text.strip()) if t]
    points = []
    for k, item in enumerate(items, 1):
        match = POINT_RE.match(item)
        try:
            point = (float(match.group(1)), float(match.group(2))) if match else None
        except ValueError:
            point = None
        if point is None:
            raise ValueError(_("Point %(k)s (%(p)s) is not \"x,y\" in metres.", k=k, p=repr(item[:30])))
        points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return points


@bp.post("/<venue>/setup/floor/<int(signed=True):level>/zones")
def add_zone(venue: str, level: int):
    _floor_or_404(load_map(venue), level)
    try:
        zone_id = (request.form.get("id") or "").strip().lower()
        if not ID_RE.match(zone_id):
            raise ValueError(_("Zone id: lower-case letters, digits, - and _, at most 48 (e.g. cafe-2)."))
        name = (request.form.get("name") or "").strip()
        name_zh = (request.form.get("name_zh") or "").strip() or name
        if not 1 <= len(name) <= 60 or len(name_zh) > 60:
            raise ValueError(_("Give the zone a name of 1 to 60 characters."))
        kind = request.form.get("kind", "shop")
        if kind not in ZONE_KINDS:
            raise ValueError(_("Unknown zone kind."))
        points = parse_points(request.form.get("points") or "")
        version = change_map(venue, lambda m: edits.add_zone(m, zone_id, name, level, points, kind, name_zh),
                             "zone.add", zone=zone_id, level=level, points=len(points))
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "zone")
    return _floor_done(venue, level, "zone", _("Zone %(z)s saved; map version %(v)s.", z=zone_id, v=version))


@bp.post("/<venue>/setup/zones/delete")
def delete_zone(venue: str):
    level = _level_field()
    zone_id = (request.form.get("zone") or "")[:48]
    try:
        # released by change_map, as every zone that leaves the map: its owners, app settings and moments rules must
        # not pass to a zone drawn again with its id (zone_release)
        version = change_map(venue, lambda m: edits.delete_zone(m, zone_id), "zone.delete", zone=zone_id)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "zone")
    return _floor_done(venue, level, "zone", _("Zone %(z)s deleted; map version %(v)s.", z=zone_id, v=version))


@bp.post("/<venue>/setup/floor/<int(signed=True):level>/nodes")
def add_node(venue: str, level: int):
    fl = _floor_or_404(load_map(venue), level)
    try:
        node_id = (request.form.get("id") or "").strip().lower()
        if not ID_RE.match(node_id):
            raise ValueError(_("Node id: lower-case letters, digits, - and _, at most 48."))
        x, y = form_point(fl)
        entrance = request.form.get("entrance") == "1"  # shoppers on foot come in here from outside
        version = change_map(venue, lambda m: edits.add_node(m, node_id, level, x, y, entrance), "walk.node_add",
                             node=node_id, level=level, entrance=entrance)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "walkway")
    if entrance:
        return _floor_done(venue, level, "walkway", _("Node %(n)s added as an entrance; map version %(v)s.",
                                                      n=node_id, v=version))
    return _floor_done(venue, level, "walkway", _("Node %(n)s added; map version %(v)s.", n=node_id, v=version))


@bp.post("/<venue>/setup/edges")
def add_edge(venue: str):
    level = _level_field()
    try:
        a, b = (request.form.get("a") or "").strip(), (request.form.get("b") or "").strip()
        kind = request.form.get("kind", "walk")
        if kind not in EDGE_KINDS:
            raise ValueError(_("Unknown link kind."))
        oneway = request.form.get("oneway") == "1"
        version = change_map(venue, lambda m: edits.add_edge(m, a, b, kind, oneway), "walk.edge_add",
                             a=a, b=b, kind=kind)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "walkway")
    return _floor_done(venue, level, "walkway", _("Link %(a)s - %(b)s added; map version %(v)s.", a=a, b=b,
                                                  v=version))


@bp.post("/<venue>/setup/walkway/delete")
def delete_walkway(venue: str):
    """Delete a node (and its links) or one link (a, b)."""
    level = _level_field()
    node = (request.form.get("node") or "").strip()
    a, b = (request.form.get("a") or "").strip(), (request.form.get("b") or "").strip()
    try:
        version = change_map(venue, lambda m: edits.delete_walkway(m, node, a, b), "walk.delete", node=node, a=a, b=b)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "walkway")
    return _floor_done(venue, level, "walkway", _("Deleted; map version %(v)s.", v=version))


@bp.post("/<venue>/setup/walkway/entrance")
def set_entrance(venue: str):
    """Mark a walkway node as an entrance, where shoppers on foot come in from outside (the quality report's
    live estimate starts their arrivals there), or unmark it (clear=1). Done, it opens the node's own floor: the
    posted `floor` is the page the form was on, which need not be the node's (a node id typed in)."""
    level = _level_field()
    node = (request.form.get("node") or "").strip()
    clear = request.form.get("clear") == "1"
    marked: list[int] = []  # the node's floor, once marked

    def mark(m: VenueMap) -> None:
        edits.set_entrance(m, node, clear)
        marked.extend(n.floor for n in m.nodes if n.id == node)

    try:
        if not node:
            raise ValueError(_("Which node? (node field missing)"))
        version = change_map(venue, mark, "walk.entrance", node=node, entrance=not clear)
    except ValueError as exc:
        return _floor_failed(venue, level, input_error_text(exc), "walkway")
    level = marked[0] if marked else level
    if clear:
        return _floor_done(venue, level, "walkway", _("Node %(n)s is no longer an entrance; map version %(v)s.",
                                                      n=node, v=version))
    return _floor_done(venue, level, "walkway", _("Node %(n)s marked as an entrance; map version %(v)s.", n=node,
                                                  v=version))
