"""/demo: see the whole system work without hardware.

Click a spot on the floor plan: the radio simulator produces the RSSI reports the APs would send for
a phone standing there, they go through the same parser and store as real reports, and "open the
portal as this phone" shows where the portal sends it.

It reads and writes any phone's readings and position, so it is a tracker: served only with `DEMO=1`
(`make run` sets it) and only for a venue marked as a demo venue (`portal/seed.py` marks the ones it
loads: Harbour Light, the small teaching mall, and the Galleria, a real mall's shape); everywhere else
/demo is a 404. `?venue=` picks the demo venue (default: the VENUE setting's). A demo venue may carry its
own radio model (the generated mall's walls, shadowing and body loss), so a click is heard as that mall's
survey was."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import redis
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.ids import is_venue_id
from core.security import normalise_mac
from core.storage import VenueKeys
from fingerprints.plan import PX_PER_M, plan_size_px, render_plan_svg
from fingerprints.simulator import RadioSimulator
from portal.apps import registry
from portal.apps.views import is_zh
from portal.apps.zone_apps import DEFAULT_APP
from portal.auth import AccountStore
from portal.ingest.native import native_batch
from portal.ingest.observation import Limits, ReportError, client_ids
from portal.operator.mapedit import plan_click
from portal.services import services
from portal.tracking.locator import forget_phone_state

bp = Blueprint("demo", __name__)
log = logging.getLogger(__name__)


class DemoKeys(VenueKeys):
    def marker(self) -> str:
        return self.key("demo-venue")

    def radio(self) -> str:
        """The venue's radio model (RadioSimulator's parameters, JSON); none: the simulator's defaults."""
        return self.key("demo-radio")


def mark_demo_venue(db: redis.Redis, venue: str, radio: dict | None = None) -> None:
    """Mark a demo venue; `radio`: the RadioSimulator parameters its survey was simulated with
    (seed, wall_losses per level, ...), kept so the demo's clicks are heard the same way."""
    keys = DemoKeys(venue)
    with db.pipeline(transaction=True) as pipe:  # one slot: the venue's
        pipe.set(keys.marker(), "1")
        if radio is not None:
            pipe.set(keys.radio(), json.dumps(radio, separators=(",", ":")))
        pipe.execute()


def is_demo_venue(db: redis.Redis, venue: str) -> bool:
    return bool(db.exists(DemoKeys(venue).marker()))


def demo_mode_for(venue: str) -> bool:
    """The demo is on for this venue: DEMO=1 and the venue is a demo venue (then its MACs are all
    simulated, and a MAC in a redirect is trusted as if a gateway had vouched for it)."""
    svc = services()
    return svc.settings.demo and is_demo_venue(svc.db, venue)


@bp.before_request
def _only_in_demo_mode():
    if not services().settings.demo:
        abort(404)
    _demo_venue()  # 400 for a malformed venue, 404 for one that is not a demo venue


def _demo_venue() -> str:
    """The demo venue of this request: `venue` (the picker on /demo), else the VENUE setting's."""
    venue = request.values.get("venue") or services().settings.default_venue
    if not is_venue_id(venue):
        abort(400, _("venue must be a venue id (letters, digits, - and _)."))
    if not is_demo_venue(services().db, venue):
        abort(404, _("%(venue)s is not a demo venue.", venue=repr(venue)))
    return venue


def demo_venues() -> list[tuple[str, str]]:
    """(id, name in the page's language) of every demo venue with a map: the picker on /demo."""
    svc = services()
    zh = is_zh()
    out = []
    for venue in svc.venues.venue_ids():
        venue_map = svc.venues.get_map(venue) if is_demo_venue(svc.db, venue) else None
        if venue_map is not None:
            out.append((venue, venue_map.label(zh)))
    return out


DEMO_PASSWORD = "mallportal-demo"  # the demo console accounts' password (they sign in only with DEMO=1)
DEFAULT_PHONE = "02:00:5e:00:53:01"  # locally administered, like a phone's private WiFi MAC
SCANS_PER_SPOT = 5


def _venue_map(venue: str):
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("Unknown venue %(venue)s.", venue=repr(venue)))
    return venue_map


