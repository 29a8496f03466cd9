"""A paid purchase's transaction in the event log, through the real payment paths (the real SDKs against the payment
sandbox): a cinema ticket paid for writes its `ticket` when paid (its hold wrote a `seat_hold`, no transaction) and a
paid flash-sale unit or group-buy deposit its `activity_join` (they went to the payment page before the join form
recorded anything); each once, however often the payment service tells the app again (a delivery cut short, then
the provider's notice delivered again). The money event beside it names the order's zone, and the funnel counts the
paying shopper once, the one who held seats and walked away not at all."""

from __future__ import annotations

import requests

from lightapps.activities.payment import buy
from lightapps.cinema.tests.test_cinema_cancel_paid import BASE, VENUE, cinema, new_show, order_for  # noqa: F401
from portal.events.insights import Funnel, compute
from portal.payments.store import PaymentKeys
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox
from tests.payments.test_flash_sale import pay_order, sale_on_portal
from tests.payments.test_group_deposit import join_and_pay, new_group


def txns(svc, action: str | None = None) -> list:
    return [e for e in svc.events.read(VENUE) if e.kind == "txn" and action in (None, e.data["action"])]


def told_again(payments, db, provider: str, order_id: str, box) -> None:
    """The delivery was cut short (its outcome not recorded) and the provider sends its notice again."""
    db.hdel(PaymentKeys(VENUE).order(order_id), "delivery")
    assert box.notify(box.trade(provider, order_id)) == 200
    assert payments.order(VENUE, order_id).delivery == "done"


def test_a_paid_ticket_is_one_transaction_in_the_cinema_and_a_hold_none(cinema, sandbox, pay, token_for, db):  # noqa: F811
    client, c, store, _push = cinema
    svc = client.application.extensions["mallportal"]
    show = new_show(cinema)
    token, order_id = order_for(client, c, show.id, ["C4", "C5"])
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    assert store.get_hold(VENUE, token).code
    walked_away = token_for(client.application, VENUE, "anon-paid-2")
    assert client.post(f"{BASE}/show/{show.id}/hold", data={"seat": ["D4"], "c": walked_away}).status_code == 303
    told_again(pay, db, "alipay", order_id, sandbox[0])

    [ticket] = txns(svc, "ticket")
    assert (ticket.shopper, ticket.zone, ticket.data) == (
        "anon-paid-1", "cinema", {"app": "cinema", "action": "ticket", "paid": "1", "show": show.id, "seats": 2})
    [payment] = txns(svc, "payment")
    assert (payment.shopper, payment.zone, payment.data["amount_fen"]) == ("anon-paid-1", "cinema", 9000)
    assert {e.shopper for e in txns(svc, "seat_hold")} == {"anon-paid-1", "anon-paid-2"}

    # Both were in the cinema and landed on its page (the landing names the phone beside the shopper id).
    for phone, shopper in (("d1", "anon-paid-1"), ("d2", "anon-paid-2")):
        svc.events.emit(VENUE, "zone_enter", at=ticket.at - 600, device=phone, zone="cinema")
        svc.events.emit(VENUE, "landing", at=ticket.at - 590, device=phone, shopper=shopper, zone="cinema")
    got = compute(svc.events.read(VENUE), VENUE, ticket.at - 3600, ticket.at + 3600, zones=["cinema"])
    assert got.funnels == [Funnel("cinema", 2, 2, 1, 0)] and (got.new, got.repeat) == (1, 0)


def test_a_paid_flash_sale_unit_is_a_sign_up_once(pay_portal, pay, sandbox, db):  # noqa: F811
    app, portal_url, _db, item, stock = sale_on_portal(pay_portal, 5)
    svc = app.extensions["mallportal"]
    with app.app_context():
        order = buy(VENUE, item, "anon-buyer-1", "http://back.example/", stock)
    assert txns(svc) == []  # reserved, not paid: nothing yet
    assert pay_order(pay, portal_url, sandbox[1], order) == 200
    told_again(pay, db, "wechat", order.id, sandbox[0])
    [joined] = txns(svc, "activity_join")
    assert (joined.shopper, joined.zone, joined.data) == (
        "anon-buyer-1", item.zone, {"app": "activities", "action": "activity_join", "paid": "1", "item": item.id})


def test_a_paid_group_deposit_is_a_sign_up_once(pay_portal, pay, sandbox, db):  # noqa: F811
    app, portal_url = pay_portal
    svc = app.extensions["mallportal"]
    item = new_group(db, needed=3)
    order = join_and_pay(app, pay, portal_url, sandbox[1], item, "anon-g1")
    told_again(pay, db, "wechat", order.id, sandbox[0])
    [joined] = txns(svc, "activity_join")
    assert (joined.shopper, joined.zone, joined.data["item"]) == ("anon-g1", item.zone, item.id)
