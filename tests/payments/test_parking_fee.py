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
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    app.extensions["mallportal"].venues.put_map(venue_map)
    config = {**get_app("parking").default_config(), "hourly_fen": 500, "free_minutes": 15, "daily_cap_fen": 4000,
              "points_per_yuan": 100, "spend_fen_per_hour": 10_000, "max_free_hours": 2, "grace_minutes": 15}
    return (app, *open_garage(app, venue_map, config, 2.5, PLATE, "parking-fee-tests"))


def open_garage(app, venue_map, config: dict, hours_ago: float, plate: str, source: str):
    """The garage running the parking app with `config`, its bays, and `plate` that came in `hours_ago` and
    parked at G-A01, as the parking system posts it: (client, API token, store, entered)."""
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "parking", config)
    store = ParkingStore(svc.db)
    store.put_bays(VENUE, demo_bays(venue_map))
    token = svc.tokens.issue(VENUE, source, scopes=["parking"])
    client = app.test_client()
    entered = time.time() - hours_ago * HOUR_S
    events(client, token, {"type": "entry", "plate": plate, "ts": entered},
           {"type": "plate", "plate": plate, "bay": "G-A01", "ts": entered + 120})
    return client, token, store, entered


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
    # the fee is the driver's one transaction in the insights (portal/events/log.py paid_transaction), in the garage
    paid = [e for e in app.extensions["mallportal"].events.read(VENUE)
            if e.kind == "txn" and e.data.get("action") == "parking_paid"]
    assert [(e.shopper, e.zone) for e in paid] == [("anon-driver", ZONE)]
    html = page(client, location)
    assert 'id="paid"' in html and "¥0.00" in html and 'id="pay-fee"' not in html
    # The exit barrier: paid and within the grace time -> cleared, and the bay is free again.
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "cleared", "due_fen": 0}]
    assert store.states(VENUE)["G-A01"] == "free" and store.stay(VENUE, h.plate_hash).status == "cleared"
    assert store.owed(VENUE) == []
    assert [e.purpose for e in pay.store.ledger(VENUE)].count("parking") == 1


def test_the_payment_page_names_the_fee_in_its_own_language(garage, pay):
    """The provider's description is one text, Chinese ("停车费"); the shopper's payment page shows the fee in the
    page's language only (no English on the Chinese page, as the cinema's orders)."""
    app, client, _token, _store, entered = garage
    c = shopper(app, "anon-driver-words")
    order_id = alipay_order(client, fee_session(app, client, c, entered), c)
    described = {}
    for lang in ("en", "zh"):
        html = page(client, f"/v/{VENUE}/pay/{order_id}?c={c}&lang={lang}")
        described[lang] = re.search(r'<p id="order-description">([^<]*)</p>', html).group(1).strip()
    assert described == {"en": "Parking fee", "zh": "停车费"}
    assert pay.order(VENUE, order_id).description == "停车费"  # what the provider is sent: no English in her record


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


def sign_agreement(app, client, sandbox, entered, client_id, phone):
    """A member signs an Alipay agreement from the fee page (through the sandbox's signing page): the
    agreement number."""
    app.extensions[STORES]["membership"].bind(VENUE, phone, client_id)
    c = shopper(app, client_id)
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
    return agreement_no


def test_leave_first_pay_after_is_charged_once_after_the_exit(garage, sandbox, pay):
    app, client, token, store, entered = garage
    agreement_no = sign_agreement(app, client, sandbox, entered, "anon-member-a", "+8613800138002")
    signed = app.extensions["light_app_capabilities"]["agreements"].agreement(VENUE, "anon-member-a")
    assert signed.agreement_no == agreement_no
    # The car leaves without paying: the fee is charged to the agreement, once.
    exit_event = {"type": "exit", "plate": PLATE, "ts": time.time()}
    answer = events(client, token, exit_event)
    assert answer["exits"] == [{"index": 0, "outcome": "charged", "due_fen": 0}]
    # the barrier's replay charges nothing, and is told again what the exit came to
    assert events(client, token, exit_event)["exits"] == [{"index": 0, "outcome": "charged", "due_fen": 0,
                                                           "duplicate": True}]
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
    # the car has left owing: the plate still finds it on the fee page, to pay what is owed
    c = shopper(app, "anon-late")
    assert client.post(f"{BASE}/fee", data={"plate": PLATE, "c": c}).status_code == 303


