"""A ticket keeps the refund cut-off of the moment its seats were held (store.py `refund_cutoff_s`): the hold
records it and its booking carries it, whatever the zone's config says later; and what the zone still holds
for shoppers (`tickets_to_come`, the cinema's LightApp.in_use)."""

from __future__ import annotations

import time

import pytest

from lightapps.cinema.store import CinemaStore, ShowtimeInput

VENUE, ZONE = "v1", "screens"


@pytest.fixture
def store(db) -> CinemaStore:
    return CinemaStore(db)


def make_show(store: CinemaStore, starts_in_s: int = 3 * 3600):
    item = ShowtimeInput("Orbit Nine", "九号轨道", "1", int(time.time()) + starts_in_s, 4500)
    return store.showtime(VENUE, store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0])


def test_the_booking_carries_the_cutoff_its_hold_was_made_with(store):
    show = make_show(store)
    held = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, refund_cutoff_s=3600)
    code = store.confirm(VENUE, held.token, "alice", ZONE).code
    assert store.booking(VENUE, code).refund_cutoff_s == 3600


def test_a_booking_whose_hold_named_none_has_none(store):
    show = make_show(store)
    held = store.hold(VENUE, show, "bob", ["B4"], ttl_s=480)
    assert store.booking(VENUE, store.confirm(VENUE, held.token, "bob", ZONE).code).refund_cutoff_s is None


def test_tickets_to_come_counts_bookings_and_live_holds_of_coming_shows(store):
    show, old = make_show(store), make_show(store, starts_in_s=-3600)
    assert store.tickets_to_come(VENUE, ZONE, time.time()) == 0
    first = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480)
    store.confirm(VENUE, first.token, "alice", ZONE)
    store.hold(VENUE, show, "bob", ["C4", "C5"], ttl_s=480)  # being paid for
    store.hold(VENUE, old, "carol", ["A4"], ttl_s=480)  # a show that began an hour ago: not counted
    store.hold(VENUE, show, "dan", ["F4"], ttl_s=60, now_ms=int(time.time() * 1000) - 120_000)  # lapsed
    assert store.tickets_to_come(VENUE, ZONE, time.time()) == 2
