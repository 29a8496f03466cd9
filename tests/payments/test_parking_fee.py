"""The parking fee paid: on foot through the shopper pages, the payment service and the real SDKs against the
sandbox (a replayed callback credits once); discounts for same-day spend and member points; "leave first,
pay after" through a signed Alipay agreement, charged once at the exit; the exit event clearing the bay;
an unpaid exit owed; bad input and a store fault."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis
import requests

from lightapps.parking.demo import demo_bays
from lightapps.parking.store import ParkingStore
from portal.apps.registry import get as get_app
from portal.apps.views import STORES
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "garage"
BASE = f"/v/{VENUE}/parking/{ZONE}"
API = f"/api/v1/venues/{VENUE}/parking/events"
PLATE = "粤B 12345"
HOUR_S = 3600


@pytest.fixture
def garage(pay_portal, pay, demo_map):
    """The demo garage with a tariff (¥5.00 an hour, 15 free minutes, ¥40.00 a day; 100 points = ¥1;
    every ¥100.00 spent today = one free hour, at most 2) and a car that came in 2 h 30 min ago:
    (app, client, API token, store)."""
    app, _url = pay_portal
    svc = app.extensions["mallportal"]
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    svc.venues.put_map(venue_map)
    config = {**get_app("parking").default_config(), "hourly_fen": 500, "free_minutes": 15, "daily_cap_fen": 4000,
              "points_per_yuan": 100, "spend_fen_per_hour": 10_000, "max_free_hours": 2, "grace_minutes": 15}
    svc.zone_apps.set(VENUE, ZONE, "parking", config)
    store = ParkingStore(svc.db)
    store.put_bays(VENUE, demo_bays(venue_map))
    token = svc.tokens.issue(VENUE, "parking-fee-tests")
    client = app.test_client()
    entered = time.time() - 2.5 * HOUR_S
    events(client, token, {"type": "entry", "plate": PLATE, "ts": entered},
           {"type": "plate", "plate": PLATE, "bay": "G-A01", "ts": entered + 120})
    return app, client, token, store, entered


def events(client, token, *items):
    resp = client.post(API, json={"events": list(items)}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def shopper(app, client_id):
    with app.test_request_context():
        return shopper_token(Shopper(VENUE, client_id))


def hour_of(app, ts: float) -> int:
    tz = ZoneInfo(app.extensions["mallportal"].settings.time_zone)
    return int(datetime.fromtimestamp(ts, tz).replace(minute=0, second=0, microsecond=0).timestamp())


def fee_session(app, client, c, entered, plate=PLATE):
    """Type the plate, name the hour it came in: the verified fee page's path."""
    found = client.post(f"{BASE}/fee", data={"plate": plate, "c": c})
    assert found.status_code == 303, found.get_data(as_text=True)[:300]
    location = found.headers["Location"]
    path, _q, query = location.partition("?")
    verified = client.post(f"{path}/verify?{query}", data={"hour": str(hour_of(app, entered))})
    assert verified.status_code == 303
    return location


def page(client, location) -> str:
    resp = client.get(location)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def pay_form(html: str) -> dict[str, str]:
    return {"attempt": re.search(r'name="attempt" value="([^"]+)"', html).group(1)}


def alipay_order(client, location, c, **data):
    path, _q, query = location.partition("?")
    html = page(client, location)
    resp = client.post(f"{path}/pay?{query}", data={**pay_form(html), "c": c, **data})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", resp.headers["Location"]).group(1)
    return order_id


