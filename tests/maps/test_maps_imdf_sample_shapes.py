"""Plans shaped like Apple's sample IMDF archive (Dinoseum, in Apple's WWDC sample code, which the reference
lists as the data to test an importer on; it is not copied here): an outdoor level on the same ordinal as
an indoor one, walkways with holes and rooms drawn in them, nullable properties left out, a beta manifest.
Each is built into the small archive of tests/maps/imdf_builder.py."""

from __future__ import annotations

import copy

import pytest
from shapely.geometry import LineString, Point, Polygon

from fingerprints.geometry import zone_map
from fingerprints.imdf import ImdfError, export_imdf, import_imdf
from fingerprints.imdf.shapes import single_ring
from fingerprints.routes import shortest_route
from tests.maps.imdf_builder import ORIGIN, fid, mall_archive


def _ring(points):
    ring = [ORIGIN.to_lonlat(x, y) for x, y in points]
    return ring + [ring[0]]


def _rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _unit(files, key, level_key, category, rings, name=None):
    files["unit.geojson"]["features"].append({
        "id": fid("unit", key), "type": "Feature", "feature_type": "unit",
        "geometry": {"type": "Polygon", "coordinates": [_ring(r) for r in rings]},
        "properties": {"category": category, "restriction": None, "accessibility": None,
                       "name": {"en": name} if name else None, "alt_name": None, "level_id": level_key,
                       "display_point": None}})


def _opening(files, key, level_key, a, b):
    files["opening.geojson"]["features"].append({
        "id": fid("opening", key), "type": "Feature", "feature_type": "opening",
        "geometry": {"type": "LineString", "coordinates": [ORIGIN.to_lonlat(*a), ORIGIN.to_lonlat(*b)]},
        "properties": {"category": "pedestrian", "accessibility": None, "access_control": None, "door": None,
                       "name": None, "alt_name": None, "display_point": None, "level_id": level_key}})


def _centre(zone):
    p = Polygon(zone.polygon).representative_point()
    return (zone.floor, p.x, p.y)


def test_an_outdoor_level_on_the_same_ordinal_is_part_of_that_floor():
    files = mall_archive(levels=2)
    outdoor = fid("level", "terrace")
    files["level.geojson"]["features"].insert(0, {  # listed first: the floor still takes the indoor name
        "id": outdoor, "type": "Feature", "feature_type": "level",
        "geometry": {"type": "Polygon", "coordinates": [_ring(_rect(60, 0, 80, 24))]},
        "properties": {"category": "unspecified", "restriction": None, "outdoor": True, "ordinal": 0,
                       "name": {"en": "Terrace"}, "short_name": None, "display_point": None, "address_id": None,
                       "building_ids": None}})
    _unit(files, "terrace", outdoor, "unenclosedarea", [_rect(60, 8, 80, 16)], "Terrace")
    _opening(files, "terrace", outdoor, (60, 11), (60, 13))
    venue = import_imdf(files, venue_id="harbour")
    assert [(f.level, f.name) for f in venue.floors] == [(0, "L0"), (1, "L1")]
    assert venue.floors[0].width_m == pytest.approx(80, abs=0.01)
    terrace = next(z for z in venue.zones if z.name == "Terrace")
    assert terrace.floor == 0
    upstairs = next(z for z in venue.zones if z.name == "Kopi 1")
    assert shortest_route(venue, _centre(upstairs), _centre(terrace)) is not None


def _plaza_with_island(files, island_category="room"):
    """A walkway (0..60 x 24..44) with a hole (20..40 x 30..38), a unit drawn in the hole, a door between."""
    level = fid("level", 0)
    _unit(files, "plaza", level, "walkway", [_rect(0, 24, 60, 44), _rect(20, 30, 40, 38)], "Plaza")
    _unit(files, "island", level, island_category, [_rect(20, 30, 40, 38)], "Island")
    _opening(files, "island", level, (29, 38), (31, 38))


def test_a_unit_in_a_walkways_hole_is_its_own_zone():
    files = mall_archive(levels=1)
    _plaza_with_island(files)
    venue = import_imdf(files, venue_id="harbour")  # no "units overlap": the island lies in the hole
    zones = zone_map(venue)
    assert zones.zone_at(0, 30, 34) == next(z.id for z in venue.zones if z.name == "Island")
    plaza = next(z for z in venue.zones if z.name == "Plaza")
    assert {zones.zone_at(0, x, y) for x, y in ((5, 30), (30, 41), (50, 34), (10, 26))} == {plaza.id}
    assert Polygon(plaza.polygon).area == pytest.approx(60 * 20 - 20 * 8, abs=1.0)  # less the hole
    island = next(z for z in venue.zones if z.name == "Island")
    assert shortest_route(venue, _centre(island), _centre(next(z for z in venue.zones if z.name == "Kopi 0")))
    outline = Polygon([(0, 24), (60, 24), (60, 44), (0, 44)], [[(20, 30), (40, 30), (40, 38), (20, 38)]])
    for x0, y0, x1, y1 in venue.floors[0].walls:  # walls are the outlines and the hole, not the cut
        assert not outline.buffer(-0.2).intersects(LineString([(x0, y0), (x1, y1)])), (x0, y0, x1, y1)
    again = import_imdf(export_imdf(venue), venue_id="harbour")  # and our own export reads back the same
    assert [z.polygon for z in again.zones] == [z.polygon for z in venue.zones]


