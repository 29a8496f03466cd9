"""The demo mall and the radio simulator: structure, physics, reproducibility."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
from shapely.geometry import Polygon

from fingerprints.demo_mall import build_demo_mall
from fingerprints.model import VenueMap
from fingerprints.simulator import RadioSimulator


def test_demo_mall_has_what_the_issue_asks(demo_map):
    assert len(demo_map.floors) == 2
    assert 18 <= len(demo_map.aps) <= 24
    kinds = {z.kind for z in demo_map.zones}
    assert {"cinema", "garage", "food", "atrium"} <= kinds
    assert sum(z.kind == "shop" for z in demo_map.zones) >= 2
    for zone in demo_map.zones:
        assert Polygon(zone.polygon).is_valid
    assert all(f.walls for f in demo_map.floors)
    assert len(demo_map.samples) > 1000 and all(s.zone for s in demo_map.samples)


def test_zones_do_not_overlap(demo_map):
    for floor in (0, 1):
        polys = [Polygon(z.polygon) for z in demo_map.zones if z.floor == floor]
        for i, a in enumerate(polys):
            for b in polys[i + 1 :]:
                assert a.intersection(b).area < 1e-6


def test_map_round_trips_through_json(demo_map):
    again = VenueMap.from_dict(demo_map.to_dict())
    assert again == demo_map


def test_to_dict_is_asdict_and_copy_is_deep(demo_map):
    """to_dict skips asdict's per-value deep copies (every map write pays it); same result, and
    copy() shares no list or dict with the original."""
    assert demo_map.to_dict() == asdict(demo_map)
    copied = demo_map.copy()
    assert copied == demo_map
    copied.samples[0].rssi.clear()
    copied.zones[0].polygon.append((0.0, 0.0))
    copied.floors[0].walls.clear()
    assert demo_map.samples[0].rssi and copied.zones[0].polygon != demo_map.zones[0].polygon
    assert demo_map.floors[0].walls and demo_map.to_dict() == asdict(demo_map)


def test_survey_is_reproducible():
    a = build_demo_mall(survey_step_m=12.0, scans=3)
    b = build_demo_mall(survey_step_m=12.0, scans=3)
    assert a.samples == b.samples


def test_signal_falls_with_distance_walls_and_floors(demo_map):
    sim = RadioSimulator(demo_map, shadowing_db=0.0)
    ap = demo_map.aps[0]  # ground floor, in the car park
    near = sim.mean_rssi(ap.floor, ap.x + 2, ap.y)[ap.bssid]
    far = sim.mean_rssi(ap.floor, ap.x + 20, ap.y)[ap.bssid]
    upstairs = sim.mean_rssi(1, ap.x + 2, ap.y)[ap.bssid]
    assert near > far and near - upstairs >= sim.floor_db
    # 30 m away through the car-park wall (x = 40 m) vs. 30 m away inside the car park
    assert (ap.x, ap.y) == (12.0, 15.0)
    inside = sim.mean_rssi(0, ap.x, ap.y + 30)[ap.bssid]
    through_wall = sim.mean_rssi(0, ap.x + 30, ap.y)[ap.bssid]
    assert inside - through_wall == pytest.approx(sim.wall_db)


def test_measurements_vary_but_stay_near_the_mean(demo_map):
    sim = RadioSimulator(demo_map)
    rng = np.random.default_rng(1)
    bssid = demo_map.aps[2].bssid
    mean = sim.mean_rssi(0, 40, 20)[bssid]
    values = [sim.measure(0, 40, 20, rng)[bssid] for _ in range(200)]
    assert abs(np.mean(values) - mean) < 1.0 and 1.5 < np.std(values) < 4.0
    assert all(v == int(v) for v in values)  # APs report whole dBm


def test_versions_are_never_reused_after_a_rollback(svc, demo, demo_map):
    import copy

    first = svc.venues.current_version("demo")
    second = svc.venues.put_map(copy.deepcopy(demo_map))
    svc.venues.set_current("demo", first)
    third = svc.venues.put_map(copy.deepcopy(demo_map))
    assert third == second + 1
    assert svc.venues.versions("demo") == [first, second, third]


def test_oversized_form_post_is_a_413_not_a_500(client, demo):
    resp = client.post("/console/login", data={"username": "x" * (2 * 1024 * 1024), "password": "y"})
    assert resp.status_code == 413


def test_the_demo_shops_read_in_chinese_on_zh_pages(client, demo):
    """The demo seed writes each shop's description in both languages (the map holds English only)."""
    zh = client.get("/v/demo/shop/kopi?lang=zh").get_data(as_text=True)
    assert "单一产地咖啡和咖椰吐司。" in zh and "Single-origin" not in zh
    assert "Single-origin coffee and kaya toast." in client.get("/v/demo/shop/kopi?lang=en").get_data(as_text=True)


def test_the_demo_mall_marks_its_street_door_as_an_entrance(demo_map):
    """The atrium's south front has a gap in the outline's wall and a walkway node just inside it, marked as an
    entrance (where the quality report's shoppers on foot come in) and linked to the walkways."""
    (floor, x, y), = demo_map.entrance_spots()
    door = next(n for n in demo_map.nodes if n.entrance)
    assert (floor, x, y) == (0, 60.0, 59.0)
    assert any(door.id in (e.a, e.b) for e in demo_map.edges)
    south = [w for w in demo_map.floor(0).walls if w[1] == w[3] == 60.0]
    covered = sum(abs(w[2] - w[0]) for w in south)
    assert covered == pytest.approx(120.0 - 4.0)  # the outline less the door's 4 m
    assert not any(min(w[0], w[2]) < 60.0 < max(w[0], w[2]) for w in south)