def test_bad_input_is_refused_and_nothing_is_paid(garage, pay):
    app, client, token, store, entered = garage
    c = shopper(app, "anon-bad")
    assert client.post(f"{BASE}/fee", data={"plate": "B1", "c": c}).status_code == 422
    assert client.post(f"{BASE}/fee", data={"plate": "X" * 41, "c": c}).status_code == 422
    unknown = client.post(f"{BASE}/fee", data={"plate": "粤B 99999", "c": c})  # no car: back to the form, said there
    assert unknown.status_code == 303 and "fee=none" in unknown.headers["Location"]
    assert "99999" not in unknown.headers["Location"]  # the plate never goes into the URL
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


def parking_coupon(app, client_id, fen=500, zone="kopi"):
    """A shop's coupon worth `fen` off the parking fee, claimed by the shopper: its code."""
    coupons = app.extensions[STORES]["coupons"]
    coupon = coupons.create(VENUE, zone, {"title_en": "Free parking hour", "title_zh": "停车一小时", "stock": 5,
                                          "valid_from": time.time() - 60, "valid_until": time.time() + 86400,
                                          "parking_fen": fen})
    return coupons, coupons.claim(VENUE, zone, coupon.id, client_id).code


def test_a_parking_coupon_is_held_while_paying_released_on_timeout_redeemed_once_when_paid(garage, sandbox, pay,
                                                                                          monkeypatch):
    app, client, token, store, entered = garage
    coupons, code = parking_coupon(app, "anon-coupon")
    c = shopper(app, "anon-coupon")
    location = fee_session(app, client, c, entered)
    html = page(client, location)
    assert 'id="coupon-form"' in html and "停车一小时" not in html and "Free parking hour · ¥5.00" in html
    preview = page(client, f"{location}&coupon={code}")
    assert 'id="coupon">-¥5.00' in preview and "¥10.00" in preview and "Coupon: Free parking hour" in preview
    zh = page(client, f"{location}&coupon={code}&lang=zh")
    assert "停车一小时" in zh and 'id="coupon">-¥5.00' in zh and "优惠券" in zh
    order_id = alipay_order(client, f"{location}&coupon={code}", c, coupon=code)
    assert pay.order(VENUE, order_id).amount == 1000 and coupons.issued(VENUE, code).state == "held"
    assert coupons.redeem(VENUE, "kopi", code, by="till").status == "HELD"  # the shop cannot take it meanwhile
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 3600_000)
    assert pay.sweep(VENUE) == 1  # the order timed out: closed at Alipay and here, the coupon released
    monkeypatch.undo()
    assert pay.order(VENUE, order_id).status == "closed" and coupons.issued(VENUE, code).state == "issued"
    order_id = alipay_order(client, f"{location}&coupon={code}", c, coupon=code)
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    box = sandbox[0]
    assert box.notify(box.trade("alipay", order_id)) == 200  # replayed: the coupon is redeemed once
    (stay_hash,) = _stay_hashes(store)
    assert store.stay(VENUE, stay_hash).paid_fen == 1500  # ¥10.00 paid + the ¥5.00 coupon
    issued = coupons.issued(VENUE, code)
    assert issued.state == "redeemed" and issued.redeemed_by == "parking"
    assert coupons.get(VENUE, issued.coupon_id).redeemed == 1
    assert 'id="coupon-form"' not in page(client, location)  # paid: nothing to apply it to


def test_a_coupon_covering_the_fee_is_redeemed_at_once(garage, pay):
    app, client, token, store, entered = garage
    coupons, code = parking_coupon(app, "anon-cover", fen=2000)
    c = shopper(app, "anon-cover")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    html = page(client, f"{location}&coupon={code}")
    assert "Use the coupon" in html and 'id="coupon">-¥15.00' in html
    resp = client.post(f"{path}/pay?{query}", data={**pay_form(html), "c": c, "coupon": code})
    assert resp.status_code == 303 and "/pay/" not in resp.headers["Location"]
    assert coupons.issued(VENUE, code).state == "redeemed"
    assert 'id="paid"' in page(client, location)
    assert not store.db.keys("mp:{demo}:pay:order:*")


