"""What every light app's views share: its store, blueprints that load the venue, zone and config of a URL
once per request (shopper pages and owner consoles), the shopper's language, time formats."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import Blueprint, Flask, abort, current_app, g, request
from flask_babel import get_locale
from flask_babel import gettext as _

from fingerprints.model import VenueMap, Zone
from portal.apps.bilingual import Localized, pick, pick_from
from portal.apps.locale import format_day, format_time, hhmm, spoken_day, spoken_span, spoken_time
from portal.apps.location_consent import location_declined
from portal.apps.preview import load_preview
from portal.apps.registry import LightApp
from portal.auth import login_gate, protect_console, require_zone
from portal.i18n import chosen_lang
from portal.services import request_memo, services
from portal.shopper import Shopper, is_preview_shopper

STORES = "light_app_stores"  # app.extensions key: {app name: its store}, built by portal/apps/platform.py


def app_store(app: LightApp) -> Any:
    """The app's store (LightApp.store), built once per process by the platform."""
    return current_app.extensions[STORES][app.name]


def shopper_data(venue: str, client: str) -> dict[str, Any]:
    """Every app's data about a shopper (a store's optional `export_shopper(venue, client) -> dict`)."""
    out = {}
    for name, store in current_app.extensions[STORES].items():
        export = getattr(store, "export_shopper", None)
        if export is not None and (data := export(venue, client)):
            out[name] = data
    return out


def erase_shopper(venue: str, client: str) -> dict[str, int]:
    """Every app forgets a shopper (a store's optional `forget_shopper(venue, client) -> int`)."""
    return {name: store.forget_shopper(venue, client) for name, store in current_app.extensions[STORES].items()
            if getattr(store, "forget_shopper", None) is not None}


