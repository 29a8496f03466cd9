"""Shopper pages of the queue app: take a number, position, cancel, reservations, pre-orders; bad
input gets a clear 4xx and stores nothing."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lightapps.queue import APP
from lightapps.queue.store import QueueKeys, QueueStore, service_day
from lightapps.queue.tests.queue_fixtures import queue_clock, venue_time
from portal.apps.locale import spoken_date
from portal.payments.money import cny
from portal.shopper import cookie_name

BASE = "/v/demo/queue/jade"


def queue_state(db) -> dict:
    """Every queue key of the demo venue with its value, to show a refused request stored nothing."""
    out = {}
    for key in sorted(db.keys("mp:{demo}:queue:*")):
        kind = db.type(key).decode()
        value = {"string": db.get, "hash": db.hgetall, "zset": lambda k: db.zrange(k, 0, -1, withscores=True),
                 "set": db.smembers, "list": lambda k: db.lrange(k, 0, -1)}[kind](key)
        out[key] = value
    return out


def token_of(page: str) -> str:
    return re.search(r'name="c" value="([^"]+)"', page).group(1)


def new_shopper(client) -> str:
    """A new shopper's `c` token, as the landing page hands it out (no cookie kept after that)."""
    client.delete_cookie(cookie_name("demo"))
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie(cookie_name("demo"))
    return token_of(page)


@pytest.fixture
def shopper(client, demo):
    return new_shopper(client)


def take(client, token, party="2"):
    return client.post(f"{BASE}/take", data={"party": party, "c": token})


