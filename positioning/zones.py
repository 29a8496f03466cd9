"""Zones: polygons per floor; the zone of an estimate from its position and its neighbours' zones."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from positioning.sums import row_sums

if TYPE_CHECKING:
    from positioning.wknn import Estimate

# How far inside a polygon (metres) a position must be for the polygon alone to be trusted fully.
CONFIDENT_DEPTH_M = 4.0
# The live estimate's error, as a Gaussian spread per axis (metres): a position 2-3 m off among 5 m stalls
# cannot single one out. Chosen among 2, 3, 4 and 5 m on training malls 101 and 202 only (bench/landing_replay.py).
POSITION_SIGMA_M = 4.0
# The share of a zone's evidence that comes from where the estimate lies (the rest: its neighbours' zones).
# Chosen among 0.5, 0.8, 0.9 and 1.0 with POSITION_SIGMA_M.
POSITION_SHARE = 0.8
SAMPLE_STEP_M = 1.0  # the grid each zone is sampled on (finer for a zone too small for a few points)
OFF_ZONE_STEP_M = 2.0  # the grid sampling a floor's area outside every zone
REACH_SIGMAS = 5.0  # sample points further than this many spreads (along x) from the estimate are left out


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
        self._grids: dict[int, tuple | None] = {}  # per floor: position_evidence's sample points, made once
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

    def zone_for(self, estimate: Estimate, neighbour_zones: Sequence[str | None] | None = None
                 ) -> tuple[str | None, float]:
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

    def zone_scores(self, estimate: Estimate, neighbour_zones: Sequence[str | None]) -> dict[str | None, float]:
        """Evidence per zone on the estimate's floor (None: outside every zone), for the motion filter
        (positioning/motion.py): POSITION_SHARE from where the estimate lies (`position_evidence`), the
        rest the share of neighbouring fingerprints surveyed in each zone."""
        return _mixed(self.position_evidence(estimate.floor, estimate.x, estimate.y), neighbour_zones)

    def zone_scores_many(self, estimates: Sequence, neighbour_zones: Sequence[Sequence[str | None]]
                         ) -> list[dict[str | None, float]]:
        """`zone_scores` of each estimate, bit for bit (`position_evidence_many`): the tracker's batch."""
        where = self.position_evidence_many([e.floor for e in estimates], [e.x for e in estimates],
                                            [e.y for e in estimates])
        return [_mixed(w, zones) for w, zones in zip(where, neighbour_zones, strict=True)]

    def position_evidence(self, floor: int, x: float, y: float, sigma_m: float = POSITION_SIGMA_M
                          ) -> dict[str | None, float]:
        """How well each zone of the floor (None: outside every zone) explains an estimate at (x, y) whose
        error spreads `sigma_m` per axis: the mean over the zone's area of the Gaussian around the estimate,
        normalised over the floor. A small zone near the estimate gets its due against a large one around
        it (a kiosk in its corridor), and two small zones within the error share it (food-hall stalls)
        instead of the one the estimate happens to fall in taking it all."""
        grid = self._grid(floor)
        if grid is None:
            return {}
        density = _density(grid, x, y, sigma_m) / np.maximum(grid[2], 1)
        total = density.sum()
        if total <= 0:
            return {}
        return {grid[3][i]: float(density[i] / total) for i in np.flatnonzero(density > 1e-6 * total)}

    def position_evidence_many(self, floors: Sequence[int], xs: Sequence[float], ys: Sequence[float],
                               sigma_m: float = POSITION_SIGMA_M) -> list[dict[str | None, float]]:
        """`position_evidence` of each (floor, x, y), bit for bit (tests/positioning_tests/test_batch_evidence.py):
        the densities of a floor's estimates in one compiled loop (positioning/evidence_kernel.py), the rest
        over the batch's rows (row sums added as one row's `sum`: positioning/sums.py)."""
        out: list[dict[str | None, float]] = [{} for _ in floors]
        on = np.asarray(floors)
        for floor in dict.fromkeys(floors):
            grid = self._grid(floor)
            if grid is None:
                continue
            rows = np.flatnonzero(on == floor)
            density = _densities(grid, np.asarray(xs, dtype=np.float64)[rows], np.asarray(ys, dtype=np.float64)[rows],
                                 sigma_m) / np.maximum(grid[2], 1)
            totals = row_sums(density)
            with np.errstate(divide="ignore", invalid="ignore"):  # a row with nothing near: left out below
                shares = (density / totals[:, None]).tolist()
            kept = (density > 1e-6 * totals[:, None]).tolist()
            ids = grid[3]
            for r, share, keep, total in zip(rows.tolist(), shares, kept, totals.tolist(), strict=True):
                if total > 0:  # the zones kept, in order (compress: the comprehension's dict, ~3x faster)
                    out[r] = dict(zip(compress(ids, keep), compress(share, keep), strict=True))
        return out

    def _grid(self, floor: int) -> _Grid | None:
        """The floor's sample points (made once): each zone's area on a grid, and the rest of the zones'
        bounding box outside every zone (the off-zone state); per point its owner's index in `ids`."""
        if floor in self._grids:
            return self._grids[floor]
        zones = [(zone_id, polygon) for zone_id, f, polygon in self.zones if f == floor]
        points, owners = [], []
        for zone_id, polygon in zones:
            inside = _sample(polygon, min(SAMPLE_STEP_M, math.sqrt(polygon.area) / 4))
            if not len(inside):
                inside = np.array([[polygon.centroid.x, polygon.centroid.y]])
            points.append(inside)
            owners += [zone_id] * len(inside)
        if zones:
            bounds = np.array([polygon.bounds for _, polygon in zones])
            x0, y0 = bounds[:, :2].min(axis=0)
            x1, y1 = bounds[:, 2:].max(axis=0)
            xs, ys = np.meshgrid(np.arange(x0 + OFF_ZONE_STEP_M / 2, x1, OFF_ZONE_STEP_M),
                                 np.arange(y0 + OFF_ZONE_STEP_M / 2, y1, OFF_ZONE_STEP_M))
            xs, ys = xs.ravel(), ys.ravel()
            outside = ~np.any([shapely.contains_xy(polygon, xs, ys) for _, polygon in zones], axis=0)
            points.append(np.c_[xs[outside], ys[outside]])
            owners += [None] * int(outside.sum())
        grid = None
        if points:
            ids = sorted({o for o in owners if o is not None}) + [None]
            index = {z: i for i, z in enumerate(ids)}
            owner = np.array([index[o] for o in owners], dtype=int)
            xy = np.vstack(points)
            order = np.argsort(xy[:, 0], kind="stable")
            grid = (xy[order], owner[order], np.bincount(owner, minlength=len(ids)), ids)
        self._grids[floor] = grid
        return grid


