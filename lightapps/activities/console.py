"""Owner side: create events, flash sales and group buys for a zone, see their counts, close them;
add outbound links to partner pages and see the clicks the mall sends.

A second blueprint under /console/apps/activities/<venue>/<zone>, CSRF-checked on every POST, for the
owners of that zone (and the venue's operators)."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lightapps.activities import notices
from lightapps.activities.deposits import deposit_store
from lightapps.activities.store import (
    KINDS,
    NOT_THIS_ZONES,
    Activity,
    ActivityInputError,
    attributed_url,
    parse_activity,
    parse_link,
)
from lightapps.activities.views import STATE_TEXT, is_zh, store
from portal.apps.locale import venue_locale, venue_now
from portal.apps.once import new_nonce, read_form_once
from portal.apps.views import zone_console_blueprint
from portal.auth import audit
from portal.services import services

# Every view: the zone's owners (and the venue's operators) only; g.account, g.venue_map, g.zone are set.
console_bp = zone_console_blueprint("activities_console", __name__,
                                    url_prefix="/console/apps/activities/<venue>/<zone>",
                                    template_folder="templates")
FORM_FIELDS = ("title_en", "title_zh", "description_en", "description_zh", "place_en", "place_zh",
               "price", "was_price", "starts_at", "ends_at",
               "capacity", "stock", "needed", "limit")
# The forms' fields as their labels say them (the msgids of console.html's labels); the times differ by kind
LABELS = {
    "title_zh": _l("Title (Chinese)"), "title_en": _l("Title (English)"),
    "description_zh": _l("Description (Chinese)"), "description_en": _l("Description (English)"),
    "place_zh": _l("Place (Chinese)"), "place_en": _l("Place (English)"),
    "price": _l("Price (as shown)"), "was_price": _l("Usual price (as shown)"),
    "capacity": _l("Capacity (places)"), "stock": _l("Stock"), "needed": _l("People needed"),
    "limit": _l("At most (empty: no limit)"),
    "label_zh": _l("Label (Chinese)"), "label_en": _l("Label (English)"), "url": _l("Partner page (https://...)"),
    "campaign": _l("Campaign name (optional)"), "activity": _l("For activity (optional)"),
}
TIME_LABELS = {
    "event": {"starts_at": _l("Starts (sign-up closes then)"), "ends_at": _l("Ends")},
    "sale": {"starts_at": _l("Sale opens"), "ends_at": _l("Sale closes")},
    "group": {"ends_at": _l("Deadline")},
}


def _error_text(exc: ActivityInputError, kind: str | None = None) -> str:
    """The refusal in the page's language, naming the field by its label on the form of `kind`."""
    label = TIME_LABELS.get(kind or "", {}).get(exc.field) or LABELS.get(exc.field, exc.field)
    return _(exc.template, label=label, **exc.params)