def test_landing_has_form_headline_and_carries_token(client, demo, shopper):
    resp = client.get(f"{BASE}?c={shopper}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Dim sum and tea" in page and 'id="take"' in page
    assert 'id="auto-refresh"' not in page  # nothing to watch yet
    assert len(resp.data) < 100_000
    assert f"/v/demo/queue/jade/reserve?c={shopper}" in page
    zh = client.get(f"{BASE}?c={shopper}&lang=zh").get_data(as_text=True)
    assert "点心茶楼" in zh and 'name="lang" value="zh"' in zh


def test_404_where_no_queue(client, demo, shopper):
    for path in ("/v/demo/queue/atrium", "/v/demo/queue/nowhere", "/v/nowhere/queue/jade"):
        assert client.get(path).status_code == 404, path
        assert client.post(f"{path}/take", data={"party": "2", "c": shopper}).status_code == 404, path


def test_take_number_position_and_refresh(client, demo, db, shopper):
    other = new_shopper(client)
    assert take(client, other).status_code == 303
    resp = take(client, shopper, "2")
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location.startswith(BASE) and f"c={shopper}" in location
    page = client.get(location).get_data(as_text=True)
    assert 'id="ticket-number">A002<' in page
    assert "Position 2 in line" in page and "Estimated wait:" in page
    # the page updates itself (with a control to stop it, templates/_auto_refresh.html), back to itself
    assert f'data-seconds="20" data-url="{BASE}?c={shopper}"' in page
    assert f'id="refresh" href="{BASE}?c={shopper}"' in page
    # a double tap (or a second party size) gives back the same ticket
    assert take(client, shopper, "4").status_code == 303
    assert QueueStore(db).last_number("demo", "jade", "B") == 0
    # the owner calls A001 and A002: our page says "called"
    store = QueueStore(db)
    store.call_next("demo", "jade", "A")
    store.call_next("demo", "jade", "A")
    page = client.get(location).get_data(as_text=True)
    assert 'data-state="SERVICE_READY"' in page and 'id="called"' in page


def test_bad_party_size_is_400_and_stores_nothing(client, demo, db, shopper):
    before = queue_state(db)
    for party in ("0", "abc", "13", "", "-2", "2.5", "99999", "٣", "2 2"):
        resp = take(client, shopper, party)
        assert resp.status_code == 400, party
        assert "Party size" in resp.get_data(as_text=True)
    assert client.post(f"{BASE}/take", data={"c": shopper}).status_code == 400  # no party field at all
    assert queue_state(db) == before


def test_a_refused_party_size_comes_back_on_the_form_as_typed(client, demo, db, shopper):
    """Not an error page: the queue page, 400, the reason by the form and the size as typed (escaped), the
    shopper's token and language still on it."""
    before = queue_state(db)
    for party, shown in (("13", "13"), ('2"><b>', "2&#34;&gt;&lt;b&gt;")):
        resp = client.post(f"{BASE}/take?lang=zh", data={"party": party, "c": shopper})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert re.search(r'<p class="error" id="take-error" role="alert">人数须为 1 到 12 之间的整数。</p>', html)
        assert f'value="{shown}" required inputmode="numeric" aria-invalid="true"' in html
        assert f'name="c" value="{shopper}"' in html and "<b>" not in html
    assert queue_state(db) == before
    assert take(client, shopper, "2").status_code == 303  # with a number held the form is gone, the reason not
    # (the language chosen above stays in this client's cookie)
    html = take(client, shopper, "0").get_data(as_text=True)
    assert 'id="take-error" role="alert">人数须为' in html and 'id="ticket-number"' in html


def test_paused_class_refuses_with_message(client, demo, db, shopper):
    QueueStore(db).pause("demo", "jade", "A")
    before = queue_state(db)
    resp = take(client, shopper, "2")
    assert resp.status_code == 409 and "paused" in resp.get_data(as_text=True)
    assert queue_state(db) == before
    assert take(client, shopper, "3").status_code == 303  # class B still open
    page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
    assert 'id="ticket-number">B001<' in page


def test_cancel_own_ticket_only(client, demo, db, shopper):
    take(client, shopper)
    other = new_shopper(client)
    assert client.post(f"{BASE}/cancel", data={"ticket": "A001", "c": other}).status_code == 404
    assert client.post(f"{BASE}/cancel", data={"ticket": "bogus!", "c": shopper}).status_code == 400
    assert QueueStore(db).ticket("demo", "jade", "A001")["state"] == "WAITING"
    assert client.post(f"{BASE}/cancel", data={"ticket": "A001", "c": shopper}).status_code == 303
    assert QueueStore(db).ticket("demo", "jade", "A001")["state"] == "CANCELED"
    page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
    assert 'id="canceled"' in page and 'id="take"' in page
    assert take(client, shopper).status_code == 303
    assert QueueStore(db).my_ticket("demo", "jade", QueueStore(db).ticket("demo", "jade", "A002")["client"])


def test_a_number_taken_before_midnight_is_still_the_shoppers_after_it(client, demo, db, shopper):
    """At the venue's midnight a waiting party keeps its page, its cancel and its pre-order, and the next
    shopper does not get its number again."""
    with queue_clock(venue_time(1, "23:58")):
        assert take(client, shopper).status_code == 303
    with queue_clock(venue_time(2, "00:02")):
        page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
        assert 'id="ticket-number">A001<' in page and "Position 1 in line" in page and 'id="take"' not in page
        assert client.get(f"{BASE}/preorder?c={shopper}").status_code == 200
        assert client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": "1", "c": shopper}).status_code == 303
        other = new_shopper(client)
        assert take(client, other).status_code == 303
        theirs = client.get(f"{BASE}?c={other}").get_data(as_text=True)
        assert 'id="ticket-number">A002<' in theirs and "Position 2 in line" in theirs
        client.delete_cookie(cookie_name("demo"))  # the other shopper's page kept them in this browser's cookie
        assert client.post(f"{BASE}/cancel", data={"ticket": "A001", "c": shopper}).status_code == 303
        page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
        assert 'id="canceled"' in page and 'id="take"' in page
    earlier = QueueStore(db).ticket("demo", "jade", "A001", service_day(venue_time(1, "23:58")))
    assert earlier["state"] == "CANCELED" and '"qty": 1' in earlier["preorder"]


def test_numbers_only_within_opening_hours_when_the_owner_says_so(client, demo, svc, db, shopper):
    svc.zone_apps.set("demo", "jade", "queue", {**svc.zone_apps.config_for("demo", "jade", "queue"),
                                                "open_hours": "11:00-21:00", "numbers_in_hours": True})
    before = queue_state(db)
    with queue_clock(venue_time(1, "03:00")):
        page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
        assert 'id="numbers-closed"' in page and 'id="take"' not in page
        refused = take(client, shopper)
        assert refused.status_code == 409
        assert "Numbers are given out from 11:00 to 21:00" in refused.get_data(as_text=True)
    assert queue_state(db) == before
    with queue_clock(venue_time(1, "21:00")):  # closing time: closed
        assert take(client, shopper).status_code == 409
    with queue_clock(venue_time(1, "11:00")):
        assert take(client, shopper).status_code == 303
        assert 'id="ticket-number">A001<' in client.get(f"{BASE}?c={shopper}").get_data(as_text=True)


def _tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()  # the venue's day


def test_reserve_flow_and_bad_input(app, client, demo, db, shopper):
    page = client.get(f"{BASE}/reserve?c={shopper}&date={_tomorrow()}").get_data(as_text=True)
    assert 'value="12:00"' in page
    before = queue_state(db)
    bad = [
        {"party": "0", "date": _tomorrow(), "slot": "12:00"},
        {"party": "2", "date": "2020-01-01", "slot": "12:00"},
        {"party": "2", "date": "not-a-date", "slot": "12:00"},
        {"party": "2", "date": _tomorrow(), "slot": "03:00"},
        {"party": "2", "date": _tomorrow(), "slot": ""},
    ]
    for form in bad:
        assert client.post(f"{BASE}/reserve", data={**form, "c": shopper}).status_code == 400, form
    assert queue_state(db) == before
    assert client.get(f"{BASE}/reserve?c={shopper}&date=1999-01-01").status_code == 400
    ok = client.post(f"{BASE}/reserve", data={"party": "3", "date": _tomorrow(), "slot": "12:00", "c": shopper})
    assert ok.status_code == 303
    page = client.get(ok.headers["Location"]).get_data(as_text=True)
    with app.test_request_context(BASE):  # the booking's day as the shopper reads it
        day = spoken_date(date.fromisoformat(_tomorrow()))
    assert f"{day} 12:00" in page and "Cancel booking" in page and _tomorrow() not in page.split("<main>")[1]
    same = client.post(f"{BASE}/reserve", data={"party": "3", "date": _tomorrow(), "slot": "12:00", "c": shopper})
    assert same.status_code == 303  # a double tap is the same booking
    assert QueueStore(db).slot_counts("demo", "jade", _tomorrow()) == {"12:00": 1}
    again = client.post(f"{BASE}/reserve", data={"party": "3", "date": _tomorrow(), "slot": "13:00", "c": shopper})
    assert again.status_code == 409 and "already have a booking" in again.get_data(as_text=True)
    rid = QueueStore(db).reservations("demo", "jade", _tomorrow())[0]["id"]
    other = new_shopper(client)
    assert client.post(f"{BASE}/reserve/cancel", data={"reservation": rid, "c": other}).status_code == 404
    assert client.post(f"{BASE}/reserve/cancel", data={"reservation": rid, "c": shopper}).status_code == 303
    assert QueueStore(db).slot_counts("demo", "jade", _tomorrow()) == {"12:00": 0}


def test_full_slot_is_409(client, demo, db):
    day = _tomorrow()
    for i in range(4):  # the demo's Jade capacity: 4 parties a slot
        assert QueueStore(db).reserve("demo", "jade", day, "18:00", 2, "A", f"c{i}", capacity=4).ok
    token = new_shopper(client)
    resp = client.post(f"{BASE}/reserve", data={"party": "2", "date": day, "slot": "18:00", "c": token})
    assert resp.status_code == 409 and "fully booked" in resp.get_data(as_text=True)
    assert QueueStore(db).slot_counts("demo", "jade", day) == {"18:00": 4}


def test_preorder_on_ticket(client, demo, db, shopper):
    assert client.get(f"{BASE}/preorder?c={shopper}").status_code == 404  # no number yet
    take(client, shopper)
    form = client.get(f"{BASE}/preorder?c={shopper}").get_data(as_text=True)
    assert 'name="qty_m1"' in form
    before = queue_state(db)
    for qty in ("-1", "abc", "21", "1.5", "²x", "٣"):
        resp = client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": qty, "c": shopper})
        assert resp.status_code == 422 and 'id="error_m1"' in resp.get_data(as_text=True), qty
    assert queue_state(db) == before
    resp = client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": "2", "qty_m4": "1", "c": shopper,
                                                 "qty_bogus": "5"})
    assert resp.status_code == 303
    page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
    assert 'id="preorder"' in page and "2× Har gow" in page and "¥82.00" in page
    # an unavailable item cannot be ordered
    store = QueueStore(db)
    item = store.menu_item("demo", "jade", "m2")
    store.put_menu_item("demo", "jade", item["name_en"], item["name_zh"], item["price"], False, item_id="m2")
    assert client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m2": "1", "c": shopper}).status_code == 409
    # someone else's booking id: 404
    assert client.post(f"{BASE}/preorder", data={"for": "20990101-R1", "qty_m1": "1", "c": shopper}).status_code == 404


