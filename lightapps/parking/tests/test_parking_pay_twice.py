"""One fee, paid once: the fee page gives the shopper's open order back instead of making another (reload,
back button, a second tab), and a second order paid for the same fee (another phone) is refunded in full,
as a debt paid twice is; replayed callbacks and the sweep change nothing. Through the shopper pages, the
payment service and the real SDKs against the payment sandbox (its callbacks come over HTTP)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from werkzeug.serving import make_server

from core.payment_settings import PaymentSettings
from lightapps.parking.demo import demo_bays
from lightapps.parking.store import ParkingStore
from portal.apps.registry import get as get_app
from portal.apps.views import STORES
from portal.paysandbox.app import Sandbox, create_sandbox_app
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "garage"
BASE = f"/v/{VENUE}/parking/{ZONE}"
PLATE = "粤B 23456"
HOUR_S = 3600


class _Served:
    def __init__(self, wsgi_app) -> None:
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _Late:
    """The portal app is made once its server's port is known (PORTAL_URL: where the callbacks go)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    served = _Served(create_sandbox_app(box))
    yield box, served.url
    served.server.shutdown()


@pytest.fixture(scope="module")
def pay_portal(settings, sandbox):
    from portal import create_app

    late = _Late()
    served = _Served(late)
    late.app = create_app(settings.with_(portal_url=served.url, payments=PaymentSettings(sandbox_url=sandbox[1])))
    late.app.config["SERVER_NAME"] = None
    yield late.app
    served.server.shutdown()


@pytest.fixture
def garage(pay_portal, db, demo_map):
    """The demo garage at the default tariff (15 free minutes, ¥5.00 per started hour, ¥40.00 a day) and
    plate 粤B 23456 that came in 3 h 30 min ago (¥20.00): (app, client, API token, store, entered, payments)."""
    app = pay_portal
    svc = app.extensions["mallportal"]
    svc.breaker.record_success()  # the module's app: an earlier store fault's count
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    svc.venues.put_map(venue_map)
    svc.zone_apps.set(VENUE, ZONE, "parking", get_app("parking").default_config())
    store = ParkingStore(svc.db)
    store.put_bays(VENUE, demo_bays(venue_map))
    token = svc.tokens.issue(VENUE, "parking-pay-twice")
    client = app.test_client()
    entered = time.time() - 3.5 * HOUR_S
    events(client, token, {"type": "entry", "plate": PLATE, "ts": entered},
           {"type": "plate", "plate": PLATE, "bay": "G-A01", "ts": entered + 120})
    return app, client, token, store, entered, svc.payments


def events(client, token, *items):
    resp = client.post(f"/api/v1/venues/{VENUE}/parking/events", json={"events": list(items)},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def shopper(app, client_id: str) -> str:
    with app.test_request_context():
        return shopper_token(Shopper(VENUE, client_id))


def fee_location(app, client, c, entered) -> str:
    """Type the plate, pick the hour it came in: the verified fee page."""
    found = client.post(f"{BASE}/fee", data={"plate": PLATE, "c": c})
    assert found.status_code == 303
    location = found.headers["Location"]
    path, _q, query = location.partition("?")
    tz = ZoneInfo(app.extensions["mallportal"].settings.time_zone)
    hour = int(datetime.fromtimestamp(entered, tz).replace(minute=0, second=0, microsecond=0).timestamp())
    assert client.post(f"{path}/verify?{query}", data={"hour": str(hour)}).status_code == 303
    return location


def page(client, location: str) -> str:
    resp = client.get(location)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def pay_from(client, location: str, html: str, c: str, **data) -> str:
    """Tap Pay on a fee page as rendered (`html`): the order it leads to."""
    path, _q, query = location.partition("?")
    attempt = re.search(r'name="attempt" value="([^"]+)"', html).group(1)
    resp = client.post(f"{path}/pay?{query}", data={"attempt": attempt, "c": c, **data})
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
    location = fee_location(app, client, c, entered)
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
    location = fee_location(app, client, c, entered)
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
    location_a = fee_location(app, client, c_a, entered)
    location_b = fee_location(app, client, c_b, entered)
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
