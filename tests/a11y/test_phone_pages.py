"""Shopper pages on the narrowest phones (320 px, an iPhone SE in the captive sheet): the table booking page
fits the screen (its seven date tabs wrap, each on one line) and its Book button takes a tap. Every page
declares its icon (else each page asks /favicon.ico: a 404 and a console error in a captive browser), and
an error page on a venue's URL names the venue in its header, in the page's language."""

from __future__ import annotations

import re

import pytest

from lightapps.parking.store import ParkingStore
from tests.a11y.phone import phone_context
from tests.browsers import IPHONE_UA

NARROW = {"width": 320, "height": 568}
JADE = "/v/demo/queue/jade"
# Each date tab on one line: its text's line boxes all share one top.
TABS_ON_ONE_LINE = """() => [...document.querySelectorAll('#reserve-days a')].every(a => {
  const range = document.createRange(); range.selectNodeContents(a);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size === 1;
})"""


@pytest.mark.browser
def test_booking_a_table_on_a_320px_phone(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["narrow-phone-booker"])
    context = phone_context(browser, viewport=NARROW, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}{JADE}/reserve?c={token}&lang=zh")
        with page.expect_navigation():
            page.locator("#reserve-days a").last.tap()  # the last bookable day: its times have not passed
        assert page.locator("#reserve-days a").count() == 7 and page.evaluate(TABS_ON_ONE_LINE)
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], width  # nothing wider than the screen
        page.locator("#reserve input[type=radio]:enabled").first.check()
        with page.expect_navigation():
            page.locator("#reserve button[type=submit]").tap()  # a tap (touch), like a thumb: nothing covers it
        assert page.locator(".card[data-state=BOOKED]").count() == 1
    finally:
        context.close()


@pytest.mark.browser
def test_my_data_fits_a_320px_phone(browser, live_server):
    """The privacy centre shows stored values as they are, in <code>, lists three deep (a plate look-up's
    shopper id, an order number): a long one wraps instead of making the whole page wider than the screen."""
    shopper = "s-6389124a6f469231f418832f"  # as new_client_id() makes them
    (token,) = live_server.shopper_tokens("demo", [shopper])
    ParkingStore(live_server.db()).log_lookup("demo", "garage", shopper, "c946afc52cbbf32973d964b7e3644e6e", "exact", 1)
    context = phone_context(browser, viewport=NARROW)
    page = context.new_page()
    try:
        for lang in ("en", "zh"):
            page.goto(f"{live_server.url}/v/demo/my-data?c={token}&lang={lang}")
            assert shopper in page.inner_text("main")
            width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[0] <= width[1], (lang, width)  # nothing wider than the screen
    finally:
        context.close()


def _icon_href(page: str) -> str:
    return re.search(r'<link rel="icon"[^>]*href="([^"]+)"', page).group(1)


@pytest.mark.parametrize("user_agent", [IPHONE_UA,  # the iOS captive sheet (its pages have no manifest)
                                        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36"])
def test_every_page_declares_an_icon_that_answers(client, demo, user_agent):
    headers = {"User-Agent": user_agent}
    for path in (f"{JADE}", "/v/demo/", f"{JADE}/reserve?date=1999-01-01"):  # a page, the home, an error page
        page = client.get(path, headers=headers).get_data(as_text=True)
        icon = client.get(_icon_href(page), headers=headers)
        assert icon.status_code == 200 and icon.mimetype == "image/png", path


@pytest.mark.parametrize(("lang", "name"), [("zh", "港湾之光购物中心"), ("en", "Harbour Light Mall")])
def test_an_error_page_on_a_venues_url_names_the_venue(client, demo, lang, name):
    resp = client.get(f"{JADE}/reserve?date=1999-01-01&lang={lang}")
    brand = re.search(r'<a class="brand"[^>]*>([^<]*)</a>', resp.get_data(as_text=True)).group(1)
    assert resp.status_code == 400 and brand == name


@pytest.mark.parametrize(("lang", "name"), [("zh", "港湾之光购物中心"), ("en", "Harbour Light Mall")])
def test_a_404_on_a_venue_page_that_is_no_zone_app_names_the_venue_too(client, demo, lang, name):
    """portal/errors.py looks the URL's venue up for the header when no zone page loaded its map first."""
    resp = client.get(f"/v/demo/shop/no-such-shop?lang={lang}")
    brand = re.search(r'<a class="brand"[^>]*>([^<]*)</a>', resp.get_data(as_text=True)).group(1)
    assert resp.status_code == 404 and brand == name
    unknown = client.get(f"/v/nosuchmall/shop/x?lang={lang}")  # no such venue: the product's own name
    assert re.search(r'<a class="brand"[^>]*>MallPortal</a>', unknown.get_data(as_text=True))
