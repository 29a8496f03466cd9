"""Lists of shows read in one round trip: the console's and the API's occupancy, and Me's open holds. A cinema of
eight screens lists some hundred shows over two days; read a show at a time, each shopper's Me page and each
listing cost a round trip per show."""

from __future__ import annotations

import time

import pytest

from lightapps.cinema.store import CinemaStore
from lightapps.cinema.tests.test_cinema_store import VENUE, make_show
from tests.store_sends import store_sends


@pytest.fixture
def store(db) -> CinemaStore:
    return CinemaStore(db)


def five_shows(store: CinemaStore) -> list:
    return [make_show(store, auditorium=str(1 + i % 3), starts_in_s=3600 * (i + 1) * 3) for i in range(5)]


def test_occupancies_count_each_shows_seats_as_one_show_read_alone_would(store):
    shows = five_shows(store)
    now = time.time()
    assert store.hold(VENUE, shows[0], "alice", ["A1", "A2"], ttl_s=600).ok
    held = store.hold(VENUE, shows[1], "bob", ["B3"], ttl_s=600)
    assert store.confirm(VENUE, held.token, "bob", "screens").ok
    assert store.hold(VENUE, shows[2], "carol", ["C1", "C2", "C3"], ttl_s=1).ok  # lapsed at now + 5
    occupancies = store.occupancies(VENUE, shows, now + 5)
    assert occupancies == {show.id: store.occupancy(VENUE, show, now + 5) for show in shows}
    capacity = shows[0].layout.capacity
    assert occupancies[shows[0].id] == {"booked": 0, "held": 2, "free": capacity - 2, "capacity": capacity}
    assert occupancies[shows[1].id]["booked"] == 1 and occupancies[shows[1].id]["held"] == 0
    assert occupancies[shows[2].id]["held"] == 0  # the lapsed hold frees its seats
    assert store.occupancies(VENUE, []) == {}


def test_occupancies_of_many_shows_are_one_round_trip(store, monkeypatch):
    shows = five_shows(store)
    with store_sends(monkeypatch) as sent:
        store.occupancies(VENUE, shows)
    assert len(sent) == 1


def test_live_hold_tokens_are_those_read_one_show_at_a_time_in_one_round_trip(store, monkeypatch):
    shows = five_shows(store)
    mine = {shows[1].id: store.hold(VENUE, shows[1], "alice", ["A1"], ttl_s=600).token,
            shows[3].id: store.hold(VENUE, shows[3], "alice", ["D4"], ttl_s=600).token}
    assert store.hold(VENUE, shows[2], "bob", ["A1"], ttl_s=600).ok  # someone else's
    ids = [show.id for show in shows]
    with store_sends(monkeypatch) as sent:
        tokens = store.live_hold_tokens(VENUE, ids, "alice")
    assert len(sent) == 1
    assert tokens == mine == {i: store.live_hold_token(VENUE, i, "alice") for i in ids
                              if store.live_hold_token(VENUE, i, "alice")}
    assert store.live_hold_tokens(VENUE, [], "alice") == {}
