"""Names in other scripts and languages through an IMDF import and export (the audit fed real archives: the SPBSTU
campus, named in Russian only, and one named in en, zh-Hant and zh-Hans).

- Zone ids: a name in Latin letters gives its slug as before; a Chinese name its pinyin; a name in another script
  (Cyrillic: "Кабинет 178а" gave `178`, "Кабинет 178" `178-2`, by file order) the unit id's short form. Neither
  depends on the file's order.
- The Chinese name: zh-Hans (zh-CN, zh-SG) first, then bare zh, then zh-Hant (zh-HK, zh-TW).
- A floor made of several levels (two buildings' storeys on one ordinal) takes each language's name from whichever
  level has one.
- The export writes back each zone's and floor's own name labels and each zone's own unit category, and the units
  that are no zone (stairs, lifts) - instead of the product's Chinese as zh-Hans, a Russian name as "en", one
  "room" for a classroom, a library or an auditorium, one "restroom" for restroom.female."""

from __future__ import annotations

import copy

from fingerprints.imdf import export_imdf, import_imdf
from fingerprints.model import VenueMap
from tests.maps.imdf_builder import fid, mall_archive

VENUE = "campus"
NAMES = {  # (level, builder key): (IMDF category, name labels)
    (0, "Kopi"): ("classroom", {"ru": "Кабинет 178а"}),
    (0, "Books"): ("classroom", {"ru": "Кабинет 178"}),
    (0, "Shoes"): ("library", {"ru": "Учебная библиотека"}),
    (0, "Toys"): ("restroom.female", {"en": "Ladies", "zh-Hant": "女洗手間", "zh-Hans": "女洗手间"}),
    (0, "Dumplings"): ("auditorium", {"zh-Hans": "洗手间"}),
    (1, "Dumplings"): ("room", {"zh-Hans": "洗手间"}),
    (1, "Toys"): ("room", {"zh-TW": "一樓 A12", "zh": "一楼 A12", "EN": "Level 1 A12"}),
    (1, "Kopi"): ("room", {"zh-HK": "咖啡"}),
    (1, "Books"): ("room", {"zh-Hans": "一楼 A12"}),
}


def _archive(reverse: bool = False) -> dict:
    files = mall_archive(levels=2)
    for unit in files["unit.geojson"]["features"]:
        for (level, key), (category, labels) in NAMES.items():
            if unit["id"] == fid("unit", level, key):
                unit["properties"].update(category=category, name=dict(labels))
    if reverse:
        files["unit.geojson"]["features"].reverse()
    return files


def _ids(venue: VenueMap) -> dict[str, str]:
    return {z.imdf_id: z.id for z in venue.zones}


def test_zone_ids_from_names_in_other_scripts_are_distinct_and_do_not_depend_on_file_order():
    venue = import_imdf(_archive(), VENUE)
    ids = _ids(venue)
    assert ids == _ids(import_imdf(_archive(reverse=True), VENUE))
    for key in ("Kopi", "Books", "Shoes"):  # Cyrillic: the unit id's short form, never the room's digits alone
        assert ids[fid("unit", 0, key)] == "unit-" + fid("unit", 0, key)[:8]
    assert ids[fid("unit", 1, "Kopi")] == "ka-fei"  # Chinese: its pinyin
    # the same pinyin for two units: each takes its unit's short form too, so neither gets it by file order
    restrooms = {ids[fid("unit", level, "Dumplings")] for level in (0, 1)}
    assert restrooms == {f"xi-shou-jian-{fid('unit', level, 'Dumplings')[:8]}" for level in (0, 1)}
    assert ids[fid("unit", 1, "Toys")] == "level-1-a12"  # an English name, as ever
    assert ids[fid("unit", 1, "Books")] == "yi-lou-a12"
    latin = _ids(import_imdf(mall_archive(levels=2), VENUE))  # names in Latin letters: their slugs as before
    renamed = {fid("unit", level, key) for level, key in NAMES}
    assert {u: z for u, z in ids.items() if u not in renamed} == {u: z for u, z in latin.items() if u not in renamed}