def _float_arg(name: str, low: float, high: float) -> float | None:
    raw = request.values.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        abort(400, _("%(name)s must be a number.", name=name))
    if not np.isfinite(value) or not low <= value <= high:
        abort(400, _("%(name)s must be between %(low)s and %(high)s.", name=name, low=f"{low:g}", high=f"{high:g}"))
    return value


def _phone() -> str:
    try:
        return normalise_mac(request.values.get("phone") or DEFAULT_PHONE)
    except ValueError:
        abort(400, _("phone must be a MAC address."))


def _floor(venue_map) -> int:
    raw = request.values.get("floor", "0")
    if not (raw.isascii() and raw.lstrip("-").isdigit()) or int(raw) not in {f.level for f in venue_map.floors}:
        abort(400, _("Unknown floor."))
    return int(raw)


@bp.get("/demo")
def page():
    venue = _demo_venue()
    venue_map = _venue_map(venue)
    level = _floor(venue_map)
    floor = venue_map.floor(level)
    x = _float_arg("x", 0, floor.width_m)
    y = _float_arg("y", 0, floor.height_m)
    phone = _phone()
    position = services().locator.locate(venue, services().hasher.client_id(phone)) if x is not None else None
    width, height = plan_size_px(venue_map, level)
    return render_template(
        "demo.html", venue=venue_map, level=level, x=x, y=y, phone=phone, position=position,
        width=width, height=height, px_per_m=PX_PER_M, zone_apps=_zone_apps(venue_map),
        accounts=_demo_accounts(venue), demo_password=DEMO_PASSWORD, demo_venues=demo_venues(),
        venue_arg=venue_arg(venue),
    )


def venue_arg(venue: str) -> dict[str, str]:
    """The `venue` parameter of /demo URLs: none for the default venue (its URLs stay as they were)."""
    return {} if venue == services().settings.default_venue else {"venue": venue}


def _zone_apps(venue_map) -> list[dict]:
    """Which zone runs which app, on which floor: what the visitor will see where they click."""
    assigned = services().zone_apps.all(venue_map.id)
    zh = is_zh()
    rows = []
    for zone in venue_map.zones:
        app = registry.get(assigned.get(zone.id, (DEFAULT_APP, {}))[0]) or registry.get(DEFAULT_APP)
        try:
            floor = venue_map.floor(zone.floor).label(zh)
        except KeyError:
            floor = str(zone.floor)
        rows.append({"zone": zone.label(zh), "floor": floor, "id": zone.id, "level": zone.floor,
                     "app": (app.title_zh if zh else app.title_en) if app else ""})
    return sorted(rows, key=lambda r: (r["level"], r["zone"]))  # car park first, then up the building


def _demo_accounts(venue: str) -> list[dict]:
    """The console accounts of the demo venue and where each signs in to."""
    out = []
    for account in AccountStore(services().db).all():
        if not account.runs(venue):
            continue
        home = (url_for("operator.home", venue=venue) if account.role == "operator"
                else url_for("owner.home", venue=venue))
        out.append({"username": account.username, "role": account.role, "zones": ", ".join(account.zones),
                    "url": home})
    return sorted(out, key=lambda a: (a["role"] != "operator", a["username"]))


