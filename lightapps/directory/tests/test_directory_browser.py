"""The mall directory in a real headless Chromium dressed as the iPhone's WiFi sign-in sheet on a 360 px
screen: a search keeps the language the shopper chose, with no cookie to remember it."""

from __future__ import annotations

import pytest

from tests.browsers import IPHONE_UA

pytestmark = pytest.mark.browser


def test_a_search_keeps_the_chosen_language_without_cookies(browser, live_server):
    """An English phone whose shopper switched to 中文: the search answers in Chinese (the form carries the
    choice, as links do; before, it fell back to the phone's English)."""
    context = browser.new_context(viewport={"width": 360, "height": 640}, user_agent=IPHONE_UA, locale="en-US",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/?lang=zh")
        context.clear_cookies()  # the sheet keeps no cookie from page to page
        page.fill("#q", "咖啡")
        page.press("#q", "Enter")
        page.wait_for_url("**q=*")
        assert page.get_attribute("html", "lang") == "zh-CN" and "lang=zh" in page.url
        assert "考比咖啡" in page.inner_text("main")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    finally:
        context.close()


# The smallest a plan's shop name may be drawn on a phone: the plan's own 11 px, shrunk to fit a zone (7 px at
# least, fingerprints/plan.py), and then by the screen. The whole floor drawn 360 px wide put it at 2-4 px.
LEGIBLE_PX = 7.0


@pytest.mark.parametrize("path", ["/shop/kopi", "/navigate?from=shop:kopi&to=shop:pixel"])
def test_the_plan_names_are_legible_on_a_phone(browser, live_server, path):
    """The shop's page and a route draw the part of the floor they show, not the whole floor shrunk to the
    screen: every zone name drawn on it is at least LEGIBLE_PX tall on a 360 px phone."""
    context = browser.new_context(viewport={"width": 360, "height": 640}, user_agent=IPHONE_UA, locale="en-US",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo{path}")
        sizes = page.evaluate("""() => [...document.querySelectorAll('svg.plan-svg text')].map(t => {
            const box = t.getBoundingClientRect();
            return box.width > 0 ? parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a : null;
        }).filter(s => s !== null)""")
        assert sizes, "no zone names drawn"
        assert min(sizes) >= LEGIBLE_PX, sorted(sizes)[:5]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    finally:
        context.close()
