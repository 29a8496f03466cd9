"""Hostile but plausible files through every reader an operator or a partner feeds (found by fuzzing the uploads):
each is a listed problem - a 4xx in the console, exit 2 on the command line - never a server error, a hang,
or a stored NaN."""

from __future__ import annotations

import copy
import io
import json
import zipfile

import pytest

from fingerprints.ap_lists import ApListError, read_ap_list
from fingerprints.imdf import ImdfError, export_imdf, imdf_zip_bytes, import_imdf
from fingerprints.model import Floor, VenueMap
from fingerprints.quality import read_walk_csv
from positioning.cli import main as positioning_main
from tests.maps.imdf_builder import mall_archive
from tests.maps.test_maps_ap_lists import _esx

NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def ext_files():
    return export_imdf(import_imdf(mall_archive(), venue_id="harbour"))


@pytest.fixture
def venue():
    return VenueMap(id="harbour", name="Harbour", name_zh="Harbour",
                    floors=[Floor(0, "G", 60, 24), Floor(1, "L1", 60, 24)])


def _zip_with(files: dict, name: str, raw: bytes) -> bytes:
    data = imdf_zip_bytes(files)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.infolist():
            dst.writestr(member, raw if member.filename.endswith(name) else src.read(member))
    return out.getvalue()


def test_json_nested_too_deep_is_a_listed_problem(venue):
    with pytest.raises(ImdfError, match="not valid JSON"):
        import_imdf(_zip_with(mall_archive(), "manifest.json", NESTED))
    with pytest.raises(ApListError, match="not valid JSON"):
        read_ap_list(venue, NESTED, "devices.json", "unifi")
    plans = [{"id": "fp", "name": "G", "width": 100, "height": 40, "metersPerUnit": 0.05}]
    esx = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_esx(plans, []))) as src, zipfile.ZipFile(esx, "w") as dst:
        for member in src.infolist():
            dst.writestr(member, NESTED if member.filename == "floorPlans.json" else src.read(member))
    with pytest.raises(ApListError, match="not valid JSON"):
        read_ap_list(venue, esx.getvalue(), "p.esx")


def test_numbers_a_float_cannot_hold_are_refused(ext_files):
    files = mall_archive()
    files["unit.geojson"]["features"][0]["geometry"]["coordinates"][0][0][0] = 10**400
    with pytest.raises(ImdfError):
        import_imdf(files)
    for key, value in (("origin_lon", 10**400), ("rotation_deg", float("nan")), ("building", float("inf"))):
        bad = copy.deepcopy(ext_files)
        bad["mallportal_venue.geojson"]["features"][0]["properties"][key] = value
        with pytest.raises(ImdfError):
            import_imdf(bad)


@pytest.mark.parametrize("key, value", [("width_m", float("nan")), ("width_m", 1e308), ("height_m", "x"),
                                        ("metres_per_pixel", "x")])
def test_extension_floor_sizes_must_be_finite_and_bounded(ext_files, key, value):
    bad = copy.deepcopy(ext_files)
    bad["mallportal_venue.geojson"]["features"][0]["properties"]["floors"][0][key] = value
    with pytest.raises(ImdfError, match="finite|at most"):
        import_imdf(bad)


def test_a_vertex_kilometres_away_is_refused_before_the_walkways_are_derived():
    files = mall_archive(levels=1)
    ring = files["unit.geojson"]["features"][0]["geometry"]["coordinates"][0]
    ring[1] = [ring[1][0] + 0.5, ring[1][1]]  # about 51 km east
    with pytest.raises(ImdfError, match="at most 5000 m"):  # (it took 354 s and 3.5 GB to derive walkways over it)
        import_imdf(files)


def test_an_ordinal_that_is_no_floor_number_is_refused():
    files = mall_archive(levels=1)
    files["level.geojson"]["features"][0]["properties"]["ordinal"] = 10**29
    with pytest.raises(ImdfError, match="not a floor number"):
        import_imdf(files)


