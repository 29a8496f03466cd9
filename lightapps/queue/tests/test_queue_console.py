"""Owner console of the queue app: who may call it, and each action with good and bad input."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from lightapps.queue.store import QueueStore, service_day

CONSOLE = "/console/apps/queue/demo/jade"

POSTS = [
    ("/call-next", {"cls": "A"}),
    ("/tickets/A001/seat", {}),
    ("/tickets/A001/no-show", {}),
    ("/pause", {"cls": "*"}),
    ("/resume", {"cls": "*"}),
    ("/menu", {"name_en": "Tea", "price": "5"}),
    ("/menu/m1", {"name_en": "Tea", "price": "5"}),
    ("/menu/m1/delete", {}),
    ("/reservations/20990101-R1/cancel", {}),
]
GETS = ["/", "/menu", "/reservations"]


@pytest.fixture
def waiting(db, demo):
    """Three parties waiting at Jade: A001, A002 (class A) and B001."""
    store = QueueStore(db)
    store.take("demo", "jade", "A", 2, "c1")
    store.take("demo", "jade", "A", 1, "c2")
    store.take("demo", "jade", "B", 4, "c3")
    return store


def test_logged_out_is_sent_to_login(client, console, waiting):
    for path in GETS:
        resp = client.get(CONSOLE + path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path
    for path, form in POSTS:
        resp = client.post(CONSOLE + path, data={**form, "csrf_token": console.csrf()})
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path
    assert waiting.ticket("demo", "jade", "A001")["state"] == "WAITING"
    assert waiting.call_log("demo", "jade") == []


def test_owner_of_another_zone_gets_403_and_changes_nothing(client, console, waiting):
    console.login("kopi")
    menu_before = waiting.menu("demo", "jade")
    for path in GETS:
        assert client.get(CONSOLE + path).status_code == 403, path
    for path, form in POSTS:
        assert client.post(CONSOLE + path, data={**form, "csrf_token": console.csrf()}).status_code == 403, path
    assert waiting.ticket("demo", "jade", "A001")["state"] == "WAITING"
    assert waiting.call_log("demo", "jade") == []
    assert waiting.paused("demo", "jade") == set()
    assert waiting.menu("demo", "jade") == menu_before


def test_post_without_csrf_is_refused(client, console, waiting):
    console.login("jade")
    assert client.post(CONSOLE + "/call-next", data={"cls": "A"}).status_code == 400
    assert waiting.call_log("demo", "jade") == []


def test_operator_may_run_the_queue(client, console, waiting):
    console.login("ops")
    assert client.get(CONSOLE + "/").status_code == 200


def test_dashboard_call_seat_no_show(client, console, waiting):
    console.login("jade")
    page = client.get(CONSOLE + "/").get_data(as_text=True)
    assert 'id="ticket-A001"' in page and 'id="ticket-B001"' in page
    csrf = console.csrf()
    resp = client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": csrf})
    assert resp.status_code == 303
    assert waiting.ticket("demo", "jade", "A001")["state"] == "SERVICE_READY"
    called = client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": csrf},
                         headers={"Accept": "application/json"})
    assert called.get_json() == {"called": "A002"}
    empty = client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": csrf},
                        headers={"Accept": "application/json"})
    assert empty.get_json() == {"called": None}
    assert client.post(CONSOLE + "/tickets/A001/seat", data={"csrf_token": csrf}).status_code == 303
    assert client.post(CONSOLE + "/tickets/A002/no-show", data={"csrf_token": csrf}).status_code == 303
    assert waiting.ticket("demo", "jade", "A001")["state"] == "SEATED"
    assert waiting.ticket("demo", "jade", "A002")["state"] == "NO_SHOW"
    # wrong state (a stale tab: back to the line, saying why; test_queue_owner_first_week.py) / unknown ticket /
    # bad class
    assert client.post(CONSOLE + "/tickets/A001/seat", data={"csrf_token": csrf}).status_code == 303
    assert client.post(CONSOLE + "/tickets/B001/no-show", data={"csrf_token": csrf}).status_code == 303
    assert waiting.ticket("demo", "jade", "B001")["state"] == "WAITING"
    assert client.post(CONSOLE + "/tickets/A777/seat", data={"csrf_token": csrf}).status_code == 404
    assert client.post(CONSOLE + "/tickets/not-a-ticket/seat", data={"csrf_token": csrf}).status_code == 404
    for cls in ("Z", "", "*", "AAAAAAAA"):
        assert client.post(CONSOLE + "/call-next", data={"cls": cls, "csrf_token": csrf}).status_code == 400
    assert waiting.call_log("demo", "jade") == ["A001", "A002"]
    # a waiting party may be seated straight away
    assert client.post(CONSOLE + "/tickets/B001/seat", data={"csrf_token": csrf}).status_code == 303
    assert waiting.waiting_count("demo", "jade", "B") == 0


def test_console_calls_the_party_waiting_since_before_midnight_first(client, console, db, demo):
    """After the venue's midnight the console lists and calls the earlier day's waiting party first, and
    seats it there; the new day's numbers follow it (no second A001)."""
    tz = ZoneInfo("Asia/Shanghai")
    midnight = datetime.combine(datetime.now(tz).date() + timedelta(days=1), datetime.min.time(), tz).timestamp()
    store = QueueStore(db)
    assert store.take("demo", "jade", "A", 2, "c1", now=midnight - 120).value == "A001"
    assert store.take("demo", "jade", "A", 2, "c2", now=midnight + 120).value == "A002"
    console.login("jade")
    csrf = console.csrf()
    with mock.patch("lightapps.queue.store.time", SimpleNamespace(time=lambda: midnight + 240)):  # the queue's clock
        page = client.get(CONSOLE + "/").get_data(as_text=True)
        assert page.index('id="ticket-A001"') < page.index('id="ticket-A002"')
        called = client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": csrf},
                             headers={"Accept": "application/json"})
        assert called.get_json() == {"called": "A001"}
        assert client.post(CONSOLE + "/tickets/A001/seat", data={"csrf_token": csrf}).status_code == 303
    earlier = store.ticket("demo", "jade", "A001", service_day(midnight - 120))
    assert earlier["state"] == "SEATED" and earlier["client"] == "c1"
    assert store.ticket("demo", "jade", "A002", service_day(midnight + 120))["state"] == "WAITING"


