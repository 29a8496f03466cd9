"""A VenueMap as an IMDF archive: the standard feature files plus our extension files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import linemerge, unary_union

from core.errors import N_, CatalogInputError
from fingerprints.georef import DEFAULT_ORIGIN, Origin, exported_feature_id
from fingerprints.imdf.build import chinese_tag, floor_names, unit_names
from fingerprints.imdf.schema import (
    CONNECTOR_KINDS,
    EXTENSION,
    GENERIC_UNIT_CATEGORIES,
    IMDF_VERSION,
    OCCUPANT_CATEGORIES,
    OCCUPANT_CATEGORY_FOR,
    UNIT_CATEGORY_FOR_KIND,
    kind_for_unit_category,
)
from fingerprints.imdf.shapes import OUTLINE_CLOSE_M, outer_outline
from fingerprints.model import Floor, VenueMap, WalkNode, Zone


def _labels(en: str, zh: str | None = None) -> dict[str, str]:
    out = {"en": en}
    if zh and zh != en:
        out["zh-Hans"] = zh
    return out


def _written_back(own: dict[str, str], read: tuple[str, str], now: tuple[str, str]) -> dict[str, str] | None:
    """The name labels a feature was imported with (`own`: {"ru": ...}, {"en", "zh-Hant", "zh-Hans"}), as they were
    while the names read from them (`read`, English and Chinese) are still the feature's (`now`); a name changed
    since is written over the label it was read from (English over an "en" one, else as "en"; Chinese over the
    Chinese one, else as zh-Hans). None: no name at all (an unnamed unit, named after its category)."""
    out = dict(own)
    if now[0] != read[0]:
        out[next((t for t in own if t.lower() == "en" or t.lower().startswith("en-")), "en")] = now[0]
    if now[1] != read[1] and now[1] and now[1] != now[0]:
        out[chinese_tag(own) or "zh-Hans"] = now[1]
    return out or None


def _zone_labels(zone: Zone) -> dict[str, str] | None:
    if not zone.imdf_category:  # drawn in the console, or stored before an import kept its unit's labels
        return _labels(zone.name, zone.name_zh)
    return _written_back(zone.imdf_names, unit_names(zone.imdf_names, zone.imdf_category), (zone.name, zone.name_zh))


def _floor_labels(floor: Floor) -> dict[str, str]:
    if not floor.imdf_names:
        return _labels(floor.name, floor.name_zh)
    return _written_back(floor.imdf_names, floor_names(floor.imdf_names, floor.level),
                         (floor.name, floor.name_zh)) or _labels(floor.name, floor.name_zh)


def _unit_category(zone: Zone) -> str:
    """The zone's unit category: the one it was imported with (classroom, restroom.female) while its kind is still
    what that says (a generic room's kind is its occupant's), else its kind's."""
    own = zone.imdf_category
    if own and (own in GENERIC_UNIT_CATEGORIES or kind_for_unit_category(own) == zone.kind):
        return own
    return UNIT_CATEGORY_FOR_KIND.get(zone.kind, "room")


def _ring(origin: Origin, coords: Iterable[tuple[float, float]]) -> list[list[float]]:
    ring = [origin.to_lonlat(x, y) for x, y in coords]
    if ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    return ring


def _rect(w: float, h: float) -> list[tuple[float, float]]:
    return [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]