def _default_form() -> dict[str, str]:
    start = (venue_now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    return {"starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}


def close_consequence(item: Activity, deposits: int) -> str:
    """What Close does to the activity (nothing reopens it), in the page's language: the label of the box to tick,
    and the refusal when it was not. `deposits`: a group buy's paid deposits (deposits.py), which it refunds."""
    if item.kind == "group":
        if deposits:
            return ngettext("Cancel it for good: %(num)d paid deposit will be refunded and its members told.",
                            "Cancel it for good: %(num)d paid deposits will be refunded and its members told.",
                            deposits)
        return _("Cancel it for good: its members are told it is off.")
    if item.kind == "sale":
        return _("Close it for good: no more sales; units already sold stay sold.")
    return _("Close it for good: no more sign-ups; shoppers already signed up keep their places.")


def _deposits(venue: str, item: Activity) -> int:
    return len(deposit_store().deposits(venue, item.id)) if item.kind == "group" and not item.outcome else 0


def _page(venue: str, zone: str, status: int = 200, *, kind: str | None = None, form=None, form_error=None,
          link_form=None, link_error=None, close_error: str = ""):
    account, venue_map, zone_obj = g.account, g.venue_map, g.zone
    acts = store()
    now = time.time()
    items = acts.for_zone(venue, zone, now)
    links = acts.links_for_zone(venue, zone)
    deposits = {item.id: _deposits(venue, item) for item in items if item.status == "live"}
    return render_template(
        "activities/console.html", venue=venue_map, zone=zone_obj, account=account, items=items, links=links,
        now=now, kind=kind, form=form or _default_form(), form_error=form_error, link_form=link_form or {},
        link_error=link_error, zh=is_zh(), state_text=STATE_TEXT, kinds=KINDS, attributed_url=attributed_url,
        app_on=services().zone_apps.config_for(venue, zone, "activities") is not None,
        created=request.args.get("created"), nonce=new_nonce(), close_error=close_error,
        close_text=lambda item: close_consequence(item, deposits.get(item.id, 0)),
    ), status


@console_bp.get("/")
def home(venue: str, zone: str):
    return _page(venue, zone)


@console_bp.post("/new/<kind>")
def create(venue: str, zone: str, kind: str):
    account = g.account
    if kind not in KINDS:
        abort(404, _("No such kind of activity."))
    form = {k: request.form.get(k, "")[:1000] for k in FORM_FIELDS}
    try:
        fields = parse_activity(kind, form, tz=venue_locale().time_zone)
    except ActivityInputError as exc:
        return _page(venue, zone, 400, kind=kind, form=form, form_error=_error_text(exc, kind))
    # the form's nonce and content: the same form again (a double tap) makes no second activity and goes where the
    # first went; the nonce resent with other content (back, edit, send) is a new form
    item, replayed = store().create_by_form(venue, zone, fields, read_form_once(request.form),
                                            created_by=account.username)
    if not replayed:  # audited when the form was first sent
        audit("activities.create", venue, zone=zone, activity=item.id, kind=kind, limit=item.limit)
    return redirect(url_for("activities_console.home", venue=venue, zone=zone, created=item.id), code=303)


@console_bp.post("/<item_id>/stop")
def stop(venue: str, zone: str, item_id: str):
    """Close the activity for good (a group buy: cancelled, its deposits refunded): only with the box beside the
    button ticked."""
    before = store().get(venue, item_id[:20])
    if before is None or before.zone != zone:
        abort(404, _("No such activity in this zone."))
    if request.form.get("confirm") != "yes":  # nothing changed: the page again, saying what closing does
        refusal = _("Tick the box beside Close to confirm closing %(title)s; nothing was changed.",
                    title=before.title(is_zh()))
        return _page(venue, zone, 422, close_error=f"{refusal} {close_consequence(before, _deposits(venue, before))}")
    if not store().stop(venue, zone, item_id[:20]):  # pragma: no cover - the zone was checked just before
        abort(404, _("No such activity in this zone."))
    if before.kind == "group" and not before.outcome:
        notices.group_cancelled(store(), venue, before)
    audit("activities.stop", venue, zone=zone, activity=item_id[:20])
    return redirect(url_for("activities_console.home", venue=venue, zone=zone), code=303)


@console_bp.post("/links/new")
def new_link(venue: str, zone: str):
    form = {k: request.form.get(k, "")[:1000] for k in ("label_en", "label_zh", "url", "campaign", "activity")}
    acts = store()
    try:
        fields = parse_link(form)
        if fields["activity"]:
            item = acts.get(venue, fields["activity"])
            if item is None or item.zone != zone:
                raise ActivityInputError("activity", NOT_THIS_ZONES)
    except ActivityInputError as exc:
        return _page(venue, zone, 400, link_form=form, link_error=_error_text(exc))
    link = acts.create_link(venue, zone, fields)
    audit("activities.link", venue, zone=zone, link=link.id, campaign=link.campaign)
    return redirect(url_for("activities_console.home", venue=venue, zone=zone), code=303)
