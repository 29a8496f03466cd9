"""The cinema's part of Me: the shopper's tickets (portal/apps/mine.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from lightapps.cinema.common import cinema_store
from portal.apps.bilingual import pick
from portal.apps.mine import MyItem
from portal.apps.views import is_zh
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    store, zh, items = cinema_store(), is_zh(), []
    for booking in store.client_bookings(venue, shopper.client):
        if booking.status != "booked":
            continue
        show = store.showtime(venue, booking.show_id)
        if show is None:
            continue
        items.append(MyItem(
            kind="ticket", title=pick(show.film_zh, show.film_en, zh), when=show.starts_at,
            detail=_("Seats %(seats)s · code %(code)s", seats=", ".join(booking.seats), code=booking.code),
            endpoint="cinema.ticket", values={"venue": venue, "zone": booking.zone, "code": booking.code}))
    return items
