"""The cinema's part of Me: the shopper's open seat holds (not yet confirmed or paid), then their tickets
(portal/apps/mine.py).

An open hold is listed so that it can be found again: from a sign-in sheet that reloaded Me, and from the
phone's real browser after the keep link (the sheet may close while the shopper pays, the provider's page
being on another host). Its page has the Pay (or Confirm) button, which gives back the same order."""

from __future__ import annotations

import time
from datetime import timedelta

from flask_babel import gettext as _

from lightapps.cinema import APP
from lightapps.cinema.common import LATE_BOOKING_S, cinema_store, day_bounds
from lightapps.cinema.store import HOLD_EXTRA_MAX_S, CinemaStore
from portal.apps.bilingual import pick
from portal.apps.locale import venue_today
from portal.apps.mine import MyItem
from portal.apps.views import hhmm, is_zh, zones_running
from portal.shopper import Shopper

# common.hold_seconds' upper bound and its one extension: a hold outlives its show's booking by at most this
LONGEST_HOLD_S = 30 * 60 + HOLD_EXTRA_MAX_S


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    store, zh = cinema_store(), is_zh()
    return [*_open_holds(store, venue, shopper.client, zh), *_tickets(store, venue, shopper.client, zh)]


def _open_holds(store: CinemaStore, venue: str, client: str, zh: bool) -> list[MyItem]:
    """The shopper's live holds, one at most per show (the store's live-hold pointer), on the shows a hold
    can be on: the ones the landing lists (today's and tomorrow's) whose booking closed at most the longest
    hold ago."""
    now = time.time()
    _tomorrow_start, tomorrow_end = day_bounds(venue_today() + timedelta(days=1))
    items = []
    for zone in zones_running(APP, venue):
        for show in store.showtimes(venue, zone, now - LATE_BOOKING_S - LONGEST_HOLD_S, tomorrow_end):
            token = store.live_hold_token(venue, show.id, client)
            hold = store.get_hold(venue, token) if token else None
            if hold is None or hold.client != client or not hold.is_live(now) or show.cancelled:
                continue
            items.append(MyItem(
                kind="ticket", title=pick(show.film_zh, show.film_en, zh), when=show.starts_at,
                detail=_("Seats %(seats)s held until %(time)s", seats=", ".join(hold.seats),
                         time=hhmm(hold.expires_ms / 1000)),
                endpoint="cinema.hold_page", values={"venue": venue, "zone": show.zone, "token": hold.token}))
    return items


def _tickets(store: CinemaStore, venue: str, client: str, zh: bool) -> list[MyItem]:
    items = []
    for booking in store.client_bookings(venue, client):
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
