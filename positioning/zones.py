"""Zones: polygons per floor; the zone of an estimate from its position and its neighbours' zones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

# How far inside a polygon (metres) a position must be for the polygon alone to be trusted fully.
CONFIDENT_DEPTH_M = 4.0


class ZoneMap:
    def __init__(self, zones: Sequence[tuple[str, int, Sequence[tuple[float, float]]]]) -> None:
        self.zones: list[tuple[str, int, Polygon]] = []
        for zone_id, floor, coords in zones:
            if len(coords) < 3:
                raise ValueError(f"zone {zone_id!r}: a polygon needs at least 3 points")
            polygon = Polygon(coords)
            if not polygon.is_valid:
                raise ValueError(f"zone {zone_id!r}: invalid polygon ({explain_validity(polygon)})")
            if polygon.area <= 0:
                raise ValueError(f"zone {zone_id!r}: polygon has no area")
            self.zones.append((zone_id, int(floor), polygon))
        # The tracker asks for every phone it positions: per floor, its zones (in order) as one array that
        # shapely tests against a point in one call, and each zone's outline made once.
        self._by_floor: dict[int, tuple[list[str], np.ndarray]] = {}
        for zone_id, floor, polygon in self.zones:
            ids, polygons = self._by_floor.setdefault(floor, ([], []))
            ids.append(zone_id)
            polygons.append(polygon)
        self._by_floor = {f: (ids, np.array(polygons, dtype=object)) for f, (ids, polygons) in self._by_floor.items()}
        self._outlines: dict[str, object] = {}
        for zone_id, _, polygon in self.zones:
            self._outlines.setdefault(zone_id, polygon.exterior)

    def zone_at(self, floor: int, x: float, y: float) -> str | None:
        """The first zone of the floor (in map order) whose polygon covers (x, y), boundary included."""
        ids, polygons = self._by_floor.get(floor, ((), None))
        if not ids:
            return None
        hits = shapely.intersects_xy(polygons, x, y)  # a point intersects a polygon iff the polygon covers it
        return ids[int(hits.argmax())] if hits.any() else None

    def _depth(self, zone_id: str, x: float, y: float) -> float:
        return self._outlines[zone_id].distance(Point(x, y))

    def zone_for(self, estimate, neighbour_zones: Sequence[str | None] | None = None) -> tuple[str | None, float]:
        """(zone, confidence 0..1). Half the evidence is the polygon the position falls in (weighted by
        how deep inside it is), half the share of neighbouring fingerprints surveyed in each zone."""
        polygon_zone = self.zone_at(estimate.floor, estimate.x, estimate.y)
        depth = min(1.0, self._depth(polygon_zone, estimate.x, estimate.y) / CONFIDENT_DEPTH_M) if polygon_zone else 0
        polygon_score = 0.5 + 0.5 * depth
        if not neighbour_zones:
            return (polygon_zone, polygon_score) if polygon_zone else (None, 0.0)
        shares = {z: n / len(neighbour_zones) for z, n in Counter(neighbour_zones).items() if z is not None}
        candidates = set(shares) | ({polygon_zone} if polygon_zone else set())
        if not candidates:
            return None, 0.0
        scores = {z: 0.5 * shares.get(z, 0.0) + 0.5 * (polygon_score if z == polygon_zone else 0.0)
                  for z in candidates}
        best = max(sorted(scores), key=scores.get)
        return best, round(scores[best], 4)

    def zone_scores(self, estimate, neighbour_zones: Sequence[str | None]) -> dict[str | None, float]:
        """Evidence per zone on the estimate's floor (None: outside every zone), the same halves as
        zone_for (the polygon the position falls in, the neighbouring fingerprints' zones) but kept for
        every candidate, for a filter that weighs them (positioning/motion.py)."""
        polygon_zone = self.zone_at(estimate.floor, estimate.x, estimate.y)
        depth = min(1.0, self._depth(polygon_zone, estimate.x, estimate.y) / CONFIDENT_DEPTH_M) if polygon_zone else 0
        return _scores(polygon_zone, depth, neighbour_zones)

    def zone_scores_many(self, estimates: Sequence, neighbour_zones: Sequence[Sequence[str | None]]
                         ) -> list[dict[str | None, float]]:
        """`zone_scores` of many estimates (the tracker's batch): the polygons and the depths one shapely
        call per floor for all of them, the same numbers (tests/positioning_tests/test_motion_batch.py)."""
        n = len(estimates)
        xs, ys = np.array([e.x for e in estimates], dtype=float), np.array([e.y for e in estimates], dtype=float)
        zones: list[str | None] = [None] * n
        floors = [e.floor for e in estimates]
        for floor in set(floors):
            ids, polygons = self._by_floor.get(floor, ((), None))
            if not ids:
                continue
            rows = np.array([i for i in range(n) if floors[i] == floor])
            hits = shapely.intersects_xy(polygons[:, None], xs[rows][None, :], ys[rows][None, :])
            for i, hit, first in zip(rows.tolist(), hits.any(axis=0).tolist(), hits.argmax(axis=0).tolist(),
                                     strict=True):
                zones[i] = ids[first] if hit else None
        inside = [i for i in range(n) if zones[i]]
        distances = shapely.distance(np.array([self._outlines[zones[i]] for i in inside], dtype=object),
                                     shapely.points(xs[inside], ys[inside])).tolist() if inside else []
        depth = [0] * n
        for i, d in zip(inside, distances, strict=True):
            depth[i] = min(1.0, d / CONFIDENT_DEPTH_M)
        return [_scores(zones[i], depth[i], neighbour_zones[i]) for i in range(n)]


def _scores(polygon_zone: str | None, depth: float, neighbour_zones: Sequence[str | None]) -> dict[str | None, float]:
    """Half the polygon's (by depth), half the neighbours' shares (all of it the polygon's without neighbours)."""
    scores: dict[str | None, float] = {polygon_zone: 0.5 * (0.5 + 0.5 * depth)}
    if neighbour_zones:
        for zone, n in Counter(neighbour_zones).items():
            scores[zone] = scores.get(zone, 0.0) + 0.5 * n / len(neighbour_zones)
    else:
        scores[polygon_zone] *= 2
    return scores