def test_a_coupon_not_for_parking_or_not_yours_is_refused_and_nothing_is_held(garage, pay):
    app, client, token, store, entered = garage
    coupons, code = parking_coupon(app, "anon-owner")
    _coupons, plain = parking_coupon(app, "anon-thief", fen=0)
    c = shopper(app, "anon-thief")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    html = page(client, location)
    assert 'id="coupon-form"' not in html  # the thief's own coupon is not a parking one
    assert client.get(f"{location}&coupon={code}").status_code == 422
    assert client.get(f"{location}&coupon=%3Cscript%3E").status_code == 422
    form = {**pay_form(html), "c": c}
    assert client.post(f"{path}/pay?{query}", data={**form, "coupon": code}).status_code == 409
    assert client.post(f"{path}/pay?{query}", data={**form, "coupon": plain}).status_code == 409
    assert client.post(f"{path}/pay?{query}", data={**form, "coupon": "X" * 40}).status_code == 422
    assert coupons.issued(VENUE, code).state == "issued" and not store.db.keys("mp:{demo}:coupons:hold:*")
    assert not store.db.keys("mp:{demo}:pay:order:*")


def _open_debt(store):
    (debt,) = store.open_debts(VENUE)
    return debt


def test_an_owed_exit_is_paid_later_from_me_once(garage, sandbox, pay):
    """The shopper looked the fee up, then drove off without paying: Me shows what is owed, and paying it
    through the normal payment flow clears it from the office's list, once."""
    app, client, token, store, entered = garage
    c = shopper(app, "anon-late-payer")
    fee_session(app, client, c, entered)  # verified: a debt this visit leaves is shown to this shopper
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "owed", "due_fen": 1500}]
    debt = _open_debt(store)
    assert (debt.due_fen, debt.status, debt.plate, debt.client) == (1500, "owed", "粤B12345", "anon-late-payer")
    me = page(client, f"/v/{VENUE}/me?c={c}&lang=en")
    assert "Parking fee owed: ¥15.00" in me
    assert "停车欠费：¥15.00" in page(client, f"/v/{VENUE}/me?c={c}&lang=zh")
    owed_url = f"{BASE}/owed/{debt.id}?c={c}"
    html = page(client, owed_url)
    assert 'id="due"><strong>¥15.00' in html and 'id="pay-owed-button"' in html
    other = shopper(app, "anon-stranger")
    assert client.get(f"{BASE}/owed/{debt.id}?c={other}").status_code == 404  # not theirs
    attempt = pay_form(html)["attempt"]
    assert client.post(f"{BASE}/owed/{debt.id}/pay?c={other}", data={"c": other, "attempt": attempt}).status_code == 404
    assert client.post(f"{BASE}/owed/{debt.id}/pay?c={c}", data={"c": c, "attempt": "x"}).status_code == 400
    assert client.get(f"{BASE}/owed/not-a-debt?c={c}").status_code == 404
    assert not store.db.keys("mp:{demo}:pay:order:*")
    resp = client.post(f"{BASE}/owed/{debt.id}/pay?c={c}", data={"c": c, "attempt": attempt})
    assert resp.status_code == 303
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", resp.headers["Location"]).group(1)
    assert pay.order(VENUE, order_id).amount == 1500
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    box = sandbox[0]
    assert box.notify(box.trade("alipay", order_id)) == 200  # replayed: credited once
    assert store.open_debts(VENUE) == [] and store.owed(VENUE) == []
    paid = store.debt(VENUE, debt.id)
    assert paid.status == "cleared" and paid.paid_fen == 1500 and paid.plate == ""  # the plate is not kept
    assert store.stay(VENUE, debt.plate_hash).status == "cleared"
    assert 'id="settled"' in page(client, owed_url) and "Parking fee owed" not in page(client, f"/v/{VENUE}/me?c={c}")
    assert client.post(f"{BASE}/owed/{debt.id}/pay?c={c}", data={"c": c, "attempt": "abcdefghij"}).status_code == 409
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE) if e.purpose == "parking"] == [("paid", 1500)]


