"""The owner console: who may see and change a zone's showtimes, the add form's validation, bookings."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cinema_fixtures import store_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.store import ShowtimeInput

VENUE, ZONE = "demo", "cinema"
CONSOLE = f"/console/apps/cinema/{VENUE}/{ZONE}"


def future(hours: float = 3 * 24) -> str:
    """Days ahead: the demo's showtimes (today and tomorrow) fill its halls, and a new one may not clash."""
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def form(console, **changes):
    data = {"film_en": "Console Film", "film_zh": "控制台电影", "auditorium": "2", "starts_at": future(),
            "price": "39.50", "csrf_token": console.csrf()}
    data.update(changes)
    return data


def test_logged_out_is_sent_to_login(client, demo):
    for path in (f"{CONSOLE}/", f"{CONSOLE}/showtimes/s0000000000"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    resp = client.post(f"{CONSOLE}/showtimes", data={"film_en": "x"})
    assert resp.status_code in (302, 400)  # login redirect, or refused for lack of a CSRF token


def test_logged_out_post_with_csrf_is_sent_to_login(client, console, store):
    before = len(store.showtimes(VENUE, ZONE))
    resp = client.post(f"{CONSOLE}/showtimes", data=form(console))
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert len(store.showtimes(VENUE, ZONE)) == before


def test_owner_of_another_zone_gets_403(client, console, store):
    console.login("kopi")
    before = len(store.showtimes(VENUE, ZONE))
    assert client.get(f"{CONSOLE}/").status_code == 403
    assert client.post(f"{CONSOLE}/showtimes", data=form(console)).status_code == 403
    show = store.showtimes(VENUE, ZONE)[0]
    assert client.get(f"{CONSOLE}/showtimes/{show.id}").status_code == 403
    assert len(store.showtimes(VENUE, ZONE)) == before


def test_cinema_owner_sees_demo_showtimes_and_adds_one(client, console, store):
    console.login("cinema")
    page = client.get(f"{CONSOLE}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Orbit Nine" in html and 'name="csrf_token"' in html  # demo data, seeded
    resp = client.post(f"{CONSOLE}/showtimes", data=form(console))
    assert resp.status_code == 303
    added = [s for s in store.showtimes(VENUE, ZONE) if s.film_en == "Console Film"]
    assert len(added) == 1
    assert (added[0].film_zh, added[0].auditorium, added[0].price_cents) == ("控制台电影", "2", 3950)
    assert "Console Film" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_operator_may_manage_the_zone(client, console):
    console.login("ops")
    assert client.get(f"{CONSOLE}/").status_code == 200


BAD_FORMS = [
    ({"film_en": "", "film_zh": ""}, "film_en"),
    ({"film_en": "x" * 121}, "film_en"),
    ({"film_zh": "y" * 121}, "film_zh"),
    ({"auditorium": "9"}, "auditorium"),
    ({"auditorium": ""}, "auditorium"),
    ({"starts_at": "tomorrow evening"}, "starts_at"),
    ({"starts_at": ""}, "starts_at"),
    ({"starts_at": "2001-01-01T10:00"}, "starts_at"),
    ({"starts_at": "2999-01-01T10:00"}, "starts_at"),
    ({"price": "-1"}, "price"),
    ({"price": "abc"}, "price"),
    ({"price": "NaN"}, "price"),
    ({"price": "1.234"}, "price"),
    ({"price": "100000"}, "price"),
    ({"price": ""}, "price"),
]


def test_bad_form_input_gives_422_naming_the_field(client, console, store):
    console.login("cinema")  # one login for all cases: the demo fixture is slow to set up
    before = len(store.showtimes(VENUE, ZONE))
    for changes, field in BAD_FORMS:
        resp = client.post(f"{CONSOLE}/showtimes", data=form(console, **changes))
        assert resp.status_code == 422, changes
        assert f'data-field="{field}"' in resp.get_data(as_text=True), changes
    assert len(store.showtimes(VENUE, ZONE)) == before


@pytest.mark.parametrize("changes, label, raw", [
    ({"starts_at": "2020-01-01T19:30"}, "开场时间（当地时间）", "starts_at"),
    ({"starts_at": "2027-01-01"}, "开场时间（当地时间）", "starts_at"),  # a date alone (a browser's plain text box)
    ({"price": "abc"}, "价格", "price"),
    ({"film_en": "", "film_zh": ""}, "影片名称（英文）", "film_en"),
])
def test_form_errors_are_in_the_owners_language_naming_the_box(client, console, store, changes, label, raw):
    console.login("cinema")
    resp = client.post(f"{CONSOLE}/showtimes?lang=zh", data=form(console, **changes))
    assert resp.status_code == 422
    text = re.search(r'id="error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
    assert text.startswith(label) and raw not in text and not re.match(r"\s*[a-z_]+:", text), text
    assert re.search(r"[\u4e00-\u9fff]", text[len(label):]), text  # what is wrong, too


def test_post_without_csrf_is_refused(client, console, store):
    console.login("cinema")
    before = len(store.showtimes(VENUE, ZONE))
    data = form(console)
    data.pop("csrf_token")
    assert client.post(f"{CONSOLE}/showtimes", data=data).status_code == 400
    assert len(store.showtimes(VENUE, ZONE)) == before


def test_bookings_and_occupancy_per_showtime(client, console, store):
    start = int(time.time()) + 3600
    show_id = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Booked Film", "订", "1", start, 1000)],
                                     source="test")["ids"][0]
    show = store.showtime(VENUE, show_id)
    held = store.hold(VENUE, show, "shopper-a", ["B4", "B5"], ttl_s=480)
    code = store.confirm(VENUE, held.token, "shopper-a", ZONE).code
    assert store.hold(VENUE, show, "shopper-b", ["D1"], ttl_s=480).ok
    console.login("cinema")
    page = client.get(f"{CONSOLE}/showtimes/{show_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert code in html and "B4, B5" in html
    assert "Booked 2 · Held 1 · Free 107 / 110" in " ".join(html.split())
    listing = " ".join(client.get(f"{CONSOLE}/").get_data(as_text=True).split())
    assert f'id="show-{show_id}"' in listing
    assert client.get(f"{CONSOLE}/showtimes/s0000000000").status_code == 404
    assert client.get(f"{CONSOLE}/showtimes/not%20an%20id").status_code == 404
