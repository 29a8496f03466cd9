"""A small third-party-style IMDF archive built in the test (no MallPortal extension files): two levels,
each with a corridor (walkway unit), shops opening onto it, a lift and stairs, and the relationships
that join the floors. Shared by the navigation-graph tests and the set-up walkthrough."""

from __future__ import annotations

import uuid

from fingerprints.imdf import IMDF_VERSION, Origin

ORIGIN = Origin(lon=114.17, lat=22.30)
_NS = uuid.UUID("0b4f5c1e-2f0d-4a43-9d55-0c3b8c8a1f00")


def fid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(map(str, parts))))


def _ring(points):
    ring = [ORIGIN.to_lonlat(x, y) for x, y in points]
    return ring + [ring[0]]


def _rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _feature(feature_id, ftype, geometry, props):
    return {"id": feature_id, "type": "Feature", "feature_type": ftype, "geometry": geometry, "properties": props}


def _point(x, y):
    return {"type": "Point", "coordinates": ORIGIN.to_lonlat(x, y)}


SHOPS = {  # name: (x0, y0, x1, y1); the corridor runs along y 10..14, x 0..60
    "Kopi": (0, 0, 15, 10), "Books": (15, 0, 30, 10), "Shoes": (30, 0, 45, 10),
    "Toys": (0, 14, 20, 24), "Dumplings": (20, 14, 40, 24),
}


def mall_archive(levels: int = 2, with_relationships: bool = True) -> dict[str, dict]:
    address_id = fid("address")
    files = {
        "manifest.json": {"version": IMDF_VERSION, "created": "2026-11-30T00:00:00Z", "language": "en"},
        "address.geojson": {"type": "FeatureCollection", "features": [_feature(address_id, "address", None, {
            "address": "1 Harbour Road", "unit": None, "locality": "Hong Kong", "province": None, "country": "HK",
            "postal_code": None, "postal_code_ext": None})]},
        "venue.geojson": {"type": "FeatureCollection", "features": [_feature(fid("venue"), "venue", {
            "type": "Polygon", "coordinates": [_ring(_rect(0, 0, 60, 24))]}, {
            "category": "shoppingcenter", "restriction": None, "name": {"en": "Harbour Walk"}, "alt_name": None,
            "hours": None, "phone": None, "website": None, "display_point": _point(30, 12),
            "address_id": address_id})]},
    }
    level_f, units, openings, relationships = [], [], [], []

    def unit(key, level, category, rect, name=None):
        geometry = {"type": "Polygon", "coordinates": [_ring(_rect(*rect))]}
        units.append(_feature(fid("unit", level, key), "unit", geometry, {
            "category": category, "restriction": None, "accessibility": None,
            "name": {"en": name} if name else None, "alt_name": None, "level_id": fid("level", level),
            "display_point": None}))

    def opening(key, level, a, b):
        openings.append(_opening(key, level, a, b, "pedestrian"))

    for level in range(levels):
        outline = {"type": "Polygon", "coordinates": [_ring(_rect(0, 0, 60, 24))]}
        level_f.append(_feature(fid("level", level), "level", outline, {
            "category": "unspecified", "restriction": None, "outdoor": False, "ordinal": level,
            "name": {"en": f"L{level}"}, "short_name": {"en": f"L{level}"}, "display_point": None,
            "address_id": None, "building_ids": None}))
        unit("corridor", level, "walkway", (0, 10, 60, 14), f"Mall L{level}")
        for name, rect in SHOPS.items():
            unit(name, level, "room", rect, f"{name} {level}")
            x0, y0, x1, y1 = rect
            y = 10 if y1 == 10 else 14
            opening(name, level, ((x0 + x1) / 2 - 1, y), ((x0 + x1) / 2 + 1, y))
        unit("lift", level, "elevator", (45, 0, 50, 10))
        opening("lift", level, (46.5, 10), (48.5, 10))
        unit("stairs", level, "stairs", (50, 0, 60, 10))  # no opening: touches the corridor
        unit("atrium", level, "unenclosedarea", (40, 14, 60, 24), f"Atrium {level}")
    if with_relationships:
        for level in range(levels - 1):
            for key, category in (("lift", "elevator"), ("stairs", "stairs")):
                relationships.append(_feature(fid("rel", key, level), "relationship", None, {
                    "category": category, "direction": "undirected",
                    "origin": {"id": fid("unit", level, key), "feature_type": "unit"}, "intermediary": None,
                    "destination": {"id": fid("unit", level + 1, key), "feature_type": "unit"}, "hours": None}))
    files["level.geojson"] = {"type": "FeatureCollection", "features": level_f}
    files["unit.geojson"] = {"type": "FeatureCollection", "features": units}
    files["opening.geojson"] = {"type": "FeatureCollection", "features": openings}
    files["relationship.geojson"] = {"type": "FeatureCollection", "features": relationships}
    return files


def _opening(key, level, a, b, category):
    return _feature(fid("opening", level, key), "opening", {
        "type": "LineString", "coordinates": [ORIGIN.to_lonlat(*a), ORIGIN.to_lonlat(*b)]}, {
        "category": category, "accessibility": None, "access_control": None, "door": None, "name": None,
        "alt_name": None, "display_point": None, "level_id": fid("level", level)})


def add_opening(files: dict[str, dict], key: str, level: int, a: tuple[float, float], b: tuple[float, float],
                category: str = "pedestrian") -> str:
    """One more opening, a line from a to b (plan metres); returns its feature id."""
    feature = _opening(key, level, a, b, category)
    files["opening.geojson"]["features"].append(feature)
    return feature["id"]


def split_unit(files: dict[str, dict], level: int = 0, key: str = "Books") -> dict[str, dict]:
    """The unit drawn as a MultiPolygon of two parts, 90 m² and 50 m² (a shop split by a column line)."""
    for unit in files["unit.geojson"]["features"]:
        if unit["id"] == fid("unit", level, key):
            unit["geometry"] = {"type": "MultiPolygon",
                                "coordinates": [[_ring(_rect(15, 0, 24, 10))], [_ring(_rect(25, 0, 30, 10))]]}
    return files


def set_venue_outline(files: dict[str, dict], rect: tuple[float, float, float, float]) -> dict[str, dict]:
    """The venue feature drawn as this rectangle (plan metres of the builder's frame). Another tool's archive
    is projected around the north-west corner of everything: a wider outline moves the plan's (0, 0)."""
    files["venue.geojson"]["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [_ring(_rect(*rect))]}
    return files


def add_unit(files: dict[str, dict], key: str, level: int, category: str, rect: tuple[float, float, float, float],
             name: dict[str, str] | None = None) -> str:
    """One more unit (name: language-tagged labels, or None for an unnamed one); returns its feature id."""
    feature_id = fid("unit", level, key)
    files["unit.geojson"]["features"].append(_feature(feature_id, "unit", {
        "type": "Polygon", "coordinates": [_ring(_rect(*rect))]}, {
        "category": category, "restriction": None, "accessibility": None, "name": name, "alt_name": None,
        "level_id": fid("level", level), "display_point": None}))
    return feature_id
