"""In a real headless Chromium: a shopper takes a number at Jade, sees the position; the owner calls
next in the console; the shopper's page shows "called"."""

from __future__ import annotations

import re

import pytest
from queue_fixtures import forget_line

from portal.apps.zone_apps import ZoneAppStore
from tests.browsers import console_sign_in

ZONE = "jade"


def reset_queue(db) -> None:
    forget_line(db, ZONE)


@pytest.mark.browser
def test_shopper_takes_number_owner_calls_it(page, live_server):
    reset_queue(live_server.db())
    page.clock.install()  # the page's 20 s updates, run on at will
    page.goto(f"{live_server.url}/v/demo/queue/{ZONE}")
    assert page.locator("#zone-title").inner_text() == "Jade Tea House"
    page.fill("#party", "2")
    page.click("#take button[type=submit]")
    page.wait_for_selector("#ticket-number")
    assert page.locator("#ticket-number").inner_text() == "A001"
    assert "Position 1 in line" in page.locator("#position").inner_text()
    assert re.search(r"Estimated wait: \d+-\d+ min", page.locator("#wait").inner_text())
    assert "c=" in page.url  # the token travels in the URL, not only in a cookie
    refresh = page.locator("#auto-refresh")  # updates itself, with a button to stop it (WCAG 2.2.1)
    assert refresh.get_attribute("data-seconds") == "20" and "c=" in refresh.get_attribute("data-url")
    assert page.locator("#auto-refresh-stop").is_visible()
    page.fill("#notify-phone", "138 0013")  # typing when the number is called

    owner = page.context.browser.new_context()
    console = owner.new_page()
    try:
        console_sign_in(console, live_server.url, "jade")
        console.goto(f"{live_server.url}/console/apps/queue/demo/{ZONE}/")
        assert console.locator("#ticket-A001").count() == 1
        console.click("#call-A")
        console.wait_for_selector("#ticket-A001.called-row")
    finally:
        owner.close()

    page.clock.fast_forward(21_000)  # the update brings the call into the page: what she typed and her focus stay
    page.wait_for_selector("#called")
    assert page.locator("#ticket").get_attribute("data-state") == "SERVICE_READY"
    assert "called" in page.locator("#called").inner_text()
    assert page.input_value("#notify-phone") == "138 0013"
    assert page.evaluate("document.activeElement.id") == "notify-phone"
    assert page.title().startswith("Called A001.")
    page.click("#refresh")
    assert page.locator("#ticket").get_attribute("data-state") == "SERVICE_READY"


@pytest.mark.browser
def test_captive_browser_without_cookies_keeps_its_ticket(iphone_page, live_server):
    """The iOS captive browser keeps no cookies: every step must work from the URL's `c` alone."""
    reset_queue(live_server.db())
    page = iphone_page
    page.goto(f"{live_server.url}/v/demo/queue/{ZONE}?lang=zh")
    page.context.clear_cookies()
    page.fill("#party", "4")
    page.click("#take button[type=submit]")
    page.wait_for_selector("#ticket-number")
    assert page.locator("#ticket-number").inner_text() == "B001"
    assert "lang=zh" in page.url
    page.context.clear_cookies()
    page.click("#refresh")
    assert page.locator("#ticket-number").inner_text() == "B001"
    page.context.clear_cookies()
    page.click("form[action$='/cancel'] button")
    page.wait_for_selector("#canceled")


SMALL_PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True}


@pytest.mark.browser
def test_a_refused_party_size_stays_on_the_form_in_chinese(browser, live_server):
    """A party no table seats (the owner's classes skip 3-4, which the number field cannot know) is refused
    beside the form with the size as typed, in the page's language, on a 360 px phone: not an error page that
    sends the shopper back to type it again."""
    reset_queue(live_server.db())
    zone_apps = ZoneAppStore(live_server.db())
    before = zone_apps.get("demo", ZONE)
    zone_apps.set("demo", ZONE, "queue", {**before[1], "table_classes": "A:1-2,C:5-12"})
    context = browser.new_context(**SMALL_PHONE)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/queue/{ZONE}?lang=zh")
        context.clear_cookies()
        page.fill("#party", "3")
        page.click("#take button[type=submit]")
        page.wait_for_selector("#take-error")
        assert "没有可容纳 3 位顾客的餐桌" in page.inner_text("#take-error")
        assert page.input_value("#party") == "3" and page.get_attribute("#party", "aria-invalid") == "true"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
        context.clear_cookies()  # the refused page still carries the shopper and the language
        page.fill("#party", "2")
        page.click("#take button[type=submit]")
        page.wait_for_selector("#ticket-number")
        assert page.inner_text("#ticket-number") == "A001" and "lang=zh" in page.url
    finally:
        context.close()
        zone_apps.set("demo", ZONE, *before)


@pytest.mark.browser
def test_without_javascript_the_update_link_is_a_whole_tap_target(browser, live_server):
    """With JavaScript off the ticket page offers a link instead of updating itself: a 44 px tap target on a
    360 px phone like every other (it was one line of small text high)."""
    reset_queue(live_server.db())
    context = browser.new_context(**SMALL_PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/queue/{ZONE}")
        page.click("#take button[type=submit]")
        page.wait_for_selector("#ticket-number")
        # the element is in the DOM before the stylesheet has loaded: measured unstyled (19 px) on a busy machine
        page.wait_for_load_state("load")
        link = page.locator("#auto-refresh a")
        box = link.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box
        link.click()
        assert page.inner_text("#ticket-number") == "A001"
    finally:
        context.close()


@pytest.mark.browser
def test_a_mistyped_number_for_texts_stays_in_its_form(iphone_page, live_server):
    """With a number taken, a mobile number the portal cannot read is refused beside the "text me" form,
    which shows it again to correct: the ticket page stays (it was a page with only the message)."""
    reset_queue(live_server.db())
    page = iphone_page
    page.goto(f"{live_server.url}/v/demo/queue/{ZONE}?lang=zh")
    page.context.clear_cookies()
    page.click("#take button[type=submit]")
    page.wait_for_selector("#ticket-number")
    page.context.clear_cookies()
    page.fill("#notify-phone", "138 0013")
    page.click("#notify button[type=submit]")
    page.wait_for_selector("#notify-error")
    assert "有效" in page.inner_text("#notify-error")  # in the page's language
    assert page.input_value("#notify-phone") == "138 0013"
    assert page.inner_text("#ticket-number") == "A001"
