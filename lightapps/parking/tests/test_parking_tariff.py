"""The tariff's arithmetic (pure): free minutes, started hours, the daily cap per venue day, discounts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from lightapps.parking.tariff import Tariff, free_hours_for_spend, parking_fee, points_value, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = Tariff(free_minutes=15, hourly_fen=500, daily_cap_fen=2000, grace_minutes=15)
MIN = 60_000
HOUR = 60 * MIN


def at(text: str, tz: ZoneInfo = SHANGHAI) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp() * 1000)


@pytest.mark.parametrize("minutes, fen", [
    (0, 0), (15, 0),  # within the free minutes
    (16, 500), (60, 500), (61, 1000), (179, 1500),  # every started hour, from the entry
    (4 * 60 + 1, 2000), (10 * 60, 2000),  # the daily cap
])
def test_fee_within_one_day(minutes, fen):
    entry = at("2026-12-01T08:00:00")
    assert parking_fee(entry, entry + minutes * MIN, SHANGHAI, T) == fen


def test_the_cap_is_per_venue_day_and_hours_belong_to_the_day_they_start():
    entry = at("2026-12-01T22:30:00")  # hours start 22:30, 23:30 (Dec 1), 00:30, 01:30 (Dec 2)
    assert parking_fee(entry, entry + 4 * HOUR, SHANGHAI, T) == 2000
    capped = Tariff(free_minutes=0, hourly_fen=500, daily_cap_fen=800)
    assert parking_fee(entry, entry + 4 * HOUR, SHANGHAI, capped) == 800 + 800  # two days, each capped
    # the same instants in UTC fall on one day: the venue's zone decides
    assert parking_fee(entry, entry + 4 * HOUR, ZoneInfo("UTC"), capped) == 800


def test_a_stay_over_days_pays_each_days_hours_up_to_its_cap():
    entry = at("2026-12-01T10:00:00")
    assert parking_fee(entry, at("2026-12-02T10:00:01"), SHANGHAI, T) == 2000 + 2000
    entry = at("2026-12-01T22:00:00")  # Dec 1: 2 hours; Dec 2: capped; Dec 3: one started hour
    assert parking_fee(entry, at("2026-12-03T00:30:00"), SHANGHAI, T) == 1000 + 2000 + 500


def test_no_cap_and_a_free_tariff():
    entry = at("2026-12-01T10:00:00")
    assert parking_fee(entry, entry + 10 * HOUR, SHANGHAI, Tariff(hourly_fen=300, daily_cap_fen=0)) == 3000
    assert parking_fee(entry, entry + 10 * HOUR, SHANGHAI, Tariff(hourly_fen=0)) == 0


def test_spend_gives_free_hours_up_to_the_owners_limit():
    rule = Tariff(hourly_fen=500, daily_cap_fen=0, spend_fen_per_hour=10_000, max_free_hours=2)
    assert free_hours_for_spend(9_999, rule) == 0
    assert free_hours_for_spend(25_000, rule) == 2 and free_hours_for_spend(99_900, rule) == 2
    assert free_hours_for_spend(50_000, Tariff()) == 0  # the owner gives none
    entry = at("2026-12-01T10:00:00")
    q = quote(entry, entry + 3 * HOUR + 10 * MIN, SHANGHAI, rule, spent_fen=20_000)
    assert (q.gross, q.spend_hours, q.spend_discount, q.due) == (2000, 2, 1000, 1000)
    short = quote(entry, entry + HOUR, SHANGHAI, rule, spent_fen=20_000)
    assert short.due == 0 and short.spend_discount == 500


def test_points_pay_whole_yuan_never_more_than_held_or_needed():
    rule = Tariff(hourly_fen=550, daily_cap_fen=0, points_per_yuan=100)
    entry = at("2026-12-01T10:00:00")
    q = quote(entry, entry + 2 * HOUR, SHANGHAI, rule, points_wanted=10_000, points_held=700)
    assert q.gross == 1100 and q.points == 700 and q.points_discount == 700 and q.due == 400
    q = quote(entry, entry + 2 * HOUR, SHANGHAI, rule, points_wanted=10_000, points_held=5_000)
    assert q.points == 1100 and q.due == 0  # 11 yuan needed: 1,100 points, not 5,000
    q = quote(entry, entry + 2 * HOUR, SHANGHAI, rule, points_wanted=150, points_held=5_000)
    assert q.points == 100 and q.due == 1000  # whole yuan only
    assert quote(entry, entry + 2 * HOUR, SHANGHAI, Tariff(hourly_fen=550, daily_cap_fen=0),
                 points_wanted=500, points_held=500).points == 0  # the owner takes no points
    assert points_value(250, rule) == 200


def test_paid_before_is_taken_off():
    entry = at("2026-12-01T10:00:00")
    q = quote(entry, entry + 3 * HOUR, SHANGHAI, T, paid_before=1000)
    assert q.gross == 1500 and q.due == 500
    assert quote(entry, entry + HOUR, SHANGHAI, T, paid_before=1000).due == 0


def test_a_coupon_comes_after_spend_and_before_points_and_is_used_whole():
    entry = at("2026-12-01T10:00:00")
    rule = Tariff(hourly_fen=500, daily_cap_fen=0, points_per_yuan=100)
    q = quote(entry, entry + 3 * HOUR, SHANGHAI, rule, coupon_fen=700, points_wanted=1000, points_held=1000)
    assert (q.gross, q.coupon_discount, q.points, q.due) == (1500, 700, 800, 0)
    q = quote(entry, entry + HOUR, SHANGHAI, rule, coupon_fen=2000)
    assert (q.coupon_discount, q.due) == (500, 0)  # a ¥20.00 coupon on a ¥5.00 fee takes ¥5.00
    assert quote(entry, entry + HOUR, SHANGHAI, rule, coupon_fen=-5).coupon_discount == 0


def test_tariff_from_the_zone_config():
    tariff = Tariff.from_config({"free_minutes": 30, "hourly_fen": 800, "daily_cap_fen": 0, "headline_en": "x"})
    assert tariff.free_minutes == 30 and tariff.hourly_fen == 800 and tariff.daily_cap_fen == 0
    assert tariff.grace_minutes == Tariff().grace_minutes
