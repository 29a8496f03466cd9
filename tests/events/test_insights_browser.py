"""In a real headless Chromium against the live gunicorn server: the operator's insights page draws its SVG
charts and offers the exports; a zone owner's insights page shows its zone and not the others. On a 320 px phone
both fit the screen, their charts' numbers as tables."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.consent import ConsentStore
from portal.events import EventLog, PresenceTracker
from tests.browsers import console_sign_in

DAY = "2026-10-05"


def seed_day(db) -> None:
    t = datetime(2026, 10, 5, 15, tzinfo=UTC).timestamp()
    log, presence = EventLog(db), PresenceTracker(db)
    for i in range(8):
        presence.record("demo", f"bt{i}", "kopi", t + i)
        presence.record("demo", f"bt{i}", "books", t + i + 900)
        ConsentStore(db).record("demo", f"s-bt{i}", location=True, marketing=False)
        log.emit("demo", "landing", at=t + i + 60, device=f"bt{i}", shopper=f"s-bt{i}", zone="kopi")
    presence.sweep("demo", t + 6 * 3600)


def narrow_phone_shows_the_charts_and_their_tables(page) -> None:
    """On a 320 px phone: no sideways scrolling (a 520 px chart made the page scroll), the charts scaled down, the
    numbers they draw as tables."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 640})
    page.click("#chart-dwell-table summary")
    page.click("#chart-heatmap-table summary")
    assert page.locator("#chart-heatmap-table td").count() == 24 * 7
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.locator("svg#chart-dwell").bounding_box()["width"] < 320
    page.set_viewport_size(size)


def test_charts_in_operator_and_owner_consoles(page, live_server):
    seed_day(live_server.db())
    base = live_server.url
    console_sign_in(page, base, "ops", lands="/console/ops/demo/")
    page.goto(f"{base}/console/ops/demo/insights?day={DAY}")
    assert page.locator("svg#chart-dwell rect.bar").count() == 6
    assert page.locator("svg#chart-heatmap").is_visible() and page.locator("svg#chart-funnel").is_visible()
    assert page.locator("#visitors").inner_text() == "8"
    assert page.locator("#funnels tr[data-zone=kopi] td").nth(2).inner_text().startswith("8")
    narrow_phone_shows_the_charts_and_their_tables(page)
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == f"insights-demo-{DAY}.csv"
    page.context.clear_cookies()
    console_sign_in(page, base, "kopi", lands="/console/owner/demo/")
    page.click("#insights-link")
    page.goto(f"{base}/console/owner/demo/insights?day={DAY}")
    assert page.locator("svg#chart-dwell").is_visible()
    narrow_phone_shows_the_charts_and_their_tables(page)
    assert page.locator("#funnels tr[data-zone=kopi]").count() == 1
    assert page.locator("#funnels tr[data-zone=books]").count() == 0
