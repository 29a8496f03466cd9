"""Shared pieces of the operator's map pages: reading form values, changing the map as a new version
(VenueStore.edit: under the map lock; audit and model rebuild by the map listeners; the zones it removed released,
zone_release), floor-plan images in Redis, and the SVG overlay drawn over a floor plan.

Plan coordinates: every floor has a "plan pixel" grid. A floor with an uploaded plan image uses the
image's pixels (metres_per_pixel set from the image width, then by the operator's two-point scale);
a floor without one is drawn from its walls at fingerprints.plan.PX_PER_M pixels per metre. The map
itself holds metres only."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Iterable, Mapping
from xml.sax.saxutils import escape

from flask import abort, flash, request
from flask_babel import gettext as _

from fingerprints.edits import EditError
from fingerprints.model import Floor, VenueMap
from fingerprints.plan import PX_PER_M, ZONE_COLOURS
from fingerprints.store import MapSaveUnknownError
from portal.apps.views import is_zh
from portal.errors import input_error_text
from portal.operator.keys import OpsKeys
from portal.operator.zone_release import release_left_zones, zones_in_use
from portal.services import services

PLAN_MAX_BYTES = 5 * 1024 * 1024
PLAN_MAX_PX = 8000
PLAN_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
UPLOAD_MAX_BYTES = 32 * 1024 * 1024  # IMDF archives and sample CSVs of a large venue


def zone_names(venue_map: VenueMap) -> dict[str, str]:
    """Zone id -> its name in the page's language (the ?lang= choice, its cookie or the browser's): the footfall,
    insights and moments pages' and the quality page's. Here, below every console page that shows zones."""
    zh = is_zh()
    return {z.id: z.label(zh) for z in venue_map.zones}


# -- form values ---------------------------------------------------------------------------------------


def form_float(name: str, label: str | None = None, low: float = -math.inf, high: float = math.inf,
               values=None) -> float:
    values = request.form if values is None else values
    raw = (values.get(name) or "").strip()
    label = label or name
    if not raw:
        raise ValueError(_("%(field)s is required.", field=label))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(_("%(field)s must be a number.", field=label)) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(_("%(field)s must be between %(low)s and %(high)s.", field=label, low=f"{low:g}",
                           high=f"{high:g}"))
    return value


def import_notes_warning(notes: list[Exception]) -> str | None:
    """The operator's warning for what an IMDF import read otherwise than written (fingerprints.imdf
    `import_imdf_with_notes`: a unit drawn in several parts keeping its largest, a sliver cut, a category kept
    unlisted, holes filled...): the first ten notes, in the page's language, and how many more."""
    if not notes:
        return None
    more = f"; … +{len(notes) - 10}" if len(notes) > 10 else ""
    shown = "; ".join(input_error_text(note) for note in notes[:10]) + more
    return _("The import noted: %(notes)s", notes=shown)


def dropped_zones_warning(venue: str, dropped: Iterable[str]) -> str | None:
    """The operator's warning on a draft's page, before it is applied, for the zones applying it would remove while
    in use (`zones_in_use`): applying releases them (zone_release). A re-import keeps the ids of the zones it still
    has (fingerprints.edits.merge_imported), so these are units the archive no longer has."""
    in_use = zones_in_use(venue, dropped)
    if not in_use:
        return None
    return _("Applying this removes zones that owners manage, that have an app set up or that moments rules are "
             "about: %(zones)s. They will be let go of: taken from their owner accounts, their apps and settings "
             "dropped, their moments rules deleted, so that a zone given one of these ids again starts afresh. "
             "To keep them, import an archive that keeps their units.", zones=", ".join(in_use))


def form_level(venue_map: VenueMap, name: str = "floor", values=None) -> Floor:
    values = request.form if values is None else values
    raw = (values.get(name) or "").strip()
    try:
        return venue_map.floor(int(raw))
    except (KeyError, ValueError):
        raise ValueError(_("Unknown floor %(floor)s.", floor=repr(raw[:20]))) from None


def px_per_m(floor: Floor) -> float:
    if floor.plan_image and floor.metres_per_pixel:
        return 1.0 / floor.metres_per_pixel
    return PX_PER_M


def plan_size(floor: Floor) -> tuple[int, int]:
    s = px_per_m(floor)
    return max(1, round(floor.width_m * s)), max(1, round(floor.height_m * s))


def plan_click(values: Mapping[str, str], name: str) -> str | None:
    """How the floor plan, an <input type=image name=`name`>, sent this form: "pointer" (operator.js saw a pointer
    click and marked it, name.pointer=1), "click" (its coordinates without JavaScript), or None: not sent by the plan,
    or sent from the keyboard. Enter or Space on the plan (and a screen reader's activation) submit it at (0, 0);
    operator.js stops that, and without JavaScript an unmarked (0, 0) is taken as such a press, never as a click at
    the plan's corner."""
    raw_x, raw_y = values.get(f"{name}.x"), values.get(f"{name}.y")
    if raw_x in (None, ""):
        return None
    if values.get(f"{name}.pointer") == "1":
        return "pointer"
    return None if (raw_x.strip(), (raw_y or "").strip()) == ("0", "0") else "click"


