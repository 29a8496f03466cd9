"""Group buys with a deposit, paid through the real SDKs against the sandbox: a group that fills keeps
(captures) its deposits; a group that fails refunds every deposit exactly once however often the sweep
runs; a deposit paid for a group that can no longer be joined is refunded at once; the shopper's Join
button leads to the payment page."""

from __future__ import annotations

import re
import time

import pytest
import requests

from lightapps.activities.deposits import DepositKeys, pay_deposit, refund_no
from lightapps.activities.store import ActivityStore
from portal.apps.registry import get as get_app
from portal.apps.views import STORES

VENUE, ZONE = "demo", "atrium"


def new_group(db, needed: int, price="¥30", deadline_in=3600):
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "group", "title_en": "Hotpot for four", "price": price,
                                                  "starts_at": time.time() - 60, "ends_at": time.time() + deadline_in,
                                                  "needed": needed, "limit": 0})


def join_and_pay(app, pay, portal_url, sandbox_url, item, client, provider="wechat"):
    with app.app_context():
        order = pay_deposit(VENUE, item, client, 3000, "http://back.example/")
    assert not isinstance(order, str), order
    pay.start(VENUE, order.id, provider, "native" if provider == "wechat" else "qr", "203.0.113.8", portal_url,
              "http://back.example/")
    assert requests.post(f"{sandbox_url}/sandbox/pay/{provider}/{order.id}/approve", timeout=60).status_code == 200
    return order


def after_deadline(pay, monkeypatch, item):
    monkeypatch.setattr(pay, "clock", lambda: int((item.ends_at + 5) * 1000))


def test_a_group_that_fills_captures_its_deposits(pay_portal, pay, sandbox, monkeypatch):
    app, portal_url = pay_portal
    db = app.extensions["mallportal"].db
    item = new_group(db, needed=2)
    deposits = app.extensions[STORES]["activities.deposits"]
    first = join_and_pay(app, pay, portal_url, sandbox[1], item, "anon-g1")
    assert deposits.state(VENUE, item.id) == "held"
    second = join_and_pay(app, pay, portal_url, sandbox[1], item, "anon-g2", provider="alipay")
    assert deposits.state(VENUE, item.id) == "captured"  # filled: the deposits are kept
    group = ActivityStore(db).get(VENUE, item.id)
    assert group.taken == 2 and group.reached_at is not None
    assert set(deposits.deposits(VENUE, item.id).values()) == {first.id, second.id}
    with app.app_context():  # a member does not pay twice
        assert pay_deposit(VENUE, group, "anon-g1", 3000, "http://back.example/") == "ALREADY"
    after_deadline(pay, monkeypatch, item)
    pay.sweep(VENUE)
    assert [pay.order(VENUE, o.id).status for o in (first, second)] == ["paid", "paid"]
    assert ActivityStore(db).get(VENUE, item.id).outcome == "succeeded"
    assert not db.zscore(DepositKeys(VENUE).groups(), item.id)  # settled: out of the sweep's list
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE, ZONE)] == [("paid", 3000), ("paid", 3000)]


def test_a_failed_group_refunds_every_deposit_exactly_once(pay_portal, pay, sandbox, monkeypatch):
    app, portal_url = pay_portal
    db = app.extensions["mallportal"].db
    box = sandbox[0]
    item = new_group(db, needed=3)
    paid = [join_and_pay(app, pay, portal_url, sandbox[1], item, f"anon-f{i}", provider)
            for i, provider in enumerate(("wechat", "alipay"))]
    with app.app_context():
        unpaid = pay_deposit(VENUE, item, "anon-f9", 3000, "http://back.example/")
    deposits = app.extensions[STORES]["activities.deposits"]
    assert deposits.state(VENUE, item.id) == "held" and ActivityStore(db).get(VENUE, item.id).taken == 2
    after_deadline(pay, monkeypatch, item)
    pay.sweep(VENUE)
    pay.sweep(VENUE)  # the cron runs again (or twice at once): nothing is refunded twice
    for order, provider in zip(paid, ("wechat", "alipay"), strict=True):
        assert pay.order(VENUE, order.id).status == "refunded"
        assert [r.no for r in box.trade(provider, order.id).refunds] == [refund_no(order.id)]
    refunds = [e for e in pay.store.ledger(VENUE, ZONE) if e.kind == "refund"]
    assert sorted(e.order for e in refunds) == sorted(o.id for o in paid)
    assert pay.order(VENUE, unpaid.id).status == "closed"  # the unpaid deposit simply lapsed
    assert deposits.state(VENUE, item.id) == "refunded"
    assert not db.zscore(DepositKeys(VENUE).groups(), item.id)
    assert ActivityStore(db).get(VENUE, item.id).outcome == "failed"
    # A third sweep, with the group gone from the list and the service asked directly: still "dup".
    assert pay.refund(VENUE, paid[0].id, 3000, "again", refund_no=refund_no(paid[0].id)) == "dup"


def test_a_deposit_for_a_group_that_can_no_longer_be_joined_is_refunded(pay_portal, pay, sandbox):
    app, portal_url = pay_portal
    db = app.extensions["mallportal"].db
    item = new_group(db, needed=2)
    with app.app_context():
        order = pay_deposit(VENUE, item, "anon-late", 3000, "http://back.example/")
    ActivityStore(db).stop(VENUE, ZONE, item.id)  # the organiser cancels while the shopper pays
    pay.start(VENUE, order.id, "wechat", "native", "203.0.113.8", portal_url, "http://back.example/")
    requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order.id}/approve", timeout=60)
    assert pay.order(VENUE, order.id).status == "refunded"
    assert ActivityStore(db).get(VENUE, item.id).taken == 0


@pytest.fixture
def mall(pay_mall, token_for):
    app, _map = pay_mall
    app.extensions["mallportal"].zone_apps.set(VENUE, ZONE, "activities", get_app("activities").default_config())
    return app, app.test_client(), token_for(app, VENUE, "anon-web-1")


def test_join_leads_to_the_deposit_payment_page(mall):
    app, client, token = mall
    item = new_group(app.extensions["mallportal"].db, needed=2)
    page = client.get(f"/v/{VENUE}/activities/{item.id}?c={token}&lang=en").get_data(as_text=True)
    assert 'id="join"' in page
    answer = client.post(f"/v/{VENUE}/activities/{item.id}/join", data={"c": token})
    assert answer.status_code == 303
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", answer.headers["Location"]).group(1)
    again = client.post(f"/v/{VENUE}/activities/{item.id}/join", data={"c": token})
    assert order_id in again.headers["Location"]  # the same order while it waits
    pay_page = client.get(f"/v/{VENUE}/pay/{order_id}?c={token}&lang=zh").get_data(as_text=True)
    assert "¥30.00" in pay_page
    assert client.post(f"/v/{VENUE}/activities/999999/join", data={"c": token}).status_code == 404
