"""Lists of shows read in one round trip: the console's and the API's occupancy, and Me's open holds. A cinema of
eight screens lists some hundred shows over two days; read a show at a time, each shopper's Me page and each
listing cost a round trip per show."""

from __future__ import annotations

import time

import pytest

from lightapps.cinema.store import CinemaKeys, CinemaStore
from lightapps.cinema.tests.test_cinema_store import VENUE, make_show
from tests.store_sends import store_sends


@pytest.fixture
def store(db) -> CinemaStore:
    return CinemaStore(db)


def five_shows(store: CinemaStore) -> list:
    return [make_show(store, auditorium=str(1 + i % 3), starts_in_s=3600 * (i + 1) * 3) for i in range(5)]


def test_occupancies_count_each_shows_seats_as_its_seat_states_say(store):
    shows = five_shows(store)
    now = time.time()
    at_ms = int(now * 1000)
    assert store.hold(VENUE, shows[0], "alice", ["A1", "A2"], ttl_s=600, now_ms=at_ms).ok
    bobs = store.hold(VENUE, shows[1], "bob", ["B3"], ttl_s=600, now_ms=at_ms)
    assert store.confirm(VENUE, bobs.token, "bob", "screens", now_ms=at_ms).ok
    assert store.hold(VENUE, shows[2], "carol", ["C1", "C2", "C3"], ttl_s=1, now_ms=at_ms).ok  # lapsed at now + 5
    occupancies = store.occupancies(VENUE, shows, now + 5)
    taken = {shows[0].id: (0, 2), shows[1].id: (1, 0)}  # (booked, held); carol's lapsed hold frees her seats
    for show in shows:
        booked, held = taken.get(show.id, (0, 0))
        capacity = show.layout.capacity
        assert occupancies[show.id] == {"booked": booked, "held": held, "free": capacity - booked - held,
                                        "capacity": capacity}
    for show in shows:  # the same as each show's seats read alone
        states = store.seat_states(VENUE, show.id, now + 5)
        booked = sum(kind == "booked" for kind, _ in states.values())
        assert (occupancies[show.id]["booked"], occupancies[show.id]["held"]) == (booked, len(states) - booked)
    assert store.occupancies(VENUE, []) == {}


def test_occupancies_of_many_shows_are_one_round_trip(store, monkeypatch):
    shows = five_shows(store)
    with store_sends(monkeypatch) as sent:
        store.occupancies(VENUE, shows)
    assert len(sent) == 1


def test_live_hold_tokens_are_those_read_one_show_at_a_time_in_one_round_trip(store, monkeypatch):
    shows = five_shows(store)
    mine = {shows[1].id: store.hold(VENUE, shows[1], "alice", ["A1"], ttl_s=3600).token,
            shows[3].id: store.hold(VENUE, shows[3], "alice", ["D4"], ttl_s=3600).token}
    assert store.hold(VENUE, shows[2], "bob", ["A1"], ttl_s=3600).ok  # someone else's
    ids = [show.id for show in shows]
    with store_sends(monkeypatch) as sent:
        tokens = store.live_hold_tokens(VENUE, ids, "alice")
    assert len(sent) == 1
    assert tokens == mine == {i: store.live_hold_token(VENUE, i, "alice") for i in ids
                              if store.live_hold_token(VENUE, i, "alice")}
    assert store.live_hold_tokens(VENUE, [], "alice") == {}


def test_a_shoppers_tickets_shows_are_read_in_one_round_trip(store, monkeypatch):
    """Me's tickets, the privacy page's paid ones, the cinema page's own: each booking's show, all at once."""
    shows = five_shows(store)
    gone = shows[2].id
    store.db.delete(CinemaKeys(VENUE).show(gone))
    with store_sends(monkeypatch) as sent:
        found = store.showtimes_by_id(VENUE, [shows[0].id, gone, shows[4].id, shows[0].id])
    assert len(sent) == 1
    assert found == {shows[0].id: store.showtime(VENUE, shows[0].id), shows[4].id: store.showtime(VENUE, shows[4].id)}
    assert store.showtimes_by_id(VENUE, []) == {}
