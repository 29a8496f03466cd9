"""The cinema paid for: hold -> pay within the hold -> ticket, through the shopper's pages, the real SDKs and
the sandbox; a hold released when the payment is declined or times out; money arriving after the hold
expired refunded; a ticket cancelled before the owner's cut-off refunded, later not cancellable."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"


@pytest.fixture
def cinema(pay_mall, token_for):
    """The demo mall (no samples) with the cinema on zone "cinema"; returns (app, client, token, store)."""
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "cinema", get_app("cinema").default_config())
    return app, app.test_client(), token_for(app, VENUE, "anon-cinema-1"), CinemaStore(svc.db)


def new_show(store, price=4500, starts_in_s=3 * 3600):
    item = ShowtimeInput("Paid Film", "付费电影", "1", int(time.time()) + starts_in_s, price)
    return store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]


def hold_and_order(client, store, c, seats=("C4", "C5")):
    """Hold two seats, press Pay: (hold token, order id)."""
    show_id = new_show(store)
    held = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": list(seats), "c": c})
    assert held.status_code == 303
    hold_url = held.headers["Location"]
    page = client.get(hold_url).get_data(as_text=True)
    assert "¥90.00" in page and 'id="pay"' in page and 'id="confirm"' not in page
    token = re.search(r"/hold/([^/?]+)", hold_url).group(1)
    paid = client.post(f"{BASE}/hold/{token}/pay", data={"c": c})
    assert paid.status_code == 303
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paid.headers["Location"]).group(1)
    return token, order_id


def choose(client, order_id, c, method):
    return client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": method})


def test_hold_pay_ticket_through_wechat_h5(cinema, sandbox, pay):
    app, client, c, store = cinema
    token, order_id = hold_and_order(client, store, c)
    page = client.get(f"/v/{VENUE}/pay/{order_id}?c={c}").get_data(as_text=True)
    assert "¥90.00" in page and 'id="pay-wechat-h5"' in page and 'id="pay-alipay-qr"' in page
    # Confirm without paying is refused.
    assert client.post(f"{BASE}/hold/{token}/confirm", data={"c": c}).status_code == 402
    went = choose(client, order_id, c, "wechat:h5")
    assert went.status_code == 303 and went.headers["Location"].startswith(sandbox[1])
    redirect_url = parse_qs(urlsplit(went.headers["Location"]).query)["redirect_url"][0]
    approved = requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve?"
                             f"{urlsplit(went.headers['Location']).query}", allow_redirects=False, timeout=30)
    assert approved.status_code == 303 and approved.headers["Location"] == redirect_url
    assert store.get_hold(VENUE, token).status == "confirmed"  # the callback confirmed it
    back = client.get(urlsplit(redirect_url).path + "?" + urlsplit(redirect_url).query)
    assert back.status_code == 303
    order_page = client.get(back.headers["Location"])
    assert order_page.status_code == 303  # paid: on to the hold, which shows the ticket
    ticket = client.get(client.get(order_page.headers["Location"]).headers["Location"])
    html = ticket.get_data(as_text=True)
    assert 'id="booking-code"' in html and "Paid ¥90.00" in html
    zh = client.get(order_page.headers["Location"].replace("?", "?lang=zh&"))
    assert zh.status_code == 303


def _reload_url(page: str) -> str:
    """Where the page's auto-refresh goes (templates/_auto_refresh.html)."""
    return html.unescape(re.search(r'id="auto-refresh"[^>]*data-url="([^"]*)"', page).group(1))


def _qr_link(page: str) -> str:
    return html.unescape(re.search(r'href="([^"]*)" id="qr-link"', page).group(1))


