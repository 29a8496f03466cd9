"""The zone-owner console.

    GET  /console/owner/<venue>/                the zones this account manages (owners: their zones only;
                                                operators: every zone of their venue)
    GET  /console/owner/<venue>/zone/<zone>     the zone: its landing app, the app picker (?app= shows the
                                                config form of another app), the config form generated
                                                from the app's schema, a preview, recent changes
    POST /console/owner/<venue>/zone/<zone>     save the zone's app and config (validated; audited)

Every view checks the account first (logged out: 302 to the login page; another venue or another
owner's zone: 403), then that the venue and zone exist (404)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from portal.apps import registry
from portal.apps.registry import LightApp
from portal.apps.views import format_time, is_zh
from portal.apps.zone_apps import DEFAULT_APP
from portal.auth import Account, AuditLog, audit, current_account, login_required, protect_console, require_zone
from portal.owner import forms
from portal.services import services
from portal.shopper import Shopper, shopper_token

bp = protect_console(Blueprint("owner", __name__, url_prefix="/console/owner"))

HISTORY_SCAN = 500  # audit entries read to find a zone's recent changes
HISTORY_SHOWN = 10


# ---- who may see what ----------------------------------------------------------------------------


def _venue_map_for(account: Account, venue: str):
    if account.venue != venue:
        abort(403, _("You do not manage this venue."))
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("Unknown venue."))
    return venue_map


def managed_zones(account: Account, venue_map) -> list:
    """The zones of the map this account may manage, in map order."""
    return [z for z in venue_map.zones if account.may_manage_zone(venue_map.id, z.id)]


def _zone_for(venue: str, zone: str):
    account = require_zone(venue, zone)  # 403 before anything about the zone is looked up
    venue_map = _venue_map_for(account, venue)
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    return account, venue_map, zone_obj


# ---- helpers for the pages -----------------------------------------------------------------------



def kind_label(kind: str) -> str:
    """A zone kind (the venue map's words) for the page; unknown kinds are shown as they are."""
    labels = {"atrium": _("atrium"), "shop": _("shop"), "food": _("food court"), "restaurant": _("restaurant"),
              "cinema": _("cinema"), "garage": _("garage")}
    return labels.get(kind, kind)


def app_title(app: LightApp | None, name: str) -> str:
    if app is None:
        return _("%(name)s (not installed)", name=name)
    return app.title_zh if is_zh() else app.title_en


def console_url(app: LightApp | None, venue: str, zone: str) -> str | None:
    """The app's own owner console for the zone, if the app has one."""
    endpoint = getattr(app, "console_endpoint", None) if app else None
    if not endpoint or endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, venue=venue, zone=zone)
    except BuildError:
        return None


def preview_url(app: LightApp | None, account: Account, venue: str, zone: str) -> str | None:
    """The zone's landing page as a shopper placed in the zone gets it, with a preview shopper's token."""
    if app is None:
        return None
    token = shopper_token(Shopper(venue=venue, client="preview-" + account.username))
    try:
        return url_for(app.landing_endpoint, venue=venue, zone=zone, c=token, lang=str(get_locale()))
    except BuildError:
        return None


def zone_history(venue: str, zone: str) -> list[dict]:
    entries = AuditLog(services().db).recent(venue, HISTORY_SCAN)
    mine = [e for e in entries if e.get("detail", {}).get("zone") == zone and e.get("action", "").startswith("zone.")]
    for entry in mine:
        entry["when"] = format_time(entry.get("ts", 0))
    return mine[:HISTORY_SHOWN]


def _render_zone(venue_map, zone_obj, account: Account, chosen: LightApp, values: dict, errors: dict | None = None,
                 status: int = 200):
    current_name, _config = services().zone_apps.get(venue_map.id, zone_obj.id)
    current = registry.get(current_name)
    apps = registry.all_apps()
    return render_template(
        "owner/zone.html", venue=venue_map, zone=zone_obj, account=account, apps=apps,
        current=current, current_name=current_name, current_title=app_title(current, current_name),
        chosen=chosen, form=forms.build_form(chosen, values, errors), errors=errors or {},
        console_url=console_url(current, venue_map.id, zone_obj.id),
        preview_url=preview_url(current, account, venue_map.id, zone_obj.id),
        history=zone_history(venue_map.id, zone_obj.id), kind_label=kind_label,
    ), status


# ---- views ---------------------------------------------------------------------------------------


@bp.get("/<venue>/")
@login_required()
def home(venue: str):
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    assignments = services().zone_apps.all(venue)
    rows = []
    for zone in managed_zones(account, venue_map):
        name, _config = assignments.get(zone.id, (DEFAULT_APP, {}))
        app = registry.get(name)
        rows.append({"zone": zone, "app_name": name, "app_title": app_title(app, name),
                     "floor": venue_map.floor(zone.floor).name if venue_map.floor(zone.floor) else zone.floor,
                     "console_url": console_url(app, venue, zone.id)})
    return render_template("owner/home.html", venue=venue_map, account=account, rows=rows, kind_label=kind_label)


@bp.get("/<venue>/zone/<zone>")
@login_required()
def zone_page(venue: str, zone: str):
    account, venue_map, zone_obj = _zone_for(venue, zone)
    current_name, config = services().zone_apps.get(venue, zone)
    wanted = request.args.get("app", "")[:64]
    if wanted:
        chosen = registry.get(wanted)
        if chosen is None:
            abort(404, _("No light app is called %(name)s.", name=wanted))
    else:
        chosen = registry.get(current_name) or registry.get("directory") or registry.all_apps()[0]
    values = config if chosen.name == current_name else chosen.default_config()
    return _render_zone(venue_map, zone_obj, account, chosen, values)


@bp.post("/<venue>/zone/<zone>")
@login_required()
def save_zone(venue: str, zone: str):
    account, venue_map, zone_obj = _zone_for(venue, zone)
    name = request.form.get("app", "")[:64]
    if not name:
        abort(400, _("Choose a light app."))
    app = registry.get(name)
    if app is None:
        abort(400, _("No light app is called %(name)s.", name=name))
    raw = forms.raw_values(app, request.form)
    config, errors = forms.validate(app, raw)
    if config is None:
        return _render_zone(venue_map, zone_obj, account, app, raw, errors, status=422)
    previous, previous_config = services().zone_apps.get(venue, zone)
    services().zone_apps.set(venue, zone, app.name, config)
    changed = {k: v for k, v in config.items() if previous != app.name or previous_config.get(k) != v}
    if previous != app.name:
        audit("zone.app.set", venue, zone=zone, app=app.name, previous=previous, config=config)
    else:
        audit("zone.config.set", venue, zone=zone, app=app.name, changed=changed)
    flash(_("Saved: %(zone)s now lands on %(app)s.", zone=zone_obj.name_zh if is_zh() else zone_obj.name,
            app=app_title(app, app.name)), "ok")
    return redirect(url_for("owner.zone_page", venue=venue, zone=zone), code=303)


