"""The hourly footfall on the days the clocks change (Europe/Madrid, 2026): one column per real hour of the
venue's day, 25 on 25 October (the repeated 02 hour twice, each labelled with its UTC offset), 23 on 29 March
(no 02 column), and every other day keyed and read as before the rule (a mall upgraded in place keeps its 35
days of hours)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal.tracking.footfall import FootfallKeys, FootfallStore

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def ff(db) -> FootfallStore:
    return FootfallStore(db, tz_of=lambda venue: MADRID)


def at(day: int, month: int, hour: int, minute: int = 30, fold: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=MADRID, fold=fold).timestamp()


def test_the_day_the_clocks_go_back_shows_both_02_hours_apart(ff):
    first, second = at(25, 10, 2), at(25, 10, 2, fold=1)
    assert second - first == 3600
    ff.record("m", "p1", "z1", 0, 1.0, 1.0, first)
    ff.record("m", "p2", "z1", 0, 1.0, 1.0, second)
    ff.record("m", "p3", "z1", 0, 1.0, 1.0, at(25, 10, 3))
    report = ff.report("m", "2026-10-25", ["z1"])
    assert len(report.visitors_by_hour) == len(report.hours) == 25
    assert report.hours[1:5] == ["01", "02 (UTC+02:00)", "02 (UTC+01:00)", "03"]
    assert report.visitors_by_hour[1:5] == [0, 1, 1, 1]
    assert report.zones["z1"].visitors_by_hour[1:5] == [0, 1, 1, 1]
    assert report.visitors == 3


def test_a_visit_closed_in_the_repeated_hour_counts_its_dwell_there(ff):
    ff.record("m", "p1", "z1", 0, 1.0, 1.0, at(25, 10, 2, 10, fold=1))
    ff.record("m", "p1", "z1", 0, 1.0, 1.0, at(25, 10, 2, 15, fold=1))
    ff.close_idle("m", at(25, 10, 5))
    zone = ff.report("m", "2026-10-25", ["z1"]).zones["z1"]
    assert zone.visits == 1 and zone.dwell_by_hour[3] == pytest.approx(300)
    assert zone.dwell_by_hour[2] is None


def test_the_day_the_clocks_go_forward_has_no_02_column(ff):
    ff.record("m", "p1", "z1", 0, 1.0, 1.0, at(29, 3, 1))
    ff.record("m", "p2", "z1", 0, 1.0, 1.0, at(29, 3, 3))  # an hour after p1
    report = ff.report("m", "2026-03-29", ["z1"])
    assert len(report.visitors_by_hour) == len(report.hours) == 23
    assert "02" not in report.hours
    assert report.hours[:3] == ["00", "01", "03"]
    assert report.visitors_by_hour[:3] == [0, 1, 1]


def test_other_days_keep_their_hour_keys(ff, db):
    """A mall upgraded in place: the hours counted before the rule (keyed "HH") read the same on a day without a
    change, and an ordinary day's new counts land in the same keys."""
    ff.record("m", "p1", "z1", 0, 1.0, 1.0, at(24, 10, 2))
    assert db.exists(FootfallKeys("m").visitors("20261024", "02", "z1"))
    db.pfadd(FootfallKeys("m").visitors("20261023", "17", "z1"), "old-member")
    report = ff.report("m", "2026-10-23", ["z1"])
    assert report.hours == [f"{h:02d}" for h in range(24)]
    assert report.zones["z1"].visitors_by_hour[17] == 1
    assert ff.report("m", "2026-10-24", ["z1"]).visitors_by_hour[2] == 1


def test_an_old_count_of_the_repeated_hour_reads_as_its_first_pass(ff, db):
    """Counted before the rule, both 02 hours of the day the clocks went back are in "02": the page shows them as
    the first 02 (summer time), the second one empty."""
    db.pfadd(FootfallKeys("m").visitors("20261025", "02", "z1"), "a", "b")
    report = ff.report("m", "2026-10-25", ["z1"])
    assert report.zones["z1"].visitors_by_hour[2:4] == [2, 0]
