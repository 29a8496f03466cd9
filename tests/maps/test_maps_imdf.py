"""IMDF export/import: round trip, the spec rules we check, all-or-nothing import."""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from dataclasses import asdict

import pytest
from shapely.geometry import Polygon

from fingerprints import edits
from fingerprints.demo_mall import build_demo_mall
from fingerprints.geometry import segment_crosses_walls
from fingerprints.imdf import (
    DEFAULT_ORIGIN,
    EXTENSION_FILES,
    ImdfError,
    Origin,
    export_imdf,
    imdf_zip_bytes,
    import_imdf,
    merge_imported,
    validate_imdf,
    write_imdf_zip,
)
from fingerprints.imdf.shapes import single_ring
from fingerprints.model import Floor, VenueMap, WalkNode, Zone

CM = 0.01


@pytest.fixture(scope="module")
def small_map():
    return build_demo_mall("mini", survey_step_m=12.0, scans=3)


@pytest.fixture
def files(small_map):
    return copy.deepcopy(export_imdf(small_map))


def close(a, b, tol=CM):
    return all(abs(p - q) <= tol for p, q in zip(a, b, strict=True))


def assert_same_map(a, b):
    assert (a.id, a.name, a.name_zh) == (b.id, b.name, b.name_zh)
    assert [(f.level, f.name, f.width_m, f.height_m) for f in a.floors] == \
        [(f.level, f.name, f.width_m, f.height_m) for f in b.floors]
    for fa, fb in zip(a.floors, b.floors, strict=True):
        assert len(fa.walls) == len(fb.walls)
        for wa, wb in zip(fa.walls, fb.walls, strict=True):
            assert close(wa, wb)
    assert len(a.zones) == len(b.zones)
    for za, zb in zip(a.zones, b.zones, strict=True):
        assert (za.id, za.name, za.name_zh, za.floor, za.kind) == (zb.id, zb.name, zb.name_zh, zb.floor, zb.kind)
        assert len(za.polygon) == len(zb.polygon)
        for pa, pb in zip(za.polygon, zb.polygon, strict=True):
            assert close(pa, pb)
    assert len(a.shops) == len(b.shops)
    for sa, sb in zip(a.shops, b.shops, strict=True):
        assert (sa.id, sa.name, sa.name_zh, sa.category, sa.floor, sa.zone, sa.description) == \
            (sb.id, sb.name, sb.name_zh, sb.category, sb.floor, sb.zone, sb.description)
        assert close((sa.x, sa.y), (sb.x, sb.y))
    assert [(p.bssid, p.floor, p.name) for p in a.aps] == [(p.bssid, p.floor, p.name) for p in b.aps]
    for pa, pb in zip(a.aps, b.aps, strict=True):
        assert close((pa.x, pa.y), (pb.x, pb.y))
    assert [(n.id, n.floor, n.entrance) for n in a.nodes] == [(n.id, n.floor, n.entrance) for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes, strict=True):
        assert close((na.x, na.y), (nb.x, nb.y))
    assert a.edges == b.edges


def test_round_trip_through_a_zip(small_map, tmp_path):
    path = write_imdf_zip(small_map, tmp_path / "mall.zip")
    again = import_imdf(path)
    assert_same_map(small_map, again)
    assert again.samples == []  # IMDF carries no fingerprints


def test_round_trip_with_a_rotated_plan_elsewhere_on_earth(small_map):
    origin = Origin(lon=-0.1276, lat=51.5072, rotation_deg=30.0)
    files = export_imdf(small_map, origin)
    assert_same_map(small_map, import_imdf(imdf_zip_bytes(files)))
    # the plan's far corner really lies ~134 m from the origin, rotated
    level = files["level.geojson"]["features"][0]["geometry"]["coordinates"][0]
    assert level[0] == pytest.approx([origin.lon, origin.lat])


