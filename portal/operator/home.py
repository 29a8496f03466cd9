"""The operator console's home page, the venue's time zone, and ingest health.

    /console/ops/<venue>/time-zone   the venue's clock (its portal config's `time_zone`): shown, and set here"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from datetime import time as clock
from zoneinfo import ZoneInfo

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.settings import known_time_zones, time_zone_name
from portal.apps.locale import has_traffic, recuts_past_days, venue_now, venue_time_zone
from portal.auth import audit, current_account
from portal.captive.config import PortalConfigStore
from portal.errors import input_error_text
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiStore
from portal.ingest.mist import MistStore
from portal.operator.blueprint import bp, wants_json, works_without_map
from portal.services import services

SHOWN_TYPED = 100  # of a refused zone name, what the form shows again
EXAMPLE_SHOW = clock(21, 30)  # the change warning's example of a time entered before: an evening show


@bp.get("/<venue>/")
def home(venue: str):
    account = current_account()
    others = [v for v in (account.venue, *account.more_venues) if v != venue]  # an operator of several venues
    return render_template("operator/home.html", venue=venue, account=account, other_venues=others,
                           time_zone=str(venue_time_zone(venue)),
                           time_zone_set=bool(PortalConfigStore(services().db).time_zone(venue)))


@bp.get("/<venue>/time-zone")
@works_without_map  # the venue's clock comes before its map: drafts and accounts are audited in it
def time_zone(venue: str, typed: str | None = None, error: str | None = None, unconfirmed: bool = False):
    """The page; `unconfirmed`: the error is the re-cut days' confirmation the form lacked (its box is marked)."""
    own = PortalConfigStore(services().db).time_zone(venue)
    return render_template("operator/time_zone.html", venue=venue, own=own, zone=str(venue_time_zone(venue)),
                           now=venue_now(venue).strftime("%Y-%m-%d %H:%M"), default=services().settings.time_zone,
                           typed=own if typed is None else typed[:SHOWN_TYPED], error=error,
                           zones=sorted(known_time_zones()), traffic=has_traffic(services(), venue),
                           unconfirmed=unconfirmed)


@bp.post("/<venue>/time-zone")
@works_without_map
def set_time_zone(venue: str):
    """A zone name checked by `time_zone_name` (a place the zone database knows), else the form again with the
    reason, 400, nothing stored. A change of the zone in force says what it does to the times entered before, and
    one that re-cuts the venue's past days (`recuts_past_days`) needs the form's box ticked: else 409, nothing
    stored."""
    typed = request.form.get("time_zone", "")
    try:
        name = time_zone_name(typed)
    except ValueError as exc:
        return time_zone(venue, typed, input_error_text(exc, label=_("Time zone"))), 400
    store, before = PortalConfigStore(services().db), venue_time_zone(venue)
    if recuts_past_days(services(), venue, name) and request.form.get("recut") != "yes":
        return time_zone(venue, typed, _("Moving from %(before)s to %(after)s re-cuts this venue's past days: tick "
                                         "\"%(confirm)s\" to change it anyway.", before=str(before), after=name,
                                         confirm=_("Re-cut the past days in the new zone")), unconfirmed=True), 409
    own_before = store.time_zone(venue)
    store.set(venue, {"time_zone": name})
    audit("venue.time_zone", venue, time_zone=f"{own_before or '-'} -> {name}")
    after = ZoneInfo(name)
    flash(_("Time zone set to %(zone)s: the venue's local time now is %(now)s.", zone=name,
            now=datetime.now(after).strftime("%Y-%m-%d %H:%M")))
    if str(before) != name:
        _warn_moved(before, after)
    return redirect(url_for("operator.time_zone", venue=venue), code=303)


def _warn_moved(before: tzinfo, after: tzinfo) -> None:
    """What a new clock does to what was typed in the old one: stored as instants, it shows shifted."""
    flash(_("The venue's clock moved from %(before)s to %(after)s. Times entered before, if any (show times, coupon "
            "validity days, game windows, opening hours), stay at the same instants: a show entered for %(entered)s "
            "%(before)s time now shows at %(shown)s. Check them, and enter again those that should follow the new "
            "zone.", before=str(before), after=str(after), entered=EXAMPLE_SHOW.strftime("%H:%M"),
            shown=_moved(before, after)), "warning")


def _moved(before: tzinfo, after: tzinfo) -> str:
    """EXAMPLE_SHOW today in `before`, as `after` shows that instant."""
    entered = datetime.combine(datetime.now(before).date(), EXAMPLE_SHOW, before)
    return entered.astimezone(after).strftime("%H:%M")


@bp.get("/<venue>/health")
def health(venue: str):
    svc = services()
    venue_map = svc.venues.get_map(venue)
    snapshot = IngestHealth(svc.db).snapshot(venue, time.time(), venue_map, svc.settings.ap_silent_after_s)
    model = svc.models.get(venue)
    # The APs the live positioning model leaves out (silent for AP_SILENT_AFTER_S, or never heard since the
    # feed's run began that long ago: no re-survey needed; models.silent_aps).
    snapshot["masked_aps"] = sorted(model.masked) if model is not None else []
    if wants_json():
        return jsonify(snapshot)
    networks = MerakiStore(svc.db).networks(venue)
    mist = MistStore(svc.db, svc.settings.secret_key)
    webhooks = [(name, mist.get(venue, name) is not None) for name in mist.names(venue)]  # False: another key
    # the JSON keeps each AP's level number (for machines); the page names the floor as the map does (G, L1)
    return render_template("operator/health.html", venue=venue, health=snapshot, networks=networks,
                           mist_webhooks=webhooks,
                           floor_name=venue_map.floor_name if venue_map else lambda level, _zh: str(level))

