"""Fake parties one device can put in a restaurant's queue or book when the per-address budget does not hold it
(every phone of a mall behind one address, or a venue that raised it): a cookie-dropper, a new anonymous shopper
for each tap, stops at the restaurant's own ceiling ("queue.take.zone", "queue.reserve.zone"); a phone the gateway
vouched for stops at its device budget across its new shopper ids."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.settings import DEFAULT_BUDGETS
from portal.apps.budgets import budget_store
from portal.shopper import cookie_name, new_shopper, token_store

BASE = "/v/demo/queue/jade"
HOUR, DAY = 3600, 86400


@pytest.fixture
def open_address(app, demo):
    store = budget_store(app)
    store.set_limit("demo", "queue.take.ip", (100_000, HOUR))
    store.set_limit("demo", "queue.reserve.ip", (100_000, DAY))


def dropped(client) -> str:
    """A new anonymous shopper's token, as the landing page hands it out."""
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', client.get(BASE).get_data(as_text=True)).group(1)
    client.delete_cookie(cookie_name("demo"))
    return token


def vouched(app, phone: str) -> str:
    with app.app_context():
        return token_store(app).mint(new_shopper("demo", phone, phone_verified=True), handout=True)


def take(client, token: str) -> int:
    return client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code


def book(client, token: str, slot: str) -> int:
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()  # the venue's
    return client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": slot, "c": token}).status_code


def test_a_cookie_dropper_stops_at_the_queues_ceiling(app, client, open_address):
    budget_store(app).set_limit("demo", "queue.take.zone", (5, HOUR))
    assert [take(client, dropped(client)) for _ in range(6)] == [303] * 5 + [429]


def test_a_cookie_dropper_stops_at_the_bookings_ceiling(app, client, open_address):
    budget_store(app).set_limit("demo", "queue.reserve.zone", (3, DAY))
    slots = ["12:00", "12:00", "12:30", "13:00"]
    assert [book(client, dropped(client), slot) for slot in slots] == [303] * 3 + [429]


def test_a_vouched_phone_stops_at_its_device_budgets(app, client, open_address):
    per_device = DEFAULT_BUDGETS["queue.take.device"][0]
    assert [take(client, vouched(app, "phone-a")) for _ in range(per_device + 1)] == [303] * per_device + [429]
    assert take(client, vouched(app, "phone-b")) == 303
    per_device = DEFAULT_BUDGETS["queue.reserve.device"][0]
    slots = ["12:00", "12:30", "13:00", "13:30"][:per_device + 1]
    assert [book(client, vouched(app, "phone-c"), slot) for slot in slots] == [303] * per_device + [429]


def test_the_default_ceiling_takes_a_food_courts_peak_hour():
    assert DEFAULT_BUDGETS["queue.take.zone"] >= (400, HOUR)
