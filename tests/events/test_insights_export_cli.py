"""`python -m portal flask insights export` (portal/events/cli.py): for a group operator, every venue's and period's
insights in one file, each the console export of that venue and period (the same rows), each in its venue's time
zone; progress on stderr; unknown venues and bad dates refused as usage errors with nothing written; one audit
entry per venue under the user "cli"."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fingerprints.model import Floor, VenueMap
from portal.auth import AuditLog
from portal.captive.config import PortalConfigStore
from portal.events.log import EventKeys
from portal.operator.insights import COLUMNS
from tests.events.test_insights_console import DAY, crowd  # noqa: F401 - the fixture: 12 phones in Kopi, 3 in Books
from tests.events.test_insights_definitions_exports import read_csv

NEXT = "2026-11-03"


@pytest.fixture
def tiny(svc, demo):
    """A second mall, an ocean away: Madrid's days, not Shanghai's."""
    svc.venues.put_map(VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)]))
    PortalConfigStore(svc.db).set("tiny", {"time_zone": "Europe/Madrid"})
    return "tiny"


def export(app, *args: str):
    return app.test_cli_runner().invoke(args=["insights", "export", *args])


def cli_exports(db, venue: str) -> list[dict]:
    return [e["detail"] for e in AuditLog(db).recent(venue, 50) if e["action"] == "insights.export"]


def test_one_file_holds_every_venues_periods_as_their_console_exports(app, client, console, crowd, tiny,  # noqa: F811
                                                                       tmp_path):
    out = tmp_path / "group.csv"
    result = export(app, "--venues", "demo,tiny", "--from", DAY, "--until", NEXT, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exporting" in result.stderr and f"{out}: " in result.stdout and "4 periods of 2 venue(s)" in result.stdout
    meta, _rows = read_csv(out.read_text(encoding="utf-8"))
    assert meta["venues"] == "demo (Asia/Shanghai), tiny (Europe/Madrid)" and meta["partial"] == "false"
    assert meta["periods"] == f"each day from {DAY} to {NEXT}"
    assert "venue" not in meta and meta["k"] == "5" and "definition.visitors" in meta
    body = [line for line in out.read_text(encoding="utf-8").lstrip("\ufeff").splitlines() if not line.startswith("#")]
    assert body[0] == ",".join(COLUMNS)
    periods = list(dict.fromkeys(tuple(line.split(",")[:3]) for line in body[1:]))
    assert periods == [("demo", f"{DAY}T00:00+08:00", f"{NEXT}T00:00+08:00"),
                       ("demo", f"{NEXT}T00:00+08:00", "2026-11-04T00:00+08:00"),
                       ("tiny", f"{DAY}T00:00+01:00", f"{NEXT}T00:00+01:00"),  # each venue's own midnight
                       ("tiny", f"{NEXT}T00:00+01:00", "2026-11-04T00:00+01:00")]
    console.login("ops")
    for day in (DAY, NEXT):
        text = client.get(f"/console/ops/demo/insights/export.csv?day={day}").get_data(as_text=True)
        console_rows = [line for line in text.lstrip("\ufeff").splitlines() if not line.startswith("#")][1:]
        assert [line for line in body if line.startswith(f"demo,{day}T")] == console_rows
    assert "demo,2026-11-02T00:00+08:00,2026-11-03T00:00+08:00,visitors,*,the whole venue,,12,shown" in body
    assert cli_exports(crowd.db, "tiny") == [
        {"format": "csv", "scope": "venue", "period": f"{DAY}..{NEXT}", "by": "day", "periods": "2"}]
    assert [e["user"] for e in AuditLog(crowd.db).recent("tiny", 5) if e["action"] == "insights.export"] == ["cli"]


def test_weeks_to_parquet_in_chinese(app, crowd, tiny, tmp_path):  # noqa: F811
    import pyarrow.parquet as pq

    out = tmp_path / "group.parquet"
    result = export(app, "--venues", "tiny,demo", "--from", "2026-11-04", "--until", "2026-11-10", "--period", "week",
                    "--format", "parquet", "--lang", "zh", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(io.BytesIO(out.read_bytes()))
    assert tuple(table.column_names) == COLUMNS
    rows = table.to_pylist()
    assert list(dict.fromkeys((r["venue"], r["period_from"]) for r in rows)) == [
        ("tiny", "2026-11-02T00:00+01:00"), ("tiny", "2026-11-09T00:00+01:00"),  # whole ISO weeks, Monday first
        ("demo", "2026-11-02T00:00+08:00"), ("demo", "2026-11-09T00:00+08:00")]
    kopi = next(r for r in rows if r["venue"] == "demo" and r["metric"] == "funnel_in_zone" and r["zone"] == "kopi")
    assert kopi["zone_name"] == "考比咖啡" and kopi["value"] == 12.0
    assert table.schema.metadata[b"periods"] == b"each week holding a day from 2026-11-04 to 2026-11-10"
    assert cli_exports(crowd.db, "demo") == [
        {"format": "parquet", "scope": "venue", "period": "2026-11-02..2026-11-15", "by": "week", "periods": "2"}]


def test_a_period_under_way_is_partial(app, svc, demo, tmp_path):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    out = tmp_path / "today.csv"
    result = export(app, "--venues", "demo", "--from", str(today - timedelta(days=1)), "--until", str(today),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    meta, _rows = read_csv(out.read_text(encoding="utf-8"))
    assert meta["partial"] == "true"
    [entry] = cli_exports(svc.db, "demo")
    assert entry["until"].startswith(today.isoformat())


def test_a_period_the_log_no_longer_holds_is_skipped_and_said(app, crowd, tiny, tmp_path):  # noqa: F811
    madrid = datetime(2026, 11, 3, tzinfo=ZoneInfo("Europe/Madrid")).timestamp()
    crowd.db.set(EventKeys("tiny").kept_since(), int(madrid * 1000))  # tiny's log trimmed up to its 3 November
    out = tmp_path / "group.csv"
    result = export(app, "--venues", "demo,tiny", "--from", DAY, "--until", NEXT, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "skipped tiny 2026-11-02: This period's figures would be incomplete" in result.stderr
    assert "3 periods of 2 venue(s), 1 skipped" in result.stdout
    meta, _rows = read_csv(out.read_text(encoding="utf-8"))
    assert meta["skipped"].startswith("tiny 2026-11-02: This period's figures would be incomplete")
    assert f"tiny,{NEXT}T00:00+01:00" in out.read_text(encoding="utf-8")
    assert f"tiny,{DAY}T" not in out.read_text(encoding="utf-8")
    assert cli_exports(crowd.db, "tiny") == [
        {"format": "csv", "scope": "venue", "period": f"{NEXT}..{NEXT}", "by": "day", "periods": "1"}]
    nothing = tmp_path / "nothing.csv"
    result = export(app, "--venues", "tiny", "--from", DAY, "--until", DAY, "--out", str(nothing))
    assert result.exit_code == 1 and "nothing to export: tiny 2026-11-02" in result.output
    assert not nothing.exists() and len(cli_exports(crowd.db, "tiny")) == 1


@pytest.mark.parametrize(("args", "words"), [
    (("--venues", "demo,nowhere"), "unknown venue 'nowhere'"),
    (("--venues", " , "), "name at least one venue"),
    (("--venues", "demo", "--from", "2026-11-31"), "2026-11-31 is not a date"),
    (("--venues", "demo", "--from", "11/02/2026"), "YYYY-MM-DD"),
    (("--venues", "demo", "--until", "1999-12-31"), "between 2000-01-01 and 2099-12-31"),
    (("--venues", "demo", "--from", NEXT, "--until", DAY), f"{NEXT} is after --until {DAY}"),
    (("--venues", "demo", "--from", "2024-01-01"), "at most 366 days"),
    (("--venues", "demo", "--until", "2099-01-01"), "after the venue's today"),
    (("--venues", "demo", "--period", "year"), "'year' is not one of"),
    (("--venues", "demo", "--format", "xlsx"), "'xlsx' is not one of"),
])
def test_unknown_venues_and_bad_dates_are_usage_errors(app, svc, demo, tmp_path, args, words):
    out = tmp_path / "x.csv"
    given = dict(zip(args[::2], args[1::2], strict=True))
    defaults = {"--from": DAY, "--until": NEXT, "--out": str(out)}
    result = export(app, *args, *(x for k, v in defaults.items() if k not in given for x in (k, v)))
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not out.exists() and cli_exports(svc.db, "demo") == []
