"""A restaurant open past midnight (``17:00-02:00``, the venue's clock): its owner can save those hours, with
"numbers only during opening hours" it gives numbers until 02:00 (01:30 belongs to the evening that started the
day before), and its tables can be booked until closing. Bad hours are refused with a clear message and nothing
saved. The queue's clock is set (queue_clock): nothing here depends on the real time of day."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lightapps.queue import APP, rules
from lightapps.queue.store import QueueStore
from lightapps.queue.tests.queue_fixtures import queue_clock, venue_time
from portal.shopper import cookie_name

BASE = "/v/demo/queue/jade"
OWNER_FORM = "/console/owner/demo/zone/jade"


def venue_date(day_offset: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=day_offset)).isoformat()


def new_shopper(client) -> str:
    client.delete_cookie(cookie_name("demo"))
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie(cookie_name("demo"))
    return re.search(r'name="c" value="([^"]+)"', page).group(1)


# ---- the rules -----------------------------------------------------------------------------------------------


def test_hours_past_midnight_parse_and_bad_hours_are_refused():
    assert rules.parse_hours("17:00-02:00") == (17 * 60, 2 * 60)  # closing the next day
    assert rules.parse_hours(" 22:30 - 6:00 ") == (22 * 60 + 30, 6 * 60)
    assert rules.parse_hours("18:00-00:00") == rules.parse_hours("18:00-24:00") == (18 * 60, 24 * 60)
    assert rules.parse_hours("00:00-24:00") == (0, 24 * 60)  # day and night
    assert rules.parse_hours("11:00-21:00") == (660, 1260)
    assert rules.parse_hours("１７:００-０２:００") == (17 * 60, 2 * 60)  # full-width digits, as before
    for bad, message in (("17:00-17:00", "must differ"), ("00:00-00:00", "must differ"),
                         ("24:00-02:00", "must look like"), ("17:00-02:60", "must look like"),
                         ("17:00-24:30", "must look like"), ("5pm-2am", "must look like"), ("", "must look like"),
                         ("17:00-02:00-03:00", "must look like")):
        with pytest.raises(rules.RuleError, match=message):
            rules.parse_hours(bad)


def test_open_check_for_hours_past_midnight():
    late = rules.parse_hours("17:00-02:00")
    for hhmm, is_open in (("16:59", False), ("17:00", True), ("23:59", True), ("00:00", True), ("01:30", True),
                          ("01:59", True), ("02:00", False), ("11:00", False)):
        h, m = map(int, hhmm.split(":"))
        assert rules.is_open(late, h * 60 + m) is is_open, hhmm
    day = rules.parse_hours("11:00-21:00")
    assert rules.is_open(day, 660) and not rules.is_open(day, 1260) and not rules.is_open(day, 90)
    assert all(rules.is_open(rules.parse_hours("00:00-24:00"), m) for m in (0, 719, 1439))


def test_reservation_slots_run_until_closing_past_midnight():
    """A date's slots on the venue's clock: its early hours (the evening before running on) come first."""
    assert rules.slots("17:00-01:00", 60) == ["00:00", "17:00", "18:00", "19:00", "20:00", "21:00", "22:00", "23:00"]
    late = rules.slots("17:15-02:00", 30)
    assert late[:4] == ["00:15", "00:45", "01:15", "17:15"] and late[-1] == "23:45"  # 01:45 would end at 02:15
    assert rules.slots("18:00-24:00", 60)[-1] == "23:00"
    assert rules.slots("11:00-13:00", 30) == ["11:00", "11:30", "12:00", "12:30"]


def test_the_config_keeps_hours_past_midnight_and_refuses_bad_ones():
    assert APP.validate_config({"table_classes": "A:1-2", "open_hours": "17:00-02:00"})["open_hours"] == "17:00-02:00"
    assert APP.validate_config({"table_classes": "A:1-2", "open_hours": "18:00-00:00"})["open_hours"] == "18:00-24:00"
    for bad in ("17:00-17:00", "17:00-26:00", "late"):
        with pytest.raises(ValueError):
            APP.validate_config({"table_classes": "A:1-2", "open_hours": bad})


# ---- through the pages ---------------------------------------------------------------------------------------


def _owner_form(svc, console, **changes) -> dict:
    config = svc.zone_apps.config_for("demo", "jade", "queue")
    form = {k: ("on" if v is True else v) for k, v in config.items() if v is not False}
    return {**form, "csrf_token": console.csrf(), "app": "queue", **changes}


def test_the_owner_saves_hours_past_midnight_and_bad_hours_store_nothing(client, console, svc):
    console.login("jade")
    before = svc.zone_apps.get("demo", "jade")
    for bad, message in (("17:00-17:00", "Opening and closing times must differ"),
                         ("17:00-25:00", "Opening hours must look like 11:00-21:00")):
        resp = client.post(OWNER_FORM + "?lang=en", data=_owner_form(svc, console, open_hours=bad))
        assert resp.status_code == 422 and message in resp.get_data(as_text=True), bad
        assert svc.zone_apps.get("demo", "jade") == before
    resp = client.post(OWNER_FORM, data=_owner_form(svc, console, open_hours="17:00-02:00", numbers_in_hours="on"))
    assert resp.status_code == 303
    saved = svc.zone_apps.config_for("demo", "jade", "queue")
    assert saved["open_hours"] == "17:00-02:00" and saved["numbers_in_hours"] is True


@pytest.fixture
def late_night(svc, demo):
    """Jade Tea House as a late-night restaurant giving numbers only while open, 17:00-02:00 (as the owner's form
    saves them: test_the_owner_saves_hours_past_midnight_and_bad_hours_store_nothing)."""
    config = svc.zone_apps.config_for("demo", "jade", "queue")
    svc.zone_apps.set("demo", "jade", "queue", {**config, "open_hours": "17:00-02:00", "numbers_in_hours": True})


def test_a_late_night_restaurant_gives_numbers_after_midnight_until_closing(client, db, late_night):
    for at, status in (("01:30", 303), ("23:00", 303), ("17:00", 303), ("02:00", 409), ("16:59", 409),
                       ("11:00", 409)):
        with queue_clock(venue_time(1, at)):
            resp = client.post(f"{BASE}/take", data={"party": "2", "c": new_shopper(client)})
            assert resp.status_code == status, at
            if status == 409:
                assert "Numbers are given out from 17:00 to 02:00" in resp.get_data(as_text=True)
    first = QueueStore(db).ticket("demo", "jade", "A001", venue_date(1).replace("-", ""))
    assert first["created"] == venue_time(1, "01:30")  # the day's first number, taken after midnight


def test_a_table_after_midnight_can_be_booked(client, late_night, db):
    """Slot 00:30 of a date is that date's 00:30 (the evening before running on): listed, bookable, and its
    reminder and past-check use that time."""
    shopper = new_shopper(client)
    tomorrow = venue_date(1)
    page = client.get(f"{BASE}/reserve?c={shopper}&date={tomorrow}").get_data(as_text=True)
    assert 'value="00:30"' in page and 'value="23:30"' in page and 'value="01:30"' in page
    assert 'value="02:00"' not in page and 'value="12:00"' not in page
    resp = client.post(f"{BASE}/reserve", data={"party": "2", "date": tomorrow, "slot": "00:30", "c": shopper})
    assert resp.status_code == 303
    booked = QueueStore(db).reservations("demo", "jade", tomorrow)
    assert [(b["slot"], b["party"], b["state"]) for b in booked] == [("00:30", 2, "BOOKED")]