@bp.get("/demo/plan/<int:level>.svg")
def plan(level: int):
    venue_map = _venue_map(_demo_venue())
    if level not in {f.level for f in venue_map.floors}:
        abort(404, _("Unknown floor."))
    floor = venue_map.floor(level)
    markers = []
    x, y = _float_arg("x", 0, floor.width_m), _float_arg("y", 0, floor.height_m)
    if x is not None and y is not None:
        markers.append((x, y, "#1565c0", "phone"))
    ex, ey = _float_arg("ex", 0, floor.width_m), _float_arg("ey", 0, floor.height_m)
    if ex is not None and ey is not None:
        markers.append((ex, ey, "#e65100", "estimate"))
    svg = render_plan_svg(venue_map, level, markers=markers)
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.post("/demo/spot")
def spot():
    """Place the demo phone: simulate its RSSI reports and feed them through the ingest path."""
    svc = services()
    venue = _demo_venue()
    venue_map = _venue_map(venue)
    level = _floor(venue_map)
    floor = venue_map.floor(level)
    phone = _phone()
    x, y = _spot(floor)
    now = time.time()
    payload = simulated_reports(venue_map, level, x, y, phone, now, demo_simulator(svc.db, venue_map))
    limits = Limits.of_settings(svc.settings, now)
    try:  # the batch, not its observations: it keeps the APs that reported hearing nothing (alive all the same)
        batch = native_batch(payload, client_ids(svc.hasher), limits)
    except ReportError as exc:  # cannot happen with simulator output, but never store half of it
        abort(400, exc.message)
    client = svc.hasher.client_id(phone)
    # The demo phone teleports: forget its earlier readings, track and kept position, as if it had walked here
    # long enough ago for the window and the smoothing to have caught up.
    forget_phone_state(svc.db, venue, client)
    svc.rssi.write_batch(venue, batch, now)
    return redirect(url_for("demo.page", floor=level, x=f"{x:.1f}", y=f"{y:.1f}", phone=phone, **venue_arg(venue)),
                    code=303)


def _spot(floor) -> tuple[float, float]:
    """Where the phone goes, in metres: a click on the plan (<input type=image>, plan pixels: works without
    JavaScript), else the typed x/y. Enter or Space on the plan, and Enter in the x/y fields (the plan is the
    form's first submit button), send the plan at (0, 0): `plan_click` tells that from a click, so the phone is
    not moved to the plan's corner."""
    if plan_click(request.form, "spot") is not None:
        px = _float_arg("spot.x", 0, floor.width_m * PX_PER_M)
        py = _float_arg("spot.y", 0, floor.height_m * PX_PER_M)
        return px / PX_PER_M, py / PX_PER_M
    x, y = _float_arg("x", 0, floor.width_m), _float_arg("y", 0, floor.height_m)
    if x is None or y is None:
        abort(400, _("Click a spot on the plan, or type where the phone stands in metres."))
    return x, y


def demo_simulator(db: redis.Redis, venue_map) -> RadioSimulator:
    """The radio model the venue's survey was simulated with (stored by mark_demo_venue), else the
    simulator's defaults (Harbour Light's). A floor whose walls an operator has changed since the survey
    gets the default wall loss: its stored per-wall losses no longer line up with its walls."""
    raw = db.get(DemoKeys(venue_map.id).radio())
    if raw is None:
        return RadioSimulator(venue_map)
    model = json.loads(raw)
    walls = {f.level: len(f.walls) for f in venue_map.floors}
    losses = {int(level): values for level, values in model.pop("wall_losses", {}).items()
              if walls.get(int(level)) == len(values)}
    try:
        return RadioSimulator(venue_map, wall_losses=losses or None, **model)
    except TypeError:  # stored by a version whose simulator took other parameters: the defaults still work
        log.warning("demo venue %s: stored radio model does not fit the simulator; using its defaults",
                    venue_map.id)
        return RadioSimulator(venue_map)


def simulated_reports(venue_map, level: int, x: float, y: float, phone: str, now: float,
                      sim: RadioSimulator | None = None) -> dict:
    """What the venue's APs would POST for a phone at (x, y): a few scans over the last seconds. Every AP of
    the venue reports, those that do not hear the phone with nothing, as a mall in business's APs do (some
    phone is always heard): the demo's clicks are its whole feed, and an AP silent in it for 5 minutes would be
    left out of the live model (`models.silent_aps`) though the demo's radio has it on."""
    sim = sim or RadioSimulator(venue_map)
    rng = np.random.default_rng()
    per_ap: dict[str, list[dict]] = {ap.bssid: [] for ap in venue_map.aps}
    for scan in range(SCANS_PER_SPOT):
        ts = now - (SCANS_PER_SPOT - scan)
        for bssid, rssi in sim.measure(level, x, y, rng).items():
            per_ap.setdefault(bssid, []).append({"client": phone, "rssi": rssi, "ts": ts})
    return {"reports": [{"ap": ap, "observations": obs} for ap, obs in per_ap.items()]}
