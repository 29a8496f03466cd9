"""In a real headless Chromium: a shopper in Kopi Coffee claims a coupon and sees QR + code; the Kopi
owner signs in and redeems the code; the shopper's page then shows it redeemed."""

from __future__ import annotations

import time

import pytest

from lightapps.coupons.store import CouponStore


@pytest.mark.browser
def test_claim_redeem_round_trip(page, live_server):
    coupon = CouponStore(live_server.db()).create("demo", "kopi", {
        "title_en": "Browser latte", "title_zh": "浏览器拿铁", "stock": 3, "valid_from": time.time() - 60,
        "valid_until": time.time() + 86400})

    # Shopper: lands on the zone page (as the portal would send them), claims.
    page.goto(f"{live_server.url}/v/demo/zone/kopi/coupons")
    page.locator(f"#coupon-{coupon.id} button.claim").click()
    page.wait_for_selector("#qr svg")
    code = page.locator("#short-code").inner_text().strip()
    assert len(code) == 11 and code[5] == "-"
    assert "Browser latte" in page.locator("#coupon-title").inner_text()
    shopper_url = page.url
    assert "c=" in shopper_url

    # Owner: signs in and redeems the code at the till.
    owner = page.context.new_page()
    owner.goto(f"{live_server.url}/console/login")
    owner.fill("#username", "kopi")
    owner.fill("#password", "mallportal-demo")
    owner.click("button[type=submit]")
    owner.wait_for_load_state()
    owner.goto(f"{live_server.url}/console/apps/coupons/demo/kopi/")
    owner.fill("#code", code)
    owner.click("#redeem-button")
    result = owner.locator("#redeem-result")
    result.wait_for()
    assert "Redeemed at" in result.inner_text()
    assert owner.locator(f"#coupon-{coupon.id} .redeemed").inner_text() == "1"
    # A second try is refused with the time of the first.
    owner.fill("#code", code)
    owner.click("#redeem-button")
    assert "Already redeemed at" in owner.locator("#redeem-result").inner_text()

    # Shopper: refreshes and sees it redeemed (no QR any more).
    page.click("#refresh")
    page.wait_for_selector("#state.redeemed")
    assert "Redeemed" in page.locator("#state").inner_text()
    assert page.locator("#qr").count() == 0
    page.click("#my-coupons")
    assert "Browser latte" in page.locator("#wallet").inner_text()


@pytest.mark.browser
def test_captive_browser_without_cookies_or_javascript(browser, live_server):
    """Like iOS's captive mini-browser: no JavaScript and no cookies kept; identity rides in `c`."""
    coupon = CouponStore(live_server.db()).create("demo", "lumen", {
        "title_en": "No-JS jacket", "stock": 3, "valid_from": time.time() - 60, "valid_until": time.time() + 86400})
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/v/demo/zone/lumen/coupons?lang=zh")
    context.clear_cookies()
    page.locator(f"#coupon-{coupon.id} button.claim").click()
    page.wait_for_selector("#qr svg")
    code = page.locator("#short-code").inner_text()
    context.clear_cookies()
    page.click("#my-coupons")
    assert code in page.locator("#wallet").inner_text()
    assert "我的优惠券" in page.content() or "My coupons" in page.content()
    context.close()