_Grid = tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]  # ZoneMap._grid: points, owners, counts, ids


def _density(grid: _Grid, x: float, y: float, sigma_m: float) -> np.ndarray:
    """Per owner of the grid's points, the sum of the Gaussian around (x, y) over its points (one estimate)."""
    points, owner, _counts, ids = grid
    # Points sorted by x: only those within REACH_SIGMAS spreads count (beyond, the Gaussian is < 4e-6)
    lo, hi = np.searchsorted(points[:, 0], (x - REACH_SIGMAS * sigma_m, x + REACH_SIGMAS * sigma_m))
    near, near_owner = points[lo:hi], owner[lo:hi]
    d2 = (near[:, 0] - x) ** 2 + (near[:, 1] - y) ** 2
    return np.bincount(near_owner, weights=np.exp(-d2 / (2 * sigma_m * sigma_m)), minlength=len(ids))


def _densities(grid: _Grid, xs: np.ndarray, ys: np.ndarray, sigma_m: float) -> np.ndarray:
    """`_density` of each (xs[r], ys[r]) as rows, bit for bit: compiled where numpy's exp is the C library's; where
    it is numpy's own (AVX-512 hosts), the exponents and sums compiled around one numpy exp of them all (the same
    doubles as `_density`'s exp of each row's, where `exp_elementwise` holds); else row by row."""
    from positioning import evidence_kernel  # lazy: numba only in processes that position in batches

    points, owner, _counts, ids = grid
    px, py = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    reach, scale = REACH_SIGMAS * sigma_m, 2 * sigma_m * sigma_m
    if evidence_kernel.exp_agrees():
        return evidence_kernel.densities(px, py, owner, len(ids), xs, ys, reach, scale)
    if evidence_kernel.exp_elementwise():
        lo, bounds, exponents = evidence_kernel.exponents(px, py, xs, ys, reach, scale)
        return evidence_kernel.owner_sums(owner, len(ids), lo, bounds, np.exp(exponents))
    return np.vstack([_density(grid, x, y, sigma_m) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])


def _mixed(where: dict[str | None, float], neighbour_zones: Sequence[str | None]) -> dict[str | None, float]:
    """`zone_scores` from the position's evidence: POSITION_SHARE of it, the rest the neighbours' zones' shares."""
    scores = {zone: POSITION_SHARE * share for zone, share in where.items()}
    for zone, n in Counter(neighbour_zones).items():
        scores[zone] = scores.get(zone, 0.0) + (1 - POSITION_SHARE) * n / len(neighbour_zones)
    return scores


def _sample(polygon: Polygon, step: float) -> np.ndarray:
    """Points of a `step` grid inside the polygon."""
    x0, y0, x1, y1 = polygon.bounds
    xs, ys = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(polygon, xs, ys)
    return np.c_[xs[inside], ys[inside]]