def _point(origin: Origin, x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": origin.to_lonlat(x, y)}


def _feature(fid: str, feature_type: str, geometry: dict | None, properties: dict) -> dict:
    return {"id": fid, "type": "Feature", "feature_type": feature_type, "geometry": geometry,
            "properties": properties}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _openings(venue: VenueMap, floor: Floor) -> list[tuple[str, str, LineString]]:
    """Gaps in the walls along the boundary two zones share: (zone a, zone b, line)."""
    if not floor.walls:
        return []
    walls = unary_union([LineString([(w[0], w[1]), (w[2], w[3])]) for w in floor.walls]).buffer(0.01)
    zones = [(z.id, Polygon(z.polygon)) for z in venue.zones if z.floor == floor.level]
    out = []
    for (ida, pa), (idb, pb) in combinations(zones, 2):
        shared = pa.boundary.intersection(pb.boundary)
        lines = [g for g in getattr(shared, "geoms", [shared]) if isinstance(g, LineString | MultiLineString)]
        if not lines:
            continue
        merged = unary_union(lines)
        if isinstance(merged, MultiLineString):
            merged = linemerge(merged)
        gaps = merged.difference(walls)
        for part in getattr(gaps, "geoms", [gaps]):
            if isinstance(part, LineString) and part.length >= 0.5:
                out.append((ida, idb, part))
    return out


ENTRANCE_DOOR_M = 3.0  # an entrance's opening where the plan's walls draw no door: a double door's width
ENTRANCE_REACH_M = 10.0  # an entrance node this near its zone's exterior edge has its door there; farther, at itself
MIN_DOOR_M, MAX_DOOR_M = 0.5, 12.0  # a gap in the walls this wide is a door (wider: a front with no walls drawn)
_ON_EDGE_M = 0.001  # what lies this near a line lies on it (a wall on an edge, an edge on the outline)


def _entrance_doors(venue: VenueMap, floor: Floor,
                    polygons: Mapping[str, Polygon]) -> list[tuple[WalkNode, LineString]]:
    """Each entrance node of the floor with its door, an IMDF opening line: on the building's exterior edge (the
    outer outline of the floor's zones, closed as the import closes it: zones a few centimetres apart, a zone's cut
    to its hole, leave no outside between them) where it bounds the zone the node lies in (or is nearest), at the
    point of that edge nearest the node; the gap in the floor's walls there when they draw one (MIN_DOOR_M to
    MAX_DOOR_M wide, within ENTRANCE_DOOR_M of that point), else ENTRANCE_DOOR_M of the edge centred there (kept on
    the edge, shorter where the edge is). A node more than ENTRANCE_REACH_M from such an edge (a door from a station
    below, a node left mid-floor) has its door at itself: ENTRANCE_DOOR_M centred on it, along the plan's x axis."""
    nodes = [n for n in venue.nodes if n.entrance and n.floor == floor.level]
    if not nodes:
        return []
    zones = [polygons[z.id] for z in venue.zones if z.floor == floor.level]
    near_outline = outer_outline(zones, OUTLINE_CLOSE_M).buffer(_ON_EDGE_M)
    walls = unary_union([LineString([(w[0], w[1]), (w[2], w[3])]) for w in floor.walls]).buffer(
        _ON_EDGE_M) if floor.walls else None
    out = []
    for node in nodes:
        here = Point(node.x, node.y)
        zone = min(zones, key=here.distance, default=None)  # the zone it lies in (distance 0), else the nearest
        edges = [e for e in (_exterior_edges(zone, near_outline) if zone is not None else [])
                 if e.length >= MIN_DOOR_M and e.distance(here) <= ENTRANCE_REACH_M]
        if not edges:
            half = ENTRANCE_DOOR_M / 2
            out.append((node, LineString([(node.x - half, node.y), (node.x + half, node.y)])))
            continue
        edge = min(edges, key=here.distance)
        at = edge.project(here)
        span = _wall_gap(edge, at, walls) or _centred(edge.length, at, ENTRANCE_DOOR_M)
        out.append((node, LineString([edge.interpolate(d).coords[0] for d in span])))
    return out


def _lines(geom) -> list[LineString]:
    """The line parts of a shapely geometry (an intersection or difference of lines gives lines, points or both)."""
    return [g for g in shapely.get_parts(geom) if isinstance(g, LineString) and not g.is_empty]


def _exterior_edges(zone: Polygon, near_outline) -> list[LineString]:
    """The straight stretches of the zone's outline that lie on the floor's outer outline (collinear vertices, where a
    neighbour's wall meets it, do not cut a stretch)."""
    on = _lines(zone.exterior.intersection(near_outline))
    parts = _lines(linemerge(on)) if on else []
    return [LineString(pair) for part in parts for pair in pairwise(part.simplify(1e-6).coords)]


def _centred(length: float, at: float, width: float) -> tuple[float, float]:
    """`width` of a line `length` long, centred at `at` as far as the line allows (all of it where it is shorter)."""
    half = min(width, length) / 2
    centre = min(max(at, half), length - half)
    return centre - half, centre + half


def _wall_gap(edge: LineString, at: float, walls) -> tuple[float, float] | None:
    """The gap the walls leave in `edge` nearest `at` (as distances along it), if one is a door's width and lies
    within ENTRANCE_DOOR_M of `at`."""
    if walls is None:
        return None
    gaps = [sorted(edge.project(Point(end)) for end in (g.coords[0], g.coords[-1]))
            for g in _lines(edge.difference(walls))]
    doors = [(a, b) for a, b in gaps if MIN_DOOR_M <= b - a <= MAX_DOOR_M]
    doors = [(a, b) for a, b in doors if max(a - at, at - b, 0.0) <= ENTRANCE_DOOR_M]
    return min(doors, key=lambda ab: max(ab[0] - at, at - ab[1], 0.0), default=None)


def export_imdf(venue: VenueMap, origin: Origin | None = None, *, address: str | None = None,
                locality: str = "Unknown", country: str = "CN") -> dict[str, dict]:
    """The venue map as an IMDF archive: {filename: GeoJSON FeatureCollection (or the manifest)}."""
    origin = origin or (Origin(**venue.origin) if venue.origin else DEFAULT_ORIGIN)

    def fid(*parts: object) -> str:
        return exported_feature_id(venue.id, *parts)

    address_id = fid("address")
    address_f = _feature(address_id, "address", None, {
        "address": address or venue.name, "unit": None, "locality": locality, "province": None,
        "country": country, "postal_code": None, "postal_code_ext": None, "postal_code_vanity": None,
    })
    width = max(f.width_m for f in venue.floors)
    height = max(f.height_m for f in venue.floors)
    outline = {"type": "Polygon", "coordinates": [_ring(origin, _rect(width, height))]}
    venue_f = _feature(fid("venue"), "venue", outline, {
        "category": "shoppingcenter", "restriction": None, "name": _labels(venue.name, venue.name_zh),
        "alt_name": None, "hours": None, "phone": None, "website": None,
        "display_point": _point(origin, width / 2, height / 2), "address_id": address_id,
    })
    level_ids = {f.level: fid("level", f.level) for f in venue.floors}
    levels = []
    for floor in venue.floors:
        kinds = {z.kind for z in venue.zones if z.floor == floor.level}
        names = _floor_labels(floor)
        levels.append(_feature(level_ids[floor.level], "level", {
            "type": "Polygon", "coordinates": [_ring(origin, _rect(floor.width_m, floor.height_m))]}, {
            "category": "parking" if kinds == {"garage"} else "unspecified", "restriction": None,
            "outdoor": False, "ordinal": floor.level, "name": names,
            "short_name": {"en": floor.short_name} if floor.short_name else dict(names),
            "display_point": _point(origin, floor.width_m / 2, floor.height_m / 2),
            "address_id": None, "building_ids": None,
        }))
    unit_ids = _unit_ids(venue)
    polygons = {z.id: Polygon(z.polygon) for z in venue.zones}
    units = []
    for zone in venue.zones:
        if zone.floor not in level_ids:
            raise CatalogInputError("", N_("zone %(zone)s is on floor %(floor)s, which the venue does not have"),
                                    zone=zone.id, floor=zone.floor)
        rep = polygons[zone.id].representative_point()
        units.append(_feature(unit_ids[zone.id], "unit", {
            "type": "Polygon", "coordinates": [_ring(origin, zone.polygon)]}, {
            "category": _unit_category(zone), "restriction": None,
            "accessibility": None, "name": _zone_labels(zone), "alt_name": None,
            "level_id": level_ids[zone.floor], "display_point": _point(origin, rep.x, rep.y),
        }))
    units += _fabric_units(venue, origin, level_ids, set(unit_ids.values()))

    def unit_at(level: int, x: float, y: float) -> str | None:
        p = Point(x, y)
        for zone in venue.zones:
            if zone.floor == level and polygons[zone.id].covers(p):
                return zone.id
        return None

    def opening(feature_id: str, category: str, level: int, line: LineString) -> dict:
        mid = line.interpolate(0.5, normalized=True)
        return _feature(feature_id, "opening", {
            "type": "LineString", "coordinates": [origin.to_lonlat(x, y) for x, y in line.coords]}, {
            "category": category, "accessibility": None, "access_control": None, "door": None,
            "name": None, "alt_name": None, "display_point": _point(origin, mid.x, mid.y), "level_id": level_ids[level],
        })

    openings = []
    for floor in venue.floors:
        for a, b, line in _openings(venue, floor):
            mid = line.interpolate(0.5, normalized=True)
            openings.append(opening(fid("opening", floor.level, a, b, round(mid.x, 3), round(mid.y, 3)), "pedestrian",
                                    floor.level, line))
        # each entrance also as IMDF's principal pedestrian entrance, so that other tools see the doors (our import
        # reads the entrances from the walkway extension when there is one, and these openings make no nodes then)
        openings += [opening(fid("opening", "entrance", node.id), "pedestrian.principal", floor.level, line)
                     for node, line in _entrance_doors(venue, floor, polygons)]
    nodes = {n.id: n for n in venue.nodes}
    amenities, seen = [], set()
    for edge in venue.edges:
        if edge.kind not in CONNECTOR_KINDS:
            continue
        for node_id in (edge.a, edge.b):
            node = nodes.get(node_id)
            if node is None or node_id in seen:
                continue
            seen.add(node_id)
            zone_id = unit_at(node.floor, node.x, node.y)
            if zone_id is None:
                continue  # IMDF amenities must lie in a unit
            amenities.append(_amenity(fid("amenity", node_id), edge.kind, _point(origin, node.x, node.y),
                                      unit_ids[zone_id]))
    written = {f["id"] for f in amenities}
    for amenity in venue.amenities:  # the imported ones, under the ids they came with
        zone_id = amenity.zone if amenity.zone in unit_ids else unit_at(amenity.floor, amenity.x, amenity.y)
        if zone_id is None:
            continue  # IMDF amenities must lie in a unit
        amenity_id = amenity.id if amenity.id not in written else fid("amenity", "imported", amenity.id)
        written.add(amenity_id)
        names = ({"en": amenity.name} if amenity.name else {}) | (
            {"zh-Hans": amenity.name_zh} if amenity.name_zh else {})  # both, as given: read back as they are
        amenities.append(_amenity(amenity_id, amenity.category, _point(origin, amenity.x, amenity.y),
                                  unit_ids[zone_id], names or None))
    relationships = _relationships(venue, nodes, unit_at, unit_ids, fid, origin)
    anchors, occupants = [], []
    for shop in venue.shops:
        zone_id = shop.zone if shop.zone in unit_ids else unit_at(shop.floor, shop.x, shop.y)
        if zone_id is None:
            raise CatalogInputError("", N_("shop %(shop)s lies in no zone: an IMDF anchor needs a unit"), shop=shop.id)
        anchor_id = fid("anchor", shop.id)
        anchors.append(_feature(anchor_id, "anchor", _point(origin, shop.x, shop.y),
                                {"address_id": None, "unit_id": unit_ids[zone_id]}))
        category = shop.category if shop.category in OCCUPANT_CATEGORIES else OCCUPANT_CATEGORY_FOR.get(
            shop.category, "shopping")
        occupants.append(_feature(fid("occupant", shop.id), "occupant", None, {
            "name": _labels(shop.name, shop.name_zh), "category": category, "anchor_id": anchor_id,
            "hours": None, "phone": None, "website": None, "validity": None, "correlation_id": None,
        }))

    # -- extension files: what IMDF cannot say -----------------------------------------------------------
    ext_venue = _feature(fid("mallportal", "venue"), f"{EXTENSION}:venue", _point(origin, 0.0, 0.0), {
        "venue_id": venue.id, "building": venue.building, "projection": "equirectangular",
        "origin_lon": origin.lon, "origin_lat": origin.lat, "rotation_deg": origin.rotation_deg,
        "floors": [{"level": f.level, "level_id": level_ids[f.level], "width_m": f.width_m,
                    "height_m": f.height_m, "plan_image": f.plan_image, "metres_per_pixel": f.metres_per_pixel}
                   for f in venue.floors],
        "zones": [{"unit_id": unit_ids[z.id], "zone_id": z.id, "kind": z.kind} for z in venue.zones],
        "shops": [{"occupant_id": fid("occupant", s.id), "shop_id": s.id, "category": s.category,
                   "zone": s.zone, "description": s.description} for s in venue.shops],
    })
    walls = [
        _feature(fid("wall", f.level, i), f"{EXTENSION}:wall",
                 {"type": "LineString", "coordinates": [origin.to_lonlat(w[0], w[1]), origin.to_lonlat(w[2], w[3])]},
                 {"level_id": level_ids[f.level]})
        for f in venue.floors for i, w in enumerate(f.walls)
    ]
    aps = [_feature(fid("ap", ap.bssid), f"{EXTENSION}:ap", _point(origin, ap.x, ap.y),
                    {"bssid": ap.bssid, "name": ap.name, "level_id": level_ids.get(ap.floor),
                     "height_m": ap.height_m, "model": ap.model})
           for ap in venue.aps]
    walk = [_feature(fid("node", n.id), f"{EXTENSION}:walknode", _point(origin, n.x, n.y),
                     {"node_id": n.id, "level_id": level_ids.get(n.floor), **({"entrance": True} if n.entrance else {})
                      }) for n in venue.nodes]  # "entrance" only where true (most nodes): absent reads false
    walk += [_feature(fid("edge", i, e.a, e.b), f"{EXTENSION}:walkedge", None,
                      {"a": e.a, "b": e.b, "kind": e.kind, "oneway": e.oneway}) for i, e in enumerate(venue.edges)]
    manifest = {
        "version": IMDF_VERSION, "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generated_by": "MallPortal", "language": "en", "extensions": [EXTENSION],
    }
    return {
        "manifest.json": manifest,
        "address.geojson": _collection([address_f]),
        "venue.geojson": _collection([venue_f]),
        "level.geojson": _collection(levels),
        "unit.geojson": _collection(units),
        "opening.geojson": _collection(openings),
        "amenity.geojson": _collection(amenities),
        "relationship.geojson": _collection(relationships),
        "anchor.geojson": _collection(anchors),
        "occupant.geojson": _collection(occupants),
        "mallportal_venue.geojson": _collection([ext_venue]),
        "mallportal_walls.geojson": _collection(walls),
        "mallportal_aps.geojson": _collection(aps),
        "mallportal_walkways.geojson": _collection(walk),
    }


def _fabric_units(venue: VenueMap, origin: Origin, level_ids: Mapping[int, str], used: set[str]) -> list[dict]:
    """The imported units that are no zone (stairs, lift shafts: Floor.imdf_units), as they came."""
    out = []
    for floor in venue.floors:
        for unit_id, category, names, parts in floor.imdf_units:
            if unit_id in used:
                continue
            used.add(unit_id)
            polygons = [[_ring(origin, ring) for ring in part] for part in parts]
            rep = Polygon(parts[0][0], parts[0][1:]).representative_point()
            out.append(_feature(unit_id, "unit", {"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
                                else {"type": "MultiPolygon", "coordinates": polygons}, {
                "category": category, "restriction": None, "accessibility": None, "name": dict(names) or None,
                "alt_name": None, "level_id": level_ids[floor.level], "display_point": _point(origin, rep.x, rep.y),
            }))
    return out


def _amenity(feature_id: str, category: str, point: dict, unit_id: str, name: dict[str, str] | None = None) -> dict:
    return _feature(feature_id, "amenity", point, {
        "category": category, "accessibility": None, "name": name, "alt_name": None, "hours": None, "phone": None,
        "website": None, "unit_ids": [unit_id], "address_id": None, "correlation_id": None,
    })


def _unit_ids(venue: VenueMap) -> dict[str, str]:
    """Zone id -> its unit's feature id: the id of the unit it was imported from where it keeps one (another tool's
    re-import of this archive, and ours, find the zone by it), else our stable id for it."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for zone in venue.zones:
        unit = zone.imdf_id.lower() if zone.imdf_id else ""
        if not unit or unit in used:  # a unit id names one feature
            unit = exported_feature_id(venue.id, "unit", zone.id)
        used.add(unit)
        out[zone.id] = unit
    return out


def _relationships(venue: VenueMap, nodes: dict, unit_at, unit_ids: dict[str, str], fid, origin) -> list[dict]:
    """The lifts, stairs and escalators between floors as IMDF relationships between the units they open onto:
    other tools (and our own import of an archive without our extension) read the floors' links from them,
    as they read no walkway extension. Each is drawn where its link is (a line from the link's first end to its
    second, a one-way link in its direction; a point where the two ends are stacked, as a lift's are), so that an
    import joins the two units (a corridor running the length of the mall) there, not at one point of each: two
    links joining the same units the same way from the same spot are one relationship."""
    out, seen = [], set()
    for edge in venue.edges:
        a, b = nodes.get(edge.a), nodes.get(edge.b)
        if edge.kind not in CONNECTOR_KINDS or a is None or b is None or a.floor == b.floor:
            continue
        ends = (unit_at(a.floor, a.x, a.y), unit_at(b.floor, b.x, b.y))
        if None in ends:
            continue  # a relationship names features at both ends; a node outside every zone has none
        spot = (round(a.x), round(a.y)) if edge.oneway or ends[0] <= ends[1] else (round(b.x), round(b.y))
        key = (edge.kind, edge.oneway, *(ends if edge.oneway else sorted(ends)), *spot)
        if key in seen:
            continue
        seen.add(key)
        drawn = ({"type": "Point", "coordinates": origin.to_lonlat(a.x, a.y)} if (a.x, a.y) == (b.x, b.y) else
                 {"type": "LineString", "coordinates": [origin.to_lonlat(a.x, a.y), origin.to_lonlat(b.x, b.y)]})
        out.append(_feature(fid("relationship", *key), "relationship", drawn, {
            "category": edge.kind, "direction": "directed" if edge.oneway else "undirected",
            "origin": {"id": unit_ids[ends[0]], "feature_type": "unit"}, "intermediary": None,
            "destination": {"id": unit_ids[ends[1]], "feature_type": "unit"}, "hours": None,
        }))
    return out


def imdf_zip_bytes(files: Mapping[str, dict]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, doc in files.items():
            zf.writestr(name, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    return buf.getvalue()


def write_imdf_zip(venue: VenueMap, path: str | Path, origin: Origin | None = None, **kwargs: Any) -> Path:
    path = Path(path)
    data = imdf_zip_bytes(export_imdf(venue, origin, **kwargs))
    path.write_bytes(data)
    return path
