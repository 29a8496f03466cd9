"""One hall, one show at a time: a showtime starting within MIN_SHOW_GAP_S of a live show in the same hall is
refused (the store's check and write are one script, so two adds racing cannot both pass), in the console (409,
the form again with what was typed) and the cinema system's push (409 naming the clashing show); the console's
add form carries a one-time token, so a double tap adds one show."""

from __future__ import annotations

import re
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from cinema_fixtures import mall_fixture, store_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.store import ShowtimeClash, ShowtimeInput
from lightapps.cinema.validation import MIN_SHOW_GAP_S
from portal.auth import AuditLog

VENUE, ZONE = "demo", "cinema"
CONSOLE = f"/console/apps/cinema/{VENUE}/{ZONE}"
URL = f"/api/v1/venues/{VENUE}/cinema/showtimes"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo mall's


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at the mall, `days` from today."""
    return datetime.combine(datetime.now(SHANGHAI).date() + timedelta(days=days), time(hour, minute), tzinfo=SHANGHAI)


def show(film: str, starts: datetime, hall: str = "1", ext: str = "") -> ShowtimeInput:
    return ShowtimeInput(film, "", hall, int(starts.timestamp()), 4500, external_id=ext)


def add(store, *items, gap: int = MIN_SHOW_GAP_S) -> list[str]:
    return store.upsert_showtimes(VENUE, ZONE, list(items), source="test", min_gap_s=gap)["ids"]


# ---- the store ------------------------------------------------------------------------------------------------


def test_a_show_within_the_gap_in_the_same_hall_is_refused(store):
    [first] = add(store, show("First", at(3, 20)))
    for minutes in (0, 30, -(MIN_SHOW_GAP_S // 60) + 1):
        with pytest.raises(ShowtimeClash) as refused:
            add(store, show("Second", at(3, 20) + timedelta(minutes=minutes)))
        assert (refused.value.index, refused.value.other, refused.value.other_index) == (0, first, None)
    assert [s.film_en for s in store.showtimes(VENUE, ZONE)] == ["First"]
    # the gap itself is fine, as are another hall and a show of the store's own (no gap asked: the demo seed)
    add(store, show("After", at(3, 20) + timedelta(seconds=MIN_SHOW_GAP_S)),
        show("Before", at(3, 20) - timedelta(seconds=MIN_SHOW_GAP_S)), show("Hall 2", at(3, 20), hall="2"))
    add(store, show("Unchecked", at(3, 20)), gap=0)
    assert len(store.showtimes(VENUE, ZONE)) == 5


def test_a_cancelled_show_frees_its_hall(store):
    [first] = add(store, show("First", at(3, 20)))
    store.cancel_showtime(VENUE, first)
    add(store, show("Instead", at(3, 20)))
    assert {s.film_en for s in store.showtimes(VENUE, ZONE)} == {"First", "Instead"}


def test_two_adds_racing_for_one_hall_and_minute_one_wins(store):
    """Each add reads the hall, then writes: unless the check and the write are one step, both pass."""
    barrier, outcomes = threading.Barrier(8), []

    def add_one(n: int) -> None:
        barrier.wait()
        try:
            add(store, show(f"Racer {n}", at(3, 20)))
            outcomes.append("added")
        except ShowtimeClash:
            outcomes.append("refused")

    threads = [threading.Thread(target=add_one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["refused"] * 7
    assert len(store.showtimes(VENUE, ZONE)) == 1


def test_a_batch_is_checked_as_it_will_be(store):
    """Items of one push clash with each other; a push moving shows checks where they go, not where they were;
    a show that is not moved (a schedule pushed again) is not refused for an overlap it already had."""
    with pytest.raises(ShowtimeClash) as refused:
        add(store, show("A", at(3, 20), ext="a"), show("B", at(3, 20, 30), ext="b"))
    assert (refused.value.index, refused.value.other_index) == (1, 0)
    assert store.showtimes(VENUE, ZONE) == []
    add(store, show("A", at(3, 18), ext="a"), show("B", at(3, 20), ext="b"))
    add(store, show("A", at(3, 20), ext="a"), show("B", at(3, 18), ext="b"))  # a swap: fine where they end up
    with pytest.raises(ShowtimeClash) as moved:
        add(store, show("B", at(3, 20, 15), ext="b"))
    assert moved.value.other == store.showtimes(VENUE, ZONE, at(3, 20).timestamp())[0].id
    add(store, show("Old overlap", at(3, 18, 20), ext="c"), gap=0)  # stored before the check existed
    add(store, show("B", at(3, 18), ext="b"), show("Old overlap", at(3, 18, 20), ext="c"))  # pushed again: kept


# ---- the owner console ----------------------------------------------------------------------------------------


def typed(console, **changes) -> dict:
    data = {"film_en": "Overlap", "film_zh": "", "auditorium": "1", "starts_at": at(1, 20).strftime("%Y-%m-%dT%H:%M"),
            "price": "45", "csrf_token": console.csrf()}
    return {**data, **changes}


def test_the_audits_reproduction_is_refused_with_the_form_again(client, console, store):
    """Hall 1 has the demo's Orbit Nine at 20:00 tomorrow: a second show there at 20:00 is refused."""
    console.login("cinema")
    [orbit] = [s for s in store.showtimes(VENUE, ZONE, at(1, 20).timestamp(), at(1, 20).timestamp())
               if s.auditorium == "1"]
    resp = client.post(f"{CONSOLE}/showtimes", data=typed(console))
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    error = re.search(r'<p class="error" id="error"[^>]*data-field="starts_at">(.*?)</p>', html, re.S).group(1)
    assert orbit.film_en in error and at(1, 20).strftime("%Y-%m-%d 20:00") in error, error
    assert 'name="film_en" maxlength="120" lang="en" value="Overlap"' in html  # what was typed, to fix
    assert not [s for s in store.showtimes(VENUE, ZONE) if s.film_en == "Overlap"]
    zh = client.post(f"{CONSOLE}/showtimes?lang=zh", data=typed(console)).get_data(as_text=True)
    assert re.search(r'id="error"[^>]*>开场时间（当地时间）[^<]*[\u4e00-\u9fff]', zh)


