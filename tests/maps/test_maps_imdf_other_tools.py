"""IMDF archives as other people's tools write them (an audit fed four real ones through the onboarding; all four were
refused): occupant categories from the whole of IMDF's list of over a thousand, a venue without its display_point,
neighbouring units drawn a few centimetres over each other, a walkway with more shop islands than MAX_HOLES, and
kiosks (kiosk.geojson). Each is built here into the small archive of tests/maps/imdf_builder.py."""

from __future__ import annotations

import copy

import pytest
from shapely.geometry import Polygon

from fingerprints.geometry import zone_map
from fingerprints.imdf import ImdfError, import_imdf, import_imdf_with_notes
from fingerprints.imdf.shapes import MAX_HOLES
from tests.maps.imdf_builder import _feature, _point, _rect, _ring, add_unit, fid, mall_archive

VENUE = "harbour"


def add_occupant(files: dict, key: str, unit: str, at: tuple[float, float], category: str,
                 name: dict[str, str] | None = None) -> str:
    """An occupant anchored at `at` (plan metres) in `unit`; returns its anchor's feature id."""
    anchor_id = fid("anchor", key)
    files.setdefault("anchor.geojson", {"type": "FeatureCollection", "features": []})["features"].append(
        _feature(anchor_id, "anchor", _point(*at), {"address_id": None, "unit_id": unit}))
    files.setdefault("occupant.geojson", {"type": "FeatureCollection", "features": []})["features"].append(
        _feature(fid("occupant", key), "occupant", None, {
            "name": name or {"en": key}, "category": category, "anchor_id": anchor_id, "hours": None, "phone": None,
            "website": None, "validity": None, "correlation_id": None}))
    return anchor_id


def add_kiosk(files: dict, key: str, level: int, rect: tuple[float, float, float, float], anchor_id: str | None = None,
              name: dict[str, str] | None = None) -> str:
    feature_id = fid("kiosk", key)
    files.setdefault("kiosk.geojson", {"type": "FeatureCollection", "features": []})["features"].append(
        _feature(feature_id, "kiosk", {"type": "Polygon", "coordinates": [_ring(_rect(*rect))]}, {
            "name": name, "alt_name": None, "anchor_id": anchor_id, "level_id": fid("level", level),
            "display_point": None}))
    return feature_id


def unit_rect(files: dict, unit_id: str, rect: tuple[float, float, float, float]) -> None:
    unit = next(u for u in files["unit.geojson"]["features"] if u["id"] == unit_id)
    unit["geometry"] = {"type": "Polygon", "coordinates": [_ring(_rect(*rect))]}


def notes_of(files: dict) -> tuple[object, list[str]]:
    venue, notes = import_imdf_with_notes(files, VENUE)
    return venue, [str(n) for n in notes]


def problems_of(files: dict) -> list[str]:
    with pytest.raises(ImdfError) as err:
        import_imdf(files, VENUE)
    return err.value.problems


# -- categories and the venue's display_point -------------------------------------------------------------------


def test_any_well_formed_occupant_category_is_read_and_those_we_do_not_list_are_noted():
    files = mall_archive(levels=1)
    add_occupant(files, "Counsel & Co", fid("unit", 0, "Kopi"), (5, 5), "lawyer")
    add_occupant(files, "Acai Bowl", fid("unit", 0, "Books"), (20, 5), "acai")
    add_occupant(files, "Acai Two", fid("unit", 0, "Books"), (25, 5), "acai")
    add_occupant(files, "Barber Jo", fid("unit", 0, "Shoes"), (35, 5), "haircutsstyling.mens")  # a listed one's child
    add_occupant(files, "Wine Bistro", fid("unit", 0, "Toys"), (5, 20), "bistro.wine")
    venue, notes = notes_of(files)
    assert {s.name: s.category for s in venue.shops} == {
        "Counsel & Co": "lawyer", "Acai Bowl": "acai", "Acai Two": "acai", "Barber Jo": "haircutsstyling.mens",
        "Wine Bistro": "bistro.wine"}
    assert {z.name: z.kind for z in venue.zones}["Toys 0"] == "restaurant"  # a "room": its occupant's parent's kind
    unlisted = [n for n in notes if n.startswith("occupant.geojson: 3 feature(s) of categories MallPortal does not")]
    assert len(unlisted) == 1 and unlisted[0].endswith(": acai (2), lawyer (1)")