def test_qr_payment_page_reloads_to_itself_with_the_code(cinema, sandbox, pay):
    """"Show a QR code" answers the POST to /start with the code, and the page reloads itself every 5 s while it
    waits: the reload must be the order's own page (a GET of /start is a 405) and still show the same code (the
    shopper may still be scanning it with another phone); once paid it goes on to the ticket."""
    _app, client, c, store = cinema
    token, order_id = hold_and_order(client, store, c)
    shown = choose(client, order_id, c, "alipay:qr")
    first = shown.get_data(as_text=True)
    assert shown.status_code == 200 and 'id="qr"' in first
    reload_to = _reload_url(first)
    assert "/start" not in reload_to and f"c={c}" in reload_to
    again = client.get(reload_to)
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and 'id="qr"' in page and _qr_link(page) == _qr_link(first)
    assert _reload_url(page) == reload_to
    zh = client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr", "lang": "zh"})
    assert "lang=zh" in _reload_url(zh.get_data(as_text=True))
    requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30)
    paid = client.get(reload_to)
    assert paid.status_code == 303 and f"/hold/{token}" in paid.headers["Location"]  # on to the ticket


def test_a_refused_pay_press_keeps_the_language_its_form_carried(cinema, pay):
    """A sign-in sheet keeps no cookie: a Pay press whose form carries the choice in its body (`lang`, no
    ?lang=) and is refused (422: no way to pay chosen) is answered in it, and every form of that page (Pay,
    Cancel, Continue to the internet) carries it on."""
    app, client, c, store = cinema
    _token, order_id = hold_and_order(client, store, c)
    sheet = app.test_client(use_cookies=False)
    refused = sheet.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "nope", "lang": "zh"},
                         headers={"Accept-Language": "en"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and '<html lang="zh-CN">' in page
    forms = re.findall(r'<form method="post"[^>]* action="([^"]*)"[^>]*>(.*?)</form>', page, re.DOTALL)
    assert {urlsplit(html.unescape(a)).path for a, _body in forms} >= {
        f"/v/{VENUE}/pay/{order_id}/start", f"/v/{VENUE}/pay/{order_id}/cancel", "/portal/continue"}
    for action, body in forms:  # in its address, or (the privacy choices) in a field of its own
        carried = parse_qs(urlsplit(html.unescape(action)).query).get("lang") == ["zh"]
        assert carried or '<input type="hidden" name="lang" value="zh">' in body, action


def test_an_expired_order_not_yet_swept_shows_no_code(cinema, pay, monkeypatch):
    """Past its expiry an unpaid order can no longer be paid (the provider's trade expired with it), though
    neither the sweep nor a query has closed it yet: its page says it expired, with no code to scan and no Pay
    buttons, and a Pay press from a stale page is refused with no code either."""
    _app, client, c, store = cinema
    _token, order_id = hold_and_order(client, store, c)
    assert 'id="qr"' in choose(client, order_id, c, "alipay:qr").get_data(as_text=True)
    pay.store.claim_query(VENUE, order_id, 600)  # the provider was asked a moment ago: the page does not ask now
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 3600_000)
    resp = client.get(f"/v/{VENUE}/pay/{order_id}?c={c}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and pay.order(VENUE, order_id).status == "created"  # not closed yet
    assert 'id="qr"' not in page and 'id="qr-link"' not in page and 'id="pay-alipay-qr"' not in page
    assert 'id="expired"' in page and "This order has expired. Please start again." in page
    pressed = choose(client, order_id, c, "alipay:qr")
    page = pressed.get_data(as_text=True)
    assert pressed.status_code == 409 and 'id="qr"' not in page and 'id="pay-alipay-qr"' not in page
    assert page.count("This order has expired. Please start again.") == 1  # the refusal says it, once


def test_the_return_from_the_provider_keeps_the_chosen_language(cinema, sandbox, pay):
    """A sign-in sheet keeps no cookie: the language the shopper chose rides on the return address the provider
    is given (no secret: never `c`), so the page they come back to speaks it."""
    app, client, c, store = cinema
    _token, order_id = hold_and_order(client, store, c)
    went = client.post(f"/v/{VENUE}/pay/{order_id}/start?lang=zh", data={"c": c, "method": "wechat:h5"})
    redirect_url = parse_qs(urlsplit(went.headers["Location"]).query)["redirect_url"][0]
    assert parse_qs(urlsplit(redirect_url).query) == {"lang": ["zh"]}
    requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve?{urlsplit(went.headers['Location']).query}",
                  allow_redirects=False, timeout=30)
    sheet = app.test_client(use_cookies=False)
    back = sheet.get(f"{urlsplit(redirect_url).path}?{urlsplit(redirect_url).query}")
    assert back.status_code == 200 and '<html lang="zh-CN">' in back.get_data(as_text=True)


