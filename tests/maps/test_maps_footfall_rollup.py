"""Footfall roll-up: each day's unique visitors are also kept per day, longer than the hourly counts, so
the day stays known after its hours expire; retention comes from the settings."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.tracking.footfall import FootfallKeys, FootfallStore

T0 = datetime(2026, 3, 14, 10, 0, tzinfo=UTC).timestamp()
DAY, DAY_KEY = "2026-03-14", "20260314"


def test_day_outlives_its_hours(db):
    ff = FootfallStore(db, ttl_days=2, days_kept=90)
    for k in range(4):
        ff.record("demo", f"c{k}", "atrium", 0, 5.0, 5.0, T0 + k * 3600)  # four different hours
    keys = FootfallKeys("demo")
    hourly = keys.visitors(DAY_KEY, "10", "atrium")
    assert 0 < db.ttl(hourly) <= 2 * 86400 < db.ttl(keys.day_visitors(DAY_KEY, "atrium")) <= 90 * 86400
    db.delete(*db.keys(keys.visitors(DAY_KEY, "*", "*")))  # the hours expire first
    report = FootfallStore(db).report("demo", DAY)
    assert report.visitors == 4 and report.zones["atrium"].visitors == 4
    assert report.visitors_by_hour == [0] * 24


def test_retention_comes_from_the_settings(svc):
    footfall = svc.footfall
    assert footfall.ttl_s == svc.settings.footfall_hourly_days * 86400
    assert footfall.day_ttl_s == svc.settings.footfall_daily_days * 86400
