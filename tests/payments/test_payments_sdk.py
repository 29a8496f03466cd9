"""Orders paid, declined, timed out and refunded through the real SDKs (wechatpayv3, python-alipay-sdk)
against the payment sandbox, whose callbacks reach the portal over HTTP; callbacks replayed, forged and
for unknown orders; reconciliation of the providers' bills with the ledger."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
import requests

from portal.payments.reconcile import CHINA, reconcile
from portal.payments.store import PaymentKeys
from portal.paysandbox.app import Refund

VENUE = "demo"


def new_order(pay, amount=9000, purpose="test", merchant="kopi", ttl_s=600, shopper="anon-1"):
    return pay.create(VENUE, merchant=merchant, shopper=shopper, amount=amount, purpose=purpose,
                      ref="r" + str(time.time_ns()), description="Test order", idem="t:" + str(time.time_ns()),
                      ttl_s=ttl_s, items=[{"sku": "x", "qty": 1}])


def start(pay, portal_url, order, provider="wechat", method="h5"):
    return pay.start(VENUE, order.id, provider, method, "203.0.113.9", portal_url, "http://return.example/x")


def shopper(sandbox_url, provider, order_id, action="approve"):
    return requests.post(f"{sandbox_url}/sandbox/pay/{provider}/{order_id}/{action}", allow_redirects=False,
                         timeout=30)


def pay_without_callback(box, sandbox_url, provider, order_id):
    """The shopper pays, but the callback is held back (a late one; the test sends it when it likes)."""
    box.hold_notifications = True
    try:
        shopper(sandbox_url, provider, order_id)
    finally:
        box.hold_notifications = False


@pytest.fixture
def delivered(pay):
    """Orders the "test" purpose was told about: paid ones (fulfilled) and closed ones (released)."""
    seen = {"paid": [], "closed": []}
    pay.register("test", on_paid=lambda o: seen["paid"].append(o.id) or True,
                 on_closed=lambda o: seen["closed"].append(o.id))
    return seen


@pytest.mark.parametrize(("provider", "method"), [("wechat", "h5"), ("wechat", "native"), ("alipay", "wap"),
                                                  ("alipay", "qr")])
def test_pay_through_the_sdk_callback_books_once(pay, pay_portal, sandbox, delivered, provider, method):
    box, sandbox_url = sandbox
    order = new_order(pay)
    begun = start(pay, pay_portal[1], order, provider, method)
    assert begun.kind == ("redirect" if method in ("h5", "wap") else "qr")
    if method == "wap":  # the shopper's browser opens Alipay's signed page (the trade exists from then on)
        assert requests.get(begun.url, allow_redirects=False, timeout=30).status_code == 302
    answer = shopper(sandbox_url, provider, order.id)
    assert answer.status_code in (200, 303)
    trade = box.trade(provider, order.id)
    sent = trade.notifications[-1]
    assert sent["status"] == 200 and sent["answer"] == ("success" if provider == "alipay" else "")
    paid = pay.order(VENUE, order.id)
    assert paid.status == "paid" and paid.txn == trade.txn and delivered["paid"] == [order.id]
    ledger = pay.store.ledger(VENUE, "kopi")
    assert [(e.kind, e.order, e.amount, e.provider) for e in ledger] == [("paid", order.id, 9000, provider)]
    # The same callback replayed twice more: acknowledged, nothing booked again.
    for _ in range(2):
        assert box.notify(trade) == 200
    assert len(pay.store.ledger(VENUE)) == 1 and pay.order(VENUE, order.id).status == "paid"


def test_forged_callbacks_are_refused_and_change_nothing(pay, pay_portal, sandbox, delivered):
    box, sandbox_url = sandbox
    url = pay_portal[1]
    for provider in ("wechat", "alipay"):
        order = new_order(pay)
        start(pay, url, order, provider, "native" if provider == "wechat" else "qr")
        pay_without_callback(box, sandbox_url, provider, order.id)
        headers, body = box.notification(box.trade(provider, order.id))
        if provider == "wechat":
            forged = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')  # any byte changed
            answer = requests.post(f"{url}/pay/notify/wechat/{VENUE}", data=forged, headers=headers, timeout=30)
            assert answer.status_code == 500 and answer.json()["code"] == "FAIL"
        else:
            form = dict(parse_qsl(body.decode()))
            form["total_amount"] = "0.01"  # a cheaper order, same signature
            answer = requests.post(f"{url}/pay/notify/alipay/{VENUE}", data=form, timeout=30)
            assert answer.text != "success"
        assert pay.order(VENUE, order.id).status == "created"
    assert pay.store.ledger(VENUE) == [] and delivered["paid"] == []


def test_a_wechat_callback_in_another_currency_is_refused_like_another_amount(pay, pay_portal, sandbox, delivered):
    """Genuinely signed, the right number of cents, but HKD for an order in CNY: not booked, not acknowledged
    (WeChat Pay sends it again; the bill shows the trade for reconciliation); the CNY callback books it."""
    box, sandbox_url = sandbox
    order = new_order(pay)
    start(pay, pay_portal[1], order, "wechat", "native")
    pay_without_callback(box, sandbox_url, "wechat", order.id)
    trade = box.trade("wechat", order.id)
    resource = {"mchid": box.keys.wechat_mchid, "appid": box.keys.wechat_appid, "out_trade_no": order.id,
                "transaction_id": trade.txn, "trade_type": "NATIVE", "trade_state": "SUCCESS",
                "success_time": "2026-12-01T10:00:00+08:00", "payer": {"openid": "o1"},
                "amount": {"total": 9000, "payer_total": 9000, "currency": "HKD", "payer_currency": "HKD"}}
    headers, body = box.wechat_event("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
    answer = requests.post(f"{pay_portal[1]}/pay/notify/wechat/{VENUE}", data=body, headers=headers, timeout=30)
    assert answer.status_code == 500 and answer.json()["code"] == "FAIL"
    assert pay.order(VENUE, order.id).status == "created" and pay.store.ledger(VENUE) == []
    assert delivered["paid"] == []
    assert box.notify(trade) == 200  # the trade's own callback (CNY)
    assert pay.order(VENUE, order.id).status == "paid" and delivered["paid"] == [order.id]


def test_a_callback_for_an_unknown_order_is_not_acknowledged(pay, pay_portal, sandbox):
    box, sandbox_url = sandbox
    order = new_order(pay)
    start(pay, pay_portal[1], order, "alipay", "qr")
    pay_without_callback(box, sandbox_url, "alipay", order.id)
    pay.store.db.delete(PaymentKeys(VENUE).order(order.id))  # as if it were another portal's order
    assert box.notify(box.trade("alipay", order.id)) == 400
    assert pay.store.ledger(VENUE) == []
    # Genuine, but for a venue path that never made it: refused the same way.
    headers, body = box.notification(box.trade("alipay", order.id))
    answer = requests.post(f"{pay_portal[1]}/pay/notify/alipay/elsewhere", data=body, headers=headers, timeout=30)
    assert answer.text != "success"


def test_declined_payment_closes_the_order_and_releases(pay, pay_portal, sandbox, delivered):
    order = new_order(pay)
    start(pay, pay_portal[1], order, "wechat", "h5")
    shopper(sandbox[1], "wechat", order.id, "decline")
    closed = pay.refresh(VENUE, order.id)  # the shopper is back: the service asks WeChat Pay (PAYERROR)
    assert closed.status == "closed" and closed.close_reason == "declined"
    assert delivered["closed"] == [order.id] and sandbox[0].trade("wechat", order.id).status == "CLOSED"


def test_unpaid_orders_close_on_timeout_at_the_provider_too(pay, pay_portal, sandbox, delivered, monkeypatch):
    waiting = new_order(pay, ttl_s=60)
    never_started = new_order(pay, ttl_s=60)
    start(pay, pay_portal[1], waiting, "alipay", "qr")
    assert pay.sweep(VENUE) == 0  # nothing expired yet
    later = int(time.time() * 1000) + 120_000
    monkeypatch.setattr(pay, "clock", lambda: later)
    assert pay.sweep(VENUE) == 2
    assert pay.order(VENUE, waiting.id).status == "closed" and pay.order(VENUE, never_started.id).status == "closed"
    assert sandbox[0].trade("alipay", waiting.id).status == "CLOSED"  # can no longer be paid there
    assert sorted(delivered["closed"]) == sorted([waiting.id, never_started.id])
    with pytest.raises(Exception, match="state"):
        start(pay, pay_portal[1], waiting, "alipay", "qr")


def test_late_callback_is_found_by_the_active_query(pay, pay_portal, sandbox, delivered):
    box, sandbox_url = sandbox
    order = new_order(pay)
    start(pay, pay_portal[1], order, "wechat", "native")
    pay_without_callback(box, sandbox_url, "wechat", order.id)
    assert pay.order(VENUE, order.id).status == "created"  # no callback yet
    assert pay.refresh(VENUE, order.id).status == "paid"
    assert delivered["paid"] == [order.id]
    assert box.notify(box.trade("wechat", order.id)) == 200  # the callback, when it comes, changes nothing
    assert len(pay.store.ledger(VENUE)) == 1


def test_money_after_expiry_is_refunded_automatically(pay, pay_portal, sandbox, delivered, monkeypatch):
    box, sandbox_url = sandbox
    order = new_order(pay, ttl_s=60)
    start(pay, pay_portal[1], order, "alipay", "wap")
    requests.get(start(pay, pay_portal[1], order, "alipay", "wap").url, timeout=30)
    pay_without_callback(box, sandbox_url, "alipay", order.id)
    trade = box.trade("alipay", order.id)
    with box.lock:  # Alipay's own time says it was paid after the order's expiry...
        trade.paid_ms = pay.order(VENUE, order.id).expires_ms + 30_000
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 120_000)
    assert box.notify(trade) == 200  # ...and the callback came after that
    refunded = pay.order(VENUE, order.id)
    assert refunded.status == "refunded" and refunded.late and delivered["paid"] == []
    assert box.trade("alipay", order.id).refunded == 9000
    kinds = [(e.kind, e.amount) for e in pay.store.ledger(VENUE)]
    assert kinds == [("paid", 9000), ("refund", 9000)]


def test_refunds_partial_full_and_idempotent(pay, pay_portal, sandbox, delivered):
    order = new_order(pay, amount=10000)
    start(pay, pay_portal[1], order, "wechat", "h5")
    shopper(sandbox[1], "wechat", order.id)
    assert pay.refund(VENUE, order.id, 2500, "one item back", refund_no=order.id + "A") == "done"
    assert pay.refund(VENUE, order.id, 2500, "one item back", refund_no=order.id + "A") == "dup"
    assert pay.order(VENUE, order.id).status == "partially_refunded"
    assert pay.refund(VENUE, order.id, 9000, "too much") == "exceeds"
    assert pay.refund(VENUE, order.id, 7500, "the rest") == "done"
    done = pay.order(VENUE, order.id)
    assert done.status == "refunded" and done.refunded == 10000 and done.refundable == 0
    assert sandbox[0].trade("wechat", order.id).refunded == 10000
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE, "kopi")] == [("paid", 10000), ("refund", 2500),
                                                                            ("refund", 7500)]
    unpaid = new_order(pay)
    assert pay.refund(VENUE, unpaid.id, 100, "nothing paid") == "state"


def test_one_provider_per_order(pay, pay_portal):
    order = new_order(pay)
    start(pay, pay_portal[1], order, "wechat", "native")
    with pytest.raises(Exception, match="other"):
        start(pay, pay_portal[1], order, "alipay", "qr")
    start(pay, pay_portal[1], order, "wechat", "h5")  # another method of the same provider is fine


def test_reconciliation_balances_to_the_fen_with_both_bills(pay, pay_portal, sandbox, delivered):
    box, sandbox_url = sandbox
    amounts = {"wechat": [1234, 9000, 1], "alipay": [4321, 7777]}
    orders = []
    for provider, values in amounts.items():
        for amount in values:
            order = new_order(pay, amount=amount, merchant="kopi")
            start(pay, pay_portal[1], order, provider, "native" if provider == "wechat" else "qr")
            shopper(sandbox_url, provider, order.id)
            orders.append(order)
    other = new_order(pay, amount=5000, merchant="cinema")  # another merchant: not in kopi's report
    start(pay, pay_portal[1], other, "wechat", "native")
    shopper(sandbox_url, "wechat", other.id)
    assert pay.refund(VENUE, orders[1].id, 3000, "part") == "done"
    assert pay.refund(VENUE, orders[3].id, 4321, "all") == "done"
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    if day != time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 60)):
        pytest.skip("too close to midnight in China for a one-day bill")
    bill = pay.provider("wechat").bill(day) + pay.provider("alipay").bill(day)
    report = reconcile(pay.store, VENUE, "kopi", day, bill)
    assert report.balanced, report.to_csv()
    assert report.total("ledger", "paid") == 1234 + 9000 + 1 + 4321 + 7777
    assert report.net("bill") == 1234 + 9000 + 1 + 4321 + 7777 - 3000 - 4321
    assert len(report.lines) == 7 and all(line.status == "matched" for line in report.lines)
    csv_text = report.to_csv()
    assert "balanced" in csv_text.splitlines()[-1] and "223.33" in csv_text  # 1234+9000+1+4321+7777 fen
    # Money the provider moved that we never booked: the report says so and does not balance.
    box.trade("wechat", orders[0].id).refunds.append(Refund("STRAY1", 34, time.time() * 1000, "50x"))
    report = reconcile(pay.store, VENUE, "kopi", day, pay.provider("wechat").bill(day))
    assert not report.balanced
    assert [line.status for line in report.lines if line.refund_no == "STRAY1"] == ["missing_in_ledger"]
    assert CHINA.utcoffset(None).total_seconds() == 8 * 3600


def test_cli_reconcile_writes_one_csv_per_merchant(pay_portal, pay, sandbox, tmp_path):
    app, _url = pay_portal
    order = new_order(pay, amount=4200, merchant="books")
    start(pay, pay_portal[1], order, "alipay", "qr")
    shopper(sandbox[1], "alipay", order.id)
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", VENUE, day, "books", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / f"{VENUE}-books-{day}.csv").read_text()
    assert order.id in text and text.splitlines()[-1].endswith("balanced")
    assert "0 expired orders" in app.test_cli_runner().invoke(args=["payments", "sweep", VENUE]).output


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_a_payment_made_in_time_whose_callback_comes_after_the_expiry_is_delivered(pay, pay_portal, sandbox,
                                                                                   delivered, provider, monkeypatch):
    """The shopper paid before the order's expiry; the callback came after it (WeChat Pay and Alipay retry for
    hours). Lateness is the provider's payment time's (success_time, gmt_payment), not the booking's: delivered, not
    refunded (one paid after the expiry stays late: test_flash_sale.py, test_order_retention.py)."""
    box, sandbox_url = sandbox
    order = new_order(pay)
    start(pay, pay_portal[1], order, provider, "native" if provider == "wechat" else "qr")
    pay_without_callback(box, sandbox_url, provider, order.id)
    expired = pay.order(VENUE, order.id).expires_ms + 5_000
    monkeypatch.setattr(pay, "clock", lambda: expired)  # the callback arrives 5 s after the expiry
    assert box.notify(box.trade(provider, order.id)) == 200
    booked = pay.order(VENUE, order.id)
    assert (booked.status, booked.late, booked.refund_pending) == ("paid", False, 0)
    assert delivered["paid"] == [order.id] and delivered["closed"] == []
