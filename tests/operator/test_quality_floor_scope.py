"""The quality page opens on all floors, the live estimate's own scope, and a floor's survey figures are labelled with
their floor and never set against the whole venue's live estimate. Until 2026-12-07 the page opened on its first
floor's figures under the whole-venue estimate (the Galleria: its car park's 100% zone hits under all floors' 96.1%),
and the "live is above the survey's self-consistency" note compared the whole venue with that one floor."""

from __future__ import annotations

import dataclasses
import html
import re

from fingerprints.quality import LiveEstimate
from portal.operator import quality as ops_quality

V = "/console/ops/demo"


def page(client, query: str = "") -> str:
    resp = client.get(V + "/quality" + query)
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def survey_rate(body: str) -> float:
    return float(re.search(r'id="zone-hit-rate">([\d.]+)%', body).group(1))


def test_the_page_opens_on_all_floors(client, ops, svc):
    venue_map = svc.venues.get_map("demo")
    assert len(venue_map.floors) > 1
    body = page(client)
    assert re.search(r'floor=all"\s+aria-current="page"', body)
    assert 'id="survey-scope"' not in body
    assert "Survey self-consistency (optimistic)" in body
    every = ops_quality.quality_for(venue_map, None)
    assert every.n_points == len(venue_map.samples)
    assert survey_rate(body) == round(100 * every.zone_hit_rate, 1)


def test_a_floor_is_labelled_and_the_live_estimate_is_compared_with_all_floors(client, ops, svc, monkeypatch):
    real = ops_quality.live_for

    def above_every_survey(*args, **kwargs):  # the note shows only when the live estimate is above the survey
        live = real(*args, **kwargs)
        return dataclasses.replace(live, settled_zone_rate=1.0) if isinstance(live, LiveEstimate) else live

    monkeypatch.setattr(ops_quality, "live_for", above_every_survey)
    venue_map = svc.venues.get_map("demo")
    floor = venue_map.floors[0]
    every = ops_quality.quality_for(venue_map, None)
    body = page(client, f"?floor={floor.level}")
    heading = re.search(r'id="survey-heading">(.*?)</h2>', body, re.S).group(1)
    assert heading == f"Survey self-consistency, floor {floor.name} (optimistic)"
    assert "the live estimate is the whole venue's" in re.search(r'id="survey-scope">(.*?)</p>', body, re.S).group(1)
    note = re.search(r'id="live-above-optimistic">(.*?)</p>', body, re.S).group(1)
    assert f"self-consistency ({100 * every.zone_hit_rate:.1f}%, from {every.n_points} reference points)" in note
    assert ops_quality.quality_for(venue_map, floor.level).n_points < every.n_points  # the floor's figure is not it
