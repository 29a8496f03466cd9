"""Showtimes of the coming week reach shoppers: a strip of day tabs (today, tomorrow, then each later day of
the week that has shows), plain links that carry the shopper's token, days as the mall's clock has them; the
console says how far ahead shoppers see."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.common import SHOPPER_DAYS
from lightapps.cinema.store import ShowtimeInput
from portal.captive.config import PortalConfigStore

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
NEW_YORK = ZoneInfo("America/New_York")  # far from the server's clock and from Beijing: a day is the mall's


def at(days: int, hour: int, minute: int = 0) -> int:
    day = datetime.now(NEW_YORK).date() + timedelta(days=days)
    return int(datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK).timestamp())


def day_tabs(html: str) -> dict[str, str]:
    """The strip's days: ?day= (or "" for the first page) -> the tab's href."""
    strip = re.search(r'<nav class="tabs" id="show-days"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return {(re.search(r"[?&]day=([0-9-]+)", href) or [None, ""])[1]: unescape(href)
            for href in re.findall(r'href="([^"]+)"', strip)}


def test_later_days_with_shows_get_tabs_that_list_them(client, mall, store, svc, token):
    PortalConfigStore(svc.db).set(VENUE, {"time_zone": "America/New_York"})
    late, last, beyond = store.upsert_showtimes(VENUE, ZONE, [
        ShowtimeInput("Late Night", "深夜", "1", at(3, 23, 30), 4000),  # the next day already in Beijing and UTC
        ShowtimeInput("Week End", "周末", "2", at(SHOPPER_DAYS - 1, 20), 4000),
        ShowtimeInput("Too Far", "太远", "3", at(SHOPPER_DAYS, 20), 4000),
    ], source="test")["ids"]
    c = token()
    first = client.get(f"{BASE}?c={c}").get_data(as_text=True)
    tabs = day_tabs(first)
    day3 = (datetime.now(NEW_YORK).date() + timedelta(days=3)).isoformat()
    week_end = (datetime.now(NEW_YORK).date() + timedelta(days=SHOPPER_DAYS - 1)).isoformat()
    assert set(tabs) == {"", day3, week_end}, tabs  # today and tomorrow are the first page's; empty days: none
    assert all(f"c={c}" in href for href in tabs.values()), tabs  # no cookie needed, no script either
    assert f"/show/{late}" not in first and "Too Far" not in first
    page = client.get(tabs[day3])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"{BASE}/show/{late}?c={c}" in html, html
    assert f"/show/{last}" not in html and 'aria-current="page"' in html
    assert f"{BASE}/show/{last}?c={c}" in client.get(tabs[week_end]).get_data(as_text=True)
    assert f"/show/{beyond}" not in "".join(client.get(href).get_data(as_text=True) for href in tabs.values())


def test_a_day_that_is_not_one_to_show_gets_the_first_page(client, mall, store, token):
    for day in ("yesterday", "2001-01-01", "2999-01-01", "9" * 200):
        resp = client.get(f"{BASE}?c={token()}&day={day}")
        assert resp.status_code == 200 and 'id="show-days"' in resp.get_data(as_text=True), day


def test_the_console_says_how_far_ahead_shoppers_see(client, console):
    console.login("cinema")
    html = " ".join(client.get(f"/console/apps/cinema/{VENUE}/{ZONE}/").get_data(as_text=True).split())
    note = re.search(r'id="shopper-days"[^>]*>(.*?)</p>', html).group(1)
    assert str(SHOPPER_DAYS - 1) in note, note