def test_pause_and_resume_from_console(client, console, waiting):
    console.login("jade")
    csrf = console.csrf()
    assert client.post(CONSOLE + "/pause", data={"cls": "B", "csrf_token": csrf}).status_code == 303
    assert waiting.paused("demo", "jade") == {"B"}
    assert waiting.take("demo", "jade", "B", 3, "new").reason == "PAUSED"
    page = client.get(CONSOLE + "/").get_data(as_text=True)
    assert "paused" in page
    assert client.post(CONSOLE + "/pause", data={"cls": "*", "csrf_token": csrf}).status_code == 303
    assert waiting.take("demo", "jade", "A", 2, "new").reason == "PAUSED"
    assert 'id="paused-all"' in client.get(CONSOLE + "/").get_data(as_text=True)
    assert client.post(CONSOLE + "/pause", data={"cls": "Q", "csrf_token": csrf}).status_code == 400
    assert client.post(CONSOLE + "/resume", data={"cls": "*", "csrf_token": csrf}).status_code == 303
    assert waiting.paused("demo", "jade") == set()
    assert waiting.take("demo", "jade", "A", 2, "new").ok


def test_menu_edit_and_bad_input(client, console, db, demo):
    store = QueueStore(db)
    console.login("jade")
    csrf = console.csrf()
    assert "Har gow" in client.get(CONSOLE + "/menu").get_data(as_text=True)
    before = store.menu("demo", "jade")
    bad_forms = [
        {"name_en": "", "price": "5"},
        {"name_en": "x" * 81, "price": "5"},
        {"name_en": "Tea", "price": "abc"},
        {"name_en": "Tea", "price": "-3"},
        {"name_en": "Tea", "price": "1.234"},
        {"name_en": "Tea", "price": ""},
    ]
    for form in bad_forms:
        assert client.post(CONSOLE + "/menu", data={**form, "csrf_token": csrf}).status_code == 422, form
        assert client.post(CONSOLE + "/menu/m1", data={**form, "csrf_token": csrf}).status_code == 422, form
    assert store.menu("demo", "jade") == before
    bad_unknown = client.post(CONSOLE + "/menu/m999", data={"name_en": "", "price": "5", "csrf_token": csrf})
    assert bad_unknown.status_code == 404
    resp = client.post(CONSOLE + "/menu", data={"name_en": "Lotus bun", "name_zh": "莲蓉包", "price": "19.9",
                                                "available": "on", "csrf_token": csrf})
    assert resp.status_code == 303
    added = store.menu("demo", "jade")[-1]
    assert added["name_en"] == "Lotus bun" and added["price"] == 1990 and added["available"]
    resp = client.post(CONSOLE + f"/menu/{added['id']}", data={"name_en": "Lotus bun", "price": "21",
                                                               "csrf_token": csrf})
    assert resp.status_code == 303
    assert store.menu_item("demo", "jade", added["id"]) == {**added, "price": 2100, "available": False,
                                                            "name_zh": ""}  # English only: marked for zh
    unknown = client.post(CONSOLE + "/menu/m999", data={"name_en": "x", "price": "1", "csrf_token": csrf})
    assert unknown.status_code == 404
    assert client.post(CONSOLE + f"/menu/{added['id']}/delete", data={"csrf_token": csrf}).status_code == 303
    assert client.post(CONSOLE + f"/menu/{added['id']}/delete", data={"csrf_token": csrf}).status_code == 404
    assert store.menu("demo", "jade") == before


def field(page: str, form_id: str | None, name: str) -> str:
    """The value of text input `name` of the add form (form_id None) or of a row's form."""
    scope = page[page.index('id="add-item"'):] if form_id is None else page
    for tag in re.findall(r"<input [^>]*>", scope):
        attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', tag))
        if attrs.get("name") == name and attrs.get("type") == "text" and attrs.get("form") == form_id:
            return html.unescape(attrs.get("value", ""))
    raise AssertionError(f"no input {name} in {form_id or 'the add form'}")


