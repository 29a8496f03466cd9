"""The operator's and zone owners' consoles on a 360x740 phone (touch) in real Chromium: every table row's cells and
controls lie on the screen with nothing to swipe (below 40rem a console table reads as a card per row, each cell
after its column's heading: portal/table_cards.py, static/portal.css), no page is wider than the screen, every box
to type in or pick a file with is a 44 px target, and the insight charts' text stays readable, each chart's numbers
offered as a table right under it. axe-core checks every page visited (tests/axecheck.py)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lightapps.activities.store import ActivityStore
from lightapps.coupons.store import CouponStore
from lightapps.queue.store import QueueStore
from tests.a11y.phone import MIN_TARGET_PX, phone_context
from tests.browsers import console_sign_in

pytestmark = pytest.mark.browser

PHONE_360 = {"width": 360, "height": 740}
MIN_CHART_TEXT_PX = 12
OPS = "/console/ops/demo"

# What lies off the screen or outside its own table's box (a scrolling table clips it), and every box to type in,
# choose from or pick a file with, with its height. Only what is drawn counts (a closed <details> draws nothing).
MEASURE = """() => {
  const screen = document.documentElement.clientWidth;
  const drawn = (el) => el.checkVisibility() && el.getBoundingClientRect().width > 0;
  const name = (el) => `${el.tagName.toLowerCase()}#${el.id || el.name || ''} "${(el.innerText || '').slice(0, 24)}"`;
  const off = [], boxes = [];
  for (const row of document.querySelectorAll('main tr')) {
    if (!drawn(row)) continue;
    const table = row.closest('table').getBoundingClientRect();
    for (const el of row.querySelectorAll('td, button, a[href], input:not([type=hidden]), select, textarea')) {
      const box = el.getBoundingClientRect();
      if (drawn(el) && (box.left < -0.5 || box.right > Math.min(screen, table.right) + 0.5))
        off.push(`${name(el)} at x ${Math.round(box.left)}-${Math.round(box.right)}`);
    }
  }
  const typed = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=image]), select, textarea';
  for (const el of document.querySelector('main').querySelectorAll(typed))
    if (drawn(el)) boxes.push({name: name(el), height: el.getBoundingClientRect().height});
  return {wide: document.documentElement.scrollWidth - screen, off, boxes};
}"""

# Each chart's text as drawn (its font size times the chart's scale on the page), and what follows the chart: its
# numbers, a "Show ... as a table" or the page's own table of them.
CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const scale = svg.getScreenCTM().a;
  const px = [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
  let el = svg;
  while (!el.nextElementSibling) el = el.parentElement;
  const next = el.nextElementSibling;
  const numbers = next.matches('details.chart-table') ? 'details' : next.matches('.table-cards') ? 'table' : null;
  return {id: svg.id, smallest: Math.min(...px), texts: px.length, next: numbers || next.outerHTML.slice(0, 80)};
})"""


def _venue_day(days_ahead: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=days_ahead)).isoformat()


def _reservations(live_server) -> list[tuple[str, str]]:
    day = _venue_day(5)  # a day the tabs show, with the booking's Arrived, No-show and Cancel
    rid = QueueStore(live_server.db()).reserve("demo", "foodcourt", day, "12:00", 4, "B", "phone-360-guest",
                                               capacity=4, name="Wong Ka Yan", note="A high chair, please").value
    return [(f"/console/apps/queue/demo/foodcourt/reservations?date={day}", f"#res-{rid} button"),
            ("/console/apps/queue/demo/foodcourt/menu", "#menu button")]  # its names and prices to type in


def _coupons(live_server) -> list[tuple[str, str]]:
    coupon = CouponStore(live_server.db()).create("demo", "kopi", {
        "title_en": "Phone-width latte", "title_zh": "手机拿铁", "stock": 30, "valid_from": time.time() - 60,
        "valid_until": time.time() + 7 * 86400})
    return [("/console/apps/coupons/demo/kopi/", f"#stop-{coupon.id}")]


