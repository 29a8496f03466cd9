"""A replayed payment callback never undoes a delivery: once what an order pays for was delivered (or found
undeliverable and refunded), the providers' resends of the same signed callback (up to 24 h, whenever an
acknowledgement got lost) book nothing and ask the purpose nothing, even when delivering again has become
impossible; a delivery cut short by a store error is still finished by the replay. Through the real SDKs
against the payment sandbox, whose callbacks come over HTTP (tests/payments/conftest.py)."""

from __future__ import annotations

import pytest
import redis

from tests.payments.test_payments_sdk import VENUE, new_order, shopper, start

PURPOSE = "replay-test"


@pytest.fixture
def purpose(pay):
    """A purpose that delivers while `deliverable` (a hold still there), fails with a store error while
    `store_down`, and counts what it was asked: on_paid and on_closed calls."""
    seen = {"deliverable": True, "store_down": False, "on_paid": 0, "on_closed": 0}

    def on_paid(order) -> bool:
        seen["on_paid"] += 1
        if seen["store_down"]:
            raise redis.ConnectionError("store down")
        return seen["deliverable"]

    def on_closed(order) -> None:
        seen["on_closed"] += 1

    pay.register(PURPOSE, on_paid, on_closed)
    return seen


def paid(pay, pay_portal, sandbox, provider: str):
    order = new_order(pay, purpose=PURPOSE)
    start(pay, pay_portal[1], order, provider, "native" if provider == "wechat" else "qr")
    assert shopper(sandbox[1], provider, order.id).status_code in (200, 303)
    return order


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_a_replayed_callback_never_undoes_a_delivery(pay, pay_portal, sandbox, purpose, provider):
    box = sandbox[0]
    order = paid(pay, pay_portal, sandbox, provider)
    assert purpose["on_paid"] == 1
    purpose["deliverable"] = False  # the hold was used up, the car left and came back...
    for _ in range(2):  # ...and the provider resends the callback whose acknowledgement it missed
        assert box.notify(box.trade(provider, order.id)) == 200
    after = pay.order(VENUE, order.id)
    assert (after.status, after.refunded, after.refund_pending) == ("paid", 0, 0)
    assert pay.store.refunds_of(VENUE, order.id) == [] and box.trade(provider, order.id).refunds == []
    assert purpose["on_paid"] == 1 and purpose["on_closed"] == 0
    assert [e.kind for e in pay.store.ledger(VENUE)] == ["paid"] and after.delivery == "done"


def test_a_delivery_cut_short_is_finished_by_the_replay_once(pay, pay_portal, sandbox, purpose):
    box = sandbox[0]
    purpose["store_down"] = True
    order = paid(pay, pay_portal, sandbox, "wechat")
    trade = box.trade("wechat", order.id)
    assert trade.notifications[-1]["status"] != 200  # not acknowledged: WeChat Pay sends it again
    assert pay.order(VENUE, order.id).status == "paid" and pay.order(VENUE, order.id).delivery == ""
    purpose["store_down"] = False
    assert box.notify(trade) == 200  # the resend delivers
    assert pay.order(VENUE, order.id).delivery == "done" and purpose["on_paid"] == 2
    purpose["deliverable"] = False
    assert box.notify(trade) == 200  # and a later one asks nothing more
    assert purpose["on_paid"] == 2 and pay.order(VENUE, order.id).refunded == 0


def test_an_undeliverable_order_is_refunded_once_and_never_delivered_by_a_replay(pay, pay_portal, sandbox, purpose,
                                                                                 refunds_answer):
    """Paid for a hold that expired meanwhile: refunded in full; while WeChat Pay still processes that refund
    (the order stays paid), a replayed callback neither asks the purpose again nor refunds twice."""
    box = sandbox[0]
    purpose["deliverable"] = False
    refunds_answer("processing")
    order = paid(pay, pay_portal, sandbox, "wechat")
    waiting = pay.order(VENUE, order.id)
    assert (waiting.status, waiting.refund_pending) == ("paid", order.amount)
    purpose["deliverable"] = True  # a hold the shopper made again: a replay must not hand it over for free
    assert box.notify(box.trade("wechat", order.id)) == 200
    assert purpose["on_paid"] == 1 and len(box.trade("wechat", order.id).refunds) == 1
    assert [r["no"] for r in pay.store.refunds_of(VENUE, order.id)] == [order.id + "X"]
    assert pay.order(VENUE, order.id).delivery == "refunded"
