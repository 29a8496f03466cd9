"""In a real headless Chromium against gunicorn: search a shop by pinyin, open it, "take me there",
see the route drawn across floors — as SVG with no JavaScript, and with Leaflet on request."""

from __future__ import annotations

import pytest


@pytest.mark.browser
def test_search_shop_take_me_there_route_drawn(page, live_server):
    page.goto(f"{live_server.url}/v/demo/")
    page.fill("#q", "xg")
    page.click("#search button[type=submit]")
    page.wait_for_selector("#result-count")
    assert page.locator("#shops li").count() == 1
    assert "c=" in page.url
    page.click("#shops a.shop-link")
    page.wait_for_selector("#shop-name")
    assert page.locator("#shop-name").inner_text() == "Starlight Cinema"
    assert "/v/demo/shop/starlight" in page.url and "c=" in page.url

    page.click("#take-me-there")
    page.wait_for_selector("#route-form")
    # a browser the portal cannot place (no RSSI for it): it is asked where it is
    assert page.locator("#route-notice").is_visible()
    page.select_option("#from", "shop:kopi")
    page.click("#route-form button[type=submit]")
    page.wait_for_selector("#steps")
    assert "c=" in page.url and "to=shop%3Astarlight" in page.url
    assert page.locator("#plan-0 svg polyline.route").count() >= 1
    assert page.locator("#plan-1 svg polyline.route").count() >= 1
    assert page.locator("#plan-1 svg polyline.route").first.is_visible()
    steps = page.locator("#steps li").all_inner_texts()
    assert steps[0].startswith("Start at Kopi Coffee") and steps[-1].startswith("Arrive at Starlight Cinema")

    # progressive enhancement: Leaflet (CRS.Simple, plan image overlay, route polylines)
    page.click("#zoom-map")
    page.wait_for_selector("#leaflet-1 path.route-line")
    assert page.locator("#leaflet-0 path.route-line").count() >= 1
    assert page.locator("#leaflet-1 img.leaflet-image-layer").count() == 1
    assert page.locator("#plan-1 .plan-box").is_hidden()
    assert page.evaluate("typeof L !== 'undefined' && L.version") == "1.9.3"
    zoom_in = page.locator("#leaflet-1 a.leaflet-control-zoom-in")  # a finger's target, named in the page's language
    box = zoom_in.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44 and zoom_in.get_attribute("aria-label") == "Zoom in"


@pytest.mark.browser
def test_route_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/v/demo/shop/pixel")
        page.click("#take-me-there-accessible")
        page.select_option("#from", "shop:kopi")
        page.click("#route-form button[type=submit]")
        page.wait_for_selector("#steps")
        steps = " ".join(page.locator("#steps li").all_inner_texts())
        assert "lift" in steps and "escalator" not in steps and "stairs" not in steps
        assert page.locator("svg polyline.route").count() >= 1
        assert page.locator("#zoom-map").is_hidden()  # nothing that needs JavaScript is offered
        width = page.locator("#plan-1 svg").bounding_box()["width"]
        assert width <= 390  # the plan fits a phone screen
    finally:
        context.close()