def _activities(live_server) -> list[tuple[str, str]]:
    now = time.time()
    item = ActivityStore(live_server.db()).create("demo", "atrium", {
        "kind": "event", "title_en": "Phone-width calligraphy", "title_zh": "手机书法", "place_en": "Atrium",
        "place_zh": "中庭", "description_en": "Try a brush.", "description_zh": "试试毛笔。",
        "starts_at": now + 86400, "ends_at": now + 90000, "limit": 12}, created_by="test")
    return [("/console/apps/activities/demo/atrium/", f"#close-{item.id}")]


def _operator(_live_server) -> list[tuple[str, str]]:
    return [(f"{OPS}/health", "#ingest-aps td"), (f"{OPS}/owners", "#owners button"),
            (f"{OPS}/insights", "#occupancy button"), (f"{OPS}/moments", "#rules button")]


def _add_a_rule(page) -> None:
    """A moment rule, typed on the phone, so the rules table has a row with its Pause and Delete."""
    page.fill("#r-name", "Phone-width hello")
    page.select_option("#r-trigger", "zone_enter")
    page.select_option("#r-zone", "kopi")
    page.fill("#r-msg", "10% off today")
    with page.expect_navigation():
        page.locator("#rule-form button").tap()


@pytest.mark.parametrize(("account", "pages"), [("foodcourt", _reservations), ("kopi", _coupons),
                                                 ("events", _activities), ("ops", _operator)])
def test_console_rows_and_boxes_fit_a_360px_phone(browser, live_server, account, pages):
    context = phone_context(browser, viewport=PHONE_360)
    page = context.new_page()
    boxes = 0
    try:
        console_sign_in(page, live_server.url, account)
        for path, row_controls in pages(live_server):
            page.goto(live_server.url + path)
            if path.endswith("/moments"):
                _add_a_rule(page)
            assert page.locator(row_controls).count(), (path, row_controls)  # a row with its actions is there
            found = page.evaluate(MEASURE)
            assert found["wide"] <= 0, (path, found["wide"])  # the page does not scroll sideways
            assert not found["off"], (path, found["off"])
            assert not [b for b in found["boxes"] if b["height"] < MIN_TARGET_PX - 0.5], (path, found["boxes"])
            boxes += len(found["boxes"])
    finally:
        context.close()
    assert boxes  # each account's pages have boxes to type in


def _reservations_on_a_phone(browser, live_server, clock: bool = False):
    """A 360 px phone signed in as the food court's owner, on its reservations page with a booking's row; `clock`:
    the page's timers run on at will (`page.clock`), its 20 s updates among them."""
    context = phone_context(browser, viewport=PHONE_360)
    page = context.new_page()
    try:
        if clock:
            page.clock.install()
        console_sign_in(page, live_server.url, "foodcourt")
        page.goto(live_server.url + _reservations(live_server)[0][0])
    except Exception:
        context.close()
        raise
    return context, page


def test_a_card_names_each_cell_by_its_column(browser, live_server):
    """A booking's row on the phone: each cell after its column's heading, its buttons under them on the screen."""
    context, page = _reservations_on_a_phone(browser, live_server)
    try:
        row = page.locator("#reservations tr[id^=res-]").last
        labels = row.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert labels[:6] == ['"Time"', '"Booking"', '"Guest"', '"People"', '"Status"', '"Pre-order"'], labels
        assert labels[6] == "none"  # the actions' column has no heading
        guest, actions = row.locator("td.guest").bounding_box(), row.locator("td").nth(6).bounding_box()
        assert actions["y"] >= guest["y"] + guest["height"] and actions["x"] + actions["width"] <= PHONE_360["width"]
        assert page.locator("#reservations tr").first.bounding_box()["height"] <= 1  # headings: for screen readers
    finally:
        context.close()


