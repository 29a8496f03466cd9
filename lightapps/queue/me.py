"""The queue's part of Me: today's number and the coming bookings in every zone running the queue
(portal/apps/mine.py)."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from lightapps.queue import APP
from lightapps.queue.store import ACTIVE_STATES, iso_date, reservation_date
from portal.apps.locale import venue_today
from portal.apps.mine import MyItem
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
    return iso_date(compact) if compact else ""
