"""The walkway graph derived from the plan: IMDF openings, unit categories and relationships give a
routable graph with no manual step; corridor polygons give their centre lines."""

from __future__ import annotations

import networkx as nx
import pytest
from shapely.geometry import Polygon

from fingerprints.imdf import ImdfError, export_imdf, import_imdf
from fingerprints.imdf.navgraph import centre_lines
from fingerprints.routes import build_graph, shortest_route
from tests.maps.imdf_builder import ORIGIN, add_opening, add_unit, fid, mall_archive


def _centre(zone):
    p = Polygon(zone.polygon).representative_point()
    return (zone.floor, p.x, p.y)


def test_imdf_archive_imports_to_a_routable_graph():
    venue = import_imdf(mall_archive(levels=3), venue_id="harbour")
    assert venue.nodes and venue.edges
    graph = build_graph(venue)
    assert nx.is_strongly_connected(graph.subgraph([n for n in graph if graph.degree(n) > 0]))
    shops = [z for z in venue.zones if z.kind == "shop"]
    assert len(shops) == 3 * 5
    first = shops[0]
    for zone in venue.zones:  # every unit reachable from the first, on every level
        route = shortest_route(venue, _centre(first), _centre(zone))
        assert route is not None, zone.id
    top = next(z for z in shops if z.floor == 2)
    step_free = shortest_route(venue, _centre(first), _centre(top), accessible_only=True)
    assert step_free is not None
    assert step_free.steps and all(s.startswith("elevator") for s in step_free.steps)
    kinds = {e.kind for e in venue.edges}
    assert {"walk", "elevator", "stairs"} <= kinds


def test_without_relationships_stacked_lifts_and_stairs_join_the_floors():
    """Apple's sample archive has no relationships but draws the lift and the stairwell on every floor: units
    of those categories stacked on consecutive floors are joined (both ways); a unit not stacked is not."""
    files = mall_archive(levels=2, with_relationships=False)
    venue = import_imdf(files, venue_id="harbour")
    a = next(z for z in venue.zones if z.floor == 0)
    b = next(z for z in venue.zones if z.floor == 1)
    assert shortest_route(venue, _centre(a), _centre(b)) is not None
    assert shortest_route(venue, _centre(b), _centre(a)) is not None
    assert sorted(e.kind for e in venue.edges if e.kind != "walk") == ["elevator", "stairs"]
    step_free = shortest_route(venue, _centre(a), _centre(b), accessible_only=True)
    assert step_free is not None and all(s.startswith("elevator") for s in step_free.steps)

    upper = next(u for u in files["unit.geojson"]["features"] if u["id"] == fid("unit", 1, "lift"))
    upper["properties"]["category"] = "room"  # the shaft ends below: nothing stacked on it
    files["unit.geojson"]["features"] = [u for u in files["unit.geojson"]["features"]
                                         if u["id"] != fid("unit", 1, "stairs")]
    venue = import_imdf(files, venue_id="harbour")
    assert not [e for e in venue.edges if e.kind != "walk"]
    assert shortest_route(venue, _centre(a), _centre(b)) is None


