"""What the store books, the world hears even when the store stalls in between (CLIENT PAUSE WRITE longer than
the store timeout: a real stall of the real store). A payment after its order expired is refunded however the
booking was cut short; a member's points are earned, and clawed back, once, in order, whether the listeners
are told by the provider's resend (the callback is not acknowledged while they were not), by a later refund
or by the sweep; a closed order's purpose is told (parking points and coupon given back) by a second cancel
or the sweep. Through the real SDKs against the payment sandbox (tests/payments/conftest.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import pytest
import redis
import requests

from portal.apps.registry import get as get_app
from portal.apps.views import STORES
from portal.payments.store import PaymentKeys, late_refund_no
from tests.payments.test_parking_fee import VENUE, alipay_order, fee_session, open_garage, shopper

PLATE = "粤B 34567"
P = ParamSpec("P")
T = TypeVar("T")
STALL_MS = 30_000  # a cap only: every stall is ended when its call returns (`Stall.during`) or its block ends


class Stall:
    """A real stall of the real store: CLIENT PAUSE WRITE from a connection of its own. `start` pauses writes (for
    STALL_MS at most: far longer than the store timeout, STORE_TIMEOUT_S, 2 s, so a stalled write always times out);
    `end` lets them flow again at once."""

    def __init__(self, admin: redis.Redis) -> None:
        self.admin = admin

    def start(self) -> None:
        self.admin.execute_command("CLIENT", "PAUSE", STALL_MS, "WRITE")

    def end(self) -> None:
        self.admin.execute_command("CLIENT", "UNPAUSE")

    def during(self, call: Callable[P, T]) -> Callable[P, T]:
        """`call`, with the store stalled for its length: its writes time out, and the caller's writes after it
        (the progress it records, its mark cleared) go through however long the call took on a busy machine (a
        stall of fixed length ended sometimes before, sometimes after those)."""
        def stalled(*args: P.args, **kwargs: P.kwargs) -> T:
            self.start()
            try:
                return call(*args, **kwargs)
            finally:
                self.end()
        return stalled


@contextlib.contextmanager
def writes_stalled(db: redis.Redis) -> Iterator[Stall]:
    """Within the block the store takes no writes while a `Stall` is started; they flow again when the block
    ends."""
    admin = redis.Redis(connection_pool=redis.ConnectionPool(**db.connection_pool.connection_kwargs))
    try:
        yield Stall(admin)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()


def new_order(pay, pay_portal, provider: str, shopper_id: str, amount: int, purpose: str = "stall-test"):
    order = pay.create(VENUE, merchant="kopi", shopper=shopper_id, amount=amount, purpose=purpose, ref="x",
                       description="Coffee", idem=f"stall:{time.time_ns()}")
    pay.start(VENUE, order.id, provider, "native" if provider == "wechat" else "qr", "203.0.113.7", pay_portal[1],
              "http://back.example/")
    return order


def approve(sandbox, provider: str, order_id: str) -> None:
    requests.post(f"{sandbox[1]}/sandbox/pay/{provider}/{order_id}/approve", timeout=60)


@pytest.fixture
def member(pay_portal):
    """(membership store, the member anon-stall is)."""
    members = pay_portal[0].extensions[STORES]["membership"]
    found, _new = members.bind(VENUE, "+8613800138002", "anon-stall")
    return members, found


def stall_in(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, stall: Stall) -> None:
    """The store stalls for the length of `owner.name`'s call: its writes time out, the caller's after it do not."""
    monkeypatch.setattr(owner, name, stall.during(getattr(owner, name)))


@pytest.mark.single_node
def test_a_late_payment_is_refunded_even_if_the_store_stalls_as_its_refund_is_recorded(pay, pay_portal, sandbox, db,
                                                                                    monkeypatch):
    box = sandbox[0]
    order = new_order(pay, pay_portal, "alipay", "anon-late", 2500)
    db.hset(PaymentKeys(VENUE).order(order.id), "expires_ms", int(time.time() * 1000) - 1000)  # expired
    with writes_stalled(db) as stall:
        # booked (its refund reserved), the refund asked at Alipay, then the store stalls as the outcome is recorded
        stall_in(monkeypatch, pay.store, "end_refund", stall)
        approve(sandbox, "alipay", order.id)
        monkeypatch.undo()
    trade = box.trade("alipay", order.id)
    assert trade.notifications[0]["status"] == 503  # not acknowledged: Alipay sends it again
    booked = pay.order(VENUE, order.id)
    assert (booked.status, booked.late, booked.refund_pending) == ("paid", True, 2500)  # reserved with the booking
    assert box.notify(trade) == 200  # the resend is acknowledged
    # The sweep sends the reserved refund again under its number. Alipay had moved the money on the stalled call, so
    # it answers fund_change "N": not booked yet, the refund's query (the next due sweep) says it is done
    assert pay.retry_refunds(VENUE, min_age_ms=0) == 0
    assert pay.store.refund_record(VENUE, order.id + "L")["status"] == "processing"
    assert pay.retry_refunds(VENUE, now_ms=int(time.time() * 1000) + 3600_000, min_age_ms=0) == 1
    refunded = pay.order(VENUE, order.id)
    assert (refunded.status, refunded.refunded, refunded.refund_pending) == ("refunded", 2500, 0)
    assert [r.amount for r in trade.refunds] == [2500]  # the same refund number: refunded once at Alipay
    assert [e.kind for e in pay.store.ledger(VENUE)] == ["paid", "refund"]


def test_a_late_payment_booked_without_its_refund_is_refunded_when_replayed(pay, pay_portal, sandbox, db):
    """A late payment booked by an older release whose refund was never reserved: its resend reserves it."""
    box = sandbox[0]
    order = new_order(pay, pay_portal, "alipay", "anon-late", 2500)
    approve(sandbox, "alipay", order.id)
    db.hset(PaymentKeys(VENUE).order(order.id), "late", "1")  # as the older release left it: late, no refund
    assert box.notify(box.trade("alipay", order.id)) == 200
    assert box.notify(box.trade("alipay", order.id)) == 200  # once: the refund number is reserved once
    refunded = pay.order(VENUE, order.id)
    assert (refunded.status, refunded.refunded) == ("refunded", 2500)
    assert [r["no"] for r in pay.store.refunds_of(VENUE, order.id)] == [late_refund_no(order.id)]


@pytest.mark.single_node
def test_a_paid_order_earns_its_points_once_even_if_the_store_stalls_as_they_are_posted(pay, pay_portal, sandbox,
                                                                                         db, member, monkeypatch):
    members, card = member
    box = sandbox[0]
    order = new_order(pay, pay_portal, "alipay", "anon-stall", 12_345)  # ¥123.45: 123 points
    with writes_stalled(db) as stall:
        stall_in(monkeypatch, members, "post_purchase", stall)  # booked, the event logged, then the stall
        approve(sandbox, "alipay", order.id)
        monkeypatch.undo()
    trade = box.trade("alipay", order.id)
    assert trade.notifications[0]["status"] == 503  # not acknowledged while the points were not posted
    assert members.get(VENUE, card.id).points == 0
    assert box.notify(trade) == 200  # the resend tells what was left
    assert box.notify(trade) == 200  # and a later one nothing more
    assert members.get(VENUE, card.id).points == 123
    svc = pay_portal[0].extensions["mallportal"]
    logged = [e for e in svc.events.read(VENUE) if e.kind == "txn" and e.data.get("order") == order.id]
    assert len(logged) == 1  # the listener that had heard it is not told twice


@pytest.mark.single_node
def test_refunds_claw_points_back_in_order_even_if_the_store_stalls_as_one_is_told(pay, pay_portal, sandbox, db,
                                                                                   member, monkeypatch):
    members, card = member
    order = new_order(pay, pay_portal, "alipay", "anon-stall", 12_345)
    approve(sandbox, "alipay", order.id)
    assert members.get(VENUE, card.id).points == 123
    with writes_stalled(db) as stall:
        stall_in(monkeypatch, members, "refund_paid", stall)
        assert pay.refund(VENUE, order.id, 2_345, "one item") == "done"  # the money is back: never undone
        monkeypatch.undo()
    assert members.get(VENUE, card.id).points == 123  # not clawed back yet...
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 120_000)
    pay.sweep(VENUE)  # ...until the sweep, two minutes later: ¥100.00 remain paid
    monkeypatch.undo()
    assert members.get(VENUE, card.id).points == 100
    with writes_stalled(db) as stall:
        stall_in(monkeypatch, members, "refund_paid", stall)
        assert pay.refund(VENUE, order.id, 6_000, "another") == "done"
        monkeypatch.undo()
    assert pay.refund(VENUE, order.id, 4_000, "the rest") == "done"  # tells both, the older one first
    assert members.get(VENUE, card.id).points == 0
    kinds = [entry["type"] for entry in members.ledger(VENUE, card.id)]
    assert kinds.count("earn") == 1 and kinds.count("reverse") == 3  # each refund comes off the one receipt


@pytest.mark.single_node
def test_a_refund_callback_is_not_acknowledged_until_its_points_are_clawed_back(pay, pay_portal, sandbox, db,
                                                                                member, refunds_answer, monkeypatch):
    members, card = member
    order = new_order(pay, pay_portal, "wechat", "anon-stall", 12_345)
    approve(sandbox, "wechat", order.id)
    refunds_answer("processing")
    assert pay.refund(VENUE, order.id, 12_345, "all", refund_no=order.id + "P") == "processing"
    url = f"{sandbox[1]}/sandbox/refund/wechat/{order.id}/{order.id}P/notify"
    with writes_stalled(db) as stall:
        stall_in(monkeypatch, members, "refund_paid", stall)  # the refund is booked, then the stall
        assert requests.post(url, timeout=60).json()["status"] == 503  # WeChat Pay sends it again
        monkeypatch.undo()
    assert pay.order(VENUE, order.id).status == "refunded" and members.get(VENUE, card.id).points == 123
    assert requests.post(url, timeout=60).json()["status"] == 200
    assert members.get(VENUE, card.id).points == 0


@pytest.fixture
def spent_points(pay_mall, pay):
    """The demo garage (default tariff; 100 points = ¥1), a car in for 2 h 30 min, and a member who spent 100
    of their 150 points on its fee: (app, client, member store, card, c, order id)."""
    app, venue_map = pay_mall
    config = {**get_app("parking").default_config(), "points_per_yuan": 100}
    client, _token, _store, entered = open_garage(app, venue_map, config, 2.5, PLATE, "parking-stalls")
    members = app.extensions[STORES]["membership"]
    card, _new = members.bind(VENUE, "+8613800138003", "anon-member-p")
    members.grant_points(VENUE, "anon-member-p", 150, "seed", "seed")
    c = shopper(app, "anon-member-p")
    order_id = alipay_order(client, fee_session(app, client, c, entered, PLATE), c, points="100")
    assert members.get(VENUE, card.id).points == 50
    return app, client, members, card, c, order_id


def stall_on_closed(monkeypatch, pay, purpose: str, stall: Stall) -> None:
    """The store stalls while the order's purpose is told it closed."""
    told = pay.purposes[purpose]
    stalled = dataclasses.replace(told, on_closed=stall.during(told.on_closed))
    monkeypatch.setitem(pay.purposes, purpose, stalled)


