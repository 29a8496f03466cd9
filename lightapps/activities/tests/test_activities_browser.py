"""In a real headless Chromium (iPhone-like, no cookies kept): a shopper in the atrium signs up for
an event and sees the confirmation; the events owner sees the count in the console."""

from __future__ import annotations

import time

import pytest

from lightapps.activities.store import ActivityStore
from tests.browsers import console_sign_in


@pytest.mark.browser
def test_sign_up_for_an_event(iphone_page, live_server):
    now = time.time()
    event = ActivityStore(live_server.db()).create("demo", "atrium", {
        "kind": "event", "title_en": "Browser book club", "title_zh": "浏览器读书会", "place_en": "Atrium",
        "starts_at": now + 86400, "ends_at": now + 90000, "limit": 12})
    page = iphone_page
    page.goto(f"{live_server.url}/v/demo/zone/atrium/activities")
    card = page.locator(f"#activity-{event.id}")
    assert "12 of 12 places left" in card.inner_text()
    page.context.clear_cookies()
    card.locator("button.join").click()
    page.wait_for_selector("#joined")
    assert "c=" in page.url
    assert "You are signed up" in page.locator("#joined").inner_text()
    assert "11 of 12 places left" in page.locator("#places").inner_text()
    code = page.locator("#my-code strong").inner_text()
    assert len(code) == 8
    page.context.clear_cookies()
    page.click("#my-activities")
    assert "Browser book club" in page.locator("#mine").inner_text() and code in page.locator("#mine").inner_text()
    page.go_back()
    page.click("#back")
    assert "You're in" in page.locator(f"#activity-{event.id}").inner_text()

    owner = page.context.new_page()
    console_sign_in(owner, live_server.url, "events")
    owner.goto(f"{live_server.url}/console/apps/activities/demo/atrium/")
    assert owner.locator(f"#activity-{event.id} .taken").inner_text().strip() == "1 / 12"


@pytest.mark.browser
def test_no_javascript_flash_sale_and_partner_link(browser, live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/v/demo/zone/atrium/activities?lang=zh")
    assert "无线耳机" in page.content()
    earbuds = next(a for a in ActivityStore(live_server.db()).for_zone("demo", "atrium")
                   if a.title_en == "Wireless earbuds")
    page.locator(f"#activity-{earbuds.id} button.join").click()
    page.wait_for_selector("#my-code")
    link = page.locator("a.out").first
    href = link.get_attribute("href")
    assert href.startswith("/v/demo/out/")
    context.close()


@pytest.mark.browser
def test_a_long_word_in_the_title_wraps_on_a_360_px_phone(browser, live_server):
    """An owner's title with one long word (a run-together sale name, a web address) wraps: the page does
    not grow sideways on a small phone, in either language."""
    now = time.time()
    word = "SuperSaleWeekend2026-www.harbourlight.example/summer"
    event = ActivityStore(live_server.db()).create("demo", "atrium", {
        "kind": "event", "title_en": word, "title_zh": "夏日" + word, "place_en": "Atrium",
        "starts_at": now + 86400, "ends_at": now + 90000, "limit": 12})
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for lang in ("en", "zh"):
            page.goto(f"{live_server.url}/v/demo/activities/{event.id}?lang={lang}")
            assert word in page.inner_text("#activity-title")
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 360, lang
    finally:
        context.close()
