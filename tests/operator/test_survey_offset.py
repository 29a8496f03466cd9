"""Survey guidance (issue 16): the survey page warns when the surveying phone's readings are off the map's by a
constant offset. AP-side survey: the phone's readings are tied to the marked points by its (hashed) MAC and each
point's time window; a phone-side survey CSV is compared the same way. Phones simulated with the radio simulator,
one of them 8 dB weaker than the map's survey phone."""

from __future__ import annotations

import html
import io
import time

import numpy as np
import pytest

from fingerprints.samples_io import export_samples
from fingerprints.simulator import RadioSimulator
from fingerprints.survey import OFFSET_WARN_DB, SurveyStore, phone_offset
from portal.ingest.observation import Observation

V = "/console/ops/demo"
MAC = "02:00:5e:00:53:77"
POINTS = [(0, 20.3, 12.1), (0, 33.0, 15.5), (1, 40.1, 20.2)]


def simulated_walk(venue_map, offset_db: float, seed: int = 3):
    sim, rng = RadioSimulator(venue_map), np.random.default_rng(seed)
    return [(f, x, y, sim.survey_point(f, x, y, 10, rng, phone_offset_db=offset_db).rssi) for f, x, y in POINTS]


@pytest.mark.parametrize("offset_db", [-8.0, 7.0])
def test_an_offset_phone_is_measured(demo_map, offset_db):
    found = phone_offset(demo_map, simulated_walk(demo_map, offset_db))
    assert found.warn and abs(found.median_db - offset_db) < 1.5 and found.points == 3 and found.pairs >= 20


def test_the_maps_own_phone_agrees(demo_map):
    for offset_db in (0.0, -2.0):
        found = phone_offset(demo_map, simulated_walk(demo_map, offset_db))
        assert not found.warn and abs(found.median_db - offset_db) < 1.5 < OFFSET_WARN_DB


def test_nothing_to_compare_on_a_first_survey(demo_map):
    walk = simulated_walk(demo_map, -8.0)
    empty = type(demo_map).from_dict({**demo_map.to_dict(), "samples": []})
    assert phone_offset(empty, walk) is None
    one = phone_offset(demo_map, walk[:1])
    assert one is not None and not one.warn  # one point is not a walk


def survey_point(svc, store, client, floor, x, y, start, offset_db, rng):
    """The APs hear the device at a marked point during its window (as the RSSI feed stores it)."""
    store.start("demo", client, floor, x, y, 5, now=start)
    sim = RadioSimulator(svc.venues.get_map("demo"))
    readings = [Observation(client, ap, rssi, start + k + 0.5) for k in range(5)
                for ap, rssi in sim.measure(floor, x, y, rng, phone_offset_db=offset_db).items()]
    svc.rssi.write("demo", readings, now=start + 5)


def test_ap_side_survey_page_warns_about_an_offset_phone(client, console, svc):
    console.login("ops")
    resp = client.post(V + "/survey/devices", data={"csrf_token": console.csrf(), "mac": MAC, "label": "weak"})
    assert resp.status_code == 303
    client_id = svc.hasher.client_id(MAC)
    store = SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher)
    rng = np.random.default_rng(5)
    t0 = time.time() - 40
    for i, (floor, x, y) in enumerate(POINTS[:2]):
        survey_point(svc, store, client_id, floor, x, y, t0 + 12 * i, -8.0, rng)
        store.finish("demo", client_id, now=t0 + 12 * i + 5.5)
    floor, x, y = POINTS[2]
    survey_point(svc, store, client_id, floor, x, y, t0 + 24, -8.0, rng)  # its time is up already
    resp = client.post(V + "/survey/finish", data={"csrf_token": console.csrf(), "device": client_id})
    assert resp.status_code == 303
    page = html.unescape(client.get(V + f"/survey?device={client_id}&floor=1").get_data(as_text=True))
    assert 'id="survey-done"' in page and 'id="offset-warning"' in page and "dB weaker than the map" in page
    found = store.walk_offset("demo", client_id)
    assert found.warn and -9.5 < found.median_db < -6.5 and found.points == 3
    assert f"{abs(found.median_db):.1f} dB weaker" in page

    # a new walk forgets it; bad device and who may call
    bad = client.post(V + "/survey/new-walk", data={"csrf_token": console.csrf(), "device": "0" * 24})
    assert bad.status_code == 400
    assert client.post(V + "/survey/new-walk", data={"device": client_id}).status_code == 400  # no CSRF
    assert client.post(V + "/survey/new-walk", data={"csrf_token": console.csrf(),
                                                     "device": client_id}).status_code == 303
    assert store.walk_offset("demo", client_id) is None
    console.logout()
    console.login("cinema")
    assert client.post(V + "/survey/new-walk", data={"csrf_token": console.csrf(),
                                                     "device": client_id}).status_code == 403


def test_a_phone_side_survey_csv_off_the_map_is_flagged(client, console, svc):
    venue_map = svc.venues.get_map("demo")
    plan = type(venue_map).from_dict(venue_map.to_dict())
    sim, rng = RadioSimulator(plan), np.random.default_rng(9)
    plan.samples = [sim.survey_point(f, x + 1.0, y + 1.0, 6, rng, phone_offset_db=-9.0) for f, x, y in POINTS]
    csv_text = export_samples(plan, "mallportal")[0].encode()
    console.login("ops")
    draft = client.post(V + "/drafts", data={"csrf_token": console.csrf(), "title": "re-survey"}).headers["Location"]
    resp = client.post(draft + "/steps", data={"csrf_token": console.csrf(), "kind": "samples",
                                               "file": (io.BytesIO(csv_text), "survey.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    page = html.unescape(client.get(draft).get_data(as_text=True))
    assert "dB weaker than the map's reference points" in page
