"""The venue's audit log, read-only, for its operators: who changed what and when, newest first (console
pages under the account's name, the command line as "cli", a shopper's own export as "shopper (self)").

    /console/ops/<venue>/audit     the newest SHOWN entries (the log keeps AuditLog.KEEP)

`flask audit VENUE [--limit N]` prints the same from a terminal (portal/cli.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l

from portal.apps import registry
from portal.auth import AuditLog
from portal.operator.blueprint import bp, works_without_map
from portal.services import services

SHOWN = 200
DETAIL_CHARS = 200  # one value; a zone's settings change can be long


def _value_text(value: Any) -> str:
    """A plain word as it is; anything else (spaces, quotes, numbers, lists) as JSON, so `k=v` pairs stay
    readable; cut at DETAIL_CHARS."""
    plain = isinstance(value, str) and value and value.isprintable() and not any(c in value for c in " \"'=")
    text = value if plain else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 1] + "…"


# The host's audited actions in words (an app's own are in its `LightApp.history`); any other shows its code.
ACTION_WORDS = {
    "token.issue": _l("API token issued"), "token.revoke": _l("API token revoked"),
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
    """An entry's details as `key=value` pairs, in the order they were recorded."""
    return " ".join(f"{key}={_value_text(value)}" for key, value in (detail or {}).items())


@bp.get("/<venue>/audit")
@works_without_map  # a venue's first drafts and accounts are audited before it has a map
def audit_log(venue: str):
    entries = [{**entry, "text": detail_text(entry.get("detail")),
                "words": action_words(entry.get("action", ""), entry.get("detail"))}
               for entry in AuditLog(services().db).recent(venue, SHOWN)]
    page = render_template("operator/audit.html", venue=venue, entries=entries, shown=SHOWN)
    return page, 200, {"Cache-Control": "no-store"}