def test_a_double_tap_on_add_adds_one_show(client, console, store):
    console.login("cinema")
    page = client.get(f"{CONSOLE}/").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    sent = typed(console, film_en="Tapped Twice", starts_at=at(4, 19).strftime("%Y-%m-%dT%H:%M"), nonce=nonce)
    first, second = (client.post(f"{CONSOLE}/showtimes", data=sent) for _ in range(2))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]  # the second tap: the show the first added
    assert len([s for s in store.showtimes(VENUE, ZONE) if s.film_en == "Tapped Twice"]) == 1
    added = [e for e in AuditLog(store.db).recent(VENUE) if e["action"] == "cinema.showtime.add"]
    assert len(added) == 1
    again = client.get(second.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="nonce" value="([^"]+)"', again).group(1) != nonce  # the next form is a new one


# ---- the cinema system's push ---------------------------------------------------------------------------------


def item(ext: str, starts: datetime, hall: str = "1") -> dict:
    return {"id": ext, "film_en": f"Pushed {ext}", "auditorium": hall, "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "price": 40}


def test_a_push_clashing_with_a_stored_show_is_409_naming_it(client, mall, store):
    [stored] = add(store, show("Stored", at(3, 20)))
    resp = client.post(URL, json={"showtimes": [item("p-1", at(3, 15)), item("p-2", at(3, 20, 10))]},
                       headers={"Authorization": f"Bearer {mall}"})
    assert resp.status_code == 409
    answer = resp.get_json()
    assert answer["field"] == "showtimes[1].starts_at" and stored in answer["error"], answer
    assert [s.film_en for s in store.showtimes(VENUE, ZONE)] == ["Stored"]  # all or nothing
    inside = client.post(URL, json={"showtimes": [item("p-1", at(3, 15)), item("p-2", at(3, 15, 5))]},
                         headers={"Authorization": f"Bearer {mall}"})
    assert inside.status_code == 409 and inside.get_json()["field"] == "showtimes[1].starts_at"
    assert "showtimes[0]" in inside.get_json()["error"] and "p-1" in inside.get_json()["error"]