def test_export_follows_the_imdf_layout(files, small_map):
    for name in ("manifest.json", "venue.geojson", "level.geojson", "unit.geojson", "opening.geojson",
                 "amenity.geojson", "occupant.geojson", "anchor.geojson", "address.geojson", *EXTENSION_FILES):
        assert name in files
    assert files["manifest.json"]["version"] == "1.0.0"
    assert "mallportal" in files["manifest.json"]["extensions"]
    validate_imdf(files)  # no exception
    ids = [f["id"] for name, doc in files.items() if name.endswith(".geojson") for f in doc["features"]]
    assert len(ids) == len(set(ids))
    assert all(str(uuid.UUID(i)) == i for i in ids)
    units = files["unit.geojson"]["features"]
    assert len(units) == len(small_map.zones)
    cats = {u["properties"]["name"]["en"]: u["properties"]["category"] for u in units}
    assert cats["Car park"] == "parking" and cats["Starlight Cinema"] == "movietheater"
    assert cats["Food court"] == "foodservice"
    assert all(u["geometry"]["type"] == "Polygon" for u in units)
    assert all(f["geometry"]["type"] == "LineString" for f in files["opening.geojson"]["features"])
    assert len(files["opening.geojson"]["features"]) >= 8  # a door in every shared inner wall
    amenity_cats = {f["properties"]["category"] for f in files["amenity.geojson"]["features"]}
    assert {"elevator", "escalator", "stairs"} <= amenity_cats
    occupants = files["occupant.geojson"]["features"]
    assert len(occupants) == len(small_map.shops) and all(o["geometry"] is None for o in occupants)
    # standard features carry only standard properties: our ids live in the extension file
    assert not any("zone_id" in u["properties"] for u in units)
    # the export is stable: the same map gives the same ids
    assert [u["id"] for u in export_imdf(small_map)["unit.geojson"]["features"]] == [u["id"] for u in units]


def _without_extension(files):
    for name in EXTENSION_FILES:
        del files[name]
    files["manifest.json"].pop("extensions")
    return files


def _problems(files) -> list[str]:
    with pytest.raises(ImdfError) as err:
        import_imdf(files)
    assert isinstance(err.value, ValueError)
    return err.value.problems


def test_bad_uuid_is_named(files):
    unit = files["unit.geojson"]["features"][0]
    unit["id"] = "unit-1"
    problems = _problems(files)
    assert any("unit.geojson" in p and "unit-1" in p and "not a UUID" in p for p in problems)


def test_missing_level_reference(files):
    unit = files["unit.geojson"]["features"][2]
    ghost = str(uuid.uuid4())
    unit["properties"]["level_id"] = ghost
    problems = _problems(files)
    assert any(f"unit.geojson: feature {unit['id']}" in p and "level_id" in p and ghost in p
               and "does not resolve" in p for p in problems)


def test_level_reference_to_the_wrong_feature_type(files):
    unit = files["unit.geojson"]["features"][0]
    unit["properties"]["level_id"] = files["venue.geojson"]["features"][0]["id"]
    assert any("is a feature of type venue, not level" in p for p in _problems(files))


def test_wrong_feature_type_reads_right_before_a_vowel(files):
    """An occupant whose anchor_id names a unit: "not anchor", never "not a anchor"."""
    occupant = files["occupant.geojson"]["features"][0]
    occupant["properties"]["anchor_id"] = files["unit.geojson"]["features"][0]["id"]
    problems = [p for p in _problems(files) if "anchor_id" in p]
    assert problems and all("a anchor" not in p for p in problems)
    assert any("is a feature of type unit, not anchor" in p for p in problems)


def test_wrong_geometry_type(files):
    unit = files["unit.geojson"]["features"][1]
    unit["geometry"] = {"type": "Point", "coordinates": [114.158, 22.28]}
    anchor = files["anchor.geojson"]["features"][0]
    anchor["geometry"] = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    opening = files["opening.geojson"]["features"][0]
    opening["geometry"] = None
    problems = _problems(files)
    assert any(unit["id"] in p and "'Point' is not allowed for unit features" in p for p in problems)
    assert any(anchor["id"] in p and "'Polygon' is not allowed for anchor features" in p for p in problems)
    assert any(opening["id"] in p and "geometry is null" in p for p in problems)


