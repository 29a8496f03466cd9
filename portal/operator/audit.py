"""The venue's audit log, read-only, for its operators: who changed what and when, newest first (console
pages under the account's name, the command line as "cli", a shopper's own export as "shopper (self)").

    /console/ops/<venue>/audit     the newest SHOWN entries (the log keeps AuditLog.KEEP), then apart the newest
                                   CALLS_SHOWN hourly roll-ups of the machine APIs' calls (AuditLog.record_call)

`flask audit VENUE [--limit N] [--calls N]` prints the same from a terminal (portal/cli.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fingerprints.model import VenueMap
from portal.apps import registry
from portal.apps.views import format_time, is_zh
from portal.auth import AuditLog
from portal.operator.blueprint import bp, works_without_map
from portal.services import services

SHOWN = 200
# The API calls' hourly roll-ups, listed apart with a bound of their own: merged into the SHOWN entries, an hourly
# partner's pushed the operators' token, staff and retention entries off the page within a day or two.
CALLS_SHOWN = 100
DETAIL_CHARS = 200  # one value; a zone's settings change can be long


def _value_text(value: Any) -> str:
    """A plain word as it is; anything else (spaces, quotes, numbers, lists) as JSON, so `k=v` pairs stay
    readable; cut at DETAIL_CHARS."""
    plain = isinstance(value, str) and value and value.isprintable() and not any(c in value for c in " \"'=")
    text = value if plain else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 1] + "…"


# The host's audited actions in words (an app's own are in its `LightApp.history`); any other shows its code.
# tests/operator/test_audit_words.py reads the code for every action recorded and fails on one without words.
ACTION_WORDS = {
    "token.issue": _l("API token issued"), "token.revoke": _l("API token revoked"),
    "token.rotate": _l("API token rotated"),
    "budget.set": _l("Abuse budget set"), "budget.reset": _l("Abuse budget reset to its default"),
    "account.create": _l("Account created"), "account.reset": _l("Account reset"),
    "account.set_password": _l("Password set"), "account.disable": _l("Account disabled"),
    "account.enable": _l("Account enabled"), "account.change_password": _l("Password changed"),
    "password.change": _l("Password changed"), "owner.create": _l("Zone owner invited"),
    "owner.reset": _l("Zone owner reset"), "insights.retention": _l("Retention changed"),
    "venue.time_zone": _l("Venue time zone set"),
    "insights.limit": _l("Occupancy alert threshold set"), "insights.alert_url": _l("Alert address set"),
    "insights.staff_add": _l("Staff phone added"), "insights.staff_remove": _l("Staff phone removed"),
    "insights.export": _l("Insights exported"),
    "moments.create": _l("Moment rule saved"), "moments.active": _l("Moment rule switched on or off"),
    "moments.replay": _l("Moment delivery replayed"), "moments.delete": _l("Moment rule deleted"),
    "owner.zones": _l("Zone owner's zones changed"), "owner.disable": _l("Zone owner disabled"),
    "owner.enable": _l("Zone owner enabled"),
    "zone.release": _l("Zone that left the map released (owners, app, moments rules)"),
    "draft.open": _l("Draft opened"),
    "draft.abandon": _l("Draft abandoned"), "model.rebuild": _l("Positioning model rebuilt"),
    "survey.start": _l("Survey started"), "survey.cancel": _l("Survey cancelled"),
    "survey.new_walk": _l("Survey walk started"), "survey.device_add": _l("Survey device added"),
    "survey.device_remove": _l("Survey device removed"), "validation.walk": _l("Validation walk scored"),
    "validation.live_start": _l("Live validation walk started"),
    "validation.live_finish": _l("Live validation walk finished"),
    "zone.app.set": _l("Zone's landing app changed"), "zone.config.set": _l("Zone app settings changed"),
    "zone.shop.text": _l("Shop description edited"), "zone.media.set": _l("Image added"),
    "zone.media.remove": _l("Image removed"), "login": _l("Signed in"), "demo.load": _l("Demo data loaded"),
    "password.invite": _l("Invite link used: password set"), "password.reset": _l("Reset link used: password set"),
    # map changes (operator/mapedit.change_map's actions)
    "ap.place": _l("AP placed"), "ap.delete": _l("AP deleted"), "ap.import": _l("AP list imported"),
    "floor.add": _l("Floor added"), "floor.plan": _l("Floor plan image set"), "floor.scale": _l("Floor scale set"),
    "map.import_imdf": _l("IMDF plan imported"), "samples.import": _l("Survey samples imported"),
    "positioning.tune": _l("Positioning settings tuned"), "walk.derive": _l("Walkways derived"),
    "walk.node_add": _l("Walkway node added"), "walk.edge_add": _l("Walkway link added"),
    "walk.delete": _l("Walkway deleted"), "walk.entrance": _l("Walkway entrance marked or unmarked"),
    "zone.add": _l("Zone drawn"), "zone.delete": _l("Zone deleted"),
    "draft.apply": _l("Draft applied to the map"), "map.rollback": _l("Map rolled back to another version"),
    "survey.point": _l("Survey point recorded"),
    "account.add_venue": _l("Account given another venue"), "account.remove_venue": _l("Account taken off a venue"),
    "outbox.replay": _l("Dead letter sent again"), "outbox.replay_all": _l("All dead letters sent again"),
    "outbox.drop": _l("Dead letter dropped"), "outbox.drop_all": _l("All dead letters dropped"),
}
# The command line's map edits (`flask map-edit`, portal/setup_cli.py) record the edit's own name: the console's words.
ACTION_WORDS.update({cli: ACTION_WORDS[console] for cli, console in (
    ("add.floor", "floor.add"), ("rescale.floor", "floor.scale"), ("place.ap", "ap.place"), ("delete.ap", "ap.delete"),
    ("add.zone", "zone.add"), ("delete.zone", "zone.delete"), ("add.node", "walk.node_add"),
    ("add.edge", "walk.edge_add"), ("delete.walkway", "walk.delete"), ("set.entrance", "walk.entrance"))})


# The entries' detail keys in words, for the page (`flask audit` prints the keys); any other shows its key. Every key
# a recording call names is here (tests/operator/test_audit_words.py).
DETAIL_WORDS = {
    "zone": _l("Zone"), "zones": _l("Zones"), "floor": _l("Floor"), "level": _l("Floor"), "x": _l("x (m)"),
    "y": _l("y (m)"), "a": _l("Walkway from"), "b": _l("Walkway to"), "node": _l("Walkway node"),
    "entrance": _l("Entrance"), "bssid": _l("BSSID"), "aps": _l("APs"), "file": _l("File"), "mode": _l("Mode"),
    "scans": _l("Scans"), "metres_per_pixel": _l("Metres per pixel"), "width_px": _l("Width (pixels)"),
    "height_px": _l("Height (pixels)"), "version": _l("Version"), "previous": _l("Before"), "before": _l("Before"),
    "draft": _l("Draft"), "title": _l("Title"), "walk": _l("Walk"), "device": _l("Device"),
    "points": _l("Number of points"),  # a member's points, a validation walk's route points: words for both
    "duration_s": _l("Duration (seconds)"), "label": _l("Label"), "scopes": _l("Scopes"), "scope": _l("Scope"),
    "token_id": _l("Token id"), "replaced": _l("Tokens replaced"), "stops_at": _l("Old tokens stop"),
    "count": _l("How many"), "letter": _l("Dead letter"), "name": _l("Name"), "limit": _l("Limit"),
    "username": _l("Account"), "role": _l("Role"), "method": _l("How"), "added": _l("Venue added"),
    "removed": _l("Venue taken off"), "paused_rules": _l("Rules paused"), "owners": _l("Zone owners"),
    "rules": _l("Rules"), "rule": _l("Rule"), "trigger": _l("Trigger"), "then": _l("Then"), "active": _l("On"),
    "delivery": _l("Delivery"), "outcome": _l("Outcome"), "format": _l("Format"), "period": _l("Period"),
    "until": _l("Until"), "time_zone": _l("Time zone"), "app": _l("App"), "config": _l("Settings"),
    "changed": _l("Changed"), "shop": _l("Shop"), "kind": _l("Kind"), "ref": _l("For"), "image": _l("Image"),
    "bytes": _l("Size (bytes)"), "ticket": _l("Number"), "reservation": _l("Table booking"),
    "cls": _l("Table type"), "item": _l("Item"), "price": _l("Price"), "available": _l("Available"),
    "show": _l("Showtime"), "film": _l("Film"), "starts_at": _l("Starts"), "auditorium": _l("Auditorium"),
    "tickets": _l("Tickets"), "refunds": _l("Refunds"), "refunds_to_arrange": _l("Refunds to arrange"),
    "finished": _l("Finished"), "booking": _l("Booking"), "seats": _l("Seats"), "refund": _l("Refund"),
    "coupon": _l("Coupon"), "stock": _l("Stock"), "code_end": _l("Code ends in"), "game": _l("Game"),
    "total": _l("Total"), "odds": _l("Odds"), "prize": _l("Prize"), "activity": _l("Activity"), "link": _l("Link"),
    "campaign": _l("Campaign"), "member": _l("Member"), "receipt": _l("Receipt"), "bay": _l("Bay"),
    "status": _l("State"), "by": _l("By"), "via": _l("Through"),
}


def action_words(action: str, detail: dict[str, Any] | None = None) -> str:
    """An audited action as people read it, in the page's language (an app's text filled from the entry's
    details, as the zone history does); its code when none is known."""
    if action in ACTION_WORDS:
        return str(ACTION_WORDS[action])
    text = next((app.history[action] for app in registry.all_apps() if action in app.history), None)
    if text is None:
        return action
    return str(text) % defaultdict(str, {k: v for k, v in (detail or {}).items() if isinstance(v, str | int)})


def detail_text(detail: dict[str, Any] | None) -> str:
    """An entry's details as `key=value` pairs, in the order they were recorded (`flask audit`)."""
    return " ".join(f"{key}={_value_text(value)}" for key, value in (detail or {}).items())


