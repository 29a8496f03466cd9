"""The "cinema.seats" abuse budgets (8 seats an hour per shopper, 16 per client address by default) count
seats newly held, nothing else: a hold refused (a seat just taken, a single seat left alone), a double tap
and picking again seats the shopper already holds cost nothing; a shopper out of budget still holds nothing
new. Flask test client on the suite's real Valkey: every request comes from one address, as on mall WiFi."""

from __future__ import annotations

import time

import pytest
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from core.settings import DEFAULT_BUDGETS
from lightapps.cinema.store import CinemaStore, ShowtimeInput

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
PER_SHOPPER = DEFAULT_BUDGETS["cinema.seats.shopper"][0]
PER_ADDRESS = DEFAULT_BUDGETS["cinema.seats.ip"][0]


@pytest.fixture
def show(store, mall) -> str:
    """A showtime in Hall 1 (rows A-F: 1-3 | 4-11 | 12-14, row G and H special seats)."""
    item = ShowtimeInput("Budget Film", "预算电影", "1", int(time.time()) + 3 * 3600, 4000)
    return store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]


def hold(client, show_id: str, seats: list[str], c: str):
    return client.post(f"{BASE}/show/{show_id}/hold", data={"seat": seats, "c": c})


def seats(row: str, first: int, last: int) -> list[str]:
    return [f"{row}{n}" for n in range(first, last + 1)]


def mine(store, show_id: str, c_client: str) -> list[str]:
    token = store.live_hold_token(VENUE, show_id, c_client)
    return sorted(store.get_hold(VENUE, token).seats) if token else []


def test_a_hold_refused_for_a_taken_seat_costs_nothing(client, store, show, token):
    """The reviewer's repro: A holds D8-D9; B picks D5-D9 (409, D8 taken), then D10-D14: held, not 429."""
    assert PER_SHOPPER == 8
    assert hold(client, show, ["D8", "D9"], token("a")).status_code == 303
    refused = hold(client, show, seats("D", 5, 9), token("b"))
    assert refused.status_code == 409 and "D8 was just taken" in refused.get_data(as_text=True)
    again = hold(client, show, seats("D", 10, 14), token("b"))
    assert again.status_code == 303, (again.status_code, again.headers.get("Retry-After"))
    assert mine(store, show, "b") == sorted(seats("D", 10, 14))
    # B has spent 5 of 8: three more new seats fit, a fourth does not
    assert hold(client, show, [*seats("D", 10, 14), "E12", "E13", "E14"], token("b")).status_code == 303
    over = hold(client, show, [*seats("D", 12, 14), *seats("E", 12, 14), "F1"], token("b"))  # F1: a 9th
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0


def test_holds_refused_by_the_single_seat_rule_cost_nothing(client, store, show, token):
    c = token("picky")
    for _ in range(3):  # 15 seats asked for, each pick leaving A4 alone against the aisle
        refused = hold(client, show, seats("A", 5, 9), c)
        assert refused.status_code == 422 and "A4" in refused.get_data(as_text=True)
    assert hold(client, show, seats("A", 4, 11), c).status_code == 303  # the whole budget, 8 seats
    assert mine(store, show, "picky") == sorted(seats("A", 4, 11))


def test_a_double_tap_costs_the_seats_once(client, store, show, token):
    c = token("double-tap")
    first = hold(client, show, seats("B", 4, 8), c)
    second = hold(client, show, seats("B", 4, 8), c)
    assert (first.status_code, second.status_code) == (303, 303)
    assert mine(store, show, "double-tap") == sorted(seats("B", 4, 8))
    # picking again around the same seats charges only the new ones: 5 + 3 = 8
    assert hold(client, show, seats("B", 4, 11), c).status_code == 303
    assert hold(client, show, seats("B", 4, 11), c).status_code == 303  # and that one's double tap
    assert mine(store, show, "double-tap") == sorted(seats("B", 4, 11))


