"""More time for a seat hold (WCAG 2.2.1): once per hold, bounded, its seats, record and pointer moved in one step;
the hold page warns before the end and offers it (without payments: tests/payments/test_cinema_more_time_paying.py
has the case of an order already made)."""

from __future__ import annotations

import re
import time
from html import unescape

from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)
from test_cinema_store import VENUE, ZONE, booked_or_held, make_show, now_ms

from lightapps.cinema.store import HOLD_EXTRA_MAX_S, CinemaKeys, ShowtimeInput

MINUTE_MS = 60_000


def test_more_time_moves_the_seats_the_record_and_the_pointer_once(store, db):
    show = make_show(store)
    t0 = now_ms()
    held = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, now_ms=t0)
    more = store.extend_hold(VENUE, held.token, "alice", 120, now_ms=t0 + 470_000)
    assert (more.status, more.expires_ms) == ("ok", held.expires_ms + 2 * MINUTE_MS)
    assert store.get_hold(VENUE, held.token).extended
    after_first_end = held.expires_ms + 1_000
    assert set(booked_or_held(store, show, after_first_end)) == {"A4", "A5"}  # still hers
    assert store.hold(VENUE, show, "bob", ["A4", "A5"], ttl_s=480, now_ms=after_first_end).status == "taken"
    assert db.pexpiretime(CinemaKeys(VENUE).client_hold(show.id, "alice")) == more.expires_ms
    again = store.extend_hold(VENUE, held.token, "alice", 120, now_ms=t0 + 480_000)
    assert (again.status, again.expires_ms) == ("once", more.expires_ms)  # once, however often asked
    assert booked_or_held(store, show, more.expires_ms) == {}  # and then it ends
    assert store.confirm(VENUE, held.token, "alice", ZONE, now_ms=more.expires_ms).status == "expired"


def test_more_time_never_passes_the_cap_nor_comes_back_with_a_re_pick(store):
    show = make_show(store)
    t0 = now_ms()
    held = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, now_ms=t0)
    more = store.extend_hold(VENUE, held.token, "alice", 3600, now_ms=t0 + 1_000)
    assert more.expires_ms == held.expires_ms + HOLD_EXTRA_MAX_S * 1000
    again = store.hold(VENUE, show, "alice", ["A4", "A5", "A6"], ttl_s=480, now_ms=t0 + 2_000)
    assert again.ok and store.get_hold(VENUE, again.token).extended  # a re-pick is no second extension
    assert store.extend_hold(VENUE, again.token, "alice", 120, now_ms=t0 + 3_000).status == "once"


def test_more_time_only_for_the_holder_of_a_live_hold(store):
    show = make_show(store)
    t0 = now_ms()
    held = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0)
    assert store.extend_hold(VENUE, held.token, "bob", 120, now_ms=t0).status == "nohold"
    assert store.extend_hold(VENUE, held.token, "alice", 120, now_ms=t0 + 60_000).status == "gone"  # lapsed
    fresh = store.hold(VENUE, show, "alice", ["B4", "B5"], ttl_s=60, now_ms=t0 + 61_000)
    assert store.cancel_hold(VENUE, fresh.token, "alice").ok
    assert store.extend_hold(VENUE, fresh.token, "alice", 120, now_ms=t0 + 62_000).status == "gone"


def test_the_hold_page_warns_and_gives_more_time_once(client, mall, store, token):
    """Without payments: a minute before the end a polite live region says so, and More time adds the zone's hold
    time, at most HOLD_EXTRA_MAX_S (the demo's 8 min hold: 5 min), once."""
    c = token()
    item = ShowtimeInput("Test Film", "测试电影", "1", int(time.time()) + 3600, 4200)
    show_id = store.upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]
    held = client.post(f"/v/demo/cinema/cinema/show/{show_id}/hold", data={"seat": ["A4", "A5"], "c": c})
    assert held.status_code == 303
    hold_token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    page = client.get(held.headers["Location"]).get_data(as_text=True)
    notice = re.search(r'<strong[^>]*id="hold-notice"[^>]*>', page).group(0)
    assert 'role="status"' in notice and "Less than a minute left" in notice and "more time once" in notice
    assert "More time (+5 min)" in page
    action = unescape(re.search(r'action="([^"]*/more-time[^"]*)"', page).group(1))
    before = store.get_hold("demo", hold_token).expires_ms
    more = client.post(action, data={"c": c})
    assert more.status_code == 303
    assert store.get_hold("demo", hold_token).expires_ms == before + HOLD_EXTRA_MAX_S * 1000
    page = client.get(more.headers["Location"]).get_data(as_text=True)
    assert 'id="more-time"' not in page and "more time once" not in page
    refused = client.post(action, data={"c": c})
    assert refused.status_code == 409 and "only once" in refused.get_data(as_text=True)
    assert store.get_hold("demo", hold_token).expires_ms == before + HOLD_EXTRA_MAX_S * 1000