# Each wrapped table's parts and their roles (static/table-roles.js), as attributes: Chromium works out the same roles
# from the tags anyway, so the attributes are what WebKit, which drops them under display:block, gets.
ROLES = """(selector) => [...document.querySelectorAll(selector)].map(t => ({
  table: t.getAttribute('role'),
  groups: [...t.querySelectorAll(':scope > thead, :scope > tbody')].map(g => g.getAttribute('role')),
  rows: [...t.rows].map(r => [r.getAttribute('role'), ...[...r.cells].map(c => c.getAttribute('role'))])}))"""


def test_a_card_table_names_its_roles_for_webkit(browser, live_server):
    """Below 40rem the cards' display:block makes WebKit drop a table's semantics: each part gets its role named, and
    keeps it through the page's own updates (which make its attributes the fetched page's), a new row's included; a
    heading beside data cells heads its row."""
    context, page = _reservations_on_a_phone(browser, live_server, clock=True)
    try:
        page.wait_for_function("document.querySelector('#reservations').getAttribute('role') === 'table'")
        _assert_named(page.evaluate(ROLES, "#reservations"))
        # a party books meanwhile: the page's next update brings its row in
        rid = QueueStore(live_server.db()).reserve("demo", "foodcourt", _venue_day(5), "13:00", 2, "A",
                                                   "phone-360-second", capacity=4, name="Chan Tai Man").value
        page.clock.fast_forward(21_000)
        page.wait_for_selector(f"#res-{rid}")
        (table,) = page.evaluate(ROLES, "#reservations")
        _assert_named([table])
        assert len(table["rows"]) >= 3, table  # the headings, the first booking and the new one
        # and an update with nothing new: the merge makes each attribute the fetched page's, the roles too
        with page.expect_response(lambda answer: "/reservations" in answer.url):
            page.clock.fast_forward(21_000)
        page.wait_for_function("document.querySelector('#auto-refresh').textContent.includes(' 20 s')")
        _assert_named(page.evaluate(ROLES, "#reservations"))
        page.evaluate("""() => document.querySelector('main').insertAdjacentHTML('beforeend',
            '<div class="table-cards"><table id="added"><tr><th>Zone</th><th>Visits</th></tr>' +
            '<tr><th>Kopi</th><td>12</td></tr></table></div>')""")
        page.wait_for_function("document.querySelector('#added').getAttribute('role') === 'table'")
        (added,) = page.evaluate(ROLES, "#added")
        assert added["rows"] == [["row", "columnheader", "columnheader"], ["row", "rowheader", "cell"]], added
        assert page.locator('script[type=module][src*="table-roles.js"]').count() >= 1
    finally:
        context.close()


def _assert_named(tables: list[dict]) -> None:
    """Each table as ROLES reads it: its role, its row groups', its heading row's and its data rows' all named."""
    for table in tables:
        assert table["table"] == "table" and set(table["groups"]) == {"rowgroup"}, table
        heading, *rows = table["rows"]
        assert heading[0] == "row" and set(heading[1:]) == {"columnheader"}, heading
        assert rows and all(row[0] == "row" and set(row[1:]) == {"cell"} for row in rows), rows


@pytest.mark.parametrize(("account", "path"), [("ops", f"{OPS}/insights"), ("kopi", "/console/owner/demo/insights")])
def test_insight_charts_read_at_360px_with_their_numbers_under_them(browser, live_server, account, path):
    context = phone_context(browser, viewport=PHONE_360)
    page = context.new_page()
    try:
        console_sign_in(page, live_server.url, account)
        page.goto(live_server.url + path)
        charts = page.evaluate(CHARTS)
        assert {"chart-dwell", "chart-heatmap"} <= {c["id"] for c in charts}, charts
        for chart in charts:
            assert chart["texts"] and chart["smallest"] >= MIN_CHART_TEXT_PX, chart
            assert chart["next"] in ("details", "table"), chart
        page.locator("#chart-heatmap-table summary").tap()  # the counts a touch screen never sees in the tooltips
        assert page.locator("#chart-heatmap-table td").count() == 24 * 7
        assert page.locator("#chart-heatmap-table summary").bounding_box()["height"] >= MIN_TARGET_PX - 0.5
    finally:
        context.close()
