"""README "Open a new mall", step by step, on a second venue: the first operator from the CLI, a draft in a
real headless Chromium (IMDF plan, AP CSV, survey CSV; diff shown; applied as ONE map version), a zone owner
invited by link who sets a password and picks the shop's app, the checklist (its walkways step asks for the street
door, marked on the floor's walkway tool), then a phone's RSSI reports and a probe that lands on that zone's app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from fingerprints import edits
from fingerprints.ap_lists import read_ap_csv
from fingerprints.imdf import imdf_zip_bytes, import_imdf
from fingerprints.samples_io import export_samples
from fingerprints.simulator import RadioSimulator
from fingerprints.store import VenueStore
from portal.demo import simulated_reports
from tests.browsers import console_sign_in
from tests.maps.imdf_builder import SHOPS, mall_archive

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENUE = "harbour2"
PHONE = "02:00:5e:00:53:42"
AP_CSV = "name,bssids,level,x_m,y_m,height_m,model\n" + "\n".join(
    f"AP-{lv}-{i},02:bb:00:00:{lv:02x}:{i:02x},{lv},{x},{y},3,U6"
    for lv in (0, 1) for i, (x, y) in enumerate([(5, 5), (25, 5), (45, 5), (10, 20), (30, 20), (50, 20)], 1)) + "\n"


def flask_cli(live_server, *args: str) -> str:
    env = {**os.environ, "REDIS_URL": live_server.redis_url, "PYTHONPATH": str(ROOT),
           "DATA_DIR": str(live_server.settings.data_dir), "LOAD_DEMO": "0"}
    done = subprocess.run([sys.executable, "-m", "portal", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def survey_csv(archive: dict) -> bytes:
    """What a survey of the mall would give: the radio simulator over the plan with its APs."""
    plan = import_imdf(archive, venue_id=VENUE)
    edits.place_aps(plan, read_ap_csv(plan, AP_CSV).placements)
    plan.samples = RadioSimulator(plan).survey_grid(step_m=4.0, scans=6)
    return export_samples(plan, "mallportal")[0].encode()


def test_open_a_new_mall_as_the_readme_says(live_server, page, tmp_path):
    base, ops = live_server.url, live_server.url + f"/console/ops/{VENUE}"
    store = VenueStore(live_server.db())
    archive = mall_archive(levels=2)

    # 1. the first operator, from the CLI
    assert "created" in flask_cli(live_server, "users", "create", "harbour2-ops", "--role", "operator",
                                  "--venue", VENUE, "--password", "harbour-pass-1")
    console_sign_in(page, base, "harbour2-ops", "harbour-pass-1")
    page.wait_for_url(ops + "/")

    # 2-5. a draft: the IMDF plan, the AP list, the survey samples; the diff; applied as one version
    page.click("#drafts-link")
    page.fill("#title", "Opening")
    page.click("#open-draft button")
    page.wait_for_selector("#add-imdf")
    for kind, name, payload in [("imdf", "harbour.imdf.zip", imdf_zip_bytes(archive)),
                                ("aps", "aps.csv", AP_CSV.encode()),
                                ("samples", "survey.csv", survey_csv(archive))]:
        page.set_input_files(f"#file-{kind}", files=[{"name": name, "mimeType": "application/octet-stream",
                                                      "buffer": payload}])
        page.click(f"#add-{kind} button")
        page.wait_for_selector(f"#draft-steps li:nth-child({['imdf', 'aps', 'samples'].index(kind) + 1})")
    assert "+12" in page.inner_text("#draft-diff")
    assert store.current_version(VENUE) == 0
    page.click("#apply-draft button")
    page.wait_for_url(ops + "/checklist")
    assert store.versions(VENUE) == [1]
    venue_map = store.get_map(VENUE)
    assert venue_map.nodes and len(venue_map.aps) == 12 and venue_map.samples

    # 6. a zone owner for the first shop, invited by a one-time link
    page.goto(ops + "/owners")
    page.fill("#username", "kopi-harbour")
    shop = next(z for z in venue_map.zones if z.name == "Kopi 0")
    page.check(f"input[name=zones][value='{shop.id}']")
    page.check("input[name=method][value=link]")
    page.click("#create-owner button")
    link = page.inner_text("#owner-link")

    # 7. the checklist says what is done, with its heatmaps, and what is missing (the validation walk)
    page.goto(ops + "/checklist")
    assert page.get_attribute("#step-aps", "class") == "done"
    # an IMDF plan marks no entrance: the step asks for the street doors on the lowest floor's walkway tool
    assert page.get_attribute("#step-walkways", "class") == "todo"
    assert "no entrance marked" in page.inner_text("#step-walkways")
    mark = page.locator("#step-walkways a", has_text="Mark the entrances")
    assert mark.get_attribute("href") == f"/console/ops/{VENUE}/setup/floor/0?tool=walkway"
    assert page.get_attribute("#step-validation", "class") == "todo"
    assert page.locator("img.error-heatmap").count() == 2
    # the link opens the walkway tool, where a node is marked as the street door: one map version, the step done
    mark.click()
    page.wait_for_url("**/setup/floor/0?tool=walkway")
    door = page.locator("#node-list tbody tr").first
    door_id = door.locator("td").first.inner_text()
    door.get_by_role("button", name="Mark as entrance").click()
    page.wait_for_selector("#node-list tr.entrance")
    assert store.current_version(VENUE) == 2 and store.get_map(VENUE).entrance_spots()
    assert next(n for n in store.get_map(VENUE).nodes if n.id == door_id).entrance
    page.goto(ops + "/checklist")
    assert page.get_attribute("#step-walkways", "class") == "done"
    page.click(".console-foot button")  # the operator signs out

    # the owner opens the link, sets a password, signs in and picks the shop's landing app
    page.goto(link)
    page.fill("#new_password", "kopi harbour passphrase")
    page.fill("#confirm_password", "kopi harbour passphrase")
    page.click("#set-password button")
    page.wait_for_url("**/console/login")
    console_sign_in(page, base, "kopi-harbour", "kopi harbour passphrase")
    page.wait_for_url(f"**/console/owner/{VENUE}/")
    page.click(f"#zones li[data-zone='{shop.id}'] a")
    page.check("input[name=app][value=coupons]")
    page.click("#pick-app button")
    page.click("#save")
    page.wait_for_url(f"**/zone/{shop.id}")
    assert "oupon" in page.inner_text("#current-app")

    # a phone in that shop: its APs report it; the probe of its OS lands on the shop's zone app
    token = flask_cli(live_server, "issue-token", VENUE, "walkthrough").strip().splitlines()[-1]
    x0, y0, x1, y1 = SHOPS["Kopi"]
    body = simulated_reports(venue_map, 0, (x0 + x1) / 2, (y0 + y1) / 2, PHONE, time.time())
    req = urllib.request.Request(f"{base}/api/v1/venues/{VENUE}/reports", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 202
    deadline = time.time() + 60
    while True:  # the serving workers pick the new version's model up within seconds
        page.goto(f"{base}/generate_204?client_mac={PHONE}&venue={VENUE}")
        path = urlparse(page.url).path
        if f"/{VENUE}/zone/{shop.id}/coupons" in path or time.time() > deadline:
            break
        time.sleep(1)
    assert f"/{VENUE}/zone/{shop.id}/coupons" in path, path  # the zone app its owner picked
