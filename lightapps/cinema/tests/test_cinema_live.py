"""Concurrency over real HTTP against gunicorn (2 workers x 16 threads): 200 shoppers at once."""

from __future__ import annotations

import http.client
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit

from core.settings import DEFAULT_BUDGETS
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.budgets import BudgetStore

BASE = "/v/demo/cinema/cinema"


def new_show(live_server, film: str) -> str:
    item = ShowtimeInput(film, film, "1", int(time.time()) + 3 * 3600, 4000)
    # 200 phones from one test address: lift the venue's seat budgets (tests/security/test_budgets.py).
    BudgetStore(live_server.db(), DEFAULT_BUDGETS, "-").set_action_limit("demo", "cinema.seats", (10**6, 3600))
    return CinemaStore(live_server.db()).upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]


def post(live_server, path: str, fields) -> tuple[int, str | None]:
    url = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", path, urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location")
    finally:
        conn.close()


def hold_and_confirm(live_server, show_id: str, seats: list[str]) -> tuple[str, str | None]:
    """One new anonymous shopper (no `c`): hold, then confirm with the token the redirect carries."""
    status, location = post(live_server, f"{BASE}/show/{show_id}/hold", [("seat", s) for s in seats])
    if status != 303:
        return f"hold {status}", None
    parts = urlsplit(location)
    c = parse_qs(parts.query)["c"][0]
    status, location = post(live_server, parts.path + "/confirm", [("c", c)])
    if status != 303:
        return f"confirm {status}", None
    return "booked", urlsplit(location).path.rsplit("/", 1)[1]


def test_200_shoppers_hold_the_same_seats_exactly_one_wins(live_server):
    show_id = new_show(live_server, "Race Film")
    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(lambda _i: post(live_server, f"{BASE}/show/{show_id}/hold",
                                                [("seat", "E6"), ("seat", "E7")]), range(200)))
    statuses = Counter(status for status, _ in results)
    assert statuses == {303: 1, 409: 199}, statuses
    location = next(loc for status, loc in results if status == 303)
    parts = urlsplit(location)
    status, ticket = post(live_server, parts.path + "/confirm", [("c", parse_qs(parts.query)["c"][0])])
    assert status == 303 and "/ticket/" in ticket
    store = CinemaStore(live_server.db())
    bookings = store.show_bookings("demo", show_id)
    assert [b.seats for b in bookings] == [("E6", "E7")]


def test_200_shoppers_booking_overlapping_seats_never_share_one(live_server):
    show_id = new_show(live_server, "Crowd Film")
    rng = random.Random(7)
    row_blocks = [(row, 4, 11) for row in "ABCD"]  # the middle blocks, seats 4-11
    wishes = []
    for _ in range(200):
        row, lo, hi = rng.choice(row_blocks)
        size = rng.choice((1, 2, 2, 3, 4))
        first = rng.randint(lo, hi - size + 1)
        wishes.append([f"{row}{n}" for n in range(first, first + size)])
    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(lambda seats: hold_and_confirm(live_server, show_id, seats), wishes))
    outcomes = Counter(kind for kind, _ in results)
    assert set(outcomes) <= {"booked", "hold 409", "hold 422"}, outcomes
    assert outcomes["booked"] >= 4  # at least one party per row got in

    store = CinemaStore(live_server.db())
    bookings = [b for b in store.show_bookings("demo", show_id) if b.status == "booked"]
    assert sorted(b.code for b in bookings) == sorted(code for kind, code in results if kind == "booked")
    seats = [seat for b in bookings for seat in b.seats]
    assert len(seats) == len(set(seats)), "a seat appears in two bookings"
    states = store.seat_states("demo", show_id)
    assert {seat: code for seat, (kind, code) in states.items()} == {
        seat: b.code for b in bookings for seat in b.seats}
