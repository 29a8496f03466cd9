"""In a real headless Chromium: a shopper in Kopi Coffee claims a coupon and sees QR + code; the Kopi
owner signs in and redeems the code; the shopper's page then shows it redeemed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import segno

from lightapps.coupons.codes import qr_payload
from lightapps.coupons.store import CouponStore
from tests.browsers import BROWSER_TIMEOUT_MS, console_sign_in, fake_camera_browser, write_y4m


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
    console_sign_in(owner, live_server.url, "kopi")
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


def qr_frame(payload: str, width: int = 640, height: int = 480, scale: int = 5) -> np.ndarray:
    """The QR of `payload` (segno, as the shopper's page draws it), black on white, centred in a camera frame."""
    modules = np.array(segno.make(payload, error="m").matrix, dtype=bool)
    modules = np.pad(modules, 4)  # the quiet zone
    picture = np.where(np.kron(modules, np.ones((scale, scale), dtype=bool)), 16, 235).astype(np.uint8)
    frame = np.full((height, width), 235, dtype=np.uint8)
    top, left = (height - picture.shape[0]) // 2, (width - picture.shape[1]) // 2
    frame[top:top + picture.shape[0], left:left + picture.shape[1]] = picture
    return frame


@pytest.mark.browser
def test_owner_redeems_by_scanning_the_qr_with_the_camera(browser, live_server, tmp_path):
    """The camera (Chromium's fake one, playing a frame with the QR of a real claimed code) is pointed at the
    shopper's QR: the owner's console decodes it (BarcodeDetector where the browser has one, else the vendored
    html5-qrcode, which headless Chromium on Linux runs), submits it, and the store has it redeemed."""
    store = CouponStore(live_server.db())
    coupon = store.create("demo", "kopi", {"title_en": "Scanned latte", "stock": 3, "valid_from": time.time() - 60,
                                           "valid_until": time.time() + 86400})
    code = store.claim("demo", "kopi", coupon.id, "scan-shopper").code
    payload = qr_payload(live_server.settings.secret_key, "demo", code)
    video = write_y4m(tmp_path / "qr.y4m", qr_frame(payload))
    with fake_camera_browser(browser, video) as camera:
        context = camera.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        owner = context.new_page()
        console_sign_in(owner, live_server.url, "kopi")
        owner.goto(f"{live_server.url}/console/apps/coupons/demo/kopi/")
        owner.click("#scan-button")
        result = owner.locator("#redeem-result")
        result.wait_for()
        assert "Redeemed at" in result.inner_text()
        context.close()
    issued = store.issued("demo", code)
    assert issued.state == "redeemed" and issued.redeemed_by == "kopi"
    assert store.get("demo", coupon.id).redeemed == 1
