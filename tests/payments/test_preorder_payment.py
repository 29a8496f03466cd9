"""Restaurant pre-orders paid online through the shopper's pages, the real SDK and the sandbox: saved ->
the payment page -> paid (shown on the shopper's page and the owner's); a paid pre-order cannot be changed;
giving up the number refunds it; a payment for a pre-order that was replaced meanwhile is refunded."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from lightapps.queue.store import QueueStore
from portal.apps.registry import get as get_app
from portal.payments.store import PaymentKeys
from portal.shopper import cookie_name

VENUE, ZONE = "demo", "jade"
BASE = f"/v/{VENUE}/queue/{ZONE}"


def open_restaurant(pay_mall):
    """The demo mall (no samples) with the queue and its demo menu at Jade Tea House, paying through the
    sandbox, and a new shopper there: (app, client, token)."""
    from lightapps.queue import demo

    app, venue_map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "queue", get_app("queue").default_config())
    demo.seed(svc, venue_map)
    client = app.test_client()
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    return app, client, token


@pytest.fixture
def restaurant(pay_mall):
    """`open_restaurant`, the shopper holding a number there."""
    app, client, token = open_restaurant(pay_mall)
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    return app, client, token


def preorder(client, token, **qty):
    return client.post(f"{BASE}/preorder", data={"for": "ticket", "c": token, **qty})


def approve(sandbox, portal_url, pay, order_id):
    pay.start(VENUE, order_id, "alipay", "qr", "203.0.113.4", portal_url, "http://back.example/")
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=60).status_code == 200


def order_of(answer) -> str:
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    return re.search(r"/pay/(MP[0-9A-F]{24})", answer.headers["Location"]).group(1)


def test_a_preorder_is_paid_online_then_fixed_and_refunded_when_given_up(restaurant, pay, pay_portal, sandbox):
    app, client, token = restaurant
    form = client.get(f"{BASE}/preorder?c={token}&lang=en").get_data(as_text=True)
    assert 'id="save-preorder"' in form and "pay online" in form
    order_id = order_of(preorder(client, token, qty_m1="2", qty_m4="1"))
    order = pay.order(VENUE, order_id)
    assert order.amount == 8200 and order.merchant == ZONE and order.purpose == "preorder"
    page = client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
    assert "¥82.00" in page and "not paid yet" in page
    approve(sandbox, pay_portal[1], pay, order_id)
    assert pay.order(VENUE, order_id).status == "paid"
    page = client.get(f"{BASE}?c={token}&lang=zh").get_data(as_text=True)
    assert "已在线支付" in page and "¥82.00" in page
    assert sandbox[0].notify(sandbox[0].trade("alipay", order_id)) == 200  # replayed: still one payment
    assert len(pay.store.ledger(VENUE, ZONE)) == 1
    # the paid pre-order is the shopper's one transaction in the insights, in the restaurant (log.paid_transaction)
    paid = [e for e in app.extensions["mallportal"].events.read(VENUE)
            if e.kind == "txn" and e.data.get("action") == "preorder_paid"]
    assert [(e.shopper, e.zone) for e in paid] == [(order.shopper, ZONE)]
    before = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)["preorder"]
    assert preorder(client, token, qty_m1="5").status_code == 409  # paid: fixed
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    assert ticket["preorder"] == before
    assert client.post(f"{BASE}/cancel", data={"ticket": ticket["id"], "c": token}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"
    assert sandbox[0].trade("alipay", order_id).refunded == 8200


def test_the_payment_page_names_the_dishes_in_its_own_language(restaurant, pay):
    """The provider's description is the dishes' Chinese names; the shopper's payment page shows them in the
    page's language (the English page used to list the Chinese names only)."""
    _app, client, token = restaurant
    order_id = order_of(preorder(client, token, qty_m1="2", qty_m4="1"))
    described = {}
    for lang in ("en", "zh"):
        html = client.get(f"/v/{VENUE}/pay/{order_id}?c={token}&lang={lang}").get_data(as_text=True)
        described[lang] = re.search(r'<p id="order-description">([^<]*)</p>', html).group(1).strip()
    menu = {item["id"]: item for item in QueueStore(pay.store.db).menu(VENUE, ZONE)}
    assert described["en"] == f"2x {menu['m1']['name_en']}, 1x {menu['m4']['name_en']}"
    assert described["zh"] == f"2x {menu['m1']['name_zh']}, 1x {menu['m4']['name_zh']}"
    assert pay.order(VENUE, order_id).description == described["zh"]  # what the provider is sent: unchanged


def test_paying_for_a_replaced_preorder_is_refunded(restaurant, pay, pay_portal, sandbox):
    app, client, token = restaurant
    first = order_of(preorder(client, token, qty_m1="1"))
    second = order_of(preorder(client, token, qty_m1="3"))  # changed before paying: a new order
    approve(sandbox, pay_portal[1], pay, first)
    assert pay.order(VENUE, first).status == "refunded"  # not what the ticket holds now
    assert not [e for e in app.extensions["mallportal"].events.read(VENUE)  # and no transaction
                if e.kind == "txn" and e.data.get("action") == "preorder_paid"]
    approve(sandbox, pay_portal[1], pay, second)
    assert pay.order(VENUE, second).status == "paid"
    assert preorder(client, token, qty_m1="x").status_code == 422


def test_a_payment_landing_just_before_the_number_is_given_up_is_refunded(restaurant, pay, pay_portal, sandbox,
                                                                            monkeypatch):
    """The provider's callback arrives while the shopper gives up the number (after the page's request began,
    before the cancel): the refund follows the pre-order as the cancel left it, so the money goes back."""
    app, client, token = restaurant
    order_id = order_of(preorder(client, token, qty_m1="2"))
    real_cancel = QueueStore.cancel

    def cancel_after_the_callback(self, *args, **kwargs):
        approve(sandbox, pay_portal[1], pay, order_id)
        return real_cancel(self, *args, **kwargs)

    monkeypatch.setattr(QueueStore, "cancel", cancel_after_the_callback)
    shopper = pay.order(VENUE, order_id).shopper
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, shopper)
    assert client.post(f"{BASE}/cancel", data={"ticket": ticket["id"], "c": token}).status_code == 303
    order = pay.order(VENUE, order_id)
    assert order.refunded == order.amount


def test_a_replayed_callback_for_a_late_preorder_payment_does_not_mark_it_paid(restaurant, pay, pay_portal, sandbox,
                                                                                 refunds_answer):
    """Paid after its order expired: refunded in full; WeChat's replay of the callback while that refund is still
    processing must not mark the pre-order paid (the kitchen would serve a meal whose money goes back)."""
    app, client, token = restaurant
    order_id = order_of(preorder(client, token, qty_m1="2"))
    pay.start(VENUE, order_id, "wechat", "native", "203.0.113.4", pay_portal[1], "http://back.example/")
    pay.store.db.hset(PaymentKeys(VENUE).order(order_id), "expires_ms", int(time.time() * 1000) - 1000)
    refunds_answer("processing")
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve", timeout=60).status_code == 200
    order = pay.order(VENUE, order_id)
    assert order.status == "paid" and order.late and order.refund_pending == order.amount
    assert sandbox[0].notify(sandbox[0].trade("wechat", order_id)) == 200  # replayed
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, order.shopper)
    assert not json.loads(ticket["preorder"]).get("paid")
    assert preorder(client, token, qty_m1="1").status_code == 303  # not fixed: it can still be changed