def test_declined_payment_releases_the_seats(cinema, sandbox, pay):
    _app, client, c, store = cinema
    token, order_id = hold_and_order(client, store, c)
    went = choose(client, order_id, c, "alipay:wap")
    assert went.status_code == 303
    requests.get(went.headers["Location"], timeout=30)  # the shopper's browser opens Alipay's page
    client.post(f"/v/{VENUE}/pay/{order_id}/cancel", data={"c": c})  # gives up on the provider's page
    assert pay.order(VENUE, order_id).status == "closed"
    assert store.get_hold(VENUE, token).status == "cancelled"
    assert sandbox[0].trade("alipay", order_id).status == "CLOSED"


def test_timed_out_payment_releases_the_hold(cinema, pay, monkeypatch):
    _app, client, c, store = cinema
    token, order_id = hold_and_order(client, store, c)
    choose(client, order_id, c, "wechat:native")
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 3600_000)
    assert pay.sweep(VENUE) == 1
    assert pay.order(VENUE, order_id).status == "closed"
    assert store.get_hold(VENUE, token).status == "cancelled"


def approve_without_callback(box, sandbox_url: str, order_id: str) -> None:
    """The shopper pays at the provider; its callback is held back (sent later by the test: `box.notify`)."""
    box.hold_notifications = True
    try:
        requests.post(f"{sandbox_url}/sandbox/pay/wechat/{order_id}/approve", timeout=30)
    finally:
        box.hold_notifications = False


def test_callback_after_hold_expiry_is_refunded(cinema, sandbox, pay):
    app, client, c, store = cinema
    box, sandbox_url = sandbox
    token, order_id = hold_and_order(client, store, c)
    choose(client, order_id, c, "wechat:native")
    approve_without_callback(box, sandbox_url, order_id)
    # The hold lapses (and someone else may take the seats) before the callback arrives.
    svc = app.extensions["mallportal"]
    hold_key = f"mp:{{{VENUE}}}:cinema:hold:{token}"
    svc.db.hset(hold_key, "expires_ms", int(time.time() * 1000) - 1000)
    assert box.notify(box.trade("wechat", order_id)) == 200
    order = pay.order(VENUE, order_id)
    assert order.status == "refunded" and order.refunded == 9000
    assert box.trade("wechat", order_id).refunded == 9000
    assert store.get_hold(VENUE, token).status == "expired"
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE, ZONE)] == [("paid", 9000), ("refund", 9000)]


