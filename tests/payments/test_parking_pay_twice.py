"""One fee, paid once: the fee page gives the shopper's open order back instead of making another (reload,
back button, a second tab), and a second order paid for the same fee (another phone) is refunded in full,
as a debt paid twice is; replayed callbacks and the sweep change nothing. Through the shopper pages, the
payment service and the real SDKs against the payment sandbox (tests/payments/conftest.py: its callbacks
come over HTTP); the fee pages' helpers are tests/payments/test_parking_fee.py's."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from portal.apps.registry import get as get_app
from portal.apps.views import STORES
from tests.payments.test_parking_fee import VENUE, events, fee_session, open_garage, page, pay_form, shopper

PLATE = "粤B 23456"


@pytest.fixture
def garage(pay_mall, pay):
    """The demo garage at the default tariff (15 free minutes, ¥5.00 per started hour, ¥40.00 a day) and
    plate 粤B 23456 that came in 3 h 30 min ago (¥20.00): (app, client, API token, store, entered, payments)."""
    app, venue_map = pay_mall
    client, token, store, entered = open_garage(app, venue_map, get_app("parking").default_config(), 3.5, PLATE,
                                                "parking-pay-twice")
    return app, client, token, store, entered, pay


def pay_from(client, location: str, html: str, c: str, **data) -> str:
    """Tap Pay on a fee page as rendered (`html`): the order it leads to."""
    path, _q, query = location.partition("?")
    resp = client.post(f"{path}/pay?{query}", data={**pay_form(html), "c": c, **data})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    return re.search(r"/pay/(MP[0-9A-F]{24})", resp.headers["Location"]).group(1)


def pay_wechat_h5(client, sandbox, order_id: str, c: str) -> None:
    went = client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "wechat:h5"})
    assert went.status_code == 303 and went.headers["Location"].startswith(sandbox[1])
    approved = requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve?"
                             f"{urlsplit(went.headers['Location']).query}", allow_redirects=False, timeout=60)
    assert approved.status_code == 303


def pay_alipay(client, sandbox, order_id: str, c: str) -> None:
    assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"}).status_code == 200
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=60).status_code == 200


def parking_ledger(pay) -> list[tuple[str, str, int]]:
    return [(e.kind, e.order, e.amount) for e in pay.store.ledger(VENUE) if e.purpose == "parking"]


def test_the_fee_page_gives_the_open_order_back_instead_of_another(garage):
    """Pay, then reload the fee page (or go back to the form as it was) and Pay again: the same order,
    nothing new to pay twice."""
    app, client, token, store, entered, pay = garage
    c = shopper(app, "anon-reloader")
    location = fee_session(app, client, c, entered, plate=PLATE)
    first = page(client, location)
    assert 'id="due"><strong>¥20.00' in first
    order_a = pay_from(client, location, first, c)
    assert pay.order(VENUE, order_a).amount == 2000
    reloaded = page(client, location)
    assert pay_from(client, location, reloaded, c) == order_a  # reloaded: the order made before
    assert pay_from(client, location, first, c) == order_a  # the back button's form
    assert len(store.db.keys("mp:{demo}:pay:order:*")) == 1


def test_a_changed_choice_replaces_the_open_order(garage):
    """A parking coupon applied after the first Pay: the open order (no coupon) is cancelled and a new one
    made for the rest, holding the coupon; paying the old one afterwards is impossible."""
    app, client, token, store, entered, pay = garage
    coupons = app.extensions[STORES]["coupons"]
    coupon = coupons.create(VENUE, "kopi", {"title_en": "Free parking hour", "title_zh": "停车一小时", "stock": 5,
                                            "valid_from": time.time() - 60, "valid_until": time.time() + 86400,
                                            "parking_fen": 500})
    code = coupons.claim(VENUE, "kopi", coupon.id, "anon-changer").code
    c = shopper(app, "anon-changer")
    location = fee_session(app, client, c, entered, plate=PLATE)
    order_a = pay_from(client, location, page(client, location), c)
    with_coupon = f"{location}&coupon={code}"
    html = page(client, with_coupon)
    order_b = pay_from(client, with_coupon, html, c, coupon=code)
    assert order_b != order_a and pay.order(VENUE, order_b).amount == 1500
    assert pay.order(VENUE, order_a).status == "closed" and coupons.issued(VENUE, code).state == "held"
    assert pay_from(client, with_coupon, html, c, coupon=code) == order_b  # the same again: that order
    assert len(store.db.keys("mp:{demo}:pay:order:*")) == 2


def test_a_second_order_paid_for_the_same_fee_is_refunded_in_full(garage, sandbox):
    """The reviewer's case: order A (WeChat H5) and order B (Alipay, made on another phone while A was
    open) both paid for one ¥20.00 fee. The stay is credited ¥20.00 once; B is refunded in full
    automatically; replayed callbacks, the sweep and the exit change nothing more."""
    app, client, token, store, entered, pay = garage
    c_a, c_b = shopper(app, "anon-driver"), shopper(app, "anon-passenger")
    location_a = fee_session(app, client, c_a, entered, plate=PLATE)
    location_b = fee_session(app, client, c_b, entered, plate=PLATE)
    order_a = pay_from(client, location_a, page(client, location_a), c_a)
    order_b = pay_from(client, location_b, page(client, location_b), c_b)
    assert order_a != order_b and pay.order(VENUE, order_b).amount == 2000
    pay_wechat_h5(client, sandbox, order_a, c_a)
    pay_alipay(client, sandbox, order_b, c_b)
    (stay_key,) = store.db.keys("mp:{demo}:parking:stay:*")
    h = stay_key.decode().rsplit(":", 1)[1]
    assert store.stay(VENUE, h).paid_fen == 2000  # the fee, once
    assert pay.order(VENUE, order_a).status == "paid"
    refunded = pay.order(VENUE, order_b)
    assert refunded.status == "refunded" and refunded.refunded == 2000
    ledger = [("paid", order_a, 2000), ("paid", order_b, 2000), ("refund", order_b, 2000)]
    assert parking_ledger(pay) == ledger
    html = page(client, location_a)
    assert 'id="paid-before">-¥20.00' in html and 'id="due"><strong>¥0.00' in html and 'id="paid"' in html
    box = sandbox[0]
    assert box.notify(box.trade("wechat", order_a)) == 200  # replayed callbacks: nothing more
    assert box.notify(box.trade("alipay", order_b)) == 200
    pay.sweep(VENUE)
    assert store.stay(VENUE, h).paid_fen == 2000 and parking_ledger(pay) == ledger
    assert len(pay.store.refunds_of(VENUE, order_b)) == 1 and pay.order(VENUE, order_a).refunded == 0
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "cleared", "due_fen": 0}]
    assert parking_ledger(pay) == ledger