def test_a_plate_that_left_owing_is_found_on_the_fee_page_with_its_entry_hour(garage):
    app, client, token, store, entered = garage
    events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    c = shopper(app, "anon-driver-2")
    location = fee_session(app, client, c, entered)  # the plate and the hour it came in, after it left
    html = page(client, location)
    assert 'id="owed-title"' in html and "¥15.00" in html and 'id="fee"' not in html
    debt = _open_debt(store)
    assert f"/owed/{debt.id}" in html  # claimed: the owed page opens for this shopper now
    assert client.get(f"{BASE}/owed/{debt.id}?c={c}").status_code == 200


def test_the_sweep_settles_an_interrupted_exit_once(garage, pay):
    """The exit barrier's event was recorded, but its settlement never ran (the process died): the payments
    sweep settles it a minute later, and running the sweep again changes nothing."""
    from lightapps.parking.store import Event

    app, client, token, store, entered = garage
    (h,) = _stay_hashes(store)
    left = time.time() - 120
    assert store.apply_events(VENUE, [Event("exit", int(left * 1000), plate_hash=h, plate_text="粤B12345")]) == [
        "applied"]
    assert store.stay(VENUE, h).status == "exited" and store.exiting(VENUE, int(time.time() * 1000))
    pay.sweep(VENUE)
    debt = _open_debt(store)
    assert debt.status == "owed" and debt.due_fen == 1500 and store.stay(VENUE, h).status == "owed"
    assert store.exiting(VENUE, int(time.time() * 1000)) == []
    pay.sweep(VENUE)
    assert store.open_debts(VENUE) == [debt]


def alipay_charges_down(client, token, pay, monkeypatch) -> list[str]:
    """Alipay unreachable for agreement charges, then the car leaves: the exit is "charging". The calls made."""
    from portal.payments.providers.base import ProviderError

    calls = []

    def down(*args, **kwargs):
        calls.append("down")
        raise ProviderError("alipay is down")

    monkeypatch.setattr(pay.providers()["alipay"], "charge_agreement", down)
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "charging", "due_fen": 1500}]
    return calls


def test_the_sweep_charges_an_agreement_again_after_a_failed_charge(garage, sandbox, pay, monkeypatch):
    """The agreement's charge at the exit did not get through (Alipay unreachable): the stay is "charging";
    the sweep asks again while it fails, charges it once when Alipay answers, and then leaves it alone."""
    app, client, token, store, entered = garage
    sign_agreement(app, client, sandbox, entered, "anon-member-s", "+8613800138009")
    provider = pay.providers()["alipay"]
    real = provider.charge_agreement
    calls = alipay_charges_down(client, token, pay, monkeypatch)
    pay.sweep(VENUE)  # still down: still charging, nothing booked
    assert _open_debt(store).status == "charging" and calls == ["down", "down"]
    assert not [e for e in pay.store.ledger(VENUE) if e.purpose == "parking"]

    def up(*args, **kwargs):
        calls.append("up")
        return real(*args, **kwargs)

    monkeypatch.setattr(provider, "charge_agreement", up)
    pay.sweep(VENUE)
    pay.sweep(VENUE)
    assert calls == ["down", "down", "up"] and store.open_debts(VENUE) == []
    (h,) = _stay_hashes(store)
    assert store.stay(VENUE, h).status == "cleared" and store.stay(VENUE, h).paid_fen == 1500
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE) if e.purpose == "parking"] == [("paid", 1500)]


def test_owed_pages_answer_503_when_the_store_is_down(garage, monkeypatch):
    app, client, token, store, entered = garage
    c = shopper(app, "anon-fault-owed")
    fee_session(app, client, c, entered)
    events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    debt = _open_debt(store)

    def broken(self, venue, client, limit=20):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(ParkingStore, "debts_of", broken)
    assert client.get(f"{BASE}/owed/{debt.id}?c={c}").status_code == 503
    resp = client.post(f"{BASE}/owed/{debt.id}/pay?c={c}", data={"c": c, "attempt": "abcdefghij"})
    assert resp.status_code == 503 and not store.db.keys("mp:{demo}:pay:order:*")


