"""Hierarchical weighted k-nearest-neighbour fingerprint positioner (building -> floor -> x/y)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from positioning.representation import to_representation
from positioning.vectors import MISSING_DBM

METRICS = ("sorensen", "manhattan", "euclidean")
WEIGHTINGS = ("inverse", "uniform")


@dataclass(frozen=True)
class Estimate:
    building: int
    floor: int
    x: float
    y: float
    confidence: float  # 0..1: how clearly the neighbours agree on building and floor
    neighbours: tuple[int, ...]  # training rows used for x/y, nearest first


def check_matrix(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x access points), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values; use the missing value for unheard APs")
    return X


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest values, sorted ascending."""
    k = min(k, values.size)
    idx = np.argpartition(values, k - 1)[:k] if k < values.size else np.arange(values.size)
    return idx[np.argsort(values[idx], kind="stable")]


class WKNNPositioner(BaseEstimator):
    """Weighted kNN over a fingerprint map, decided hierarchically: the building by a vote of the
    `k_building` nearest fingerprints, the floor by a vote of the `k_floor` nearest in that building,
    and x/y as the weighted mean of the `k` nearest on that floor.

    Defaults were chosen by cross-validation on UJIIndoorLoc's training set (see docs/positioning.md).
    Distances use only the APs the query hears: with 'not heard' = 0 in every representation,
    sum|a-b| = sum(a) + sum(b) - 2 sum(min(a, b)) and |a-b|^2 = |a|^2 + |b|^2 - 2 a.b, whose cross terms
    vanish outside the query's audible APs. A query thus touches ~20 of 520 columns, read from an
    inverted index (AP -> fingerprints hearing it)."""

    def __init__(
        self,
        k: int = 11,
        k_floor: int | None = None,
        k_building: int | None = None,
        metric: str = "sorensen",
        representation: str = "powed",
        weighting: str = "inverse",
        missing: float = MISSING_DBM,
        alpha: float = 24.0,
        beta: float = float(np.e),
    ) -> None:
        self.k = k
        self.k_floor = k_floor
        self.k_building = k_building
        self.metric = metric
        self.representation = representation
        self.weighting = weighting
        self.missing = missing
        self.alpha = alpha
        self.beta = beta

    # -- fitting ---------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {METRICS}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {WEIGHTINGS}")
        for name in ("k", "k_floor", "k_building"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | np.integer) or value < 1):
                raise ValueError(f"{name} must be a positive integer")

    def _represent(self, X: np.ndarray) -> np.ndarray:
        return to_representation(X, self.representation, self.missing, self.alpha, self.beta)

    def fit(self, X, y) -> WKNNPositioner:
        """X: (n, n_aps) RSSI in dBm, unheard = `missing`. y: (n, 4) = building, floor, x, y."""
        self._check_params()
        X = check_matrix(X)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (X.shape[0], 4):
            raise ValueError(f"y must have shape ({X.shape[0]}, 4): building, floor, x, y; got {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
        R = self._represent(X)
        # Inverted index (CSC): for each AP, the rows that hear it and their values. A query reads only
        # the columns of the APs it hears; the map is ~95% "not heard", so this is also ~10x smaller.
        csc = sparse.csc_matrix(R)
        self.col_ptr_ = csc.indptr.astype(np.int64)
        self.col_rows_ = csc.indices.astype(np.int32)
        self.col_values_ = csc.data.astype(np.float32)
        self.row_sums_ = R.sum(axis=1, dtype=np.float64)
        self.row_squares_ = (R.astype(np.float64) ** 2).sum(axis=1)
        self.buildings_ = y[:, 0].astype(np.int64)
        self.floors_ = y[:, 1].astype(np.int64)
        self.xy_ = y[:, 2:4].astype(np.float64)
        self.n_features_in_ = X.shape[1]
        return self

    # -- prediction ------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "col_ptr_"):
            raise RuntimeError("WKNNPositioner is not fitted; call fit(X, y) first")

    def _cross_terms(self, q: np.ndarray, audible: np.ndarray) -> np.ndarray:
        """Per fingerprint: sum over the query's audible APs of min(x, q) (L1 metrics) or x*q (Euclidean)."""
        starts, ends = self.col_ptr_[audible], self.col_ptr_[audible + 1]
        # Concatenating ~20 column slices beats building one fancy index over them (~55 vs ~80 us).
        spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
        rows = np.concatenate([self.col_rows_[a:b] for a, b in spans])
        values = np.concatenate([self.col_values_[a:b] for a, b in spans])
        q_values = np.repeat(q[audible].astype(np.float32), ends - starts)
        terms = values * q_values if self.metric == "euclidean" else np.minimum(values, q_values)
        return np.bincount(rows, weights=terms, minlength=self.row_sums_.size)

    def distances(self, q: np.ndarray) -> np.ndarray:
        """Distances from one represented query to every fingerprint."""
        audible = np.flatnonzero(q)
        if audible.size == 0:
            raise ValueError("the query hears no known access point")
        cross = self._cross_terms(q, audible)
        q64 = q.astype(np.float64)
        if self.metric == "euclidean":
            return np.sqrt(np.maximum(self.row_squares_ + np.dot(q64, q64) - 2 * cross, 0))
        total = self.row_sums_ + q64.sum()
        l1 = np.maximum(total - 2 * cross, 0)
        return l1 if self.metric == "manhattan" else l1 / np.maximum(total, 1e-12)

    def _weights(self, d: np.ndarray) -> np.ndarray:
        if self.weighting == "uniform":
            return np.ones_like(d, dtype=np.float64)
        return 1.0 / (d.astype(np.float64) + 1e-6)

    def _vote(self, labels: np.ndarray, d: np.ndarray) -> tuple[int, float]:
        weights = self._weights(d)
        low = int(labels.min())
        scores = np.bincount(labels - low, weights=weights)  # labels are small integers (ids, levels)
        best = int(np.argmax(scores))
        return best + low, float(scores[best] / scores.sum())

    def _candidate_distances(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) of the fingerprints that can be neighbours. With Sorensen a fingerprint
        sharing no audible AP with the query is at the maximum distance 1, so only rows that share one
        compete (about 4,500 of 20,000 on UJIIndoorLoc), unless there are too few of them."""
        if self.metric == "sorensen":
            audible = np.flatnonzero(q)
            if audible.size == 0:
                raise ValueError("the query hears no known access point")
            cross = self._cross_terms(q, audible)
            rows = np.flatnonzero(cross > 0)  # a bool scan is ~5x faster than one over floats
            if rows.size >= self._needed():
                total = self.row_sums_[rows] + float(q.sum(dtype=np.float64))
                return rows, np.maximum(total - 2 * cross[rows], 0) / total
        d = self.distances(q)
        return np.arange(d.size), d

    def _needed(self) -> int:
        return max(self.k, self.k_floor or 0, self.k_building or 0)

    def _locate_represented(self, q: np.ndarray) -> Estimate:
        rows, d = self._candidate_distances(q)
        # The M nearest rows overall hold the exact k nearest of any building or floor as long as they
        # hold at least k of it; one partition then replaces three. Fall back to all rows otherwise.
        top = _smallest(d, max(32, 4 * self._needed()))
        estimate = self._decide(rows[top], d[top], complete=top.size == d.size)
        if estimate is None:
            order = np.argsort(d, kind="stable")
            estimate = self._decide(rows[order], d[order], complete=True)
        return estimate

    def _decide(self, rows: np.ndarray, d: np.ndarray, complete: bool) -> Estimate | None:
        """Building -> floor -> x/y over rows sorted by distance; None if `rows` is a prefix that turned
        out too short to decide exactly."""
        buildings, floors = self.buildings_[rows], self.floors_[rows]
        k_building, k_floor = self.k_building or self.k, self.k_floor or self.k
        building, building_share = self._vote(buildings[:k_building], d[:k_building])
        in_building = np.flatnonzero(buildings == building)
        if in_building.size < k_floor and not complete:
            return None
        nearest = in_building[:k_floor]
        floor, floor_share = self._vote(floors[nearest], d[nearest])
        on_floor = in_building[floors[in_building] == floor]
        if on_floor.size < self.k and not complete:
            return None
        nearest = on_floor[: self.k]
        weights = self._weights(d[nearest])
        chosen = rows[nearest]
        x, y = (self.xy_[chosen] * weights[:, None]).sum(axis=0) / weights.sum()
        return Estimate(building=building, floor=floor, x=float(x), y=float(y),
                        confidence=building_share * floor_share, neighbours=tuple(chosen.tolist()))

    def _check_query(self, X) -> np.ndarray:
        self._check_fitted()
        X = check_matrix(np.atleast_2d(X))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"query has {X.shape[1]} access points, the model was fitted on {self.n_features_in_}")
        return X

    def locate(self, x) -> Estimate:
        """One RSSI vector (dBm) -> Estimate. Raises ValueError if it hears no known AP."""
        X = self._check_query(np.asarray(x, dtype=np.float64).reshape(1, -1))
        return self._locate_represented(self._represent(X)[0])

    def locate_many(self, X) -> list[Estimate]:
        """Many RSSI vectors -> Estimates. One query at a time: a query reads only ~20 index columns, so
        batching them (tried: one gather + bincount per block of 8-32) only added cache misses."""
        R = self._represent(self._check_query(X))
        silent = ~R.any(axis=1)
        if silent.any():
            raise ValueError(f"query row {int(np.argmax(silent))} hears no known access point")
        return [self._locate_represented(q) for q in R]

    def predict(self, X) -> np.ndarray:
        """(m, n_aps) RSSI -> (m, 4): building, floor, x, y."""
        return np.array([[e.building, e.floor, e.x, e.y] for e in self.locate_many(X)], dtype=np.float64)

    def model_bytes(self) -> int:
        """Memory held by the learned arrays."""
        arrays = [self.col_ptr_, self.col_rows_, self.col_values_, self.row_sums_, self.row_squares_,
                  self.buildings_, self.floors_, self.xy_]
        return int(sum(a.nbytes for a in arrays))
