"""The pure library's errors an operator meets carry their catalog message (template, params) for the console,
and their English (`str()`, what the CLI prints) is word for word what it was."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile

import pytest

from core.errors import CatalogInputError, CatalogProblems
from fingerprints.ap_lists import ApListError, read_ap_csv, read_ap_list, read_esx
from fingerprints.archives import ArchiveInputError, check_sizes
from fingerprints.demo_mall import build_demo_mall
from fingerprints.imdf import ImdfError, export_imdf, import_imdf
from fingerprints.quality import read_walk_csv, route_point_problem
from fingerprints.samples_io import SampleFileError, export_samples, import_samples
from fingerprints.store import MapBusyError, StaleMapError
from fingerprints.survey import average_fingerprint
from portal.maps.validation import LiveWalks


@pytest.fixture(scope="module")
def venue():
    return build_demo_mall(survey_step_m=12.0, scans=2)


def english(exc: CatalogInputError) -> str:
    """The catalog message filled in as a console in English fills it (label: the error's field)."""
    return exc.template % {"label": exc.field, **exc.params}


def test_a_bad_cell_names_its_line_and_column_in_the_same_words(venue):
    header, first, *_ = export_samples(venue)[0].splitlines()
    cells = first.split(",")
    bad = header + "\n" + ",".join([*cells[:2], "abc", *cells[3:]]) + "\n"
    with pytest.raises(SampleFileError) as caught:
        import_samples(venue, bad.encode(), name="s.csv")
    assert str(caught.value) == "s.csv: line 2, column x: 'abc' is not a number"
    assert english(caught.value) == str(caught.value) and caught.value.params["line"] == 2


@pytest.mark.parametrize(("data", "text"), [
    (b"floor,x,y\n0,1,2\n", "s.csv: line 1: missing column(s) building, zone; the header must start with "
                            "building,floor,x,y,zone then one column per AP (BSSID)"),
    (b"\xff\xfe", "s.csv: not UTF-8 text (is it a CSV file?)"),
    (b"building,floor,x,y,zone,f0:9f:c2:1a:00:01,F0-9F-C2-1A-00-01\n0,0,1,1,,-50,-60\n",
     "s.csv: line 1, column 'F0-9F-C2-1A-00-01': AP f0:9f:c2:1a:00:01 appears twice"),
    (b"building,floor,x,y,zone,f0:9f:c2:1a:00:01\n0,0,1,1,nowhere,-50\n",
     "s.csv: line 2, column zone: venue demo has no zone 'nowhere'; leave zone empty (the point then gets the zone "
     "whose outline it stands in) or use one of its zone ids (garage, atrium, kopi, books, lumen, cinema, foodcourt, "
     "jade and 1 more; each floor's Zones tool on the console's set-up page lists them all)"),
])
def test_a_samples_csv_header_or_file_problem_keeps_its_english(venue, data, text):
    with pytest.raises(SampleFileError) as caught:
        import_samples(venue, data, name="s.csv")
    assert str(caught.value) == text and english(caught.value) == text


def test_an_ap_list_lists_catalog_problems_under_the_same_english(venue):
    data = (b"name,bssids,level,x_m,y_m\nA,f0:9f:c2:1a:09:01,9,5,5\nB,zz,0,5,5\n"
            b"C,f0:9f:c2:1a:09:03,0,999,5\n")
    with pytest.raises(ApListError) as caught:
        read_ap_csv(venue, data)
    exc = caught.value
    assert exc.problems == [
        "row 2: floor '9' is not one of the venue's floors: 0 (G), 1 (L1) (map the file's floor names to levels: "
        "'Ground Floor=0')",
        "row 3: 'zz' is not a MAC/BSSID",
        "row 4: (999.0, 5.0) m is off the plan of floor G (120 x 60 m)",
    ]
    assert str(exc) == "AP list not imported (3 problem(s)):\n" + "\n".join(exc.problems)
    assert all(isinstance(p, CatalogInputError) and english(p) == str(p) for p in exc.details)
    assert exc.template % exc.params == str(exc)


def test_the_map_store_and_the_survey_errors_carry_catalog_messages():
    busy, stale = MapBusyError(), StaleMapError("demo", 7, 6)
    assert str(busy) == "The map is busy with another change; nothing was stored. Try again in a moment."
    assert str(stale) == "map of demo is at version 7, not 6: changed meanwhile; nothing was stored"
    with pytest.raises(CatalogInputError) as caught:
        average_fingerprint({}, min_readings=3)
    assert str(caught.value) == ("only 0 scan(s) of the survey device were heard; at least 3 are needed (is the "
                                 "device's WiFi on and its MAC the registered one?)")


def test_a_route_point_off_the_plan_keeps_its_english_for_the_walk_scorer_too(venue):
    with pytest.raises(CatalogInputError) as caught:
        read_walk_csv(b"ts,floor,x,y\n1,0,999,30\n", b"ts,ap,rssi\n1,f0:9f:c2:1a:00:01,-60\n", venue)
    assert str(caught.value) == "route CSV line 2: (999, 30) is off the plan of floor 0 (x 0 to 120 m, y 0 to 60 m)"
    assert route_point_problem(venue, 0, 999, 30) == "(999, 30) is off the plan of floor 0 (x 0 to 120 m, y 0 to 60 m)"
    assert route_point_problem(venue, 5, 1, 1) == "floor 5 is not a floor of demo (its floors: 0, 1)"


# -- Meraki, UniFi and Ekahau AP lists, archives, IMDF, a live walk: the same English, catalog details -----


def said(exc: Exception) -> list[str]:
    """Each catalog message under an error, filled in as the English console fills it (nested ones too)."""
    out = []
    for d in getattr(exc, "details", []):
        assert isinstance(d, CatalogInputError | CatalogProblems), d  # never a bare English str
        out += said(d) if isinstance(d, CatalogProblems) else [english(d)]
    return out


MERAKI_AP = {"name": "ap1", "model": "MR46", "floorPlanId": "p2", "lat": 22.2852, "lng": 114.1585,
             "mac": "f0:9f:c2:1a:00:99"}
G_PLAN = {"floorPlanId": "p1", "name": "G", "topLeftCorner": {"lat": 22.2855, "lng": 114.158},  # about 100 x 55 m
          "topRightCorner": {"lat": 22.2855, "lng": 114.159}, "bottomLeftCorner": {"lat": 22.285, "lng": 114.158}}


def test_meraki_problems_name_the_device_and_the_floor_plan_in_the_same_english(venue):
    devices = [1, MERAKI_AP]
    plans = [{"floorPlanId": "p2", "name": "Basement"}]
    with pytest.raises(ApListError) as caught:
        read_ap_list(venue, json.dumps(devices).encode(), "d.json", "meraki", companion=json.dumps(plans).encode())
    assert caught.value.problems == [
        "device #0: not an object",
        "floor plan 'Basement': floor 'Basement' is not one of the venue's floors: 0 (G), 1 (L1) (map the file's "
        "floor names to levels: 'Ground Floor=0')",
    ]
    assert said(caught.value) == caught.value.problems


def test_the_reasons_a_file_places_no_ap_keep_their_english_and_the_skipped_list_stays_text(venue):
    devices = [{"name": "sw", "model": "MS220"}, {**MERAKI_AP, "floorPlanId": "nowhere"}]
    with pytest.raises(ApListError) as caught:
        read_ap_list(venue, json.dumps(devices).encode(), "d.json", "meraki", companion=b"[]")
    assert str(caught.value) == ("AP list not imported (1 problem(s)):\nthe file places no AP (sw: MS220 is not an AP; "
                                 "ap1: on no floor plan)")
    assert said(caught.value) == ["sw: MS220 is not an AP", "ap1: on no floor plan"]
    placed = read_ap_list(venue, json.dumps([devices[0], {**MERAKI_AP, "floorPlanId": "p1"}]).encode(), "d.json",
                          "meraki", companion=json.dumps([G_PLAN]).encode())
    assert placed.skipped == ["sw: MS220 is not an AP"]  # what the CLI prints: text, as before


def test_unifi_and_json_problems_keep_their_english(venue):
    maps = {"data": [{"_id": "m1", "name": "Roof"}]}
    devices = {"data": [{"type": "uap", "mac": "f0:9f:c2:1a:00:98", "name": "u1", "x": 10, "y": 10, "map_id": "m1"}]}
    with pytest.raises(ApListError) as caught:
        read_ap_list(venue, json.dumps(devices).encode(), "d.json", "unifi", companion=json.dumps(maps).encode())
    assert caught.value.problems == ["map 'Roof': floor 'Roof' is not one of the venue's floors: 0 (G), 1 (L1) (map "
                                     "the file's floor names to levels: 'Ground Floor=0')"]
    with pytest.raises(ApListError) as caught:
        read_ap_list(venue, b"{", "d.json", "unifi")
    assert caught.value.problems == ["not valid JSON (Expecting property name enclosed in double quotes: line 1 "
                                     "column 2 (char 1))"]
    assert said(caught.value) == caught.value.problems


def test_an_esx_that_is_no_zip_and_a_zip_bomb_keep_their_english(venue):
    with pytest.raises(ApListError) as caught:
        read_esx(venue, b"not a zip")
    assert caught.value.problems == ["not an Ekahau project (.esx is a zip archive): the .esx project: not a zip "
                                     "archive, or a truncated one (File is not a zip file)"]
    assert said(caught.value) == ["the .esx project: not a zip archive, or a truncated one (File is not a zip file)"]
    with zipfile.ZipFile(io.BytesIO(zip_bytes({"floorPlans.json": " " * 3 * 2**20}))) as zf:
        with pytest.raises(ArchiveInputError) as bomb:
            check_sizes(zf.infolist(), 10, 10**9)
        assert re.fullmatch(r"floorPlans\.json: expands \d+ times \(at most 200\): refused as a zip bomb",
                            str(bomb.value)) and english(bomb.value) == str(bomb.value)
        with pytest.raises(ArchiveInputError) as many:
            check_sizes(zf.infolist(), 0, 10**9)
        assert str(many.value) == "archive has 1 files; at most 0 allowed" == english(many.value)


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_imdf_problems_are_catalog_details_under_the_same_english(venue):
    files = export_imdf(venue)
    files["manifest.json"]["version"] = "9.9"
    unit = files["unit.geojson"]["features"][0]
    unit["geometry"] = {"type": "Polygon", "coordinates": []}
    with pytest.raises(ImdfError) as caught:
        import_imdf(files)
    assert caught.value.problems == ["manifest.json: version '9.9' is not supported (expected '1.0.0')",
                                     f"unit.geojson: feature {unit['id']}: geometry: polygon has no rings"]
    assert said(caught.value) == caught.value.problems
    files = export_imdf(venue)
    files["mallportal_venue.geojson"]["features"][0]["properties"]["venue_id"] = "Bad Id"
    with pytest.raises(ImdfError) as caught:
        import_imdf(files)
    assert said(caught.value) == caught.value.problems == [
        "venue id 'Bad Id' is not a valid id (lower-case letters, digits, - and _)"]


def test_an_imdf_export_refusal_keeps_its_english(venue):
    broken = copy.deepcopy(venue)
    broken.zones[0].floor = 7
    with pytest.raises(CatalogInputError) as caught:
        export_imdf(broken)
    assert str(caught.value) == f"zone {broken.zones[0].id} is on floor 7, which the venue does not have"
    assert english(caught.value) == str(caught.value)


def test_marking_a_finished_walk_keeps_its_english(db):
    walks = LiveWalks(db)
    walk_id = walks.start("demo", "c" * 16, [(0, 1.0, 1.0)], "ops", 1)
    assert walks.finish("demo", walk_id)
    with pytest.raises(CatalogInputError) as caught:
        walks.mark("demo", walk_id, {"point": 0})
    assert str(caught.value) == "this walk is finished" == english(caught.value)
