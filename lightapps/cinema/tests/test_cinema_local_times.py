"""The mall's wall clock at its edges: a showtime typed inside the spring-forward gap (a time the mall's clocks
skip) is refused naming the field, not moved an hour; and just after the mall's midnight, a show that began
before it and is still bookable (LATE_BOOKING_S) is listed under Today."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema import views
from lightapps.cinema.common import LATE_BOOKING_S
from lightapps.cinema.store import ShowtimeInput
from portal.captive.config import PortalConfigStore

VENUE, ZONE = "demo", "cinema"
URL = f"/api/v1/venues/{VENUE}/cinema/showtimes"
MADRID = ZoneInfo("Europe/Madrid")


def push(client, token, starts_at: str):
    item = {"id": "gap-1", "film_en": "Gap", "film_zh": "缺口", "auditorium": "1", "starts_at": starts_at,
            "price": 42}
    return client.post(URL, json={"showtimes": [item]}, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("typed", ["2026-03-29T02:30", "2027-03-28T02:00", "2027-03-28T02:59:59"])
def test_a_showtime_in_the_spring_gap_is_refused_naming_the_field(client, mall, store, db, typed):
    PortalConfigStore(db).set(VENUE, {"time_zone": "Europe/Madrid"})
    resp = push(client, mall, typed)
    assert resp.status_code == 422, resp.get_json()
    answer = resp.get_json()
    day = typed[:10]
    assert answer["field"] == "showtimes[0].starts_at"
    assert f"{typed[11:16]} does not exist on {day} in Europe/Madrid (the clocks go forward)" in answer["error"]
    assert store.showtimes(VENUE, ZONE) == []


def test_a_time_the_clocks_do_not_skip_is_stored_as_typed(client, mall, store, db):
    PortalConfigStore(db).set(VENUE, {"time_zone": "Europe/Madrid"})
    day = datetime.now(MADRID).date() + timedelta(days=1)
    for typed in ("01:59", "03:00", "20:30"):  # the times on either side of a gap, were tomorrow a gap day
        assert push(client, mall, f"{day.isoformat()}T{typed}").status_code == 201
        [show] = [s for s in store.showtimes(VENUE, ZONE) if s.film_en == "Gap"]
        assert datetime.fromtimestamp(show.starts_at, MADRID).strftime("%H:%M") == typed


def shows_by_day(html: str) -> dict[str, list[str]]:
    """The landing's day headings -> the ids of the showtimes listed under each."""
    parts = re.split(r"<h2>(.*?)</h2>", html)
    return {heading.strip(): re.findall(r"/show/([A-Za-z0-9_-]+)", body) for heading, body in zip(
        parts[1::2], parts[2::2], strict=True)}


def test_just_after_midnight_a_show_still_bookable_is_listed_under_today(client, mall, store, token, db,
                                                                         monkeypatch):
    PortalConfigStore(db).set(VENUE, {"time_zone": "Asia/Shanghai"})
    shanghai = ZoneInfo("Asia/Shanghai")
    today = datetime.now(shanghai).date() + timedelta(days=1)  # tomorrow's midnight: shows in the future
    midnight = datetime.combine(today, datetime.min.time(), shanghai).timestamp()
    now = midnight + 5 * 60  # 00:05
    monkeypatch.setattr(views, "time", SimpleNamespace(time=lambda: now))
    monkeypatch.setattr(views, "venue_today", lambda: today)
    late, gone, morning = store.upsert_showtimes(VENUE, ZONE, [
        ShowtimeInput("Late", "午夜场", "1", int(midnight - 5 * 60), 4000),                 # began at 23:55
        ShowtimeInput("Gone", "已开场", "2", int(now - LATE_BOOKING_S - 60), 4000),         # booking closed
        ShowtimeInput("Morning", "早场", "3", int(midnight + 10 * 3600), 4000),            # 10:00
    ], source="test")["ids"]
    listed = shows_by_day(client.get(f"/v/{VENUE}/cinema/{ZONE}?c={token()}&lang=en").get_data(as_text=True))
    assert listed["Today"] == [late, morning], listed
    assert gone not in sum(listed.values(), [])