def owed_list(app, client):
    """The car park office's "Exits left owed" table, as the garage's owner sees it."""
    from portal.auth import AccountStore

    accounts = AccountStore(app.extensions["mallportal"].db)
    if accounts.get("garage-office") is None:
        accounts.create("garage-office", "Tarmac-Barrier-9413", "owner", VENUE, (ZONE,))
    login = page(client, "/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    resp = client.post("/console/login", data={"username": "garage-office", "password": "Tarmac-Barrier-9413",
                                               "csrf_token": csrf})
    assert resp.status_code == 303
    html = page(client, f"/console/apps/parking/{VENUE}/{ZONE}/owed?lang=en")
    return re.search(r'<table id="owed">(.*?)</table>', html, re.S).group(1), html


def test_a_declined_agreement_charge_at_the_exit_is_owed_in_me_and_on_the_office_list(garage, sandbox, pay):
    """The member stopped the agreement at Alipay after signing it here: the charge at the exit is declined
    (a real alipay.trade.pay answered ACQ.AGREEMENT_STATUS_NOT_NORMAL), the order is closed and the exit is
    owed: in the member's Me and on the owner's list; the sweep changes nothing after."""
    app, client, token, store, entered = garage
    agreement_no = sign_agreement(app, client, sandbox, entered, "anon-member-d", "+8613800138011")
    sandbox[0].agreements[agreement_no].status = "STOP"  # ended by the shopper at Alipay
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "owed", "due_fen": 1500}]
    debt = _open_debt(store)
    assert (debt.status, debt.due_fen, debt.client, debt.order) == ("owed", 1500, "anon-member-d", "")
    (order,) = [pay.order(VENUE, k.decode().rsplit(":", 1)[1]) for k in store.db.scan_iter("mp:{demo}:pay:order:*")]
    assert order.status == "closed" and order.items[0]["kind"] == "exit"  # charged once, declined
    assert store.stay(VENUE, debt.plate_hash).status == "owed"
    assert not [e for e in pay.store.ledger(VENUE) if e.purpose == "parking"]
    c = shopper(app, "anon-member-d")
    assert "Parking fee owed: ¥15.00" in page(client, f"/v/{VENUE}/me?c={c}&lang=en")
    assert 'id="pay-owed-button"' in page(client, f"{BASE}/owed/{debt.id}?c={c}")
    table, html = owed_list(app, app.test_client())
    assert "粤B12345" in table and "¥15.00" in table and "Charging the agreement" not in table
    assert "1 exit owes ¥15.00 in all." in html
    pay.sweep(VENUE)
    pay.sweep(VENUE)
    assert store.open_debts(VENUE) == [debt] and len(store.db.keys("mp:{demo}:pay:order:*")) == 1


def test_the_sweep_gives_up_on_a_failing_agreement_charge_after_an_hour_once(garage, sandbox, pay, monkeypatch):
    """Alipay stays unreachable: the sweep asks again within the hour; past the hour (the exit moved back in
    the store, no waiting) it closes the order and the exit is owed, once: a second sweep asks nothing and
    changes nothing."""
    from lightapps.parking.fees import CHARGE_GIVE_UP_MS
    from lightapps.parking.store import ParkingKeys

    app, client, token, store, entered = garage
    sign_agreement(app, client, sandbox, entered, "anon-member-h", "+8613800138012")
    calls = alipay_charges_down(client, token, pay, monkeypatch)
    pay.sweep(VENUE)  # within the hour: asked again
    charging = _open_debt(store)
    assert charging.status == "charging" and calls == ["down", "down"]
    table, _html = owed_list(app, app.test_client())
    assert "Charging the agreement" in table
    store.db.hset(ParkingKeys(VENUE).debt(charging.id), "exit_ms", charging.exit_ms - CHARGE_GIVE_UP_MS - 60_000)
    pay.sweep(VENUE)
    debt = _open_debt(store)
    assert (debt.status, debt.due_fen, debt.client, debt.order) == ("owed", 1500, "anon-member-h", "")
    assert calls == ["down", "down"]  # past the hour: not asked again
    assert pay.order(VENUE, charging.order).status == "closed"
    assert store.stay(VENUE, debt.plate_hash).status == "owed"
    pay.sweep(VENUE)
    assert calls == ["down", "down"] and store.open_debts(VENUE) == [debt]
    assert pay.order(VENUE, charging.order).status == "closed"
    assert not [e for e in pay.store.ledger(VENUE) if e.purpose == "parking"]
    c = shopper(app, "anon-member-h")
    assert "Parking fee owed: ¥15.00" in page(client, f"/v/{VENUE}/me?c={c}&lang=en")
    table, _html = owed_list(app, app.test_client())
    assert "¥15.00" in table and "Charging the agreement" not in table


