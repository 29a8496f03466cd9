"""A restaurant's first week with the queue (found against the demo mall): a settings change that would strand
coming bookings or waiting parties is refused, naming them (`in_use`); a stale tab's Seat / No-show goes back to the
line saying what happened, and a double-tapped Call next calls one party; a menu row saved from a stale tab writes
only what it changed; opening hours typed on a Chinese keyboard are taken."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import lightapps.queue as queue_app
from lightapps.queue import rules
from lightapps.queue.store import QueueStore
from portal.apps import edits
from portal.auth import AuditLog
from tests.owner.test_owner_switch_safety import form_of, refusal, save

CONSOLE = "/console/apps/queue/demo/jade"
ZONE = "jade"  # the demo runs the queue there: A:1-2,B:3-4,C:5-12, 11:00-21:00, 30-minute slots


@pytest.fixture
def queue(svc, console) -> QueueStore:
    """The queue's store (the demo's time zone is the default), jade's owner logged in."""
    console.login(ZONE)
    return QueueStore(svc.db)


def tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()


def settings(svc, **changes) -> dict:
    """Jade's settings form as saved now, with `changes`."""
    return {**form_of(svc.zone_apps.get("demo", ZONE)[1]), "app": "queue", **changes}


# ---- settings that would strand bookings and numbers ------------------------------------------------------------


def test_hours_that_leave_coming_bookings_out_are_refused_naming_them(queue, svc, client, console):
    day, before = tomorrow(), svc.zone_apps.get("demo", ZONE)
    booked = [queue.reserve("demo", ZONE, day, "19:00", 2, "A", f"shopper-{n}", capacity=4).value for n in (1, 2)]
    resp = save(client, console, ZONE, settings(svc, open_hours="11:00-15:00", slot_minutes="45"))
    assert resp.status_code == 422
    words = refusal(resp)
    assert "2 table bookings to come are not at reservation times" in words and f"{day} 19:00, {day} 19:00" in words
    assert "cancel them in the reservations first" in words
    assert svc.zone_apps.get("demo", ZONE) == before  # nothing stored
    for rid in booked:
        assert queue.end_reservation("demo", ZONE, rid, "CANCELED").ok
    assert save(client, console, ZONE, settings(svc, open_hours="11:00-15:00", slot_minutes="45")).status_code == 303
    assert svc.zone_apps.get("demo", ZONE)[1]["open_hours"] == "11:00-15:00"


def test_a_slot_length_is_refused_only_where_a_booking_falls_off_its_times(queue, svc, client, console):
    assert queue.reserve("demo", ZONE, tomorrow(), "12:00", 2, "A", "shopper-1", capacity=4).ok
    resp = save(client, console, ZONE, settings(svc, slot_minutes="45"))  # 11:00, 11:45, 12:30: no 12:00
    assert resp.status_code == 422 and "1 table booking to come is not at a reservation time" in refusal(resp)
    assert save(client, console, ZONE, settings(svc, slot_minutes="60")).status_code == 303  # 12:00 still is
    assert svc.zone_apps.get("demo", ZONE)[1]["slot_minutes"] == 60


