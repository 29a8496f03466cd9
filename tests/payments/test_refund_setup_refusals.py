"""A refund the provider refuses for the portal's own set-up (a request signature gone wrong: a clock adrift, a
replaced merchant key; a permission not granted) is not the shopper's refusal: it stays open under its number,
listed for operators, and the sweep sends it again (later each time) until it goes through. Only a business
refusal (the trade closed, the amount more than is left...) is final."""

from __future__ import annotations

import time

import pytest

from tests.payments.test_refund_results import paid_order

VENUE = "demo"


def test_a_wechat_refund_refused_for_a_bad_request_signature_is_sent_again_once_fixed(pay, pay_portal, sandbox,
                                                                                     monkeypatch):
    """The sandbox checks the request's signature like WeChat Pay: a merchant key serial it does not know (the key
    was replaced) is 401 SIGN_ERROR."""
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox)
    core = pay.providers()["wechat"]._pay._core
    monkeypatch.setattr(core, "_cert_serial_no", "0123456789ABCDEF")
    t0 = int(time.time() * 1000)
    assert pay.refund(VENUE, order.id, 6000, "ticket cancelled", refund_no=order.id + "S") == "pending"
    record = pay.store.refund_record(VENUE, order.id + "S")
    assert (record["status"], record["problem"]) == ("pending", "SIGN_ERROR")
    assert [r["no"] for r in pay.store.refund_problems(VENUE)] == [order.id + "S"]
    assert pay.order(VENUE, order.id).refund_pending == 6000
    assert pay.retry_refunds(VENUE, now_ms=t0 + 7 * 60_000) == 0  # still refused: asked again later
    monkeypatch.undo()  # the key fixed
    assert pay.retry_refunds(VENUE, now_ms=t0 + 30 * 60_000) == 1
    done = pay.order(VENUE, order.id)
    assert (done.status, done.refunded, done.refund_pending) == ("refunded", 6000, 0)
    assert [r.no for r in box.trade("wechat", order.id).refunds] == [order.id + "S"]
    assert pay.store.refund_problems(VENUE) == []


@pytest.mark.parametrize(("answer", "number", "status", "outcome"), [
    ('{"code":"NO_AUTH","message":"商户无权限"}', "N", "pending", "pending"),  # a permission: the portal's own
    ('{"code":"USER_ACCOUNT_ABNORMAL","message":"用户账户异常"}', "U", "refused", "failed"),  # the business's: final
])
def test_a_wechat_403_is_final_only_for_a_business_refusal(pay, pay_portal, sandbox, monkeypatch, answer, number,
                                                           status, outcome):
    order = paid_order(pay, pay_portal, sandbox)
    monkeypatch.setattr(pay.providers()["wechat"]._pay, "refund", lambda **kw: (403, answer))
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + number) == status
    record = pay.store.refund_record(VENUE, order.id + number)
    assert (record["problem"] == "NO_AUTH") if status == "pending" else (record["status"] == outcome)


def test_an_alipay_refund_refused_for_a_permission_is_sent_again(pay, pay_portal, sandbox, monkeypatch):
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    ali = pay.providers()["alipay"]._ali
    real = ali.api_alipay_trade_refund
    monkeypatch.setattr(ali, "api_alipay_trade_refund", lambda **kw: {
        "code": "40006", "msg": "Insufficient Permissions", "sub_code": "isv.insufficient-isv-permissions"})
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "P") == "pending"
    record = pay.store.refund_record(VENUE, order.id + "P")
    assert (record["status"], record["problem"]) == ("pending", "isv.insufficient-isv-permissions")
    monkeypatch.setattr(ali, "api_alipay_trade_refund", real)
    assert pay.retry_refunds(VENUE, now_ms=int(time.time() * 1000) + 7 * 60_000) == 1
    assert pay.order(VENUE, order.id).status == "refunded"
    assert [r.no for r in box.trade("alipay", order.id).refunds] == [order.id + "P"]