def test_unknown_categories(files):
    files["unit.geojson"]["features"][0]["properties"]["category"] = "spaceship"
    files["amenity.geojson"]["features"][0]["properties"]["category"] = "teleporter"
    files["occupant.geojson"]["features"][0]["properties"]["category"] = "Electronics"  # IMDF's are lowercase
    problems = _problems(files)
    assert any("'spaceship' is not an IMDF unit category" in p for p in problems)
    assert any("'teleporter' is not an IMDF amenity category" in p for p in problems)
    assert any("'Electronics' is not spelt as IMDF spells categories" in p for p in problems)


def test_occupant_anchor_unit_chain_must_resolve(files):
    occupant = files["occupant.geojson"]["features"][0]
    occupant["properties"]["anchor_id"] = str(uuid.uuid4())
    anchor = files["anchor.geojson"]["features"][1]
    anchor["properties"]["unit_id"] = str(uuid.uuid4())
    problems = _problems(files)
    assert any(occupant["id"] in p and "anchor_id" in p for p in problems)
    assert any(anchor["id"] in p and "unit_id" in p for p in problems)


def test_required_properties_and_files(files):
    del files["level.geojson"]["features"][0]["properties"]["ordinal"]
    files["unit.geojson"]["features"][0]["properties"]["name"] = "Car park"  # not a labels object
    del files["address.geojson"]
    problems = _problems(files)
    assert any("required property 'ordinal' is missing" in p for p in problems)
    assert any("'name' must be a labels object" in p for p in problems)
    assert any(p.startswith("address.geojson: required file is missing") for p in problems)


def test_structural_problems(files):
    files["unit.geojson"]["features"][0]["geometry"]["coordinates"][0].pop()  # ring no longer closed
    files["unit.geojson"]["features"][1]["feature_type"] = "level"
    files["unit.geojson"]["features"][2]["geometry"]["coordinates"][0][1] = [500.0, 22.0]
    files["manifest.json"]["version"] = "2.0.0"
    files["opening.geojson"] = {"type": "Feature"}
    problems = _problems(files)
    assert any("not closed" in p for p in problems)
    assert any("does not belong in unit.geojson" in p for p in problems)
    assert any("outside WGS84" in p for p in problems)
    assert any("manifest.json" in p and "2.0.0" in p for p in problems)
    assert any(p.startswith("opening.geojson: must be a GeoJSON FeatureCollection") for p in problems)


def test_duplicate_ids_and_overlapping_units(files):
    files["anchor.geojson"]["features"][0]["id"] = files["unit.geojson"]["features"][0]["id"]
    assert any("used twice" in p for p in _problems(files))


