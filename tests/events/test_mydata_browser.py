"""The shopper's data page in a real headless Chromium: in the iPhone's WiFi sign-in sheet, which downloads
nothing, it offers no file link (a dead tap there) but says where the download works; a phone's own browser
gets the JSON download."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_sign_in_sheet_offers_no_download_but_says_where_it_works(iphone_page, live_server):
    (token,) = live_server.shopper_tokens("demo", ["my-data-in-the-sheet"])
    page = iphone_page
    page.goto(f"{live_server.url}/v/demo/my-data?c={token}&lang=zh")
    assert page.locator("#export-json").count() == 0
    assert "无法下载文件" in page.inner_text("#export-in-browser")
    page.context.clear_cookies()  # the sheet keeps no cookie: the link carries the shopper and the language
    page.click("#export-keep")
    page.wait_for_selector("#keep")
    assert "c=" in page.url and "lang=zh" in page.url


def test_a_phone_browser_gets_the_download(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["my-data-in-a-browser"])
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/my-data?c={token}")
        assert page.locator("#export-in-browser").count() == 0
        with page.expect_download() as download:
            page.click("#export-json")
        assert download.value.suggested_filename == "my-data.json"
    finally:
        context.close()
