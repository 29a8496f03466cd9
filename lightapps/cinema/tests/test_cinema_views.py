"""Shopper pages through the Flask test client: the happy path, and every bad input answered with a clear
4xx and nothing stored."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.store import CinemaKeys, ShowtimeInput

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"


def new_show(store, auditorium="1", starts_in_s=3600, zone=ZONE, film="Test Film"):
    item = ShowtimeInput(film, "测试电影", auditorium, int(time.time()) + starts_in_s, 4200)
    return store.upsert_showtimes(VENUE, zone, [item], source="test")["ids"][0]


def hold(client, show_id, seats, c):
    return client.post(f"{BASE}/show/{show_id}/hold", data={"seat": seats, "c": c})


def test_landing_lists_todays_showtimes_with_the_shopper_token(client, mall, store, token):
    show_id = new_show(store, starts_in_s=60)
    c = token()
    page = client.get(f"{BASE}?c={c}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Starlight Cinema" in html
    assert f"{BASE}/show/{show_id}?c={c}" in html
    assert "Pick your seats" in html  # the headline from the zone config
    zh = client.get(f"{BASE}?c={c}&lang=zh").get_data(as_text=True)
    assert "星光影城" in zh and "测试电影" in zh


def test_the_chosen_language_rides_on_every_link_form_and_redirect_without_cookies(app, mall, store, token):
    """The captive sign-in sheet keeps no cookie, so the shopper's ?lang= choice (the phone's own language is
    English here) must be carried by the booking's links, forms and redirects, or the next page is English."""
    sheet = app.test_client(use_cookies=False)
    show_id, c = new_show(store), token("shopper-lang")
    landing = sheet.get(f"{BASE}?c={c}&lang=zh").get_data(as_text=True)
    assert f'class="brand" href="{BASE}?c={c}&amp;lang=zh"' in landing  # the header's link too
    seats_url = unescape(re.search(rf'href="({BASE}/show/{show_id}\?[^"]*)"', landing).group(1))
    seats = sheet.get(seats_url).get_data(as_text=True)
    assert '<html lang="zh-CN">' in seats
    held = sheet.post(unescape(re.search(r'action="([^"]*)" id="seat-form"', seats).group(1)),
                      data={"seat": ["A4", "A5"], "c": c})
    assert held.status_code == 303 and parse_qs(urlsplit(held.headers["Location"]).query)["lang"] == ["zh"]
    hold_page = sheet.get(held.headers["Location"]).get_data(as_text=True)
    assert '<html lang="zh-CN">' in hold_page
    done = sheet.post(unescape(re.search(r'action="([^"]*/confirm[^"]*)"', hold_page).group(1)), data={"c": c})
    assert done.status_code == 303 and "lang=zh" in done.headers["Location"]
    assert '<html lang="zh-CN">' in sheet.get(done.headers["Location"]).get_data(as_text=True)


def test_landing_needs_a_zone_running_the_cinema_app(client, mall):
    assert client.get("/v/demo/cinema/kopi").status_code == 404  # a coupons zone
    assert client.get("/v/demo/cinema/nowhere").status_code == 404
    assert client.get("/v/nomall/cinema/cinema").status_code == 404


def test_full_path_hold_confirm_ticket(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    seats_page = client.get(f"{BASE}/show/{show_id}?c={c}")
    assert seats_page.status_code == 200
    html = seats_page.get_data(as_text=True)
    assert 'name="seat" value="A4"' in html and 'value="H1+H2"' in html
    assert f'name="c" value="{c}"' in html
    assert len(seats_page.data) < 100_000

    resp = hold(client, show_id, ["A4", "A5"], c)
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "/hold/" in location and parse_qs(urlsplit(location).query)["c"] == [c]
    hold_token = urlsplit(location).path.rsplit("/", 1)[1]

    page = client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'id="remaining">[78]:\d\d<', html)  # 8 minutes by default, server-rendered
    assert "location.replace(location.href)" in html  # the page shows the hold's end when it runs out
    assert "A4, A5" in html and "84.00" in html

    done = client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c})
    assert done.status_code == 303 and "/ticket/" in done.headers["Location"]
    code = urlsplit(done.headers["Location"]).path.rsplit("/", 1)[1]
    ticket = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "<svg" in ticket and code in ticket and "A4, A5" in ticket
    assert store.seat_states(VENUE, show_id) == {"A4": ("booked", code), "A5": ("booked", code)}
    again = client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c})  # a reload: the same ticket, once
    assert again.status_code == 303 and again.headers["Location"] == done.headers["Location"]
    svc = client.application.extensions["mallportal"]
    tickets = [e for e in svc.events.read(VENUE) if e.kind == "txn" and e.data.get("action") == "ticket"]
    assert len(tickets) == 1  # one transaction in the insights
    # the hold page now leads to the ticket, and the landing page lists it
    assert "/ticket/" in client.get(location).headers["Location"]
    assert code in client.get(f"{BASE}?c={c}").get_data(as_text=True)