def test_a_void_in_a_walkway_is_neither_walked_nor_the_walkway():
    files = mall_archive(levels=1)
    _plaza_with_island(files, island_category="opentobelow")
    venue = import_imdf(files, venue_id="harbour")
    assert zone_map(venue).zone_at(0, 30, 34) is None  # over the void: in no zone
    assert not [n for n in venue.nodes if 20 < n.x < 40 and 30 < n.y < 38]  # the walkway goes round it
    assert [n for n in venue.nodes if n.y > 24 and (n.x < 20 or n.x > 40)]


def test_single_ring_cuts_each_hole_to_the_outside():
    square = Polygon(_rect(0, 0, 30, 30), [_rect(5, 5, 10, 10), _rect(20, 20, 25, 25)])
    ring = Polygon(single_ring(square))
    assert ring.is_valid and not ring.interiors
    assert ring.area == pytest.approx(square.area - 0.05 * (5.1 + 5.1), abs=0.01)  # less two 5 cm cuts
    assert not ring.contains(Point(7, 7)) and not ring.contains(Point(22, 22)) and ring.contains(Point(15, 15))


U_HOLE = Polygon(_rect(3, 15, 9, 25)).difference(Polygon(_rect(4, 14, 8, 24)))  # arms x 3..4, 8..9; base y 24..25


@pytest.mark.parametrize("holes, inside_holes", [
    ([[(20, 0), (22, 3), (18, 3)], _rect(10, 19.5, 11, 20.5)], [(20, 2), (10.5, 20)]),  # touching the outline
    ([_rect(10, 10, 12, 12), _rect(12, 12, 14, 14)], [(11, 11), (13, 13)]),  # two holes touching at a point
    ([_rect(10, 10, 12, 12), _rect(12.02, 10, 14, 12)], [(11, 11), (13, 11)]),  # 2 cm apart
    ([_rect(10, 19.5, 11, 20.5), list(U_HOLE.exterior.coords)[:-1]], [(10.5, 20), (3.5, 20)]),  # way out across a U
])
def test_single_ring_keeps_every_hole_in_awkward_layouts(holes, inside_holes):
    """Found by a review's fuzzing: holes touching the outline or each other at a point, holes 2 cm apart, a
    hole whose shortest way out crosses both arms of a U-shaped hole; each keeps its holes, losing only cuts."""
    polygon = Polygon(_rect(0, 0, 40, 40), holes)
    assert polygon.is_valid
    ring = Polygon(single_ring(polygon))
    assert ring.is_valid and ring.area == pytest.approx(polygon.area, abs=2.5)
    assert not any(ring.contains(Point(p)) for p in inside_holes)
    assert ring.contains(Point(30, 30)) and ring.contains(Point(6, 20))  # the floor, the U's pocket too


def test_stacked_units_whose_ids_differ_in_the_last_digit_stay_apart():
    """Apple's sample archive: the stairwell drawn on two floors has ids differing only in the last digit;
    each is its own node, joined by a stairs link, never one node on both floors."""
    files = mall_archive(levels=2, with_relationships=False)
    units = files["unit.geojson"]["features"]
    lower = next(u for u in units if u["id"] == fid("unit", 0, "stairs"))
    upper = next(u for u in units if u["id"] == fid("unit", 1, "stairs"))
    upper["id"] = lower["id"][:-1] + ("0" if lower["id"][-1] != "0" else "1")
    venue = import_imdf(files, venue_id="harbour")
    floor = {n.id: n.floor for n in venue.nodes}
    assert not [e for e in venue.edges if e.kind == "walk" and floor[e.a] != floor[e.b]]
    assert sorted(e.kind for e in venue.edges if e.kind != "walk") == ["elevator", "stairs"]


def test_left_out_nullable_properties_and_a_beta_manifest_are_read():
    files = mall_archive(levels=1)
    files["manifest.json"]["version"] = "1.0.0.beta.2"
    for unit in files["unit.geojson"]["features"]:
        del unit["properties"]["alt_name"], unit["properties"]["restriction"]
    venue = import_imdf(files, venue_id="harbour")
    assert len(venue.zones) == len(files["unit.geojson"]["features"]) - 2  # the lift and stairs are not zones
    del files["unit.geojson"]["features"][0]["properties"]["level_id"]  # may not be null: still required
    with pytest.raises(ImdfError, match="required property 'level_id' is missing"):
        import_imdf(files, venue_id="harbour")
    files = mall_archive(levels=1)
    for version in ("1.1.0", "1.0.0..", "1.0.0\n"):
        files["manifest.json"]["version"] = version
        with pytest.raises(ImdfError, match="is not supported"):
            import_imdf(files, venue_id="harbour")


def test_importing_leaves_the_callers_data_as_it_was():
    files = mall_archive(levels=1)
    del files["unit.geojson"]["features"][0]["properties"]["alt_name"]
    before = copy.deepcopy(files)
    import_imdf(files, venue_id="harbour")
    assert files == before


def test_a_unit_with_hundreds_of_holes_keeps_the_largest():
    """Each cut works over the whole shape: past MAX_HOLES the smallest holes are filled (a review measured
    3,600 holes taking 353 s in one console request)."""
    from fingerprints.imdf.shapes import MAX_HOLES

    holes = [_rect(1 + 2 * i, 1 + 2 * j, 1.5 + 2 * i, 1.5 + 2 * j) for i in range(15) for j in range(10)]
    big = _rect(5.2, 22.2, 6.8, 23.8)
    polygon = Polygon(_rect(0, 0, 40, 30), [*holes[:-1], big])
    ring = Polygon(single_ring(polygon))
    assert ring.is_valid and not ring.contains(Point(6, 23))  # the largest hole kept
    assert len(holes) > MAX_HOLES
