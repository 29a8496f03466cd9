"""The words the privacy page (portal/events/mydata.py, `readable`) puts the export's codes in: the states,
kinds, actions, purposes and currencies the apps and the host store as codes, and the names of the records their
ids stand for (an activity, a coupon, a showtime, a tier), asked of the app that keeps them. The download
(`export.json`) keeps the codes: it is for machines, the page is for a person."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import current_app
from flask_babel import pgettext

from portal.apps.views import STORES

# Field name -> the vocabulary of value_words() its values are worded by.
WORDED = {"status": "state", "state": "state", "type": "type", "action": "action", "purpose": "purpose",
          "currency": "currency"}
# Fields holding a zone's or a shop's id (a payment's merchant, a receipt's store), named from the venue map.
PLACES = ("zone", "store", "merchant", "shop")
# Fields the host words itself (or shows as codes: a confirmation code, an order number): no app is asked.
HOST_FIELDS = frozenset({*WORDED, *PLACES, "app", "kind", "code", "order", "receipt", "member", "phone", "shopper",
                         "id", "rule", "event", "channel"})


def value_words() -> dict[str, dict[str, str]]:
    """vocabulary -> stored value (lower case) -> its words. Each a literal pgettext call: the catalog's extractor
    reads only those."""
    return {"state": _states(), "type": _ledger_types(), "action": _actions(), "purpose": purposes(),
            "currency": {"cny": pgettext("currency", "Yuan (CNY)")}}


def _states() -> dict[str, str]:
    """The states the exports carry: orders, codes and vouchers, tickets and holds, queue numbers and bookings,
    parking fees, the rules' deliveries."""
    return {
        "created": pgettext("my data state", "Waiting for payment"),
        "paid": pgettext("my data state", "Paid"),
        "partially_refunded": pgettext("my data state", "Partly refunded"),
        "refunded": pgettext("my data state", "Refunded"),
        "closed": pgettext("my data state", "Closed unpaid"),
        "issued": pgettext("my data state", "Not used yet"),
        "held": pgettext("my data state", "Held"),
        "redeemed": pgettext("my data state", "Used"),
        "credited": pgettext("my data state", "Put on your membership card"),
        "booked": pgettext("my data state", "Booked"),
        "confirmed": pgettext("my data state", "Booked"),
        "cancelled": pgettext("my data state", "Cancelled"),
        "canceled": pgettext("my data state", "Cancelled"),
        "expired": pgettext("my data state", "Expired"),
        "replaced": pgettext("my data state", "Replaced by a new choice"),
        "lost": pgettext("my data state", "Released"),
        "waiting": pgettext("my data state", "Waiting"),
        "service_ready": pgettext("my data state", "Called"),
        "seated": pgettext("my data state", "Seated"),
        "arrived": pgettext("my data state", "Arrived"),
        "no_show": pgettext("my data state", "Missed"),
        "owed": pgettext("my data state", "Owed"),
        "charging": pgettext("my data state", "Being paid"),
        "cleared": pgettext("my data state", "Settled"),
        "queued": pgettext("my data state", "Waiting to be sent"),
        "delivered": pgettext("my data state", "Sent"),
        "retrying": pgettext("my data state", "Being sent again"),
        "failed": pgettext("my data state", "Could not be sent"),
        "offered": pgettext("my data state", "Offered"),
        "notified": pgettext("my data state", "Sent"),
        "skipped": pgettext("my data state", "Not sent"),
        "alerted": pgettext("my data state", "Staff told"),
    }


def _ledger_types() -> dict[str, str]:
    """The lines of a membership's points history."""
    return {"join": pgettext("points", "Joined"), "earn": pgettext("points", "Earned on a purchase"),
            "reverse": pgettext("points", "Taken back on a refund"), "grant": pgettext("points", "Given"),
            "redeem": pgettext("points", "Spent"), "restore": pgettext("points", "Given back")}


def _actions() -> dict[str, str]:
    """What a `txn` event says she did (the apps' `record_event`, the payments' money events), and what a rule's
    delivery did."""
    return {
        "payment": pgettext("my data action", "Paid"),
        "refund": pgettext("my data action", "Refunded"),
        "ticket": pgettext("my data action", "Booked a cinema ticket"),
        "seat_hold": pgettext("my data action", "Held cinema seats"),
        "activity_join": pgettext("my data action", "Joined an activity"),
        "activity_leave": pgettext("my data action", "Left an activity"),
        "referral": pgettext("my data action", "Followed a link to a shop"),
        "coupon_claim": pgettext("my data action", "Claimed a coupon"),
        "coupon_redeem": pgettext("my data action", "Used a coupon"),
        "member_join": pgettext("my data action", "Became a member"),
        "member_login": pgettext("my data action", "Signed in as a member"),
        "queue_ticket": pgettext("my data action", "Took a queue number"),
        "preorder_paid": pgettext("my data action", "Paid for a pre-order"),
        "parking_paid": pgettext("my data action", "Paid for parking"),
        "game_draw": pgettext("my data action", "Played a game"),
        "game_prize_collected": pgettext("my data action", "Collected a prize"),
        "offer": pgettext("my data action", "Sent you an offer"),
        "notify": pgettext("my data action", "Sent you a notification"),
        "webhook": pgettext("my data action", "Told the mall’s system"),
    }


def purposes() -> dict[str, str]:
    """What a payment paid for (its order's purpose; a payment event's `app`)."""
    return {"cinema": pgettext("paid for", "Cinema ticket"), "sale": pgettext("paid for", "Flash sale"),
            "group": pgettext("paid for", "Group-buy deposit"),
            "preorder": pgettext("paid for", "Restaurant pre-order"), "parking": pgettext("paid for", "Parking fee")}


def ref_names(venue: str, data: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """(app, field) -> record id -> its names (Chinese, English), for the ids the export holds in fields the host
    does not word itself: each app's data and events, asked of the app that keeps them (its store's optional
    `ref_titles(venue, field, ids)`, which names only its own fields' records)."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for app, key, value in _refs(data):
        wanted.setdefault((app, key), set()).add(value)
    stores = current_app.extensions[STORES]
    names = {}
    for (app, key), ids in wanted.items():
        ask = getattr(stores.get(app), "ref_titles", None)
        if ask is not None and (found := ask(venue, key, ids)):
            names[(app, key)] = found
    return names


def _refs(data: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(app, field, value) of each short text or whole number in the apps' data and the events (an event's app is
    its `app`), in the parts of the export the page shows."""
    for part in (data, *data.get("linked", ()), *data.get("earlier", ())):
        for app, value in part.get("apps", {}).items():
            yield from _walk(app, value)
    for event in data.get("events", ()):
        yield from _walk(str(event.get("app") or ""), event)


def _walk(app: str, value: Any, key: str = "") -> Iterator[tuple[str, str, str]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(app, v, k)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(app, v, key)
    elif _may_name(key, value):
        yield app, key, str(value)


def _may_name(key: str, value: Any) -> bool:
    """A record's id may be in this field: a short text or whole number, in no field the host words (nor a time or
    an amount)."""
    return (bool(key) and key not in HOST_FIELDS and not key.endswith(("_ms", "_at", "_fen", "_s"))
            and isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= 40)