@pytest.mark.single_node
def test_parking_points_come_back_by_a_second_cancel_when_the_store_stalls_as_the_order_closes(spent_points, pay,
                                                                                              db, monkeypatch):
    _app, client, members, card, c, order_id = spent_points
    with writes_stalled(db) as stall:
        stall_on_closed(monkeypatch, pay, "parking", stall)
        assert client.post(f"/v/{VENUE}/pay/{order_id}/cancel", data={"c": c}).status_code == 503
        monkeypatch.undo()
    assert pay.order(VENUE, order_id).status == "closed" and members.get(VENUE, card.id).points == 50
    assert client.post(f"/v/{VENUE}/pay/{order_id}/cancel", data={"c": c}).status_code == 303  # tried again
    assert members.get(VENUE, card.id).points == 150
    assert client.post(f"/v/{VENUE}/pay/{order_id}/cancel", data={"c": c}).status_code == 303
    assert members.get(VENUE, card.id).points == 150  # given back once


@pytest.mark.single_node
def test_parking_points_come_back_by_the_sweep_when_the_store_stalls_as_it_closes_the_order(spent_points, pay, db,
                                                                                           monkeypatch):
    _app, client, members, card, c, order_id = spent_points
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})
    now_ms = int(time.time() * 1000)
    with writes_stalled(db) as stall:
        stall_on_closed(monkeypatch, pay, "parking", stall)
        monkeypatch.setattr(pay, "clock", lambda: now_ms + 3600_000)  # an hour later: the order timed out
        with pytest.raises(redis.TimeoutError):
            pay.sweep(VENUE)
        monkeypatch.undo()
    assert pay.order(VENUE, order_id).status == "closed" and members.get(VENUE, card.id).points == 50
    monkeypatch.setattr(pay, "clock", lambda: now_ms + 3600_000 + 30_000)
    pay.sweep(VENUE)  # too soon: the close may still be under way
    assert members.get(VENUE, card.id).points == 50
    monkeypatch.setattr(pay, "clock", lambda: now_ms + 3600_000 + 120_000)
    pay.sweep(VENUE)
    pay.sweep(VENUE)
    assert members.get(VENUE, card.id).points == 150
    assert pay.store.closing(VENUE, now_ms + 7200_000) == []