def test_ap_csvs_with_old_mac_line_ends_and_giant_fields(venue):
    placed = read_ap_list(venue, b"name,bssids,level,x_m,y_m\rAP-1,00:11:22:33:44:55,0,5,5\r", "aps.csv")
    assert [p["bssid"] for p in placed.placements] == ["00:11:22:33:44:55"]
    with pytest.raises(ApListError):
        read_ap_list(venue, b"name,bssids,level,x_m,y_m\n" + b"A" * 200_000 + b",00:11:22:33:44:55,0,5,5\n", "a.csv")


def test_an_esx_with_too_many_aps_is_refused(venue):
    plans = [{"id": "fp", "name": "G", "width": 100, "height": 40, "metersPerUnit": 0.05}]
    aps = [{"id": f"ap{i}", "name": f"AP-{i}"} for i in range(5001)]
    with pytest.raises(ApListError, match="at most 5000"):
        read_ap_list(venue, _esx(plans, aps), "p.esx")


@pytest.mark.parametrize("route, readings, message", [
    (b"ts,floor,x,y\nnan,1,22,30\n", b"ts,ap,rssi\n5,f0:9f:c2:1a:00:01,-60\n", "finite"),
    (b"ts,floor,x,y\ninf,1,22,30\n", b"ts,ap,rssi\n5,f0:9f:c2:1a:00:01,-60\n", "finite"),
    (b"ts,floor,x,y\n1,1,22,30\n", b"ts,ap,rssi\n5,f0:9f:c2:1a:00:01,-inf\n", "rssi"),
    (b"ts,floor,x,y\n1700000000000,1,22,30\n", b"ts,ap,rssi\n1700000000,f0:9f:c2:1a:00:01,-60\n", "Unix seconds"),
    (b"ts,floor,x,y\n" + b"1" * 200_000 + b",1,22,30\n", b"ts,ap,rssi\n", "readable"),
])
def test_a_validation_walk_that_would_never_end_is_refused(route, readings, message):
    with pytest.raises(ValueError, match=message):
        read_walk_csv(route, readings)


def test_positioning_cli_takes_a_bom_and_refuses_non_finite_arguments(tmp_path, capsys):
    header = "WAP001,WAP002,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n"
    rows = "".join(f"{-40 - i},{-70 + i},{i},{i},0,0\n" for i in range(12))
    (tmp_path / "t.csv").write_bytes(b"\xef\xbb\xbf" + (header + rows).encode())
    assert positioning_main(["evaluate", "--train", str(tmp_path / "t.csv"), "--test", str(tmp_path / "t.csv"),
                             "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_test"] == 12
    with pytest.raises(SystemExit) as exit_:
        positioning_main(["evaluate", "--train", str(tmp_path / "t.csv"), "--test", str(tmp_path / "t.csv"),
                          "--rssi-offset", "nan"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("edit, kwargs", [
    ("add_floor", {"level": 5, "name": "X", "width_m": float("nan"), "height_m": 10}),
    ("add_floor", {"level": 5, "name": "X", "width_m": 10, "height_m": -5}),
    ("rescale_floor", {"level": 0, "metres_per_pixel": float("nan")}),
    ("add_node", {"node_id": "n1", "level": 0, "x": float("nan"), "y": 1}),
    ("place_ap", {"bssid": "00:11:22:33:44:55", "level": 0, "x": 1, "y": 1, "height_m": 1e308}),
])
def test_map_edits_refuse_numbers_that_are_no_measure(venue, edit, kwargs):
    """The rule has one owner (fingerprints/edits.py): the console's forms, the CLI's map-edit and the imports
    all reach it."""
    from fingerprints.edits import EditError, apply_edit

    with pytest.raises(EditError):
        apply_edit(venue, edit, kwargs)


def test_floor_names_mapped_to_a_floor_that_does_not_exist_say_so(venue):
    with pytest.raises(ApListError, match="level 999 is not one of the venue's floors"):
        read_ap_list(venue, b"name,bssids,level,x_m,y_m\nA,00:11:22:33:44:55,X,5,5\n", "a.csv", floors={"X": 999})
    placed = read_ap_list(venue, b"name,bssids,level,x_m,y_m\nA\x00B,00:11:22:33:44:55,0,5,5\n", "a.csv")
    assert placed.placements[0]["name"] == "AB"
