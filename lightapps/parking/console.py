"""Owner console: occupancy per level and area, the bays on the plan, a manual bay override, the lookup log
(keyed hashes of plates, never plates), and the exits left owed ("leave first, pay after" that did not pay:
the plate as the barrier read it, kept only until the fee is paid)."""

from __future__ import annotations

import time

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lightapps.parking import APP, wayfinding
from lightapps.parking.common import level_name, parking_store
from lightapps.parking.events import STATUSES
from lightapps.parking.store import Event
from portal.apps.locale import local_time
from portal.apps.views import is_zh, zone_app_config, zone_console_blueprint, zones_running
from portal.auth import audit
from portal.payments.money import cny

# Every view: owners of the zone (and the venue's operators) only; g.venue_map and g.zone are set.
console_bp = zone_console_blueprint("parking_console", __name__, url_prefix="/console/apps/parking/<venue>/<zone>",
                                    template_folder="templates")

LOG_SHOWN = 50


def _when(ts: float) -> str:
    return local_time(ts).strftime("%Y-%m-%d %H:%M:%S")


@console_bp.get("/")
def home(venue: str, zone: str, status: int = 200, error: str | None = None):
    venue_map, zone_obj = g.venue_map, g.zone
    store = parking_store()
    bays = store.bays(venue, zone)
    states = store.states(venue)
    counts = store.level_counts(venue, zone, bays)
    zh = is_zh()

    def plan(level: int) -> str:
        return wayfinding.plan_svg(venue_map, level, zone=zone_obj if zone_obj.floor == level else None,
                                   bays=list(bays.values()), states=states, svg_id=f"occupancy-{level}",
                                   lang="zh" if zh else "en",
                                   label=_("Plan of level %(level)s", level=level_name(venue_map, level, zh)))

    plans = [(c.level, plan(c.level)) for c in counts]
    lookups = [e for e in store.lookups(venue, 500) if e.get("zone") == zone][:LOG_SHOWN]
    return render_template("parking/console.html", venue=venue_map, zone=zone_obj, counts=counts,
                           areas=store.area_counts(venue, zone), plans=plans, lookups=lookups, when=_when,
                           level_name=lambda level: level_name(venue_map, level, is_zh()), bays=bays, error=error,
                           parking_on=zone_app_config(APP, venue, zone) is not None), status


@console_bp.post("/bays")
def set_bay(venue: str, zone: str):
    """A manual override (a broken sensor, a coned-off bay): applied like a parking-system event now."""
    store = parking_store()
    bay_id = request.form.get("bay", "").strip()[:40]
    status = request.form.get("status", "")
    bay = store.bays(venue, zone).get(bay_id)
    if bay is None:
        return home(venue, zone, 422, _("Unknown bay %(bay)s.", bay=bay_id or "-"))
    if status not in STATUSES:
        return home(venue, zone, 422, _("Status must be free or occupied."))
    result = store.apply_events(venue, [Event("bay", int(time.time() * 1000), bay=bay, status=status)])[0]
    if result == "stale":  # the parking system reported a time ahead of ours (within the skew allowed)
        return home(venue, zone, 409, _("The parking system reported this bay more recently; try again later."))
    audit("parking.bay.set", venue, zone=zone, bay=bay.id, status=status)
    return redirect(url_for("parking_console.home", venue=venue, zone=zone, set=bay.id), code=303)


@console_bp.get("/owed")
def owed(venue: str, zone: str):
    """The car park office's list: exits that owe money (or are being charged to an agreement), newest
    first, with the total; a debt with no bay seen belongs to the venue's first car park."""
    running = zones_running(APP, venue)
    fallback = running[0] if running else ""
    debts = [d for d in parking_store().open_debts(venue) if (d.zone or fallback) == zone]
    return render_template("parking/owed_console.html", venue=g.venue_map, zone=g.zone, debts=debts, cny=cny,
                           when=lambda ms: _when(ms / 1000), total=sum(d.due_fen for d in debts))
