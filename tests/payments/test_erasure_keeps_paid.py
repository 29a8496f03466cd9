"""Erasing her data never takes money silently (portal/events/mydata.py, portal/apps/paid.py): the privacy page lists
her live paid things with their amounts; a ticket she may still cancel for a full refund holds the erasure back (409,
nothing erased) until she has cancelled it on its own page; what can no longer be refunded (a ticket past its cut-off,
a flash sale's unit, a group-buy deposit) is kept for her, with its code, under a keeper id whose link the erased page
gives, and the payments sweep erases that once it has ended. Real payments through the SDKs and the sandbox."""

from __future__ import annotations

import re
import time

import pytest
import requests
from paid_offers import sale_and_group

from lightapps.activities.deposits import DepositKeys, pay_deposit
from lightapps.activities.payment import buy
from lightapps.activities.store import ActivityStore
from lightapps.cinema.me import KEPT_AFTER_START_S
from lightapps.cinema.store import CinemaKeys, CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app
from portal.apps.views import STORES
from portal.shopper import cookie_name
from tests.events.test_mydata_page import text_of
from tests.payments.test_preorder_payment import BASE as QUEUE
from tests.payments.test_preorder_payment import approve as approve_preorder
from tests.payments.test_preorder_payment import open_restaurant, order_of, preorder

VENUE = "demo"
CINEMA = f"/v/{VENUE}/cinema/cinema"
ERASE = f"/v/{VENUE}/my-data/erase"


@pytest.fixture
def mall(pay_mall, token_for):
    """The demo mall with the cinema on zone "cinema" and the activities on "atrium": (app, client, store, token)."""
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, "cinema", "cinema", get_app("cinema").default_config())
    svc.zone_apps.set(VENUE, "atrium", "activities", get_app("activities").default_config())
    return app, app.test_client(), CinemaStore(svc.db), token_for(app, VENUE, "anon-erase-paid")


def approve(sandbox, order_id: str, client, c: str) -> None:
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"})  # the QR page
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code in (200, 303)


def paid_ticket(client, store, sandbox, c: str, starts_in_s: int) -> tuple[str, str]:
    """Two seats at ¥45 each for a new show, paid: (booking code, order id)."""
    show = ShowtimeInput("Paid Film", "付费电影", "1", int(time.time()) + starts_in_s, 4500)
    show_id = store.upsert_showtimes(VENUE, "cinema", [show], source="test")["ids"][0]
    held = client.post(f"{CINEMA}/show/{show_id}/hold", data={"seat": ["C4", "C5"], "c": c})
    token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    paying = client.post(f"{CINEMA}/hold/{token}/pay", data={"c": c})
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paying.headers["Location"]).group(1)
    approve(sandbox, order_id, client, c)
    return store.get_hold(VENUE, token).code, order_id


