"""The shopper's path in a real headless Chromium: showtime -> two seats -> hold -> confirm -> ticket QR."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from lightapps.cinema.store import CinemaStore, ShowtimeInput


def new_show(live_server, film: str) -> str:
    item = ShowtimeInput(film, film, "1", int(time.time()) + 2 * 3600, 4000)
    return CinemaStore(live_server.db()).upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]


@pytest.mark.browser
def test_pick_showtime_two_seats_hold_confirm_see_ticket(page, live_server):
    new_show(live_server, "Browser Film")
    page.goto(f"{live_server.url}/v/demo/cinema/cinema")
    page.locator("li", has_text="Browser Film").locator("a.showtime").first.click()
    page.wait_for_selector("#seat-form")
    page.click('label[title="C4"]')
    page.click('label[title="C5"]')
    assert page.is_checked('input[value="C4"]') and page.is_checked('input[value="C5"]')
    page.click("#hold-seats")
    page.wait_for_selector("#countdown")
    assert page.inner_text("#hold-seats") == "C4, C5"
    first = page.inner_text("#remaining")
    assert re.fullmatch(r"[78]:\d\d", first)
    # The countdown ticks (expect polls without eval, which the page's CSP forbids).
    expect(page.locator("#remaining")).not_to_have_text(first, timeout=60_000)
    page.click("#confirm")
    page.wait_for_selector("#qr svg")
    code = page.inner_text("#booking-code")
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    assert page.inner_text("#ticket-seats") == "C4, C5"
    assert "c=" in page.url  # the shopper token travelled along


@pytest.mark.browser
def test_booking_works_without_javascript_or_cookies(browser, live_server):
    show_id = new_show(live_server, "No Script Film")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/cinema/cinema/show/{show_id}")
        page.click('label[title="H3 + H4"]')  # a couple pair: one box for both seats
        page.click("#hold-seats")
        page.wait_for_selector("#countdown")
        context.clear_cookies()  # like the iOS captive mini-browser: nothing kept between pages
        page.click("#confirm")
        page.wait_for_selector("#qr svg")
        assert page.inner_text("#ticket-seats") == "H3, H4"
    finally:
        context.close()
