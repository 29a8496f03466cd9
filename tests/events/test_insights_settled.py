"""A period's figures are final only once it has settled (report.shown_from: over, and the visits still open at its end
closed and written, dated back): until then the operator's page says "not final yet" and its exports say partial,
and a reading made before is never handed out as final after (the insights API and a zone owner get nothing before:
tests/events/test_insights_api.py, tests/events/test_insights_distinct_phones.py)."""

from __future__ import annotations

from datetime import date

from portal.events import report
from tests.events.test_insights_console import DAY, crowd  # noqa: F401 - the fixture: 12 phones in Kopi, 3 in Books
from tests.events.test_insights_definitions_exports import read_csv

UNTIL = "2026-11-03T00:00+08:00"  # DAY's end, as an export writes it


def test_a_day_over_but_not_settled_is_not_final_on_the_operators_page_and_exports(client, console, crowd,  # noqa: F811
                                                                                  monkeypatch):
    """At 00:05 yesterday was exported as final ("partial": false, no "so far"), and then changed."""
    console.login("ops")
    monkeypatch.setattr(report, "SETTLE_S", 400 * 86400)  # DAY (2026-11-02) has not settled yet
    resp = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}")
    meta, rows = read_csv(resp.get_data(as_text=True))
    assert (meta["partial"], meta["until"]) == ("true", UNTIL)  # the period's end, not when it was counted
    assert {r["period_until"] for r in rows.values()} == {UNTIL}
    assert resp.headers["Content-Disposition"].endswith('-to-date.csv"')
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    assert 'id="so-far"' in page and "Not final yet (counted at " in page and "still under way" not in page
    zh = client.get(f"/console/ops/demo/insights?day={DAY}&lang=zh").get_data(as_text=True)
    assert 'id="so-far"' in zh and "Not final yet" not in zh
    monkeypatch.setattr(report, "SETTLE_S", 300)  # settled: the reading above (cached) is made again, final
    meta, _rows = read_csv(client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert (meta["partial"], meta["until"]) == ("false", UNTIL)
    assert 'id="so-far"' not in client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)


def test_a_reading_made_before_the_period_settled_is_made_again_after(app, crowd):  # noqa: F811
    venue_map, day = crowd.venues.get_map("demo"), date.fromisoformat(DAY)
    until = report.day_bounds(day, "Asia/Shanghai")[1]
    settles = report.shown_from(crowd, until)
    early = report.day_insights(crowd, venue_map, day, now=until + 60)
    assert early.as_of == until + 60  # was None: final at 00:01
    with app.test_request_context("/?lang=en"):
        assert report.so_far(early).startswith("Not final yet")
    assert report.day_insights(crowd, venue_map, day, now=settles - 1).as_of == until + 60  # from the cache
    final = report.day_insights(crowd, venue_map, day, now=settles)
    assert final.as_of is None and final.visitors == early.visitors
