"""Refund results through the real SDKs against the sandbox: a refund WeChat Pay accepts as PROCESSING is booked
only when its REFUND.SUCCESS callback (AES-GCM resource) or a refund query says so, once however often the
callback comes; Alipay's refund notification (out_biz_no, refund_fee) is verified and changes nothing twice;
forged or unknown refund callbacks are refused; a refund the provider did not answer, or refused for now (the
merchant's balance), is sent again by the sweep under the same number (with back-off once refused); an ABNORMAL
one stays open; one refused for good is listed for operators; the order page shows each refund's state."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import requests

import portal.paysandbox.app as sandbox_app
from portal.paysandbox.app import Refund

VENUE = "demo"


def paid_order(pay, pay_portal, sandbox, provider="wechat", amount=6000):
    order = pay.create(VENUE, merchant="kopi", shopper="anon-r", amount=amount, purpose="refund-test", ref="x",
                       description="Refund test", idem=f"refund:{time.time_ns()}")
    pay.start(VENUE, order.id, provider, "native" if provider == "wechat" else "qr", "203.0.113.6", pay_portal[1],
              "http://back.example/")
    assert requests.post(f"{sandbox[1]}/sandbox/pay/{provider}/{order.id}/approve", timeout=60).status_code == 200
    assert pay.order(VENUE, order.id).status == "paid"
    return order


def refunds_in_ledger(pay, order_id):
    return [e.amount for e in pay.store.ledger(VENUE) if e.kind == "refund" and e.order == order_id]


def test_a_processing_refund_is_booked_by_its_callback_once(pay, pay_portal, sandbox, refunds_answer, token_for):
    box, sandbox_url = sandbox
    refunds_answer("processing")
    order = paid_order(pay, pay_portal, sandbox)
    assert pay.refund(VENUE, order.id, 2000, "one item", refund_no=order.id + "P") == "processing"
    waiting = pay.order(VENUE, order.id)
    assert waiting.status == "paid" and waiting.refund_pending == 2000 and refunds_in_ledger(pay, order.id) == []
    client, token = pay_portal[0].test_client(), token_for(pay_portal[0], VENUE, "anon-r")
    page = client.get(f"/v/{VENUE}/pay/{order.id}?c={token}&lang=en&stay=1").get_data(as_text=True)
    assert "Refund ¥20.00: in progress" in page
    url = f"{sandbox_url}/sandbox/refund/wechat/{order.id}/{order.id}P/notify"
    for _ in range(3):  # the refund completes, and its callback is sent three times
        assert requests.post(url, timeout=60).json()["status"] == 200
    done = pay.order(VENUE, order.id)
    assert done.status == "partially_refunded" and done.refunded == 2000 and done.refund_pending == 0
    assert refunds_in_ledger(pay, order.id) == [2000]
    page = client.get(f"/v/{VENUE}/pay/{order.id}?c={token}&lang=zh&stay=1").get_data(as_text=True)
    assert "退款 ¥20.00" in page and "已退回" in page


def test_alipay_refund_notification_is_verified_and_idempotent(pay, pay_portal, sandbox):
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "A") == "done"
    trade = box.trade("alipay", order.id)
    for _ in range(2):
        assert box.notify_refund(trade, trade.refunds[0]) == 200
        assert trade.notifications[-1]["answer"] == "success"
    assert refunds_in_ledger(pay, order.id) == [6000] and pay.order(VENUE, order.id).status == "refunded"


def test_forged_and_unknown_refund_callbacks_are_refused(pay, pay_portal, sandbox, refunds_answer):
    box, _url = sandbox
    portal_url = pay_portal[1]
    refunds_answer("processing")
    order = paid_order(pay, pay_portal, sandbox)
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "F") == "processing"
    trade = box.trade("wechat", order.id)
    headers, body = box.refund_notification(trade, trade.refunds[0])
    forged = body.replace(b'"REFUND.SUCCESS"', b'"REFUND.SUCCESS" ')
    answer = requests.post(f"{portal_url}/pay/notify/wechat/{VENUE}", data=forged, headers=headers, timeout=60)
    assert answer.status_code == 500 and answer.json()["code"] == "FAIL"
    # Genuinely signed, but for a refund this portal never asked for: not acknowledged.
    stray = Refund("STRAYREFUND1", 100, time.time() * 1000, "50stray")
    assert box.notify_refund(trade, stray) == 500
    assert pay.order(VENUE, order.id).refund_pending == 6000 and refunds_in_ledger(pay, order.id) == []

    alipay_order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    assert pay.refund(VENUE, alipay_order.id, 1000, "part", refund_no=alipay_order.id + "Q") == "done"
    ali = box.trade("alipay", alipay_order.id)
    headers, body = box.refund_notification(ali, ali.refunds[0])
    form = dict(parse_qsl(body.decode()))
    form["out_biz_no"] = order.id + "F"  # points at the WeChat refund still processing: same signature
    answer = requests.post(f"{portal_url}/pay/notify/alipay/{VENUE}", data=form, timeout=60)
    assert answer.text != "success"
    assert pay.store.refund_record(VENUE, order.id + "F")["status"] == "processing"


def test_a_refund_the_provider_did_not_answer_is_retried_by_the_sweep(pay, pay_portal, sandbox, refunds_answer,
                                                                      monkeypatch):
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    wechat_order = paid_order(pay, pay_portal, sandbox)
    refunds_answer("down")
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "D") == "pending"
    assert pay.refund(VENUE, wechat_order.id, 6000, "all", refund_no=wechat_order.id + "D") == "pending"
    assert pay.store.refund_record(VENUE, order.id + "D")["status"] == "pending"
    pay.sweep(VENUE)  # too soon (and still down): nothing changes
    assert pay.order(VENUE, order.id).status == "paid"
    refunds_answer("processing")
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 120_000)
    pay.sweep(VENUE)
    assert pay.order(VENUE, order.id).status == "refunded"  # Alipay answers at once
    assert pay.store.refund_record(VENUE, wechat_order.id + "D")["status"] == "processing"
    # WeChat finishes it without a callback reaching us: the next sweep asks (refund query).
    box.trade("wechat", wechat_order.id).refunds[0].status = "SUCCESS"
    pay.sweep(VENUE)
    pay.sweep(VENUE)
    assert pay.order(VENUE, wechat_order.id).status == "refunded"
    for provider, o in (("alipay", order), ("wechat", wechat_order)):
        assert [r.no for r in box.trade(provider, o.id).refunds] == [o.id + "D"]
        assert refunds_in_ledger(pay, o.id) == [6000]
    assert pay.store.open_refunds(VENUE, int(time.time() * 1000) + 10**9) == []


def refunds_at_sandbox(box, provider, order_id) -> list[tuple[str, int]]:
    return [(r.no, r.amount) for r in box.trade(provider, order_id).refunds]


def test_a_refund_refused_for_now_is_asked_again_later_each_time_until_done(pay, pay_portal, sandbox, monkeypatch):
    """WeChat Pay 403 NOT_ENOUGH (the merchant's balance is too low: "top up, then the same refund again"): the
    refund stays open under its number, shown to operators; the sweep asks again with back-off (not at every
    run), and once the balance is topped up the shopper gets the money, once."""
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox)
    asked = []
    real = sandbox_app._refund

    def balance_too_low(*args, **kwargs):
        asked.append(args[2])
        return None, "balance", False  # the sandbox answers 403 NOT_ENOUGH

    monkeypatch.setattr(sandbox_app, "_refund", balance_too_low)
    t0 = int(time.time() * 1000)
    assert pay.refund(VENUE, order.id, 6000, "ticket cancelled", refund_no=order.id + "C") == "pending"
    record = pay.store.refund_record(VENUE, order.id + "C")
    assert (record["status"], record["problem"]) == ("pending", "NOT_ENOUGH")
    assert [r["no"] for r in pay.store.refund_problems(VENUE)] == [order.id + "C"]
    assert pay.order(VENUE, order.id).refund_pending == 6000  # still reserved for this refund
    assert pay.retry_refunds(VENUE, now_ms=t0 + 2 * 60_000) == 0 and len(asked) == 1  # not yet: backing off
    assert pay.retry_refunds(VENUE, now_ms=t0 + 7 * 60_000) == 0 and len(asked) == 2  # asked again, refused
    assert pay.retry_refunds(VENUE, now_ms=t0 + 9 * 60_000) == 0 and len(asked) == 2  # the next wait is longer
    monkeypatch.setattr(sandbox_app, "_refund", real)  # the merchant tops the balance up
    assert pay.retry_refunds(VENUE, now_ms=t0 + 30 * 60_000) == 1
    done = pay.order(VENUE, order.id)
    assert (done.status, done.refunded, done.refund_pending) == ("refunded", 6000, 0)
    assert refunds_at_sandbox(box, "wechat", order.id) == [(order.id + "C", 6000)]
    assert refunds_in_ledger(pay, order.id) == [6000] and pay.store.refund_problems(VENUE) == []
    assert pay.refund(VENUE, order.id, 6000, "ticket cancelled", refund_no=order.id + "C") == "dup"


def test_an_alipay_refund_refused_for_the_sellers_balance_is_asked_again(pay, pay_portal, sandbox, monkeypatch):
    """Alipay's ACQ.SELLER_BALANCE_NOT_ENOUGH ("top up, then refund again"), answered by the sandbox while its
    merchant balance is low (`refund_mode = "balance"`): pending, then done once topped up."""
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    box.refund_mode = "balance"
    try:
        assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "B") == "pending"
    finally:
        box.refund_mode = "success"
    assert pay.store.refund_record(VENUE, order.id + "B")["problem"] == "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    assert pay.retry_refunds(VENUE, now_ms=int(time.time() * 1000) + 7 * 60_000) == 1
    assert pay.order(VENUE, order.id).status == "refunded"
    assert refunds_at_sandbox(box, "alipay", order.id) == [(order.id + "B", 6000)]


def test_an_abnormal_refund_stays_open_and_shown_until_the_merchant_handles_it(pay, pay_portal, sandbox,
                                                                              refunds_answer):
    """WeChat Pay ABNORMAL (the shopper's card was closed: the money waits at WeChat Pay until the merchant
    sends it elsewhere): not a failure, the order's money stays reserved; the sweep keeps asking (with
    back-off) and books it done once the merchant handled it in the merchant platform."""
    box, sandbox_url = sandbox
    refunds_answer("processing")
    order = paid_order(pay, pay_portal, sandbox)
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "N") == "processing"
    trade = box.trade("wechat", order.id)
    trade.refunds[0].status = "ABNORMAL"
    assert box.notify_refund(trade, trade.refunds[0]) == 200  # REFUND.ABNORMAL: acknowledged
    record = pay.store.refund_record(VENUE, order.id + "N")
    assert (record["status"], record.get("problem")) == ("processing", "ABNORMAL")
    assert pay.order(VENUE, order.id).refund_pending == 6000
    assert [r["no"] for r in pay.store.refund_problems(VENUE)] == [order.id + "N"]
    t0 = int(time.time() * 1000)
    assert pay.retry_refunds(VENUE, now_ms=t0 + 7 * 60_000) == 0  # asked: still ABNORMAL
    assert pay.store.refund_record(VENUE, order.id + "N")["stuck"] == "2"
    trade.refunds[0].status = "SUCCESS"  # the merchant refunded it to another card of the shopper's
    assert pay.retry_refunds(VENUE, now_ms=t0 + 30 * 60_000) == 1
    assert pay.order(VENUE, order.id).status == "refunded" and refunds_in_ledger(pay, order.id) == [6000]
    assert pay.store.refund_problems(VENUE) == []


def test_a_refund_refused_for_good_is_final_and_listed_for_operators(pay, pay_portal, sandbox, monkeypatch):
    """A refusal no retry can change (Alipay: more than the trade has left) stays failed, is not asked again,
    and `flask payments refunds` lists it with the provider's reason."""
    box, _url = sandbox
    order = paid_order(pay, pay_portal, sandbox, provider="alipay")
    monkeypatch.setattr(sandbox_app, "_refund", lambda *a, **k: (None, "exceeds", False))
    assert pay.refund(VENUE, order.id, 6000, "all", refund_no=order.id + "E") == "refused"
    monkeypatch.undo()
    record = pay.store.refund_record(VENUE, order.id + "E")
    assert (record["status"], record.get("problem")) == ("failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    assert pay.retry_refunds(VENUE, now_ms=int(time.time() * 1000) + 10**9) == 0
    assert box.trade("alipay", order.id).refunds == [] and pay.order(VENUE, order.id).refund_pending == 0
    assert [(r["no"], r["merchant"]) for r in pay.store.refund_problems(VENUE)] == [(order.id + "E", "kopi")]
    assert pay.store.refund_problems(VENUE, merchant="kopi") and not pay.store.refund_problems(VENUE, merchant="tea")
    out = pay_portal[0].test_cli_runner().invoke(args=["payments", "refunds", VENUE]).output
    assert order.id + "E" in out and "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" in out and "1 refunds to look at" in out


def test_an_alipay_refund_that_moved_no_money_is_not_booked_until_the_query_says_so(pay, pay_portal, sandbox,
                                                                                     refunds_answer):
    """Alipay's 10000 says the call went through; only fund_change "Y" says the money moved. With "N" (a refund still
    processing) the ledger books nothing until the refund query answers REFUND_SUCCESS."""
    box = sandbox[0]
    order = paid_order(pay, pay_portal, sandbox, "alipay")
    refunds_answer("unmoved")
    assert pay.refund(VENUE, order.id, order.amount, "test", refund_no=order.id + "Q") == "processing"
    after = pay.order(VENUE, order.id)
    assert (after.refunded, after.refund_pending) == (0, order.amount)
    assert [e.kind for e in pay.store.ledger(VENUE)] == ["paid"]
    trade = box.trade("alipay", order.id)
    with box.lock:
        trade.refunds[-1].status = "SUCCESS"  # Alipay finished it; its query now says so
    pay.retry_refunds(VENUE, now_ms=int(time.time() * 1000) + 3600_000, min_age_ms=0)
    after = pay.order(VENUE, order.id)
    assert (after.refunded, after.refund_pending) == (order.amount, 0)
    assert [e.kind for e in pay.store.ledger(VENUE)] == ["paid", "refund"]
