"""The shoppers' list of showtimes: one entry per film, a film known by both its names (a film with only a
Chinese title is a film of its own, not one of "the films with no English title"), and a sold-out showtime
marked as such, with no way into a seat map where nothing can be picked."""

from __future__ import annotations

import re
import time

from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.store import CinemaKeys, ShowtimeInput

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"


def films_listed(html: str) -> dict[str, list[str]]:
    """The landing's films: title (as shown, without its markup) -> the ids of the showtimes listed under it, over
    every day the page lists (an hour from now may be tomorrow in the venue's time zone)."""
    out = {}
    for entry in re.findall(r"<li>(.*?)</li>", html[html.find('<ul class="shows"'):], re.S):
        title = re.search(r"<strong>(.*?)</strong>", entry, re.S)
        if title:
            # a film showing on two days is listed under each day's heading: one title, its showtimes in order
            name = re.sub(r"<[^>]+>", "", title.group(1)).strip()
            out.setdefault(name, []).extend(re.findall(r'/show/([A-Za-z0-9_-]+)', entry))
    return out


def film(films: dict[str, list[str]], name: str) -> list[str]:
    """The showtimes listed under the one film whose title reads `name` (an English page marks a Chinese-only
    title as Chinese)."""
    [shows] = [shows for title, shows in films.items() if name in title]
    return shows


def test_films_with_only_a_chinese_title_are_listed_each_under_its_own_title(client, mall, store, token):
    now = int(time.time())
    earth, nezha = store.upsert_showtimes(VENUE, ZONE, [
        ShowtimeInput("", "流浪地球", "1", now + 3600, 4500),
        ShowtimeInput("", "哪吒之魔童闹海", "2", now + 7200, 4500),
    ], source="test")["ids"]
    for lang in ("zh", "en"):
        films = films_listed(client.get(f"{BASE}?c={token()}&lang={lang}").get_data(as_text=True))
        assert len(films) == 2, films
        assert film(films, "流浪地球") == [earth] and film(films, "哪吒之魔童闹海") == [nezha], films


def test_films_sharing_an_english_title_but_not_a_chinese_one_are_two_films(client, mall, store, token):
    now = int(time.time())
    first, second, again = store.upsert_showtimes(VENUE, ZONE, [
        ShowtimeInput("Home", "家", "1", now + 3600, 4500),
        ShowtimeInput("Home", "回家", "2", now + 5400, 4500),
        ShowtimeInput("Home", "家", "3", now + 7200, 4500),
    ], source="test")["ids"]
    films = films_listed(client.get(f"{BASE}?c={token()}&lang=zh").get_data(as_text=True))
    assert films["家"] == [first, again] and films["回家"] == [second], films


def fill(db, show, value_of=lambda seat: "B|FULLHOUSE", leave=()):
    """Every seat of the show but `leave` taken, as the store keeps taken seats."""
    db.hset(CinemaKeys(VENUE).seats(show.id), mapping={seat: value_of(seat) for seat in show.layout.seats
                                                       if seat not in leave})


def chips(html: str) -> dict[str, str]:
    """show id -> how the landing lists it: "link" (a way into its seat map) or the words it says instead."""
    out = {show_id: "link" for show_id in re.findall(r'<a class="showtime" href="[^"]*/show/([A-Za-z0-9_-]+)', html)}
    for show_id, words in re.findall(r'<span class="showtime off" id="show-([A-Za-z0-9_-]+)">(.*?)</span>', html, re.S):
        out[show_id] = " ".join(re.sub(r"<[^>]+>", "", words).split())
    return out


def two_shows(store):
    now = int(time.time())
    ids = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Full House", "满座", "1", now + 3600, 4500),
                                               ShowtimeInput("Full House", "满座", "1", now + 7200, 4500)],
                                 source="test")["ids"]
    return [store.showtime(VENUE, show_id) for show_id in ids]


def test_a_sold_out_showtime_says_so_and_is_no_way_into_its_seat_map(client, mall, store, token, db):
    full, other = two_shows(store)
    fill(db, full)
    listed = chips(client.get(f"{BASE}?c={token()}").get_data(as_text=True))
    assert listed[other.id] == "link"
    assert listed[full.id].endswith("Sold out") and "¥" not in listed[full.id], listed
    page = client.get(f"{BASE}/show/{full.id}?c={token()}")
    html = page.get_data(as_text=True)  # an old link: the seat map says why nothing can be picked
    assert page.status_code == 200 and 'id="sold-out"' in html and 'id="seat-form"' not in html
    assert 'id="sold-out"' not in client.get(f"{BASE}/show/{other.id}?c={token()}").get_data(as_text=True)


def test_one_seat_left_is_not_sold_out(client, mall, store, token, db):
    full, _other = two_shows(store)
    fill(db, full, leave={"D7"})
    assert chips(client.get(f"{BASE}?c={token()}").get_data(as_text=True))[full.id] == "link"
    assert 'id="seat-form"' in client.get(f"{BASE}/show/{full.id}?c={token()}").get_data(as_text=True)


def test_seats_held_by_others_count_until_their_hold_lapses(client, mall, store, token, db):
    live, lapsed = two_shows(store)
    soon, past = int(time.time() * 1000) + 300_000, int(time.time() * 1000) - 1000
    fill(db, live, lambda seat: f"H|someone|{soon}")
    fill(db, lapsed, lambda seat: f"H|someone|{past}")
    listed = chips(client.get(f"{BASE}?c={token()}").get_data(as_text=True))
    assert listed[live.id].endswith("Sold out") and listed[lapsed.id] == "link", listed


def test_the_shopper_holding_the_last_seats_can_still_go_back_to_them(client, mall, store, token, db):
    show, _other = two_shows(store)
    fill(db, show, leave={"A4", "A5"})
    assert store.hold(VENUE, show, "shopper-1", ["A4", "A5"], ttl_s=300).ok
    assert chips(client.get(f"{BASE}?c={token('shopper-1')}").get_data(as_text=True))[show.id] == "link"
    assert 'id="seat-form"' in client.get(f"{BASE}/show/{show.id}?c={token('shopper-1')}").get_data(as_text=True)
    assert chips(client.get(f"{BASE}?c={token('shopper-2')}").get_data(as_text=True))[show.id].endswith("Sold out")
    assert 'id="sold-out"' in client.get(f"{BASE}/show/{show.id}?c={token('shopper-2')}").get_data(as_text=True)
