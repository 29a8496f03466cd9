"""Flash sales sell paid stock only: 200 buyers at once for 50 units end with exactly 50 paid orders (the rest
never get an order to pay), and a payment for a unit whose reservation lapsed and went to someone else is
refunded. Real threads against the real store; payments through the real SDK and the sandbox."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from lightapps.activities.payment import RESERVE_S, SaleKeys, buy
from lightapps.activities.store import ActivityKeys, ActivityStore
from portal.apps.views import STORES
from portal.payments.store import PaymentKeys

VENUE, ZONE = "demo", "atrium"


def new_sale(db, stock: int, price="¥9.90"):
    now = time.time()
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "sale", "title_en": "Earbuds", "title_zh": "耳机",
                                                  "price": price, "starts_at": now - 60, "ends_at": now + 3600,
                                                  "limit": stock})


def sale_on_portal(pay_portal, stock: int, price="¥9.90"):
    """A new sale on the paying portal: (app, its URL, its store, the sale, the sale's stock)."""
    app, portal_url = pay_portal
    db = app.extensions["mallportal"].db
    return app, portal_url, db, new_sale(db, stock, price), app.extensions[STORES]["activities.sale"]


def pay_order(pay, portal_url, sandbox_url, order):
    pay.start(VENUE, order.id, "wechat", "native", "203.0.113.7", portal_url, "http://back.example/")
    return requests.post(f"{sandbox_url}/sandbox/pay/wechat/{order.id}/approve", timeout=60).status_code


def test_200_buyers_for_50_units_end_with_exactly_50_paid_orders(pay_portal, pay, sandbox):
    app, portal_url, db, item, stock = sale_on_portal(pay_portal, 50)
    start = threading.Barrier(200)

    def buyer(i):
        with app.app_context():
            start.wait()
            return buy(VENUE, item, f"anon-buyer-{i:03d}", "http://back.example/", stock)

    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(buyer, range(200)))
    orders = [r for r in results if not isinstance(r, str)]
    assert len(orders) == 50 and len({o.id for o in orders}) == 50
    assert {r for r in results if isinstance(r, str)} == {"FULL"}  # never captured: no order at all
    assert int(db.hget(ActivityKeys(VENUE).item(item.id), "taken")) == 50

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda o: pay_order(pay, portal_url, sandbox[1], o), orders))
    assert answers == [200] * 50
    statuses = [pay.order(VENUE, o.id).status for o in orders]
    assert statuses == ["paid"] * 50
    assert db.hlen(ActivityKeys(VENUE).who(item.id)) == 50  # 50 confirmation codes
    assert int(db.hget(ActivityKeys(VENUE).item(item.id), "taken")) == 50
    assert sum(e.amount for e in pay.store.ledger(VENUE, ZONE) if e.kind == "paid") == 50 * 990
    with app.app_context():  # and nobody gets in afterwards
        assert buy(VENUE, item, "anon-late", "http://back.example/", stock) == "FULL"


def test_a_payment_for_a_lapsed_reservation_is_refunded_when_the_stock_is_gone(pay_portal, pay, sandbox):
    app, portal_url, db, item, stock = sale_on_portal(pay_portal, 1, price="25")
    with app.app_context():
        slow = buy(VENUE, item, "anon-slow", "http://back.example/", stock)
        assert buy(VENUE, item, "anon-quick", "http://back.example/", stock) == "FULL"
    # The slow buyer's reservation lapses; the quick one reserves the unit and pays for it.
    later = int(time.time() * 1000) + (RESERVE_S + 1) * 1000
    quick = stock.reserve(VENUE, item.id, "anon-quick", now_ms=later)
    assert quick.status == "OK"
    assert stock.capture(VENUE, item.id, "anon-quick", quick.token) is not None
    assert pay_order(pay, portal_url, sandbox[1], slow) == 200  # paid in time for its order, but no unit left
    order = pay.order(VENUE, slow.id)
    assert order.status == "refunded" and order.refunded == 2500
    assert sandbox[0].trade("wechat", slow.id).refunded == 2500
    assert int(db.hget(ActivityKeys(VENUE).item(item.id), "taken")) == 1


