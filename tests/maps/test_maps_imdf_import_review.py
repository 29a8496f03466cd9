"""IMDF import review fixes: a generic "room" unit takes its kind from its occupant (a cinema drawn as a room is
offered the cinema apps), a level's short name ("G", "B1") is kept and names the floor in survey files and AP
lists (so does its Chinese name), and coordinates that are not longitude/latitude are said to be so."""

from __future__ import annotations

import pytest

from fingerprints.ap_lists import read_ap_list
from fingerprints.imdf import ImdfError, export_imdf, import_imdf
from fingerprints.model import AccessPoint
from fingerprints.samples_io import import_samples
from tests.maps.imdf_builder import ORIGIN, fid, mall_archive

BSSID = "f0:9f:c2:2b:10:0a"


def _occupy(files: dict, unit_id: str, key: str, category: str, at: tuple[float, float]) -> None:
    """An occupant of `category` anchored in the unit (the tenant: its name and trade)."""
    anchor_id, occupant_id = fid("anchor", key), fid("occupant", key)
    files.setdefault("anchor.geojson", {"type": "FeatureCollection", "features": []})["features"].append({
        "id": anchor_id, "type": "Feature", "feature_type": "anchor",
        "geometry": {"type": "Point", "coordinates": ORIGIN.to_lonlat(*at)},
        "properties": {"address_id": None, "unit_id": unit_id}})
    files.setdefault("occupant.geojson", {"type": "FeatureCollection", "features": []})["features"].append({
        "id": occupant_id, "type": "Feature", "feature_type": "occupant", "geometry": None,
        "properties": {"name": {"en": key.title()}, "category": category, "anchor_id": anchor_id, "hours": None,
                       "phone": None, "website": None, "validity": None, "correlation_id": None}})


def test_a_room_takes_its_kind_from_its_occupant():
    files = mall_archive(levels=2)
    _occupy(files, fid("unit", 1, "Dumplings"), "dumpling-house", "dumplings", (30, 19))
    _occupy(files, fid("unit", 1, "Toys"), "lumiere", "cinema", (10, 19))
    _occupy(files, fid("unit", 1, "Books"), "page-one", "books", (22, 5))
    _occupy(files, fid("unit", 1, "atrium"), "noodle-cart", "noodles", (50, 19))
    kinds = {z.imdf_id: z.kind for z in import_imdf(files, "rooms").zones}
    assert kinds[fid("unit", 1, "Dumplings")] == "restaurant"  # the queue app is offered
    assert kinds[fid("unit", 1, "Toys")] == "cinema"  # the cinema app is offered
    assert kinds[fid("unit", 1, "Books")] == "shop"
    assert kinds[fid("unit", 0, "Dumplings")] == "shop"  # no occupant: a room is a shop, as before
    assert kinds[fid("unit", 1, "atrium")] == "atrium"  # not a generic category: its own kind, whatever stands in it


def _named_floors():
    files = mall_archive(levels=2)
    level0 = files["level.geojson"]["features"][0]["properties"]
    level0["name"], level0["short_name"] = {"en": "Ground Floor", "zh-Hans": "一楼"}, {"en": "G"}
    venue = import_imdf(files, "named")
    venue.aps = [AccessPoint(bssid=BSSID, floor=0, x=10, y=12, name="AP-1")]
    return venue


def test_a_levels_short_name_is_kept_and_exported():
    venue = _named_floors()
    assert (venue.floors[0].short_name, venue.floors[1].short_name) == ("G", "")  # L1's is its name again
    level = export_imdf(venue)["level.geojson"]["features"][0]["properties"]
    assert level["short_name"] == {"en": "G"} and level["name"]["en"] == "Ground Floor"
    assert import_imdf(export_imdf(venue), "named").floors[0].short_name == "G"


@pytest.mark.parametrize("word", ["G", "g", "Ground Floor", "一楼"])
def test_a_survey_file_may_name_the_floor_by_its_short_name(word):
    csv = f"building,floor,x,y,zone,{BSSID}\n0,{word},10,12,,-60\n".encode()
    samples = import_samples(_named_floors(), csv, name="survey.csv")
    assert [(s.floor, s.x, s.y) for s in samples] == [(0, 10.0, 12.0)]


@pytest.mark.parametrize("word", ["G", "一楼", "ground floor"])
def test_an_ap_list_may_name_the_floor_by_its_short_or_chinese_name(word):
    csv = f"name,bssids,level,x_m,y_m,lat,lon,height_m,model\nAP-G-01,{BSSID},{word},12.5,8.0,,,3.0,U6\n"
    result = read_ap_list(_named_floors(), csv.encode(), "aps.csv")
    assert [p["level"] for p in result.placements] == [0] and result.skipped == []


def _in_local_metres(files: dict, north_m: float = 0.0) -> dict:
    """The archive as an exporter that forgot to georeference writes it: plan metres, y up."""
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                node[key] = convert(value) if key == "coordinates" else walk(value)
        elif isinstance(node, list):
            return [walk(v) for v in node]
        return node

    def convert(c):
        if c and isinstance(c[0], int | float):
            x, y = ORIGIN.to_plan(c[0], c[1])
            return [round(x, 3), round(24 - y + north_m, 3)]
        return [convert(v) for v in c]

    walk(files)
    return files


@pytest.mark.parametrize("north_m", [0.0, 64.0])  # the latter: "latitudes" up to 88, past what Origin takes
def test_coordinates_in_local_metres_are_said_to_be_not_longitude_latitude(north_m):
    with pytest.raises(ImdfError) as refused:
        import_imdf(_in_local_metres(mall_archive(levels=2), north_m), "metres")
    text = str(refused.value)
    assert "coordinates are not longitude/latitude" in text
    assert "extension" not in text and "floor would be" not in text
