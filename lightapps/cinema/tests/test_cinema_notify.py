"""The ticket reaches the shopper outside the sign-in sheet: issued -> a message on their channels; "text me
this ticket" -> an SMS with a link (PORTAL_URL, a fresh shopper token) that opens the ticket page in any
browser. Bad numbers and other shoppers' tickets are refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from cinema_fixtures import mall_fixture, token_fixture  # noqa: F401 (the fixtures)

from core.settings import DEFAULT_BUDGETS
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.notify.contacts import ContactStore
from portal.notify.outbox import Outbox
from portal.notify.sms import LoggingSmsProvider, SmsChannel, dev_sms
from portal.notify.worker import NotifyWorker

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"


@pytest.fixture
def contacts(svc):
    return ContactStore(svc.db, svc.settings.phone_key)


def deliver(svc, db):
    settings = svc.settings.with_(portal_url="https://portal.mall.example")
    channel = SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=10)
    NotifyWorker(db, settings, [channel]).drain(VENUE)


def book(client, svc, c) -> str:
    item = ShowtimeInput("Test Film", "测试电影", "1", int(time.time()) + 3600, 4200)
    show_id = CinemaStore(svc.db).upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]
    location = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["A4", "A5"], "c": c}).headers["Location"]
    hold_token = urlsplit(location).path.rsplit("/", 1)[1]
    done = client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c})
    return urlsplit(done.headers["Location"]).path.rsplit("/", 1)[1]


def test_text_me_this_ticket(app, client, mall, svc, db, token):
    c = token()
    code = book(client, svc, c)
    deliver(svc, db)
    assert dev_sms(db, VENUE) == [] and Outbox(db).stats(VENUE)["no_channel"] == 1  # no opt-in yet: nothing

    page = client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert "Text me this ticket" in page
    assert client.post(f"{BASE}/ticket/{code}/text", data={"phone": "138-0013-8000", "c": c}).status_code == 303
    assert client.post(f"{BASE}/ticket/{code}/text", data={"phone": "138-0013-8000", "c": c}).status_code == 303
    deliver(svc, db)
    [sms] = dev_sms(db, VENUE, "shopper-1")  # a double tap is one text
    assert sms["event"] == "cinema.ticket" and code in sms["text"] and "A4, A5" in sms["text"]
    link = sms["text"].split()[-1]
    assert link.startswith(f"https://portal.mall.example{BASE}/ticket/{code}?c=")
    fresh = parse_qs(urlsplit(link).query)["c"][0]
    assert fresh != c
    # The link opens the ticket in another browser (no cookie, nothing but the link).
    other_browser = app.test_client()
    ticket = other_browser.get(f"{BASE}/ticket/{code}?c={fresh}")
    assert ticket.status_code == 200 and code in ticket.get_data(as_text=True)
    assert "+86•••••••8000" in ticket.get_data(as_text=True)


def test_a_later_ticket_is_sent_to_the_number_given_before(app, client, mall, svc, db, token):
    c = token()
    first = book(client, svc, c)
    deliver(svc, db)  # issued before the shopper opted in: nothing to send
    client.post(f"{BASE}/ticket/{first}/text", data={"phone": "13800138000", "c": c})
    deliver(svc, db)
    second = book(client, svc, c)
    deliver(svc, db)
    texts = [s["text"] for s in dev_sms(db, VENUE, "shopper-1")]  # newest first
    assert len(texts) == 2 and second in texts[0] and first in texts[1]


def test_text_ticket_bad_input_and_who_may_ask(app, client, mall, svc, db, token, contacts):
    c = token()
    code = book(client, svc, c)
    for bad in ("", "123", "not a phone", "+1 555"):
        response = client.post(f"{BASE}/ticket/{code}/text", data={"phone": bad, "c": c})
        assert response.status_code == 400, bad
        page = response.get_data(as_text=True)  # the ticket, the reason by the form, the number as typed
        assert 'id="notify-error" role="alert"' in page and f'value="{bad}" aria-invalid="true"' in page, bad
        assert 'id="error"' not in page and 'id="qr"' in page
    other = token("someone-else")
    assert client.post(f"{BASE}/ticket/{code}/text", data={"phone": "13800138000", "c": other}).status_code == 404
    assert client.post(f"{BASE}/ticket/{code}/text", data={"phone": "13800138000"}).status_code == 404
    assert client.post(f"{BASE}/ticket/NOSUCH/text", data={"phone": "13800138000", "c": c}).status_code == 404
    assert contacts.get(VENUE, "shopper-1").phone is None
    assert contacts.get(VENUE, "someone-else").phone is None
    deliver(svc, db)
    assert dev_sms(db, VENUE) == []


def test_texts_to_many_numbers_are_budgeted_and_each_goes_to_its_own_number(app, client, mall, svc, db, token):
    """SMS pumping: the "notify.sms" budgets (per client IP, shopper, number, venue) as for sign-up codes. Three
    shoppers on one address asking for 11 texts each get only the IP's budget sent, and each text goes to the
    number it was asked for, not to the last number set."""
    ip_limit = DEFAULT_BUDGETS["notify.sms.ip"][0]
    statuses, asked = [], []
    for who in ("s-a", "s-b", "s-c"):
        c = token(who)
        code = book(client, svc, c)
        deliver(svc, db)  # the ticket itself, issued before any number was given: no channel
        for _ in range(11):
            phone = f"1380013{len(statuses):04d}"  # a new number each time
            status = client.post(f"{BASE}/ticket/{code}/text", data={"phone": phone, "c": c}).status_code
            statuses.append(status)
            if status == 303:
                asked.append(phone)
            else:
                assert status == 429
    assert statuses.count(303) == ip_limit == len(asked)
    deliver(svc, db)
    sent = dev_sms(db, VENUE)
    assert sorted(s["to"][-4:] for s in sent) == sorted(p[-4:] for p in asked)


def test_one_number_gets_few_ticket_texts_whoever_asks(app, mall, svc, db, token):
    limit = DEFAULT_BUDGETS["notify.sms.phone"][0]
    statuses = []
    for i in range(limit + 2):
        browser = app.test_client()
        c = token(f"s-p{i}")
        code = book(browser, svc, c)
        deliver(svc, db)  # the ticket itself, issued before any number was given: no channel
        statuses.append(browser.post(f"{BASE}/ticket/{code}/text", data={"phone": "13800139999", "c": c},
                                     environ_base={"REMOTE_ADDR": f"10.4.0.{i}"}).status_code)
    assert statuses == [303] * limit + [429] * 2
    deliver(svc, db)
    assert len(dev_sms(db, VENUE)) == limit
