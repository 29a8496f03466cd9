"""Places one device can take of an activity when the per-address budget does not hold it (every phone of a mall
behind one address, or a venue that raised it): a cookie-dropper, a new anonymous shopper for each sign-up, stops
at the activity's own ceiling ("activities.join.activity"); a phone the gateway vouched for stops at its device
budget across its new shopper ids."""

from __future__ import annotations

import time

import pytest

from core.settings import DEFAULT_BUDGETS
from portal.apps.budgets import budget_store
from portal.shopper import new_shopper, token_store

HOUR = 3600


@pytest.fixture
def event(acts, demo):
    now = time.time()
    return acts.create("demo", "atrium", {"kind": "event", "title_en": "Workshop", "title_zh": "工坊",
                                          "starts_at": now + HOUR, "ends_at": now + 3 * HOUR, "limit": 100})


@pytest.fixture
def open_address(app, demo):
    budget_store(app).set_limit("demo", "activities.join.ip", (100_000, HOUR))


def join(client, item_id: str, c: str) -> int:
    return client.post(f"/v/demo/activities/{item_id}/join", data={"c": c}).status_code


def vouched(app, phone: str) -> str:
    with app.app_context():
        return token_store(app).mint(new_shopper("demo", phone, phone_verified=True), handout=True)


def test_a_cookie_dropper_stops_at_the_activitys_ceiling(app, client, acts, event, token, open_address):
    budget_store(app).set_limit("demo", "activities.join.activity", (5, HOUR))
    assert [join(client, event.id, token(f"dropper-{i}")) for i in range(6)] == [303] * 5 + [429]
    assert acts.get("demo", event.id).taken == 5


def test_a_vouched_phone_stops_at_its_device_budget(app, client, event, open_address):
    per_device = DEFAULT_BUDGETS["activities.join.device"][0]
    assert [join(client, event.id, vouched(app, "phone-a")) for _ in range(per_device + 1)] == \
        [303] * per_device + [429]
    assert join(client, event.id, vouched(app, "phone-b")) == 303
