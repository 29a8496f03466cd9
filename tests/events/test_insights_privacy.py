"""What the insights must not give away. Differencing periods: a day with one shopper must not be
recoverable by subtracting the figures of two periods; periods are fixed (a day, its ISO week, its calendar
month: no "the two days ending on D"), and a longer period shows a figure only when each of its days would
show it. Top paths: a zone owner sees only the steps into and out of their zones, never a path of other
tenants' zones."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.events.export_lines import export_lines

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone


def at(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, tzinfo=TZ).timestamp()


def figures(client, url: str) -> tuple[str, str]:
    page = client.get(url).get_data(as_text=True)
    return tuple(re.search(rf'id="{i}">([^<]*)<', page).group(1) for i in ("visitors", "mean-dwell"))


@pytest.fixture
def lonely_tuesday(svc, demo):
    """Monday 2 Nov: five shoppers in kopi, 10 min each. Tuesday 3 Nov: one shopper, 47 min."""
    for i in range(5):
        svc.presence.record("demo", f"a{i}", "kopi", at(2, 14) + i)
        svc.presence.record("demo", f"a{i}", "kopi", at(2, 14) + i + 600)
    for minute in range(48):
        svc.presence.record("demo", "lonely", "kopi", at(3, 15) + minute * 60)
    svc.presence.sweep("demo", at(4, 12))
    return svc


def test_no_period_gives_away_the_lonely_day(client, console, lonely_tuesday):
    console.login("kopi")
    base = "/console/owner/demo/insights"
    assert figures(client, f"{base}?day=2026-11-02") == ("5", "10.0")
    assert figures(client, f"{base}?day=2026-11-03")[0] == "&lt;5"
    for bad in ("days=2", "days=3", "days=28", "period=fortnight"):  # no window of any length ending on any day
        assert client.get(f"{base}?day=2026-11-03&{bad}").status_code == 400, bad
    for period in ("week", "month"):  # both hold Monday and Tuesday: their figures stay hidden
        for day in ("2026-11-02", "2026-11-03", "2026-11-08"):  # 6 visitors: "withheld", not "<5" (a count of 1-4)
            assert figures(client, f"{base}?day={day}&period={period}") == ("withheld", "—"), (period, day)
    csv = client.get(f"{base}/export.csv?day=2026-11-03&period=week").get_data(as_text=True)
    assert "visitors,kopi,,,suppressed" in export_lines(csv)  # the export withholds it too


def test_a_period_whose_every_day_is_safe_is_shown(client, console, svc, demo):
    for day in (2, 3):
        for i in range(5):
            svc.presence.record("demo", f"d{day}-{i}", "kopi", at(day, 14) + i)
            svc.presence.record("demo", f"d{day}-{i}", "kopi", at(day, 14) + i + 600)
    svc.presence.sweep("demo", at(4, 12))
    console.login("ops")
    page = client.get("/console/ops/demo/insights?day=2026-11-05&period=week").get_data(as_text=True)
    assert '<strong id="visitors">10</strong>' in page
    assert 'value="week" selected' in page


def test_an_owner_sees_only_the_steps_into_and_out_of_its_zone(client, console, svc, demo):
    for i in range(6):  # six phones: books, lumen, cinema, jade, then kopi, then books again
        for j, zone in enumerate(("books", "lumen", "cinema", "jade", "kopi", "books")):
            svc.presence.record("demo", f"p{i}", zone, at(2, 14) + i + j * 120)
    svc.presence.sweep("demo", at(3, 14))
    console.login("kopi")
    page = client.get("/console/owner/demo/insights?day=2026-11-02").get_data(as_text=True)
    body = re.search(r'<table class="compact" id="paths">(.*?)</table>', page, re.S).group(1)
    assert re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", body) == [
        ("Jade Tea House → Kopi Coffee → Mango Tree Books", "6")]
    console.login("ops")  # the venue's paths: the visits' first four zones, as before
    page = client.get("/console/ops/demo/insights?day=2026-11-02").get_data(as_text=True)
    assert "Mango Tree Books → Lumen" in page
