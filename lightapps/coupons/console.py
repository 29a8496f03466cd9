"""Owner side: publish coupons for a zone, see claimed/redeemed counts, stop claims, redeem a code.

A second blueprint under /console/apps/coupons/<venue>/<zone>, CSRF-checked on every POST, for owners
of that zone only (operators of the venue too). A code is redeemed only by the zone that issued it."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lightapps.coupons import APP
from lightapps.coupons.codes import (
    ForgedCode,
    format_code,
    looks_like_qr,
    normalize_code,
    read_qr_payload,
)
from lightapps.coupons.store import CouponInputError, parse_new_coupon
from lightapps.coupons.views import is_zh, store
from portal.apps.budgets import budget_room, spend_budget
from portal.apps.locale import venue_locale, venue_today
from portal.apps.once import new_nonce, read_form_once, read_nonce
from portal.apps.views import format_time as fmt_time
from portal.apps.views import record_event, zone_console_blueprint
from portal.auth import audit
from portal.payments.money import cny
from portal.services import services

# Every view: the zone's owners (and the venue's operators) only; g.account, g.venue_map, g.zone are set.
console_bp = zone_console_blueprint("coupons_console", __name__, url_prefix="/console/apps/coupons/<venue>/<zone>",
                                    template_folder="templates")
# Unknown (or forged) codes typed at the till, counted per console account (core/settings.py DEFAULT_BUDGETS)
REDEEM_MISS = "coupons.redeem_miss"

# The new-coupon form's fields as its labels say them (the msgids of console.html's labels)
LABELS = {
    "title_zh": _l("Title (Chinese)"), "title_en": _l("Title (English)"),
    "description_zh": _l("Description (Chinese)"), "description_en": _l("Description (English)"),
    "stock": _l("Stock (how many coupons)"), "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until (inclusive)"),
    "parking_yuan": _l("Off the parking fee (yuan; empty: not a parking coupon)"),
}


def _error_text(exc: CouponInputError) -> str:
    """The refusal in the page's language, naming the field by its label on the form."""
    return _(exc.template, label=LABELS.get(exc.field, exc.field), **exc.params)


def _page(venue: str, zone: str, status: int = 200, *, form=None, form_error=None, redeem=None,
          redeem_input: str = "", stop_error: str = ""):
    account, venue_map, zone_obj = g.account, g.venue_map, g.zone
    today = venue_today()
    coupons = store().for_zone(venue, zone)
    app_on = services().zone_apps.config_for(venue, zone, "coupons") is not None
    form = form or {"valid_from": today.isoformat(), "valid_until": (today + timedelta(days=30)).isoformat()}
    return render_template(
        "coupons/console.html", venue=venue_map, zone=zone_obj, account=account, coupons=coupons, now=time.time(),
        form=form, form_error=form_error, redeem=redeem, redeem_input=redeem_input, app_on=app_on, zh=is_zh(), cny=cny,
        nonce=new_nonce(), stop_error=stop_error,
    ), status


@console_bp.get("/")
def home(venue: str, zone: str):
    return _page(venue, zone)


@console_bp.post("/new")
def create(venue: str, zone: str):
    account = g.account
    form = {k: request.form.get(k, "")[:1000] for k in
            ("title_en", "title_zh", "description_en", "description_zh", "stock", "valid_from", "valid_until",
             "parking_yuan")}
    try:
        fields = parse_new_coupon(form, today=venue_today())
    except CouponInputError as exc:
        return _page(venue, zone, 400, form=form, form_error=_error_text(exc))
    # the form's nonce and content: the same form again (a double tap) makes no second coupon and goes where the
    # first went; the nonce resent with other content (back, edit, send) is a new form
    coupon, replayed = store().create_by_form(venue, zone, fields, read_form_once(request.form),
                                              created_by=account.username, tz=venue_locale().time_zone)
    if not replayed:  # audited when the form was first sent
        audit("coupons.create", venue, zone=zone, coupon=coupon.id, stock=coupon.stock)
    return redirect(url_for("coupons_console.home", venue=venue, zone=zone, created=coupon.id), code=303)