def test_a_booking_whose_time_has_passed_does_not_hold_the_hours(queue, svc, client, console, monkeypatch):
    """Left BOOKED after its time (not marked arrived): the day's list is where it is dealt with."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert queue.reserve("demo", ZONE, today.isoformat(), "12:00", 2, "A", "shopper-1", capacity=4).ok
    afternoon = datetime.fromisoformat(f"{today}T16:00").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(queue_app, "venue_now", lambda venue=None: afternoon)
    assert save(client, console, ZONE, settings(svc, open_hours="17:00-22:00")).status_code == 303


def test_classes_that_no_longer_seat_a_waiting_partys_size_are_refused(queue, svc, client, console):
    before = svc.zone_apps.get("demo", ZONE)
    assert queue.take("demo", ZONE, "A", 2, "shopper-1").value == "A001"
    assert queue.take("demo", ZONE, "A", 1, "shopper-2").ok  # a party of 1 still fits A:1
    resp = save(client, console, ZONE, settings(svc, table_classes="A:1,B:2-4,C:5-8"))
    assert resp.status_code == 422
    assert "1 party holds a number in a class that no longer seats its size (A001 (2 people))" in refusal(resp)
    assert svc.zone_apps.get("demo", ZONE) == before
    assert save(client, console, ZONE, settings(svc, table_classes="A:1-2,B:3-4,C:5-8")).status_code == 303


# ---- the console's line: stale tabs and double taps -------------------------------------------------------------


def test_a_stale_tabs_seat_or_no_show_goes_back_to_the_line_saying_why(queue, client, console):
    ticket = queue.take("demo", ZONE, "A", 2, "shopper-1").value
    assert queue.call_next("demo", ZONE, "A").ok
    csrf = console.csrf()
    assert client.post(f"{CONSOLE}/tickets/{ticket}/seat", data={"csrf_token": csrf}).status_code == 303
    for action in ("seat", "no-show"):  # the same buttons again, from a tab showing A001 still called
        resp = client.post(f"{CONSOLE}/tickets/{ticket}/{action}?lang=en", data={"csrf_token": csrf})
        assert resp.status_code == 303 and resp.headers["Location"].endswith(CONSOLE + "/")
        page = client.get(CONSOLE + "/?lang=en").get_data(as_text=True)
        assert "A001 was already seated." in page and "SEATED" not in page
    zh = client.post(f"{CONSOLE}/tickets/{ticket}/seat?lang=zh", data={"csrf_token": csrf}, follow_redirects=True)
    assert zh.status_code == 200 and "SEATED" not in zh.get_data(as_text=True)  # no raw state name
    script = client.post(f"{CONSOLE}/tickets/{ticket}/seat", data={"csrf_token": csrf},
                         headers={"Accept": "application/json"})
    assert script.status_code == 409
    assert queue.ticket("demo", ZONE, ticket)["state"] == "SEATED"


def nonce_of(page: str, cls: str) -> str:
    form = re.search(rf'name="cls" value="{cls}">\s*<input type="hidden" name="nonce" value="([^"]+)"', page)
    return form.group(1)


def test_a_double_tapped_call_next_calls_one_party(queue, svc, client, console):
    for n in (1, 2):
        queue.take("demo", ZONE, "A", 2, f"shopper-{n}")
    nonce, csrf = nonce_of(client.get(CONSOLE + "/").get_data(as_text=True), "A"), console.csrf()
    for _tap in range(2):
        resp = client.post(f"{CONSOLE}/call-next", data={"cls": "A", "nonce": nonce, "csrf_token": csrf},
                           headers={"Accept": "application/json"})
        assert resp.get_json() == {"called": "A001"}  # the second tap: whom the first called
    assert queue.call_log("demo", ZONE) == ["A001"] and queue.ticket("demo", ZONE, "A002")["state"] == "WAITING"
    calls = [e for e in AuditLog(svc.db).recent("demo", 50) if e["action"] == "queue.call_next"]
    assert len(calls) == 1  # audited (and the party told) once
    nonce = nonce_of(client.get(CONSOLE + "/").get_data(as_text=True), "A")  # the page again: a new form
    assert client.post(f"{CONSOLE}/call-next", data={"cls": "A", "nonce": nonce, "csrf_token": csrf}).status_code == 303
    assert queue.call_log("demo", ZONE) == ["A001", "A002"]


def test_a_call_next_form_token_is_kept_per_class_and_answers_nothing_when_nobody_waits(db):
    queue = QueueStore(db)
    assert queue.call_next("demo", ZONE, "A", once="x" * 22).reason == "EMPTY"  # nothing called: nothing kept
    queue.take("demo", ZONE, "A", 2, "shopper-1")
    queue.take("demo", ZONE, "B", 3, "shopper-2")
    assert queue.call_next("demo", ZONE, "A", once="x" * 22).value == "A001"
    assert queue.call_next("demo", ZONE, "B", once="x" * 22).value == "B001"  # another class's form
    again = queue.call_next("demo", ZONE, "B", once="x" * 22)
    assert (again.ok, again.reason, again.value, again.day) == (True, "REPLAY", "B001", queue.today("demo"))


# ---- a menu row saved from a stale tab ---------------------------------------------------------------------------


def row_form(page: str, item: str) -> dict:
    """What row `item`'s Save sends, as the page shows it."""
    data = {}
    for tag in re.findall(r"<input [^>]*>", page):
        attrs = dict(re.findall(r'([a-z_-]+)="([^"]*)"', tag))
        if attrs.get("form") == f"edit-{item}" and (attrs.get("type") != "checkbox" or "checked" in tag):
            data[attrs["name"]] = html.unescape(attrs.get("value", "on"))
    form = page[page.index(f'id="edit-{item}"'):]
    data["loaded"] = html.unescape(re.search(r'name="loaded" value="([^"]*)"', form).group(1))
    return data