def test_a_refused_menu_form_keeps_what_the_owner_typed(client, console, db, demo):
    store = QueueStore(db)
    console.login("jade")
    csrf = console.csrf()
    before = store.menu("demo", "jade")
    typed = {"name_en": "Beef noodles large", "name_zh": "大碗牛肉面", "price": "28.555", "csrf_token": csrf}
    resp = client.post(CONSOLE + "/menu?lang=en", data=typed)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="add-item"' in page  # the menu page, not an error page
    assert [field(page, None, n) for n in ("name_en", "name_zh", "price")] == ["Beef noodles large", "大碗牛肉面",
                                                                               "28.555"]
    error = re.search(r'<p class="error" id="menu-error" role="alert" data-field="price">([^<]*)</p>', page)
    assert error and "at most 2 decimals" in error.group(1)
    assert re.search(r'id="price"[^>]*aria-invalid="true" aria-describedby="menu-error"', page)
    assert page.index('id="price"') < page.index('id="menu-error"')  # the message is by the field
    # no name: the message is by the name, the price kept; a row's edit keeps the row's typed values
    page = client.post(CONSOLE + "/menu", data={"name_en": "", "price": "12", "csrf_token": csrf}).get_data(True)
    assert 'data-field="name_zh"' in page and field(page, None, "price") == "12"
    resp = client.post(CONSOLE + "/menu/m1", data={"name_en": "Har gow (6)", "price": "abc", "csrf_token": csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert field(page, "edit-m1", "name_en") == "Har gow (6)" and field(page, "edit-m1", "price") == "abc"
    assert page.index('id="item-m1"') < page.index('id="menu-error"') < page.index('id="add-item"')
    assert field(page, None, "name_en") == ""  # the add form is not filled with the row's values
    assert store.menu("demo", "jade") == before


def test_a_price_typed_on_a_chinese_keyboard_is_taken_and_a_decimal_comma_is_refused(client, console, db, demo):
    """The platform's amount rule (portal/payments/money.py): "28,5" could be ¥28.50 or a mistyped thousand."""
    console.login("jade")
    csrf = console.csrf()
    for typed, cents in (("２８．５", 2850), ("¥19", 1900), ("￥19.9", 1990), ("1,000", 100000), ("¥1,280.00", 128000)):
        resp = client.post(CONSOLE + "/menu", data={"name_zh": "牛肉面", "price": typed, "csrf_token": csrf})
        assert resp.status_code == 303, typed
        assert QueueStore(db).menu("demo", "jade")[-1]["price"] == cents, typed
    for refused in ("28,5", "28,50", "1,2,5", "٣"):  # a decimal comma, a misplaced one, another script's digit
        resp = client.post(CONSOLE + "/menu?lang=en", data={"name_zh": "牛肉面", "price": refused, "csrf_token": csrf})
        assert resp.status_code == 422, refused
        assert ("Price must use a dot for decimals" in resp.get_data(as_text=True)) == ("," in refused), refused


def test_reservations_console(client, console, db, demo):
    store = QueueStore(db)
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    rid = store.reserve("demo", "jade", day, "12:00", 4, "B", "c1", capacity=4).value
    rid2 = store.reserve("demo", "jade", day, "12:00", 2, "A", "c2", capacity=4).value
    console.login("jade")
    csrf = console.csrf()
    page = client.get(CONSOLE + f"/reservations?date={day}").get_data(as_text=True)
    assert f'id="res-{rid}"' in page and "12:00: 2/4" in page
    for bad in ("yesterday", "2024-13-45", "1"):
        assert client.get(CONSOLE + f"/reservations?date={bad}").status_code == 400
    assert client.post(CONSOLE + f"/reservations/{rid}/explode", data={"csrf_token": csrf}).status_code == 404
    assert client.post(CONSOLE + "/reservations/garbage/cancel", data={"csrf_token": csrf}).status_code == 404
    assert client.post(CONSOLE + f"/reservations/{rid}/arrived", data={"csrf_token": csrf}).status_code == 303
    ticked = {"csrf_token": csrf, "confirm": "yes"}
    again = client.post(CONSOLE + f"/reservations/{rid}/cancel", data=ticked)  # arrived: back, saying so
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/reservations?date={day}")
    assert client.post(CONSOLE + f"/reservations/{rid2}/cancel", data=ticked).status_code == 303
    assert store.reservation("demo", "jade", rid)["state"] == "ARRIVED"
    assert store.slot_counts("demo", "jade", day) == {"12:00": 1}


def test_actions_are_audited(client, console, waiting, svc):
    from portal.auth import AuditLog

    console.login("jade")
    client.post(CONSOLE + "/call-next", data={"cls": "A", "csrf_token": console.csrf()})
    entry = AuditLog(svc.db).recent("demo", 1)[0]
    assert entry["user"] == "jade" and entry["action"] == "queue.call_next"
    assert entry["detail"] == {"zone": "jade", "ticket": "A001"}