def test_pay_on_foot_then_leave_within_the_grace_time(garage, sandbox, pay):
    app, client, token, store, entered = garage
    c = shopper(app, "anon-driver")
    location = fee_session(app, client, c, entered)
    html = page(client, location)
    assert "¥15.00" in html and 'id="due"' in html and "2 h 30 min" in html  # 3 started hours at ¥5.00
    order_id = alipay_order(client, location, c)
    assert pay.order(VENUE, order_id).amount == 1500 and pay.order(VENUE, order_id).purpose == "parking"
    started = client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})
    assert started.status_code == 200
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    h = store.stay(VENUE, next(iter(_stay_hashes(store))))
    assert h.paid_fen == 1500 and h.paid_until_ms > time.time() * 1000
    box = sandbox[0]
    assert box.notify(box.trade("alipay", order_id)) == 200  # the callback replayed: credited once
    stay = store.stay(VENUE, h.plate_hash)
    assert stay.paid_fen == 1500
    html = page(client, location)
    assert 'id="paid"' in html and "¥0.00" in html and 'id="pay-fee"' not in html
    # The exit barrier: paid and within the grace time -> cleared, and the bay is free again.
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "cleared", "due_fen": 0}]
    assert store.states(VENUE)["G-A01"] == "free" and store.stay(VENUE, h.plate_hash).status == "cleared"
    assert store.owed(VENUE) == []
    assert [e.purpose for e in pay.store.ledger(VENUE)].count("parking") == 1


def _stay_hashes(store):
    return [k.decode().rsplit(":", 1)[1] for k in store.db.scan_iter(match="mp:{demo}:parking:stay:*")]


def test_same_day_spend_and_points_then_cancel_gives_the_points_back(garage, sandbox, pay, pay_portal):
    app, client, token, store, entered = garage
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138001", "anon-member-p")
    spent = pay.create(VENUE, merchant="kopi", shopper="anon-member-p", amount=15_000, purpose="shop",
                       ref="x", description="Shoes", idem=f"shoes:{time.time_ns()}")
    pay.start(VENUE, spent.id, "alipay", "qr", "203.0.113.5", pay_portal[1], "http://back.example/")
    requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{spent.id}/approve", timeout=30)
    assert members.get(VENUE, member.id).points == 150  # earned by the purchase (¥150.00)
    c = shopper(app, "anon-member-p")
    location = fee_session(app, client, c, entered)
    html = page(client, location)
    assert "-¥5.00" in html and "¥10.00" in html  # one free hour for ¥150.00 spent today
    assert 'id="points"' in html
    order_id = alipay_order(client, location, c, points="100")
    order = pay.order(VENUE, order_id)
    assert order.amount == 900 and order.items[0]["points"] == 100  # ¥15.00 - ¥5.00 - ¥1.00 in points
    assert members.get(VENUE, member.id).points == 50
    cancelled = client.post(f"/v/{VENUE}/pay/{order_id}/cancel", data={"c": c})
    assert cancelled.status_code in (200, 303)
    assert pay.order(VENUE, order_id).status == "closed"
    assert members.get(VENUE, member.id).points == 150  # given back
    kinds = [e["type"] for e in members.ledger(VENUE, member.id)]
    assert kinds.count("redeem") == 1 and kinds.count("restore") == 1


