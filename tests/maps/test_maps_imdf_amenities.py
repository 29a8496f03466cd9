"""IMDF amenity points (ATMs, information desks, baby-care rooms...): imported into the venue map for the directory,
kept through the store's versions and a re-import's merge, and exported back; lifts, escalators and stairs (the
walkway graph's, which our export writes as amenities) and categories the directory does not list are left out."""

from __future__ import annotations

import copy

import pytest

from fingerprints import edits
from fingerprints.demo_mall import build_demo_mall
from fingerprints.drafts import diff_maps
from fingerprints.imdf import ImdfError, export_imdf, import_imdf, import_imdf_with_notes, merge_imported
from fingerprints.imdf.schema import AMENITY_CATEGORIES, AMENITY_KINDS, amenity_kind
from fingerprints.model import Amenity, VenueMap
from fingerprints.plan import PX_PER_M
from tests.maps.imdf_builder import _feature, _point, fid, mall_archive

VENUE = "harbour-amenities"


def add_amenity(files: dict, key: str, category: str, at: tuple[float, float], units: list[str],
                name: dict[str, str] | None = None) -> str:
    """One amenity point (plan metres of the builder's frame) in these units; returns its feature id."""
    feature = _feature(fid("amenity", key), "amenity", _point(*at), {
        "category": category, "accessibility": None, "name": name, "alt_name": None, "hours": None, "phone": None,
        "website": None, "unit_ids": units, "address_id": None, "correlation_id": None})
    files.setdefault("amenity.geojson", {"type": "FeatureCollection", "features": []})["features"].append(feature)
    return feature["id"]


def archive() -> dict:
    """The builder's mall with an ATM in the L0 corridor, an unnamed information desk on L1, a nursing room named
    only in Chinese, a fire extinguisher and a lift's amenity (neither kept)."""
    files = mall_archive(levels=2)
    add_amenity(files, "atm", "atm", (5, 12), [fid("unit", 0, "corridor")], {"en": "HSBC ATM", "zh-Hans": "汇丰取款机"})
    add_amenity(files, "info", "information", (30, 12), [fid("unit", 1, "corridor")])
    add_amenity(files, "nursing", "mothersroom", (22, 5), [fid("unit", 0, "Books")], {"zh-Hans": "母婴室"})
    add_amenity(files, "extinguisher", "fireextinguisher", (31, 12), [fid("unit", 1, "corridor")])
    add_amenity(files, "extinguisher-2", "fireextinguisher", (33, 12), [fid("unit", 1, "corridor")])
    add_amenity(files, "lift", "elevator", (47, 5), [fid("unit", 0, "lift"), fid("unit", 1, "lift")])
    return files


def by_category(venue_map: VenueMap) -> dict[str, Amenity]:
    return {a.category: a for a in venue_map.amenities}


def test_amenity_points_are_imported_with_their_floor_place_names_and_zone():
    imported, notes = import_imdf_with_notes(archive(), VENUE)
    found = by_category(imported)
    assert set(found) == {"atm", "information", "mothersroom"}  # no lift (the walkway graph's), no extinguisher
    atm = found["atm"]
    assert (atm.id, atm.floor, atm.zone, atm.name, atm.name_zh) == (fid("amenity", "atm"), 0, "mall-l0", "HSBC ATM",
                                                                     "汇丰取款机")
    assert (atm.x, atm.y) == pytest.approx((5, 12), abs=0.01)
    info = found["information"]
    assert (info.floor, info.zone, info.name, info.name_zh) == (1, "mall-l1", "", "")  # unnamed: named when listed
    assert (found["mothersroom"].name, found["mothersroom"].name_zh, found["mothersroom"].zone) == ("", "母婴室",
                                                                                                   "books-0")
    # what is left out is said, once, with how many of each category
    assert [str(n) for n in notes] == ["amenity.geojson: 2 point(s) not imported: the directory does not list "
                                       "fireextinguisher (2)"]


def test_our_exports_lift_and_stair_amenities_are_not_imported_twice():
    """Our export writes the ends of the walkway graph's lifts, escalators and stairs as amenities; a re-import takes
    them from the walkway graph, not as amenity points."""
    mall = build_demo_mall("mini", survey_step_m=12.0, scans=1)
    files = export_imdf(mall)
    assert {f["properties"]["category"] for f in files["amenity.geojson"]["features"]} >= {"elevator", "stairs"}
    again, notes = import_imdf_with_notes(files)
    assert again.amenities == [] and notes == []
    assert again.edges == mall.edges


