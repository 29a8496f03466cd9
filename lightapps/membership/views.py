"""Shopper side of the membership card: sign up with a phone number (a code by SMS), the card with a
rotating QR and short code, points and tier, the points history.

Every link and form carries the shopper's `c` token (the iOS captive mini-browser keeps no cookies);
each POST answers with a 303 to a GET page. The card page reloads itself when its code rotates: with JavaScript,
templates/_auto_refresh.html (it says so, with a control to stop it); without, a <meta> refresh inside <noscript>
(the code is the page's purpose, and a till takes a code for a minute at most). A shopper who is a member already
(a second tap on Verify, an old tab) is sent to her card, and no code is sent again."""

from __future__ import annotations

import logging
import time

import segno
from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from lightapps.membership import APP
from lightapps.membership.codes import (
    PhoneError,
    normalize_phone,
    qr_payload,
    seconds_left,
    short_code,
    step_of,
    totp,
)
from lightapps.membership.sender import SendError, get_sender
from lightapps.membership.store import VERIFIED_KEEP_S, Member, MemberStore, spend_for
from portal.apps.bilingual import pick_from
from portal.apps.budgets import spend_budget
from portal.apps.locale import venue_locale
from portal.apps.notify import mask_phone
from portal.apps.views import app_store, is_zh, lang_arg, record_event, venue_or_404
from portal.payments.money import cny
from portal.services import services
from portal.shopper import shopper_for_venue, shopper_token, shopper_url

log = logging.getLogger(__name__)
APP_NAME = APP.name
bp = Blueprint("membership", __name__, url_prefix="/v/<venue>", template_folder="templates")


def store() -> MemberStore:
    """The app's store (its scripts registered once per process)."""
    return app_store(APP)


def qr_svg(payload: str) -> Markup:
    svg = segno.make(payload, error="m").svg_inline(scale=5, border=2, title=_("Member QR code"))
    return Markup(svg)  # noqa: S704 - segno's own markup; the payload is digits and our ids


def _signup_page(venue_map, shopper, *, error: str | None = None, phone: str = "", status: int = 200,
                 headline: str | None = None, phone_refused: bool = False):
    """`phone_refused`: the error is the number's (the field is marked with it), not a refusal to send."""
    return render_template("membership/signup.html", venue=venue_map, shopper_token=shopper_token(shopper),
                           error=error, phone=phone, zh=is_zh(), headline=headline,
                           phone_refused=phone_refused), status


def _headline(venue: str, zone: str | None) -> str | None:
    config = services().zone_apps.config_for(venue, zone, APP_NAME) if zone else None
    if not config:
        return None
    return pick_from(config, "headline", is_zh()) or None


def _member_page(venue: str, zone: str | None = None):
    venue_map = venue_or_404(venue)
    if zone is not None and venue_map.zone(zone) is None:
        abort(404, _("Unknown zone."))
    shopper = shopper_for_venue(venue)
    member = store().for_client(venue, shopper.client)
    headline = _headline(venue, zone)
    if member is None:
        return _signup_page(venue_map, shopper, headline=headline)
    now = time.time()
    code = totp(member.secret, step_of(now))
    refresh_in = seconds_left(now)
    response = current_app.make_response(render_template(
        "membership/card.html", venue=venue_map, member=member, zh=is_zh(), headline=headline,
        qr=qr_svg(qr_payload(venue, member.id, code)), reload_s=refresh_in + 1,
        short_code=short_code(member.id, code), refresh_in=refresh_in, masked_phone=mask_phone(member.phone),
        next_spend=cny(spend_for(member.next_tier[1])) if member.next_tier else "",
        welcome=request.args.get("welcome"), shopper_token=shopper_token(shopper),
        refresh_url=shopper_url("membership.card", venue=venue, **lang_arg()),
    ))
    response.headers["Cache-Control"] = "no-store"
    return response


def _to_card(venue: str, welcome: str | None = None):
    extra = {"welcome": welcome} if welcome else {}
    return redirect(shopper_url("membership.card", venue=venue, **extra, **lang_arg()), code=303)


def _welcome(member: Member | None, created: bool) -> str:
    """The card's welcome line after a right code: "new" also for the answer to a second tap on Verify that came
    after her first had made her a member (created by the other request)."""
    joined_now = member is not None and time.time() - member.created_at < VERIFIED_KEEP_S
    return "new" if created or joined_now else "back"


def _card_if_member(venue: str, shopper, *, welcome: bool = False):
    """A 303 to her card when this shopper is a member already (a second tap, a POST sent again, an old tab or the
    back button), else None: nothing is verified or sent again."""
    member = store().for_client(venue, shopper.client)
    if member is None:
        return None
    return _to_card(venue, _welcome(member, False) if welcome else None)


@bp.get("/zone/<zone>/member")
def landing(venue: str, zone: str):
    return _member_page(venue, zone)


@bp.get("/member")
def card(venue: str):
    return _member_page(venue)