def form_point(floor: Floor, spot: str = "spot", x: str = "x", y: str = "y") -> tuple[float, float]:
    """A place on the floor in metres: from an <input type=image name=spot> click (plan pixels), or typed x/y metres.
    Typed x/y win over a click operator.js did not mark (the plan pressed, or clicked by an assistive technology,
    while the operator had typed the place); a marked pointer click wins over what was typed before it."""
    how = plan_click(request.form, spot)
    typed = any((request.form.get(k) or "").strip() for k in (x, y))
    if how == "pointer" or (how == "click" and not typed):
        w, h = plan_size(floor)
        px = form_float(f"{spot}.x", _("Click x"), 0, w)
        py = form_float(f"{spot}.y", _("Click y"), 0, h)
        s = px_per_m(floor)
        return round(min(px / s, floor.width_m), 2), round(min(py / s, floor.height_m), 2)
    return (round(form_float(x, "x (m)", 0, floor.width_m), 2), round(form_float(y, "y (m)", 0, floor.height_m), 2))


# -- changing the map ----------------------------------------------------------------------------------


def load_map(venue: str) -> VenueMap:
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("This venue has no map yet."))
    return venue_map


def change_map(venue: str, change: Callable[[VenueMap], object], action: str, **detail) -> int:
    """Apply `change` (usually a fingerprints.edits function) to the venue's map as one unit of work
    (VenueStore.edit: lock, private copy, checked write; audited and the model rebuilt by the map
    listeners). A refused edit raises ValueError with a translated message and stores nothing; a map
    another change holds raises MapBusyError, a catalog error the views say with input_error_text. A store
    fault that leaves it unknown whether the change was stored is a 503 saying so, never "nothing was stored"
    (the operator would make the change twice). Zones the change removed are released and the operator told
    (`release_and_warn`). Returns the new version."""
    try:
        with services().venues.edit(venue, action, **detail) as venue_map:
            change(venue_map)
    except EditError as exc:
        raise ValueError(translate_edit_error(exc)) from None
    except MapSaveUnknownError as exc:
        abort(503, _(exc.template))
    release_and_warn(venue)
    return venue_map.version


def release_and_warn(venue: str, *, restored: Iterable[str] = ()) -> None:
    """The console's side of zone_release.release_left_zones, once a change is stored: the zones off the current map
    released, and what was let go of flashed (for a rollback, which of the zones it brought back, `restored`, came
    back bare)."""
    for warning in release_left_zones(venue, restored=restored):
        flash(warning, "error")


def translate_edit_error(exc: EditError) -> str:
    return _(exc.template, **exc.params)


# -- plan images ---------------------------------------------------------------------------------------


