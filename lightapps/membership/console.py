"""Owner side of the membership card, for shops in a zone running it (and the venue's operators):
check a shopper's rotating member code at the till, and record a purchase by hand for a till that has
no POS integration (the receipt counts once, exactly like the POS API; the store is the zone)."""

from __future__ import annotations

from flask import g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lightapps.membership.codes import BadMemberCode, parse_member_code
from lightapps.membership.store import FieldError, parse_amount, parse_receipt_id
from lightapps.membership.views import is_zh
from lightapps.membership.views import store as _store
from portal.apps.views import zone_console_blueprint
from portal.auth import audit

# Every view: the zone's owners (and the venue's operators) only; g.account, g.venue_map, g.zone are set.
console_bp = zone_console_blueprint("membership_console", __name__,
                                    url_prefix="/console/apps/membership/<venue>/<zone>",
                                    template_folder="templates")
LABELS = {"receipt_id": _l("Receipt number"), "amount": _l("Amount")}  # the purchase form's labels (console.html)


class Outcome:
    def __init__(self, ok: bool, message: str, member=None) -> None:
        self.ok = ok
        self.message = message
        self.member = member


def _page(venue: str, zone: str, status: int = 200, *, check=None, sale=None, form=None):
    account, venue_map, zone_obj = g.account, g.venue_map, g.zone
    return render_template(
        "membership/console.html", venue=venue_map, zone=zone_obj, account=account, members=_store().count(venue),
        check=check, sale=sale, form=form or {}, zh=is_zh(),
    ), status


@console_bp.get("/")
def home(venue: str, zone: str):
    return _page(venue, zone)


def _member_from_code(venue: str, raw: str):
    """(member, None) or (None, (status, message))."""
    try:
        member_id, code = parse_member_code(raw, venue)
    except BadMemberCode:
        return None, (400, _("A member code looks like 100001-123456 (or scan the card's QR code)."))
    status, member = _store().identify(venue, member_id, code)
    if status == "NO_MEMBER":
        return None, (404, _("No member has the number %(id)s.", id=member_id))
    if status == "LOCKED":
        return None, (429, _("Too many wrong codes for this member; try again in 10 minutes."))
    if status == "WRONG":
        return None, (422, _("This code is wrong or has expired: ask the shopper to refresh the card."))
    return member, None


@console_bp.post("/check")
def check(venue: str, zone: str):
    member, problem = _member_from_code(venue, request.form.get("code", "")[:200])
    if problem:
        return _page(venue, zone, problem[0], check=Outcome(False, problem[1]))
    return _page(venue, zone, check=Outcome(True, _("Valid member card."), member))


@console_bp.post("/purchase")
def purchase(venue: str, zone: str):
    account = g.account
    form = {k: request.form.get(k, "")[:200] for k in ("code", "receipt_id", "amount")}

    def refuse(status: int, message: str):
        return _page(venue, zone, status, sale=Outcome(False, message), form=form)

    try:
        receipt_id = parse_receipt_id(form["receipt_id"].strip())
        cents = parse_amount(form["amount"].strip())
    except FieldError as exc:
        return refuse(400, _(exc.template, label=LABELS.get(exc.field, exc.field), **exc.params))
    member, problem = _member_from_code(venue, form["code"])
    if problem:
        return refuse(*problem)
    result = _store().post_purchase(venue, member.id, receipt_id, zone, cents)
    if result.status == "CONFLICT":
        return refuse(409, _("Receipt %(r)s was already recorded for another member or amount.", r=receipt_id))
    member = _store().get(venue, member.id)
    if result.status == "DUPLICATE":
        return _page(venue, zone, 200, sale=Outcome(True, _("Receipt %(r)s was already recorded; nothing added.",
                                                            r=receipt_id), member))
    audit("membership.purchase", venue, zone=zone, member=member.id, receipt=receipt_id, points=result.points,
          by=account.username)
    return _page(venue, zone, 200, sale=Outcome(True, _("%(n)d points added.", n=result.points), member))