def test_a_stale_menu_row_writes_only_what_it_changed(queue, client, console):
    csrf = console.csrf()
    stale = row_form(client.get(CONSOLE + "/menu").get_data(as_text=True), "m2")  # Siu mai, 28.00, available
    assert client.post(f"{CONSOLE}/menu/m2", data={**stale, "price": "30", "csrf_token": csrf}).status_code == 303
    unticked = {k: v for k, v in stale.items() if k != "available"}
    assert client.post(f"{CONSOLE}/menu/m2", data={**unticked, "csrf_token": csrf}).status_code == 303
    item = queue.menu_item("demo", ZONE, "m2")
    assert (item["price"], item["available"]) == (3000, False)  # the other tab's price kept


def test_a_field_changed_in_both_tabs_is_refused_and_kept_to_save_again(queue, client, console):
    csrf = console.csrf()
    stale = row_form(client.get(CONSOLE + "/menu").get_data(as_text=True), "m2")
    assert client.post(f"{CONSOLE}/menu/m2", data={**stale, "price": "30", "csrf_token": csrf}).status_code == 303
    resp = client.post(f"{CONSOLE}/menu/m2?lang=en", data={**stale, "price": "35", "csrf_token": csrf})
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "Changed elsewhere since you opened this page: Price: 30.00." in html.unescape(page)
    assert queue.menu_item("demo", ZONE, "m2")["price"] == 3000  # nothing written
    again = row_form(page, "m2")
    assert again["price"] == "35"  # what the owner typed, shown again
    assert client.post(f"{CONSOLE}/menu/m2", data={**again, "csrf_token": csrf}).status_code == 303
    assert queue.menu_item("demo", ZONE, "m2")["price"] == 3500


def test_a_menu_write_is_refused_over_a_version_it_was_not_merged_with(db):
    queue = QueueStore(db)
    item = queue.put_menu_item("demo", ZONE, "Siu mai", "烧卖", 2800).value
    _item, version = queue.menu_item_versioned("demo", ZONE, item)
    assert queue.put_menu_item("demo", ZONE, "Siu mai", "烧卖", 3000, item_id=item, expected=version).ok
    stale = queue.put_menu_item("demo", ZONE, "Siu mai", "烧卖", 2600, item_id=item, expected=version)
    assert stale.reason == "CHANGED" and queue.menu_item("demo", ZONE, item)["price"] == 3000
    assert queue.menu_item_versioned("demo", ZONE, "m99") == (None, edits.version(None))


# ---- opening hours as typed on a Chinese keyboard ----------------------------------------------------------------


@pytest.mark.parametrize("typed", ["11：00－21：00", "11:00 - 21:00", "１１：００—２１：００", "11:00至21:00",
                                   "11:00～21:00"])
def test_opening_hours_typed_on_a_chinese_keyboard_are_taken(typed):
    assert rules.parse_hours(typed) == (11 * 60, 21 * 60)


def test_the_hours_field_takes_a_full_width_colon_and_has_room_for_spaces(queue, svc, client, console):
    page = client.get("/console/owner/demo/zone/jade").get_data(as_text=True)
    box = re.search(r'<input [^>]*id="cfg-open_hours"[^>]*>', page).group(0)
    assert int(re.search(r'maxlength="(\d+)"', box).group(1)) >= len("11:00 - 21:00")
    assert save(client, console, ZONE, settings(svc, open_hours="11：00-21：00")).status_code == 303
    assert svc.zone_apps.get("demo", ZONE)[1]["open_hours"] == "11:00-21:00"