def test_hold_minutes_come_from_the_zone_config(client, mall, store, token, svc):
    svc.zone_apps.set(VENUE, ZONE, "cinema", {"hold_minutes": 3, "headline_en": "", "headline_zh": ""})
    show_id = new_show(store)
    shopper = token()
    before = time.time()
    resp = hold(client, show_id, ["B4", "B5"], shopper)
    after = time.time()
    held = store.get_hold(VENUE, urlsplit(resp.headers["Location"]).path.rsplit("/", 1)[1])
    assert before + 180 - 0.001 <= held.expires_ms / 1000 <= after + 180 + 0.001  # 3 minutes from the hold


@pytest.mark.parametrize(("seats", "status", "message"), [
    ([], 422, "Pick at least one seat"),
    (["Z1"], 422, "no seat"),
    (["A1' OR 1=1"], 422, "no seat"),
    ([f"B{i}" for i in range(1, 10)], 422, "At most 8"),
    (["H1"], 422, "pairs"),
    (["A5", "A6"], 422, "A4"),  # orphan rule
])
def test_bad_selections_are_refused_and_nothing_is_held(client, mall, store, token, seats, status, message):
    show_id = new_show(store)
    resp = hold(client, show_id, seats, token())
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert store.db.hlen(CinemaKeys(VENUE).seats(show_id)) == 0


def test_seats_taken_meanwhile_give_409_and_keep_the_rest_checked(client, mall, store, token):
    show_id = new_show(store)
    assert hold(client, show_id, ["C4", "C5"], token("first")).status_code == 303
    resp = hold(client, show_id, ["C5", "C6"], token("second"))
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "C5 was just taken" in html
    assert 'value="C6" aria-label="C6 (standard)" checked' in html
    assert 'value="C5" aria-label="C5 (standard), taken" disabled' in html


def test_hold_on_unknown_closed_or_other_zone_shows(client, mall, store, token):
    c = token()
    assert hold(client, "s0000000000", ["A4"], c).status_code == 404
    assert hold(client, "bad id!", ["A4"], c).status_code == 404
    started = new_show(store, starts_in_s=-20 * 60)  # started 20 minutes ago: booking closed
    resp = hold(client, started, ["A4", "A5"], c)
    assert resp.status_code == 409 and "closed" in resp.get_data(as_text=True)
    elsewhere = new_show(store, zone="garage")
    assert client.get(f"{BASE}/show/{elsewhere}?c={c}").status_code == 404
    assert hold(client, elsewhere, ["A4", "A5"], c).status_code == 404
    assert store.db.hlen(CinemaKeys(VENUE).seats(started)) == 0


def test_hold_and_ticket_pages_belong_to_their_shopper(client, mall, store, token):
    show_id = new_show(store)
    c = token("owner-of-hold")
    location = hold(client, show_id, ["D4", "D5"], c).headers["Location"]
    hold_token = urlsplit(location).path.rsplit("/", 1)[1]
    other = token("someone-else")
    assert client.get(f"{BASE}/hold/{hold_token}?c={other}").status_code == 404
    assert client.get(f"{BASE}/hold/{hold_token}").status_code == 404  # no token: a new anonymous shopper
    assert client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": other}).status_code == 404
    assert client.post(f"{BASE}/hold/{hold_token}/cancel", data={"c": other}).status_code == 404
    assert store.get_hold(VENUE, hold_token).status == "held"
    code = urlsplit(client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c}).headers["Location"]).path
    code = code.rsplit("/", 1)[1]
    assert client.get(f"{BASE}/ticket/{code}?c={other}").status_code == 404
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": other}).status_code == 404
    assert client.get(f"{BASE}/ticket/NOSUCHCODE?c={c}").status_code == 404
    zh = client.get(f"{BASE}/ticket/NOSUCHCODE?c={c}&lang=zh").get_data(as_text=True)
    assert "没有这张电影票" in zh and "排号" not in zh  # a cinema ticket, not the queue's number
    assert store.booking(VENUE, code).status == "booked"


def test_confirm_after_expiry_fails_cleanly(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    location = hold(client, show_id, ["E4", "E5"], c).headers["Location"]
    hold_token = urlsplit(location).path.rsplit("/", 1)[1]
    # let the hold lapse: move its expiry into the past (what 8 minutes of waiting would do)
    past = int(time.time() * 1000) - 1000
    keys = CinemaKeys(VENUE)
    store.db.hset(keys.hold(hold_token), "expires_ms", past)
    for seat in ("E4", "E5"):
        store.db.hset(keys.seats(show_id), seat, f"H|{hold_token}|{past}")
    page = client.get(location).get_data(as_text=True)
    assert "expired" in page and 'id="confirm"' not in page
    resp = client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c})
    assert resp.status_code == 409
    assert "expired before you confirmed" in resp.get_data(as_text=True)
    assert store.db.hlen(keys.seats(show_id)) == 0
    assert store.show_bookings(VENUE, show_id) == []


