"""A coupon's days are the mall's, from the wall-clock owner (portal.apps.locale.day_start): valid from the
first instant of its first day to the first instant of the day after its last, so a day the clocks change is
23 or 25 hours long; without a zone, the server's midnight (the rule as it was before the coupons used it)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from lightapps.coupons.store import CouponStore

MADRID = ZoneInfo("Europe/Madrid")
FIELDS = {"title_en": "Free toast", "title_zh": "免费吐司", "description_en": "with coffee", "stock": 3}


def valid(db, first: date, last: date, tz=MADRID) -> tuple[float, float]:
    coupon = CouponStore(db).create("demo", "kopi", {**FIELDS, "valid_from": first, "valid_until": last}, tz=tz)
    return coupon.valid_from, coupon.valid_until


def test_a_coupon_runs_from_the_malls_midnight_to_the_one_after_its_last_day(db):
    start, end = valid(db, date(2026, 3, 29), date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, tzinfo=MADRID).timestamp() and end - start == 23 * 3600
    start, end = valid(db, date(2026, 10, 25), date(2026, 10, 25))
    assert start == datetime(2026, 10, 25, tzinfo=MADRID).timestamp() and end - start == 25 * 3600
    start, end = valid(db, date(2026, 12, 1), date(2026, 12, 7))
    assert end == datetime(2026, 12, 8, tzinfo=MADRID).timestamp() and end - start == 7 * 86400


def test_without_a_zone_the_days_are_the_servers(db):
    start, end = valid(db, date(2026, 12, 1), date(2026, 12, 1), tz=None)
    assert start == datetime(2026, 12, 1).astimezone().timestamp()
    assert end == datetime(2026, 12, 2).astimezone().timestamp()
