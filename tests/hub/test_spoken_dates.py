"""Shopper pages say a day as people read it, in the page's language (portal/apps/locale.py `spoken_date`,
`spoken_time`, `spoken_span`, the `|spoken_day` and `|spoken_time` filters): `Tue, Dec 8` / `12月8日周二`, the year only
when it is not this year at the venue, a range's day once when it is one day; the consoles keep `2026-12-08`, which
owners type back and sort."""

from __future__ import annotations

import re
import time
from datetime import date, datetime

import pytest

from lightapps.activities.store import ActivityStore
from lightapps.coupons.store import CouponStore
from portal.apps.locale import (
    from_local,
    local_time,
    spoken_date,
    spoken_day,
    spoken_span,
    spoken_time,
    venue_today,
)
from portal.shopper import Shopper, shopper_token

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")


@pytest.mark.parametrize(("lang", "words"), [("en", "Mon, Jan 7, 2030"), ("zh", "2030年1月7日周一")])
def test_a_day_in_another_year_reads_with_its_year_in_the_pages_language(app, lang, words):
    with app.test_request_context(f"/v/demo/?lang={lang}"):
        if venue_today().year == 2030:
            pytest.skip("the day is this year's: its year is left out")
        assert spoken_date(date(2030, 1, 7)) == words


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_day_this_year_reads_without_its_year_and_a_time_follows_it(app, lang):
    with app.test_request_context(f"/v/demo/?lang={lang}"):
        today = venue_today()
        said = spoken_date(today)
        assert str(today.year) not in said and str(today.day) in said and not ISO_DAY.search(said)
        now = time.time()
        assert spoken_time(now).startswith(spoken_date(venue_today())) and spoken_time(now)[-5:-3].isdigit()
        assert spoken_time(None) == "" and spoken_time(0) == ""


def test_outside_a_request_a_day_is_said_only_given_its_language_and_venue(app, demo):
    """A text is made outside a request (the payments sweep's notices): nothing else names the language, nor the
    venue whose clock and year the day is said by."""
    with app.app_context():
        assert spoken_date(date(2030, 1, 7), "zh", "demo").endswith("1月7日周一")
        assert spoken_time(1_900_000_000, "en", "demo").endswith(f"{local_time(1_900_000_000, 'demo'):%H:%M}")
        for locale, venue in ((None, "demo"), ("zh", None)):
            with pytest.raises(RuntimeError, match="needs its language and its venue"):
                spoken_date(date(2030, 1, 7), locale, venue)


def test_a_coupon_page_names_its_days_as_shoppers_read_them(app, client, demo, svc):
    valid_from = time.time() - 60  # the day it falls on: yesterday in the minute after the venue's midnight
    CouponStore(svc.db).create("demo", "kopi", {"title_en": "Dated", "title_zh": "有日期", "description_en": "d",
                                                "stock": 5, "valid_from": valid_from,
                                                "valid_until": time.time() + 7 * 86400})
    with app.app_context():
        token = shopper_token(Shopper("demo", "dated-shopper"))
    for lang in ("en", "zh"):
        page = client.get(f"/v/demo/zone/kopi/coupons?c={token}&lang={lang}").get_data(as_text=True)
        with app.test_request_context(f"/v/demo/?lang={lang}"):
            first = spoken_day(valid_from)
        assert first in page and not ISO_DAY.search(page), lang


@pytest.mark.parametrize(("lang", "one_day", "two_days"), [
    ("en", "Mon, Jan 7, 2030, 19:00\u2009–\u200921:00", "Mon, Jan 7, 2030, 19:00\u2009–\u2009Wed, Jan 9, 2030, 18:00"),
    ("zh", "2030年1月7日周一 19:00–21:00", "2030年1月7日周一 19:00 – 2030年1月9日周三 18:00")])
def test_a_range_says_its_day_once_within_a_day_and_both_ends_across_days(app, demo, lang, one_day, two_days):
    with app.test_request_context(f"/v/demo/?lang={lang}"):
        if venue_today().year == 2030:
            pytest.skip("the days are this year's: their year is left out")
        start = from_local(datetime(2030, 1, 7, 19, 0), "demo")
        assert spoken_span(start, from_local(datetime(2030, 1, 7, 21, 0), "demo")) == one_day
        assert spoken_span(start, from_local(datetime(2030, 1, 9, 18, 0), "demo")) == two_days
    with app.app_context():
        assert spoken_span(start, start + 7200, lang, "demo") == one_day  # a text's: its language and venue named
        late = from_local(datetime(2030, 1, 7, 22, 0), "demo")
        assert spoken_span(late, late + 7200, lang, "demo").endswith("22:00\u2009–\u200900:00" if lang == "en"
                                                                    else "22:00–00:00")  # a night sale: one day
        midnight = from_local(datetime(2030, 1, 7, 0, 0), "demo")
        whole_day = spoken_span(midnight, midnight + 86400, lang, "demo")  # 00:00 – 00:00 would read as no time
        both_days = ("Jan 7", "Jan 8") if lang == "en" else ("1月7日", "1月8日")
        assert all(day in whole_day for day in both_days), whole_day


def test_a_range_across_a_clock_change_says_both_ends_in_full(app, demo, svc):
    """Within one day, but the clocks went back an hour between the two times: 01:30 to 01:15 would read backwards."""
    from portal.captive.config import PortalConfigStore  # lazy: this test alone sets the venue's zone

    PortalConfigStore(svc.db).set("demo", {"time_zone": "America/New_York"})
    with app.app_context():
        start = from_local(datetime(2030, 11, 3, 1, 30, fold=0), "demo")  # EDT, before the clocks go back
        said = spoken_span(start, start + 45 * 60, "en", "demo")  # 01:15 EST
    assert said.count("Nov 3") == 2 and said.endswith("01:15"), said


def test_an_events_page_says_its_hours_on_its_day(app, client, demo, svc):
    with app.app_context():
        start = from_local(datetime(2030, 1, 7, 19, 0), "demo")
    event = ActivityStore(svc.db).create("demo", "atrium", {
        "kind": "event", "title_en": "Workshop", "title_zh": "工坊", "starts_at": start, "ends_at": start + 7200,
        "limit": 10})
    for lang in ("en", "zh"):
        page = client.get(f"/v/demo/activities/{event.id}?lang={lang}").get_data(as_text=True)
        with app.test_request_context(f"/v/demo/?lang={lang}"):
            said = spoken_span(start, start + 7200)
        assert f'<p id="when">{said}</p>' in page and not ISO_DAY.search(page), lang
