"""The first screen of a captive sign-in sheet on a small phone (360 x 640): a new shopper lands on the zone's
app with the privacy notice still unanswered (every sheet is a new shopper), and the app's first action is
on that screen; the notice is one line whose choices open in place (details/summary, no JavaScript), reach
by keyboard, and save. axe-core checks every page on the way (tests/axecheck.py)."""

from __future__ import annotations

import pytest

from portal.consent import ConsentStore
from tests.browsers import IPHONE_UA

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 360, "height": 640}
# the landing the probe sends a phone in that zone to -> the app's first action there
FIRST_ACTIONS = {"parking/garage": "#find-car", "queue/foodcourt": "main form button[type=submit]",
                 "zone/kopi/coupons": "main form button[type=submit]",
                 "zone/pixel/member": "main form button[type=submit]"}
NOTICE_MAX_PX = 100  # the notice's whole height while closed


def _sheet(browser, lang: str, javascript: bool = True):
    context = browser.new_context(viewport=SMALL_PHONE, user_agent=IPHONE_UA, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="zh-CN" if lang == "zh" else "en-US",
                                  java_script_enabled=javascript)
    return context, context.new_page()


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_apps_first_action_is_on_the_first_screen(browser, live_server, lang):
    tokens = live_server.shopper_tokens("demo", [f"first-screen-{lang}-{n}" for n in range(len(FIRST_ACTIONS))])
    context, page = _sheet(browser, lang)
    try:
        for (zone, action), token in zip(FIRST_ACTIONS.items(), tokens, strict=True):
            page.goto(f"{live_server.url}/v/demo/{zone}?c={token}&lang={lang}")
            assert page.locator("#privacy-notice").is_visible(), zone  # unanswered: shown, but small
            notice = _box(page, "#privacy-notice")
            assert notice["height"] <= NOTICE_MAX_PX, (zone, notice)
            assert not page.locator("#consent-save").is_visible(), zone  # the choices wait behind the summary
            first = _box(page, action)
            assert first is not None, (zone, action)
            assert notice["y"] + notice["height"] <= first["y"], zone
            assert first["y"] + first["height"] <= SMALL_PHONE["height"], (zone, lang, first)
    finally:
        context.close()


HEADER_MAX_PX = 64  # the header (mall name, language switch) stays one compact row


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_mall_name_in_the_header_is_a_whole_tap_target(browser, live_server, lang):
    """The header's mall-name link (home) is a 44 px tap target like the language switch beside it, and the
    header stays one compact row, in both languages."""
    (token,) = live_server.shopper_tokens("demo", [f"first-screen-brand-{lang}"])
    context, page = _sheet(browser, lang)
    try:
        for path in ("", "queue/foodcourt"):
            page.goto(f"{live_server.url}/v/demo/{path}?c={token}&lang={lang}")
            brand, switch = _box(page, "header.top a.brand"), _box(page, "#lang-switch")
            header = _box(page, "header.top")
            assert brand["height"] >= 44 and brand["width"] >= 44, (path, lang, brand)
            assert switch["height"] >= 44, (path, lang, switch)
            assert header["height"] <= HEADER_MAX_PX, (path, lang, header)
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_the_notices_choices_open_in_place_and_save(browser, live_server, javascript):
    shopper = f"first-screen-choices-{'js' if javascript else 'nojs'}"
    (token,) = live_server.shopper_tokens("demo", [shopper])
    context, page = _sheet(browser, "zh", javascript=javascript)
    try:
        page.goto(f"{live_server.url}/v/demo/parking/garage?c={token}&lang=zh")
        summary = page.locator("#privacy-summary")
        assert "您的隐私" in summary.inner_text()
        assert summary.bounding_box()["height"] >= 44  # a tap target
        summary.click()
        for box in ("#consent-location", "#consent-marketing"):
            assert page.locator(box).is_visible() and not page.locator(box).is_checked()
        assert page.get_by_label("向我发送商场及店铺的优惠与资讯。").count() == 1  # labelled
        page.check("#consent-location")
        page.click("#consent-save")
        page.wait_for_load_state()
        assert "/v/demo/parking/garage" in page.url
        assert page.locator("#privacy-notice").count() == 0
    finally:
        context.close()
    consent = ConsentStore(live_server.db()).get("demo", shopper)
    assert consent.current and (consent.location, consent.marketing) == (True, False)


def test_the_notice_opens_from_the_keyboard(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["first-screen-keyboard"])
    context, page = _sheet(browser, "en")
    try:
        page.goto(f"{live_server.url}/v/demo/queue/foodcourt?c={token}&lang=en")
        for _ in range(12):  # brand, language, the menu's links, then the notice
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "privacy-summary":
                break
        assert page.evaluate("document.activeElement.id") == "privacy-summary"
        page.keyboard.press("Enter")
        assert page.locator("#privacy-details").get_attribute("open") is not None
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Read the privacy notice"
    finally:
        context.close()
