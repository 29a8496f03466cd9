"""End to end in a real headless Chromium against gunicorn: the parking system reports a plate at a
bay over the API, the shopper types the plate and sees the bay and the walking route on the plan."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest


def show_my_bay(page) -> None:
    """The second factor: pick the hour the car came in (a moment ago) and submit."""
    page.wait_for_selector("#verify")
    page.select_option("#hour", str(int(time.time() // 3600 * 3600)))
    page.click("#verify button[type=submit]")


def post_plate(live_server, plate: str, bay: str) -> dict:
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text().strip()
    body = json.dumps({"events": [{"type": "plate", "plate": plate, "bay": bay, "ts": time.time()}]}).encode()
    request = urllib.request.Request(f"{live_server.url}/api/v1/venues/demo/parking/events", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


@pytest.mark.browser
def test_plate_event_then_shopper_finds_the_car_on_the_plan(page, live_server):
    assert post_plate(live_server, "BRW 4242", "G-D12")["applied"] == 1
    page.goto(f"{live_server.url}/v/demo/parking/garage")
    assert int(page.inner_text("#free-0")) >= 0
    page.fill("#plate", "brw-4242")
    page.click("#find-car")
    show_my_bay(page)
    page.wait_for_selector("#bay")
    assert page.inner_text("#bay") == "G-D12"
    assert "c=" in page.url and "4242" not in page.url
    plan = page.locator("svg#plan-0")
    assert plan.is_visible()
    box = plan.bounding_box()
    assert box["width"] > 100 and box["height"] > 100
    car_bay = plan.locator('rect[data-bay="G-D12"]')
    assert car_bay.get_attribute("fill") == "#ff9800"
    route = plan.locator("polyline.route")
    assert route.count() == 1
    points = [tuple(map(float, p.split(","))) for p in route.get_attribute("points").split()]
    assert points[-1] == (29.0 * 5, (5.0 + 11 * 2.5) * 5)  # the walk ends at bay D12 (x 29 m, y 32.5 m)
    assert "min walk" in page.inner_text("#route-summary")
    page.click("#again")
    page.wait_for_selector("#plate")


@pytest.mark.browser
def test_car_finder_works_without_javascript_or_cookies(browser, live_server):
    post_plate(live_server, "粤A NJS77", "G-B03")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/parking/garage?lang=zh")
        context.clear_cookies()  # like the iOS captive mini-browser: nothing kept between pages
        page.fill("#plate", "NJS77")  # partial: coarse answer only
        page.click("#find-car")
        page.wait_for_selector("#matches")
        assert "B" in page.inner_text("#matches") and "G-B03" not in page.content()
        context.clear_cookies()
        page.click("#again")
        page.fill("#plate", "ANJS77")  # the whole plate without the province character: exact
        page.click("#find-car")
        show_my_bay(page)
        page.wait_for_selector("#bay")
        assert page.inner_text("#bay") == "G-B03"
        assert page.locator("svg#plan-0 polyline.route").count() == 1
    finally:
        context.close()


@pytest.mark.browser
def test_a_refused_fee_plate_is_answered_at_the_fee_form_as_typed(iphone_page, live_server):
    """A plate with a character no plate has, typed into "Pay parking": the reason stands by that form, which
    keeps what was typed (before, it showed by "Find my car" and the fee form came back empty)."""
    page = iphone_page
    page.goto(f"{live_server.url}/v/demo/parking/garage?lang=zh")
    page.context.clear_cookies()
    page.fill("#fee-plate", "粤B!D8888")
    page.click("#fee-find")
    page.wait_for_selector("#fee-error")
    assert "!" in page.inner_text("#fee-error")
    assert page.input_value("#fee-plate") == "粤B!D8888"
    assert page.locator("#error").count() == 0 and page.input_value("#plate") == ""
    assert page.get_attribute("html", "lang").startswith("zh")
