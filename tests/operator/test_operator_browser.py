"""The operator console in a real headless Chromium against the real server (gunicorn): set up a floor
(upload a generated PNG plan, set its scale by two clicks), place an AP by a click, draw a zone by
clicks, and run a survey end to end while the radio simulator plays the survey device (its readings
posted to the native reports API with the demo token); the new reference point shows on the plan.
Finally the map is rolled back on the versions page (the live server is shared by the session)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.request

import pytest
from PIL import Image, ImageDraw

from fingerprints.simulator import RadioSimulator
from fingerprints.store import VenueStore
from portal.demo import simulated_reports
from tests.browsers import console_sign_in

pytestmark = pytest.mark.browser

LEVEL = 7
DEVICE_MAC = "02:00:5e:00:53:77"
AP_BSSID = "02:aa:bb:cc:dd:77"


def plan_png() -> bytes:
    image = Image.new("RGB", (600, 300), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((5, 5, 595, 295), outline=(40, 40, 40), width=4)
    draw.line((100, 150, 400, 150), fill=(200, 0, 0), width=2)  # the "measured" 15 m wall
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def restore_map(live_server):
    store = VenueStore(live_server.db())
    original = store.current_version("demo")
    yield original
    if store.current_version("demo") != original:
        store.set_current("demo", original)


def post_reports(base: str, token: str, payload: dict) -> int:
    req = urllib.request.Request(base + "/api/v1/venues/demo/reports", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.status


def test_operator_sets_up_a_floor_and_surveys_it(live_server, page, restore_map):
    base = live_server.url
    ops = base + "/console/ops/demo"
    store = VenueStore(live_server.db())
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text().strip()
    console_sign_in(page, base, "ops", lands="/console/ops/demo/")

    # a new floor
    page.click("text=Venue set-up")
    page.fill("#level", str(LEVEL))
    page.fill("#fname", "T7")
    page.fill("#width_m", "60")
    page.fill("#height_m", "30")
    page.click("#add-floor button")
    page.wait_for_url(f"**/setup/floor/{LEVEL}")
    assert store.get_map("demo").floor(LEVEL).name == "T7"

    # its plan: a generated PNG, then the scale from two clicks 300 px apart = 15 m
    page.click("#tools >> text=Plan & scale")
    page.set_input_files("#plan-file", files=[{"name": "plan.png", "mimeType": "image/png", "buffer": plan_png()}])
    page.click("#upload-plan")
    page.wait_for_selector("#scale-form")
    assert store.get_map("demo").floor(LEVEL).plan_image
    page.click("#plan", position={"x": 100, "y": 150})
    page.click("#plan", position={"x": 400, "y": 150})
    assert page.input_value("#x1") == "100" and page.input_value("#x2") == "400"
    assert page.locator("#plan-preview circle").count() == 2
    page.fill("#metres", "15")
    page.click("#set-scale")
    page.wait_for_url(re.compile(r".*tool=ap$"))
    floor = store.get_map("demo").floor(LEVEL)
    assert floor.metres_per_pixel == pytest.approx(0.05) and floor.width_m == pytest.approx(30)

    # an AP, placed by a click on the plan
    page.fill("#bssid", AP_BSSID.upper())
    page.fill("#ap-name", "Test AP")
    page.focus("#plan")
    page.keyboard.press("Space")  # it submitted the plan at (0, 0): the AP in the corner; now it goes to x
    assert page.evaluate("document.activeElement.id") == "ap-x"
    assert AP_BSSID not in store.get_map("demo").ap_ids()
    page.click("#plan", position={"x": 300, "y": 150})
    page.wait_for_selector(f"#ap-list >> text={AP_BSSID}")
    ap = next(a for a in store.get_map("demo").aps if a.bssid == AP_BSSID)
    assert (ap.floor, ap.x, ap.y) == (LEVEL, pytest.approx(15, abs=0.1), pytest.approx(7.5, abs=0.1))

    # a bad zone first (self-intersecting, typed by hand), then one drawn by clicks
    page.click("#tools >> text=Zones")
    page.fill("#zone-id", "test-hall")
    page.fill("#zone-name", "Test hall")
    page.fill("#points", "1,1 10,10 10,1 1,10")
    page.click("#save-zone")
    page.wait_for_selector(".flash.error")
    assert "crosses itself" in page.inner_text(".flash.error")
    page.fill("#points", "")
    for x, y in [(40, 40), (560, 40), (560, 260), (40, 260)]:
        page.click("#plan", position={"x": x, "y": y})
    assert page.input_value("#points") == "2.00,2.00 28.00,2.00 28.00,13.00 2.00,13.00"
    page.click("#save-zone")
    page.wait_for_selector("#zone-list >> text=test-hall")
    version_before_survey = store.current_version("demo")

    # the survey: register the device, tap the point, the simulator plays the device meanwhile
    page.click("text=Surveys")
    page.fill("#mac", DEVICE_MAC)
    page.fill("#label", "simulated phone")
    page.click("#device-form button")
    page.wait_for_selector("#devices")
    page.click(".tabs >> text=T7")
    # As an operator does on a slow network: a long window, "Finish now" once the page shows 3 scans. The
    # point's own timer would end it at a fixed time, whether or not the reports had landed by then (on a
    # loaded 2-core box one report can take over a second: 3 s and 8 s windows both failed at load 15-22).
    page.fill("#duration", "60")
    venue_map = store.get_map("demo")
    sim = RadioSimulator(venue_map)
    stop, failures = threading.Event(), []

    def play_device():
        while not stop.is_set():
            try:
                post_reports(base, token, simulated_reports(venue_map, LEVEL, 10.0, 5.0, DEVICE_MAC,
                                                            time.time() + 1, sim=sim))
            except OSError as exc:  # the page then never shows its scans: say why
                failures.append(repr(exc))
            stop.wait(0.5)

    player = threading.Thread(target=play_device, daemon=True)
    player.start()
    try:
        page.click("#plan", position={"x": 200, "y": 100})  # (10 m, 5 m)
        page.wait_for_selector("#collecting")
        page.wait_for_function(  # the page refreshes itself every second while collecting
            "() => /(\\d+) scans/.test(document.querySelector('#collecting')?.textContent || '')"
            " && +/(\\d+) scans/.exec(document.querySelector('#collecting').textContent)[1] >= 3",
            timeout=120_000)  # generous: a loaded 2-core CI box
        page.click("#finish-now")
        page.wait_for_selector("#survey-done")
    finally:
        stop.set()
        player.join(5)
        assert not failures, failures  # here: the posts' errors explain a page that never got its scans
    after = store.get_map("demo")
    assert after.version > version_before_survey
    sample = after.samples[-1]
    assert (sample.floor, sample.x, sample.y, sample.zone) == (LEVEL, 10.0, 5.0, "test-hall")
    assert AP_BSSID in sample.rssi and sample.n >= 3
    # the new reference point is drawn on the plan the page shows
    src = page.get_attribute("#plan", "src")
    assert f"v={after.version}" in src
    svg = page.request.get(base + src).text()
    assert 'class="sample" cx="200.0" cy="100.0"' in svg
    assert "T7" in page.inner_text("#progress")

    # the model of the new version is rebuilt in the background; then roll back
    page.goto(ops + "/versions")
    page.wait_for_selector("#model-ready", timeout=120_000)  # generous: a loaded 2-core CI box
    page.click(f"#versions tr:has(td:text-is('v{restore_map}')) button")
    page.wait_for_selector(".flash")
    assert store.current_version("demo") == restore_map
