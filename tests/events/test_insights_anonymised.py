"""The retention job's anonymisation works on whole venue days: each day's phones and shoppers get pseudonyms of
that day's own key, and a visit keeps one (the day it began), so that a run at any time of day splits no stay (a stay
across the run got its entry and its exit under two pseudonyms: two phones in the zone, one of them there for days).
Across days the pseudonyms differ, so a period with anonymised days does not show the distinct counts that would count
one phone once a day (five regulars made ten visitors in a week), nor new vs repeat over an anonymised history: the
page shows "—" and says why, the export's rows of them have the key `anonymised` and no value. On the real store."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from portal.events import report
from tests.events.export_lines import export_lines

TZ = ZoneInfo("Asia/Shanghai")
LATER = 90 * 86400  # the default anonymisation age


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


@pytest.fixture(autouse=True)
def venue_days(svc):
    svc.privacy.tz_of = lambda venue: TZ  # the venue's days (the composition root passes the venues' zones)


def figures(app, svc, day: int, days: int = 1):
    with app.test_request_context("/"):
        return report._figures(svc, svc.venues.get_map("demo"), date(2026, 11, day), days, None, "Asia/Shanghai")


def kopi(ins) -> list:
    return [f for f in ins.funnels if f.zone == "kopi"]


def test_a_run_at_any_time_of_day_splits_no_stay(app, svc, demo):
    for i in range(10):  # in kopi 13:50 .. 14:10
        for m in range(21):
            svc.presence.record("demo", f"p{i}", "kopi", at(2, 13, 50) + m * 60 + i)
    svc.presence.sweep("demo", at(3, 12))
    before = {d: figures(app, svc, d) for d in (2, 3)}
    svc.privacy.apply_retention("demo", at(2, 14) + LATER)  # the daily run, at 14:00, then the next day
    svc.privacy.apply_retention("demo", at(3, 14) + LATER)
    after = {d: figures(app, svc, d) for d in (2, 3)}
    assert all(e.device.startswith("anon-") for e in svc.events.read("demo"))
    assert kopi(after[2]) == kopi(before[2]) and after[2].visitors == before[2].visitors == 10  # was in zone 20
    assert kopi(after[3]) == kopi(before[3]) == []  # was 10 phones "in kopi" the day after


def test_each_day_has_its_own_pseudonyms_and_a_visit_keeps_one(svc, demo):
    """One run over several days (the first, or after the days were lowered) used one key for all of them."""
    def visit(phone: str, start: float, minutes: int, shopper: str | None = None) -> None:
        for m in range(minutes + 1):
            svc.presence.record("demo", phone, "kopi", start + m * 60)
        if shopper:
            svc.events.emit("demo", "landing", at=start + 30, device=phone, shopper=shopper, zone="kopi")
        svc.presence.sweep("demo", start + 86400)

    visit("w", at(2, 10), 10, "s-w")
    visit("w", at(3, 10), 10, "s-w")
    visit("x", at(3, 23, 50), 30)  # across midnight
    assert svc.privacy.apply_retention("demo", at(5, 12) + LATER)["events_anonymised"] == 14
    by_day: dict[int, set] = {}
    for e in svc.events.read("demo"):
        by_day.setdefault(datetime.fromtimestamp(e.at, TZ).day, set()).update({e.device, e.shopper} - {None})
    assert [len(by_day[d]) for d in (2, 3, 4)] == [2, 3, 1]  # a phone and a shopper each day, x once
    assert not by_day[2] & by_day[3] and by_day[4] <= by_day[3]  # x's visit: the day it began


def test_a_period_with_anonymised_days_shows_no_distinct_counts(app, client, console, svc, demo):
    for d in (2, 3):  # five regulars, ten minutes in kopi on two days
        for i in range(5):
            for m in range(11):
                svc.presence.record("demo", f"w{i}", "kopi", at(d, 10) + m * 60 + i)
        svc.presence.sweep("demo", at(d, 12))
    assert figures(app, svc, 8, 7).visitors == 5
    for d in (2, 3, 4):
        svc.privacy.apply_retention("demo", at(d, 14) + LATER)
    week = figures(app, svc, 8, 7)
    assert {"visitors", "passers_by", "funnel:kopi:in_zone"} <= set(week.anonymised)  # 10 phones: not shown
    assert week.safe("visitors", week.visitors) is None and "visitors" not in figures(app, svc, 3).anonymised
    console.login("ops")
    page = client.get("/console/ops/demo/insights?day=2026-11-08&period=week").get_data(as_text=True)
    assert re.search(r'id="visitors">([^<]*)<', page).group(1) == "—"
    assert 'id="anonymised-notice-1"' in page and "Part of this period is anonymised" in page
    day = client.get("/console/ops/demo/insights?day=2026-11-03&period=day").get_data(as_text=True)
    assert re.search(r'id="visitors">([^<]*)<', day).group(1) == "5"
    csv = client.get("/console/ops/demo/insights/export.csv?day=2026-11-08&period=week").get_data(as_text=True)
    assert {"visitors,*,anonymised,,anonymised", "funnel_in_zone,kopi,anonymised,,anonymised"} <= set(export_lines(csv))


def test_new_and_repeat_over_an_anonymised_history_are_not_shown(app, client, console, svc, demo):
    for day in (2, 9):  # five shoppers buy on two Mondays
        for i in range(5):
            svc.consent.record("demo", f"s-r{i}", location=True, marketing=False)
            svc.events.emit("demo", "txn", at=at(day, 12) + i, device=f"r{i}", shopper=f"s-r{i}", zone="kopi",
                            app="coupons", action="coupon_claim")
    assert (figures(app, svc, 9).new, figures(app, svc, 9).repeat) == (0, 5)
    svc.privacy.apply_retention("demo", at(2, 14) + LATER)
    monday = figures(app, svc, 9)
    assert (monday.new, monday.repeat) == (5, 0) and monday.anonymised == ["new", "repeat"]  # they look new
    console.login("ops")
    page = client.get("/console/ops/demo/insights?day=2026-11-09&period=day").get_data(as_text=True)
    assert [re.search(rf'id="{k}">([^<]*)<', page).group(1) for k in ("new", "repeat")] == ["—", "—"]
    assert "part of that history is anonymised" in page
    csv = client.get("/console/ops/demo/insights/export.csv?day=2026-11-09").get_data(as_text=True)
    gone = {"new_shoppers,*,anonymised,,anonymised", "repeat_shoppers,*,anonymised,,anonymised"}
    assert gone <= set(export_lines(csv))
