"""Shopper side: the zone's live coupons, claiming one, "my coupon" (QR + short code), "my coupons".

Every link and form carries the shopper's `c` token (the iOS captive mini-browser keeps no cookies);
a claim is a POST answered with a 303 to the coupon's GET page."""

from __future__ import annotations

import time

import segno
from flask import abort, current_app, g, redirect, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from lightapps.coupons import APP
from lightapps.coupons.codes import format_code, normalize_code, qr_payload
from lightapps.coupons.store import ClaimResult, CouponStore
from portal.apps.bilingual import pick_from
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget
from portal.apps.views import app_store, is_zh, record_event, venue_or_404, zone_app_blueprint
from portal.shopper import shopper_for_venue, shopper_token, shopper_url

APP_NAME = APP.name
# Views of a zone have its venue map, zone and config on g (404 unless the zone runs the coupons app).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>", template_folder="templates",
                        off_message=lambda: _("There are no coupons in this zone."))


def store() -> CouponStore:
    """The app's store (its scripts registered once per process)."""
    return app_store(APP)


def qr_svg(payload: str) -> Markup:
    """The QR code as inline SVG (no image request, works in the captive mini-browser)."""
    svg = segno.make(payload, error="m").svg_inline(scale=5, border=2, title=_("Coupon QR code"))
    return Markup(svg)  # noqa: S704 - segno's own markup, the payload is escaped by segno


def _landing(venue: str, zone: str, error: str | None = None, status: int = 200):
    venue_map, zone_obj, config = g.venue_map, g.zone, g.app_config
    shopper = shopper_for_venue(venue)
    now = time.time()
    coupons = store().live_for_zone(venue, zone, now)
    held = store().held_codes(venue, shopper.client, [c.id for c in coupons])
    zh = is_zh()
    headline = pick_from(config, "headline", zh) or _("Coupons")
    return render_template(
        "coupons/landing.html", venue=venue_map, zone=zone_obj, coupons=coupons, held=held, headline=headline,
        shopper_token=shopper_token(shopper), error=error, zh=zh,
    ), status


@bp.get("/zone/<zone>/coupons")
def landing(venue: str, zone: str):
    return _landing(venue, zone)


CLAIM_REFUSALS = {
    "NO_COUPON": (404, lambda: _("This coupon does not exist here.")),
    "NOT_STARTED": (403, lambda: _("This coupon is not valid yet.")),
    "ENDED": (410, lambda: _("This coupon has ended.")),
    "SOLD_OUT": (410, lambda: _("Sorry, this coupon is sold out.")),
}


@bp.post("/zone/<zone>/coupons/<coupon_id>/claim")
def claim(venue: str, zone: str, coupon_id: str):
    shopper = shopper_for_venue(venue)
    result = _claim_within_budget(venue, zone, coupon_id[:20], shopper.client)
    if result.status == "OK":
        record_event(APP, "coupon_claim", venue, shopper, zone=zone, coupon=coupon_id[:20])
    if result.status in ("OK", "ALREADY"):
        extra = {"already": "1"} if result.status == "ALREADY" else {}
        return redirect(shopper_url("coupons.mine_one", venue=venue, code=result.code, **extra), code=303)
    status, message = CLAIM_REFUSALS[result.status]
    return _landing(venue, zone, error=message(), status=status)


def _claim_within_budget(venue: str, zone: str, coupon_id: str, client: str) -> ClaimResult:
    """The claim, charging the "coupons.claim" budgets only for the tap that claims a new code: tapping again a
    coupon the shopper holds (a double tap, a stale tab) or one that is refused (sold out, not started, ended, no
    such coupon) costs nothing, as the per-IP budget is shared by every phone behind the mall's WiFi address. The
    check writes nothing and is the whole answer unless it says NEW; then spend (over budget: 429, unless a
    parallel tap claimed it meanwhile: this tap is its double tap), claim, and give back what a tap spent and did
    not claim (a parallel tap got there first, or the last one went). The offer's own ceiling
    ("coupons.claim.offer", 300 claims in 10 minutes by default: a promoted offer's rush) bounds one device coming
    back as new shoppers; an operator raises it for a bigger flash sale (core/settings.py)."""
    check = store().claim(venue, zone, coupon_id, client, check_only=True)
    if check.status != "NEW":
        return check
    try:
        spend_budget("coupons.claim", venue, shopper=client, offer=coupon_id)
    except OverBudget:
        again = store().claim(venue, zone, coupon_id, client, check_only=True)
        if again.status != "NEW":
            return again
        raise
    result = store().claim(venue, zone, coupon_id, client)
    if not result.ok:
        give_back_budget("coupons.claim", venue, shopper=client, offer=coupon_id)
    return result


@bp.get("/coupons/mine")
def mine(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    items = store().wallet(venue, shopper.client)
    return render_template("coupons/mine.html", venue=venue_map, items=items, now=time.time(), zh=is_zh(),
                           format_code=format_code)


@bp.get("/coupons/mine/<code>")
def mine_one(venue: str, code: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    canonical = normalize_code(code)
    issued = store().issued(venue, canonical) if canonical else None
    if issued is None or issued.client != shopper.client:
        abort(404, _("No such coupon in your coupons."))
    coupon = store().get(venue, issued.coupon_id)
    if coupon is None:
        abort(404, _("No such coupon in your coupons."))
    zone_obj = venue_map.zone(coupon.zone)
    now = time.time()
    payload = qr_payload(current_app.config["SECRET_KEY"], venue, issued.code)
    return render_template(
        "coupons/coupon.html", venue=venue_map, zone=zone_obj, issued=issued, coupon=coupon, zh=is_zh(),
        qr=qr_svg(payload) if issued.state == "issued" and now < coupon.valid_until else None,
        short_code=format_code(issued.code), expired=now >= coupon.valid_until,
        already=request.args.get("already") == "1",
    )