def detail_words(detail: dict[str, Any] | None, venue_map: VenueMap | None) -> str:
    """An entry's details as the page shows them, in the order they were recorded: each under its words
    (DETAIL_WORDS), a zone and a floor by their names on the venue's map, a time in the venue's; other values as
    `detail_text` writes them."""
    return " · ".join(_("%(label)s: %(value)s", label=DETAIL_WORDS.get(key, key),
                        value=_value_words(key, value, venue_map)) for key, value in (detail or {}).items())


def _value_words(key: str, value: Any, venue_map: VenueMap | None) -> str:
    zh = is_zh()
    if venue_map is not None and key == "zone" and isinstance(value, str) and (zone := venue_map.zone(value)):
        return zone.label(zh)
    if venue_map is not None and key in ("floor", "level") and isinstance(value, int):
        return venue_map.floor_name(value, zh)
    if key.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
        return format_time(value)
    return _value_text(value)


@bp.get("/<venue>/audit")
@works_without_map  # a venue's first drafts and accounts are audited before it has a map
def audit_log(venue: str):
    venue_map = services().venues.get_map(venue)  # None for a venue with no map yet: zones and floors as stored
    log = AuditLog(services().db)

    def in_words(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**entry, "text": detail_words(entry.get("detail"), venue_map),
                 "words": action_words(entry.get("action", ""), entry.get("detail"))} for entry in entries]

    page = render_template("operator/audit.html", venue=venue, entries=in_words(log.recent(venue, SHOWN)),
                           calls=in_words(log.call_rollups(venue, CALLS_SHOWN)), shown=SHOWN, calls_shown=CALLS_SHOWN)
    return page, 200, {"Cache-Control": "no-store"}