def zone_app_blueprint(app: LightApp, import_name: str, *, off_message: Callable[[], str], **options) -> Blueprint:
    """The blueprint of an app's shopper pages (named after the app). Before a view whose URL has `venue` and
    `zone`, the venue's map, the zone and the zone's config (defaults filled in) are loaded once into
    `g.venue_map`, `g.zone` and `g.app_config`: 404 for an unknown venue or zone, and `off_message` when
    the zone does not run this app."""
    blueprint = Blueprint(app.name, import_name, **options)

    @blueprint.url_value_preprocessor
    def _load_zone(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and "venue" in values and "zone" in values:
            g.venue_map, g.zone = venue_and_zone(values["venue"], values["zone"])
            config = zone_app_config(app, values["venue"], values["zone"])
            if config is None:
                abort(404, off_message())
            g.app_config = config

    return blueprint


def zone_console_blueprint(name: str, import_name: str, **options) -> Blueprint:
    """The blueprint of an app's owner console (`/console/apps/<app>/<venue>/<zone>`), CSRF-checked. Before
    every view: the login page when logged out, 403 unless the account may manage the zone, 404 for an
    unknown venue or zone; then `g.account`, `g.venue_map` and `g.zone` are set."""
    blueprint = protect_console(Blueprint(name, import_name, **options))

    @blueprint.before_request
    def _owner_of_this_zone():
        refused = login_gate()
        if refused is not None:
            return refused
        values = request.view_args or {}
        g.account = require_zone(values["venue"], values["zone"])
        g.venue_map, g.zone = venue_and_zone(values["venue"], values["zone"])
        return None

    return blueprint


def zone_app_config(app: LightApp, venue: str, zone: str) -> dict[str, Any] | None:
    """The zone's config for this app with the defaults filled in; None when the zone does not run it. With
    `?preview=<id>` from the zone console: the owner's unsaved settings instead (portal/apps/preview.py)."""
    preview_id = request.args.get("preview") if request else None
    config = load_preview(services().db, venue, zone, app.name, preview_id) if preview_id else None
    if config is None:
        config = services().zone_apps.config_for(venue, zone, app.name)
    if config is None:
        return None
    return {**app.default_config(), **{k: v for k, v in config.items() if v is not None}}


def zones_running(app: LightApp, venue: str) -> list[str]:
    """The zones of the venue that run this app (sorted), e.g. for the app's part of Me."""
    return sorted(zone for zone, (name, _config) in _zone_apps_read(venue).items() if name == app.name)


def _zone_apps_read(venue: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The venue's zone -> (app, config) table, read once a request: Me asks it for each app's part (four reads of
    the whole table, one now). Only pages that read it ask here; a request that changes it reads the store itself."""
    read = request_memo("zone_apps")
    if read is None:
        return services().zone_apps.all(venue)
    if venue not in read:
        read[venue] = services().zone_apps.all(venue)
    return read[venue]


def record_event(app: LightApp, action: str, venue: str, shopper: Shopper | str | None = None, *,
                 zone: str | None = None, at: float | None = None, **data: Any) -> None:
    """The one call an app makes after a transaction (a seat booked, a coupon claimed, a queue ticket, points
    earned, a partner link followed): a `txn` event in the venue's event log, which the insights' funnels
    and the moments engine read. `shopper`: the Shopper of the request, or a shopper id (a staff action on a
    shopper's behalf). Fails open (a lost event never breaks the shopper's page). The owner's preview shopper
    records nothing: a preview changes no figure."""
    if isinstance(shopper, Shopper) and is_preview_shopper(shopper):
        return
    # the phone is named only while she has not declined location-based services (a txn event naming it would be one
    # more point of the per-phone trail her decline stops; the event still counts under her shopper id)
    device = shopper.phone if isinstance(shopper, Shopper) and not _declined(shopper) else None
    shopper_id = shopper.client if isinstance(shopper, Shopper) else shopper
    services().events.emit(venue, "txn", at=at, shopper=shopper_id, device=device, zone=zone, app=app.name,
                           action=action, **data)


def _declined(shopper: Shopper) -> bool:
    try:
        return location_declined(shopper)
    except redis.RedisError:  # not known: the event names no phone (and is still written, or fails open itself)
        return True


def venue_or_404(venue: str) -> VenueMap:
    """The venue's current map (shared, read-only: the store caches it per version)."""
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("Unknown venue."))
    return venue_map


def zone_or_404(venue_map: VenueMap, zone: str) -> Zone:
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    return zone_obj


def venue_and_zone(venue: str, zone: str) -> tuple[VenueMap, Zone]:
    venue_map = venue_or_404(venue)
    return venue_map, zone_or_404(venue_map, zone)


def is_zh() -> bool:
    return str(get_locale()) == "zh"


def lang_arg() -> dict[str, str]:
    """The language the shopper chose on this request (`chosen_lang`: ?lang=, else a shopper form's), as url_for
    values to carry on links (the captive mini-browser keeps no cookie); none when no choice was made."""
    lang = chosen_lang()
    return {"lang": lang} if lang else {}


def init_shared(flask_app: Flask) -> None:
    """Registered once for every app's templates: `|datetime`, `|hhmm`, `|day` and, on shopper pages,
    `|spoken_time`, `|spoken_day` and `spoken_span(start, end)` (the venue's time zone, portal/apps/locale.py),
    `is_zh()`, and `bi(zh, en)` / `bi_from(record, name)` for owners' texts."""
    flask_app.jinja_env.filters.update(datetime=format_time, hhmm=hhmm, day=format_day, spoken_time=spoken_time,
                                       spoken_day=spoken_day)
    flask_app.jinja_env.globals.update(is_zh=is_zh, bi=bilingual, bi_from=bilingual_from, spoken_span=spoken_span)


def bilingual(text_zh: str | None, text_en: str | None) -> Localized:
    """An owner's two-language text in the page's language, else the other one, marked (portal/apps/bilingual.py)."""
    return pick(text_zh, text_en, is_zh())


def bilingual_from(fields: Mapping[str, Any], name: str) -> Localized:
    """`bilingual` over `fields[name + "_zh"]` / `fields[name + "_en"]` (a zone's config, a record)."""
    return pick_from(fields, name, is_zh())