def qty_input(page: str, item_id: str) -> str | None:
    match = re.search(rf'<input[^>]*name="qty_{item_id}"[^>]*>', page)
    return match.group(0) if match else None


def test_a_dish_sold_out_while_choosing_keeps_the_rest_of_the_order(client, demo, db, shopper):
    """The form comes back (409) with every other quantity kept, the sold-out dish dropped and marked, the
    `c` token still in it (the captive browser has no cookie); nothing is saved until the shopper saves again."""
    take(client, shopper)
    assert qty_input(client.get(f"{BASE}/preorder?c={shopper}").get_data(as_text=True), "m2") is not None
    store = QueueStore(db)
    item = store.menu_item("demo", "jade", "m2")
    store.put_menu_item("demo", "jade", item["name_en"], item["name_zh"], item["price"], available=False,
                        item_id="m2")
    before = queue_state(db)
    resp = client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": "2", "qty_m2": "3", "c": shopper,
                                                 "lang": "zh"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409 and 'id="preorder-form"' in page
    assert 'value="2"' in qty_input(page, "m1") and qty_input(page, "m2") is None
    assert 'id="error_m2"' in page and 'id="preorder-error"' in page and token_of(page) == shopper
    assert re.search(r'id="preorder-error"[^>]*autofocus', page)  # no field left to focus: the message is
    assert 'name="lang" value="zh"' in page and 'name="for" value="ticket"' in page
    assert queue_state(db) == before
    # a bad quantity next to it: 422, the typed text kept for the shopper to fix
    resp = client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": "2", "qty_m3": "99", "c": shopper})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'value="99"' in qty_input(page, "m3") and 'value="2"' in qty_input(page, "m1")
    assert 'aria-invalid="true"' in qty_input(page, "m3") and token_of(page) == shopper
    assert "autofocus" in qty_input(page, "m3") and not re.search(r'id="preorder-error"[^>]*autofocus', page)