def expire(db, order_id: str, item_id: str, client: str) -> None:
    """Time passes: the order and its reservation are past their expiry (as 5 minutes later)."""
    past = int(time.time() * 1000) - 1000
    db.hset(PaymentKeys(VENUE).order(order_id), "expires_ms", past)
    db.zadd(SaleKeys(VENUE).pending_expiry(item_id), {client: past})


def test_a_replayed_callback_for_a_late_payment_delivers_nothing(pay_portal, pay, sandbox, refunds_answer):
    """Paid after the order expired: refunded in full, and WeChat's replay of the same callback while the refund
    is still processing (the order still `paid`) must not capture a unit and issue a code."""
    app, portal_url, db, item, stock = sale_on_portal(pay_portal, 5, price="25")
    with app.app_context():
        order = buy(VENUE, item, "anon-late", "http://back.example/", stock)
    pay.start(VENUE, order.id, "wechat", "native", "203.0.113.7", portal_url, "http://back.example/")
    expire(db, order.id, item.id, "anon-late")
    refunds_answer("processing")  # WeChat Pay accepts refunds as PROCESSING
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order.id}/approve", timeout=60).status_code == 200
    booked = pay.order(VENUE, order.id)
    assert booked.status == "paid" and booked.late and booked.refund_pending == 2500
    assert sandbox[0].notify(sandbox[0].trade("wechat", order.id)) == 200  # replayed: acknowledged...
    assert db.hlen(ActivityKeys(VENUE).who(item.id)) == 0  # ...and nothing delivered
    # its reservation released (as the sweep's close would have: the payment is refunded, the unit back in stock)
    assert int(db.hget(ActivityKeys(VENUE).item(item.id), "taken")) == 0
    assert requests.post(f"{sandbox[1]}/sandbox/refund/wechat/{order.id}/{order.id}L/notify",
                         timeout=60).status_code == 200
    assert pay.order(VENUE, order.id).status == "refunded"
    assert db.hlen(ActivityKeys(VENUE).who(item.id)) == 0


def test_a_replayed_callback_for_a_paid_sale_takes_no_second_unit(pay_portal, pay, sandbox):
    app, portal_url, db, item, stock = sale_on_portal(pay_portal, 5, price="25")
    with app.app_context():
        order = buy(VENUE, item, "anon-twice", "http://back.example/", stock)
    assert pay_order(pay, portal_url, sandbox[1], order) == 200
    codes = db.hgetall(ActivityKeys(VENUE).who(item.id))
    assert len(codes) == 1
    assert sandbox[0].notify(sandbox[0].trade("wechat", order.id)) == 200  # replayed
    assert db.hgetall(ActivityKeys(VENUE).who(item.id)) == codes  # the same code, delivered once
    assert int(db.hget(ActivityKeys(VENUE).item(item.id), "taken")) == 1
    assert pay.order(VENUE, order.id).status == "paid" and len(pay.store.ledger(VENUE, ZONE)) == 1


def test_her_paid_unit_shows_what_she_paid_beside_its_code(pay_portal, pay_mall, pay, sandbox, token_for):
    """The item page showed only the confirmation code: a unit paid online read like one still to be paid."""
    app, portal_url, db, item, stock = sale_on_portal(pay_portal, 5, price="25")
    app.extensions["mallportal"].zone_apps.set(VENUE, ZONE, "activities", {})
    with app.app_context():
        order = buy(VENUE, item, "anon-paid-page", "http://back.example/", stock)
    assert pay_order(pay, portal_url, sandbox[1], order) == 200
    token = token_for(app, VENUE, "anon-paid-page")
    page = requests.get(f"{portal_url}/v/{VENUE}/activities/{item.id}", params={"c": token, "lang": "zh"},
                        timeout=60).text
    assert 'id="my-code"' in page and 'id="my-paid"' in page and "¥25.00" in page
