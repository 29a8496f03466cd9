"""A unit's outline in plan metres: the part of it that is kept, with its holes, and the same outline as the
one ring the zone model keeps."""

from __future__ import annotations

from collections.abc import Callable

from shapely.geometry import LineString, Polygon
from shapely.ops import nearest_points

SLIT_M = 0.05  # the width of the cut that joins a hole to the outside (see single_ring)
_MOSTLY = 0.999  # a cut that leaves a sliver beside the shape: the sliver is dropped


def unit_polygon(geom: dict, to_plan: Callable[[float, float], tuple[float, float]]) -> Polygon:
    """A Polygon or MultiPolygon unit in plan metres, holes kept; of a MultiPolygon, its largest part (the
    zone model keeps one shape per unit). Holes that make the shape invalid (one crossing the outline) are
    dropped rather than the unit."""
    parts = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    shapes = []
    for rings in parts:
        outer = [to_plan(*p[:2]) for p in rings[0]]
        with_holes = Polygon(outer, [[to_plan(*p[:2]) for p in hole] for hole in rings[1:]])
        shapes.append(with_holes if with_holes.is_valid else Polygon(outer))
    return max(shapes, key=lambda p: p.area)


def single_ring(polygon: Polygon, slit_m: float = SLIT_M) -> list[tuple[float, float]]:
    """The polygon as one ring without the closing point (a zone is one ring): each hole is joined to the
    outside by a cut `slit_m` wide along its shortest way out (a keyhole), so a point in the hole lies
    outside the ring - a shop drawn in the hole of the walkway around it does not overlap the walkway, and
    a phone placed over a void is not in the walkway - while the ring loses only the cut's area. Should a
    cut not leave one shape, the holes are dropped (the outline as before)."""
    shape = polygon
    while shape.interiors:
        hole_point, out_point = nearest_points(shape.interiors[0], shape.exterior)
        cut = _slit(hole_point.coords[0], out_point.coords[0], slit_m)
        rest = shape.difference(cut)
        parts = sorted(getattr(rest, "geoms", [rest]), key=lambda p: p.area, reverse=True)
        if not parts or not isinstance(parts[0], Polygon) or parts[0].area < _MOSTLY * rest.area \
                or len(parts[0].interiors) >= len(shape.interiors):
            return _ring(polygon.exterior.coords)
        shape = parts[0]
    return _ring(shape.exterior.coords)


def _slit(a: tuple[float, ...], b: tuple[float, ...], width: float) -> Polygon:
    """A rectangle `width` wide from a to b, reaching `width` past both ends so that it cuts cleanly."""
    (ax, ay), (bx, by) = a[:2], b[:2]
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5 or 1.0
    dx, dy = (bx - ax) / length * width, (by - ay) / length * width
    return LineString([(ax - dx, ay - dy), (bx + dx, by + dy)]).buffer(width / 2, cap_style="flat")


def _ring(coords) -> list[tuple[float, float]]:
    points = [(round(x, 4), round(y, 4)) for x, y, *_ in coords]
    return points[:-1] if len(points) > 1 and points[0] == points[-1] else points
