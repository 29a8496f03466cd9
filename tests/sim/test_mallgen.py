"""The seeded mall generator: a real mall's shape, every zone reachable, the same mall for the same seed."""

from collections import Counter

import networkx as nx
import pytest

from fingerprints.geometry import zone_map
from fingerprints.mallgen import RADIO, generate_mall, parse_radio
from fingerprints.simulator import PHONE_MODELS


@pytest.mark.parametrize("shape", ["linear", "ring"])
def test_a_real_malls_shape(small_malls, shape):
    mall = small_malls[shape]
    venue = mall.venue
    kinds = Counter(z.kind for z in venue.zones)
    assert len(venue.floors) >= 4 and len(venue.zones) >= 60 and len(venue.aps) >= 40
    assert kinds["garage"] >= 2 and all(z.floor == 0 for z in venue.zones if z.kind == "garage")
    assert kinds["stall"] >= 10 and kinds["kiosk"] >= 2 and kinds["food"] >= 1 and kinds["corridor"] >= 6
    for zone in venue.zones:
        if zone.kind == "stall":
            xs = [p[0] for p in zone.polygon]
            assert 4.0 <= max(xs) - min(xs) <= 6.0  # 4-6 m frontage
    assert len({ap.bssid for ap in venue.aps}) == len(venue.aps)
    assert all(0 <= ap.x <= venue.floor(ap.floor).width_m for ap in venue.aps)
    assert {e.kind for e in venue.edges} >= {"walk", "elevator", "stairs", "escalator"}
    assert len(mall.wall_losses[1]) == len(venue.floor(1).walls) and set(mall.wall_losses[1]) <= {3.0, 5.0, 12.0}
    assert set(mall.zone_apps) == {z.id for z in venue.zones}
    assert venue.samples and all(s.zone for s in venue.samples)


@pytest.mark.parametrize("shape", ["linear", "ring"])
def test_every_zone_reachable_from_the_street_and_the_car_park(small_malls, shape):
    mall = small_malls[shape]
    venue = mall.venue
    graph = nx.DiGraph()
    for e in venue.edges:
        graph.add_edge(e.a, e.b)
        if not e.oneway:
            graph.add_edge(e.b, e.a)
    zones = zone_map(venue)
    nodes_in = {zones.zone_at(n.floor, n.x, n.y): n.id for n in venue.nodes}
    for start in (mall.entrances[0], mall.parking_nodes[0]):
        reachable = nx.descendants(graph, start) | {start}
        missing = [z.id for z in venue.zones if nodes_in.get(z.id) not in reachable]
        assert not missing, missing


def test_same_seed_same_mall_and_shapes_by_seed():
    a = generate_mall(8, survey_step_m=12.0, scans=2)
    b = generate_mall(8, survey_step_m=12.0, scans=2)
    assert a.venue.to_dict() == b.venue.to_dict() and a.shape == "linear"
    assert generate_mall(9, survey_step_m=12.0, scans=2).shape == "ring"
    with pytest.raises(ValueError):
        generate_mall(1, "star")


def test_phone_spread_scales_the_phones_and_the_survey_phone_and_nothing_else():
    """bench --phone-spread: the same mall, its phone models' and survey phone's offsets scaled."""
    usual = generate_mall(8, survey_step_m=12.0, scans=2)
    wider = generate_mall(8, survey_step_m=12.0, scans=2, phone_spread=1.8)
    # rounded to 0.1 dB after the scaling, against 1.8 x a value rounded before it: at most 0.05 + 0.09 apart
    assert wider.survey_phone_offset_db == pytest.approx(usual.survey_phone_offset_db * 1.8, abs=0.15)
    assert usual.survey_phone_offset_db != 0
    assert [z.polygon for z in wider.venue.zones] == [z.polygon for z in usual.venue.zones]
    assert wider.venue.aps == usual.venue.aps
    assert wider.phone_offset_db("vivo-y36") == pytest.approx(1.8 * usual.phone_offset_db("vivo-y36"))
    assert usual.phone_offset_db("vivo-y36") == PHONE_MODELS["vivo-y36"] != 0
    # the survey phone reads the scaled offset: every reference point's readings move with it
    shift = wider.survey_phone_offset_db - usual.survey_phone_offset_db
    first = usual.venue.samples[0].rssi
    moved = wider.venue.samples[0].rssi
    common = [ap for ap in first if ap in moved]
    assert common and abs(sum(moved[ap] - first[ap] for ap in common) / len(common) - shift) < 1.5


def test_radio_changes_the_readings_and_nothing_of_the_building():
    """bench --radio: the same building, APs and survey points in another radio world, whose readings differ."""
    usual = generate_mall(8, survey_step_m=12.0, scans=2)
    harsh = generate_mall(8, survey_step_m=12.0, scans=2, radio={"path_loss_exponent": 3.0, "shadowing_db": 6.0})
    assert harsh.radio == {**RADIO, "path_loss_exponent": 3.0, "shadowing_db": 6.0} and usual.radio == RADIO
    assert harsh.venue.aps == usual.venue.aps and harsh.venue.edges == usual.venue.edges
    assert [z.polygon for z in harsh.venue.zones] == [z.polygon for z in usual.venue.zones]
    assert [(s.floor, s.x, s.y) for s in harsh.venue.samples] == [(s.floor, s.x, s.y) for s in usual.venue.samples]
    assert harsh.survey_phone_offset_db == usual.survey_phone_offset_db
    sim = harsh.simulator()
    assert (sim.path_loss_exponent, sim.shadowing_db, sim.fading_db) == (3.0, 6.0, RADIO["fading_db"])
    # a steeper path loss: the same spot hears the same AP weaker
    floor = harsh.venue.aps[0].floor
    spot = (harsh.venue.aps[0].x + 20.0, harsh.venue.aps[0].y)
    assert sim.mean_vector(floor, *spot)[0] < usual.simulator().mean_vector(floor, *spot)[0]


@pytest.mark.parametrize(("text", "refused"), [
    ("shadowing=6", "expected name=value"), ("wall_db=3", "expected name=value"), ("fading_db", "expected name=value"),
    ("fading_db=loud", "not a number"), ("fading_db=-1", "0 or more"), ("path_loss_exponent=0", "above 0"),
    ("correlation_m=nan", "finite"), ("body_db=inf", "finite"), ("fading_db=3,fading_db=4", "given twice"),
    ("sensitivity_dbm=-110", "above -105 dBm"),
])
def test_radio_text_refused_naming_what_is_wrong(text, refused):
    with pytest.raises(ValueError, match=refused):
        parse_radio(text)


@pytest.mark.parametrize(("radio", "refused"), [
    ({"walls": 1.0}, "unknown radio parameter"), ({"fading_db": "3"}, "finite number"),
    ({"body_db": True}, "finite number"), ({"shadowing_db": -2}, "0 or more"),
])
def test_radio_refused_before_a_mall_is_built(radio, refused):
    with pytest.raises(ValueError, match=refused):
        generate_mall(8, survey_step_m=12.0, scans=2, radio=radio)


def test_radio_text_read():
    assert parse_radio("path_loss_exponent=3, shadowing_db=6,fading_db=4.5,") == {
        "path_loss_exponent": 3.0, "shadowing_db": 6.0, "fading_db": 4.5}
    assert parse_radio("") == {}
