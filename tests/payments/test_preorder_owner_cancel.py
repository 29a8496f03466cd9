"""The restaurant cancels a booking whose pre-order the shopper paid online: the money goes back to the shopper
in full, once (a second cancel changes and refunds nothing), and the restaurant's console and the shopper's
page say "refunded". A no-show or an arrival keeps the payment. Saving pre-orders, each of which opens a payment
order, is within a budget. Real SDKs against the sandbox (tests/payments/conftest.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.settings import DEFAULT_BUDGETS
from tests.payments.test_preorder_payment import open_restaurant
from tests.payments.test_preorder_refund_shown import BASE, CONSOLE, VENUE, pay_for, restaurant_owner, yuan


def _booked_and_paid(pay_mall, pay, pay_portal, sandbox):
    """A booking for tomorrow at Jade Tea House with its pre-order paid, and the restaurant's owner signed in
    to the console: (client, token, owner, rid, order id, tomorrow)."""
    app, client, token = open_restaurant(pay_mall)
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
    booked = client.post(f"{BASE}/reserve", data={"party": "2", "date": tomorrow, "slot": "12:00", "c": token})
    assert booked.status_code == 303, booked.get_data(as_text=True)[:300]
    rid = re.search(r'id="reservation-([^"]+)"', client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
                    ).group(1)
    order_id = pay_for(client, token, rid, sandbox, pay_portal[1], pay)

    owner = restaurant_owner(app, pay, "jade-cancels")
    return client, token, owner, rid, order_id, tomorrow


def _console_csrf(owner, tomorrow: str) -> str:
    page = owner.get(f"{CONSOLE}/").get_data(as_text=True)  # the dashboard's forms carry the session's token
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_restaurant_cancelling_a_booking_refunds_its_paid_preorder_once(pay_mall, pay, pay_portal, sandbox):
    client, token, owner, rid, order_id, tomorrow = _booked_and_paid(pay_mall, pay, pay_portal, sandbox)
    amount = pay.order(VENUE, order_id).amount

    unticked = owner.post(f"{CONSOLE}/reservations/{rid}/cancel", data={"csrf_token": _console_csrf(owner, tomorrow)})
    assert unticked.status_code == 422 and pay.order(VENUE, order_id).refunded == 0
    cancel = owner.post(f"{CONSOLE}/reservations/{rid}/cancel",
                        data={"csrf_token": _console_csrf(owner, tomorrow), "confirm": "yes"})
    assert cancel.status_code == 303
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", amount)
    assert pay.store.refund_record(VENUE, order_id + "C")["status"] == "done"

    again = owner.post(f"{CONSOLE}/reservations/{rid}/cancel",
                       data={"csrf_token": _console_csrf(owner, tomorrow), "confirm": "yes"})
    assert again.status_code == 303  # back to the day's bookings: "already cancelled"
    assert pay.order(VENUE, order_id).refunded == amount
    assert pay.store.refunds_of(VENUE, order_id) == [pay.store.refund_record(VENUE, order_id + "C")]

    row = re.search(rf'<tr id="res-{rid}">.*?</tr>', owner.get(f"{CONSOLE}/reservations?date={tomorrow}&lang=en")
                    .get_data(as_text=True), re.S).group(0)
    assert f"refunded {yuan(amount)}" in row and "paid online" not in row
    card = re.search(rf'id="reservation-{rid}".*?</div>', client.get(f"{BASE}?c={token}&lang=zh")
                     .get_data(as_text=True), re.S).group(0)
    assert f"已退 {yuan(amount)}" in card


@pytest.mark.parametrize("action", ["no-show", "arrived"])
def test_a_no_show_or_an_arrival_keeps_the_payment(pay_mall, pay, pay_portal, sandbox, action):
    _client, _token, owner, rid, order_id, tomorrow = _booked_and_paid(pay_mall, pay, pay_portal, sandbox)
    ended = owner.post(f"{CONSOLE}/reservations/{rid}/{action}", data={"csrf_token": _console_csrf(owner, tomorrow)})
    assert ended.status_code == 303
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded, order.refund_pending) == ("paid", 0, 0)


def test_saving_preorders_opens_orders_within_the_shoppers_budget(pay_mall, pay):
    """Each save of a pre-order opens a payment order (kept a week past its expiry): past the queue.preorder
    budget a save is refused (429) and opens none."""
    _app, client, token = open_restaurant(pay_mall)
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    per_shopper = DEFAULT_BUDGETS["queue.preorder.shopper"][0]
    orders = set()
    for _ in range(per_shopper):
        saved = client.post(f"{BASE}/preorder", data={"for": "ticket", "c": token, "qty_m1": "1"})
        assert saved.status_code == 303
        orders.add(re.search(r"/pay/(MP[0-9A-F]{24})", saved.headers["Location"]).group(1))
    assert len(orders) == per_shopper
    refused = client.post(f"{BASE}/preorder", data={"for": "ticket", "c": token, "qty_m1": "2"})
    assert refused.status_code == 429 and refused.headers.get("Retry-After")
    assert len(pay.store.db.keys(f"mp:{{{VENUE}}}:pay:order:*")) == per_shopper