def check_plan_image(data: bytes) -> tuple[str, int, int]:
    """(mime type, width, height) of an uploaded floor plan, or ValueError saying what is wrong."""
    from PIL import Image, UnidentifiedImageError  # lazy: Pillow only when a floor plan is uploaded

    if not data:
        raise ValueError(_("Choose a floor-plan image to upload."))
    if len(data) > PLAN_MAX_BYTES:
        raise ValueError(_("The plan image is too large (%(mb)s MB); at most %(max)s MB.",
                           mb=f"{len(data) / 2**20:.1f}", max=PLAN_MAX_BYTES // 2**20))
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
            if fmt not in PLAN_FORMATS:
                raise ValueError(_("The plan must be a PNG or JPEG image (this is %(fmt)s).", fmt=fmt or "?"))
            if width > PLAN_MAX_PX or height > PLAN_MAX_PX:
                raise ValueError(_("The plan image is %(w)s x %(h)s pixels; at most %(max)s x %(max)s.",
                                   w=width, h=height, max=PLAN_MAX_PX))
            if width < 10 or height < 10:
                raise ValueError(_("The plan image is too small (%(w)s x %(h)s pixels).", w=width, h=height))
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, IndexError, EOFError):
        # Pillow's decoders raise any of these on a corrupt file (a PNG with no image data: IndexError)
        raise ValueError(_("The file is not a readable PNG or JPEG image.")) from None
    return PLAN_FORMATS[fmt], width, height


def store_plan_image(venue: str, data: bytes, mime: str, width: int, height: int) -> str:
    """Content-addressed: the same file gets the same id; stored before any map version names it."""
    image_id = hashlib.sha256(data).hexdigest()[:24]
    key = OpsKeys(venue).plan(image_id)
    services().db.hset(key, mapping={"data": data, "type": mime, "w": width, "h": height})
    return image_id


def plan_image(venue: str, image_id: str) -> dict | None:
    raw = services().db.hgetall(OpsKeys(venue).plan(image_id))
    if not raw or b"data" not in raw:
        return None
    return {"data": raw[b"data"], "type": raw[b"type"].decode(), "w": int(raw[b"w"]), "h": int(raw[b"h"])}


# -- the overlay ---------------------------------------------------------------------------------------


def overlay_svg(venue_map: VenueMap, level: int, *, aps: bool = True, zones: bool = True, samples: bool = True,
                walkway: bool = False, markers: list[tuple[float, float, str, str]] = (),
                lang: str = "en") -> str:
    """An SVG the size of the plan (plan pixels), transparent where a plan image lies beneath it;
    zones, walls, APs (triangles), samples (dots), walkway graph (entrances ringed) and markers drawn in plan
    pixels."""
    floor = venue_map.floor(level)
    w, h = plan_size(floor)
    s = px_per_m(floor)
    r = max(2.0, min(w, h) / 150)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family="sans-serif" font-size="{max(9, round(r * 3))}">']
    if not floor.plan_image:
        out.append(f'<rect width="{w}" height="{h}" fill="#fafafa"/>')
    if zones:
        for zone in venue_map.zones:
            if zone.floor != level:
                continue
            pts = " ".join(f"{x * s:.1f},{y * s:.1f}" for x, y in zone.polygon)
            colour = ZONE_COLOURS.get(zone.kind, "#eeeeee")
            label = escape(zone.label(lang == "zh"))
            cx = sum(x for x, _ in zone.polygon) / len(zone.polygon) * s
            cy = sum(y for _, y in zone.polygon) / len(zone.polygon) * s
            out.append(f'<polygon class="zone" points="{pts}" fill="{colour}" fill-opacity="0.55" stroke="#345" '
                       f'stroke-width="1"><title>{escape(zone.id)}: {label}</title></polygon>')
            out.append(f'<text x="{cx:.0f}" y="{cy:.0f}" text-anchor="middle" fill="#223">{label}</text>')
    for x1, y1, x2, y2 in floor.walls:
        out.append(f'<line x1="{x1 * s:.1f}" y1="{y1 * s:.1f}" x2="{x2 * s:.1f}" y2="{y2 * s:.1f}" '
                   f'stroke="#555" stroke-width="2"/>')
    if walkway:
        where = {n.id: n for n in venue_map.nodes if n.floor == level}
        for e in venue_map.edges:
            a, b = where.get(e.a), where.get(e.b)
            if a and b:
                out.append(f'<line x1="{a.x * s:.1f}" y1="{a.y * s:.1f}" x2="{b.x * s:.1f}" y2="{b.y * s:.1f}" '
                           f'stroke="#c60" stroke-width="1.5" stroke-dasharray="4 2"/>')
        for n in where.values():
            if n.entrance:  # where shoppers on foot come in from outside: a ring round the node
                out.append(f'<circle class="entrance" cx="{n.x * s:.1f}" cy="{n.y * s:.1f}" r="{r * 2:.1f}" '
                           f'fill="none" stroke="#c60" stroke-width="2"/>')
            title = _("%(node)s (entrance)", node=n.id) if n.entrance else n.id
            out.append(f'<circle cx="{n.x * s:.1f}" cy="{n.y * s:.1f}" r="{r:.1f}" fill="#c60">'
                       f'<title>{escape(title)}</title></circle>')
    if samples:
        for sample in venue_map.samples:
            if sample.floor == level:
                colour = "#1565c0" if sample.n >= 3 else "#e53935"
                out.append(f'<circle class="sample" cx="{sample.x * s:.1f}" cy="{sample.y * s:.1f}" '
                           f'r="{r * 0.7:.1f}" fill="{colour}" fill-opacity="0.7"/>')
    if aps:
        for ap in venue_map.aps:
            if ap.floor == level:
                x, y, k = ap.x * s, ap.y * s, r * 1.6
                out.append(f'<polygon class="ap" points="{x:.1f},{y - k:.1f} {x - k:.1f},{y + k:.1f} '
                           f'{x + k:.1f},{y + k:.1f}" fill="#2a7" stroke="#fff" stroke-width="1">'
                           f'<title>{escape(ap.name)} {ap.bssid}</title></polygon>')
    for x, y, colour, title in markers:
        out.append(f'<circle class="marker" cx="{x * s:.1f}" cy="{y * s:.1f}" r="{r * 2:.1f}" fill="{escape(colour)}" '
                   f'stroke="#fff" stroke-width="2"><title>{escape(title)}</title></circle>')
    out.append("</svg>")
    return "".join(out)
