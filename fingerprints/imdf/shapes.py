"""A unit's outline in plan metres: the part of it that is kept, with its holes, and the same outline as the
one ring the zone model keeps; a floor's outer edge (`outer_outline`), where its exterior doors are."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import nearest_points, unary_union

SLIT_M = 0.05  # the width of the cut that joins a hole to the outside (see single_ring)
GRID_M = 1e-4  # rings are kept to 0.1 mm (METRE_DECIMALS)
MAX_HOLES = 100  # per unit: a void, the shops of a walkway's island, pillars; the smaller rest are filled
MAX_LOST_M2 = 0.1  # a cut may cut off slivers (a 2 cm wall between two holes), never a piece of floor
# The closing outer_outline applies to a floor's units (the import) and zones (the export): gaps narrower than twice
# this - units drawn a few centimetres apart, a zone's SLIT_M cuts to its holes - are no outside (one value for both,
# so that an exported exterior door is where the import looks for one)
OUTLINE_CLOSE_M = 0.25


def unit_polygon(geom: dict, to_plan: Callable[[float, float], tuple[float, float]]) -> Polygon:
    """A Polygon or MultiPolygon unit in plan metres, holes kept; of a MultiPolygon, its largest part (the
    zone model keeps one shape per unit: the import says what the other parts were, see unit_parts)."""
    return unit_parts(geom, to_plan)[0]


def unit_parts(geom: dict, to_plan: Callable[[float, float], tuple[float, float]]) -> list[Polygon]:
    """The unit's parts in plan metres, largest first (one for a Polygon). Holes that make a part invalid (one
    crossing the outline) are dropped rather than the part."""
    parts = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    shapes = []
    for rings in parts:
        outer = [to_plan(*p[:2]) for p in rings[0]]
        with_holes = Polygon(outer, [[to_plan(*p[:2]) for p in hole] for hole in rings[1:]])
        shapes.append(with_holes if with_holes.is_valid else Polygon(outer))
    return sorted(shapes, key=lambda p: p.area, reverse=True)


def outer_outline(polygons: Iterable[Polygon], close_m: float = 0.0) -> MultiLineString:
    """The outer edge of a floor drawn as these polygons (its units, its level): the exterior rings of their union,
    gaps between them narrower than 2 x `close_m` closed first (units drawn a few centimetres apart are one floor).
    The union's holes - a courtyard, a part of the floor no unit covers - lie inside the building: not on it."""
    shapes = [p for p in polygons if not p.is_empty]
    if close_m > 0:  # a closing: grown, merged, shrunk back, corners kept square (the outline stays where it was)
        merged = unary_union([p.buffer(close_m, join_style="mitre") for p in shapes]).buffer(-close_m,
                                                                                             join_style="mitre")
    else:
        merged = unary_union(shapes)
    parts = [g for g in getattr(merged, "geoms", [merged]) if isinstance(g, Polygon) and not g.is_empty]
    return MultiLineString([list(p.exterior.coords) for p in parts])


def single_ring(polygon: Polygon, slit_m: float = SLIT_M) -> list[tuple[float, float]]:
    """The polygon as one ring without the closing point (a zone is one ring): each hole is joined by a cut
    `slit_m` wide along its shortest way to the outline or to another hole (which it then merges with), so
    that no cut crosses a hole and in the end every hole opens to the outside (a keyhole). A point in a hole
    lies outside the ring - a shop drawn in the hole of the walkway around it does not overlap the walkway,
    and a phone placed over a void is not in the walkway - while the ring loses only the cuts' area. A hole
    whose cut would cost more (a cut leaving a piece of floor cut off) is filled instead, alone; the result is
    snapped to a 0.1 mm grid, and should it still not be a simple ring, the outline without holes is kept."""
    if len(polygon.interiors) > MAX_HOLES:  # each cut works over the whole shape: keep the largest holes
        holes = sorted(polygon.interiors, key=lambda ring: Polygon(ring).area, reverse=True)[:MAX_HOLES]
        polygon = Polygon(polygon.exterior, holes)
    shape = polygon
    while shape.interiors:
        hole, others = shape.interiors[0], shape.interiors[1:]
        # to the nearest ring; should that cut cut off floor (a thin hole beside it), straight to the outline
        targets = [MultiLineString([r.coords for r in (shape.exterior, *others)]), shape.exterior]
        shape = next(filter(None, (_cut(shape, hole, target, slit_m) for target in targets)),
                     Polygon(shape.exterior, others))  # neither: this hole filled, the others still cut
    ring = _ring(shape.exterior.coords)
    return ring if len(ring) >= 3 and Polygon(ring).is_valid else _ring(polygon.exterior.coords)


def _cut(shape: Polygon, hole, target, slit_m: float) -> Polygon | None:
    """`shape` with `hole` joined to `target` by a cut, or None if that would cost more than the cut."""
    from_point, to_point = nearest_points(hole, target)
    cut = shapely.set_precision(shape.difference(_slit(from_point, to_point, slit_m)), GRID_M)
    parts = sorted(getattr(cut, "geoms", [cut]), key=lambda p: p.area, reverse=True)
    kept = parts[0] if parts and isinstance(parts[0], Polygon) else None
    if kept is None or cut.area - kept.area > MAX_LOST_M2 or len(kept.interiors) >= len(shape.interiors):
        return None
    return kept


def _slit(a: Point, b: Point, width: float) -> Polygon:
    """A rectangle `width` wide from a to b, reaching `width` past both ends so that it cuts cleanly; a square
    around a where the two meet (a hole touching the outline at a point)."""
    length = a.distance(b)
    if length < 1e-9:
        return a.buffer(width, cap_style="square")
    dx, dy = (b.x - a.x) / length * width, (b.y - a.y) / length * width
    return LineString([(a.x - dx, a.y - dy), (b.x + dx, b.y + dy)]).buffer(width / 2, cap_style="flat")


def _ring(coords) -> list[tuple[float, float]]:
    points = [(round(x, 4), round(y, 4)) for x, y, *_ in coords]
    return points[:-1] if len(points) > 1 and points[0] == points[-1] else points
