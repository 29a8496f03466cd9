"""Opening a parking payment order ("Pay" on the fee page, "Pay" for an exit left owed) spends its own abuse
budget, parking.pay, per shopper, per client IP and per venue: past it the page answers 429 with when to come
back (Retry-After) and no order is opened; a Pay that gives the open order back, or is refused as bad input,
costs nothing. Real SDKs against the sandbox (tests/payments/conftest.py)."""

from __future__ import annotations

import re
import time

from core.settings import DEFAULT_BUDGETS
from portal.apps.budgets import budget_store
from tests.payments.test_parking_fee import (
    BASE,
    PLATE,
    VENUE,
    events,
    fee_session,
    garage,  # noqa: F401 - the fixture
    page,
    pay_form,
    shopper,
)


def orders_opened(store) -> int:
    return len(store.db.keys(f"mp:{{{VENUE}}}:pay:order:*"))


def press_pay(client, location: str, c: str, points: str = "0"):
    path, _q, query = location.partition("?")
    return client.post(f"{path}/pay?{query}", data={**pay_form(page(client, location)), "c": c, "points": points})


def order_of(resp) -> str:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    return re.search(r"/pay/(MP[0-9A-F]{24})", resp.headers["Location"]).group(1)


def refused(resp, lang: str = "en") -> None:
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    body = resp.get_data(as_text=True)
    assert ("Too many payments have been started for now" if lang == "en" else "发起的付款过多") in body


def test_the_budget_is_declared_per_shopper_ip_and_venue():
    assert {name for name in DEFAULT_BUDGETS if name.startswith("parking.pay.")} == {
        "parking.pay.ip", "parking.pay.shopper", "parking.pay.venue"}


def test_a_shopper_opens_orders_on_the_fee_page_within_their_budget(garage):  # noqa: F811
    app, client, _token, store, entered = garage
    budget_store(app).set_limit(VENUE, "parking.pay.shopper", (3, 3600))
    c = shopper(app, "anon-presser")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    assert client.post(f"{path}/pay?{query}", data={"c": c, "attempt": "x"}).status_code == 400  # costs nothing
    first = order_of(press_pay(client, location, c))
    assert order_of(press_pay(client, location, c)) == first  # the open order given back: not counted
    # Another payment each time (other points asked for): the open order is closed and a new one opened.
    opened = {first, order_of(press_pay(client, location, c, "1")), order_of(press_pay(client, location, c, "2"))}
    assert len(opened) == 3 and orders_opened(store) == 3
    over = press_pay(client, location, c, "3")
    refused(over)
    assert orders_opened(store) == 3
    refused(press_pay(client, location + "&lang=zh", c, "4"), "zh")
    assert orders_opened(store) == 3


def test_the_venue_budget_stops_orders_under_ever_new_shoppers(garage):  # noqa: F811
    app, client, _token, store, entered = garage
    budget_store(app).set_limit(VENUE, "parking.pay.venue", (2, 3600))
    for n in range(2):
        c = shopper(app, f"anon-new-{n}")
        order_of(press_pay(client, fee_session(app, client, c, entered), c))
    c = shopper(app, "anon-new-2")
    refused(press_pay(client, fee_session(app, client, c, entered), c))
    assert orders_opened(store) == 2


def owing(parked, who: str, per_shopper: int) -> tuple[str, str]:
    """A shopper whose car left owing (an exit the car park reported), with `per_shopper` parking.pay orders an
    hour: (her token, her owed page). `parked`: the garage fixture's."""
    app, client, token, store, entered = parked
    budget_store(app).set_limit(VENUE, "parking.pay.shopper", (per_shopper, 3600))
    c = shopper(app, who)
    fee_session(app, client, c, entered)
    events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    (debt,) = store.open_debts(VENUE)
    return c, f"{BASE}/owed/{debt.id}?c={c}"


def test_paying_an_owed_exit_opens_orders_within_the_budget(garage):  # noqa: F811
    _app, client, _token, store, _entered = garage
    c, owed = owing(garage, "anon-owing", 1)
    assert client.post(owed.replace("?", "/pay?"), data={"c": c, "attempt": "x"}).status_code == 400  # free
    order_of(client.post(owed.replace("?", "/pay?"), data={"c": c, **pay_form(page(client, owed))}))
    over = client.post(owed.replace("?", "/pay?") + "&lang=zh", data={"c": c, **pay_form(page(client, owed))})
    refused(over, "zh")
    assert 'id="pay-owed-button"' in over.get_data(as_text=True)  # the owed page itself, to try again later
    assert orders_opened(store) == 1


def test_the_same_owed_pay_pressed_again_costs_nothing(garage):  # noqa: F811
    """A double tap or a resent form gets its own order back (its attempt's) and gives its budget back: within a
    budget of two, the same press three times and one new press both open, a second new press is refused."""
    _app, client, _token, store, _entered = garage
    c, owed = owing(garage, "anon-tapping", 2)
    form = pay_form(page(client, owed))
    first = order_of(client.post(owed.replace("?", "/pay?"), data={"c": c, **form}))
    for _ in range(2):
        assert order_of(client.post(owed.replace("?", "/pay?"), data={"c": c, **form})) == first
    assert order_of(client.post(owed.replace("?", "/pay?"), data={"c": c, **pay_form(page(client, owed))})) != first
    refused(client.post(owed.replace("?", "/pay?"), data={"c": c, **pay_form(page(client, owed))}))
    assert orders_opened(store) == 2


def test_payments_switched_off_are_a_403_that_names_no_wait(garage):  # noqa: F811
    """A venue that set the budget to 0: no wait ends it, so the fee page says so and names the office, not a time to
    try again."""
    app, client, _token, store, entered = garage
    budget_store(app).set_limit(VENUE, "parking.pay.venue", (0, 3600))
    c = shopper(app, "anon-off")
    resp = press_pay(client, fee_session(app, client, c, entered), c)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "Retry-After" not in resp.headers and "try again" not in body.lower()
    assert "switched off" in body and "pay at the car park office" in body and orders_opened(store) == 0
