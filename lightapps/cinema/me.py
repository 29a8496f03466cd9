"""The cinema's part of Me: the shopper's open seat holds (not yet confirmed or paid), then their tickets
(portal/apps/mine.py).

An open hold is listed so that it can be found again: from a sign-in sheet that reloaded Me, and from the
phone's real browser after the keep link (the sheet may close while the shopper pays, the provider's page
being on another host). Its page has the Pay (or Confirm) button, which gives back the same order.

`paid`: her paid tickets for shows to come, for the privacy centre (portal/apps/paid.py). Before the ticket's
refund cut-off she may cancel it on its page, refunded in full (views.py `cancel_ticket`: the one cancel path, whose
page shows the refund's outcome), so an erasure waits for that; after it, the ticket is kept for her until the show
is over (KEPT_AFTER_START_S), then erased."""

from __future__ import annotations

import time
from datetime import timedelta

from flask_babel import gettext as _

from lightapps.cinema import APP
from lightapps.cinema.common import LATE_BOOKING_S, cinema_store, day_bounds, refund_cutoff_s
from lightapps.cinema.payment import PaymentUnknown, order_for_booking, payments_on
from lightapps.cinema.store import HOLD_EXTRA_MAX_S, Booking, CinemaStore, Showtime
from portal.apps.bilingual import pick
from portal.apps.locale import venue_today
from portal.apps.mine import MyItem
from portal.apps.paid import PaidThing
from portal.apps.views import hhmm, is_zh, zone_app_config, zones_running
from portal.shopper import Shopper

# common.hold_seconds' upper bound and its one extension: a hold outlives its show's booking by at most this
LONGEST_HOLD_S = 30 * 60 + HOLD_EXTRA_MAX_S
# A ticket is used once its show is over: shows carry no length, and the longest film with its trailers ends within
# this after the start (the ticket's page is what she shows to come back in after a break).
KEPT_AFTER_START_S = 6 * 3600


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
        shows = store.showtimes(venue, zone, now - LATE_BOOKING_S - LONGEST_HOLD_S, tomorrow_end)
        tokens = store.live_hold_tokens(venue, [show.id for show in shows], client)
        for show in shows:
            token = tokens.get(show.id)
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
    for booking, show in store.booked_shows(venue, client):
        items.append(MyItem(
            kind="ticket", title=pick(show.film_zh, show.film_en, zh), when=show.starts_at,
            detail=_("Seats %(seats)s · code %(code)s", seats=", ".join(booking.seats), code=booking.code),
            endpoint="cinema.ticket", values={"venue": venue, "zone": booking.zone, "code": booking.code}))
    return items


def paid(venue: str, client: str) -> list[PaidThing]:
    """Her tickets paid online (and not refunded) for shows not over yet."""
    if not payments_on():
        return []
    store, zh, now = cinema_store(), is_zh(), time.time()
    things = []
    for booking, show in store.booked_shows(venue, client, 1000):
        if now < show.starts_at + KEPT_AFTER_START_S:
            thing = _paid_ticket(venue, booking, show, zh, now)
            things += [thing] if thing is not None else []
    return things


def _paid_ticket(venue: str, booking: Booking, show: Showtime, zh: bool, now: float) -> PaidThing | None:
    """The ticket as a paid thing, or None when nothing of it is paid online. A ticket whose payment is not known yet
    (payment.py, PaymentUnknown) counts as paid, its seats' price: refundable (the erasure waits) only before its
    refund cut-off and while its zone runs the cinema, as a ticket known paid; after that it is kept for her until
    the show is over."""
    config = zone_app_config(APP, venue, booking.zone)  # None: the zone stopped running the cinema (no ticket page)
    try:
        order = order_for_booking(venue, booking)
        amount = order.refundable if order is not None and order.is_paid else 0
    except PaymentUnknown:
        amount = show.price_cents * len(booking.seats)
    if amount <= 0:
        return None
    refund_until = show.starts_at - refund_cutoff_s(booking, show, config or {})
    refundable = config is not None and now < refund_until
    return PaidThing(kind="ticket", title=pick(show.film_zh, show.film_en, zh), amount_fen=amount, ref=booking.code,
                     endpoint="cinema.ticket", values={"venue": venue, "zone": booking.zone, "code": booking.code},
                     refundable=refundable,
                     until=refund_until if refundable else show.starts_at + KEPT_AFTER_START_S)