def test_prices_are_shown_in_the_currency_payment_charges(client, demo, svc, db, shopper):
    """Pre-orders are paid in CNY: a "currency" symbol stored when the app still had that setting is ignored
    (it changed what shoppers read, not what they paid), and the owner cannot set one any more."""
    _name, config = svc.zone_apps.get("demo", "jade")
    svc.zone_apps.set("demo", "jade", "queue", {**config, "currency": "US$"})
    assert "currency" not in {field.name for field in APP.config_schema}
    har_gow = QueueStore(db).menu_item("demo", "jade", "m1")["price"]
    take(client, shopper)
    menu = client.get(f"{BASE}/preorder?c={shopper}").get_data(as_text=True)
    assert "US$" not in menu and f"<td>{cny(har_gow)}</td>" in menu
    assert client.post(f"{BASE}/preorder", data={"for": "ticket", "qty_m1": "1", "c": shopper}).status_code == 303
    page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
    assert "US$" not in page and f"· {cny(har_gow)}" in page


def test_preorder_on_reservation(client, demo, db, shopper):
    client.post(f"{BASE}/reserve", data={"party": "2", "date": _tomorrow(), "slot": "12:30", "c": shopper})
    rid = QueueStore(db).reservations("demo", "jade", _tomorrow())[0]["id"]
    assert client.get(f"{BASE}/preorder?c={shopper}&for={rid}").status_code == 200
    resp = client.post(f"{BASE}/preorder", data={"for": rid, "qty_m3": "3", "c": shopper})
    assert resp.status_code == 303
    assert '"qty": 3' in QueueStore(db).reservation("demo", "jade", rid)["preorder"]
    page = client.get(f"{BASE}?c={shopper}").get_data(as_text=True)
    assert "3× Char siu bao" in page


def test_demo_seed_is_idempotent_and_keeps_owner_changes(app, svc, demo, db, demo_map):
    from lightapps.queue.demo import seed as seed_demo

    store = QueueStore(db)
    assert len(store.menu("demo", "jade")) == 5 and len(store.menu("demo", "foodcourt")) == 4
    store.delete_menu_item("demo", "jade", "m1")
    svc.zone_apps.set("demo", "jade", "queue", {"headline_en": "Owner's own", "table_classes": "A:1-4"})
    seed_demo(svc, demo_map)
    assert len(store.menu("demo", "jade")) == 4
    assert svc.zone_apps.config_for("demo", "jade", "queue")["headline_en"] == "Owner's own"
    assert db.exists(QueueKeys("demo").menu("foodcourt"))


def test_a_called_number_stays_in_me(app, client, demo, shopper):
    """Called ("come now") is when the shopper most needs the number: Me lists it as it listed it waiting."""
    assert take(client, shopper).status_code == 303
    me = client.get(f"/v/demo/me?c={shopper}&lang=en").get_data(as_text=True)
    assert 'id="mine-queue"' in me and "Number A001" in me
    with app.app_context():
        assert QueueStore(app.extensions["mallportal"].db).call_next("demo", "jade", "A").ok
    me = client.get(f"/v/demo/me?c={shopper}&lang=en").get_data(as_text=True)
    assert 'id="mine-queue"' in me and "Number A001" in me
