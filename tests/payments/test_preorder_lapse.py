"""A paid pre-order whose meal is never served goes back to the shopper: a number that lapses (left waiting or
called past its day and the carry-over) or a booking never marked is refunded by the payments sweep, a number
the restaurant marks missed at once; a seated party's pre-order and a booking's no-show are kept. One refund
per order, whatever runs twice, at once or after a store fault; an unpaid pre-order costs nothing. Real SDKs
against the sandbox (tests/payments/conftest.py); the sweep is run at a later "now", never waited for."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from lightapps.queue import payment
from lightapps.queue.store import CARRY_OVER_S, QueueKeys, QueueStore
from portal.apps.views import STORES
from tests.payments.test_preorder_payment import open_restaurant, order_of, preorder
from tests.payments.test_preorder_refund_shown import (
    BASE,
    CONSOLE,
    VENUE,
    ZONE,
    pay_for,
    preorder_line,
    restaurant_owner,
    yuan,
)

LATER = 86400 + CARRY_OVER_S + 60  # from now: past today's end and the carry-over of anything taken or called today


@pytest.fixture
def paid_number(pay_mall, pay, pay_portal, sandbox):
    """A shopper holding a number at Jade Tea House with its pre-order paid: (app, client, token, order id)."""
    app, client, token = open_restaurant(pay_mall)
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    return app, client, token, pay_for(client, token, "ticket", sandbox, pay_portal[1], pay)


def sweep(app, pay, at: float) -> int:
    """The queue's sweep duty as the payments cron runs it, at `at` (epoch s)."""
    with app.app_context():
        return payment.sweep_paid_preorders(VENUE, app.extensions[STORES]["queue"], pay, now=at)


def on_the_list(pay) -> list[str]:
    return [i.decode() for i in pay.store.db.zrange(QueueKeys(VENUE).paid_preorders(), 0, -1)]


def refunded_once(pay, order_id: str) -> None:
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert [r["no"] for r in pay.store.refunds_of(VENUE, order_id)] == [order_id + "C"]


def test_a_lapsed_number_is_refunded_once_and_the_order_page_shows_it(paid_number, pay):
    app, client, token, order_id = paid_number
    assert on_the_list(pay) == [order_id]
    pay.sweep(VENUE)  # the cron's run today: the number is still live, so it is only looked at again later
    assert pay.order(VENUE, order_id).refunded == 0 and on_the_list(pay) == [order_id]
    score = pay.store.db.zscore(QueueKeys(VENUE).paid_preorders(), order_id)
    assert score > time.time()  # not before the number can lapse: no sweep looks at it every minute meanwhile

    assert sweep(app, pay, time.time() + LATER) == 1
    refunded_once(pay, order_id)
    assert on_the_list(pay) == []
    assert sweep(app, pay, time.time() + LATER) == 0  # nothing left to do
    refunded_once(pay, order_id)

    for lang, word in (("en", "Refunded: "), ("zh", "已退款")):
        page = client.get(f"/v/{VENUE}/pay/{order_id}?c={token}&lang={lang}").get_data(as_text=True)
        assert 'id="refunded"' in page and word in page and yuan(pay.order(VENUE, order_id).amount) in page
        assert re.search(r'<ul id="refunds".*?data-state="done"', page, re.S)


def test_sweeps_at_once_or_again_refund_once(paid_number, pay):
    app, _client, _token, order_id = paid_number
    at = time.time() + LATER
    start, errors = threading.Barrier(3), []

    def run() -> None:
        start.wait()
        try:
            sweep(app, pay, at)
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    sweep(app, pay, at)
    refunded_once(pay, order_id)


def test_a_store_fault_in_the_middle_leaves_it_to_the_next_sweep(paid_number, pay, monkeypatch):
    app, _client, _token, order_id = paid_number
    at = time.time() + LATER
    real_refund, real_settled = pay.refund, QueueStore.settled

    def refund_down(*args, **kwargs):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(pay, "refund", refund_down)  # before the refund is begun
    with pytest.raises(redis.ConnectionError):
        sweep(app, pay, at)
    assert pay.order(VENUE, order_id).refunded == 0 and on_the_list(pay) == [order_id]

    def settled_down(self, venue, order):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(pay, "refund", real_refund)
    monkeypatch.setattr(QueueStore, "settled", settled_down)  # after the refund, before the list forgets it
    with pytest.raises(redis.ConnectionError):
        sweep(app, pay, at)
    refunded_once(pay, order_id)
    assert on_the_list(pay) == [order_id]

    monkeypatch.setattr(QueueStore, "settled", real_settled)
    assert sweep(app, pay, at) == 0
    refunded_once(pay, order_id)
    assert on_the_list(pay) == []


