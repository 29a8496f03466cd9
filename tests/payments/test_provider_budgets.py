"""What one shopper's pages may ask of the payment providers, who throttle per merchant (the whole mall): each
Pay press places a provider order within the pay.start budgets (429 past them, nothing placed); the order page
and the return from the provider ask about the order at most once per few seconds per order and within the
pay.query budgets, past which the page shows the stored state (200: the shopper still sees their order); the
return after a real payment still finds it paid; the sweep's queries are never budgeted."""

from __future__ import annotations

import time

import pytest
import requests

from core.settings import DEFAULT_BUDGETS
from portal.apps.budgets import budget_store
from portal.payments.store import PaymentKeys

VENUE, CLIENT = "demo", "anon-budget-1"
PRESSES = DEFAULT_BUDGETS["pay.start.shopper"][0]  # an hour


@pytest.fixture
def paying(pay_mall, pay, token_for):
    """(test client, the shopper's token, a new order of theirs, not yet sent to a provider)."""
    app, _map = pay_mall
    order = pay.create(VENUE, merchant="kopi", shopper=CLIENT, amount=1500, purpose="budget-test", ref="b",
                       description="Budget test", idem=f"budget:{time.time_ns()}", return_url="http://return.example/x")
    return app.test_client(), token_for(app, VENUE, CLIENT), order


