"""A figure held back reads "<5" only when it is a count of 1-4; one held back although it is larger (or 0), because
it would give a smaller count away by subtraction (a day of the week, the funnel's step before, the total beside it)
or because fewer than 5 phones stand behind it, reads "withheld", and the page's footnote says what both mean
(report.label, report.withheld_note). The hour-of-week heatmap hatches a held-back cell (it was drawn like a 0)
with a legend, and the dwell chart says what its bars count."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from portal.events import report

TZ = ZoneInfo("Asia/Shanghai")  # the demo venue's
DAY = "2026-11-02"
SVG = "{http://www.w3.org/2000/svg}"


def at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, 2, hour, minute, tzinfo=TZ).timestamp()


def test_the_label_says_which_kind_of_held_back():
    assert [report.label(None, n) for n in (1, 4, 5, 40, 0)] == ["<5", "<5", "withheld", "withheld", "withheld"]
    assert report.label(None) == "<5" and report.label(7, 7) == "7" and report.label(0, 0) == "0"


def stay(svc, phone: str, start: float, minutes: int) -> None:
    svc.presence.record("demo", phone, "kopi", start)
    svc.presence.record("demo", phone, "kopi", start + 60 * minutes)
    svc.presence.record("demo", phone, None, start + 60 * minutes + 30)


def test_visitors_held_back_beside_few_passers_by_read_withheld(client, console, svc, demo):
    """kopi: 9 visitors beside 2 passers-by (11 in zone): both held back; the 9 read "withheld" (were "<5")."""
    for i in range(9):
        stay(svc, f"long{i}", at(11) + 97 * i, 10)
    for i in range(2):
        stay(svc, f"short{i}", at(14) + 97 * i, 1)
    svc.presence.sweep("demo", at(18))
    console.login("kopi")
    page = client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True)
    assert 'id="visitors">withheld<' in page and re.search(r'id="passers-by">(&lt;|<)5<', page)
    note = re.search(r'<span id="withheld-note">(.*?)</span>', page, re.S).group(1)
    assert "a count of 1 to 4" in note and "give away a count below 5" in note
    zh = client.get(f"/console/owner/demo/insights?day={DAY}&lang=zh").get_data(as_text=True)
    word = report_word_zh(client)
    assert f'id="visitors">{word}<' in zh and word != "withheld"


def report_word_zh(client) -> str:
    with client.application.test_request_context("/?lang=zh"):
        return report.label(None, 9)


def test_the_heatmap_hatches_what_it_holds_back_and_says_so():
    grid = [[(0, "0")] * 24 for _ in range(7)]
    grid[0][12], grid[0][13], grid[0][14] = (9, "9"), (None, "<5"), (None, "withheld")
    root = ET.fromstring(str(report.heatmap_chart(grid, "Arrivals", "heat", "Shade: arrivals (darker: more)")))
    cells = {rect.find(f"{SVG}title").text: rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title")
             is not None}
    assert cells["Mon 13h: <5"].get("fill") == "url(#heat-hatch)" == cells["Mon 14h: withheld"].get("fill")
    assert cells["Mon 15h: 0"].get("fill-opacity") == "0.00" and cells["Mon 15h: 0"].get("fill") == "#0b57d0"
    assert float(cells["Mon 12h: 9"].get("fill-opacity")) == 1.0
    assert root.find(f"{SVG}svg/{SVG}defs/{SVG}pattern").get("id") == "heat-hatch"
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert "Shade: arrivals (darker: more)" in legend and "Hatched: not shown (“<5” or “withheld”)" in legend


def test_the_dwell_chart_says_what_it_counts(client, console, svc, demo):
    for i in range(6):
        stay(svc, f"d{i}", at(12) + i, 10)
    svc.presence.sweep("demo", at(18))
    console.login("ops")
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    assert "<title>Dwell time (number of visits)</title>" in page
    assert "Shade: arrivals (darker: more)" in page and 'class="held"' not in page  # none held back
    console.logout()
    console.login("kopi")
    page = client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True)
    assert "<title>Dwell time (number of stays)</title>" in page and "Shade: zone entries (darker: more)" in page
    assert '<th scope="col">Stays</th>' in page