def test_an_unpaid_preorder_is_not_on_the_list_and_nothing_is_refunded(pay_mall, pay):
    app, client, token = open_restaurant(pay_mall)
    assert client.post(f"{BASE}/take", data={"party": "2", "c": token}).status_code == 303
    for lang, rule in (("en", "a booking you miss is not refunded"), ("zh", "错过的预订不予退款")):
        assert rule in client.get(f"{BASE}/preorder?for=ticket&c={token}&lang={lang}").get_data(as_text=True)
    order_id = order_of(preorder(client, token, qty_m1="2"))
    assert on_the_list(pay) == []
    assert sweep(app, pay, time.time() + LATER) == 0
    assert pay.order(VENUE, order_id).status == "created" and pay.store.refunds_of(VENUE, order_id) == []


def _console_csrf(owner) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', owner.get(f"{CONSOLE}/").get_data(as_text=True)).group(1)


def test_a_seated_partys_preorder_is_kept(paid_number, pay):
    app, _client, _token, order_id = paid_number
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    owner = restaurant_owner(app, pay, "jade-seats")
    seated = owner.post(f"{CONSOLE}/tickets/{ticket['id']}/seat", data={"csrf_token": _console_csrf(owner)})
    assert seated.status_code == 303
    assert sweep(app, pay, time.time() + LATER) == 0
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded, order.refund_pending) == ("paid", 0, 0)
    assert on_the_list(pay) == []


def test_a_number_marked_missed_is_refunded_at_once_and_the_shoppers_page_says_so(paid_number, pay):
    app, client, token, order_id = paid_number
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    owner = restaurant_owner(app, pay, "jade-misses")
    early = owner.post(f"{CONSOLE}/tickets/{ticket['id']}/no-show", data={"csrf_token": _console_csrf(owner)})
    # not called yet: no change, no refund (back to the line with a note since 2026-12-07, a 409 to a script)
    assert early.status_code == 303
    assert pay.order(VENUE, order_id).refunded == 0
    called = owner.post(f"{CONSOLE}/call-next", data={"cls": ticket["cls"], "csrf_token": _console_csrf(owner)})
    assert called.status_code == 303
    missed = owner.post(f"{CONSOLE}/tickets/{ticket['id']}/no-show", data={"csrf_token": _console_csrf(owner)})
    assert missed.status_code == 303
    refunded_once(pay, order_id)
    assert pay.store.refund_record(VENUE, order_id + "C")["reason"] == "queue number missed"

    page = client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
    assert 'id="missed"' in page
    amount = yuan(pay.order(VENUE, order_id).amount)
    assert f"refunded {amount}" in preorder_line(page)
    assert f"已退 {amount}" in preorder_line(client.get(f"{BASE}?c={token}&lang=zh").get_data(as_text=True))
    assert sweep(app, pay, time.time() + LATER) == 0  # the sweep finds it refunded: no second refund
    refunded_once(pay, order_id)


def test_no_one_but_the_restaurant_marks_a_number_missed(paid_number, pay):
    app, _client, _token, order_id = paid_number
    ticket = QueueStore(pay.store.db).my_ticket(VENUE, ZONE, pay.order(VENUE, order_id).shopper)
    QueueStore(pay.store.db).call_next(VENUE, ZONE, ticket["cls"])
    assert app.test_client().post(f"{CONSOLE}/tickets/{ticket['id']}/no-show").status_code == 400  # no CSRF token
    other = restaurant_owner(app, pay, "kopi-owner", zones=("kopi",))  # another restaurant's owner
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/console/login").get_data(as_text=True)).group(1)
    assert other.post(f"{CONSOLE}/tickets/{ticket['id']}/no-show", data={"csrf_token": csrf}).status_code == 403
    assert QueueStore(pay.store.db).ticket(VENUE, ZONE, ticket["id"])["state"] == "SERVICE_READY"
    assert pay.order(VENUE, order_id).refunded == 0


