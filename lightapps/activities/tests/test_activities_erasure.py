"""Erasing a shopper ("erase my data") reaches their part in paid sales and group buys: an open reservation is
given back (its order, paid after all, is refunded), a deposit attempt and the orders' idempotency keys go,
and a paid deposit stays a member, counted and refunded by the sweep as before, under a name that is
nobody's. Afterwards no key names the shopper, in its name or its value."""

from __future__ import annotations

import time

import pytest
import requests

from core.payment_settings import PaymentSettings
from lightapps.activities.deposits import DepositKeys, pay_deposit, refund_no
from lightapps.activities.payment import SaleKeys, buy
from lightapps.activities.store import ActivityStore
from portal.apps.views import STORES
from portal.events.mydata import erase
from portal.shopper import Shopper, shopper_token
from tests.events.test_erasure_everywhere import mentions
from tests.payments.conftest import pay, pay_portal, sandbox  # noqa: F401 - the payment sandbox's fixtures

VENUE, ZONE = "demo", "atrium"
CLIENT = "s-erase-paid-5d1e"


@pytest.fixture
def paid_app(settings, demo):
    """The portal on the demo mall's store with payments on (the sandbox is never reached: making an order
    is the store's alone, and no test with this app pays)."""
    from portal import create_app

    return create_app(settings.with_(payments=PaymentSettings(sandbox_url="http://127.0.0.1:9")))


def new_sale(db, stock=1):
    now = time.time()
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "sale", "title_en": "Last unit", "price": "¥10",
                                                  "starts_at": now - 3600, "ends_at": now + 7200, "limit": stock})


def new_group(db, needed=2):
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "group", "title_en": "Hotpot", "price": "¥30",
                                                  "ends_at": time.time() + 3600, "needed": needed})


def test_erasure_leaves_no_paid_record_naming_the_shopper(paid_app, db):
    acts, payments = ActivityStore(db), paid_app.extensions["mallportal"].payments
    deposits = paid_app.extensions[STORES]["activities.deposits"]
    sale, waiting, member = new_sale(db), new_group(db), new_group(db, needed=3)
    with paid_app.app_context():
        reserved = buy(VENUE, sale, CLIENT, "http://back.example/")  # Buy now, not paid yet
        pay_deposit(VENUE, waiting, CLIENT, 3000, "http://back.example/")  # a deposit order waiting
        paid = pay_deposit(VENUE, member, CLIENT, 3000, "http://back.example/")
        other = pay_deposit(VENUE, member, "anon-other", 3000, "http://back.example/")
    for client, order in ((CLIENT, paid), ("anon-other", other)):  # as the paid callback does
        assert deposits.join_paid(VENUE, member.id, client, order.id) == "OK"
    assert acts.get(VENUE, sale.id).taken == 1 and acts.get(VENUE, member.id).taken == 2
    assert mentions(db, (CLIENT,))

    c = paid_app.test_client()
    with paid_app.test_request_context():
        token = shopper_token(Shopper(VENUE, CLIENT))
    assert c.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200

    assert mentions(db, (CLIENT,)) == []
    # The unpaid reservation went back to the stock; its order stays the payment service's, naming nobody.
    assert acts.get(VENUE, sale.id).taken == 0 and not db.exists(SaleKeys(VENUE).pending_expiry(sale.id))
    assert payments.order(VENUE, reserved.id).shopper == ""
    assert deposits.attempt(VENUE, waiting.id, CLIENT) == ""
    # The paid deposit is still a member: counted, and on the sweep's list under a keeper id (portal/apps/paid.py:
    # erasure keeps what can no longer be refunded for her, naming nothing else of her).
    assert acts.get(VENUE, member.id).taken == 2
    kept = deposits.deposits(VENUE, member.id)
    assert kept.pop("anon-other") == other.id and list(kept.values()) == [paid.id] and CLIENT not in kept
    assert db.zscore(DepositKeys(VENUE).groups(), member.id) is not None
    assert acts.forget_shopper(VENUE, CLIENT) == 0  # a second erasure finds nothing


def test_an_erased_members_deposit_is_refunded_and_a_late_sale_payment_too(pay_portal, pay, sandbox,  # noqa: F811
                                                                            monkeypatch):
    app, portal_url = pay_portal
    db = app.extensions["mallportal"].db
    group, sale = new_group(db, needed=2), new_sale(db)
    deposits = app.extensions[STORES]["activities.deposits"]

    def pay_now(order, provider="wechat"):
        pay.start(VENUE, order.id, provider, "native", "203.0.113.8", portal_url, "http://back.example/")
        assert requests.post(f"{sandbox[1]}/sandbox/pay/{provider}/{order.id}/approve", timeout=60).status_code == 200

    with app.app_context():
        deposit = pay_deposit(VENUE, group, CLIENT, 3000, "http://back.example/")
    pay_now(deposit)
    with app.app_context():
        sale_order = buy(VENUE, sale, CLIENT, "http://back.example/")
    with app.test_request_context():
        erase(app.extensions["mallportal"], Shopper(VENUE, CLIENT))
    assert ActivityStore(db).get(VENUE, group.id).taken == 1

    pay_now(sale_order)  # the erased shopper's sale order is paid after all: nobody to sell it to, refunded
    assert pay.order(VENUE, sale_order.id).status == "refunded"
    assert ActivityStore(db).get(VENUE, sale.id).taken == 0 and not db.exists(SaleKeys(VENUE).who(sale.id))

    monkeypatch.setattr(pay, "clock", lambda: int((group.ends_at + 5) * 1000))  # the group failed
    pay.sweep(VENUE)
    assert pay.order(VENUE, deposit.id).status == "refunded"
    assert [r.no for r in sandbox[0].trade("wechat", deposit.id).refunds] == [refund_no(deposit.id)]
    assert deposits.state(VENUE, group.id) == "refunded"
    assert not db.zscore(DepositKeys(VENUE).groups(), group.id)
    assert mentions(db, (CLIENT,)) == []
