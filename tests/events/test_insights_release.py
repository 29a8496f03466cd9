"""A zone owner sees the figures of a period once it is over: today's figures, refreshed as they fill up,
would give one shopper's visit away as the difference (a visitor more, her dwell, her path, her purchase),
which no k-check of either reading prevents. The operator (the mall, which holds the data anyway) keeps the
live view. The clock the report reads is set here (no waiting): 2 Nov 2026 is "today" until it is set later."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.events.export_lines import export_lines

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone
DAY = "2026-11-02"
OWNER = f"/console/owner/demo/insights?day={DAY}"
TODAY_NOTICE = "Today's figures appear once the day is over, so that no refresh can single out one shopper."


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


@pytest.fixture
def clock(monkeypatch):
    """Set the time the report compares a period's end with."""
    from portal.events import report

    def set_to(when: float) -> None:
        monkeypatch.setattr(report, "time_now", lambda: when)

    return set_to


def one_visit(svc, dev: str, shopper: str, route: list[tuple[str, int]], t: float, buy: bool) -> None:
    """The reviewer's shopper: through `route` (zone, seconds), landing in kopi and buying there or not."""
    svc.consent.record("demo", shopper, location=True, marketing=False)
    for zone, stay in route:
        svc.presence.record("demo", dev, zone, t)
        if zone == "kopi":
            svc.events.emit("demo", "landing", at=t + 30, device=dev, shopper=shopper, zone="kopi")
            if buy:
                svc.events.emit("demo", "txn", at=t + 60, device=dev, shopper=shopper, zone="kopi", app="coupons",
                                action="coupon_claim")
        t += stay
    svc.presence.record("demo", dev, route[-1][0], t)


def snapshot(client, url: str) -> tuple[dict[str, str], list[str], str]:
    """Every figure a page shows: the headline, the table cells, and the page itself."""
    page = client.get(url).get_data(as_text=True)
    figures = dict(re.findall(r'<strong id="([a-z-]+)">([^<]*)</strong>', page))
    cells = re.findall(r"<td>(?:<span[^>]*>)?([0-9]+)", page)
    return figures, cells, page


def differences(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.fixture
def ten_then_one(svc, demo, clock):
    """Ten shoppers pass Kopi on 2 Nov (every figure at least k); the day is not over."""
    clock(at(2, 14))
    base = at(2, 10)
    for i in range(10):
        route = [("books", 120), ("kopi", 1200), ("lumen", 120)] if i < 5 else \
            [("atrium", 120), ("kopi", 400), ("pixel", 120)]
        one_visit(svc, f"d{i}", f"s{i}", route, base + i * 5, buy=i % 2 == 0)
    svc.presence.sweep("demo", base + 2 * 3600)

    def the_eleventh() -> None:
        """She walks Books -> Kopi (20 min, buys) -> Lumen; then the cached figures are gone (as after a minute)."""
        one_visit(svc, "target-phone", "target", [("books", 120), ("kopi", 1200), ("lumen", 120)], base + 3600, True)
        svc.presence.sweep("demo", base + 2.5 * 3600)
        svc.events.invalidate_insights("demo")

    return the_eleventh


def test_an_owner_refreshing_today_sees_no_one_shopper(client, console, ten_then_one):
    console.login("kopi")
    before_figures, before_cells, before = snapshot(client, OWNER)
    ten_then_one()
    after_figures, after_cells, after = snapshot(client, OWNER)
    assert differences(before_figures, after_figures) == {} and before_cells == after_cells
    assert not before_figures.keys() & {"visitors", "passers-by", "capture", "mean-dwell", "new", "repeat"}
    assert TODAY_NOTICE in before.replace("&#39;", "'") and TODAY_NOTICE in after.replace("&#39;", "'")
    assert "→" not in after  # no path either
    for period in ("week", "month"):  # the week and the month that hold today are not over either
        figures, _cells, page = snapshot(client, f"{OWNER}&period={period}")
        assert "visitors" not in figures and 'id="insights-notice"' in page, period


def test_the_operator_keeps_the_live_view(client, console, ten_then_one):
    console.login("ops")
    before = snapshot(client, f"/console/ops/demo/insights?day={DAY}")[0]
    ten_then_one()
    after = snapshot(client, f"/console/ops/demo/insights?day={DAY}")[0]
    assert (before["visitors"], after["visitors"]) == ("10", "11")


def test_an_owners_export_of_today_is_refused(client, console, svc, ten_then_one):
    console.login("kopi")
    for fmt in ("csv", "parquet"):
        resp = client.get(f"/console/owner/demo/insights/export.{fmt}?day={DAY}")
        assert resp.status_code == 409, fmt
        assert "once the day is over" in resp.get_data(as_text=True)
    assert not [e for e in svc.privacy.exports("demo") if e["what"].startswith("insights")]  # nothing given out


def test_the_day_shows_once_it_is_over_and_its_last_stays_are_closed(client, console, clock, ten_then_one):
    ten_then_one()
    console.login("kopi")
    clock(at(3, 0, 10))  # over, but a stay of the day may still be closed (LEAVE_AFTER_S, then the sweep)
    figures, _cells, page = snapshot(client, OWNER)
    assert "visitors" not in figures and "These figures appear at 2026-11-03 00:25" in page
    clock(at(3, 0, 25))
    figures, _cells, page = snapshot(client, OWNER)
    assert (figures["visitors"], figures["new"]) == ("11", "6")
    assert "Mango Tree Books → Kopi Coffee → Lumen Fashion" in page
    csv = client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True)
    assert "visitors,kopi,,11,shown" in export_lines(csv)
    week = snapshot(client, f"{OWNER}&period=week")[2]
    assert "These figures appear at 2026-11-09 00:25" in week  # Monday to Sunday: over on the 9th
    clock(at(9, 0, 25))
    assert snapshot(client, f"{OWNER}&period=week")[0]["visitors"] == "11"


def test_the_owners_page_opens_on_yesterday_the_latest_it_may_show(client, console, svc):
    """With no day asked for, the owner's page opens on the latest day it may show (venue time): yesterday, or in
    the first 25 minutes after the venue's midnight the day before (`report.latest_shown_day`, tested at fixed times
    in test_insights_distinct_phones.py), never on a today it cannot show."""
    from portal.events import report

    console.login("kopi")
    page = client.get("/console/owner/demo/insights").get_data(as_text=True)
    shown = report.latest_shown_day(svc, svc.venues.get_map("demo")).isoformat()
    assert f'id="day" name="day" value="{shown}"' in page
    today = datetime.now(TZ).date().isoformat()
    assert f'value="{today}"' in client.get(f"/console/owner/demo/insights?day={today}").get_data(as_text=True)
