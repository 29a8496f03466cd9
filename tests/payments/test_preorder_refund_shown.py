"""A paid pre-order whose number or booking was given up says it was refunded, and how much, on the
shopper's queue page (en and zh) and in the restaurant's console, never "paid online" any more; while the
provider is still refunding, it says so. Real SDKs against the sandbox (tests/payments/conftest.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from lightapps.queue.store import QueueStore
from portal.auth import AccountStore
from tests.payments.test_preorder_payment import open_restaurant

VENUE, ZONE = "demo", "jade"
BASE = f"/v/{VENUE}/queue/{ZONE}"
CONSOLE = f"/console/apps/queue/{VENUE}/{ZONE}"


@pytest.fixture
def restaurant(pay_mall):
    """Jade Tea House running the queue with its demo menu, paying through the sandbox, and a new shopper
    there: (app, client, token)."""
    return open_restaurant(pay_mall)


def pay_for(client, token, target: str, sandbox, portal_url, pay, provider="alipay") -> str:
    """Pre-order two of the first dish for `target` (ticket or a booking id) and pay it: the order id."""
    answer = client.post(f"{BASE}/preorder", data={"for": target, "c": token, "qty_m1": "2"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", answer.headers["Location"]).group(1)
    method = "qr" if provider == "alipay" else "native"
    pay.start(VENUE, order_id, provider, method, "203.0.113.4", portal_url, "http://back.example/")
    assert requests.post(f"{sandbox[1]}/sandbox/pay/{provider}/{order_id}/approve", timeout=60).status_code == 200
    assert pay.order(VENUE, order_id).status == "paid"
    return order_id


def restaurant_owner(app, pay, username: str, zones: tuple[str, ...] = (ZONE,)):
    """A test client signed in to the console as a new owner of the restaurant's zone (or of `zones`)."""
    AccountStore(pay.store.db).create(username, "a-long-pass-phrase-73", "owner", VENUE, zones)
    owner = app.test_client()
    login = owner.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    assert owner.post("/console/login", data={"username": username, "password": "a-long-pass-phrase-73",
                                              "csrf_token": csrf}).status_code == 303
    return owner


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def preorder_line(page: str, element_id: str = "preorder") -> str:
    match = re.search(rf'<p class="small" id="{element_id}">(.*?)</p>', page, re.S)
    assert match, page[:2000]
    return match.group(1)


def test_giving_up_a_number_shows_its_preorder_refunded(restaurant, pay, pay_portal, sandbox):
    app, client, token = restaurant
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    order_id = pay_for(client, token, "ticket", sandbox, pay_portal[1], pay)
    amount = yuan(pay.order(VENUE, order_id).amount)
    paid = preorder_line(client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True))
    assert "paid online" in paid and amount in paid
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    assert client.post(f"{BASE}/cancel", data={"ticket": ticket["id"], "c": token}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"

    page = client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
    assert "You gave up this number." in page
    line = preorder_line(page)
    assert f"refunded {amount}" in line and "paid online" not in line
    zh = client.get(f"{BASE}?c={token}&lang=zh").get_data(as_text=True)
    line = preorder_line(zh)
    assert f"已退 {amount}" in line and "已在线支付" not in line


def test_cancelling_a_booking_shows_its_preorder_refunded_to_the_shopper_and_the_restaurant(
        restaurant, pay, pay_portal, sandbox):
    app, client, token = restaurant
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
    booked = client.post(f"{BASE}/reserve", data={"party": "2", "date": tomorrow, "slot": "12:00", "c": token})
    assert booked.status_code == 303, booked.get_data(as_text=True)[:300]
    shopper_page = client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
    rid = re.search(r'id="reservation-([^"]+)"', shopper_page).group(1)
    order_id = pay_for(client, token, rid, sandbox, pay_portal[1], pay)
    amount = yuan(pay.order(VENUE, order_id).amount)
    assert client.post(f"{BASE}/reserve/cancel", data={"reservation": rid, "c": token}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"

    card = re.search(rf'id="reservation-{rid}".*?</div>', client.get(f"{BASE}?c={token}&lang=en")
                     .get_data(as_text=True), re.S).group(0)
    assert f"refunded {amount}" in card and "paid online" not in card
    card = re.search(rf'id="reservation-{rid}".*?</div>', client.get(f"{BASE}?c={token}&lang=zh")
                     .get_data(as_text=True), re.S).group(0)
    assert f"已退 {amount}" in card and "已在线支付" not in card

    owner = restaurant_owner(app, pay, "jade-refunds")
    console = owner.get(f"{CONSOLE}/reservations?date={tomorrow}&lang=en").get_data(as_text=True)
    row = re.search(rf'<tr id="res-{rid}">.*?</tr>', console, re.S).group(0)
    assert f"refunded {amount}" in row and "paid online" not in row


def test_a_refund_still_under_way_says_so(restaurant, pay, pay_portal, sandbox, refunds_answer):
    app, client, token = restaurant
    refunds_answer("processing")  # WeChat Pay accepts the refund; its result comes later
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    order_id = pay_for(client, token, "ticket", sandbox, pay_portal[1], pay, provider="wechat")
    amount = yuan(pay.order(VENUE, order_id).amount)
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    assert client.post(f"{BASE}/cancel", data={"ticket": ticket["id"], "c": token}).status_code == 303
    assert pay.order(VENUE, order_id).refund_pending > 0
    line = preorder_line(client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True))
    assert f"refund of {amount} under way" in line
    line = preorder_line(client.get(f"{BASE}?c={token}&lang=zh").get_data(as_text=True))
    assert f"退款 {amount} 处理中" in line
