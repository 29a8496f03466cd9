"""The insights say what their figures are: the pages define visitor, passer-by, capture rate, "completed visits
only", the funnel's consent gap and the MAC / positioning limits (portal/operator/insights.py
figure_definitions); the exports carry venue, scope, period, time zone, k and those definitions (CSV: "# key:
text" lines above the header, read by pandas with comment="#"; Parquet: key-value metadata), mark a held-back
figure "suppressed" rather than leaving a blank that reads as 0, and hold the page's mean dwell and rates."""

from __future__ import annotations

import csv
import io
import re

from portal.operator.insights import COLUMNS
from tests.events.export_lines import five
from tests.events.test_insights_console import DAY, crowd  # noqa: F401 - the fixture: 12 phones in Kopi, 3 in Books

# "transacted" since 2026-12-07: the page defined it in a sentence of its own, the exports not at all
DEFINED = ("visitors", "passers_by", "capture_rate", "completed_visits", "transacted", "funnel", "phones",
           "positioning")


def read_csv(text: str) -> tuple[dict[str, str], dict[tuple[str, str, str], dict[str, str]]]:
    """(the "# key: text" metadata, the rows by metric, zone and key), as pandas' comment="#" reads it."""
    assert text.startswith("\ufeff# ")  # a byte-order mark: a spreadsheet reads the UTF-8 as such
    lines = text.lstrip("\ufeff").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    assert lines[:len(comments)] == comments and not any('"' in line for line in comments)
    meta = dict(line[2:].split(": ", 1) for line in comments)
    table = list(csv.DictReader(lines[len(comments):]))
    assert tuple(table[0]) == COLUMNS
    return meta, {(r["metric"], r["zone"], r["key"]): r for r in table}


def test_the_pages_define_their_figures(client, console, crowd):  # noqa: F811
    console.login("ops")
    for path in (f"/console/ops/demo/insights?day={DAY}", "/console/ops/demo/insights?day=2026-11-02&period=month"):
        page = client.get(path).get_data(as_text=True)
        assert re.findall(r'data-definition="([a-z_]+)"', page) == list(DEFINED)
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    assert "stayed at least 5 minutes" in page and "randomise" in page and "metres" in page
    assert "count only shoppers who agreed to location use" in page
    console.login("kopi")
    for day in (DAY, "2099-01-01"):  # figures, and a notice instead of them: defined either way
        page = client.get(f"/console/owner/demo/insights?day={day}").get_data(as_text=True)
        assert re.findall(r'data-definition="([a-z_]+)"', page) == list(DEFINED), day


def test_the_csv_says_what_it_holds_and_marks_what_it_held_back(client, console, crowd):  # noqa: F811
    console.login("ops")
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    meta, rows = read_csv(client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert meta["venue"].startswith("demo (") and meta["period"] == DAY and meta["time_zone"] == "Asia/Shanghai"
    assert meta["from"] == "2026-11-02T00:00+08:00" and meta["until"] == "2026-11-03T00:00+08:00"
    assert meta["k"] == "5" and meta["scope"].startswith("*") and "suppressed" in meta["status"]
    assert {f"definition.{key}" for key in DEFINED} <= set(meta)
    assert rows[("visitors", "*", "")]["value"] == "12" and rows[("visitors", "*", "")]["status"] == "shown"
    assert five([rows[("passers_by", "*", "")]]) == [{"metric": "passers_by", "zone": "*", "key": "", "value": "",
                                                      "status": "suppressed"}]  # was a bare blank
    mean = re.search(r'id="mean-dwell">([^<]+)<', page).group(1)
    assert rows[("mean_dwell_min", "*", "")]["value"] == mean and mean != "—"
    assert rows[("capture_rate_pct", "*", "")]["status"] == "suppressed"  # as the page's "—": passers-by held back
    assert re.search(r'<tr data-zone="kopi">.*?12 <span class="small">100.0%</span>.*?6 <span class="small">50.0%',
                     page)
    assert float(rows[("funnel_landed_rate_pct", "kopi", "")]["value"]) == 100.0
    assert float(rows[("funnel_transacted_rate_pct", "kopi", "")]["value"]) == 50.0
    assert rows[("funnel_landed_rate_pct", "books", "")]["status"] == "suppressed"  # 3 phones in Books: "<5"


def test_an_owners_csv_names_its_zone(client, console, crowd):  # noqa: F811
    console.login("kopi")
    meta, rows = read_csv(client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert meta["scope"].startswith("kopi (") and meta["period"] == DAY and "definition.funnel" in meta
    assert rows[("funnel_in_zone", "kopi", "")]["value"] == "12" and ("funnel_in_zone", "books", "") not in rows
    assert rows[("capture_rate_pct", "kopi", "")]["status"] in ("shown", "suppressed")


def test_the_parquet_carries_the_same_in_its_metadata(client, console, crowd):  # noqa: F811
    import pyarrow.parquet as pq

    console.login("ops")
    table = pq.read_table(io.BytesIO(client.get(f"/console/ops/demo/insights/export.parquet?day={DAY}").data))
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["time_zone"] == "Asia/Shanghai" and meta["k"] == "5" and meta["period"] == DAY
    assert {f"definition.{key}" for key in DEFINED} <= set(meta)
    data = five(table.to_pylist())
    assert {"metric": "passers_by", "zone": "*", "key": "", "value": None, "status": "suppressed"} in data
    assert {"metric": "funnel_transacted", "zone": "kopi", "key": "", "value": 6, "status": "shown"} in data
    assert {"metric": "funnel_transacted_rate_pct", "zone": "kopi", "key": "", "value": 50.0, "status": "shown"} in data
    assert any(r["metric"] == "mean_dwell_min" and r["status"] == "shown" for r in data)