def test_a_coupon_previewed_before_leaving_is_not_used_by_the_agreement_charge(garage, sandbox, pay):
    """Coupons apply on foot only (README): the fee page's Apply is a preview that holds nothing, so the
    agreement is charged the full fee at the exit and the coupon stays unused for the shopper."""
    app, client, token, store, entered = garage
    sign_agreement(app, client, sandbox, entered, "anon-member-v", "+8613800138013")
    coupons, code = parking_coupon(app, "anon-member-v")
    location = fee_session(app, client, shopper(app, "anon-member-v"), entered)
    assert 'id="coupon">-¥5.00' in page(client, f"{location}&coupon={code}")
    answer = events(client, token, {"type": "exit", "plate": PLATE, "ts": time.time()})
    assert answer["exits"] == [{"index": 0, "outcome": "charged", "due_fen": 0}]
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE) if e.purpose == "parking"] == [("paid", 1500)]
    assert coupons.issued(VENUE, code).state == "issued"


def test_the_fee_pages_hours_say_nothing_about_the_plate(garage):
    """Before the hour is named, the offered hours are the same for every plate, in the car park or gone:
    a list that started at a car's exit would tell anyone who knows the plate when it left. The owner of a
    car that left owing still finds its hour there and can verify."""
    app, client, token, store, entered = garage
    left = time.time() - 1.5 * HOUR_S
    events(client, token, {"type": "exit", "plate": PLATE, "ts": left})
    here = {"type": "entry", "plate": "粤B 77777", "ts": time.time() - HOUR_S}

    def offered(plate):
        found = client.post(f"{BASE}/fee", data={"plate": plate, "c": shopper(app, "stranger")})
        html = client.get(found.headers["Location"]).get_data(as_text=True)
        assert 'id="verify"' in html
        return re.findall(r'<option value="(\d+)">', html)

    events(client, token, here)
    assert offered(PLATE) == offered("粤B 77777")
    assert str(hour_of(app, entered)) in offered(PLATE)
    c = shopper(app, "owner")
    fee_session(app, client, c, entered)  # verifies with the hour it came in


def test_a_replayed_callback_after_the_car_left_and_came_back_refunds_nothing(garage, sandbox, pay):
    """Paid on foot (partly in points), left within the grace time, back later that day: the provider's resend
    of the same signed callback (its acknowledgement got lost) finds a new stay, but what was paid and used
    stays paid: no refund, the points are not given back, the new stay is not credited."""
    app, client, token, store, entered = garage
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138002", "anon-replayed")
    members.post_purchase(VENUE, member.id, "desk-1", "kopi", 15_000)  # 150 points from the service desk
    c = shopper(app, "anon-replayed")
    order_id = alipay_order(client, fee_session(app, client, c, entered), c, points="100")
    assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"}).status_code == 200
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    points = members.get(VENUE, member.id).points  # 150 - 100 redeemed + what the ¥14.00 paid earned
    assert points == 64
    now = time.time()
    assert events(client, token, {"type": "exit", "plate": PLATE, "ts": now})["exits"][0]["outcome"] == "cleared"
    events(client, token, {"type": "entry", "plate": PLATE, "ts": now + 60})
    box = sandbox[0]
    assert box.notify(box.trade("alipay", order_id)) == 200
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded, order.refund_pending) == ("paid", 0, 0)
    assert pay.store.refunds_of(VENUE, order_id) == [] and box.trade("alipay", order_id).refunds == []
    assert members.get(VENUE, member.id).points == points
    assert [e["type"] for e in members.ledger(VENUE, member.id)].count("restore") == 0
    (stay_hash,) = _stay_hashes(store)
    assert store.stay(VENUE, stay_hash).paid_fen == 0  # the new visit owes its own fee
    assert order.delivery == "done"
