"""Names an IMDF import keeps and shows: a level's Chinese name (kept, stored, exported, shown on zh pages),
an unnamed unit named from its category in both languages (never the raw IMDF code), and problems naming
the archive's own feature ids and ordinals."""

from __future__ import annotations

import re

import pytest

from fingerprints.imdf import ImdfError, export_imdf, import_imdf
from fingerprints.imdf.schema import unit_category_names
from fingerprints.model import Shop, VenueMap
from tests.maps.imdf_builder import add_unit, fid, mall_archive

VENUE = "harbour-zh"
LEVEL_ZH = {0: "一层", 1: "二层"}


def _bilingual_archive():
    """Levels named in zh-Hans and en; the corridors unnamed, as plans often leave them; a women's toilet
    and a laboratory (a category without a name of its own here) unnamed too."""
    files = mall_archive(levels=2)
    for level in files["level.geojson"]["features"]:
        ordinal = level["properties"]["ordinal"]
        level["properties"]["name"] = {"zh-Hans": LEVEL_ZH[ordinal], "en": f"L{ordinal}"}
    for unit in files["unit.geojson"]["features"]:
        if unit["properties"]["category"] == "walkway":
            unit["properties"]["name"] = None
        if unit["id"] == fid("unit", 0, "Books"):
            unit["properties"].update(category="restroom.female.wheelchair", name=None)
        if unit["id"] == fid("unit", 0, "Shoes"):
            unit["properties"].update(category="laboratory", name=None)
    return files


def test_a_levels_chinese_name_is_kept_stored_and_exported():
    venue = import_imdf(_bilingual_archive(), venue_id=VENUE)
    assert [(f.level, f.name, f.name_zh) for f in venue.floors] == [(0, "L0", "一层"), (1, "L1", "二层")]
    assert VenueMap.from_dict(venue.to_dict()).floors[0].name_zh == "一层"  # the JSON round trip
    levels = export_imdf(venue)["level.geojson"]["features"]
    assert levels[0]["properties"]["name"] == {"en": "L0", "zh-Hans": "一层"}
    assert import_imdf(export_imdf(venue), venue_id=VENUE).floors[1].name_zh == "二层"
    assert venue.floor_name(0, zh=True) == "一层" and venue.floor_name(0) == "L0" and venue.floor_name(7) == "7"


def test_a_map_stored_before_floors_had_chinese_names_loads():
    old = import_imdf(mall_archive(levels=1), venue_id=VENUE).to_dict()
    for floor in old["floors"]:
        del floor["name_zh"]
    floor = VenueMap.from_dict(old).floors[0]
    assert floor.name_zh == "" and floor.label(zh=True) == floor.label() == "L0"


def test_unnamed_units_are_named_from_their_category_in_both_languages():
    venue = import_imdf(_bilingual_archive(), venue_id=VENUE)
    names = {z.id: (z.name, z.name_zh) for z in venue.zones if z.floor == 0}
    assert names["walkway"] == ("Walkway", "通道")  # zone ids as before: a re-import keeps them
    assert names["restroom-female-wheelchair"] == ("Women's restroom", "女洗手间")  # its nearest listed ancestor
    kinds = {z.id: z.kind for z in venue.zones if z.floor == 0}
    assert kinds["restroom-female-wheelchair"] == "restroom"  # the directory finds it ("where is the toilet?")
    assert names["laboratory"] == ("Area", "区域")  # a category the table does not list
    assert not {n for pair in names.values() for n in pair} & {"walkway", "restroom.female.wheelchair", "laboratory"}
    assert names["kopi-0"] == ("Kopi 0", "Kopi 0")  # a named unit keeps its name
    assert unit_category_names("unspecified") == ("Area", "区域")