@pytest.mark.parametrize("lapsed", ["hold", "order"])
def test_a_payment_for_a_lapsed_hold_whose_refund_is_processing_says_so_on_its_page(cinema, sandbox, pay,
                                                                                    refunds_answer, lapsed):
    """WeChat Pay answers a refund PROCESSING (its result comes later): meanwhile the order that paid for a lapsed
    hold (the hold gone while the order was open: refunded as undeliverable; or the order expired too: a late
    payment) is still paid, and its page, where the provider sends the shopper back, says the money is coming
    back (en and zh) rather than going on to the hold, whose seats are gone."""
    app, client, c, store = cinema
    box, sandbox_url = sandbox
    refunds_answer("processing")
    token, order_id = hold_and_order(client, store, c)
    choose(client, order_id, c, "wechat:native")
    approve_without_callback(box, sandbox_url, order_id)
    svc = app.extensions["mallportal"]
    past = int(time.time() * 1000) - 1000
    svc.db.hset(f"mp:{{{VENUE}}}:cinema:hold:{token}", "expires_ms", past)
    if lapsed == "order":
        svc.db.hset(f"mp:{{{VENUE}}}:pay:order:{order_id}", "expires_ms", past)
    assert box.notify(box.trade("wechat", order_id)) == 200
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refund_pending) == ("paid", 9000)
    assert order.late if lapsed == "order" else order.delivery == "refunded"

    back = client.get(f"/v/{VENUE}/pay/{order_id}/back?c={c}")
    assert back.status_code == 303
    page = client.get(back.headers["Location"])
    assert page.status_code == 200, page.headers.get("Location")
    text = page.get_data(as_text=True)
    assert 'id="paid"' in text and "Refund ¥90.00: in progress" in text
    assert ("it is being refunded" in text) == (lapsed == "order")
    zh = client.get(f"/v/{VENUE}/pay/{order_id}?c={c}&lang=zh")
    assert zh.status_code == 200 and "退款 ¥90.00: 处理中" in zh.get_data(as_text=True)
    assert store.get_hold(VENUE, token).status != "confirmed"  # no ticket


def test_ticket_refunded_before_the_cutoff_only(cinema, sandbox, pay):
    app, client, c, store = cinema
    token, order_id = hold_and_order(client, store, c)
    choose(client, order_id, c, "alipay:qr")
    requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30)
    code = store.get_hold(VENUE, token).code
    page = client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert 'id="cancel-ticket"' in page and "for a full refund" in page
    cancelled = client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c})
    assert cancelled.status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code in (303, 409)
    assert len([e for e in pay.store.ledger(VENUE) if e.kind == "refund"]) == 1  # once only
    # A show within the owner's cut-off (60 minutes by default): no cancel, no refund.
    late_show = new_show(store, starts_in_s=30 * 60)
    held = client.post(f"{BASE}/show/{late_show}/hold", data={"seat": ["E4", "E5"], "c": c})
    late_token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    late_order = re.search(r"/pay/(MP[0-9A-F]{24})",
                           client.post(f"{BASE}/hold/{late_token}/pay", data={"c": c}).headers["Location"]).group(1)
    choose(client, late_order, c, "alipay:qr")
    requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{late_order}/approve", timeout=30)
    late_code = store.get_hold(VENUE, late_token).code
    assert 'id="cancel-ticket"' not in client.get(f"{BASE}/ticket/{late_code}?c={c}").get_data(as_text=True)
    assert client.post(f"{BASE}/ticket/{late_code}/cancel", data={"c": c}).status_code == 409
    assert pay.order(VENUE, late_order).status == "paid"


def test_payment_pages_only_for_the_shopper_and_bad_input(cinema, pay):
    app, client, c, store = cinema
    _token, order_id = hold_and_order(client, store, c)
    with app.test_request_context():
        other = shopper_token(Shopper(VENUE, "anon-someone-else"))
    assert client.get(f"/v/{VENUE}/pay/{order_id}?c={other}").status_code == 404
    assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": other, "method": "wechat:h5"}).status_code == 404
    assert client.get(f"/v/{VENUE}/pay/{order_id}").status_code == 404  # no token at all
    assert client.get(f"/v/{VENUE}/pay/not-an-order?c={c}").status_code == 404
    assert client.get(f"/v/bad%20venue/pay/{order_id}?c={c}").status_code == 404
    assert choose(client, order_id, c, "paypal:web").status_code == 422
    assert choose(client, order_id, c, "").status_code == 422
    assert pay.order(VENUE, order_id).provider == ""  # nothing bound by bad input
    assert client.post(f"/pay/notify/paypal/{VENUE}", data="x").status_code == 404
    assert client.post("/pay/notify/wechat/bad%20venue", data="x").status_code == 404