def test_self_intersecting_unit_is_refused(files):
    unit = files["unit.geojson"]["features"][0]
    ring = unit["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow tie
    problems = _problems(files)
    assert any(unit["id"] in p and "self-intersecting" in p for p in problems)


def test_unreadable_archives(tmp_path):
    with pytest.raises(ImdfError, match="not a zip"):
        import_imdf(b"this is not a zip")
    (tmp_path / "x.zip").write_text("nope")
    with pytest.raises(ImdfError, match="not a zip"):
        import_imdf(tmp_path / "x.zip")
    with pytest.raises(ImdfError, match="no such file"):
        import_imdf(tmp_path / "missing.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", "{not json")
    with pytest.raises(ImdfError, match="manifest.json: not valid JSON"):
        import_imdf(buf.getvalue())


def test_zip_with_a_top_folder_is_read(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, doc in files.items():
            zf.writestr(f"mall/{name}", json.dumps(doc))
    assert import_imdf(buf.getvalue()).id == "mini"


def test_every_problem_is_reported_at_once(files):
    files["unit.geojson"]["features"][0]["properties"]["category"] = "spaceship"
    files["unit.geojson"]["features"][1]["id"] = "nope"
    with pytest.raises(ImdfError) as err:
        import_imdf(files)
    assert len(err.value.problems) >= 2
    assert "spaceship" in str(err.value) and "nope" in str(err.value)


def test_archive_from_another_tool(files):
    """No MallPortal extension: zones from units, kinds from categories, walls from unit outlines."""
    venue = import_imdf(_without_extension(files), venue_id="other")
    assert venue.id == "other" and venue.aps == [] and venue.samples == []
    kinds = {z.name: z.kind for z in venue.zones}
    assert kinds["Car park"] == "garage" and kinds["Starlight Cinema"] == "cinema" and kinds["Atrium"] == "atrium"
    assert kinds["Food court"] == "food" and kinds["Kopi Coffee"] == "shop"
    assert all(z.id and z.id == z.id.lower() for z in venue.zones)
    garage = next(z for z in venue.zones if z.name == "Car park")
    xs = [p[0] for p in garage.polygon]
    assert min(xs) == pytest.approx(0, abs=CM) and max(xs) == pytest.approx(40, abs=CM)
    assert venue.floors[0].walls  # derived from the units' outlines
    shop = next(s for s in venue.shops if s.name == "Pixel Electronics")
    assert shop.category == "computersandaccessories" and shop.zone == next(
        z.id for z in venue.zones if z.name == "Pixel Electronics")


def test_floor_links_survive_without_the_extension(files, small_map):
    """The lifts, stairs and escalators go out as IMDF relationships between the units they open onto: another
    tool, or our own import of the archive without the extension, still finds every floor joined to the others
    (before, the links lived in the walkway extension only, and a plan passed through another tool came back
    as floors no route joins)."""
    rels = files["relationship.geojson"]["features"]
    assert {r["properties"]["category"] for r in rels} == {"elevator", "escalator", "stairs"}
    unit_ids = {u["id"] for u in files["unit.geojson"]["features"]}
    assert all({r["properties"]["origin"]["id"], r["properties"]["destination"]["id"]} <= unit_ids for r in rels)
    assert len({r["id"] for r in rels}) == len(rels)
    venue = import_imdf(_without_extension(files), venue_id="other")
    parent = {n.id: n.id for n in venue.nodes}

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for e in venue.edges:
        parent[root(e.a)] = root(e.b)
    floors_of_part = {}
    for n in venue.nodes:
        floors_of_part.setdefault(root(n.id), set()).add(n.floor)
    assert {f.level for f in small_map.floors} in floors_of_part.values()


def test_merge_keeps_samples_and_aps(small_map):
    imported = import_imdf(export_imdf(small_map))
    imported.aps = []
    imported.zones = [z for z in imported.zones if z.id != "garage"]  # the car park was dropped
    merged = merge_imported(copy.deepcopy(small_map), imported)
    assert merged.aps == small_map.aps
    assert len(merged.samples) == len(small_map.samples)
    assert all(s.zone is None for s in merged.samples if s.floor == 0 and s.x < 40)
    assert small_map.samples[0].zone == "garage"  # the current map is not changed


def test_malformed_extension_data_is_a_clear_error(files):
    ext = files["mallportal_venue.geojson"]["features"][0]["properties"]
    ext["floors"] = [{"level_id": files["level.geojson"]["features"][0]["id"], "width_m": "wide"}]
    with pytest.raises(ImdfError, match="size or scale is not a finite number"):
        import_imdf(files)
    ext["floors"] = 5
    with pytest.raises(ImdfError, match="extension data is malformed"):
        import_imdf(files)


def test_entrances_round_trip_exactly(small_map):
    """The walkway extension says which nodes are entrances ("entrance": true, left out where false: most nodes are
    not); the import reads them back, one for one."""
    venue = copy.deepcopy(small_map)
    marked = {venue.nodes[3].id, venue.nodes[-1].id, *(n.id for n in venue.nodes if n.entrance)}
    for node in venue.nodes:
        node.entrance = node.id in marked
    assert len(marked) == 3 and {n.floor for n in venue.nodes if n.id in marked} == {0, 1}  # the street door, 2 more
    files = export_imdf(venue)
    written = [f["properties"] for f in files["mallportal_walkways.geojson"]["features"]
               if f["feature_type"] == "mallportal:walknode"]
    assert {p["node_id"] for p in written if "entrance" in p} == marked
    assert all(p["entrance"] is True for p in written if "entrance" in p)
    again = import_imdf(imdf_zip_bytes(files))
    assert [(n.id, n.entrance) for n in again.nodes] == [(n.id, n.entrance) for n in venue.nodes]
    for got, want in zip(again.entrance_spots(), venue.entrance_spots(), strict=True):
        assert got[0] == want[0] and close(got[1:], want[1:])


@pytest.mark.parametrize("value", [False, None])
def test_an_entrance_written_false_or_null_is_not_one(files, value):
    node = next(f for f in files["mallportal_walkways.geojson"]["features"] if f["properties"].get("entrance"))
    node["properties"]["entrance"] = value
    assert import_imdf(files).entrance_spots() == []


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", [True]])
def test_an_entrance_that_is_not_true_or_false_is_refused_naming_its_node(files, value):
    """A typo is not guessed at (1 or "yes" read as true, "false" as true by Python's bool): nothing is imported, and
    the problem names the walkway node's feature."""
    node = next(f for f in files["mallportal_walkways.geojson"]["features"]
                if f["feature_type"] == "mallportal:walknode" and not f["properties"].get("entrance"))
    node["properties"]["entrance"] = value
    problems = _problems(files)
    assert problems == [f"mallportal_walkways.geojson: feature {node['id']}: entrance must be true or false, "
                        f"not {value!r}"]
    with pytest.raises(ImdfError, match="entrance must be true or false"):
        validate_imdf(files)


def test_each_entrance_is_exported_as_a_principal_pedestrian_opening(small_map):
    """Other tools see the doors: each entrance is a "pedestrian.principal" opening on the building's exterior edge
    where it bounds the node's zone (the gap the walls leave there when they draw one, else 3 m at the point nearest
    the node), or 3 m along x at the node itself when no such edge is within 10 m. Our own import reads the
    entrances from the extension (the openings add none); without the extension they come from the openings."""
    venue = copy.deepcopy(small_map)  # the demo's street door: 1 m inside a 4 m gap in the atrium's south wall
    venue.nodes += [WalkNode("lumen-front", 0, 119.0, 40.0, entrance=True),  # 1 m inside a wall with no gap
                    WalkNode("food-court", 1, 60.0, 30.0, entrance=True)]  # 30 m from any exterior edge
    files = export_imdf(venue)
    validate_imdf(files)
    ordinal = {f["id"]: f["properties"]["ordinal"] for f in files["level.geojson"]["features"]}
    principal = [f for f in files["opening.geojson"]["features"]
                 if f["properties"]["category"] == "pedestrian.principal"]
    doors = sorted((ordinal[f["properties"]["level_id"]],
                    *sorted(DEFAULT_ORIGIN.to_plan(*p) for p in f["geometry"]["coordinates"])) for f in principal)
    want = [(0, (58.0, 60.0), (62.0, 60.0)), (0, (120.0, 38.5), (120.0, 41.5)), (1, (58.5, 30.0), (61.5, 30.0))]
    assert len(doors) == len(want) == len(venue.entrance_spots())
    for got, expected in zip(doors, want, strict=True):
        assert got[0] == expected[0] and close(got[1], expected[1]) and close(got[2], expected[2])

    again = import_imdf(files)  # the extension is authoritative: the same nodes, the same entrances, the same walls
    assert_same_map(venue, again)
    foreign = import_imdf(_without_extension(files), venue_id="other")
    spots = sorted(foreign.entrance_spots())
    assert [s[0] for s in spots] == [0, 0, 1]
    for (_, x, y), (_, a, b) in zip(spots, want, strict=True):
        assert close((x, y), ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
    # the walls another tool's plan is given (the units' outlines) are open at the street door, shut beside it
    walls = foreign.floors[0].walls
    assert not segment_crosses_walls(walls, (60.0, 59.0), (60.0, 61.0))
    assert segment_crosses_walls(walls, (70.0, 59.0), (70.0, 61.0))


def _principal_doors(files) -> list[tuple[tuple[float, float], ...]]:
    """The "pedestrian.principal" openings of an exported archive, each as its two ends in plan metres (sorted)."""
    return [tuple(sorted(DEFAULT_ORIGIN.to_plan(*p) for p in f["geometry"]["coordinates"]))
            for f in files["opening.geojson"]["features"] if f["properties"]["category"] == "pedestrian.principal"]


def test_an_entrance_door_is_on_the_true_exterior_when_zones_are_drawn_a_little_apart():
    """Two shops drawn 2 cm apart are one building: the export closes the gap as the import does (one constant,
    shapes.OUTLINE_CLOSE_M), so the door of an entrance 0.5 m from that gap is on the street front 1 m away, not on
    the wall between the shops; an import without the extension finds the same door an entrance."""
    venue = VenueMap("apart", "Apart", "Apart", [Floor(0, "G", 40.0, 10.0)],
                     zones=[Zone("west", "West", "West", 0, [(0, 0), (20, 0), (20, 10), (0, 10)]),
                            Zone("east", "East", "East", 0, [(20.02, 0), (40, 0), (40, 10), (20.02, 10)])],
                     nodes=[WalkNode("front", 0, 19.5, 1.0, entrance=True)])
    files = export_imdf(venue)
    validate_imdf(files)
    [(a, b)] = _principal_doors(files)
    assert close(a, (17.0, 0.0)) and close(b, (20.0, 0.0))
    foreign = import_imdf(_without_extension(files), venue_id="other")
    [(_, x, y)] = foreign.entrance_spots()
    assert close((x, y), (18.5, 0.0))


def test_the_cut_to_a_zones_hole_is_no_exterior_edge():
    """A zone is one ring (shapes.single_ring): a void inside it is joined to the outline by a 5 cm cut. The cut
    is closed like any narrow gap, so the void's edge is not the building's exterior: an entrance 1 m from the void
    and 9 m from the street front has its door on the street front."""
    ring = single_ring(Polygon([(0, 0), (40, 0), (40, 20), (0, 20)], [[(15, 2), (25, 2), (25, 8), (15, 8)]]))
    assert any(y == 0.0 and 14.9 < x < 15.1 for x, y in ring)  # the cut runs from the void to the street front
    venue = VenueMap("void", "Void", "Void", [Floor(0, "G", 40.0, 20.0)],
                     zones=[Zone("hall", "Hall", "Hall", 0, ring, kind="atrium")],
                     nodes=[WalkNode("front", 0, 20.0, 9.0, entrance=True)])
    [(a, b)] = _principal_doors(export_imdf(venue))
    assert close(a, (18.5, 0.0)) and close(b, (21.5, 0.0))


def test_an_import_without_walkways_keeps_the_current_ones_with_their_entrances(small_map):
    """merge_imported (the console's and the CLI's IMDF import): walkways the archive has replace the map's, with
    their entrance flags, and the entrances marked on the map stay marked on the archive's nodes of the same id
    nearby (`edits._keep_entrances`); an archive with none keeps the map's, entrances included."""
    files = export_imdf(small_map)
    files["mallportal_walkways.geojson"]["features"] = []
    imported = import_imdf(files)
    assert imported.nodes == []
    merged = merge_imported(small_map, imported)
    assert [(n.id, n.entrance) for n in merged.nodes] == [(n.id, n.entrance) for n in small_map.nodes]
    assert len(merged.entrance_spots()) == 1
    for got, want in zip(merged.entrance_spots(), small_map.entrance_spots(), strict=True):
        assert got[0] == want[0] and close(got[1:], want[1:])

    redrawn = copy.deepcopy(small_map)
    for node in redrawn.nodes:
        node.entrance = node.id == redrawn.nodes[0].id
    merged = merge_imported(small_map, import_imdf(export_imdf(redrawn)))
    # the archive's entrance, and the one marked on the map on the node of the same id (unmarked in the console)
    assert {n.id for n in merged.nodes if n.entrance} == {redrawn.nodes[0].id, "street0-60-60"}
    assert [n.id for n in small_map.nodes if n.entrance] == ["street0-60-60"]  # the current map is not changed


def test_a_reimport_keeps_the_entrances_the_operator_marked(small_map):
    """A plan from another tool gets a derived walkway graph (stable node ids) marking only the doors its openings
    say: merged again, over a map where the operator marked another node, that mark stays (on the node of the same
    id), as it does when walkways are derived again (replace_walkways)."""
    files = export_imdf(small_map)
    del files["mallportal_walkways.geojson"]
    files["manifest.json"]["extensions"] = []
    foreign = import_imdf(files)
    mark = next(n.id for n in foreign.nodes if not n.entrance)
    marked = copy.deepcopy(foreign)
    edits.set_entrance(marked, mark)
    again = merge_imported(marked, import_imdf(files))
    assert {n.id for n in again.nodes if n.entrance} == {n.id for n in foreign.nodes if n.entrance} | {mark}
    edits.replace_walkways(marked, [asdict(n) for n in foreign.nodes], [asdict(e) for e in foreign.edges])
    assert mark in {n.id for n in marked.nodes if n.entrance}



@pytest.mark.parametrize(("moved_m", "floor", "kept"), [(1.0, 0, True), (10.0, 0, False), (1.0, 1, False)])
def test_a_mark_stays_on_a_node_of_the_same_id_only_where_it_stands(small_map, moved_m, floor, kept):
    """A derived node id is positional (the k-th point of a unit's walkway): after a plan edit the same id can name
    another spot. The operator's mark is carried to the incoming node of its id only on the same floor within
    edits.KEEP_ENTRANCE_M (3 m) of the marked one: moved 1 m it is the same door, moved 10 m (or to another floor)
    it is not; the marks on nodes that stay put stay."""
    before = {n.id for n in small_map.nodes if n.entrance}
    mark = next(n for n in small_map.nodes if not n.entrance and n.floor == 0)
    edits.set_entrance(small_map, mark.id)
    incoming = [asdict(n) | {"entrance": False} for n in small_map.nodes]
    moved = next(n for n in incoming if n["id"] == mark.id)
    moved["x"], moved["floor"] = moved["x"] + moved_m, floor
    edits.replace_walkways(small_map, incoming, [asdict(e) for e in small_map.edges])
    assert before and {n.id for n in small_map.nodes if n.entrance} == before | ({mark.id} if kept else set())

def test_bad_extension_features(files):
    ap = files["mallportal_aps.geojson"]["features"][0]
    ap["properties"]["bssid"] = "zz:zz"
    files["mallportal_aps.geojson"]["features"][1]["properties"]["bssid"] = ap["properties"]["bssid"]
    edge = next(f for f in files["mallportal_walkways.geojson"]["features"]
                if f["feature_type"] == "mallportal:walkedge")
    edge["properties"]["a"] = "nowhere"
    problems = _problems(files)
    assert any(ap["id"] in p and "malformed BSSID" in p for p in problems)
    assert any("edge nowhere ->" in p for p in problems)