def test_zh_navigation_says_the_chinese_floor_and_place_names(client, svc):
    svc.venues.put_map(import_imdf(_bilingual_archive(), venue_id=VENUE))
    resp = client.get(f"/v/{VENUE}/route", query_string={"from": "zone:kopi-0", "to": "zone:walkway-2",
                                                         "lang": "zh"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    texts = " ".join(step["text"] for step in body["steps"])
    assert "二层" in texts and "通道" in texts and "walkway" not in texts and "L1" not in texts
    assert {f["name"] for f in body["floors"]} <= set(LEVEL_ZH.values())
    english = client.get(f"/v/{VENUE}/route", query_string={"from": "zone:kopi-0", "to": "zone:walkway-2",
                                                            "lang": "en"}).get_json()
    assert "L1" in " ".join(step["text"] for step in english["steps"])
    page = client.get(f"/v/{VENUE}/navigate", query_string={"from": "zone:kopi-0", "to": "zone:walkway-2",
                                                            "lang": "zh"}).get_data(as_text=True)
    assert "二层" in page and "通道" in page and not re.search(r"\bwalkway\b(?![-_])", re.sub(r"<[^>]+>", " ", page))


def test_zh_directory_pages_say_the_chinese_floor_name(client, svc):
    venue = import_imdf(_bilingual_archive(), venue_id=VENUE)
    venue.shops.append(Shop(id="kopi", name="Kopi", name_zh="考比", category="cafe", floor=1, x=7.0, y=5.0,
                            zone="kopi-1"))
    svc.venues.put_map(venue)
    for path in (f"/v/{VENUE}/", f"/v/{VENUE}/shop/kopi"):
        zh = client.get(path, query_string={"lang": "zh"}).get_data(as_text=True)
        en = client.get(path, query_string={"lang": "en"}).get_data(as_text=True)
        assert "二层" in zh and ">L1<" not in zh and " L1" not in zh, path
        assert "二层" not in en and "L1" in en, path


def test_overlapping_units_are_named_by_feature_id_name_and_ordinal():
    files = mall_archive(levels=1)
    annex = add_unit(files, "annex", 0, "room", (0, 0, 10, 10), {"en": "Annex"})  # over Kopi 0 (0..15 x 0..10)
    corner = add_unit(files, "corner", 0, "walkway", (44, 13, 50, 20))  # unnamed, over the corridor and atrium
    with pytest.raises(ImdfError) as refused:
        import_imdf(files, venue_id=VENUE)
    problems = refused.value.problems
    kopi, corridor, atrium = fid("unit", 0, "Kopi"), fid("unit", 0, "corridor"), fid("unit", 0, "atrium")
    assert f"unit.geojson: features {kopi} (Kopi 0) and {annex} (Annex) overlap by 100.00 m² on ordinal 0" in problems
    assert f"unit.geojson: features {corridor} (Mall L0) and {corner} (Walkway) overlap by 6.00 m² on ordinal 0" \
        in problems
    assert f"unit.geojson: features {atrium} (Atrium 0) and {corner} (Walkway) overlap by 36.00 m² on ordinal 0" \
        in problems
    assert not [p for p in problems if "'" in p or "level 0" in p]


def test_language_tags_are_matched_whatever_their_case():
    """BCP 47 tags are case-insensitive: a unit named {"zh-Hans": ..., "EN": ...} took its Chinese name as its
    English one, because "EN" was not "en"."""
    files = mall_archive(levels=1)
    unit = next(u for u in files["unit.geojson"]["features"] if u["id"] == fid("unit", 0, "Books"))
    unit["properties"]["name"] = {"zh-Hans": "纪伊国屋", "EN": "Kinokuniya"}
    level = files["level.geojson"]["features"][0]
    level["properties"]["name"] = {"ZH-hans": "一层", "En-GB": "Ground"}
    venue = import_imdf(files, venue_id=VENUE)
    assert [(z.name, z.name_zh) for z in venue.zones if z.name_zh == "纪伊国屋"] == [("Kinokuniya", "纪伊国屋")]
    assert (venue.floors[0].name, venue.floors[0].name_zh) == ("Ground", "一层")
