"""Journeys across apps in real Chromium, cookies cleared before every page as in the iOS sign-in sheet:
from the food court to my car, and from the car park to my ticket, each in zh and en, with JavaScript off and
on (axe-core checks every page on the way: tests/axecheck.py). All four ways share the session's gunicorn and
Chromium; each is one fresh context, as a new sign-in sheet would be."""

from __future__ import annotations

import time

import pytest

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from tests.browsers import IPHONE_UA

pytestmark = pytest.mark.browser


def _sheet(browser, *, locale: str, javascript: bool):
    context = browser.new_context(viewport={"width": 375, "height": 740}, user_agent=IPHONE_UA, is_mobile=True,
                                  has_touch=True, locale=locale, java_script_enabled=javascript)
    return context, context.new_page()


def _tap(page, selector: str) -> None:
    page.context.clear_cookies()  # the sign-in sheet keeps none: only the token in the links carries the shopper
    page.click(selector)
    page.wait_for_load_state()


# language -> (browser locale, what Me calls the car before and after a lookup)
LANGUAGES = {"zh": ("zh-CN", ("找车", "寻车"), "我的车"), "en": ("en-US", ("Find my car",), "My car")}
# every language with JavaScript off and on
WAYS = [pytest.param(lang, javascript, id=f"{lang}-{'js' if javascript else 'no-js'}")
        for lang in LANGUAGES for javascript in (False, True)]


def _way(lang: str, javascript: bool) -> str:
    return f"{lang}-{'js' if javascript else 'nojs'}"


@pytest.mark.parametrize(("lang", "javascript"), WAYS)
def test_food_court_to_my_car(browser, live_server, lang, javascript):
    locale, find_car, my_car = LANGUAGES[lang]
    (token,) = live_server.shopper_tokens("demo", [f"hub-car-{_way(lang, javascript)}"])
    context, page = _sheet(browser, locale=locale, javascript=javascript)
    try:
        page.goto(f"{live_server.url}/v/demo/queue/foodcourt?c={token}&lang={lang}")
        assert page.locator("#hub-nav").is_visible()
        _tap(page, "#hub-me")
        assert "/v/demo/me" in page.url
        assert any(words in page.locator("#mine-parking").inner_text() for words in find_car)
        _tap(page, "#mine-parking a")
        assert "/parking/garage" in page.url
        page.fill("#plate", "粤B D8888")
        _tap(page, "#find-car")
        assert "/car/" in page.url
        _tap(page, "#hub-me")
        assert my_car in page.locator("#mine-parking").inner_text()
    finally:
        context.close()


@pytest.mark.parametrize(("lang", "javascript"), WAYS)
def test_car_park_to_my_ticket(browser, live_server, lang, javascript):
    locale = LANGUAGES[lang][0]
    shopper = f"hub-ticket-{_way(lang, javascript)}"
    (token,) = live_server.shopper_tokens("demo", [shopper])
    cinema = CinemaStore(live_server.db())
    item = ShowtimeInput(f"Hub Journey {shopper}", f"旅程 {shopper}", "2", int(time.time()) + 5400, 4500)
    show = cinema.showtime("demo", cinema.upsert_showtimes("demo", "cinema", [item], source="t")["ids"][0])
    held = cinema.hold("demo", show, shopper, ["A1", "A2"], 300)
    code = cinema.confirm("demo", held.token, shopper, "cinema").code
    context, page = _sheet(browser, locale=locale, javascript=javascript)
    try:
        page.goto(f"{live_server.url}/v/demo/parking/garage?c={token}&lang={lang}")
        _tap(page, "#hub-me")
        tickets = page.locator("#mine-cinema")
        assert ("旅程" if lang == "zh" else "Hub Journey") in tickets.inner_text()
        _tap(page, "#mine-cinema a")
        assert page.locator("#booking-code").inner_text() == code
        _tap(page, "#hub-home")
        assert page.locator("#venue-apps").is_visible()
    finally:
        context.close()
