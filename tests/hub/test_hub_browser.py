"""Journeys across apps in real Chromium, cookies cleared before every page as in the iOS sign-in sheet:
from the food court to my car (zh, JavaScript off), from the car park to my ticket (en, JavaScript on)."""

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


def test_food_court_to_my_car_in_zh_without_javascript(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["hub-walker-zh"])
    context, page = _sheet(browser, locale="zh-CN", javascript=False)
    try:
        page.goto(f"{live_server.url}/v/demo/queue/foodcourt?c={token}&lang=zh")
        assert page.locator("#hub-nav").is_visible()
        _tap(page, "#hub-me")
        assert "/v/demo/me" in page.url
        assert "找车" in page.locator("#mine-parking").inner_text() or "寻车" in page.content()
        _tap(page, "#mine-parking a")
        assert "/parking/garage" in page.url
        page.fill("#plate", "粤B D8888")
        _tap(page, "#find-car")
        assert "/car/" in page.url
        _tap(page, "#hub-me")
        assert "我的车" in page.locator("#mine-parking").inner_text()
    finally:
        context.close()


def test_car_park_to_my_ticket_in_en(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["hub-walker-en"])
    cinema = CinemaStore(live_server.db())
    item = ShowtimeInput("Hub Journey", "旅程", "2", int(time.time()) + 5400, 4500)
    show = cinema.showtime("demo", cinema.upsert_showtimes("demo", "cinema", [item], source="t")["ids"][0])
    held = cinema.hold("demo", show, "hub-walker-en", ["A1", "A2"], 300)
    code = cinema.confirm("demo", held.token, "hub-walker-en", "cinema").code
    context, page = _sheet(browser, locale="en-US", javascript=True)
    try:
        page.goto(f"{live_server.url}/v/demo/parking/garage?c={token}&lang=en")
        _tap(page, "#hub-me")
        tickets = page.locator("#mine-cinema")
        assert "Hub Journey" in tickets.inner_text()
        _tap(page, "#mine-cinema a")
        assert page.locator("#booking-code").inner_text() == code
        _tap(page, "#hub-home")
        assert page.locator("#venue-apps").is_visible()
    finally:
        context.close()