def test_a_shopper_out_of_budget_holds_nothing_new_and_keeps_the_hold(client, store, show, token):
    c = token("spent")
    assert hold(client, show, seats("C", 4, 11), c).status_code == 303  # 8 of 8
    held = store.live_hold_token(VENUE, show, "spent")
    # a smaller pick with one seat the hold does not have: one new seat, over budget
    over = hold(client, show, [*seats("C", 4, 7), "A1"], c)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert store.live_hold_token(VENUE, show, "spent") == held  # checked before the hold: nothing changed
    assert mine(store, show, "spent") == sorted(seats("C", 4, 11))
    # keeping some of the seats held takes nothing new: free
    assert hold(client, show, seats("C", 4, 7), c).status_code == 303
    assert mine(store, show, "spent") == sorted(seats("C", 4, 7))


def test_shoppers_sharing_an_address_are_not_locked_out_by_double_taps(client, store, show, token):
    """Mall WiFi: one address for many phones. Six shoppers each double-tap a 2-seat hold and one re-picks
    after a refusal; 12 seats held, within the address's 16."""
    assert PER_ADDRESS == 16
    for n, row in enumerate("ABCDEF"):
        c = token(f"wifi-{n}")
        assert hold(client, show, [f"{row}1", f"{row}2"], c).status_code == 303
        assert hold(client, show, [f"{row}1", f"{row}2"], c).status_code == 303
    late = token("wifi-late")
    assert hold(client, show, ["A1", "A2", "A3"], late).status_code == 409  # taken: costs nothing
    assert hold(client, show, ["A12", "A13", "A14"], late).status_code == 303  # 15 of 16
    assert hold(client, show, ["B12", "B13"], token("wifi-last")).status_code == 429  # 17: the address is full


def test_seats_spent_for_a_hold_that_lost_a_race_are_given_back(client, store, show, token, monkeypatch):
    """Someone takes a seat in the instant between the check and the hold: the hold is refused, and the
    seats spent for it are counted back."""
    real_hold = CinemaStore.hold

    def a_rival_first(self, venue, show_obj, client_id, picked, ttl_s, now_ms=None, check_only=False, **more):
        if not check_only and client_id == "unlucky":
            assert real_hold(self, venue, show_obj, "rival", ["D8"], ttl_s).ok
        return real_hold(self, venue, show_obj, client_id, picked, ttl_s, now_ms=now_ms, check_only=check_only,
                         **more)

    monkeypatch.setattr(CinemaStore, "hold", a_rival_first)
    c = token("unlucky")
    refused = hold(client, show, seats("D", 4, 8), c)
    assert refused.status_code == 409 and "D8 was just taken" in refused.get_data(as_text=True)
    monkeypatch.setattr(CinemaStore, "hold", real_hold)
    assert hold(client, show, seats("E", 4, 11), c).status_code == 303  # all 8 seats of the budget left
    assert mine(store, show, "unlucky") == sorted(seats("E", 4, 11))


def test_the_check_writes_nothing_and_counts_new_seats(store, show):
    """CinemaStore.hold(check_only=True): the refusal a hold would meet, or how many seats it would newly
    take; no seat, hold or pointer written."""
    show_obj = store.showtime(VENUE, show)
    check = store.hold(VENUE, show_obj, "alice", ["A4", "A5"], ttl_s=480, check_only=True)
    assert (check.status, check.new_seats, check.token) == ("ok", 2, None)
    assert store.seat_states(VENUE, show) == {} and store.live_hold_token(VENUE, show, "alice") is None
    held = store.hold(VENUE, show_obj, "alice", ["A4", "A5"], ttl_s=480)
    assert (held.ok, held.new_seats) == (True, 2)
    assert store.hold(VENUE, show_obj, "alice", ["A4", "A5", "A6"], ttl_s=480, check_only=True).new_seats == 1
    assert store.hold(VENUE, show_obj, "alice", ["A4", "A5"], ttl_s=480).new_seats == 0  # a re-hold
    assert store.hold(VENUE, show_obj, "bob", ["A5", "A6"], ttl_s=480, check_only=True).status == "taken"
    assert store.hold(VENUE, show_obj, "bob", ["A7", "A8"], ttl_s=480, check_only=True).status == "orphan"
    assert sorted(store.seat_states(VENUE, show)) == ["A4", "A5"]
    assert store.live_hold_token(VENUE, show, "bob") is None