def test_a_venue_without_its_display_point_gets_one_inside_its_outline_with_a_note():
    files = mall_archive(levels=1)
    del files["venue.geojson"]["features"][0]["properties"]["display_point"]
    before = copy.deepcopy(files)
    venue, notes = notes_of(files)
    assert len(venue.zones) == 7
    assert [n for n in notes if "display_point is missing (MallPortal does not use it)" in n
            and n.startswith(f"venue.geojson: feature {fid('venue')}")]
    assert files == before  # the caller's archive is left as it was


def test_every_stage_lists_its_problems_in_one_round():
    """A category off IMDF's list leaves its feature readable: the references, the map and its overlaps are still
    checked, so the operator fixes the archive once, not round after round."""
    files = mall_archive(levels=1)
    files["level.geojson"]["features"][0]["properties"]["category"] = "groundfloor"
    add_occupant(files, "Lost", fid("unit", 0, "Kopi"), (5, 5), "shopping")
    files["occupant.geojson"]["features"][0]["properties"]["anchor_id"] = fid("anchor", "nowhere")
    problems = problems_of(files)
    assert any("'groundfloor' is not an IMDF level category" in p for p in problems)
    assert any("anchor_id" in p and "does not resolve" in p for p in problems)

    files = mall_archive(levels=1)
    files["unit.geojson"]["features"][1]["properties"]["category"] = "spaceship"
    unit_rect(files, fid("unit", 0, "Books"), (10, 0, 30, 10))  # over Kopi by 5 x 10 m
    problems = problems_of(files)
    assert any("'spaceship' is not an IMDF unit category" in p for p in problems)
    assert any("overlap by 50.00 m²" in p for p in problems)


# -- slivers between neighbouring units --------------------------------------------------------------------------


def test_a_sliver_between_neighbours_is_cut_from_the_walkway_with_a_note():
    files = mall_archive(levels=1)
    unit_rect(files, fid("unit", 0, "Kopi"), (0, 0, 15, 10.04))  # 0.6 m² into the corridor (y 10..14)
    unit_rect(files, fid("unit", 0, "Toys"), (0, 14, 20.03, 24))  # 0.3 m² into Dumplings (x 20..40), both shops
    venue, notes = notes_of(files)
    zones = {z.name: Polygon(z.polygon) for z in venue.zones}
    assert zones["Kopi 0"].area == pytest.approx(150.6, abs=0.01)  # the shop keeps its outline
    assert zones["Mall L0"].intersection(zones["Kopi 0"]).area < 0.01
    assert zones["Toys 0"].area == pytest.approx(200.0, abs=0.01)  # of two shops, the larger one gives it up
    assert zones["Dumplings 0"].area == pytest.approx(200.0, abs=0.01)
    slivers = [n for n in notes if "a sliver (drawing slop)" in n]
    assert len(slivers) == 2
    assert any(f"{fid('unit', 0, 'Kopi')} (Kopi 0)" in n and "overlap by 0.60 m²" in n
               and n.endswith(f"cut from {fid('unit', 0, 'corridor')} (Mall L0)") for n in slivers)
    assert zone_map(venue)  # positionable


def test_an_overlap_beyond_a_sliver_is_still_refused():
    files = mall_archive(levels=1)
    unit_rect(files, fid("unit", 0, "Kopi"), (0, 0, 15, 10.5))  # 7.5 m² into the corridor: more than drawing slop
    assert any("(Kopi 0)" in p and "overlap by 7.50 m² on ordinal 0" in p for p in problems_of(files))


def test_a_small_overlap_that_is_much_of_a_small_unit_is_refused():
    files = mall_archive(levels=1)
    unit_rect(files, fid("unit", 0, "Dumplings"), (20, 14, 30.5, 24))
    add_unit(files, "Booth", 0, "room", (30, 20, 31, 21), {"en": "Booth"})  # 1 m², half of it over Dumplings
    assert any("(Booth)" in p and "overlap by 0.50 m²" in p for p in problems_of(files))


# -- holes: a walkway round many shop islands ------------------------------------------------------------------


