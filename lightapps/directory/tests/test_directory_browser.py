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