def test_a_callback_and_a_query_booking_the_same_payment_at_once_tell_the_listeners_once(pay, pay_portal, sandbox,
                                                                                      monkeypatch):
    """'paid' and 'dup' at the same moment: both would tell the money listeners; one teller at a time (the other
    leaves it to that one), so the event log has one `txn` for the payment."""
    svc = pay_portal[0].extensions["mallportal"]
    order = new_order(pay, pay_portal, "alipay", "anon-race", 900)
    real = pay.store.start_telling
    both_there = threading.Barrier(2, timeout=10)

    def start_telling(*args):  # both bookings reach the telling at the same moment
        both_there.wait()
        return real(*args)

    monkeypatch.setattr(pay.store, "start_telling", start_telling)
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda: outcomes.append(pay.book(VENUE, order.id, 900, "TXN-RACE-1", "alipay")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["dup", "paid"]
    logged = [e for e in svc.events.read(VENUE) if e.kind == "txn" and e.data.get("order") == order.id]
    assert len(logged) == 1
    assert not pay.store.untold(VENUE, int(time.time() * 1000) + 10**9)  # and nothing is left for the sweep


def test_the_sweep_leaves_an_order_another_caller_is_telling_on_the_untold_set(pay, pay_portal, db):
    """While a callback or a query holds an order's telling mark, the sweep finds nothing it may tell: the order
    stays on the untold set, so if that teller fails, the next sweep still tells what it left."""
    order = new_order(pay, pay_portal, "alipay", "anon-busy", 700)
    db.zadd(PaymentKeys(VENUE).untold(), {order.id: 1})
    assert pay.store.start_telling(VENUE, order.id, "another-teller")
    pay._finish_telling(VENUE, order.id)
    assert order.id in pay.store.untold(VENUE, int(time.time() * 1000))
    pay.store.end_telling(VENUE, order.id, "another-teller")
    pay._finish_telling(VENUE, order.id)  # nothing booked, nothing to tell: off the set
    assert order.id not in pay.store.untold(VENUE, int(time.time() * 1000))
