"""A unit's outline in plan metres: the part of it that is kept, with its holes, and the same outline as the
one ring the zone model keeps; a floor's outer edge (`outer_outline`), where its exterior doors are."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import shapely
from shapely import STRtree
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import nearest_points, unary_union

SLIT_M = 0.05  # the width of the cut that joins a hole to the outside (see single_ring)
GRID_M = 1e-4  # rings are kept to 0.1 mm (METRE_DECIMALS)
# keep_holes: a unit keeps at most this many of the holes nothing else stands in (voids, pillars; past it the smallest
# are filled, to bound the cuts' work), and every hole another unit or a kiosk stands in (a shop on a walkway's
# island): filled, that one would overlap the unit.
MAX_HOLES = 100
OCCUPIED_M2 = 0.01  # a hole sharing more than this with another feature is that feature's place (less: drawing noise)
MAX_LOST_M2 = 0.1  # a cut may cut off slivers (a 2 cm wall between two holes), never a piece of floor
CUT_ROUND_TRIES = 4  # a round of cuts closing round floor again after those along it are left out: cut one hole alone
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


def keep_holes(polygon: Polygon, occupied: Sequence[Polygon] = ()) -> tuple[Polygon, list[Polygon]]:
    """The polygon with the holes its zone keeps, and those it fills: every hole where one of `occupied` (the
    level's other units and kiosks) stands, and of the others the MAX_HOLES largest."""
    if len(polygon.interiors) <= MAX_HOLES:
        return polygon, []
    holes = [Polygon(ring) for ring in polygon.interiors]
    tree = STRtree(list(occupied))
    taken = {i for i, j in zip(*tree.query(holes, predicate="intersects").tolist(), strict=True)
             if holes[i].intersection(tree.geometries[j]).area > OCCUPIED_M2}
    free = sorted((i for i in range(len(holes)) if i not in taken), key=lambda i: holes[i].area, reverse=True)
    kept = sorted(taken | set(free[:MAX_HOLES]))
    return (Polygon(polygon.exterior, [polygon.interiors[i] for i in kept]),
            [holes[i] for i in free[MAX_HOLES:]])


def single_ring(polygon: Polygon, slit_m: float = SLIT_M) -> list[tuple[float, float]]:
    """The polygon as one ring without the closing point (a zone is one ring): each hole is joined by a cut
    `slit_m` wide along its shortest way to the outline or to another hole (which it then merges with), so
    that no cut crosses a hole and in the end every hole opens to the outside (a keyhole). A point in a hole
    lies outside the ring - a shop drawn in the hole of the walkway around it does not overlap the walkway,
    and a phone placed over a void is not in the walkway - while the ring loses only the cuts' area. A hole
    whose cut would cost more (a cut leaving a piece of floor cut off) is filled instead, alone; the result is
    snapped to a 0.1 mm grid, and should it still not be a simple ring, the outline without holes is kept.
    The holes are cut in rounds, all at once where they can be (_cut_all), else one alone: bound their number first
    (keep_holes). Where that fills any (holes a few cm apart), up to MAX_HOLES holes are also cut one by one, and
    the ring that fills fewer is kept."""
    ring = _one_ring(polygon, slit_m, at_once=True)
    filled = _filled(polygon, ring)
    if filled and len(polygon.interiors) <= MAX_HOLES:
        one_by_one = _one_ring(polygon, slit_m, at_once=False)
        ring = one_by_one if _filled(polygon, one_by_one) < filled else ring
    return ring


def _one_ring(polygon: Polygon, slit_m: float, at_once: bool) -> list[tuple[float, float]]:
    shape = polygon
    while shape.interiors:
        cut = _cut_all(shape, slit_m) if at_once else None
        if cut is not None:
            shape = cut
            continue
        hole, others = shape.interiors[0], shape.interiors[1:]
        # to the nearest ring; should that cut cut off floor (a thin hole beside it), straight to the outline
        targets = [MultiLineString([r.coords for r in (shape.exterior, *others)]), shape.exterior]
        shape = next(filter(None, (_cut(shape, hole, target, slit_m) for target in targets)),
                     Polygon(shape.exterior, others))  # neither: this hole filled, the others still cut
    ring = _ring(shape.exterior.coords)
    return ring if len(ring) >= 3 and Polygon(ring).is_valid else _ring(polygon.exterior.coords)


def _filled(polygon: Polygon, ring: list[tuple[float, float]]) -> int:
    """How many of the polygon's holes the ring covers (filled)."""
    covered = Polygon(ring)
    return sum(covered.contains(Polygon(hole).representative_point()) for hole in polygon.interiors)


def _cut_all(shape: Polygon, slit_m: float) -> Polygon | None:
    """`shape` with every hole cut at once to its nearest ring (the outline or another hole), or None where no hole
    can be (then single_ring cuts one alone). One cut per pair of rings, ties broken by ring number, so that the cuts
    join the rings as a forest; where they still close round a piece of floor (holes a few cm apart, a cut grazing a
    third), the cuts along that piece are left to the next round. Each round takes most holes: one by one, each cut
    is a pass over the whole shape (3,600 holes took 353 s)."""
    rings = [shape.exterior, *shape.interiors]
    holes, targets = STRtree(rings).query_nearest(rings[1:], exclusive=True)
    pair_m: dict[tuple[int, int], float] = {}
    nearest: dict[int, tuple[float, int, int]] = {}
    for hole, target in zip((holes + 1).tolist(), targets.tolist(), strict=True):
        pair = (min(hole, target), max(hole, target))
        if pair not in pair_m:  # one distance per pair, whichever way it was asked: ties are then ties both ways
            pair_m[pair] = rings[pair[0]].distance(rings[pair[1]])
        nearest[hole] = min(nearest.get(hole, (math.inf, 0, 0)), (pair_m[pair], *pair))
    slits = [_slit(*nearest_points(rings[b], rings[a]), slit_m) for _, a, b in sorted(set(nearest.values()))]
    for _ in range(CUT_ROUND_TRIES):
        cut = shapely.set_precision(shape.difference(unary_union(slits)), GRID_M)
        parts = sorted(getattr(cut, "geoms", [cut]), key=lambda p: p.area, reverse=True)
        if not parts or not isinstance(parts[0], Polygon):
            return None
        lost = [p for p in parts[1:] if p.area > MAX_LOST_M2]
        if not lost:
            return parts[0] if len(parts[0].interiors) < len(shape.interiors) else None
        closing = set(STRtree(slits).query(lost, predicate="dwithin", distance=slit_m)[1].tolist())
        slits = [s for i, s in enumerate(slits) if i not in closing]
        if not slits:
            return None
    return None


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
