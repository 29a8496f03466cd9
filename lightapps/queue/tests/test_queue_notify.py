"""The queue reaches the shopper after the page is closed: a number for texts on the ticket page, a text
when the host calls the number, a reminder before a booked table (withdrawn when the booking is cancelled).
Delivered by the notification worker through the development SMS sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.queue.store import QueueStore
from portal.captive.config import PortalConfigStore
from portal.notify.contacts import ContactStore
from portal.notify.outbox import NotifyKeys
from portal.notify.sms import LoggingSmsProvider, SmsChannel, dev_sms
from portal.notify.worker import NotifyWorker
from portal.shopper import cookie_name, token_store

BASE = "/v/demo/queue/jade"
CONSOLE = "/console/apps/queue/demo/jade"


@pytest.fixture
def contacts(svc):
    return ContactStore(svc.db, svc.settings.phone_key)


def deliver(svc, db, now=None):
    channel = SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=10)
    NotifyWorker(db, svc.settings, [channel]).drain("demo", now=now)


def new_shopper(app, client) -> tuple[str, str]:
    import re

    client.delete_cookie(cookie_name("demo"))
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    return token, token_store(app).resolve(token).client


def a_zone_on_another_day_than_beijing() -> str:
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 h apart: one of them is on another day than Beijing."""
    beijing = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return next(z for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago") if datetime.now(ZoneInfo(z)).date() != beijing)


def test_called_number_is_texted_in_the_shoppers_language(app, client, console, svc, db):
    # The venue's service day, not the default zone's: the console finds the called ticket on the venue's day.
    PortalConfigStore(db).set("demo", {"time_zone": a_zone_on_another_day_than_beijing()})
    token, shopper = new_shopper(app, client)
    client.post(f"{BASE}/take", data={"party": "2", "c": token})
    page = client.get(f"{BASE}?c={token}").get_data(as_text=True)
    assert 'id="notify"' in page and 'id="notify-phone"' in page
    assert client.post(f"{BASE}/notify", data={"phone": "138 0013 8000", "c": token, "lang": "zh"}).status_code == 303
    page = client.get(f"{BASE}?c={token}&lang=zh").get_data(as_text=True)
    assert "+86•••••••8000" in page and "13800138000" not in page

    console.login("jade")
    assert client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": console.csrf()}).status_code == 303
    deliver(svc, db)
    [sms] = dev_sms(db, "demo", shopper)
    assert sms["event"] == "queue.called" and "A001" in sms["text"] and "翡翠" in sms["text"]
    assert f"{BASE}?c=" in sms["text"]
    # Called again (a second call of the same number cannot happen; a repeated request is one text).
    deliver(svc, db)
    assert len(dev_sms(db, "demo", shopper)) == 1


def test_phone_form_bad_input_and_who_may_post(app, client, db, demo, contacts):
    token, shopper = new_shopper(app, client)
    for bad in ("", "12", "call me", "+86 138", "9" * 40):
        response = client.post(f"{BASE}/notify", data={"phone": bad, "c": token})
        assert response.status_code == 400, bad
        page = response.get_data(as_text=True)  # the queue page, the reason by the form, the number as typed
        assert 'id="notify-error" role="alert"' in page and f'value="{bad[:32]}" aria-invalid="true"' in page, bad
    client.delete_cookie(cookie_name("demo"))
    assert client.post(f"{BASE}/notify", data={"phone": "13800138000"}).status_code == 403  # no shopper token
    assert client.post(f"{BASE}/notify", data={"phone": "13800138000", "c": "demo." + "x" * 43}).status_code == 403
    assert contacts.get("demo", shopper).phone is None
    assert client.post("/v/demo/queue/atrium/notify", data={"phone": "13800138000", "c": token}).status_code == 404


def test_booking_reminder_is_scheduled_and_withdrawn(app, client, svc, db, demo):
    token, shopper = new_shopper(app, client)
    client.post(f"{BASE}/notify", data={"phone": "13800138000", "c": token})
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    assert client.post(f"{BASE}/reserve", data={"party": "3", "date": day, "slot": "12:00",
                                                "c": token}).status_code == 303
    [(key, due)] = db.zrange(NotifyKeys("demo").due(), 0, -1, withscores=True)
    assert key.decode().startswith("queue.reminder:jade:")
    assert due == datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() - 1800
    deliver(svc, db)
    assert dev_sms(db, "demo") == []  # not yet
    deliver(svc, db, now=due + 1)
    [sms] = dev_sms(db, "demo", shopper)
    assert sms["event"] == "queue.reminder" and "12:00" in sms["text"]

    # A second booking, cancelled: its reminder goes with it.
    other_day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=2)).isoformat()
    client.post(f"{BASE}/reserve", data={"party": "2", "date": other_day, "slot": "12:00", "c": token})
    assert db.zcard(NotifyKeys("demo").due()) == 1
    rid = key.decode().rsplit(":", 1)[1]
    from lightapps.queue.store import QueueStore

    other = [r for r in QueueStore(db).my_reservations("demo", "jade", shopper, [other_day])][0]
    assert other["id"] != rid
    client.post(f"{BASE}/reserve/cancel", data={"reservation": other["id"], "c": token})
    assert db.zcard(NotifyKeys("demo").due()) == 0


