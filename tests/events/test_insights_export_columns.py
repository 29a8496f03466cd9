"""What an insights export says about itself (portal/operator/insights.py `export_response`): every row names its
venue, its period (from/until, ISO with the venue's offset) and its zone in the export's language, so that files put
together still say which mall, period and zone a row is about; a period still under way is exported as partial (until
the figures were made, "partial: true", "-to-date" in the file name) and its page says "so far"; the CSV is sent
as text/csv with one charset; a zh export names the venue in Chinese; an owner's managed_since is ISO with an
offset; every export is in the venue's audit log (the console's audit page and `flask audit`)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from portal.auth import AuditLog
from portal.operator.insights import COLUMNS
from tests.events.test_insights_console import DAY, crowd  # noqa: F401 - the fixture: 12 phones in Kopi, 3 in Books
from tests.events.test_insights_definitions_exports import read_csv
from tests.owner.test_insights_zone_tenancy import NEW, books_day, day_start, hand_books_over

TZ = ZoneInfo("Asia/Shanghai")  # the demo venue's
FROM, UNTIL = "2026-11-02T00:00+08:00", "2026-11-03T00:00+08:00"


def test_every_row_names_its_venue_period_and_zone(client, console, crowd):  # noqa: F811
    import pyarrow.parquet as pq

    console.login("ops")
    _meta, rows = read_csv(client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert {(r["venue"], r["period_from"], r["period_until"]) for r in rows.values()} == {("demo", FROM, UNTIL)}
    assert rows[("visitors", "*", "")]["zone_name"] == "the whole venue"
    assert rows[("funnel_in_zone", "kopi", "")]["zone_name"] == "Kopi Coffee"
    assert rows[("funnel_landed_rate_pct", "kopi", "")]["zone_name"] == "Kopi Coffee"
    table = pq.read_table(io.BytesIO(client.get(f"/console/ops/demo/insights/export.parquet?day={DAY}").data))
    assert tuple(table.column_names) == COLUMNS
    kopi = next(r for r in table.to_pylist() if r["metric"] == "funnel_in_zone" and r["zone"] == "kopi")
    assert kopi == {"venue": "demo", "period_from": FROM, "period_until": UNTIL, "metric": "funnel_in_zone",
                    "zone": "kopi", "zone_name": "Kopi Coffee", "key": "", "value": 12.0, "status": "shown"}


def test_a_chinese_export_names_venue_and_zones_in_chinese(client, console, crowd):  # noqa: F811
    console.login("ops")
    text = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}&lang=zh").get_data(as_text=True)
    meta, rows = read_csv(text)
    assert meta["venue"] == "demo (港湾之光购物中心)"  # was "demo (Harbour Light Mall)"
    assert rows[("funnel_in_zone", "kopi", "")]["zone_name"] == "考比咖啡"
    assert rows[("visitors", "*", "")]["zone_name"] not in ("", "the whole venue")


def test_an_english_export_names_a_chinese_only_venue_in_chinese(client, console, svc, crowd):  # noqa: F811
    """VenueMap.label: a venue with no English name is named by its Chinese one, never "demo ()"."""
    with svc.venues.edit("demo", "test.chinese_venue", by="test") as venue_map:
        venue_map.name = ""
    console.login("ops")
    for lang in ("en", "zh"):
        text = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}&lang={lang}").get_data(as_text=True)
        assert read_csv(text)[0]["venue"] == "demo (港湾之光购物中心)"  # en was "demo ()"


def test_the_csv_is_text_csv_with_one_charset(client, console, crowd):  # noqa: F811
    console.login("ops")
    resp = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # was "...; charset=utf-8; charset=utf-8"
    assert client.get(f"/console/ops/demo/insights/export.parquet?day={DAY}").mimetype == \
        "application/vnd.apache.parquet"


def test_a_period_still_under_way_is_exported_and_shown_as_so_far(app, client, console, svc, demo):
    today = datetime.now(TZ).date()
    console.login("ops")
    before = datetime.now(TZ).replace(microsecond=0)
    resp = client.get(f"/console/ops/demo/insights/export.csv?day={today}&period=month")
    after = datetime.now(TZ)
    meta, rows = read_csv(resp.get_data(as_text=True))
    assert meta["partial"] == "true"
    until = datetime.fromisoformat(meta["until"])
    assert before <= until <= after and until.utcoffset() == timedelta(hours=8)  # not the month's end
    assert {r["period_until"] for r in rows.values()} == {meta["until"]}
    disposition = resp.headers["Content-Disposition"]
    assert re.search(r'filename="insights-demo-month-\d{4}-\d\d-01_\d{4}-\d\d-\d\d-to-date\.csv"', disposition)
    page = client.get(f"/console/ops/demo/insights?day={today}&period=month").get_data(as_text=True)
    assert 'id="so-far"' in page and "So far (to " in page
    # a period that is over: its end, not partial, named as before
    resp = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}")
    meta, _rows = read_csv(resp.get_data(as_text=True))
    assert (meta["partial"], meta["until"]) == ("false", UNTIL) and "to-date" not in resp.headers["Content-Disposition"]
    assert 'id="so-far"' not in client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)


def test_managed_since_is_an_iso_time_with_the_venues_offset(app, client, console, svc):
    day, start = day_start(app, svc, 3)
    books_day(svc, start)
    hand_books_over(client, console, svc)
    key = "mp:{_accounts}:account:newbooks"
    assert svc.db.hget(key, "held") is not None
    svc.db.hset(key, "held", json.dumps({"books": [[start - 86400, None]]}))
    console.login("newbooks", NEW)
    meta, _rows = read_csv(client.get(f"/console/owner/demo/insights/export.csv?day={day}").get_data(as_text=True))
    assert meta["managed_since"] == datetime.fromtimestamp(start - 86400, TZ).isoformat(timespec="minutes")


def test_every_export_is_in_the_venues_audit_log(app, client, console, crowd):  # noqa: F811
    console.login("ops")
    assert client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").status_code == 200
    assert client.get("/console/ops/demo/insights/export.parquet?day=2026-11-08&period=week").status_code == 200
    console.logout()
    console.login("kopi")
    assert client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").status_code == 200
    entries = [e for e in AuditLog(crowd.db).recent("demo", 50) if e["action"] == "insights.export"]
    assert [(e["user"], e["detail"]) for e in entries] == [
        ("kopi", {"format": "csv", "scope": "kopi", "period": DAY}),
        ("ops", {"format": "parquet", "scope": "venue", "period": "week 2026-11-02..2026-11-08"}),
        ("ops", {"format": "csv", "scope": "venue", "period": DAY})]
    printed = app.test_cli_runner().invoke(args=["audit", "demo"])
    assert printed.exit_code == 0 and printed.output.count("insights.export") == 3, printed.output
    assert "format=csv scope=kopi period=2026-11-02" in printed.output
    refused = client.get("/console/owner/demo/insights/export.csv?day=2099-01-01")  # not over: nothing handed out
    assert refused.status_code == 409
    assert len([e for e in AuditLog(crowd.db).recent("demo", 50) if e["action"] == "insights.export"]) == 3
    console.logout()
    console.login("ops")
    page = client.get("/console/ops/demo/audit").get_data(as_text=True)
    assert page.count("Insights exported") == 3
    insights = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    assert 'id="export-audit-more"' in insights and 'href="/console/ops/demo/audit"' in insights


def test_a_partial_export_is_audited_with_its_end(client, console, svc, demo):
    today = datetime.now(TZ).date()
    console.login("ops")
    assert client.get(f"/console/ops/demo/insights/export.csv?day={today}").status_code == 200
    [entry] = [e for e in AuditLog(svc.db).recent("demo", 10) if e["action"] == "insights.export"]
    assert entry["detail"]["period"] == today.isoformat() and entry["detail"]["until"].startswith(today.isoformat())


def test_rows_read_with_the_csv_module_name_their_columns(client, console, crowd):  # noqa: F811
    """The header (changed on 2026-12-07: venue, period_from, period_until and zone_name added) names every column:
    a reader by column name keeps working."""
    console.login("ops")
    text = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True)
    body = [line for line in text.lstrip("\ufeff").splitlines() if not line.startswith("#")]
    reader = csv.reader(body)
    assert tuple(next(reader)) == COLUMNS and all(len(row) == len(COLUMNS) for row in reader)
