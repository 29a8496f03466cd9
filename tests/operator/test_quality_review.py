"""The operator's quality page, review faults: a survey of one floor imported through the console no longer
claims a perfect live landing (the other floor's dwell zones are counted as misses, and the page says so), and a
CSV survey (no scan-to-scan spread recorded) shows the reading noise it assumes. Against the suite's Valkey."""

from __future__ import annotations

import html
import io
import re

from fingerprints import samples_io

V = "/console/ops/demo"


def test_a_one_floor_survey_says_the_other_floor_counts_as_misses(client, console, svc, demo):
    console.login("ops")
    full = svc.venues.get_map("demo")
    lines = samples_io.export_samples(full, "mallportal")[0].splitlines()
    floor0 = "\n".join([lines[0]] + [row for row in lines[1:] if row.split(",")[1] == "0"]).encode()
    r = client.post(V + "/setup/import-samples", content_type="multipart/form-data",
                    data={"csrf_token": console.csrf(), "mode": "replace", "scans": "5",
                          "samples": (io.BytesIO(floor0), "floor0.csv")})
    assert r.status_code == 303
    venue_map = svc.venues.get_map("demo")
    assert {s.floor for s in venue_map.samples} == {0}
    body = html.unescape(client.get(V + "/quality?floor=all").get_data(as_text=True))
    settled = re.search(r'id="live-zone-settled">([\d.]+)%', body)
    assert settled and float(settled.group(1)) <= 55.0
    upper = venue_map.floor(1).name
    warning = page_text_of(body, "live-unsurveyed")
    assert re.search(rf"\d+ of \d+ dwell zones \(floor {re.escape(upper)}\) have no reference points: counted as "
                     "misses", warning), warning
    assert "Reading noise assumed 2.5 dB: the survey records none." in page_text_of(body, "live-noise-assumed")


def page_text_of(body: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</p>', body, re.S)
    assert found, f"no #{element_id} on the page"
    return re.sub(r"\s+", " ", found.group(1)).strip()


def test_the_surveyed_demo_shows_neither_note(client, console, demo):
    console.login("ops")
    body = client.get(V + "/quality?floor=all").get_data(as_text=True)
    assert 'id="live-zone-settled"' in body
    assert 'id="live-unsurveyed"' not in body and 'id="live-noise-assumed"' not in body
