"""The shopper's Web Push opt-in: the browser's push subscription, bound to the shopper by their bearer
token (`Authorization: Bearer <c token>`, the token the page was opened with; never a cookie, so no other
site can subscribe someone), kept per shopper (portal/notify/contacts.py).

    GET    /api/v1/venues/<venue>/notify/push/key          the VAPID public key (applicationServerKey)
    POST   /api/v1/venues/<venue>/notify/push              {"subscription": PushSubscription JSON, "lang": "zh"}
    DELETE /api/v1/venues/<venue>/notify/push/<id>        forget one subscription

401 without a valid token of this venue; 400 for a body that is no subscription or names a host that is
no push service; 409 past MAX_PUSH subscriptions; 429 with Retry-After past the "notify.push" budgets (a new
subscription only); 404 when push is off (no VAPID key); 503 on store faults."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app, jsonify, request

from core.security import vapid_public_key
from portal.api import bearer_token, json_body, require_venue
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget
from portal.captive.probes import in_app_browser
from portal.errors import ROOT, ApiError
from portal.notify.contacts import MAX_PUSH, ContactStore, SubscriptionError, parse_subscription, subscription_id
from portal.notify.outbox import Outbox
from portal.notify.sms import SmsProvider, sms_provider
from portal.services import services
from portal.shopper import Shopper, token_store

bp = Blueprint("notify", __name__, url_prefix="/api/v1/venues/<venue>/notify")
OUTBOX = "notify_outbox"
CONTACTS = "notify_contacts"
VAPID_PUBLIC = "notify_vapid_public"
SMS = "notify_sms_provider"
SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{20}$")


def init_notify(app: Flask) -> None:
    """The outbox and the contact store for this process, the VAPID public key, the opt-in endpoints."""
    svc = app.extensions["mallportal"]
    app.extensions[OUTBOX] = Outbox(svc.db)
    app.extensions[CONTACTS] = ContactStore(svc.db, svc.settings.phone_key)
    key = svc.settings.notify.vapid_private_key
    app.extensions[VAPID_PUBLIC] = vapid_public_key(key) if key else ""
    # The one SMS provider (SMS_PROVIDER): the worker's channel builds its own from the same settings; this
    # one sends what cannot wait for the outbox (membership sign-up codes, portal.apps.notify.send_sms_now).
    app.extensions.setdefault(SMS, sms_provider(svc.settings.notify, svc.db, demo=svc.settings.demo))
    app.register_blueprint(bp)
    app.jinja_env.globals.update(push_key=push_key, push_offered=push_offered)


def outbox() -> Outbox:
    return current_app.extensions[OUTBOX]


def contacts() -> ContactStore:
    return current_app.extensions[CONTACTS]


def sms() -> SmsProvider:
    return current_app.extensions[SMS]


def push_key() -> str:
    """The VAPID public key ("" when Web Push is off)."""
    return current_app.extensions.get(VAPID_PUBLIC, "")


def push_offered() -> bool:
    """Whether the page offers "Notify me on this phone": Web Push on, and not an app's own browser (WeChat's,
    Alipay's, ...): their web views take no push subscription, or one no push service in China delivers, and the
    button would fail there after asking for permission."""
    return bool(push_key()) and not in_app_browser(request.headers.get("User-Agent", ""))


def _shopper(venue: str) -> Shopper:
    """The shopper the bearer token stands for; 401 unless it is a live token of this venue."""
    shopper = token_store().resolve(bearer_token() or None)
    if shopper is None or shopper.venue != venue:
        raise ApiError(401, "missing or invalid shopper token (Authorization: Bearer <c>)")
    return shopper


def _push_on() -> None:
    if not push_key():
        raise ApiError(404, "Web Push is not configured here")


@bp.get("/push/key")
def public_key(venue: str):
    """Public, and the same key for every venue: answered for any venue name, so it tells no one which exist."""
    _push_on()
    return jsonify({"key": push_key()})


@bp.post("/push")
def subscribe(venue: str):
    _push_on()
    shopper = _shopper(venue)  # first: without a token of this venue, 401 whether or not the venue exists
    require_venue(venue)
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object", ROOT)
    try:
        subscription = parse_subscription(body.get("subscription"), services().settings.notify.push_hosts)
    except SubscriptionError as exc:
        raise ApiError(400, exc.message, f"subscription.{exc.field}") from None
    lang = body.get("lang") if body.get("lang") in ("en", "zh") else "zh"
    if _add_within_budget(venue, shopper.client, subscription, lang) == "full":
        raise ApiError(409, f"this shopper already has {MAX_PUSH} push subscriptions; remove one first")
    return jsonify({"id": subscription_id(subscription["endpoint"])}), 201


def _add_within_budget(venue: str, client: str, subscription: dict, lang: str) -> str:
    """add_push, charging the "notify.push" budgets (per client address and shopper; 429 when spent) only for
    a subscription this shopper does not have yet: an anonymous shopper costs one GET, so the per-shopper
    MAX_PUSH alone lets one address store any number of them (~1.4 kB each, kept CONTACT_TTL_S). One already
    stored is refreshed without spending (a browser subscribing again), also when a parallel request stored it
    while this one was refused; a spend that then stored nothing (the shopper filled up, or a parallel request
    stored the same one first) is given back."""
    outcome = contacts().add_push(venue, client, subscription, lang, known_only=True)
    if outcome != "new":
        return outcome
    try:
        spend_budget("notify.push", venue, shopper=client)
    except OverBudget:
        outcome = contacts().add_push(venue, client, subscription, lang, known_only=True)
        if outcome != "new":  # a parallel request stored it meanwhile: this one is its repeat
            return outcome
        raise
    outcome = contacts().add_push(venue, client, subscription, lang)
    if outcome != "added":
        give_back_budget("notify.push", venue, shopper=client)
    return outcome


@bp.delete("/push/<sid>")
def unsubscribe(venue: str, sid: str):
    shopper = _shopper(venue)  # first, as in subscribe
    require_venue(venue)
    if not SUBSCRIPTION_ID.match(sid) or not contacts().remove_push(venue, shopper.client, sid):
        raise ApiError(404, "no such subscription")
    return "", 204