def counting(monkeypatch, provider, name: str) -> list[str]:
    """Count the calls to one provider method (the real one still answers)."""
    calls: list[str] = []
    real = getattr(provider, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(provider, name, counted)
    return calls


def started(pay, pay_portal, order) -> None:
    pay.start(VENUE, order.id, "wechat", "native", "203.0.113.9", pay_portal[1], "http://back.example/")


def test_reloads_ask_the_provider_once_per_few_seconds(pay, pay_portal, paying, monkeypatch):
    client, c, order = paying
    started(pay, pay_portal, order)
    queries = counting(monkeypatch, pay.providers()["wechat"], "query")
    pages = [client.get(f"/v/{VENUE}/pay/{order.id}?c={c}") for _ in range(30)]
    assert {p.status_code for p in pages} == {200} and 'id="waiting"' in pages[-1].get_data(as_text=True)
    assert len(queries) == 1  # the others reuse its answer
    assert 0 < pay.store.db.ttl(PaymentKeys(VENUE).asked(order.id)) <= 10


def test_queries_past_the_budget_show_the_stored_order(app, pay, pay_portal, paying, monkeypatch):
    client, c, order = paying
    started(pay, pay_portal, order)
    budget_store(app).set_limit(VENUE, "pay.query.shopper", (3, 600))
    queries = counting(monkeypatch, pay.providers()["wechat"], "query")
    codes = []
    for i in range(12):
        pay.store.db.delete(PaymentKeys(VENUE).asked(order.id))  # as if its few seconds had passed
        path = f"/v/{VENUE}/pay/{order.id}" + ("/back" if i % 2 else "")
        codes.append(client.get(f"{path}?c={c}").status_code)
    assert len(queries) == 3
    assert codes == [200, 303] * 6
    page = client.get(f"/v/{VENUE}/pay/{order.id}?c={c}")
    assert page.status_code == 200 and 'id="waiting"' in page.get_data(as_text=True)


def test_the_return_after_paying_finds_the_order_paid(app, pay, pay_portal, sandbox, paying, monkeypatch):
    box, sandbox_url = sandbox
    client, c, order = paying
    started(pay, pay_portal, order)
    queries = counting(monkeypatch, pay.providers()["wechat"], "query")
    assert client.get(f"/v/{VENUE}/pay/{order.id}?c={c}").status_code == 200  # asked just now: unpaid
    box.hold_notifications = True  # the shopper pays; the callback is late
    try:
        assert requests.post(f"{sandbox_url}/sandbox/pay/wechat/{order.id}/approve", timeout=30).status_code == 200
    finally:
        box.hold_notifications = False
    back = client.get(f"/v/{VENUE}/pay/{order.id}/back?c={c}")  # asks again, a reload's few seconds or not
    assert back.status_code == 303 and pay.order(VENUE, order.id).status == "paid"
    page = client.get(back.headers["Location"])
    assert page.status_code == 303 and page.headers["Location"] == f"http://return.example/x?c={c}"
    assert len(queries) == 2


def test_the_sweep_asks_the_provider_past_the_shoppers_budget(app, pay, pay_portal, sandbox, paying, monkeypatch):
    box, sandbox_url = sandbox
    client, c, order = paying
    started(pay, pay_portal, order)
    budget_store(app).set_action_limit(VENUE, "pay.query", (0, 600))  # spent for everyone
    box.hold_notifications = True
    try:
        requests.post(f"{sandbox_url}/sandbox/pay/wechat/{order.id}/approve", timeout=30)
    finally:
        box.hold_notifications = False
    queries = counting(monkeypatch, pay.providers()["wechat"], "query")
    assert client.get(f"/v/{VENUE}/pay/{order.id}/back?c={c}").status_code == 303
    assert queries == [] and pay.order(VENUE, order.id).status == "created"
    monkeypatch.setattr(pay, "clock", lambda: order.expires_ms + 1000)
    assert pay.sweep(VENUE) == 1
    assert queries == ["query"]  # booked: paid before its expiry by the provider's time, so delivered
    assert [e.kind for e in pay.store.ledger(VENUE)] == ["paid"] and pay.order(VENUE, order.id).late is False


def test_pay_presses_past_the_budget_are_429_and_place_nothing(app, pay, paying, token_for, monkeypatch):
    client, c, order = paying
    budget_store(app).set_limit(VENUE, "pay.start.ip", (PRESSES + 1, 3600))
    placed = counting(monkeypatch, pay.providers()["wechat"], "start")
    press = {"c": c, "method": "wechat:native"}
    for _ in range(20):  # refused before any provider order: they cost nothing
        nope = client.post(f"/v/{VENUE}/pay/{order.id}/start", data={**press, "method": "wechat:nope"})
        assert nope.status_code == 422
    codes = [client.post(f"/v/{VENUE}/pay/{order.id}/start", data=press).status_code for _ in range(PRESSES + 3)]
    assert codes == [200] * PRESSES + [429] * 3 and len(placed) == PRESSES
    refused = client.post(f"/v/{VENUE}/pay/{order.id}/start", data=press)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # Another shopper behind the same address: the address has one press left.
    other = pay.create(VENUE, merchant="kopi", shopper="anon-budget-2", amount=1500, purpose="budget-test",
                       ref="b", description="Budget test", idem=f"budget:{time.time_ns()}")
    press = {"c": token_for(app, VENUE, "anon-budget-2"), "method": "wechat:native"}
    codes = [client.post(f"/v/{VENUE}/pay/{other.id}/start", data=press).status_code for _ in range(2)]
    assert codes == [200, 429] and len(placed) == PRESSES + 1


def test_a_press_for_the_other_provider_is_told_so_and_costs_nothing(app, pay, paying):
    """An order bound to WeChat Pay refuses an Alipay press before any provider call: the shopper reads why
    (not the generic state message) and the press spends no pay.start."""
    client, c, order = paying
    assert client.post(f"/v/{VENUE}/pay/{order.id}/start", data={"c": c, "method": "wechat:native"}).status_code == 200
    for _ in range(PRESSES + 2):
        other = client.post(f"/v/{VENUE}/pay/{order.id}/start", data={"c": c, "method": "alipay:qr"})
        assert other.status_code == 409 and "already being paid another way" in other.get_data(as_text=True)
    again = client.post(f"/v/{VENUE}/pay/{order.id}/start", data={"c": c, "method": "wechat:native"})
    assert again.status_code == 200  # one press spent of the hour's, not PRESSES + 3
