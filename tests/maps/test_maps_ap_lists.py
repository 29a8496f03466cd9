"""AP placement in bulk: our CSV, an Ekahau .esx built here from the documented layout, Meraki and UniFi
device lists. All or nothing, with every problem named."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile

import pytest

from fingerprints import edits
from fingerprints.ap_lists import TEMPLATE_CSV, ApListError, read_ap_csv, read_ap_list, read_esx
from fingerprints.model import Floor, VenueMap

ORIGIN = (114.158, 22.2855)


@pytest.fixture
def venue():
    return VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[
        Floor(0, "G", 60, 24, metres_per_pixel=0.05), Floor(1, "L1", 60, 24)])


def test_template_csv_places_every_bssid(venue):
    result = read_ap_csv(venue, TEMPLATE_CSV.encode(), origin=ORIGIN)
    got = {p["bssid"]: p for p in result.placements}
    assert set(got) == {"f0:9f:c2:1a:00:01", "f0:9f:c2:1a:00:02", "f0:9f:c2:1a:01:01"}
    assert got["f0:9f:c2:1a:00:01"]["x"] == 12.5 and got["f0:9f:c2:1a:00:01"]["height_m"] == 3.0
    assert got["f0:9f:c2:1a:01:01"]["level"] == 1  # by floor name
    assert 0 < got["f0:9f:c2:1a:01:01"]["x"] < 60
    edits.place_aps(venue, result.placements)
    assert len(venue.aps) == 3 and venue.aps[0].model == "U6-Pro"


def test_bad_csv_names_every_problem(venue):
    bad = ("name,bssids,level,x_m,y_m\nA,zz:zz,0,1,1\nB,f0:9f:c2:1a:00:09,7,1,1\nC,f0:9f:c2:1a:00:0a,0,99,1\n"
           "D,f0:9f:c2:1a:00:0b,0,,\n")
    with pytest.raises(ApListError) as err:
        read_ap_csv(venue, bad)
    text = str(err.value)
    assert "row 2" in text and "row 3" in text and "row 4" in text and "row 5" in text
    with pytest.raises(ApListError, match="lacks column"):
        read_ap_csv(venue, "name,x\nA,1\n")


def _esx(plans, aps, measured=(), measurements=(), simulated=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.json", json.dumps({"project": {"name": "Harbour"}}))
        zf.writestr("floorPlans.json", json.dumps({"floorPlans": plans}))
        zf.writestr("accessPoints.json", json.dumps({"accessPoints": aps}))
        zf.writestr("measuredRadios.json", json.dumps({"measuredRadios": list(measured)}))
        zf.writestr("accessPointMeasurements.json", json.dumps({"accessPointMeasurements": list(measurements)}))
        zf.writestr("simulatedRadios.json", json.dumps({"simulatedRadios": list(simulated)}))
    return buf.getvalue()


def test_ekahau_project_places_measured_aps_with_floor_scale(venue):
    plans = [{"id": "fp-g", "name": "G", "width": 1200, "height": 480, "metersPerUnit": 0.05, "imageId": "i1"},
             {"id": "fp-1", "name": "Level 1", "width": 600, "height": 240, "metersPerUnit": 0.1, "imageId": "i2"}]
    aps = [{"id": "ap1", "name": "AP-G-1", "vendor": "Cisco", "model": "C9120",
            "location": {"floorPlanId": "fp-g", "coord": {"x": 200, "y": 100}}},
           {"id": "ap2", "name": "AP-1-1", "location": {"floorPlanId": "fp-1", "coord": {"x": 300, "y": 120}}},
           {"id": "ap3", "name": "planned", "location": {"floorPlanId": "fp-g", "coord": {"x": 10, "y": 10}}}]
    measured = [{"accessPointId": "ap1", "accessPointMeasurementIds": ["m1", "m2"]},
                {"accessPointId": "ap2", "accessPointMeasurementIds": ["m3"]}]
    measurements = [{"id": "m1", "mac": "00:11:22:33:44:01", "ssid": "Mall"},
                    {"id": "m2", "mac": "00:11:22:33:44:02", "ssid": "Staff"},
                    {"id": "m3", "mac": "00-11-22-33-44-03", "ssid": "Mall"}]
    simulated = [{"accessPointId": "ap1", "antennaHeight": 3.2}]
    data = _esx(plans, aps, measured, measurements, simulated)
    result = read_esx(venue, data, floors={"Level 1": 1})
    got = {p["bssid"]: p for p in result.placements}
    assert got["00:11:22:33:44:01"] == {"bssid": "00:11:22:33:44:01", "level": 0, "x": 10.0, "y": 5.0,
                                        "name": "AP-G-1", "height_m": 3.2, "model": "Cisco C9120"}
    assert got["00:11:22:33:44:03"]["level"] == 1 and got["00:11:22:33:44:03"]["x"] == 30.0
    assert any("planned" in s for s in result.skipped)
    assert read_ap_list(venue, data, "harbour.esx", floors={"Level 1": 1}).placements == result.placements
    with pytest.raises(ApListError, match="not one of the venue's floors"):
        read_esx(venue, data)  # "Level 1" is not a floor name here
    with pytest.raises(ApListError, match="not an Ekahau project"):
        read_esx(venue, b"not a zip")


def test_meraki_and_unifi_device_lists(venue):
    tl = {"lat": 22.2855, "lng": 114.158}
    tr = {"lat": 22.2855, "lng": 114.158 + 60 / 103000}
    bl = {"lat": 22.2855 - 24 / 111320, "lng": 114.158}
    plans = [{"floorPlanId": "g_1", "name": "G", "topLeftCorner": tl, "topRightCorner": tr, "bottomLeftCorner": bl}]
    devices = [{"name": "MR-1", "mac": "e0:55:3d:00:00:01", "model": "MR46", "lat": 22.2855 - 12 / 111320,
                "lng": 114.158 + 30 / 103000, "floorPlanId": "g_1"},
               {"name": "switch", "mac": "e0:55:3d:00:00:99", "model": "MS120", "floorPlanId": "g_1"}]
    result = read_ap_list(venue, json.dumps(devices).encode(), "devices.json", "meraki",
                          companion=json.dumps(plans).encode())
    (ap,) = result.placements
    assert ap["bssid"] == "e0:55:3d:00:00:01" and abs(ap["y"] - 12) < 0.2 and 25 < ap["x"] < 35
    unifi = {"data": [{"type": "uap", "mac": "74:83:c2:00:00:01", "name": "U6", "model": "U6PRO", "x": 400,
                       "y": 200, "map_id": "m1", "vap_table": [{"bssid": "76:83:c2:00:00:01"},
                                                               {"bssid": "76:83:c2:00:00:02"}]}]}
    maps = {"data": [{"_id": "m1", "name": "g", "upp": 0.05}]}
    result = read_ap_list(venue, json.dumps(unifi).encode(), "device.json", "unifi",
                          companion=json.dumps(maps).encode())
    # every BSSID, and the device MAC the gateway's `ap` and the controller name it by
    assert [p["bssid"] for p in result.placements] == ["76:83:c2:00:00:01", "76:83:c2:00:00:02", "74:83:c2:00:00:01"]
    assert result.placements[0]["x"] == 20.0 and result.placements[0]["y"] == 10.0


def test_ap_extension_round_trips_height_and_model(venue):
    from fingerprints.imdf import export_imdf, import_imdf

    edits.place_aps(venue, read_ap_csv(venue, TEMPLATE_CSV, origin=ORIGIN).placements)
    back = import_imdf(export_imdf(venue))
    assert [(a.bssid, a.floor, a.height_m, a.model) for a in back.aps] == [
        (a.bssid, a.floor, a.height_m, a.model) for a in venue.aps]
    assert all(abs(a.x - b.x) < 0.01 and abs(a.y - b.y) < 0.01 for a, b in zip(back.aps, venue.aps, strict=True))


# ---- real exports' variants (a review against the tools' real schemas: esxtool2, EkahauBOM, Meraki's OpenAPI
# examples, the UniFi controller's Map/Device fields) -------------------------------------------------------


def test_meraki_devices_are_placed_with_the_venues_own_origin_when_known(venue):
    """A Meraki floor plan image with a margin round the building: its corners are not the plan's; the venue's
    origin from its IMDF import is."""
    from fingerprints.imdf import Origin

    venue.origin = {"lon": 114.158, "lat": 22.2855, "rotation_deg": 0.0}
    place = Origin(**venue.origin)
    margin = Origin(114.158 - 8 / 103000, 22.2855 + 5 / 111320)  # the image starts 8 m west, 5 m north
    tl = dict(zip(("lng", "lat"), margin.to_lonlat(0, 0), strict=True))
    tr = dict(zip(("lng", "lat"), margin.to_lonlat(76, 0), strict=True))
    bl = dict(zip(("lng", "lat"), margin.to_lonlat(0, 34), strict=True))
    plans = [{"floorPlanId": "g_1", "name": "G", "topLeftCorner": tl, "topRightCorner": tr, "bottomLeftCorner": bl}]
    lng, lat = place.to_lonlat(30, 12)
    devices = [{"name": "MR-1", "mac": "e0:55:3d:00:00:01", "model": "MR46", "lat": lat, "lng": lng,
                "floorPlanId": "g_1"}]
    (ap,) = read_ap_list(venue, json.dumps(devices).encode(), "d.json", "meraki",
                         companion=json.dumps(plans).encode()).placements
    assert abs(ap["x"] - 30) < 0.05 and abs(ap["y"] - 12) < 0.05
    venue.origin = {}  # not known: the floor plan's corners, with its margin
    (ap,) = read_ap_list(venue, json.dumps(devices).encode(), "d.json", "meraki",
                         companion=json.dumps(plans).encode()).placements
    assert abs(ap["x"] - 38) < 0.2 and abs(ap["y"] - 17) < 0.2


def test_csv_lat_lon_rows_use_the_venues_origin_when_none_is_given(venue):
    venue.origin = {"lon": ORIGIN[0], "lat": ORIGIN[1], "rotation_deg": 0.0}
    result = read_ap_csv(venue, TEMPLATE_CSV.encode())
    assert {p["bssid"] for p in result.placements} >= {"f0:9f:c2:1a:01:01"}


def test_ekahau_neighbours_hidden_and_deleted_aps_are_not_the_venues(venue):
    plans = [{"id": "fp-g", "name": "G", "width": 1200, "height": 480, "metersPerUnit": 0.05}]

    def ap(i, **extra):
        location = {"floorPlanId": "fp-g", "coord": {"x": 100 * i, "y": 50}}
        return {"id": f"ap{i}", "name": f"AP-{i}", "location": location, **extra}

    aps = [ap(1, mine=True), ap(2, mine=False, userDefinedPosition=False), ap(3, hidden=True),
           ap(4, status="DELETED"), ap(5)]
    measured = [{"accessPointId": f"ap{i}", "accessPointMeasurementIds": [f"m{i}"]} for i in range(1, 6)]
    measurements = [{"id": f"m{i}", "mac": f"00:11:22:33:44:0{i}", "ssid": "Mall"} for i in range(1, 6)]
    result = read_esx(venue, _esx(plans, aps, measured, measurements))
    assert sorted(p["name"] for p in result.placements) == ["AP-1", "AP-5"]
    assert any("mine: false" in s for s in result.skipped)
    only_neighbours = [ap(2, mine=False)]  # a project that marks none as its own: all of them
    assert len(read_esx(venue, _esx(plans, only_neighbours, measured, measurements)).placements) == 1


def test_unifi_maps_in_feet_heights_and_a_dream_machine(venue):
    unifi = [{"type": "udm", "mac": "74:83:c2:00:00:09", "name": "UDM", "x": "400", "y": "200", "map_id": "m1",
              "heightInMeters": 2.6, "vap_table": [{"bssid": "76:83:c2:00:00:09"}]},
             {"type": "usw", "mac": "74:83:c2:00:00:0a", "name": "switch", "x": 1, "y": 1, "map_id": "m1"}]
    maps = [{"_id": "m1", "name": "g", "upp": 0.1, "unit": "f"}]
    result = read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi", companion=json.dumps(maps).encode())
    first = result.placements[0]
    assert first["bssid"] == "76:83:c2:00:00:09" and first["height_m"] == 2.6
    assert abs(first["x"] - 400 * 0.1 * 0.3048) < 0.01 and any("switch" in s for s in result.skipped)
    with pytest.raises(ApListError, match="no map list given"):
        read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi")
    unifi[0]["vap_table"] = [{"bssid": "74:83:C2:00:00:09"}]  # the device MAC again, upper-case: one AP entry
    again = read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi", companion=json.dumps(maps).encode())
    assert [p["bssid"] for p in again.placements] == ["74:83:c2:00:00:09"]


@pytest.mark.parametrize("mutate", [
    lambda aps, ms: aps[0].update(location="fp-g"),
    lambda aps, ms: ms[0].update(mac=123456),
    lambda aps, ms: aps[0].update(id=["ap1"]),
    lambda aps, ms: aps[0]["location"].update(floorPlanId={"id": "fp-g"}),
    lambda aps, ms: aps[0]["location"].update(coord=[1, 2]),
])
def test_a_malformed_ekahau_project_is_a_listed_problem_not_a_crash(venue, mutate):
    plans = [{"id": "fp-g", "name": "G", "width": 1200, "height": 480, "metersPerUnit": 0.05}]
    aps = [{"id": "ap1", "name": "AP-1", "location": {"floorPlanId": "fp-g", "coord": {"x": 100, "y": 50}}}]
    measured = [{"accessPointId": "ap1", "accessPointMeasurementIds": ["m1"]}]
    measurements = [{"id": "m1", "mac": "00:11:22:33:44:01"}]
    mutate(aps, measurements)
    with contextlib.suppress(ApListError):  # refused with the problem named, or (a number as a MAC) read as text
        read_esx(venue, _esx(plans, aps, measured, measurements))  # the reader itself: any other exception fails


def test_an_unknown_floor_name_is_named_once(venue):
    plans = [{"id": "fp-g", "name": "Harbour_GF_A1.pdf", "width": 1200, "height": 480, "metersPerUnit": 0.05}]
    aps = [{"id": f"ap{i}", "name": f"AP-{i}", "location": {"floorPlanId": "fp-g", "coord": {"x": 10 * i, "y": 5}}}
           for i in range(1, 4)]
    measured = [{"accessPointId": f"ap{i}", "accessPointMeasurementIds": [f"m{i}"]} for i in range(1, 4)]
    measurements = [{"id": f"m{i}", "mac": f"00:11:22:33:44:0{i}"} for i in range(1, 4)]
    with pytest.raises(ApListError) as err:
        read_esx(venue, _esx(plans, aps, measured, measurements))
    assert len(err.value.problems) == 1 and "Ground Floor=0" in err.value.problems[0]
    mapped = read_esx(venue, _esx(plans, aps, measured, measurements), floors={"Harbour_GF_A1.pdf": 0})
    assert len(mapped.placements) == 3


# -- aligning a file's plan image with the venue's plan -------------------------------------------------------


def test_plan_alignment_through_two_points():
    from fingerprints.ap_lists import parse_plan_alignment

    shifted = parse_plan_alignment("0,0=3.5,2; 100,0=103.5,2")  # a 3.5 x 2 m margin round the file's plan
    assert shifted(10, 5) == (13.5, 7.0)
    halved = parse_plan_alignment("0,0=0,0; 10,0=5,0")  # the file's plan drawn at twice the scale
    assert halved(8, 4) == (4.0, 2.0)
    turned = parse_plan_alignment("0,0=20,0; 10,0=20,10")  # turned a quarter clockwise (y down), then moved
    x, y = turned(0, 10)
    assert abs(x - 10) < 1e-9 and abs(y) < 1e-9
    assert parse_plan_alignment("  ") is None


@pytest.mark.parametrize("text, message", [
    ("0,0=1,1", "write two points"), ("0,0=1,1; 5,5=6,6; 9,9=9,9", "write two points"),
    ("0,0=1,1; 5,5", "write two points"), ("a,b=1,1; 5,5=6,6", "write two points"),
    ("0,0=1,1; nan,5=6,6", "write two points"), ("0,0=1,1; 0,0=6,6", "at least 1 cm apart"),
    ("0,0=0,0; 1,0=1000,0", r"scale of 1e\+03"), ("0,0=0,0; 1000,0=1,0", "scale of 0.001"),
])
def test_a_malformed_alignment_is_a_listed_problem(text, message):
    from fingerprints.ap_lists import parse_plan_alignment

    with pytest.raises(ApListError, match=message):
        parse_plan_alignment(text)


def test_alignment_moves_plan_positions_and_not_lat_lon(venue):
    """Ekahau, UniFi and CSV x_m/y_m positions are read off the file's plan image: aligned. CSV lat/lon rows
    and Meraki devices are placed on Earth (the origin): never."""
    from fingerprints.ap_lists import parse_plan_alignment

    align = parse_plan_alignment("0,0=2,1; 10,0=12,1")
    plans = [{"id": "fp-g", "name": "G", "metersPerUnit": 0.05}]
    aps = [{"id": "ap1", "name": "AP-1", "location": {"floorPlanId": "fp-g", "coord": {"x": 200, "y": 100}}}]
    esx = _esx(plans, aps, [{"accessPointId": "ap1", "accessPointMeasurementIds": ["m1"]}],
               [{"id": "m1", "mac": "00:11:22:33:44:01"}])
    (ap,) = read_ap_list(venue, esx, "p.esx", align=align).placements
    assert (ap["x"], ap["y"]) == (12.0, 6.0)  # (10, 5) m on the file's plan
    unifi = {"data": [{"type": "uap", "mac": "74:83:c2:00:00:01", "x": 400, "y": 200, "map_id": "m1"}]}
    maps = {"data": [{"_id": "m1", "name": "G", "upp": 0.05}]}
    (ap,) = read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi", companion=json.dumps(maps).encode(),
                         align=align).placements
    assert (ap["x"], ap["y"]) == (22.0, 11.0)
    venue.origin = {"lon": ORIGIN[0], "lat": ORIGIN[1], "rotation_deg": 0.0}
    csv_rows = ("name,bssids,level,x_m,y_m,lat,lon\nA,f0:9f:c2:1a:00:21,0,10,5,,\n"
                f"B,f0:9f:c2:1a:00:22,0,,,{ORIGIN[1] - 5 / 111320},{ORIGIN[0] + 10 / 103000}\n")
    unaligned = {p["bssid"]: p for p in read_ap_csv(venue, csv_rows).placements}
    aligned = {p["bssid"]: p for p in read_ap_csv(venue, csv_rows, align=align).placements}
    assert (aligned["f0:9f:c2:1a:00:21"]["x"], aligned["f0:9f:c2:1a:00:21"]["y"]) == (12.0, 6.0)
    assert aligned["f0:9f:c2:1a:00:22"] == unaligned["f0:9f:c2:1a:00:22"]
    with pytest.raises(ApListError, match="Meraki devices are placed by their lat/lng"):
        read_ap_list(venue, b"[]", "d.json", "meraki", companion=b"[]", align=align)
    with pytest.raises(ApListError, match="off the plan"):  # aligned off the venue's plan: said, not clamped
        read_ap_list(venue, esx, "p.esx", align=parse_plan_alignment("0,0=100,1; 10,0=110,1"))


# -- floors named with numbers, and heights that do not read -------------------------------------------------


@pytest.fixture
def numbered():
    """Floors named "1" and "2" on levels 0 and 1 (the 1F convention): "1" names level 0 and is level number 1."""
    return VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[
        Floor(0, "1", 60, 24, metres_per_pixel=0.05), Floor(1, "2", 60, 24)])


def test_a_csv_level_that_is_one_floors_name_and_anothers_number_is_a_problem(numbered):
    data = (b"name,bssids,level,x_m,y_m\nA,f0:9f:c2:1a:00:01,0,5,5\nB,f0:9f:c2:1a:00:02,1,5,5\n"
            b"C,f0:9f:c2:1a:00:03,1,6,5\n")
    with pytest.raises(ApListError) as err:
        read_ap_csv(numbered, data)
    assert err.value.problems == [
        "row 3: ambiguous: floor name '1' is level 0, level number 1 is another floor (2); say which in Floor "
        "names in the file (--floor on the CLI): '1=0' or '1=1'"]
    mapped = read_ap_csv(numbered, data, floors={"1": 1})  # the operator's word settles it
    assert [p["level"] for p in mapped.placements] == [0, 1, 1]
    two = read_ap_csv(numbered, b"name,bssids,level,x_m,y_m\nD,f0:9f:c2:1a:00:04,2,5,5\n")
    assert two.placements[0]["level"] == 1  # a name that is no level number: no doubt


def test_a_floor_plan_named_like_another_floors_number_is_a_problem_in_every_reader(numbered):
    esx = _esx([{"id": "fp", "name": "1", "width": 1200, "height": 480, "metersPerUnit": 0.05}],
               [{"id": "ap1", "name": "AP-1", "location": {"floorPlanId": "fp", "coord": {"x": 100, "y": 50}}}],
               [{"accessPointId": "ap1", "accessPointMeasurementIds": ["m1"]}],
               [{"id": "m1", "mac": "00:11:22:33:44:01"}])
    unifi = [{"type": "uap", "mac": "74:83:c2:00:00:01", "name": "U6", "x": 100, "y": 50, "map_id": "m1"}]
    meraki = [{"name": "MR-1", "mac": "e0:55:3d:00:00:01", "model": "MR46", "lat": 22.2854, "lng": 114.1581,
               "floorPlanId": "p1"}]
    plans = [{"floorPlanId": "p1", "name": "1", "topLeftCorner": {"lat": 22.2855, "lng": 114.158},
              "topRightCorner": {"lat": 22.2855, "lng": 114.1586},
              "bottomLeftCorner": {"lat": 22.2853, "lng": 114.158}}]
    reads = [lambda **kw: read_ap_list(numbered, esx, "p.esx", **kw),
             lambda **kw: read_ap_list(numbered, json.dumps(unifi).encode(), "d.json", "unifi",
                                       companion=json.dumps([{"_id": "m1", "name": "1", "upp": 0.05}]).encode(), **kw),
             lambda **kw: read_ap_list(numbered, json.dumps(meraki).encode(), "d.json", "meraki",
                                       companion=json.dumps(plans).encode(), **kw)]
    for read in reads:
        with pytest.raises(ApListError) as err:
            read()
        assert len(err.value.problems) == 1 and "ambiguous: floor name '1' is level 0" in err.value.problems[0]
        assert {p["level"] for p in read(floors={"1": 0}).placements} == {0}


@pytest.mark.parametrize("height", ['"3,5"', "3.5m", "high"])
def test_a_csv_height_that_does_not_read_is_a_problem(venue, height):
    data = f"name,bssids,level,x_m,y_m,height_m\nA,f0:9f:c2:1a:00:01,0,12.5,8,{height}\n".encode()
    with pytest.raises(ApListError) as err:
        read_ap_csv(venue, data)
    assert err.value.problems == [f"row 2: height_m {height.strip(chr(34))!r} is not a number of metres (write it "
                                  "like 3.5)"]
    blank = read_ap_csv(venue, b"name,bssids,level,x_m,y_m,height_m\nA,f0:9f:c2:1a:00:01,0,12.5,8,\n")
    assert blank.placements[0]["height_m"] is None  # left blank: no height, no problem


def test_a_unifi_height_that_does_not_read_is_a_problem(venue):
    unifi = [{"type": "uap", "mac": "74:83:c2:00:00:01", "name": "U6", "x": 100, "y": 50, "map_id": "m1",
              "heightInMeters": "3,5"}]
    maps = json.dumps([{"_id": "m1", "name": "G", "upp": 0.05}]).encode()
    with pytest.raises(ApListError, match=r"U6: heightInMeters '3,5' is not a number of metres"):
        read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi", companion=maps)
    unifi[0]["heightInMeters"] = None  # not given: no height, no problem
    assert read_ap_list(venue, json.dumps(unifi).encode(), "d.json", "unifi", companion=maps).placements


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_semicolon_or_tab_separated_csv_is_read(venue, sep):
    """Excel in a European locale saves "CSV" with `;` and decimal commas (tab-separated "Text" too): read as
    comma-separated, the header was one column and the list "lacked" bssids and level."""
    x, y, height = ("12,5", "8,0", "3,0") if sep == ";" else ("12.5", "8.0", "3.0")
    data = (sep.join(["name", "bssids", "level", "x_m", "y_m", "lat", "lon", "height_m", "model"]) + "\n"
            + sep.join(["AP-G-01", "f0:9f:c2:1a:00:01", "0", x, y, "", "", height, "U6-Pro"]) + "\n"
            + sep.join(["AP-L1-01", "f0:9f:c2:1a:01:01", "L1", "30", "10", "", "", "", "MR46"]) + "\n").encode()
    first, second = read_ap_csv(venue, data).placements
    assert (first["bssid"], first["level"], first["x"], first["y"], first["height_m"]) == (
        "f0:9f:c2:1a:00:01", 0, 12.5, 8.0, 3.0)
    assert (second["level"], second["x"], second["name"], second["model"]) == (1, 30.0, "AP-L1-01", "MR46")


def test_a_csv_that_is_not_utf8_is_refused_not_read_in_mojibake(venue):
    """Chinese Excel saves "CSV" in GBK: decoded with replacement characters, "二楼AP-01" was kept as garbage. (Not
    every GBK text is invalid UTF-8: "一楼" happens to be valid, as "һ¥"; no check can tell that one.)"""
    data = "name,bssids,level,x_m,y_m\n二楼AP-01,f0:9f:c2:1a:00:01,0,12,8\n".encode("gbk")
    with pytest.raises(ApListError, match="not UTF-8"):
        read_ap_csv(venue, data)
    assert read_ap_csv(venue, data.decode("gbk").encode("utf-8")).placements[0]["name"] == "二楼AP-01"