def island_mall(islands: int, pillars: int = 0) -> dict:
    """One floor: a walkway 4 m wide round a grid of 8 x 8 m shops, each in a hole of the walkway (an island),
    and `pillars` empty 0.4 m holes of growing size in the walkway's crossings."""
    files = mall_archive(levels=1)
    files["unit.geojson"]["features"] = []
    files["opening.geojson"]["features"] = []
    files["relationship.geojson"]["features"] = []
    columns = 12
    rows = -(-islands // columns)
    width, height = columns * 12 + 4, rows * 12 + 4
    holes = []
    for n in range(islands):
        x0, y0 = 4 + n % columns * 12, 4 + n // columns * 12
        holes.append(_rect(x0, y0, x0 + 8, y0 + 8))
        add_unit(files, f"shop-{n}", 0, "room", (x0, y0, x0 + 8, y0 + 8), {"en": f"Shop {n}"})
    for n in range(pillars):
        x0, y0 = 1 + n % (columns + 1) * 12, 1 + n // (columns + 1) * 12
        holes.append(_rect(x0, y0, x0 + 0.4 + n / 1000, y0 + 0.4))
    add_unit(files, "walkway", 0, "walkway", (0, 0, width, height), {"en": "Walkway"})
    files["unit.geojson"]["features"][-1]["geometry"]["coordinates"] += [_ring(h) for h in holes]
    outline = {"type": "Polygon", "coordinates": [_ring(_rect(0, 0, width, height))]}
    files["level.geojson"]["features"][0]["geometry"] = files["venue.geojson"]["features"][0]["geometry"] = outline
    return files


def test_a_walkway_round_more_shop_islands_than_max_holes_keeps_every_island():
    islands = MAX_HOLES + 20
    files = island_mall(islands, pillars=MAX_HOLES + 10)
    venue, notes = notes_of(files)
    assert len(venue.zones) == islands + 1
    positions = zone_map(venue)
    for n in (0, islands - 1):  # a phone in a shop is in the shop, not the walkway round it
        x0, y0 = 4 + n % 12 * 12, 4 + n // 12 * 12
        assert positions.zone_at(0, x0 + 4, y0 + 4) == f"shop-{n}"
    assert positions.zone_at(0, 2, 2) == "walkway"
    filled = [n for n in notes if "holes filled" in n]  # only the 10 smallest empty holes, said
    assert len(filled) == 1 and f"10 of its {islands + MAX_HOLES + 10} holes filled" in filled[0]
    assert f"{fid('unit', 0, 'walkway')} (Walkway)" in filled[0]


# -- kiosks ------------------------------------------------------------------------------------------------------


def test_kiosks_are_zones_of_their_own_cut_out_of_the_walkway():
    files = mall_archive(levels=1)
    corridor = fid("unit", 0, "corridor")
    bubble = add_occupant(files, "Bubble Lab", corridor, (26, 12), "bubbletea", {"en": "Bubble Lab", "zh-Hans": "泡泡"})
    add_kiosk(files, "bubble", 0, (25, 11, 27, 13), anchor_id=bubble)
    add_occupant(files, "Keys", corridor, (36, 12), "hardware")  # anchored in the walkway, at the kiosk's spot
    add_kiosk(files, "keys", 0, (35, 11, 37, 13))
    add_kiosk(files, "empty", 0, (5, 11, 6, 12))
    venue, _ = notes_of(files)
    kiosks = {z.id: (z.kind, z.name, z.name_zh) for z in venue.zones if z.kind == "kiosk"}
    assert kiosks == {"bubble-lab": ("kiosk", "Bubble Lab", "泡泡"), "keys": ("kiosk", "Keys", "Keys"),
                      "kiosk": ("kiosk", "Kiosk", "售货亭")}
    positions = zone_map(venue)
    assert positions.zone_at(0, 26, 12) == "bubble-lab"
    assert positions.zone_at(0, 36, 12) == "keys"
    assert positions.zone_at(0, 5.5, 11.5) == "kiosk"
    assert positions.zone_at(0, 30, 12) == "mall-l0"
    assert {s.name: s.zone for s in venue.shops} == {"Bubble Lab": "bubble-lab", "Keys": "keys"}
    assert next(z for z in venue.zones if z.id == "bubble-lab").imdf_id == fid("kiosk", "bubble")