def test_relationship_naming_a_missing_feature_is_refused():
    files = mall_archive()
    files["relationship.geojson"]["features"][0]["properties"]["destination"]["id"] = (
        "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ImdfError, match="destination"):
        import_imdf(files)


def test_corridor_polygon_gives_its_centre_line():
    corridor = Polygon([(0, 10), (60, 10), (60, 14), (0, 14)])
    lines = centre_lines(corridor)
    assert len(lines) == 1
    (_, y0), (_, y1) = lines[0].coords[0], lines[0].coords[-1]
    assert abs(y0 - 12) < 0.3 and abs(y1 - 12) < 0.3
    assert lines[0].length > 50
    ell = Polygon([(0, 0), (4, 0), (4, 26), (30, 26), (30, 30), (0, 30)])
    (line,) = centre_lines(ell)
    assert line.length > 40 and ell.buffer(1e-6).contains(line)


def _relationship(files: dict) -> dict:
    return files["relationship.geojson"]["features"][0]["properties"]


def test_files_beside_the_data_are_not_read():
    """Apple's sample archive ships a LICENSE.txt: only the manifest and the .geojson files are IMDF data."""
    files = {**mall_archive(), "LICENSE.txt": b"Copyright (c) ...\n", "README.md": "# a plan\n"}
    assert import_imdf(files, venue_id="harbour").zones


def test_relationship_ends_may_be_null_and_its_geometry_any():
    """The spec: origin and destination are "null or FEATURE-REFERENCE", the geometry any GeoJSON geometry."""
    files = mall_archive()
    _relationship(files)["origin"] = None
    files["relationship.geojson"]["features"][1]["geometry"] = {
        "type": "MultiLineString", "coordinates": [[[114.17, 22.3], [114.1701, 22.3001]]]}
    venue = import_imdf(files, venue_id="harbour")
    assert any(e.kind == "stairs" for e in venue.edges)  # the relationship with both ends still joins the floors


def _escalator(files: dict, intermediary: list | None, geometry: dict | None) -> None:
    """An up escalator from the ground floor's corridor to the next floor's (relationship 0 rewritten)."""
    files["relationship.geojson"]["features"][0]["geometry"] = geometry
    _relationship(files).update({
        "category": "escalator", "direction": "directed", "intermediary": intermediary,
        "origin": {"id": fid("unit", 0, "corridor"), "feature_type": "unit"},
        "destination": {"id": fid("unit", 1, "corridor"), "feature_type": "unit"}})


def _escalator_ends(venue) -> list[tuple[int, float]]:
    """(floor, x from the west end of the corridors) of the escalator edges' ends."""
    west = min(Polygon(z.polygon).bounds[0] for z in venue.zones if z.name == "Mall L0")
    nodes = {n.id: n for n in venue.nodes}
    return [(nodes[end].floor, nodes[end].x - west) for e in venue.edges if e.kind == "escalator"
            for end in (e.a, e.b)]


def test_a_door_joins_the_corridor_where_it_opens():
    """A straight corridor's centre line has nodes at its ends only (x 2 and 58 here): each door joins it where the
    door is (a node made there), so two shops 15 m apart are a 29 m walk (door to door along the corridor, 5 m in
    each shop), not one to the corridor's end and back (107 m before)."""
    venue = import_imdf(mall_archive(levels=1), venue_id="harbour")
    shops = {z.name: z for z in venue.zones}
    route = shortest_route(venue, _centre(shops["Books 0"]), _centre(shops["Shoes 0"]))
    assert route is not None and route.length_m == pytest.approx(29.0, abs=1.0)


def test_a_relationship_joins_a_corridor_where_the_escalator_is():
    """A relationship naming a corridor joins its centre line at the point nearest the relationship's geometry, or
    without one nearest the next feature of its chain (here the unit at the corridor's east end, x 50-60), not at
    the node nearest the corridor's representative point (its west end, x 2, in this corridor)."""
    files = mall_archive()
    _escalator(files, None, {"type": "LineString", "coordinates": [ORIGIN.to_lonlat(36, 12), ORIGIN.to_lonlat(39, 12)]})
    ends = sorted(_escalator_ends(import_imdf(files, venue_id="harbour")))
    assert [floor for floor, _ in ends] == [0, 1] and [x for _, x in ends] == pytest.approx([36, 39], abs=0.3), ends

    files = mall_archive()
    _escalator(files, [{"id": fid("unit", 0, "stairs"), "feature_type": "unit"}], None)
    venue = import_imdf(files, venue_id="harbour")
    ends = _escalator_ends(venue)
    assert 1 in {floor for floor, _ in ends} and all(x > 45 for _, x in ends), ends
    west, east = (_centre(z) for z in venue.zones if z.name in ("Mall L0", "Mall L1"))
    route = shortest_route(venue, (0, west[1] + 25, west[2]), (1, east[1] + 25, east[2]))
    assert route is not None and any(s.startswith("escalator") for s in route.steps)


@pytest.mark.parametrize(("drawn", "kind", "at"), [([(36, 12), (39, 12)], "LineString", [36, 39]),
                                                   ([(36, 12)], "Point", [36, 36])])
def test_an_exported_archive_draws_its_relationships_where_the_links_are(drawn, kind, at):
    """Our export, read by a tool without our walkway extension (our own import of it without the `mallportal_*`
    files): each relationship is drawn where its link is (a line from one end to the other, a point where they are
    stacked), so the import joins the corridors where the escalator is again."""
    files = mall_archive()
    geometry = ({"type": "Point", "coordinates": ORIGIN.to_lonlat(*drawn[0])} if len(drawn) == 1 else
                {"type": "LineString", "coordinates": [ORIGIN.to_lonlat(*p) for p in drawn]})
    _escalator(files, None, geometry)
    exported = export_imdf(import_imdf(files, venue_id="harbour"))
    (escalator,) = [r for r in exported["relationship.geojson"]["features"]
                    if r["properties"]["category"] == "escalator"]
    assert escalator["geometry"]["type"] == kind
    plain = {name: doc for name, doc in exported.items() if not name.startswith("mallportal_")}
    ends = sorted(_escalator_ends(import_imdf(plain, venue_id="harbour")))
    assert [floor for floor, _ in ends] == [0, 1] and [x for _, x in ends] == pytest.approx(at, abs=0.3), ends


@pytest.mark.parametrize(("key", "value"), [("intermediary", 5), ("intermediary", {"id": "x"}),
                                            ("origin", {"id": ["a"], "feature_type": "unit"})])
def test_a_malformed_relationship_is_a_clear_error(key, value):
    files = mall_archive()
    _relationship(files)[key] = value
    with pytest.raises(ImdfError, match=key):
        import_imdf(files, venue_id="harbour")


def test_unit_categories_become_the_zone_kinds_they_are():
    """A walkway is walked through (a corridor, not a place to dwell); back of house is a service room and a toilet
    a restroom (the directory finds those), neither a shop."""
    files = mall_archive(levels=1)
    units = files["unit.geojson"]["features"]
    units[1]["properties"]["category"], units[2]["properties"]["category"] = "nonpublic", "restroom.female"
    kinds = {z.name: z.kind for z in import_imdf(files, venue_id="harbour").zones}
    assert kinds["Mall L0"] == "corridor" and kinds["Kopi 0"] == "service" and kinds["Books 0"] == "restroom"


def test_names_in_other_languages_are_kept():
    """Labels are language-tagged; an archive in French (or only zh-Hans) keeps its names."""
    files = mall_archive(levels=1)
    files["venue.geojson"]["features"][0]["properties"]["name"] = {"fr": "Galerie du Port"}
    for unit in files["unit.geojson"]["features"]:
        name = unit["properties"]["name"]
        if name:
            unit["properties"]["name"] = {"fr": name["en"] + " (fr)"}
    venue = import_imdf(files, venue_id="harbour")
    assert venue.name == "Galerie du Port" and "Kopi 0 (fr)" in {z.name for z in venue.zones}


def test_an_up_and_a_down_escalator_between_the_same_units_are_both_kept():
    files = mall_archive(levels=2, with_relationships=False)
    up, down = (fid("unit", 0, "stairs"), fid("unit", 1, "stairs"))
    files["relationship.geojson"]["features"] = [
        {"id": fid("rel", name), "type": "Feature", "feature_type": "relationship", "geometry": None, "properties": {
            "category": "escalator", "direction": "directed", "origin": {"id": a, "feature_type": "unit"},
            "intermediary": None, "destination": {"id": b, "feature_type": "unit"}, "hours": None}}
        for name, a, b in (("up", up, down), ("down", down, up))]
    venue = import_imdf(files, venue_id="harbour")
    escalators = [e for e in venue.edges if e.kind == "escalator"]
    assert len(escalators) == 2 and all(e.oneway for e in escalators)
    kopi = {z.floor: z for z in venue.zones if z.name.startswith("Kopi")}
    assert shortest_route(venue, _centre(kopi[1]), _centre(kopi[0])) is not None
    assert shortest_route(venue, _centre(kopi[0]), _centre(kopi[1])) is not None


def _walkway(files, key, rect, name):
    from tests.maps.imdf_builder import ORIGIN

    ring = [ORIGIN.to_lonlat(x, y) for x, y in ((rect[0], rect[1]), (rect[2], rect[1]), (rect[2], rect[3]),
                                                 (rect[0], rect[3]))]
    files["unit.geojson"]["features"].append({
        "id": fid("unit", 0, key), "type": "Feature", "feature_type": "unit",
        "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
        "properties": {"category": "walkway", "restriction": None, "accessibility": None, "name": {"en": name},
                       "alt_name": None, "level_id": fid("level", 0), "display_point": None}})


def test_no_route_crosses_a_void_or_a_staff_room():
    """A floor open to the one below has no node; a staff-only room without openings that touches two
    walkways is reached from one of them, never a way through between them."""
    files = mall_archive(levels=1)
    units = {u["properties"]["name"]["en"] if u["properties"]["name"] else u["id"]: u
             for u in files["unit.geojson"]["features"]}
    units["Atrium 0"]["properties"]["category"] = "opentobelow"
    units["Toys 0"]["properties"]["category"] = "nonpublic"
    files["opening.geojson"]["features"] = [o for o in files["opening.geojson"]["features"]
                                            if o["id"] != fid("opening", 0, "Toys")]
    _walkway(files, "north", (0, 24, 60, 28), "North walk")
    venue = import_imdf(files, venue_id="harbour")
    assert not [n for n in venue.nodes if 40 < n.x < 60 and 14 < n.y < 24]  # nothing in the void
    toys = {n.id for n in venue.nodes if 0 < n.x < 20 and 14 < n.y < 24}
    links = [e for e in venue.edges if (e.a in toys) != (e.b in toys)]
    assert toys and len(links) == 1


def test_a_name_without_chinese_keeps_english_as_its_chinese_name():
    files = mall_archive(levels=1)
    files["venue.geojson"]["features"][0]["properties"]["name"] = {"fr": "Galerie", "en": "Harbour Walk"}
    venue = import_imdf(files, venue_id="harbour")
    assert venue.name == "Harbour Walk" and venue.name_zh == "Harbour Walk"


def test_a_staff_room_with_two_doors_is_not_a_way_through():
    files = mall_archive(levels=1)
    units = {u["properties"]["name"]["en"]: u for u in files["unit.geojson"]["features"] if u["properties"]["name"]}
    units["Toys 0"]["properties"]["category"] = "nonpublic"
    _walkway(files, "north", (0, 24, 60, 28), "North walk")
    from tests.maps.imdf_builder import ORIGIN

    files["opening.geojson"]["features"].append({  # a second door, onto the north walk
        "id": fid("opening", 0, "Toys-north"), "type": "Feature", "feature_type": "opening",
        "geometry": {"type": "LineString", "coordinates": [ORIGIN.to_lonlat(9, 24), ORIGIN.to_lonlat(11, 24)]},
        "properties": {"category": "pedestrian", "accessibility": None, "access_control": None, "door": None,
                       "name": None, "alt_name": None, "display_point": None, "level_id": fid("level", 0)}})
    venue = import_imdf(files, venue_id="harbour")
    toys = {n.id for n in venue.nodes if 0 < n.x < 20 and 14 < n.y < 24}
    assert toys and len([e for e in venue.edges if (e.a in toys) != (e.b in toys)]) == 1


def _entrance_archive(station_category: str = "pedestrian.principal") -> tuple[dict, dict[str, str], dict[str, str]]:
    """mall_archive with doors to the outside and inside on the ground floor, and a station concourse drawn south of
    the atrium: (files, the doors that are entrances, those that are not), each {key: feature id}."""
    files = mall_archive(levels=2)
    add_unit(files, "concourse", 0, "platform", (40, 24, 60, 30), {"en": "MTR concourse"})
    entrances = {
        "street": add_opening(files, "street", 0, (0, 11), (0, 13)),  # the corridor's west end, on the outline
        "transit": add_opening(files, "transit", 0, (9, 24), (11, 24), "pedestrian.transit"),  # Toys' south front
        "station": add_opening(files, "station", 0, (49, 24), (51, 24), station_category),  # atrium | concourse
    }
    others = {
        "between-shops": add_opening(files, "between-shops", 0, (15, 4), (15, 6)),  # Kopi | Books: inside
        "fire": add_opening(files, "fire", 0, (60, 11), (60, 13), "emergencyexit"),  # the corridor's east end
        "loading": add_opening(files, "loading", 0, (20, 0), (22, 0), "service"),  # Books' north front
        "shop-door": fid("opening", 0, "Kopi"),  # Kopi | corridor, as the builder draws every shop's
    }
    return files, entrances, others


def _opening_node(feature_id: str) -> str:
    return "o-" + feature_id.replace("-", "")


def test_entrances_are_the_principal_and_the_exterior_pedestrian_doors():
    """Another tool's archive (no walkway extension): an opening's node is an entrance where the opening is a
    principal pedestrian entrance (wherever it is: here between the atrium and a station concourse), or another
    pedestrian opening on the building's exterior (its middle on one unit's outline and on the floor's outer
    outline); never a door between two units, an emergency exit or a service door, even on the outline."""
    files, entrances, others = _entrance_archive()
    venue = import_imdf(files, venue_id="harbour")
    nodes = {n.id: n for n in venue.nodes}
    assert all(_opening_node(f) in nodes for f in others.values())  # they are doors all the same, not entrances
    assert {n.id for n in venue.nodes if n.entrance} == {_opening_node(f) for f in entrances.values()}
    assert sorted(venue.entrance_spots()) == [(0, 0.0, 12.0), (0, 10.0, 24.0), (0, 50.0, 24.0)]


def test_a_pedestrian_door_between_two_units_is_no_entrance_unless_principal():
    files, entrances, _ = _entrance_archive(station_category="pedestrian")
    venue = import_imdf(files, venue_id="harbour")
    assert {n.id for n in venue.nodes if n.entrance} == {_opening_node(entrances[k]) for k in ("street", "transit")}


def _listed_first(files: dict, opening: str) -> None:
    """The opening moved to the head of the archive's openings (an archive listing a street door first)."""
    ops = files["opening.geojson"]["features"]
    ops.insert(0, ops.pop(next(i for i, o in enumerate(ops) if o["id"] == opening)))


@pytest.mark.parametrize("street_first", [False, True])
@pytest.mark.parametrize("category", ["pedestrian", "pedestrian.transit"])
def test_an_exterior_door_of_a_staff_room_is_no_entrance(category, street_first):
    """A staff-only room (nonpublic) with its door onto the corridor and a second door on the building's outline:
    that door is a staff door, not where shoppers come in; no entrance is left without an edge (the room keeps its
    door onto the corridor, whichever the archive lists first, so the street door joins nothing)."""
    files = mall_archive(levels=1)
    units = {u["properties"]["name"]["en"]: u for u in files["unit.geojson"]["features"] if u["properties"]["name"]}
    units["Toys 0"]["properties"]["category"] = "nonpublic"
    street = add_opening(files, "Toys-street", 0, (9, 24), (11, 24), category)  # Toys' front on the outline
    if street_first:
        _listed_first(files, street)
    venue = import_imdf(files, venue_id="harbour")
    assert _opening_node(street) in {n.id for n in venue.nodes}
    assert not venue.entrance_spots()
    ends = {e.a for e in venue.edges} | {e.b for e in venue.edges}
    assert all(n.id in ends for n in venue.nodes if n.entrance)
    assert shortest_route(venue, (0, 10.0, 20.0), (0, 30.0, 12.0)) is not None  # the room is still on the mall


@pytest.mark.parametrize("street_first", [False, True])
def test_a_principal_entrance_into_a_staff_room_is_joined_to_it(street_first):
    """A principal entrance (an entrance wherever it is) that is a staff-only room's second door: joined to the room
    all the same, a dead end off it, so that a route can start there; the room is still no way between walkways.
    The archive listing the street door first changes nothing: the room keeps its door onto the corridor (linked
    first, as a door between two units), not the street door, which cut the room and the entrance off the mall."""
    files = mall_archive(levels=1)
    units = {u["properties"]["name"]["en"]: u for u in files["unit.geojson"]["features"] if u["properties"]["name"]}
    units["Toys 0"]["properties"]["category"] = "nonpublic"
    street_fid = add_opening(files, "Toys-street", 0, (9, 24), (11, 24), "pedestrian.principal")
    if street_first:
        _listed_first(files, street_fid)
    street = _opening_node(street_fid)
    venue = import_imdf(files, venue_id="harbour")
    assert [n.id for n in venue.nodes if n.entrance] == [street]
    toys = {n.id for n in venue.nodes if 0 < n.x < 20 and 14 < n.y < 24}
    at_street = [e for e in venue.edges if street in (e.a, e.b)]
    assert len(at_street) == 1 and {at_street[0].a, at_street[0].b} - {street} <= toys
    corridor = {n.id for n in venue.nodes if 10 <= n.y <= 14 and n.id not in toys | {street}}
    assert len([e for e in venue.edges if (e.a in toys and e.b in corridor) or (e.b in toys and e.a in corridor)]) == 1
    assert shortest_route(venue, (0, 10.0, 24.0), (0, 30.0, 12.0)) is not None