def test_amenities_round_trip_through_export():
    imported = import_imdf(archive(), VENUE)
    files = export_imdf(imported)
    exported = {f["id"]: f for f in files["amenity.geojson"]["features"]}
    atm = exported[fid("amenity", "atm")]  # under the archive's own id
    assert atm["properties"]["category"] == "atm" and atm["properties"]["name"] == {"en": "HSBC ATM",
                                                                                    "zh-Hans": "汇丰取款机"}
    assert atm["properties"]["unit_ids"] == [fid("unit", 0, "corridor")]
    assert exported[fid("amenity", "info")]["properties"]["name"] is None
    again = import_imdf(copy.deepcopy(files), VENUE)
    assert again.amenities == imported.amenities


def test_an_amenity_off_the_plan_is_refused_naming_it():
    files = archive()
    off = add_amenity(files, "far", "atm", (5, 400), [fid("unit", 0, "corridor")])
    with pytest.raises(ImdfError) as exc:
        import_imdf(files, VENUE)
    assert any(off in p and "off the plan of ordinal 0" in p for p in exc.value.problems), exc.value.problems


def test_an_amenity_whose_units_lie_on_several_floors_none_holding_it_is_refused():
    files = archive()
    lost = add_amenity(files, "lost", "atm", (5, 20), [fid("unit", 0, "corridor"), fid("unit", 1, "corridor")])
    with pytest.raises(ImdfError) as exc:
        import_imdf(files, VENUE)
    assert any(lost in p and "ordinals 0, 1" in p for p in exc.value.problems), exc.value.problems
    # the point in one of them: that one's floor
    files = archive()
    add_amenity(files, "found", "atm", (5, 12), [fid("unit", 0, "Kopi"), fid("unit", 1, "corridor")])
    placed = next(a for a in import_imdf(files, VENUE).amenities if a.id == fid("amenity", "found"))
    assert (placed.floor, placed.zone) == (1, "mall-l1")


def test_amenities_are_kept_in_the_store_and_its_versions(svc):
    imported = import_imdf(archive(), VENUE)
    first = svc.venues.put_map(imported)
    with svc.venues.edit(VENUE, "test.rename") as m:
        m.name = "Harbour Walk East"
    assert svc.venues.get_map(VENUE).amenities == imported.amenities
    assert svc.venues.get_map(VENUE, first).amenities == imported.amenities


def test_a_reimport_brings_the_archives_amenities_in_the_zones_that_keep_their_ids():
    """Merged over the venue's map, the amenities are the archive's (as its shops are), and the zone each lies in is
    the zone id the map keeps for its unit (a renamed unit keeps its zone's id: fingerprints.edits._keep_zone_ids)."""
    current = import_imdf(archive(), VENUE)
    files = archive()
    for unit in files["unit.geojson"]["features"]:
        if unit["id"] == fid("unit", 0, "Books"):
            unit["properties"]["name"] = {"en": "Bookworm 0"}  # its new zone would be "bookworm-0"
    files["amenity.geojson"]["features"] = [f for f in files["amenity.geojson"]["features"]
                                            if f["properties"]["category"] != "atm"]  # the ATM went
    merged = merge_imported(current, import_imdf(files, VENUE))
    assert set(by_category(merged)) == {"information", "mothersroom"}
    assert by_category(merged)["mothersroom"].zone == "books-0" and merged.zone("books-0").name == "Bookworm 0"
    assert set(by_category(current)) == {"atm", "information", "mothersroom"}  # not changed
    atm = by_category(current)["atm"].id  # a draft of that import shows the ATM going (fingerprints.drafts)
    assert diff_maps(current, merged)["amenities"] == {"added": [], "removed": [atm], "changed": []}


def test_rescaling_a_floor_moves_its_amenities_with_it():
    venue_map = import_imdf(archive(), VENUE)
    atm = by_category(venue_map)["atm"]
    edits.rescale_floor(venue_map, 0, 2 * (venue_map.floor(0).metres_per_pixel or 1 / PX_PER_M))
    assert (atm.x, atm.y) == pytest.approx((10, 24), abs=0.01)


def test_every_kept_category_is_an_imdf_amenity_category_and_no_connector():
    assert set(AMENITY_KINDS) <= AMENITY_CATEGORIES
    assert amenity_kind("elevator") is None and amenity_kind("escalator") is None and amenity_kind("stairs") is None
    assert amenity_kind("restroom.family") == "restroom" and amenity_kind("prayerroom.islam") == "prayerroom"


def test_a_zone_drawn_or_deleted_round_an_amenity_moves_it_in_or_out():
    """The directory's "near" zone follows the map's edits: a zone deleted leaves its amenities in none (or the
    zone drawn in its place), as the survey samples are re-zoned."""
    venue_map = import_imdf(archive(), VENUE)
    mothers = by_category(venue_map)["mothersroom"]
    zone = venue_map.zone(mothers.zone)
    edits.delete_zone(venue_map, zone.id)
    assert by_category(venue_map)["mothersroom"].zone is None
    edits.add_zone(venue_map, "nursery", "Nursery", zone.floor, zone.polygon, kind="service")
    assert by_category(venue_map)["mothersroom"].zone == "nursery"
