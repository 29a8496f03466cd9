"""Points that earn themselves: a member's paid order credits points once (however often the callback is
replayed), refunds claw them back (partly, then fully); a non-member's payment earns nothing."""

from __future__ import annotations

import time

import requests

from portal.apps.views import STORES

VENUE = "demo"


def paid_order(pay, pay_portal, sandbox, shopper, amount):
    order = pay.create(VENUE, merchant="kopi", shopper=shopper, amount=amount, purpose="points-test",
                       ref="x", description="Coffee", idem=f"points:{time.time_ns()}")
    pay.start(VENUE, order.id, "alipay", "qr", "203.0.113.5", pay_portal[1], "http://back.example/")
    requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order.id}/approve", timeout=30)
    return order


def test_paid_orders_earn_points_once_and_refunds_claw_them_back(pay_portal, pay, sandbox):
    app, _url = pay_portal
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138000", "anon-member")
    order = paid_order(pay, pay_portal, sandbox, "anon-member", 12_345)  # ¥123.45: 123 points
    assert members.get(VENUE, member.id).points == 123
    box = sandbox[0]
    assert box.notify(box.trade("alipay", order.id)) == 200  # replayed: counted once
    assert members.get(VENUE, member.id).points == 123
    assert pay.refund(VENUE, order.id, 2_345, "one item") == "done"  # ¥100.00 remain paid
    assert members.get(VENUE, member.id).points == 100
    assert pay.refund(VENUE, order.id, 10_000, "the rest") == "done"
    assert members.get(VENUE, member.id).points == 0
    kinds = [entry["type"] for entry in members.ledger(VENUE, member.id)]
    assert kinds == ["reverse", "reverse", "earn", "join"]  # each refund comes off the one receipt

    stranger = paid_order(pay, pay_portal, sandbox, "anon-stranger", 5_000)
    assert pay.order(VENUE, stranger.id).status == "paid"
    assert members.get(VENUE, member.id).points == 0