def test_leave_first_pay_after_is_charged_once_after_the_exit(garage, sandbox, pay):
    app, client, token, store, entered = garage
    members = app.extensions[STORES]["membership"]
    members.bind(VENUE, "+8613800138002", "anon-member-a")
    c = shopper(app, "anon-member-a")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    html = page(client, location)
    assert 'id="autopay-start"' in html
    went = client.post(f"{path}/autopay?{query}", data={"c": c})
    assert went.status_code == 303 and went.headers["Location"].startswith(sandbox[1])
    sign_page = requests.get(went.headers["Location"], allow_redirects=False, timeout=30)
    assert sign_page.status_code == 302
    agreement_no = sign_page.headers["Location"].rsplit("/", 1)[1]
    approved = requests.post(f"{sandbox[1]}/sandbox/agreement/alipay/{agreement_no}/approve",
                             allow_redirects=False, timeout=30)
    assert approved.status_code == 303
    back = urlsplit(approved.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303
    assert 'id="autopay-on"' in page(client, location)
    assert app.extensions["member_benefits"].agreement(VENUE, "anon-member-a").agreement_no == agreement_no
    # The car leaves without paying: the fee is charged to the agreement, once.
    exit_event = {"type": "exit", "plate": PLATE, "ts": time.time()}
    answer = events(client, token, exit_event)
    assert answer["exits"] == [{"index": 0, "outcome": "charged", "due_fen": 0}]
    assert events(client, token, exit_event)["exits"] == []  # the barrier's replay charges nothing
    (stay_hash,) = _stay_hashes(store)
    stay = store.stay(VENUE, stay_hash)
    assert stay.status == "cleared" and stay.paid_fen == 1500
    order = pay.order(VENUE, stay.order)
    assert order.status == "paid" and order.provider == "alipay" and order.method == "agreement"
    box = sandbox[0]
    trade = box.trade("alipay", order.id)
    assert trade.notifications and box.notify(trade) == 200  # callbacks (sent, replayed) book nothing more
    paid = [e for e in pay.store.ledger(VENUE) if e.purpose == "parking"]
    assert [(e.kind, e.amount) for e in paid] == [("paid", 1500)]
    assert store.stay(VENUE, stay_hash).paid_fen == 1500
    # the privacy centre: the binding is in the export, and erasure removes it
    assert store.export_shopper(VENUE, "anon-member-a")["leave_first_pay_after_plates"] == [stay_hash]
    assert store.forget_shopper(VENUE, "anon-member-a") >= 1
    assert store.autopay_client(VENUE, stay_hash) is None


def test_unpaid_exit_without_an_agreement_is_owed(garage):
    app, client, token, store, entered = garage
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "owed", "due_fen": 1500}]
    (stay_hash,) = _stay_hashes(store)
    stay = store.stay(VENUE, stay_hash)
    assert stay.status == "owed" and stay.owed_fen == 1500
    assert [sid for sid, _ms in store.owed(VENUE)] == [stay.id]
    assert store.states(VENUE)["G-A01"] == "free"
    # the car has left: its fee can no longer be looked up on foot
    c = shopper(app, "anon-late")
    assert client.post(f"{BASE}/fee", data={"plate": PLATE, "c": c}).status_code == 404


def test_bad_input_is_refused_and_nothing_is_paid(garage, pay):
    app, client, token, store, entered = garage
    c = shopper(app, "anon-bad")
    assert client.post(f"{BASE}/fee", data={"plate": "B1", "c": c}).status_code == 422
    assert client.post(f"{BASE}/fee", data={"plate": "X" * 41, "c": c}).status_code == 422
    assert client.post(f"{BASE}/fee", data={"plate": "粤B 99999", "c": c}).status_code == 404
    found = client.post(f"{BASE}/fee", data={"plate": PLATE, "c": c})
    location = found.headers["Location"]
    path, _q, query = location.partition("?")
    html = page(client, location)
    assert "¥15.00" not in html  # not before the hour the car came in is named
    assert client.post(f"{path}/pay?{query}", data={"c": c, "attempt": "abcdefghij"}).status_code == 403
    assert client.post(f"{path}/verify?{query}", data={"hour": "12"}).status_code == 400
    wrong = hour_of(app, entered) - 5 * HOUR_S
    assert client.post(f"{path}/verify?{query}", data={"hour": str(wrong)}).status_code == 403
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    attempt = pay_form(page(client, location))["attempt"]
    assert client.post(f"{path}/pay?{query}", data={"c": c, "attempt": "x"}).status_code == 400
    assert client.post(f"{path}/pay?{query}", data={"c": c, "attempt": attempt, "points": "-5"}).status_code == 422
    # another shopper cannot open this shopper's fee page
    other = shopper(app, "anon-other")
    assert client.get(location.replace(c, other)).status_code == 404
    assert client.post(f"{path}/pay?c={other}", data={"c": other, "attempt": attempt}).status_code == 404
    assert not [e for e in pay.store.ledger(VENUE) if e.purpose == "parking"]
    assert not store.db.keys("mp:{demo}:pay:order:*")


def test_store_fault_is_503_and_nothing_is_stored(garage, monkeypatch):
    app, client, token, store, entered = garage
    c = shopper(app, "anon-fault")

    def broken(self, venue, h):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(ParkingStore, "stay", broken)
    resp = client.post(f"{BASE}/fee", data={"plate": PLATE, "c": c})
    assert resp.status_code == 503
    assert not store.db.keys("mp:{demo}:parking:fee:*")
