"""The foundation slice end to end: RSSI reports in -> positioned -> the probe sends the phone's
browser to its zone's light app; an unknown phone goes to the mall home."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
from flask import url_for

from fingerprints.simulator import RadioSimulator
from portal.apps import registry
from portal.demo import simulated_reports

PHONE = "02:00:5e:00:53:10"


def post_phone_at(client, token, venue_map, floor, x, y, phone=PHONE):
    body = simulated_reports(venue_map, floor, x, y, phone, time.time())
    resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
    assert resp.status_code == 202


def expected_landing_path(app, svc, zone: str) -> str:
    app_name, _ = svc.zone_apps.get("demo", zone)
    with app.test_request_context():
        return urlparse(url_for(registry.get(app_name).landing_endpoint, venue="demo", zone=zone)).path


@pytest.mark.parametrize(
    ("floor", "x", "y", "zone"),
    [(1, 20, 30, "cinema"), (0, 20, 30, "garage"), (1, 65, 30, "foodcourt"), (0, 60, 30, "atrium")],
)
def test_probe_sends_phone_to_its_zone_app(app, client, demo, svc, demo_map, floor, x, y, zone):
    post_phone_at(client, demo, demo_map, floor, x, y)
    resp = client.get(f"/generate_204?client_mac={PHONE}")
    assert resp.status_code == 302
    location = urlparse(resp.headers["Location"])
    assert location.path == expected_landing_path(app, svc, zone)
    assert "c" in parse_qs(location.query)  # shopper token, since the mini-browser keeps no cookie


def test_unknown_phone_goes_to_mall_home(client, demo):
    resp = client.get("/hotspot-detect.html?client_mac=02:00:5e:00:53:99")
    assert resp.status_code == 302
    assert urlparse(resp.headers["Location"]).path == "/v/demo/"


def test_probe_without_client_goes_home(client, demo):
    resp = client.get("/generate_204")
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/v/demo/"


def test_model_rebuilt_when_map_version_changes(svc, demo, demo_map):
    import copy

    first = svc.models.get("demo")
    assert first is not None and first.version == svc.venues.current_version("demo")
    svc.venues.put_map(copy.deepcopy(demo_map))
    svc.models.recheck_s = 0
    second = svc.models.get("demo")
    assert second.version == first.version + 1 and second is not first


def test_positioner_is_accurate_on_the_demo_mall(svc, demo, demo_map):
    """Phones at random spots: floor almost always right, median error a few metres."""
    import numpy as np

    from positioning import build_vector

    model = svc.models.get("demo")
    sim = RadioSimulator(demo_map)  # same building, same shadowing; fresh fast fading below
    rng = np.random.default_rng(5)
    errors, floors_ok = [], 0
    for _ in range(150):
        floor = int(rng.integers(0, 2))
        x, y = rng.uniform(2, 118), rng.uniform(2, 58)
        readings = {ap: [v] for ap, v in sim.measure(floor, x, y, rng).items()}
        est = model.positioner.locate(build_vector(readings, model.ap_ids))
        floors_ok += est.floor == floor
        errors.append(np.hypot(est.x - x, est.y - y))
    assert floors_ok / 150 >= 0.95
    assert np.median(errors) < 5.0


def test_live_positions_feed_the_footfall_counts(client, demo, svc, demo_map):
    """Footfall is kept aggregated from the positions the portal computes (no per-device history)."""
    post_phone_at(client, demo, demo_map, 1, 20, 30)
    assert client.get(f"/generate_204?client_mac={PHONE}").status_code == 302
    report = svc.footfall.report("demo", svc.footfall.today("demo"))  # the venue's day, not the host's
    assert report.visitors == 1 and report.zones["cinema"].visitors == 1