@console_bp.post("/<coupon_id>/stop")
def stop(venue: str, zone: str, coupon_id: str):
    """Stop a coupon's claims for good (nothing reopens them): only with the box beside the button ticked."""
    coupon = store().get(venue, coupon_id[:20])
    if coupon is None or coupon.zone != zone:
        abort(404, _("No such coupon in this zone."))
    if request.form.get("confirm") != "yes":  # nothing changed: the page again, saying what stopping does
        return _page(venue, zone, 422, stop_error=_(
            "Tick the box beside Stop claims to confirm it for %(title)s: shoppers can no longer claim it, for good "
            "(coupons already claimed stay valid until their last day). Nothing was changed.",
            title=coupon.title(is_zh())))
    outcome = store().stop(venue, zone, coupon_id[:20])
    if outcome is None:
        abort(404, _("No such coupon in this zone."))
    if outcome == "stopped":  # stopping it again changes nothing: no entry (a flood of them would fill the log)
        audit("coupons.stop", venue, zone=zone, coupon=coupon_id)
    return redirect(url_for("coupons_console.home", venue=venue, zone=zone), code=303)


class Outcome:
    """What the redeem form shows: ok or not, the message, and the coupon when known."""

    def __init__(self, ok: bool, message: str, coupon=None, code: str = "") -> None:
        self.ok = ok
        self.message = message
        self.coupon = coupon
        self.code = code


@console_bp.post("/redeem")
def redeem(venue: str, zone: str):
    account, venue_map = g.account, g.venue_map
    coupons = store()
    raw = request.form.get("code", "").strip()[:400]

    def refuse(status: int, message: str, coupon=None, code: str = ""):
        return _page(venue, zone, status, redeem=Outcome(False, message, coupon, code), redeem_input=raw)

    budget_room(REDEEM_MISS, venue, account=account.username)  # spent: the budgets' 429, no code judged
    if not raw:
        return refuse(400, _("Type the coupon code (or scan its QR code)."))
    if looks_like_qr(raw):
        try:
            qr_venue, code = read_qr_payload(current_app.config["SECRET_KEY"], raw)
        except ForgedCode:
            spend_budget(REDEEM_MISS, venue, account=account.username)
            return refuse(400, _("This QR code is not genuine (its signature does not match); nothing was redeemed."))
        if qr_venue != venue:
            return refuse(400, _("This QR code belongs to another mall; nothing was redeemed."))
    else:
        code = normalize_code(raw)
        if code is None:
            return refuse(400, _("A coupon code has 10 letters and digits, like ABCDE-12345."))
    # the form's nonce: the same form again (a double press, a reload) answers its first redemption (replayed)
    result = coupons.redeem(venue, zone, code, by=account.username, nonce=read_nonce(request.form.get("nonce")))
    shown = format_code(code)
    if result.status == "NO_CODE":
        spend_budget(REDEEM_MISS, venue, account=account.username)
        return refuse(404, _("No coupon has the code %(code)s.", code=shown))
    if result.status == "WRONG_ZONE":
        other = venue_map.zone(result.issued.zone) if result.issued else None
        name = other.label(is_zh()) if other else _("another shop")
        return refuse(403, _("This coupon was issued by %(shop)s: only that shop can redeem it. "
                             "It was not redeemed.", shop=name), code=shown)
    if result.status == "ALREADY":
        return refuse(409, _("Already redeemed at %(time)s.", time=fmt_time(result.at)), result.coupon, shown)
    if result.status == "HELD":
        return refuse(409, _("This coupon is being used for a parking fee right now; it was not redeemed."),
                      result.coupon, shown)
    if result.status == "EXPIRED":
        return refuse(410, _("This coupon expired on %(time)s; not redeemed.", time=fmt_time(result.at)),
                      result.coupon, shown)
    if not result.replayed:  # the redemption was recorded when this form was first sent
        audit("coupons.redeem", venue, zone=zone, coupon=result.issued.coupon_id, code_end=code[-4:])
        record_event(APP, "coupon_redeem", venue, result.issued.client, zone=zone, coupon=result.issued.coupon_id)
    return _page(venue, zone, 200, redeem=Outcome(True, _("Redeemed at %(time)s.", time=fmt_time(result.at)),
                                                  result.coupon, shown))
