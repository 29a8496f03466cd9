"""The owner's reservations from a phone at the host stand: a booking another phone already ended goes back to the
day's bookings with a notice in words (no error page with a state code); Cancel (which refunds a paid pre-order)
needs its box ticked, so a slip from No-show cancels nothing; the queue and reservations pages update themselves
without throwing away a ticked box."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from queue_fixtures import forget_line

from lightapps.queue.store import QueueKeys, QueueStore
from portal.auth import AuditLog
from tests.browsers import console_sign_in

CONSOLE = "/console/apps/queue/demo/jade"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()


@pytest.fixture
def booking(db, demo) -> tuple[QueueStore, str, str]:
    """(store, booking id, its day): a party of 2 booked at Jade Tea House tomorrow at 12:00."""
    store = QueueStore(db)
    day = tomorrow()
    return store, store.reserve("demo", "jade", day, "12:00", 2, "A", "c1", capacity=4).value, day


def cancel(client, console, rid: str, headers=None, **form):
    return client.post(f"{CONSOLE}/reservations/{rid}/cancel", data={"csrf_token": console.csrf(), **form},
                       headers=headers or EN)


@pytest.mark.parametrize(("ended", "action", "en", "zh"), [
    ("CANCELED", "cancel", "was already cancelled.", "已被取消。"),
    ("ARRIVED", "no-show", "was already marked arrived.", "已标记为到店。"),
    ("NO_SHOW", "arrived", "was already marked a no-show.", "已标记为未到店。"),
])
def test_a_booking_ended_on_another_phone_goes_back_to_the_day_saying_so_in_words(client, console, booking, ended,
                                                                                 action, en, zh):
    store, rid, day = booking
    assert store.end_reservation("demo", "jade", rid, ended).ok  # another staff phone, a moment ago
    console.login("jade")
    for headers, words in ((EN, f"Booking {rid} {en}"), (ZH, f"预订 {rid} {zh}")):
        resp = client.post(f"{CONSOLE}/reservations/{rid}/{action}",
                           data={"csrf_token": console.csrf(), "confirm": "yes"}, headers=headers)
        assert resp.status_code == 303
        assert resp.headers["Location"].endswith(f"/reservations?date={day}")
        page = client.get(resp.headers["Location"], headers=headers).get_data(as_text=True)
        assert words in page, re.findall(r'<p class="flash[^>]*>.*?</p>', page)
        assert ended not in re.search(r'<p class="flash[^>]*>(.*?)</p>', page).group(1)  # no raw state code
    assert store.reservation("demo", "jade", rid)["state"] == ended
    assert not [e for e in AuditLog(store.db).recent("demo") if e["action"].startswith("queue.reservation_")]


def test_cancel_without_the_box_ticked_is_refused_and_changes_nothing(client, console, booking):
    store, rid, day = booking
    console.login("jade")
    for form in ({}, {"confirm": "no"}, {"confirm": ""}):
        resp = cancel(client, console, rid, **form)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422, form
        assert 'id="cancel-error"' in page and 'data-field="confirm"' in page and rid in page
        box = re.search(rf'<input[^>]*id="confirm-cancel-{rid}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in box and 'aria-describedby="cancel-error"' in box
    zh = cancel(client, console, rid, ZH).get_data(as_text=True)
    assert "勾选" in re.search(r'<p class="error" id="cancel-error"[^>]*>(.*?)</p>', zh).group(1)
    assert store.reservation("demo", "jade", rid)["state"] == "BOOKED"
    assert store.slot_counts("demo", "jade", day) == {"12:00": 1}
    assert not [e for e in AuditLog(store.db).recent("demo") if e["action"] == "queue.reservation_cancel"]
    # ticked: cancelled, back to the day's bookings
    resp = cancel(client, console, rid, confirm="yes")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/reservations?date={day}")
    assert store.reservation("demo", "jade", rid)["state"] == "CANCELED"
    assert store.slot_counts("demo", "jade", day) == {"12:00": 0}


def test_the_cancel_box_sits_on_its_own_form_and_arrived_and_no_show_need_none(client, console, booking):
    store, rid, day = booking
    console.login("jade")
    page = client.get(f"{CONSOLE}/reservations?date={day}").get_data(as_text=True)
    row = re.search(rf'<tr id="res-{rid}">.*?</tr>', page, re.S).group(0)
    cancel_form = re.search(r'<form[^>]*action="[^"]*/cancel">.*?</form>', row, re.S).group(0)
    assert 'name="confirm"' in cancel_form and 'id="cancel-' in cancel_form
    assert row.count('name="confirm"') == 1  # the other buttons' forms carry no box
    resp = client.post(f"{CONSOLE}/reservations/{rid}/no-show", data={"csrf_token": console.csrf()})
    assert resp.status_code == 303 and store.reservation("demo", "jade", rid)["state"] == "NO_SHOW"


def test_bad_bookings_and_actions_are_404_ticked_or_not(client, console, booking):
    store, rid, _day = booking
    console.login("jade")
    for path in (f"{rid}/explode", "garbage/cancel", "20990101-R99/cancel", f"{rid}x/cancel"):
        for form in ({}, {"confirm": "yes"}):
            resp = client.post(f"{CONSOLE}/reservations/{path}", data={"csrf_token": console.csrf(), **form})
            assert resp.status_code == 404, (path, form)
    assert store.reservation("demo", "jade", rid)["state"] == "BOOKED"


def test_only_the_zones_owner_and_the_operator_may_cancel(client, console, booking):
    store, rid, _day = booking
    signed_out = cancel(client, console, rid, confirm="yes")
    assert signed_out.status_code in (302, 303) and "/console/login" in signed_out.headers["Location"]
    console.login("kopi")  # another zone's owner
    assert cancel(client, console, rid, confirm="yes").status_code == 403
    without_csrf = client.post(f"{CONSOLE}/reservations/{rid}/cancel", data={"confirm": "yes"})
    assert without_csrf.status_code in (400, 403)
    assert store.reservation("demo", "jade", rid)["state"] == "BOOKED"
    console.login("ops")
    assert cancel(client, console, rid, confirm="yes").status_code == 303
    assert store.reservation("demo", "jade", rid)["state"] == "CANCELED"


def test_the_queue_and_reservations_pages_update_themselves(client, console, booking):
    """Each page brings its parts in (templates/_auto_refresh.html) from its own address, also after a refused
    cancel (whose page answered a POST: updating from that address would be a 405)."""
    _store, rid, day = booking
    console.login("jade")
    dashboard = client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert re.search(rf'id="auto-refresh" data-seconds="20" data-url="{CONSOLE}/"', dashboard)
    for region in ("queue-controls", "queue-classes", "todays-reservations"):
        assert re.search(rf'<[a-z]+ id="{region}" data-updates>', dashboard), region
    url = f"{CONSOLE}/reservations?date={day}"
    for page in (client.get(url).get_data(as_text=True), cancel(client, console, rid).get_data(as_text=True)):
        assert f'data-url="{url}"' in page
        assert 'id="slot-counts" data-updates' in page and 'id="day-reservations" data-updates' in page


@pytest.mark.browser
def test_an_update_brings_in_new_parties_and_keeps_a_ticked_cancel_box(page, live_server):
    """The host ticks a booking's Cancel box; a party takes a number meanwhile: the page's next update shows the
    party in its line, and leaves the ticked box (and its table) as it was until it is sent."""
    db = live_server.db()
    forget_line(db, "jade")
    store = QueueStore(db)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    rid = store.reserve("demo", "jade", today, "23:30", 2, "A", "c-host-1", capacity=4).value
    try:
        page.clock.install()  # the page's 20 s updates, run on at will
        console_sign_in(page, live_server.url, "jade")
        page.goto(f"{live_server.url}{CONSOLE}/")
        assert page.locator("#auto-refresh-stop").is_visible()
        page.check(f"#confirm-cancel-{rid}")
        page.evaluate("document.activeElement.blur()")  # the host looks away: it is the tick that holds it back
        store.take("demo", "jade", "A", 2, "c-host-2")
        store.reserve("demo", "jade", today, "23:30", 3, "B", "c-host-3", capacity=4)
        page.clock.fast_forward(21_000)
        page.wait_for_selector("#ticket-A001")
        assert page.is_checked(f"#confirm-cancel-{rid}")
        assert page.locator("#todays-reservations tr[id^=res-]").count() == 1  # held back while ticked
        page.click(f"#cancel-{rid}")
        page.wait_for_url(re.compile(rf"/reservations\?date={today}$"))
        assert store.reservation("demo", "jade", rid)["state"] == "CANCELED"
    finally:
        forget_line(db, "jade")
        keys = QueueKeys("demo")
        day = today.replace("-", "")
        db.delete(keys.reservations("jade", day), keys.reservation_counts("jade", day),
                  keys.reservation_mine("jade", day))