def test_the_chinese_name_prefers_simplified():
    venue = import_imdf(_archive(), VENUE)
    names = {z.imdf_id: (z.name, z.name_zh) for z in venue.zones}
    assert names[fid("unit", 0, "Toys")] == ("Ladies", "女洗手间")
    assert names[fid("unit", 1, "Toys")] == ("Level 1 A12", "一楼 A12")  # bare zh before zh-TW
    assert names[fid("unit", 1, "Kopi")][1] == "咖啡"  # only zh-HK: that one
    files = _archive()
    files["level.geojson"]["features"][0]["properties"]["name"] = {"en": "Ground Floor", "zh-Hant": "地下",
                                                                   "zh-Hans": "地面层"}
    assert import_imdf(files, VENUE).floors[0].name_zh == "地面层"


def test_a_floor_of_two_buildings_levels_takes_each_languages_name_from_either():
    files = _archive()
    first = files["level.geojson"]["features"][0]
    first["properties"]["name"], first["properties"]["short_name"] = {"ru": "Этаж 1"}, {"ru": "1"}
    other = copy.deepcopy(first)  # building B's storey on the same ordinal, named in English and Chinese
    other["id"] = fid("level", "b", 0)
    other["properties"].update(name={"en": "Level 1", "zh-Hans": "一层"}, short_name={"en": "L1"})
    files["level.geojson"]["features"].append(other)
    floor = import_imdf(files, VENUE).floors[0]
    assert (floor.name, floor.name_zh, floor.short_name) == ("Level 1", "一层", "L1")


def _units(files: dict) -> dict[str, dict]:
    return {u["id"]: {k: u["properties"][k] for k in ("category", "name", "level_id")}
            for u in files["unit.geojson"]["features"]}


def test_the_export_writes_back_the_archives_own_names_categories_and_stairs():
    files = _archive()
    files["level.geojson"]["features"][0]["properties"]["name"] = {"ru": "Этаж 1", "zh-Hant": "一樓"}
    venue = import_imdf(files, VENUE)
    exported = export_imdf(VenueMap.from_dict(venue.to_dict()))  # as stored
    units, given = _units(exported), _units(files)
    for (level, key), (category, labels) in NAMES.items():
        assert (units[fid("unit", level, key)]["category"], units[fid("unit", level, key)]["name"]) == \
            (category, labels), key
    for key in ("stairs", "lift"):  # no zone of theirs, yet written back where they were, as they were
        for level in (0, 1):
            unit = units[fid("unit", level, key)]
            assert (unit["category"], unit["level_id"]) == (given[fid("unit", level, key)]["category"],
                                                            exported["level.geojson"]["features"][level]["id"])
    assert exported["level.geojson"]["features"][0]["properties"]["name"] == {"ru": "Этаж 1", "zh-Hant": "一樓"}
    again = import_imdf(exported, VENUE)  # and read back the same
    assert [(z.id, z.name, z.name_zh, z.kind) for z in again.zones] == \
        [(z.id, z.name, z.name_zh, z.kind) for z in venue.zones]
    assert _units(export_imdf(again)) == units


def test_an_edited_zone_is_exported_as_it_reads_now():
    venue = import_imdf(_archive(), VENUE)
    books = next(z for z in venue.zones if z.imdf_id == fid("unit", 0, "Shoes"))
    books.name, books.kind = "Reading room", "cinema"
    unit = _units(export_imdf(venue))[fid("unit", 0, "Shoes")]
    assert unit["name"] == {"ru": "Учебная библиотека", "en": "Reading room"}
    assert unit["category"] == "movietheater"


def test_a_map_stored_before_the_archives_labels_were_kept_loads_and_exports():
    stored = import_imdf(_archive(), VENUE).to_dict()
    for zone in stored["zones"]:
        del zone["imdf_names"], zone["imdf_category"]
    for floor in stored["floors"]:
        del floor["imdf_names"], floor["imdf_units"]
    old = VenueMap.from_dict(stored)
    unit = _units(export_imdf(old))[fid("unit", 0, "Toys")]
    assert unit["name"] == {"en": "Ladies", "zh-Hans": "女洗手间"} and unit["category"] == "restroom"


def test_the_kept_labels_categories_and_units_survive_the_store(svc):
    venue = import_imdf(_archive(), VENUE)
    svc.venues.put_map(venue)
    stored = svc.venues.get_map(VENUE)
    assert [(z.imdf_names, z.imdf_category) for z in stored.zones] == \
        [(z.imdf_names, z.imdf_category) for z in venue.zones]
    assert [(f.imdf_names, f.imdf_units) for f in stored.floors] == [(f.imdf_names, f.imdf_units) for f in venue.floors]
    assert _units(export_imdf(stored)) == _units(export_imdf(venue))
