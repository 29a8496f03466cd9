"""The queue's part of Me: today's number and the coming bookings in every zone running the queue
(portal/apps/mine.py).

`paid`: her pre-orders paid online for a number still waiting or a booking to come, for the privacy centre
(portal/apps/paid.py). Giving up the number or the booking on its page refunds the pre-order in full (views.py
`cancel`, `reserve_cancel`: the one path, payment.py `refund_paid_preorder`), so an erasure waits for that: erased
with it, the number would still be called for a meal nobody comes to eat."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from lightapps.queue import APP, BOOKING_DAYS_AHEAD
from lightapps.queue.payment import payments_on
from lightapps.queue.store import ACTIVE_STATES, decode_preorder, iso_date, reservation_date
from portal.apps.locale import spoken_iso_day, venue_today
from portal.apps.mine import MyItem
from portal.apps.paid import PaidThing
from portal.apps.views import app_store, is_zh, zones_running
from portal.services import services
from portal.shopper import Shopper

BOOKING_DAYS_SHOWN = 7


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    store, zh = app_store(APP), is_zh()
    venue_map = services().venues.get_map(venue)
    today = venue_today(venue)
    days = [(today + timedelta(days=i)).isoformat() for i in range(BOOKING_DAYS_SHOWN)]
    items = []
    for zone_id in zones_running(APP, venue):
        zone = venue_map.zone(zone_id) if venue_map else None
        place = zone.label(zh) if zone else zone_id
        ticket = store.my_ticket(venue, zone_id, shopper.client)
        if ticket and ticket.get("state") in ACTIVE_STATES:  # waiting, or called ("come now")
            items.append(MyItem(kind="queue", title=_("Number %(number)s", number=ticket["id"]),
                                detail=place, endpoint="queue.landing", values={"venue": venue, "zone": zone_id}))
        for booking in store.my_reservations(venue, zone_id, shopper.client, days):
            if booking.get("state") == "BOOKED":
                items.append(MyItem(kind="booking", title=_("Table for %(n)d", n=booking["party"]),
                                    detail=f"{place} · {_day(booking['id'])} {booking['slot']}",
                                    endpoint="queue.reserve_form", values={"venue": venue, "zone": zone_id}))
    return items


def _day(rid: str) -> str:
    compact = reservation_date(rid)
    return spoken_iso_day(iso_date(compact)) if compact else ""


def paid(venue: str, client: str) -> list[PaidThing]:
    """Her paid pre-orders (not refunded) of a live number or of a booking to come, in every zone running the queue."""
    if not payments_on():
        return []
    store, today = app_store(APP), venue_today(venue)
    days = [(today + timedelta(days=i)).isoformat() for i in range(BOOKING_DAYS_AHEAD)]
    things = []
    for zone in zones_running(APP, venue):
        ticket = store.my_ticket(venue, zone, client)
        if ticket and ticket.get("state") in ACTIVE_STATES:
            things += _paid_preorder(venue, ticket, _("Pre-order for number %(number)s", number=ticket["id"]),
                                     "queue.landing", zone)
        for booking in store.my_reservations(venue, zone, client, days):
            if booking.get("state") == "BOOKED":
                things += _paid_preorder(venue, booking, _("Pre-order for your table for %(n)d", n=booking["party"]),
                                         "queue.reserve_form", zone)
    return things


def _paid_preorder(venue: str, record: dict, title: str, endpoint: str, zone: str) -> list[PaidThing]:
    """The record's pre-order as a paid thing (none when it is not paid online, or refunded)."""
    preorder = decode_preorder(record)
    order = services().payments.order(venue, preorder["order"]) if preorder and preorder.get("paid") else None
    if order is None or order.refundable <= 0:
        return []
    return [PaidThing(kind="order", title=title, amount_fen=order.refundable, ref=str(record["id"]),
                      endpoint=endpoint, values={"venue": venue, "zone": zone}, refundable=True)]
