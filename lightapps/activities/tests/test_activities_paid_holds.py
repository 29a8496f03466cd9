"""Paid flash sales and priced group buys, from the shopper's side of a hold that waits for its payment: a
lapsed reservation is shown as free stock (what the page says is what Buy now gets); Buy now / Join the
group again while the shopper's own reservation or deposit order waits spends no budget; taps at the same
moment open one deposit order, not one each."""

from __future__ import annotations

import re
import threading
import time

import pytest

from core.payment_settings import PaymentSettings
from core.settings import DEFAULT_BUDGETS
from lightapps.activities.deposits import pay_deposit
from lightapps.activities.payment import RESERVE_S, SaleStock
from lightapps.activities.store import ActivityStore
from portal.payments.service import PaymentService
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "atrium"


@pytest.fixture
def paid_app(settings, demo):
    """The portal on the demo mall's store with payments on (the sandbox is never reached: making an order
    is the store's alone, and no test here pays)."""
    from portal import create_app

    return create_app(settings.with_(payments=PaymentSettings(sandbox_url="http://127.0.0.1:9")))


def token(app, client: str) -> str:
    with app.test_request_context():
        return shopper_token(Shopper(VENUE, client))


def new_sale(db, stock=1):
    now = time.time()
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "sale", "title_en": "Last unit", "price": "¥10",
                                                  "starts_at": now - 3600, "ends_at": now + 7200, "limit": stock})


def new_group(db):
    return ActivityStore(db).create(VENUE, ZONE, {"kind": "group", "title_en": "Hotpot for four", "price": "¥30",
                                                  "ends_at": time.time() + 3600, "needed": 2})


def order_in(location: str) -> str:
    return re.search(r"/pay/(MP[0-9A-F]{24})", location).group(1)


# ---- a lapsed reservation is free stock on every page ------------------------------------------------


def test_a_lapsed_reservation_counts_as_free_when_read(db):
    acts, stock = ActivityStore(db), SaleStock(db, 86400)
    sale = new_sale(db)
    then = time.time() - RESERVE_S - 60  # A pressed Buy now six minutes ago and never paid
    assert stock.reserve(VENUE, sale.id, "anon-a", now_ms=int(then * 1000)).status == "OK"
    waiting = acts.get(VENUE, sale.id, now=then + 1)
    assert (waiting.taken, waiting.left, waiting.state(then + 1)) == (1, 0, "full")  # held for A meanwhile
    now = time.time()
    got = acts.get(VENUE, sale.id, now=now)
    assert (got.taken, got.left, got.state(now)) == (0, 1, "open")
    listed = next(a for a in acts.for_zone(VENUE, ZONE, now) if a.id == sale.id)
    assert (listed.left, listed.state(now)) == (1, "open")
    assert stock.reserve(VENUE, sale.id, "anon-b").status == "OK"  # and B does get it
    assert acts.get(VENUE, sale.id).state(time.time()) == "full"


def test_the_item_page_and_the_list_offer_a_lapsed_unit(app, db, demo):
    sale = new_sale(db)
    SaleStock(db, 86400).reserve(VENUE, sale.id, "anon-a", now_ms=int((time.time() - RESERVE_S - 60) * 1000))
    c = token(app, "anon-b")
    page = app.test_client().get(f"/v/{VENUE}/activities/{sale.id}?c={c}&lang=en").get_data(as_text=True)
    assert re.search(r'id="stock">1 of 1 left<', page) and 'id="join"' in page
    landing = app.test_client().get(f"/v/{VENUE}/zone/{ZONE}/activities?c={c}&lang=en").get_data(as_text=True)
    card = re.search(rf'id="activity-{sale.id}".*?</li>', landing, re.S).group(0)
    assert "1 left" in card and 'class="join"' in card


# ---- tapping again what the shopper already holds is free ------------------------------------------


@pytest.mark.parametrize("kind", ["sale", "group"])
def test_tapping_again_while_the_order_waits_spends_nothing(paid_app, db, kind):
    item = new_sale(db) if kind == "sale" else new_group(db)
    client, c = paid_app.test_client(), token(paid_app, "anon-retap")
    taps = DEFAULT_BUDGETS["activities.join.shopper"][0] + 2
    answers = [client.post(f"/v/{VENUE}/activities/{item.id}/join", data={"c": c}) for _ in range(taps)]
    assert [a.status_code for a in answers] == [303] * taps
    assert len({order_in(a.headers["Location"]) for a in answers}) == 1  # the same order each time
    # The first tap took the one spend: five more activities are still open to this shopper.
    others = [new_sale(db) for _ in range(DEFAULT_BUDGETS["activities.join.shopper"][0] - 1)]
    assert [client.post(f"/v/{VENUE}/activities/{o.id}/join", data={"c": c}).status_code for o in others] == \
        [303] * len(others)


# ---- taps at the same moment: one deposit order ------------------------------------------------------


def test_taps_at_once_open_one_deposit_order(paid_app, db, monkeypatch):
    group = new_group(db)
    made = PaymentService.create

    def slow_create(self, *args, **kwargs):  # each tap is still making its order when the others look
        time.sleep(0.2)
        return made(self, *args, **kwargs)

    monkeypatch.setattr(PaymentService, "create", slow_create)
    start, orders = threading.Barrier(6), []

    def tap() -> None:
        with paid_app.app_context():
            start.wait()
            orders.append(pay_deposit(VENUE, group, "anon-quick", 3000, "http://back.example/").id)

    threads = [threading.Thread(target=tap) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(orders) == 6 and len(set(orders)) == 1
    with paid_app.app_context():  # and later taps find it too
        assert pay_deposit(VENUE, group, "anon-quick", 3000, "http://back.example/").id == orders[0]


def test_a_new_deposit_order_once_the_last_one_closed(paid_app, db):
    group = new_group(db)
    pay = paid_app.extensions["mallportal"].payments
    with paid_app.app_context():
        first = pay_deposit(VENUE, group, "anon-slow", 3000, "http://back.example/")
        assert pay.store.close(VENUE, first.id, "test", force=True) == "closed"  # lapsed unpaid
        second = pay_deposit(VENUE, group, "anon-slow", 3000, "http://back.example/")
        assert second.id != first.id and second.status == "created"
        assert pay_deposit(VENUE, group, "anon-slow", 3000, "http://back.example/").id == second.id
