"""Seats one device can hold when the per-address budget does not hold it (every phone of a mall behind one
address, or a venue that raised "cinema.seats.ip"): a cookie-dropper, a new anonymous shopper for each hold, stops
at the show's own ceiling ("cinema.seats.show"); a phone the gateway vouched for stops at its device budget across
its new shopper ids. A genuine sell-out of a whole hall stays within the defaults. Flask test client on the suite's
real Valkey, every request from one address."""

from __future__ import annotations

import time

import pytest
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from core.settings import DEFAULT_BUDGETS
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.budgets import budget_store
from portal.shopper import new_shopper, token_store

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
HOUR = 3600


@pytest.fixture
def shows(store: CinemaStore, mall) -> list[str]:
    """Two showtimes in Hall 1 (104 seats: rows A-G 1-3 | 4-11 | 12-14, row H six pairs)."""
    at = int(time.time()) + 3 * HOUR
    items = [ShowtimeInput("Ceiling Film", "上限电影", "1", at + i * HOUR, 4000) for i in range(2)]
    return store.upsert_showtimes(VENUE, ZONE, items, source="test")["ids"]


@pytest.fixture
def open_address(app):
    """The per-address budget out of the way, as behind a mall's one NAT address."""
    budget_store(app).set_limit(VENUE, "cinema.seats.ip", (100_000, HOUR))


def hold(client, show_id: str, seats: list[str], c: str):
    return client.post(f"{BASE}/show/{show_id}/hold", data={"seat": seats, "c": c})


def block(row: str) -> list[str]:
    return [f"{row}{n}" for n in range(4, 12)]


def vouched(app, phone: str) -> str:
    """A new shopper on the phone a gateway vouched for, as each of its redirects hands one out."""
    with app.app_context():
        return token_store(app).mint(new_shopper(VENUE, phone, phone_verified=True), handout=True)


def test_a_cookie_dropper_stops_at_the_shows_ceiling(app, client, shows, token, open_address):
    budget_store(app).set_limit(VENUE, "cinema.seats.show", (30, HOUR))
    held = [hold(client, shows[0], block(row), token(f"dropper-{row}")).status_code for row in "ABC"]
    assert held == [303] * 3  # 24 seats of 30
    over = hold(client, shows[0], block("D"), token("dropper-D"))
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert hold(client, shows[1], block("D"), token("dropper-E")).status_code == 303  # the ceiling is the show's


def test_a_whole_hall_sells_out_within_the_default_ceiling(client, shows, token, open_address):
    groups = []
    for row in "ABCDEFG":
        groups += [[f"{row}{n}" for n in (1, 2, 3, 12, 13, 14)], block(row)]
    groups += [["H1+H2", "H3+H4", "H5+H6"], ["H7+H8", "H9+H10", "H11+H12"]]
    assert sum(map(len, groups)) == 104 <= DEFAULT_BUDGETS["cinema.seats.show"][0] // 2
    assert [hold(client, shows[0], seats, token(f"fan-{i}")).status_code for i, seats in enumerate(groups)] == \
        [303] * len(groups)


def test_a_vouched_phone_stops_at_its_device_budget(app, client, shows, open_address):
    per_device = DEFAULT_BUDGETS["cinema.seats.device"][0]
    assert per_device == 8
    assert hold(client, shows[0], block("A"), vouched(app, "phone-a")).status_code == 303
    assert hold(client, shows[0], ["B4", "B5"], vouched(app, "phone-a")).status_code == 429
    assert hold(client, shows[0], ["B4", "B5"], vouched(app, "phone-b")).status_code == 303