def _paid_booking(pay_mall, pay, pay_portal, sandbox):
    app, client, token = open_restaurant(pay_mall)
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
    booked = client.post(f"{BASE}/reserve", data={"party": "2", "date": tomorrow, "slot": "12:00", "c": token})
    assert booked.status_code == 303
    rid = re.search(r'id="reservation-([^"]+)"', client.get(f"{BASE}?c={token}&lang=en").get_data(as_text=True)
                    ).group(1)
    return app, rid, pay_for(client, token, rid, sandbox, pay_portal[1], pay)


def test_a_booking_never_marked_is_refunded_after_its_day(pay_mall, pay, pay_portal, sandbox):
    app, _rid, order_id = _paid_booking(pay_mall, pay, pay_portal, sandbox)
    assert sweep(app, pay, time.time() + LATER) == 0  # tomorrow's booking: its day has not ended yet
    assert pay.order(VENUE, order_id).refunded == 0 and on_the_list(pay) == [order_id]
    assert sweep(app, pay, time.time() + LATER + 86400) == 1
    refunded_once(pay, order_id)
    assert pay.store.refund_record(VENUE, order_id + "C")["reason"] == "booking never marked"


def test_a_bookings_no_show_keeps_the_payment(pay_mall, pay, pay_portal, sandbox):
    app, rid, order_id = _paid_booking(pay_mall, pay, pay_portal, sandbox)
    assert QueueStore(pay.store.db).end_reservation(VENUE, ZONE, rid, "NO_SHOW").ok
    assert sweep(app, pay, time.time() + LATER + 86400) == 0
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded, order.refund_pending) == ("paid", 0, 0)
    assert on_the_list(pay) == []


def test_a_pre_order_paid_before_the_sweeps_list_existed_is_put_on_it_once(paid_number, pay):
    """A release before the list: the payment did not put the pre-order on it. The first sweep after the upgrade
    finds it in the payments ledger, lists it and refunds its lapse; later sweeps do not read the ledger again."""
    app, _client, _token, order_id = paid_number
    db = pay.store.db
    db.zrem(QueueKeys(VENUE).paid_preorders(), order_id)  # as the release before left it
    db.delete(QueueKeys(VENUE).paid_preorders_backfilled())
    assert on_the_list(pay) == []
    assert sweep(app, pay, time.time() + LATER) == 1
    refunded_once(pay, order_id)
    assert on_the_list(pay) == [] and db.exists(QueueKeys(VENUE).paid_preorders_backfilled())

    db.zadd(QueueKeys(VENUE).paid_preorders(), {order_id: 0})  # a settled one looked at again: nothing twice
    assert sweep(app, pay, time.time() + LATER) == 0
    refunded_once(pay, order_id)
    assert on_the_list(pay) == []


def test_the_backfill_lists_only_paid_pre_orders_and_keeps_a_listed_ones_time(paid_number, pay):
    app, _client, _token, order_id = paid_number
    store = app.extensions[STORES]["queue"]
    keys = QueueKeys(VENUE)
    when = pay.store.db.zscore(keys.paid_preorders(), order_id)
    pay.store.db.delete(keys.paid_preorders_backfilled())
    with app.app_context():
        assert payment.enlist_paid_before_the_list(VENUE, store, pay, time.time()) == 0  # already on it: NX
    assert pay.store.db.zscore(keys.paid_preorders(), order_id) == when and store.backfilled(VENUE)
    pay.store.db.zrem(keys.paid_preorders(), order_id)
    with app.app_context():  # paid longer ago than a pre-order can still lapse: left alone
        assert payment.enlist_paid_before_the_list(
            VENUE, store, pay, time.time() + (payment.BACKFILL_DAYS + 1) * 86400) == 0
    assert on_the_list(pay) == []
    with app.app_context():
        assert payment.enlist_paid_before_the_list(VENUE, store, pay, time.time()) == 1
    assert on_the_list(pay) == [order_id]