def _send_code(venue: str, venue_map, shopper, phone: str):
    """Start a verification and send the code; the sign-up page with a 4xx/5xx if that fails. Codes per
    number, shopper, client IP and per venue and day: the "membership.sms" budget (SMS pumping costs
    the mall money)."""
    spend_budget("membership.sms", venue, shopper=shopper.client, phone=phone)  # a double tap costs one
    result = store().start_verification(venue, phone, shopper.client)
    if not result.ok:
        return _signup_page(venue_map, shopper, phone=phone, status=429, error=_(
            "A code was just sent. Wait %(s)d seconds before asking for another.", s=result.wait_s))
    try:
        get_sender(current_app).send(venue, phone, result.code, 300)
    except SendError as exc:
        log.warning("membership: sending the code to %s failed: %s", mask_phone(phone), exc)
        store().cancel_verification(venue, phone, shopper.client)
        return _signup_page(venue_map, shopper, error=_("The code could not be sent; try again later."),
                            phone=phone, status=503)
    return redirect(shopper_url("membership.verify_form", venue=venue, **lang_arg()), code=303)


@bp.post("/member/signup")
def signup(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    if (card_page := _card_if_member(venue, shopper)) is not None:
        return card_page
    raw = request.form.get("phone", "")[:64]
    try:
        phone = normalize_phone(raw, venue_locale(venue).phone_region)
    except PhoneError:
        return _signup_page(venue_map, shopper, status=400, phone=raw, phone_refused=True, error=_(
            "Enter your mobile number, e.g. 138 0013 8000 (or +86 138 0013 8000)."))
    return _send_code(venue, venue_map, shopper, phone)


@bp.post("/member/resend")
def resend(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    if (card_page := _card_if_member(venue, shopper)) is not None:
        return card_page
    phone = store().pending_phone(venue, shopper.client)
    if phone is None:
        return _signup_page(venue_map, shopper, status=410, error=_("That code has expired; enter your number again."))
    return _send_code(venue, venue_map, shopper, phone)


def _verify_page(venue_map, shopper, phone: str | None, *, error: str | None = None, status: int = 200,
                 typed: str = ""):
    """The code form; `typed`: a wrong code as the shopper typed it, kept in the field so that she can mend
    the digit she got wrong instead of typing all six again (her own input, sent back to her alone)."""
    return render_template("membership/verify.html", venue=venue_map, shopper_token=shopper_token(shopper),
                           masked_phone=mask_phone(phone) if phone else "", error=error, zh=is_zh(),
                           typed=typed), status


@bp.get("/member/verify")
def verify_form(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    phone = store().pending_phone(venue, shopper.client)
    if phone is None or store().for_client(venue, shopper.client) is not None:
        return _to_card(venue)
    return _verify_page(venue_map, shopper, phone)


@bp.post("/member/verify")
def verify(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    if (card_page := _card_if_member(venue, shopper, welcome=True)) is not None:
        return card_page
    members = store()
    phone = members.pending_phone(venue, shopper.client)
    if phone is None:
        return _signup_page(venue_map, shopper, status=410,
                            error=_("That code has expired (codes last 5 minutes); enter your number again."))
    typed = request.form.get("code", "")[:20]
    result = members.verify(venue, phone, shopper.client, typed)
    if result.ok:
        member = result.member
        record_event(APP, "member_join" if result.created else "member_login", venue, shopper,
                     member=member.id if member else None, tier=member.tier[0] if member else None)
        return _to_card(venue, _welcome(member, result.created))
    if result.status == "WRONG":
        return _verify_page(venue_map, shopper, phone, status=400, typed=typed, error=_(
            "That code is not right. %(n)d tries left.", n=result.attempts_left))
    if result.status == "TOO_MANY":
        return _verify_page(venue_map, shopper, phone, status=429, error=_(
            "Too many wrong codes. Ask for a new code."))
    return _signup_page(venue_map, shopper, status=410,
                        error=_("That code has expired (codes last 5 minutes); enter your number again."))


# What a grant, a redemption or its return was for, by the `kind` the ledger keeps (the app that asked): worded
# in the reader's language. A line of another kind, or one written before kinds were kept, shows its note.
LEDGER_TEXTS = {
    ("redeem", "parking"): lambda: _("Parking fee paid with points"),
    ("restore", "parking"): lambda: _("Points given back: the parking fee was not paid"),
    ("grant", "games"): lambda: _("Lucky draw prize"),
}


def ledger_text(entry: dict) -> str:
    """The "what" of a points history line other than a purchase, a refund or joining."""
    text = LEDGER_TEXTS.get((entry.get("type", ""), entry.get("kind", "")))
    return text() if text else (entry.get("note") or entry.get("type", ""))


@bp.get("/member/history")
def history(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    member = store().for_client(venue, shopper.client)
    if member is None:
        return redirect(shopper_url("membership.card", venue=venue, **lang_arg()), code=303)
    entries = store().ledger(venue, member.id, 100)
    return render_template("membership/history.html", venue=venue_map, member=member, entries=entries, zh=is_zh(),
                           ledger_text=ledger_text, cny=cny)


@bp.post("/member/forget")
def forget(venue: str):
    venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    store().forget_client(venue, shopper.client)
    return redirect(shopper_url("membership.card", venue=venue, **lang_arg()), code=303)