def test_picking_again_shows_the_first_holds_countdown(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    first = urlsplit(hold(client, show_id, ["E4", "E5"], c).headers["Location"]).path.rsplit("/", 1)[1]
    # as if the first hold were 7 of its 8 minutes old: a minute left
    soon = int(time.time() * 1000) + 60_000
    keys = CinemaKeys(VENUE)
    store.db.hset(keys.hold(first), "expires_ms", soon)
    for seat in ("E4", "E5"):
        store.db.hset(keys.seats(show_id), seat, f"H|{first}|{soon}")
    location = hold(client, show_id, ["E4", "E5", "E6"], c).headers["Location"]
    assert store.get_hold(VENUE, urlsplit(location).path.rsplit("/", 1)[1]).expires_ms == soon
    assert re.search(r'id="remaining">(0:[0-5]\d|1:00)<', client.get(location).get_data(as_text=True))


def test_cancel_hold_and_cancel_ticket_release_seats(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    hold_token = urlsplit(hold(client, show_id, ["F4", "F5"], c).headers["Location"]).path.rsplit("/", 1)[1]
    resp = client.post(f"{BASE}/hold/{hold_token}/cancel", data={"c": c})
    assert resp.status_code == 303 and f"/show/{show_id}" in resp.headers["Location"]
    assert store.seat_states(VENUE, show_id) == {}
    assert client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c}).status_code == 409

    hold_token = urlsplit(hold(client, show_id, ["F4", "F5"], c).headers["Location"]).path.rsplit("/", 1)[1]
    ticket_url = client.post(f"{BASE}/hold/{hold_token}/confirm", data={"c": c}).headers["Location"]
    code = urlsplit(ticket_url).path.rsplit("/", 1)[1]
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert "Cancelled" in client.get(ticket_url).get_data(as_text=True)
    assert store.seat_states(VENUE, show_id) == {}


def test_seat_map_shows_my_hold_and_lets_me_change_it(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    hold(client, show_id, ["A4", "A5"], c)
    html = client.get(f"{BASE}/show/{show_id}?c={c}").get_data(as_text=True)
    assert 'id="my-hold"' in html
    assert 'value="A4" aria-label="A4 (standard)" checked' in html
    assert hold(client, show_id, ["A4", "A5", "A6"], c).status_code == 303
    assert sorted(store.seat_states(VENUE, show_id)) == ["A4", "A5", "A6"]
    other = client.get(f"{BASE}/show/{show_id}?c={token('other')}").get_data(as_text=True)
    assert 'value="A4" aria-label="A4 (standard), taken" disabled' in other


@pytest.mark.parametrize(("seats", "message"), [
    ([], "请至少选择一个座位。"),
    (["Z1"], "本影厅没有座位 Z1。"),
    ([f"B{i}" for i in range(1, 10)], "每次最多预订 8 个座位。"),
    (["H1"], "情侣座成对出售：H1 需与 H2 一起选。"),
])
def test_bad_selections_are_refused_in_the_shoppers_language(client, mall, store, token, seats, message):
    show_id = new_show(store)
    resp = client.post(f"{BASE}/show/{show_id}/hold?lang=zh", data={"seat": seats, "c": token()})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_a_refused_selection_keeps_the_language_its_form_carried(app, mall, store, token):
    """A sign-in sheet keeps no cookie; a form that carries the choice in its body (`lang`, no ?lang=) and is
    refused (422) is answered in that language, and the page's forms and links (the seat form again, the
    header, Continue to the internet) keep carrying it, or the next page is in the phone's language."""
    sheet = app.test_client(use_cookies=False)
    show_id, c = new_show(store), token("shopper-form-lang")
    refused = sheet.post(f"{BASE}/show/{show_id}/hold", data={"seat": [], "c": c, "lang": "zh"},
                         headers={"Accept-Language": "en"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and '<html lang="zh-CN">' in page
    seat_form = unescape(re.search(r'action="([^"]*)" id="seat-form"', page).group(1))
    brand = unescape(re.search(r'class="brand" href="([^"]*)"', page).group(1))
    continue_form = unescape(re.search(r'action="(/portal/continue[^"]*)"', page).group(1))
    for url in (seat_form, brand, continue_form):
        assert parse_qs(urlsplit(url).query).get("lang") == ["zh"], url


def test_prices_carry_the_currency_sign_like_the_totals(client, mall, store, token):
    """A showtime's price reads as money everywhere a shopper sees it, in both languages: "¥42.00" on the
    showtimes and the seat map, as the hold's total and the payment show amounts (portal/payments/money.py)."""
    show_id = new_show(store, starts_in_s=600)  # ¥42.00
    c = token()
    for lang in ("en", "zh"):
        landing = client.get(f"{BASE}?c={c}&lang={lang}").get_data(as_text=True)
        link = re.search(rf'<a class="showtime" href="[^"]*/show/{show_id}[^"]*">([^<]*)</a>', landing).group(1)
        assert link.endswith(" · ¥42.00"), link
        seats = client.get(f"{BASE}/show/{show_id}?c={c}&lang={lang}").get_data(as_text=True)
        assert re.search(r"(Price|价格) ¥42\.00</p>", seats), lang