def test_a_ticket_she_may_still_cancel_holds_the_erasure_back_until_she_has(mall, sandbox, pay):
    app, client, store, c = mall
    code, order_id = paid_ticket(client, store, sandbox, c, starts_in_s=3 * 3600)
    page = client.get(f"/v/{VENUE}/my-data?c={c}&lang=zh").get_data(as_text=True)
    listed = text_of(page, "held-paid")
    assert "付费电影" in listed and "¥90.00" in listed and f"/ticket/{code}" in page
    refused = client.post(ERASE, data={"confirm": "1", "c": c, "lang": "en"})
    assert refused.status_code == 409
    assert "cancel them on their pages first" in text_of(refused.get_data(as_text=True), "erase-blocked").lower()
    # Nothing was erased: her ticket still opens, still paid, and her export still holds it.
    assert client.get(f"{CINEMA}/ticket/{code}?c={c}").status_code == 200
    assert pay.order(VENUE, order_id).status == "paid"
    assert client.get(f"/v/{VENUE}/my-data/export.json?c={c}").get_json()["apps"]["cinema"]["bookings"]
    # She cancels it on its page (the cinema's one cancel path): refunded in full; then the erasure goes ahead.
    assert client.post(f"{CINEMA}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"
    erased = client.post(ERASE, data={"confirm": "1", "c": c})
    assert erased.status_code == 200 and 'id="kept-paid"' not in erased.get_data(as_text=True)


def test_a_ticket_past_its_refund_cutoff_is_kept_for_her_until_the_show_is_over(mall, sandbox, pay, monkeypatch):
    app, client, store, c = mall
    code, order_id = paid_ticket(client, store, sandbox, c, starts_in_s=30 * 60)  # within the 60-minute cut-off
    page = client.get(f"/v/{VENUE}/my-data?c={c}").get_data(as_text=True)
    assert "No longer refundable" in text_of(page, "paid-1") and "¥90.00" in text_of(page, "paid-1")
    erased = client.post(ERASE, data={"confirm": "1", "c": c})
    assert erased.status_code == 200
    done = erased.get_data(as_text=True)
    kept_url = re.search(r'<li id="kept-1"><a href="([^"]+)"', done).group(1).replace("&amp;", "&")
    keeper = store.booking(VENUE, code).client
    assert keeper not in ("", "anon-erase-paid")  # the ticket names the keeper: nothing else of hers
    ticket = client.get(kept_url)
    assert ticket.status_code == 200 and code in ticket.get_data(as_text=True)
    assert erased.headers.getlist("Set-Cookie") and any(
        cookie.startswith(cookie_name(VENUE) + "=") for cookie in erased.headers.getlist("Set-Cookie"))
    assert client.get(f"{CINEMA}/ticket/{code}?c={c}").status_code == 200  # this browser keeps the keeper
    assert app.test_client().get(f"{CINEMA}/ticket/{code}?c={c}").status_code == 404  # her own token went with her
    assert pay.order(VENUE, order_id).status == "paid"  # kept: nothing refunded, nothing taken
    # Once the show is over, the payments sweep erases the keeper: the link opens nothing, the seat is nobody's.
    starts = store.showtime(VENUE, store.booking(VENUE, code).show_id).starts_at
    monkeypatch.setattr(pay, "clock", lambda: int((starts + KEPT_AFTER_START_S - 60) * 1000))
    pay.sweep(VENUE)
    assert store.booking(VENUE, code).client == keeper  # not yet over: still kept
    monkeypatch.setattr(pay, "clock", lambda: int((starts + KEPT_AFTER_START_S + 60) * 1000))
    pay.sweep(VENUE)
    assert store.booking(VENUE, code).client == ""
    assert not app.extensions["mallportal"].db.exists(CinemaKeys(VENUE).client_tickets(keeper))
    fresh = app.test_client()  # a browser without the keeper's cookie
    assert fresh.get(kept_url).status_code == 404


def test_a_paid_flash_sale_and_a_group_deposit_are_listed_and_kept_with_their_codes(mall, sandbox, pay):
    app, client, _store, c = mall
    db = app.extensions["mallportal"].db
    now = time.time()
    activities = ActivityStore(db)
    sale, group = sale_and_group(activities, VENUE, now)
    stock = app.extensions[STORES]["activities.sale"]
    with app.test_request_context():
        orders = [buy(VENUE, sale, "anon-erase-paid", "http://back.example/", stock),
                  pay_deposit(VENUE, group, "anon-erase-paid", 12000, "http://back.example/")]
    for order in orders:
        approve(sandbox, order.id, client, c)
    codes = activities.joined(VENUE, "anon-erase-paid", [sale.id, group.id])
    assert len(codes) == 2
    page = client.get(f"/v/{VENUE}/my-data?c={c}&lang=zh").get_data(as_text=True)
    listed = text_of(page, "held-paid")
    assert "耳机" in listed and "¥99.00" in listed and "火锅" in listed and "¥120.00" in listed
    erased = client.post(ERASE, data={"confirm": "1", "c": c})
    assert erased.status_code == 200
    urls = [u.replace("&amp;", "&") for u in re.findall(r'<li id="kept-\d"><a href="([^"]+)"', erased.get_data(
        as_text=True))]
    assert len(urls) == 2
    for item_id in (sale.id, group.id):
        [url] = [url for url in urls if f"/activities/{item_id}?" in url]
        assert codes[item_id] in client.get(url).get_data(as_text=True)  # her confirmation code, kept
    [keeper] = {k.decode() for k in db.hkeys(DepositKeys(VENUE).deposits(group.id))}
    assert keeper != "anon-erase-paid" and activities.joined(VENUE, keeper, [sale.id, group.id]) == codes
    assert [pay.order(VENUE, o.id).status for o in orders] == ["paid", "paid"]
    assert activities.joined(VENUE, "anon-erase-paid", [sale.id, group.id]) == {}
    # The keeper's own privacy page (this browser's cookie) lists them again: a second erasure keeps them too.
    again = text_of(client.get(f"/v/{VENUE}/my-data?lang=zh").get_data(as_text=True), "held-paid")
    assert "耳机" in again and "¥120.00" in again


def test_a_paid_preorder_for_a_waiting_number_holds_the_erasure_back_until_given_up(pay_mall, pay, pay_portal,
                                                                                      sandbox):
    app, client, c = open_restaurant(pay_mall)
    assert client.post(f"{QUEUE}/take", data={"party": "2", "c": c}).status_code == 303
    order_id = order_of(preorder(client, c, qty_m1="2", qty_m4="1"))
    approve_preorder(sandbox, pay_portal[1], pay, order_id)
    listed = text_of(client.get(f"/v/{VENUE}/my-data?c={c}").get_data(as_text=True), "held-paid")
    assert "¥82.00" in listed and "Refundable" in listed
    assert client.post(ERASE, data={"confirm": "1", "c": c}).status_code == 409
    assert pay.order(VENUE, order_id).status == "paid"  # nothing refunded, nothing erased: her number stands
    ticket = re.search(r'name="ticket" value="([^"]+)"', client.get(f"{QUEUE}?c={c}").get_data(as_text=True)).group(1)
    assert client.post(f"{QUEUE}/cancel", data={"ticket": ticket, "c": c}).status_code == 303  # given up: refunded
    assert pay.order(VENUE, order_id).status == "refunded"
    assert client.post(ERASE, data={"confirm": "1", "c": c}).status_code == 200
