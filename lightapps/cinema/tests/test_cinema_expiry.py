"""Every record a booking writes about a shopper expires (a real Valkey): the booking after its showtime plus
a grace period, "your tickets" at least the shopper token's lifetime after each booking and never before the
bookings it lists; a booking only moves an expiry later. Without these an anonymous shopper's records would
outlive the only token that can reach them, for ever."""

from __future__ import annotations

import time

import pytest

from lightapps.cinema.store import KEEP_AFTER_SHOW_S, CinemaKeys, CinemaStore, ShowtimeInput
from portal.apps.views import STORES

VENUE = "v1"
ZONE = "screens"
DAY = 86400
TOKEN_LIFE = 30 * DAY
SLACK = 5


@pytest.fixture
def store(db) -> CinemaStore:
    return CinemaStore(db, shopper_ttl_s=TOKEN_LIFE)


def show_in(store: CinemaStore, seconds: int):
    item = ShowtimeInput(film_en="Orbit Nine", film_zh="九号轨道", auditorium="1",
                         starts_at=int(time.time()) + seconds, price_cents=4500)
    return store.showtime(VENUE, store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0])


def book(store: CinemaStore, show, seats: list[str], client: str = "anon-1") -> str:
    hold = store.hold(VENUE, show, client, seats, ttl_s=480)
    booked = store.confirm(VENUE, hold.token, client, ZONE)
    assert booked.ok
    return booked.code


def test_a_booking_gives_every_record_naming_the_shopper_an_expiry_past_the_show(store, db):
    keys = CinemaKeys(VENUE)
    show = show_in(store, 10 * DAY)
    code = book(store, show, ["D1", "D2"])
    usable = show.starts_at - time.time()
    assert usable + KEEP_AFTER_SHOW_S - SLACK <= db.ttl(keys.booking(code)) <= usable + KEEP_AFTER_SHOW_S + 2
    assert db.ttl(keys.client_tickets("anon-1")) >= max(TOKEN_LIFE, usable + KEEP_AFTER_SHOW_S) - SLACK
    token = store.booking(VENUE, code).token
    assert db.ttl(keys.hold(token)) > 0 and not db.exists(keys.client_hold(show.id, "anon-1"))


def test_your_tickets_outlive_the_latest_show_and_a_booking_never_shortens_them(store, db):
    tickets = CinemaKeys(VENUE).client_tickets("anon-1")
    book(store, show_in(store, 300 * DAY), ["D1", "D2"])
    assert db.ttl(tickets) >= 300 * DAY + KEEP_AFTER_SHOW_S - SLACK
    book(store, show_in(store, 3600), ["D1", "D2"])
    assert db.ttl(tickets) >= 300 * DAY + KEEP_AFTER_SHOW_S - SLACK


def test_a_second_booking_refreshes_your_tickets(store, db):
    tickets = CinemaKeys(VENUE).client_tickets("anon-1")
    book(store, show_in(store, 3600), ["D1", "D2"])
    db.expire(tickets, 60)  # as if the first booking were a month old
    book(store, show_in(store, 3600), ["D1", "D2"])
    assert db.ttl(tickets) >= TOKEN_LIFE - SLACK


def test_the_platform_builds_the_store_with_the_shopper_token_lifetime(app, svc):
    assert app.extensions[STORES]["cinema"].shopper_ttl_s == svc.settings.shopper_token_ttl_s