def test_numbers_for_texts_are_budgeted_per_number_and_per_address(app, client, db, demo, contacts):
    """Every number kept here is texted when the table is ready: the "notify.sms" budgets, as for sign-up
    codes, so one address cannot point the texts of many new shoppers at one number (or at many)."""
    limit = DEFAULT_BUDGETS["notify.sms.phone"][0]
    statuses = []
    for i in range(limit + 2):
        token, shopper = new_shopper(app, client)
        statuses.append(client.post(f"{BASE}/notify", data={"phone": "13800139999", "c": token},
                                    environ_base={"REMOTE_ADDR": f"10.5.0.{i}"}).status_code)
    assert statuses == [303] * limit + [429] * 2
    assert contacts.get("demo", shopper).phone is None  # refused: nothing kept

    ip_limit = DEFAULT_BUDGETS["notify.sms.ip"][0]
    statuses = []
    for i in range(ip_limit + 1):
        token, shopper = new_shopper(app, client)
        statuses.append(client.post(f"{BASE}/notify", data={"phone": f"1380013{i:04d}", "c": token}).status_code)
    assert statuses == [303] * ip_limit + [429]
    refused = client.post(f"{BASE}/notify", data={"phone": "13800130000", "c": token})
    page = refused.get_data(as_text=True)  # her queue page with the reason by the texts form, not a bare 429 page
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert "Too many requests from this device" in page and 'id="notify-error"' in page
    assert f'name="c" value="{token}"' in page and "Please try again in" in page
    # A booking's number for its reminder spends from the same budgets: spent, the table is booked all the same,
    # without texts, and the page says so (the number is optional; the table is what she came for).
    token, shopper = new_shopper(app, client)
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    booked = client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": "12:00", "phone": "13800138888",
                                                  "c": token})
    assert booked.status_code == 303 and "texts_wait=" in booked.headers["Location"]  # 303 after a POST
    page = client.get(booked.headers["Location"]).get_data(as_text=True)
    assert "Your table is booked, but your number was not kept for texts" in page and "Please try again in" in page
    assert [r["slot"] for r in QueueStore(db).my_reservations("demo", "jade", shopper, [day])] == ["12:00"]
    assert contacts.get("demo", shopper).phone is None
    bad = client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": "13:00", "phone": "12", "c": token})
    assert bad.status_code == 400  # a number that is no number is still the form's error, over budget or not


def test_the_number_on_file_spends_no_text_budget_again(app, client, db, demo, contacts):
    """A double tap on a booking with a number, or the next booking with the number already kept, adds no texts:
    it spends nothing, so a shopper re-typing their own number is never told they asked for too many texts."""
    limit = DEFAULT_BUDGETS["notify.sms.shopper"][0]
    token, shopper = new_shopper(app, client)
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    form = {"party": "2", "date": day, "slot": "12:00", "phone": "13800137777", "c": token}
    statuses = [client.post(f"{BASE}/reserve", data=form).status_code for _ in range(limit + 2)]
    statuses += [client.post(f"{BASE}/notify", data={"phone": "138 0013 7777", "c": token}).status_code
                 for _ in range(limit + 2)]
    assert set(statuses) == {303}
    assert contacts.get("demo", shopper).phone == "+8613800137777"
    # A new number still spends: the budget is what stands between one shopper and many numbers.
    statuses = [client.post(f"{BASE}/notify", data={"phone": f"1380013{i:04d}", "c": token}).status_code
                for i in range(limit + 1)]
    assert statuses[-1] == 429


def test_the_booked_without_texts_notice_needs_a_booking(app, client, db, demo):
    """`texts_wait` on the queue page's link (reserve's redirect after a refused number) says "Your table is
    booked..." only to a shopper holding a booking there: the same link opened by anyone else says nothing of a
    table, and cancelling the booking ends the notice too."""
    token, shopper = new_shopper(app, client)
    notice = "Your table is booked, but your number was not kept for texts"
    assert notice not in client.get(f"{BASE}?c={token}&texts_wait=120").get_data(as_text=True)
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    assert client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": "12:00", "c": token}).status_code \
        == 303
    assert notice in client.get(f"{BASE}?c={token}&texts_wait=120").get_data(as_text=True)
    [booking] = QueueStore(db).my_reservations("demo", "jade", shopper, [day])
    client.post(f"{BASE}/reserve/cancel", data={"reservation": booking["id"], "c": token})
    assert notice not in client.get(f"{BASE}?c={token}&texts_wait=120").get_data(as_text=True)


def test_texts_switched_off_say_so_and_name_no_wait(app, client, db, demo, contacts):
    """A venue that set a texts budget to 0: a number for texts is refused with no wait to wait (403 by the texts
    form), and a booking with a number is booked without texts, its page saying they are off."""
    app.extensions["budgets"].set_limit("demo", "notify.sms.venue", (0, 86400))
    token, shopper = new_shopper(app, client)
    refused = client.post(f"{BASE}/notify", data={"phone": "13800130000", "c": token})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "Retry-After" not in refused.headers and 'id="notify-error"' in page
    assert "switched off" in page and "Please try again in" not in page
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    booked = client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": "12:00", "phone": "13800138888",
                                                  "c": token})
    assert booked.status_code == 303 and "texts_wait=0" in booked.headers["Location"]
    page = client.get(booked.headers["Location"]).get_data(as_text=True)
    assert "your number was not kept: texts are switched off here for now" in page and "Please try again" not in page
    assert contacts.get("demo", shopper).phone is None
