"""The "queue.take" and "queue.reserve" budgets charge only the tap that takes a new number or booking: a
double tap on an active one, another booking the same day, a full slot or a paused class cost nothing
(README, abuse budgets). Parallel taps: test_queue_concurrency.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lightapps.queue.store import QueueStore
from portal.apps.budgets import BudgetKeys, budget_store
from portal.shopper import cookie_name, token_store

BASE = "/v/demo/queue/jade"


def new_shopper(client) -> tuple[str, str]:
    """A new shopper's (`c` token, shopper id), as the landing page hands the token out."""
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', client.get(BASE).get_data(as_text=True)).group(1)
    client.delete_cookie(cookie_name("demo"))
    return token, token_store(client.application).resolve(token).client


def spent(client, db, budget: str, shopper: str) -> int:
    """What the shopper's counter of `budget` ("queue.take", "queue.reserve") holds in this window."""
    hashed = budget_store(client.application).hashed("shopper", shopper)
    return int(db.hget(BudgetKeys("demo").counter(f"{budget}.shopper", hashed), "c") or 0)


def day(offset: int = 1) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=offset)).isoformat()  # the venue's


def book(client, token: str, slot: str = "12:00", date: str | None = None, party: str = "2"):
    return client.post(f"{BASE}/reserve", data={"party": party, "date": date or day(), "slot": slot, "c": token})


def test_a_booking_tapped_five_times_spends_once(client, db, demo):
    token, shopper = new_shopper(client)
    assert [book(client, token).status_code for _ in range(5)] == [303] * 5  # per shopper: 3 a day
    assert QueueStore(db).slot_counts("demo", "jade", day()) == {"12:00": 1}
    assert spent(client, db, "queue.reserve", shopper) == 1
    assert book(client, token, slot="13:00").status_code == 409  # another booking that day: refused, free
    assert spent(client, db, "queue.reserve", shopper) == 1
    assert book(client, token, date=day(2)).status_code == 303  # the two left are the shopper's
    assert book(client, token, date=day(3)).status_code == 303
    assert spent(client, db, "queue.reserve", shopper) == 3


def test_a_full_slot_spends_nothing(client, db, demo):
    for i in range(4):  # the demo's Jade capacity: 4 parties a slot
        assert QueueStore(db).reserve("demo", "jade", day(), "18:00", 2, "A", f"c{i}", capacity=4).ok
    token, shopper = new_shopper(client)
    assert book(client, token, slot="18:00").status_code == 409
    assert spent(client, db, "queue.reserve", shopper) == 0


def test_double_taps_on_a_number_are_free(client, db, demo):
    token, shopper = new_shopper(client)
    taps = [client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code for _ in range(5)]
    assert taps == [303] * 5 and QueueStore(db).waiting_count("demo", "jade", "A") == 1
    assert spent(client, db, "queue.take", shopper) == 1
    QueueStore(db).pause("demo", "jade", "*")
    other, other_id = new_shopper(client)
    assert client.post(f"{BASE}/take", data={"party": "2", "c": other}).status_code == 409  # paused: free
    assert spent(client, db, "queue.take", other_id) == 0
