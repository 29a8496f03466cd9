"""A closed footfall visit counts on the day and hour (venue time) of its last sighting, whenever and by
whatever it is closed (the next position, the report page, the tracker's sweep); the tracker's sweep closes
idle visits without any later position in the venue."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal.tracking import Tracker
from portal.tracking.footfall import FootfallKeys, FootfallStore

SH = ZoneInfo("Asia/Shanghai")


def t(h: int, m: int = 0, s: int = 0, d: int = 2) -> float:
    return datetime(2026, 11, d, h, m, s, tzinfo=SH).timestamp()


@pytest.fixture
def ff(db) -> FootfallStore:
    return FootfallStore(db, tz="Asia/Shanghai")


def kopi(ff: FootfallStore, day: str):
    return ff.report("v1", day, ["kopi"]).zones["kopi"]


def test_evening_visits_closed_next_morning_count_on_their_evening(ff):
    for i in range(5):
        ff.record("v1", f"f{i}", "kopi", 0, 10.0, 10.0, t(21, 50) + i)
        ff.record("v1", f"f{i}", "kopi", 0, 10.0, 10.0, t(21, 55) + i)
    ff.record("v1", "early", "books", 0, 30.0, 10.0, t(9, d=3))  # the next morning's first phone closes them
    evening, morning = kopi(ff, "2026-11-02"), kopi(ff, "2026-11-03")
    assert evening.visits == 5 and evening.mean_dwell_s == pytest.approx(300)
    assert [h for h, x in enumerate(evening.dwell_by_hour) if x is not None] == [21]
    assert morning.visits == 0 and morning.dwell_by_hour == [None] * 24


def test_a_visit_closed_past_the_hour_or_midnight_counts_in_its_last_sightings(ff):
    ff.record("v1", "a", "kopi", 0, 10.0, 10.0, t(21, 59, 0))
    ff.record("v1", "a", "kopi", 0, 10.0, 10.0, t(21, 59, 50))
    ff.record("v1", "a", "books", 0, 30.0, 10.0, t(22, 0, 10))  # moved on: kopi closes at 21:59:50
    ff.record("v1", "b", "kopi", 0, 10.0, 10.0, t(23, 58, 0))
    ff.record("v1", "b", "kopi", 0, 10.0, 10.0, t(23, 59, 50))
    ff.close_idle("v1", t(0, 30, d=3))  # the page or the sweep, past midnight
    day = kopi(ff, "2026-11-02")
    assert day.dwell_by_hour[21] == pytest.approx(50) and day.dwell_by_hour[22] is None
    assert day.dwell_by_hour[23] == pytest.approx(110) and day.visits == 2
    assert kopi(ff, "2026-11-03").visits == 0


def test_an_older_position_keeps_the_visits_last_sighting(ff):
    ff.record("v1", "c", "kopi", 0, 10.0, 10.0, t(0, 0, 5, d=3))
    ff.record("v1", "c", "kopi", 0, 10.0, 10.0, t(23, 59, 58))  # the probe's clock, a few seconds behind
    ff.close_idle("v1", t(1, d=3))
    assert kopi(ff, "2026-11-03").visits == 1 and kopi(ff, "2026-11-03").dwell_by_hour[0] == 0
    assert kopi(ff, "2026-11-02").visits == 0


def test_a_visit_closed_by_a_position_days_later_waits_for_close_idle_then_counts_on_its_day(ff, db):
    ff.record("v1", "g", "kopi", 0, 10.0, 10.0, t(12))
    ff.record("v1", "g", "kopi", 0, 10.0, 10.0, t(12, 2))
    ff.record("v1", "g", "books", 0, 30.0, 10.0, t(10, d=5))  # back three days later: a call of the 5th
    assert kopi(ff, "2026-11-02").visits == 0 and db.hlen(FootfallKeys("v1").late_dwell()) == 2
    assert ff.close_idle("v1", t(10, 1, d=5)) == 0  # nothing idle; the late visit goes to its day
    day = kopi(ff, "2026-11-02")
    assert day.visits == 1 and day.dwell_by_hour[12] == pytest.approx(120)
    assert not db.exists(FootfallKeys("v1").late_dwell())


def test_a_visit_opened_before_its_day_was_kept_closes_in_the_calls_hour(ff, db):
    keys = FootfallKeys("v1")
    db.hset(keys.open_visits(), "old", f"kopi|{t(12):.3f}|{t(12, 2):.3f}")  # the value's former form
    db.zadd(keys.open_by_time(), {"old": t(12, 2)})
    assert ff.close_idle("v1", t(13)) == 1
    assert kopi(ff, "2026-11-02").dwell_by_hour[13] == pytest.approx(120)


def test_a_visit_last_seen_before_the_dwell_retention_counts_nowhere(db):
    ff = FootfallStore(db, tz="Asia/Shanghai", ttl_days=2)
    ff.record("v1", "d", "kopi", 0, 10.0, 10.0, t(12, d=1))
    assert ff.close_idle("v1", t(12, d=3)) == 1  # closed, into no day: Nov 1's dwell is past retention
    assert not db.keys("mp:{v1}:ff:dwell:*")
    ff.record("v1", "e", "kopi", 0, 10.0, 10.0, t(12, d=2))
    assert ff.close_idle("v1", t(12, d=3)) == 1
    assert kopi(ff, "2026-11-02").visits == 1  # within 2 days: counted on its day


def test_the_trackers_sweep_closes_idle_visits_without_a_later_position(svc, demo):
    seen = time.time() - 1800  # 30 min ago: idle for longer than gap_s (10 min) whatever the test's speed
    for i in range(5):
        svc.footfall.record("demo", f"s{i}", "kopi", 0, 10.0, 10.0, seen - 120 + i)
        svc.footfall.record("demo", f"s{i}", "kopi", 0, 10.0, 10.0, seen + i)
    # The sweeps the tracker process runs (`python -m portal track`), not a list made for the test
    tracker = Tracker(svc.db, svc.venues, svc.locator, sweeps=svc.tracker_sweeps(), sweep_every_s=0.0)
    tracker.round()
    day = svc.footfall.today("demo", seen).isoformat()
    zone = svc.footfall.report("demo", day, ["kopi"]).zones["kopi"]
    assert zone.visits == 5 and zone.mean_dwell_s == pytest.approx(120)
    assert svc.db.hlen(FootfallKeys("demo").open_visits()) == 0
