"""A refused table booking shows the booking form again with the reason and everything the shopper typed
(party, time, name, number, note), instead of an error page that throws it all away; nothing is booked,
kept or spent. The date tabs carry a short localized day ("3 Thu", "3日周四")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lightapps.queue.store import QueueStore
from portal.notify.contacts import ContactStore
from portal.shopper import cookie_name, token_store

BASE = "/v/demo/queue/jade"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def day(offset: int = 1) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=offset)).isoformat()  # the venue's


@pytest.fixture
def shopper(client, demo) -> tuple[str, str]:
    """A new shopper's (`c` token, shopper id), as the landing page hands the token out."""
    client.delete_cookie(cookie_name("demo"))
    token = re.search(r'name="c" value="([^"]+)"', client.get(BASE).get_data(as_text=True)).group(1)
    client.delete_cookie(cookie_name("demo"))
    return token, token_store(client.application).resolve(token).client


def untouched(db) -> dict:
    """Every booking and budget key of the demo venue, to show a refusal stored and spent nothing."""
    keys = sorted(db.keys("mp:{demo}:queue:*") + db.keys("mp:{demo}:budget:*"))
    return {key: db.dump(key) for key in keys}


def radio(page: str, slot: str) -> str:
    return re.search(rf'<input type="radio" name="slot" value="{slot}"[^>]*>', page).group(0)


def test_a_mistyped_number_keeps_the_whole_form(client, svc, db, shopper):
    token, client_id = shopper
    before = untouched(db)
    form = {"party": "4", "date": day(), "slot": "12:30", "name": "张三", "phone": "1380013800",
            "note": "需要儿童椅", "c": token}
    resp = client.post(f"{BASE}/reserve", data=form, headers=ZH)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="reserve-error"' in page and "这不是有效的电话号码。" in page
    assert 'value="张三"' in page and 'value="1380013800"' in page and 'value="需要儿童椅"' in page
    assert re.search(r'id="party"[^>]*value="4"', page)
    assert " checked" in radio(page, "12:30") and " checked" not in radio(page, "12:00")
    assert re.search(r'id="guest-phone"[^>]*aria-invalid="true"', page)  # the field the message is about
    assert f'name="date" value="{day()}"' in page and f'name="c" value="{token}"' in page
    assert untouched(db) == before  # no booking, no budget spent
    assert ContactStore(svc.db, svc.settings.phone_key).get("demo", client_id).phone is None


@pytest.mark.parametrize(("change", "message", "field"), [
    ({"party": "0"}, "Party size must be a whole number from 1 to 12.", "party"),
    ({"slot": "03:00"}, "Pick one of the listed times.", None),
    ({"name": "n" * 41}, "The name may have at most 40 characters.", "guest-name"),
    ({"note": "x" * 121}, "The note may have at most 120 characters.", "guest-note"),
])
def test_each_refusal_shows_the_form_again(client, db, shopper, change, message, field):
    token, _client_id = shopper
    before = untouched(db)
    form = {"party": "3", "date": day(2), "slot": "13:00", "name": "Li Wei", "note": "window seat",
            "phone": "13800138000", "c": token, **change}  # a good number: refused before it, nothing is spent
    resp = client.post(f"{BASE}/reserve", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in page and 'id="reserve"' in page
    for name in ("name", "note", "phone"):
        assert f'value="{form[name]}"' in page
    assert f'name="date" value="{day(2)}"' in page  # the day the shopper chose, its tab current
    assert re.search(rf'href="[^"]*date={day(2)}[^"]*" aria-current="page"', page)
    if field:
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page)
    assert untouched(db) == before


def test_a_day_no_longer_bookable_shows_todays_form_with_what_was_typed(client, db, shopper):
    """A form left open past the last bookable day (or a tampered date): today's times, the rest kept."""
    token, _client_id = shopper
    before = untouched(db)
    resp = client.post(f"{BASE}/reserve", data={"party": "2", "date": "2020-01-01", "slot": "12:00",
                                                "name": "Ann", "c": token})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Pick a date within the next 7 days." in page
    assert f'name="date" value="{day(0)}"' in page and 'value="Ann"' in page
    assert re.search(r'id="reserve-error"[^>]*autofocus', page)  # about no field: the message takes the focus
    assert untouched(db) == before


def test_a_slot_taken_meanwhile_shows_the_form_again(client, db, shopper):
    for i in range(4):  # the demo's Jade capacity: 4 parties a slot
        assert QueueStore(db).reserve("demo", "jade", day(), "18:00", 2, "A", f"c{i}", capacity=4).ok
    token, _client_id = shopper
    resp = client.post(f"{BASE}/reserve", data={"party": "2", "date": day(), "slot": "18:00", "name": "Bo",
                                                "c": token})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "18:00 is fully booked: please pick another time." in page
    assert 'value="Bo"' in page and " disabled" in radio(page, "18:00")
    focused = re.findall(r'<input type="radio" name="slot" value="([^"]+)"[^>]*autofocus', page)
    assert len(focused) == 1 and focused[0] != "18:00" and " disabled" not in radio(page, focused[0])
    assert QueueStore(db).slot_counts("demo", "jade", day()) == {"18:00": 4}


def test_date_tabs_name_the_weekday_in_the_pages_language(client, shopper):
    token, _client_id = shopper
    tomorrow = datetime.fromisoformat(day())
    en = client.get(f"{BASE}/reserve?c={token}&lang=en").get_data(as_text=True)
    zh = client.get(f"{BASE}/reserve?c={token}&lang=zh").get_data(as_text=True)
    assert f">{tomorrow.day} {tomorrow:%a}</a>" in en
    weekday = "一二三四五六日"[tomorrow.weekday()]
    assert f">{tomorrow.day}日周{weekday}</a>" in zh
