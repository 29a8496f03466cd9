"""Owner side of the membership card, for shops in a zone running it (and the venue's operators, in such a
zone): check a shopper's rotating member code at the till, and record a purchase by hand for a till that has
no POS integration (the receipt counts once, exactly like the POS API; the store is the zone). A purchase
recorded by hand is capped (MANUAL_MAX_AMOUNT a receipt) and its points are counted per account and per zone
and day (the "membership.manual" budgets): over either, 422 or 429 and nothing is recorded. A zone that does
not run the card gets 403: its owner may not see members or add points (and only the venue's operator turns the
card on in a zone: LightApp.operator_assigns). Wrong codes count per account and member number (MemberStore.identify):
an account that guesses is stopped, the member's card is not; an expired code (the member's page did not update)
counts for nothing."""

from __future__ import annotations

from flask import abort, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lightapps.membership import APP
from lightapps.membership.codes import BadMemberCode, parse_member_code
from lightapps.membership.store import MANUAL_MAX_AMOUNT, Caller, FieldError, parse_amount, parse_receipt_id, points_for
from lightapps.membership.views import is_zh
from lightapps.membership.views import store as _store
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget, wait_text
from portal.apps.views import zone_console_blueprint
from portal.auth import audit
from portal.services import services

# Every view: the zone's owners (and the venue's operators) only, in a zone running the card (below); g.account,
# g.venue_map, g.zone are set.
console_bp = zone_console_blueprint("membership_console", __name__,
                                    url_prefix="/console/apps/membership/<venue>/<zone>",
                                    template_folder="templates")
LABELS = {"receipt_id": _l("Receipt number"), "amount": _l("Amount")}  # the purchase form's labels (console.html)


@console_bp.before_request
def _zone_runs_membership():
    """After the blueprint's own checks (logged in, manages the zone): the zone must run the card. The saved
    assignment, not zone_app_config, which a `?preview=` of unsaved settings would satisfy."""
    values = request.view_args or {}
    if services().zone_apps.config_for(values["venue"], values["zone"], APP.name) is None:
        abort(403, _("This zone does not run the membership card."))


class Outcome:
    def __init__(self, ok: bool, message: str, member=None) -> None:
        self.ok = ok
        self.message = message
        self.member = member


def _page(venue: str, zone: str, status: int = 200, *, check=None, sale=None, form=None, headers=None):
    account, venue_map, zone_obj = g.account, g.venue_map, g.zone
    return render_template(
        "membership/console.html", venue=venue_map, zone=zone_obj, account=account, members=_store().count(venue),
        check=check, sale=sale, form=form or {}, zh=is_zh(), manual_max=MANUAL_MAX_AMOUNT,
    ), status, headers or {}


@console_bp.get("/")
def home(venue: str, zone: str):
    return _page(venue, zone)


def _member_from_code(venue: str, raw: str):
    """(member, None) or (None, (status, message, headers))."""
    try:
        member_id, code = parse_member_code(raw, venue)
    except BadMemberCode:
        return None, (400, _("A member code looks like 100001-123456 (or scan the card's QR code)."), {})
    status, member, wait = _store().identify(venue, member_id, code, Caller("account", g.account.username))
    return (member, None) if status == "OK" else (None, _refusal(status, member_id, wait))


def _refusal(status: str, member_id: str, wait: int) -> tuple[int, str, dict]:
    """What the till is told of a code MemberStore.identify did not take: (HTTP status, message, headers)."""
    retry = {"Retry-After": str(wait)}
    if status in ("SPENT", "SPENT_MEMBER"):  # this account's wrong codes are spent (SPENT_MEMBER: for this number
        # only, other members' cards still work here): nothing was judged
        spent = (_("Too many wrong member codes from this account.") if status == "SPENT"
                 else _("Too many wrong codes for member %(id)s from this account.", id=member_id))
        return 429, spent + " " + wait_text(wait), retry
    if status == "LOCKED":
        return 429, _("Too many wrong codes for this member; try again in 10 minutes."), retry
    if status == "NO_MEMBER":
        return 404, _("No member has the number %(id)s.", id=member_id), {}
    if status == "STALE":  # her page did not update: not a wrong code
        return 422, _("This code has expired: ask the shopper to refresh the card and show the new code."), {}
    return 422, _("This code is wrong or has expired: ask the shopper to refresh the card."), {}


