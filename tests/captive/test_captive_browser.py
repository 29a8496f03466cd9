"""The landing flow in headless Chromium dressed as an iPhone's captive mini-browser (UA, viewport,
no cookies kept): positioned in the cinema -> the portal sends it to the cinema's app -> "Continue to
the internet" -> online; the Apple probe then gets Apple's Success page."""

import contextlib
import json
import threading
import time
import urllib.request

import pytest

from fingerprints.demo_mall import build_demo_mall
from portal.demo import simulated_reports

PHONE = "02:00:5e:00:53:61"


@pytest.fixture(scope="module")
def demo_venue():
    return build_demo_mall("demo")


def post_reports(live_server, venue, floor, x, y):
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text()
    body = json.dumps(simulated_reports(venue, floor, x, y, PHONE, time.time())).encode()
    request = urllib.request.Request(f"{live_server.url}/api/v1/venues/demo/reports", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as resp:
        assert resp.status == 202


@pytest.mark.browser
@contextlib.contextmanager
def reported_while_inside(live_server, venue, floor, x, y, every_s=2.0):
    """The APs report the phone every few seconds, as real ones do, until the block ends: however long a
    busy machine takes to answer the probe, the phone's readings are recent (one report alone ages out of
    the readings window if the probe waits behind a model fit on a starved CPU)."""
    post_reports(live_server, venue, floor, x, y)
    done = threading.Event()

    def keep_reporting():
        while not done.wait(every_s):
            post_reports(live_server, venue, floor, x, y)

    reporter = threading.Thread(target=keep_reporting, daemon=True)
    reporter.start()
    try:
        yield
    finally:
        done.set()
        reporter.join()


def test_iphone_lands_on_zone_app_then_goes_online(iphone_page, live_server, demo_venue):
    page = iphone_page
    with reported_while_inside(live_server, demo_venue, 1, 20, 30):  # in the cinema
        page.goto(f"{live_server.url}/hotspot-detect.html?client_mac={PHONE}")
    assert "/cinema" in page.url or "zone/cinema" in page.url
    page.context.clear_cookies()  # the mini-browser keeps none: the page must carry who we are
    page.click("#continue-internet")
    page.wait_for_selector("#online")
    assert "min" in page.locator("#online").inner_text()
    page.goto(f"{live_server.url}/hotspot-detect.html?client_mac={PHONE}")
    assert page.locator("body").inner_text().strip() == "Success"


@pytest.mark.browser
def test_unknown_phone_lands_on_mall_home_and_can_continue(iphone_page, live_server):
    page = iphone_page
    page.goto(f"{live_server.url}/portal?client_mac=02:00:5e:00:53:62")
    assert "/v/demo/" in page.url
    assert page.viewport_size["width"] == 390
    page.click("#continue-internet")
    page.wait_for_selector("#online")
