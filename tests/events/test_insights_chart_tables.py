"""The insights charts' numbers reach a screen reader and whoever cannot tell shades of blue apart: each SVG is
hidden from assistive technology and followed by the same counts as a table ("Show ... as a table"); the heatmap's
168 counts were only tooltips on unfocusable cells. The SVGs scale down with the page (a fixed 520 px dwell chart
made a 320 px phone scroll sideways)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from portal.events import report

SVG = "{http://www.w3.org/2000/svg}svg"


def cells(table: ET.Element) -> list[list[str]]:
    return [["".join(c.itertext()) for c in tr] for tr in table.iter("tr")]


def test_a_bar_charts_numbers_are_a_table():
    root = ET.fromstring(str(report.bar_chart([("0-5 min", (None, "<5")), ("5-15 min", (7, "7"))], "Dwell", "dwell",
                                              ("Dwell time", "Visits"))))
    svg = root.find(SVG)
    assert svg.get("aria-hidden") == "true" and svg.get("role") is None
    assert "max-width:100%" in svg.get("style")
    details = root.find("details")
    assert details.get("id") == "dwell-table" and details.find("summary").text == "Show Dwell as a table"
    table = details.find("table")
    assert table.find("caption").text == "Dwell"
    assert cells(table) == [["Dwell time", "Visits"], ["0-5 min", "<5"], ["5-15 min", "7"]]
    assert [th.get("scope") for th in table.iter("th")] == ["col", "col", "row", "row"]


def test_a_bar_chart_without_columns_leaves_its_numbers_to_the_pages_table():
    root = ET.fromstring(str(report.bar_chart([("Kopi: in zone", (12, "12"))], "Funnels", "funnel")))
    assert root.find(SVG).get("aria-hidden") == "true" and root.find("details") is None


def test_the_heatmaps_counts_are_a_table_an_hour_a_row():
    grid = [[(None, "<5")] * 24 for _ in range(7)]
    grid[0][12], grid[6][23] = (9, "9"), (0, "0")
    root = ET.fromstring(str(report.heatmap_chart(grid, "Arrivals", "heat", "Shade: arrivals")))
    assert root.find(SVG).get("aria-hidden") == "true"
    rows = cells(root.find("details/table"))
    assert rows[0] == ["Hour", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] and len(rows) == 25
    assert rows[13] == ["12:00", "9", *["<5"] * 6] and rows[24][0] == "23:00" and rows[24][7] == "0"


def test_the_insights_page_offers_the_tables(client, console, svc):
    t = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()
    for i in range(6):
        svc.presence.record("demo", f"d{i}", "kopi", t + i)
        svc.presence.record("demo", f"d{i}", "kopi", t + i + 600)
    svc.presence.sweep("demo", t + 4 * 3600)
    console.login("ops")
    page = client.get("/console/ops/demo/insights?day=2026-11-02").get_data(as_text=True)
    assert 'id="chart-dwell-table"' in page and 'id="chart-heatmap-table"' in page
    assert '<tr><th scope="row">5-15 min</th><td>6</td></tr>' in page