@console_bp.post("/check")
def check(venue: str, zone: str):
    member, problem = _member_from_code(venue, request.form.get("code", "")[:200])
    if problem:
        status, message, headers = problem
        return _page(venue, zone, status, check=Outcome(False, message), headers=headers)
    return _page(venue, zone, check=Outcome(True, _("Valid member card."), member))


@console_bp.post("/purchase")
def purchase(venue: str, zone: str):
    account = g.account
    form = {k: request.form.get(k, "")[:200] for k in ("code", "receipt_id", "amount")}

    def refuse(status: int, message: str, headers=None):
        return _page(venue, zone, status, sale=Outcome(False, message), form=form, headers=headers)

    try:
        receipt_id = parse_receipt_id(form["receipt_id"].strip())
        cents = parse_amount(form["amount"].strip())
    except FieldError as exc:
        return refuse(400, _(exc.template, label=LABELS.get(exc.field, exc.field), **exc.params))
    if cents > MANUAL_MAX_AMOUNT * 100:
        return refuse(422, _("A purchase recorded by hand may be at most %(max)s; a larger one goes through the "
                             "till's POS.", max=MANUAL_MAX_AMOUNT))
    member, problem = _member_from_code(venue, form["code"])
    if problem:
        return refuse(*problem)
    # A receipt recorded already spends nothing (the store answers DUPLICATE or CONFLICT); a new one is counted
    # first and given back below when it added nothing (two tills posting it at once)
    known = _store().receipt(venue, zone, receipt_id, fold_case=True) is not None
    spent = {"account": account.username, "zone": zone, "cost": 0 if known else points_for(cents)}
    try:
        if spent["cost"]:
            spend_budget("membership.manual", venue, **spent)
    except OverBudget as exc:
        if exc.refusal.never and not exc.refusal.most:
            return refuse(exc.refusal.status, _("Points recorded by hand are switched off here for now."))
        if exc.refusal.never:  # no wait makes room: the whole cap is below this purchase's points
            return refuse(exc.refusal.status, _("This purchase's %(points)d points are more than the whole cap for "
                                                "points recorded by hand (%(cap)d): it goes through the till's POS.",
                                                points=spent["cost"], cap=exc.refusal.most))
        wait = exc.refusal.retry_after_s
        return refuse(429, _("Points recorded by hand are capped per account and per zone each day, and this "
                             "purchase would pass the cap.") + " " + wait_text(wait), {"Retry-After": str(wait)})
    member_id = member.id
    result = _store().post_purchase(venue, member_id, receipt_id, zone, cents, fold_case=True)
    if result.status != "OK":  # nothing was added: the points it counted are given back
        give_back_budget("membership.manual", venue, **spent)
    if result.status == "CONFLICT":
        return refuse(409, _("Receipt %(r)s was already recorded for another member or amount.", r=receipt_id))
    member = _store().get(venue, member_id)
    if result.status == "DUPLICATE":
        return _page(venue, zone, 200, sale=Outcome(True, _("Receipt %(r)s was already recorded; nothing added.",
                                                            r=receipt_id), member))
    if result.status != "OK" or member is None:  # NO_MEMBER: erased since the code was checked
        return refuse(404, _("No member has the number %(id)s.", id=member_id))
    audit("membership.purchase", venue, zone=zone, member=_store().audit_ref(member.id), receipt=receipt_id,
          points=result.points, by=account.username)
    return _page(venue, zone, 200, sale=Outcome(True, _("%(n)d points added.", n=result.points), member))
