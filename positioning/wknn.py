"""Hierarchical weighted k-nearest-neighbour fingerprint positioner (building -> floor -> x/y)."""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from positioning.params import EstimatorParams
from positioning.representation import REPRESENTATIONS, to_representation
from positioning.vectors import MISSING_DBM, weakest_listed_dbm

T = TypeVar("T")

METRICS = ("sorensen", "manhattan", "euclidean")
# Offsets under this (dB) are left alone: readings are whole dB and vary more than this between scans, so a
# re-search would cost a second search and move almost nothing.
MIN_OFFSET_DB = 1.0
WEIGHTINGS = ("inverse", "uniform")
# How the floor is decided: "vote", the floor with the largest inverse-distance vote among the `k_floor` nearest
# fingerprints of the building; "mean", the floor whose own `k_floor` nearest fingerprints are nearest on average
# (each floor judged by its best matches, not by how many of the overall nearest it holds: near a stairwell or
# an atrium one lucky fingerprint of the floor above can win the vote; Tampere's training set chose it,
# docs/positioning.md "Floor rule").
FLOOR_RULES = ("vote", "mean")
# `floor_model`: None, the neighbours alone decide the floor; "logistic", a classifier of the floor over the whole
# map (a multinomial logistic regression per building on the powed values) gets a say too: where it names another
# floor with more confidence than the neighbours' decision, that floor is taken and x/y decided on it, as the blend
# takes the more confident model's floor. The neighbours judge a floor by a few fingerprints near the query; the
# classifier weighs every AP across the building, and on Tampere's folds it was right on a few percent of the
# held-out survey vectors where they were wrong (docs/positioning.md "A floor classifier"). Its C was set before any
# fold was read. On by default since 2026-12-06 (the defaults' comment below); the live model never runs it.
FLOOR_MODELS = (None, "logistic")
FLOOR_MODEL_C = 10.0
FLOOR_MODEL_MAX_ITER = 1000
FLOOR_CLASSIFIERS = "floor_classifiers"  # its key in a fitted model's `_FitCache`
# A phone joins one of the strongest APs it hears, not always the strongest by its own reading (its offset, its
# body, a sticky choice): a phone just associated with an AP is at a reference point where that AP is among this
# many strongest. First 4 (the cold start's three ranks and one more, set before measuring); 2 since 2026-12-04:
# in a ring around an open atrium an AP is still fourth across the atrium, and a partial match's few readings
# matched the mirror side, 50-111 m off (paired first probes on four training and eight check malls, +28 / -9;
# docs/landing-history.md, sixteenth pass).
ASSOCIATION_RANK = 2


def _checked_indices(indices, size: int, what: str) -> np.ndarray | None:
    """Indices (any integer sequence) as a sorted unique int64 array, each in [0, size); None for None."""
    if indices is None:
        return None
    found = np.unique(np.asarray(indices, dtype=np.int64).ravel())
    if found.size and (found[0] < 0 or found[-1] >= size):
        raise ValueError(f"{what} must lie in [0, {size})")
    return found


@dataclass(frozen=True)
class Estimate:
    building: int
    floor: int
    x: float
    y: float
    confidence: float  # 0..1: how clearly the neighbours agree on building and floor
    neighbours: tuple[int, ...]  # training rows used for x/y, nearest first
    offset_db: float = 0.0  # how much louder than the map the query read (removed before matching)


def estimates_table(estimates: Iterable[Estimate]) -> np.ndarray:
    """Estimates as `predict`'s (m, 4) table: building, floor, x, y."""
    return np.array([(e.building, e.floor, e.x, e.y) for e in estimates], dtype=np.float64).reshape(-1, 4)


def blended(own: Estimate, other: Estimate) -> Estimate:
    """Two models' estimates of one query as one (`blend_representation`): the building and floor of the more
    confident (`own`'s on a tie), with its neighbours and offset; x/y the mean of the two where both say that
    building and floor, else the chosen one's. Two representations weigh weak and strong readings differently,
    so their x/y errors are partly independent: the mean of the two beat either on both public training sets
    (docs/positioning.md "Blend")."""
    chosen = other if other.confidence > own.confidence else own
    if (own.building, own.floor) != (other.building, other.floor):
        return chosen
    return replace(chosen, x=(own.x + other.x) / 2, y=(own.y + other.y) / 2)


def _dense(X, name: str = "X") -> np.ndarray:
    """X as a float64 array; a scipy.sparse matrix refused (its implicit entries would read as 0 dBm, the
    loudest possible reading, where a fingerprint map means 'not heard')."""
    if hasattr(X, "toarray"):
        raise ValueError(f"{name} is a sparse matrix: pass a dense array of dBm with unheard APs at the missing "
                         f"value ({MISSING_DBM:g} by default); a sparse matrix's empty cells would read as 0 dBm")
    return np.asarray(X, dtype=np.float64)


def check_matrix(X: ArrayLike, name: str = "X") -> np.ndarray:
    """X as a 2-D float64 array of dBm: finite, 0 or below (ValueError otherwise)."""
    X = _dense(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x access points), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty")
    # Two reductions, no temporary array: min is NaN if any value is, max > 0 for +inf or a positive value.
    low, high = X.min(), X.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values; use the missing value for unheard APs")
    if high > 0:
        raise ValueError(f"{name} has values above 0 dBm (largest {high:g}): RSSI must be in dBm, 0 or below. "
                         f"UJIIndoorLoc's raw files write 100 for 'not heard': replace it with the missing value "
                         f"({MISSING_DBM:g} by default), or read them with positioning.datasets.read_dataset")
    return X


def _smallest(values: np.ndarray, k: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Positions of the k smallest values, sorted ascending; equal values by `ids` (default: position),
    also across the cut, so that the batch and one-query paths pick the same rows among ties."""
    k = min(k, values.size)
    idx = np.arange(values.size)
    if k < values.size:
        idx = np.argpartition(values, k - 1)[:k]
        kth = values[idx].max()
        if np.count_nonzero(values == kth) > np.count_nonzero(values[idx] == kth):  # a tie across the cut
            idx = np.flatnonzero(values <= kth)
    order = idx[np.lexsort((idx if ids is None else ids[idx], values[idx]))]
    return order[:k]


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index ranges starts[i] .. starts[i] + lengths[i], laid end to end (a vectorised gather)."""
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(int(lengths.sum()), dtype=np.int64)


# A column that at least this share of the map's rows hear is also kept whole for the batch path's search
# (positioning.kernels: added over every row, vectorised, instead of scattered into the rows hearing it).
WHOLE_COLUMN_SHARE = 0.2


def whole_columns(col_ptr: np.ndarray, col_rows: np.ndarray, col_values: np.ndarray, n_rows: int,
                  share: float = WHOLE_COLUMN_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(slot per AP, -1 for none; the columns heard by at least `share` of the rows, whole: 0 where a row does not
    hear the AP). Most of a generated mall's ceiling APs are heard over a tenth to a half of its survey (mall 4242:
    19-50%, 777: 11-33%): searched whole, the batch path's search is x1.3-x1.8 faster on those malls, x2.7 on the demo
    mall (bench/search.py). UJIIndoorLoc's busiest APs (a quarter of its rows at most) gain nothing, sparser columns
    would lose (docs/positioning.md, *Why it is fast*), and a whole column costs at most 1 / WHOLE_COLUMN_SHARE times
    its values' bytes."""
    counts = np.diff(col_ptr)
    whole = np.flatnonzero(counts >= share * n_rows)
    slot = np.full(counts.size, -1, dtype=np.int64)
    slot[whole] = np.arange(whole.size)
    columns = np.zeros((whole.size, n_rows), dtype=np.float32)
    for i, ap in enumerate(whole):
        columns[i, col_rows[col_ptr[ap]:col_ptr[ap + 1]]] = col_values[col_ptr[ap]:col_ptr[ap + 1]]
    return slot, columns


def _batch_vote(codes: np.ndarray, weights: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the label code with the largest summed weight (ties: the lowest, as in `_vote`), share."""
    scores = _batch_scores(codes, weights, n_labels)
    best = np.argmax(scores, axis=1)
    return best, _batch_share(scores, best)


def _batch_scores(codes: np.ndarray, weights: np.ndarray, n_labels: int) -> np.ndarray:
    """(m, n_labels): per row, each label code's summed weight."""
    m = codes.shape[0]
    flat = (np.arange(m)[:, None] * n_labels + codes).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=m * n_labels).reshape(m, n_labels)


def _batch_share(scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per row of `_batch_scores`: the `chosen` label code's share of the summed weight (0 with no weight)."""
    total = scores.sum(axis=1)
    return scores[np.arange(scores.shape[0]), chosen] / np.where(total > 0, total, 1.0)


def _floor_means(codes: np.ndarray, d: np.ndarray, valid: np.ndarray, in_building: np.ndarray,
                 complete: np.ndarray, m: int, n_labels: int, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """The "mean" floor rule over (q, M) rows sorted by distance: per query (best floor code, exact).

    A floor's figure is the mean distance of its `m` nearest fingerprints in the building; a floor with fewer
    than `m` among all of a query's candidates (`complete`) is padded with `pad`, the metric's farthest (what a
    fingerprint sharing no AP is under Sorensen; inf for a metric without one: the query's farthest candidate).
    Over a prefix of the candidates, a floor with fewer than `m` in it gets a lower bound (the rest at least the
    prefix's last distance); the choice is exact only if no bound beats the best exact mean (ties go to the
    lowest floor, as the vote's). Sums run in rank order (cumsum), so one query alone and in a batch get the
    same bits."""
    means, exact = _floor_figures(codes, d, valid, in_building, complete, m, n_labels, pad)
    q = codes.shape[0]
    candidates = np.where(exact, means, np.inf)
    best = np.argmin(candidates, axis=1)
    best_mean = candidates[np.arange(q), best]
    codes_range = np.arange(n_labels)[None, :]
    beaten = ~exact & ((means < best_mean[:, None]) | ((means == best_mean[:, None]) & (codes_range < best[:, None])))
    return best, np.isfinite(best_mean) & ~beaten.any(axis=1)


def _floor_figures(codes: np.ndarray, d: np.ndarray, valid: np.ndarray, in_building: np.ndarray,
                   complete: np.ndarray, m: int, n_labels: int, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """`_floor_means`' (q, n_labels) figures: each floor's mean (inf: none of its rows, all candidates seen) and
    whether that mean is exact (else a lower bound)."""
    q = codes.shape[0]
    last = np.where(valid, d, -np.inf).max(axis=1, initial=-np.inf)  # rows past the prefix are at least this far
    rest = np.where(complete, pad if np.isfinite(pad) else last, last)  # what a floor short of m is padded with
    # Every floor at once, (q, floor, row): a loop over floors was ~60 small numpy calls, a third of a query's time
    on = in_building[:, None, :] & (codes[:, None, :] == np.arange(n_labels)[None, :, None])
    taken = on & (np.cumsum(on, axis=2) <= m)
    count = taken.sum(axis=2)
    total = np.cumsum(np.where(taken, d[:, None, :], 0.0), axis=2)[:, :, -1] if d.shape[1] else np.zeros((q, n_labels))
    full = count >= m
    extra = np.zeros((q, n_labels))
    np.multiply(m - count, rest[:, None], out=extra, where=~full)  # not 0 x inf where the floor has its m
    padded = (total + extra) / m
    return np.where(on.any(axis=2) | ~complete[:, None], padded, np.inf), full | complete[:, None]


def spatial_cluster(xy: np.ndarray, weights: np.ndarray, radius_m: float) -> np.ndarray:
    """(m, k) bool: per query, the neighbours within `radius_m` of its anchor, the neighbour with the most
    weight within `radius_m` of it (the nearest in signal space on a tie). Neighbours that match the query
    alike can lie far apart (two spots that hear the same APs alike); their weighted mean is a place between
    them that neither is, so x/y come from the main cluster alone. `xy` (m, k, 2) in rank order, `weights`
    (m, k), 0 for a column that is no neighbour. The sums run in rank order, so a query gets the same answer
    alone or in a batch."""
    gap = np.hypot(xy[:, :, None, 0] - xy[:, None, :, 0], xy[:, :, None, 1] - xy[:, None, :, 1])
    near = gap <= radius_m
    support = np.zeros(weights.shape)
    for j in range(weights.shape[1]):
        support += near[:, :, j] * weights[:, j, None]
    support[weights <= 0] = -np.inf
    anchor = np.argmax(support, axis=1)
    return near[np.arange(xy.shape[0]), anchor] & (weights > 0)


def _column_names(X) -> np.ndarray | None:
    """A frame's column names (object array), as scikit-learn keeps them: only when all are strings."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if all(isinstance(name, str) for name in names) else None


# How `_in_named_order` names the reference a frame's columns are matched to: (the reference's names, names not
# among them, names of it that the frame lacks).
SEEN_AT_FIT = ("those seen at fit", "unseen at fit", "seen at fit but missing now")
X_COLUMNS = ("X's", "not in X", "in X but missing")


def _in_named_order(X, fitted: np.ndarray | None, what: str, reference: tuple[str, str, str] = SEEN_AT_FIT):
    """X with its columns in the order `fitted` names them, when X names its columns (a frame) and `fitted` is
    not None; ValueError naming the difference when X's names are not those (`what`: X's name in the message,
    `reference`: how to name `fitted`, SEEN_AT_FIT or X_COLUMNS). Anything else as it is."""
    names = _column_names(X) if fitted is not None else None
    if names is None or np.array_equal(names, fitted):
        return X
    position = {name: i for i, name in enumerate(names)}
    if len(position) == len(names) == fitted.size and all(name in position for name in fitted):
        return _dense(X, what)[..., [position[name] for name in fitted]]
    known = set(fitted)
    whose, unknown, lacking = reference
    problems = {unknown: [n for n in names if n not in known],
                lacking: [n for n in fitted if n not in position],
                "named twice": _named_twice(names)}
    raise ValueError(f"{what}'s column names are not {whose}: "
                     + "; ".join(f"{_name_list(found)} {problem}" for problem, found in problems.items() if found))


def _named_twice(names: Iterable[str]) -> list[str]:
    """The names a frame gives more than one of its columns, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _name_list(names: list) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return f"[{shown}{', ...' if len(names) > 5 else ''}] ({len(names)})"


def _check_targets(y, n_rows: int | None) -> np.ndarray:
    """y as (n, 4) float64 = building, floor, x, y: finite, building and floor whole numbers (labels)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != 4 or (n_rows is not None and y.shape[0] != n_rows):
        rows = "n" if n_rows is None else n_rows
        raise ValueError(f"y must have shape ({rows}, 4): building, floor, x, y; got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    labels = y[:, :2]
    fractional = np.argwhere(labels != np.round(labels))
    if fractional.size:
        row, col = fractional[0]
        raise ValueError(f"y's {('building', 'floor')[col]} (column {col}) must be a whole number, a label; row {row} "
                         f"has {labels[row, col]:g} (number a mezzanine as a floor of its own)")
    return y


@dataclass
class _Batch:
    """Decisions for one block of queries; `exact` False rows are answered by `fallback` instead."""

    building: np.ndarray
    floor: np.ndarray
    xy: np.ndarray
    confidence: np.ndarray
    rows: np.ndarray  # (m, M) candidate rows, nearest first
    chosen: np.ndarray  # (m, M) the rows used for x/y
    exact: np.ndarray
    fallback: dict[int, Estimate] = field(default_factory=dict)
    offset: np.ndarray | None = None  # dB removed from each query before its final round
    queries: np.ndarray | None = None  # the dBm queries as last matched (the offset taken off)
    # the fallback queries' candidates as the one-query path shortlisted them (`_located`): what a blend re-ranks
    shortlists: dict[int, np.ndarray] = field(default_factory=dict)

    def neighbour_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(query index, training row) for every neighbour used for x/y."""
        queries, columns = np.nonzero(self.chosen)
        rows = self.rows[queries, columns]
        if self.fallback:
            keep = ~np.isin(queries, list(self.fallback))
            extra = [(i, r) for i, e in self.fallback.items() for r in e.neighbours]
            queries = np.concatenate([queries[keep], np.array([i for i, _ in extra], dtype=np.int64)])
            rows = np.concatenate([rows[keep], np.array([r for _, r in extra], dtype=np.int64)])
        return queries, rows

    def replace(self, index: np.ndarray, other: _Batch) -> None:
        """Take `other`'s decisions (a batch of the queries `index`) for those queries."""
        for name in ("building", "floor", "xy", "confidence", "rows", "chosen", "exact"):
            getattr(self, name)[index] = getattr(other, name)
        for i in index.tolist():
            self.fallback.pop(i, None)
            self.shortlists.pop(i, None)
        self.fallback.update({int(index[j]): e for j, e in other.fallback.items()})
        self.shortlists.update({int(index[j]): rows for j, rows in other.shortlists.items()})

    def estimates(self) -> list[Estimate]:
        out = []
        for i in range(self.building.size):
            offset = 0.0 if self.offset is None else float(self.offset[i])
            if i in self.fallback:
                out.append(replace(self.fallback[i], offset_db=offset))
                continue
            out.append(Estimate(building=int(self.building[i]), floor=int(self.floor[i]), x=float(self.xy[i, 0]),
                                y=float(self.xy[i, 1]), confidence=float(self.confidence[i]),
                                neighbours=tuple(self.rows[i][self.chosen[i]].tolist()), offset_db=offset))
        return out

    def decided(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(building, floor, confidence, offset) per query, the fallbacks' in their places: what `estimates` says of
        each, without building them (the floor check reads only these, on `predict`'s path)."""
        building, floor = self.building.astype(np.int64), self.floor.astype(np.int64)
        confidence = self.confidence.astype(np.float64)
        for i, e in self.fallback.items():
            building[i], floor[i], confidence[i] = e.building, e.floor, e.confidence
        offset = np.zeros(building.size) if self.offset is None else self.offset.astype(np.float64)
        return building, floor, confidence, offset

    def table(self) -> np.ndarray:
        out = np.column_stack([self.building, self.floor, self.xy]).astype(np.float64)
        for i, e in self.fallback.items():
            out[i] = (e.building, e.floor, e.x, e.y)
        return out


def blended_batch(own: _Batch, other: _Batch) -> _Batch:
    """`blended` over two models' decisions for one block (whole arrays; `own`'s offset, queries and fallbacks)."""
    take = other.confidence > own.confidence
    agree = (other.building == own.building) & (other.floor == own.floor)
    xy = np.where(take[:, None], other.xy, own.xy)
    xy[agree] = (own.xy[agree] + other.xy[agree]) / 2
    return _Batch(xy=xy, exact=own.exact, offset=own.offset, queries=own.queries, fallback=dict(own.fallback),
                  **{name: np.where(take if name in ("building", "floor", "confidence") else take[:, None],
                                    getattr(other, name), getattr(own, name))
                     for name in ("building", "floor", "confidence", "rows", "chosen")})


class _FitCache:
    """What one fit's arrays give on demand, worked out the first time it is asked and kept until the next fit: the
    floor classifier (`_floor_classifier`) and the strong rows (`_strong_rows_by_ap`).

    Not fitted in `fit`: the classifier imports scikit-learn (~1.2 s) and fits a regression per building, which a
    model fitted with the default `floor_model` and never asked for it (a blend's second model, tune's maps where
    the grid leaves it out, a partial match) would pay for nothing, and `floor_model` may be set after fit (tune's
    query-time values). So `fit` sets this one private object and the queries fill it in: the estimator's
    attributes stay as fit set them (scikit-learn's rule for predict, its check_dict_unchanged), and the lock makes
    the threads that share one model (the portal's ModelCache) wait for the one working a value out instead of each
    repeating it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value under `key`, made by `make` (once, whichever thread asks first) if not there yet."""
        if key in self._values:  # no lock once made: the live path reads strong rows for every probe
            return self._values[key]
        with self._lock:
            if key not in self._values:
                self._values[key] = make()
            return self._values[key]

    def known(self, key: Hashable) -> Any:
        """The value under `key` if made already, else None (makes nothing)."""
        return self._values.get(key)

    def __getstate__(self) -> dict[Hashable, Any]:
        return self._values  # a lock can be neither pickled nor copied: a copy gets its own

    def __setstate__(self, values: dict[Hashable, Any]) -> None:
        self.__init__()
        self._values = values


class WKNNPositioner(EstimatorParams):
    """Weighted kNN over a fingerprint map, decided hierarchically: the building by a vote of the
    `k_building` nearest fingerprints, the floor by a vote of the `k_floor` nearest in that building,
    and x/y as the weighted mean of the `k` nearest on that floor (with `cluster_m` > 0, of those of them
    in their main spatial cluster: `spatial_cluster`).

    `floor_rule="mean"` decides the floor by each floor's own `k_floor` nearest instead of the vote
    (`_floor_means`); `weight_power` p weighs neighbours by 1/distance^p (1: the plain inverse) in the votes
    and the x/y mean.

    `offset_rounds` rounds of per-query offset removal: the median dB difference between the query and
    its neighbours over the APs both hear is taken off the query, which is then located again (another
    phone model reads every AP louder or softer by about the same amount). 2 won the cross-validation
    on the training sets of UJIIndoorLoc and Tampere; k, metric and representation are per venue
    (positioning.tuning); the defaults are what both public sets' training folds chose (docs/positioning.md).

    Those rounds stop short of a large offset: a query read 10 dB softer first finds fingerprints that
    read softer too (farther from the APs), and the median against them says only part of the offset.
    `offset_search_db` S > 0 first compares the query as read and shifted by -S and +S dB, and starts
    the rounds from the shift whose k nearest fingerprints are closest (a shift must be closer than
    the query as read by the fraction `offset_search_margin`: a phone usually reads like the map). A
    partial match (`locate(partial=True)`) is searched only within the rows near its AP (`within`): with
    the few APs such a query hears, a shifted query finds another place that reads like it as readily as
    its own offset (searched over the whole map, the simulated malls' first probe lost up to 11 points),
    while near one AP there are few such places (searched there ±5 dB, it gained 3-8 points on every
    check mall: docs/landing-history.md, eighteenth pass).

    `blend_representation` (powed by default) fits a second model over another representation of the same map:
    it ranks this model's final candidates (the M nearest it decided from, its offset taken off) by its own
    distances and decides from them, and each answer blends the two (`blended`): the more confident one's
    building and floor, the mean of their x/y where they agree. The two representations weigh weak and strong
    readings differently, so their x/y errors are partly independent. Ranking the candidates instead of
    searching the map again costs about a tenth of the batch throughput and 30-50% more single-query time (p50)
    on the bench map, not half of the throughput, and scored as well on both public training sets' folds
    (docs/positioning.md "Blend"). The same representation as `representation`, or None: no blend. The second
    model (`blended_`) only ranks: it holds no search index values of its own (`col_values_` None) and cannot
    be used alone.

    Distances use only the APs the query hears: with 'not heard' = 0 in every representation,
    sum|a-b| = sum(a) + sum(b) - 2 sum(min(a, b)) and |a-b|^2 = |a|^2 + |b|^2 - 2 a.b, whose cross terms
    vanish outside the query's audible APs. A query thus touches ~20 of 520 columns, read from an
    inverted index (AP -> fingerprints hearing it)."""

    # The defaults: what cross-validation on the TRAINING files of both public sets chose (docs/positioning.md
    # "Defaults"): both chose k=7, k_floor=3, the mean floor rule, weights 1/d^4 and 2 offset rounds, and their
    # pooled folds the exponential representation; both sets' folds scored the powed blend better than none
    # (since 2026-12-05, when it became a re-ranking of the candidates), and the floor classifier over none (since
    # 2026-12-06: the rest fixed at these values, Tampere's folds 92.25% / 7.97 m against 91.54% / 8.00 m,
    # UJIIndoorLoc's 84.58% / 7.43 m against 84.63% / 7.45 m, the floor rates within their spread, so the mean error
    # decides as `tune` ranks). No test file chose anything. The offset search stays off (as cluster_m): it triples a
    # query's work, and `tune` turns it on where it pays.
    def __init__(
        self,
        k: int = 7,
        k_floor: int | None = 3,
        k_building: int | None = None,
        metric: str = "sorensen",
        representation: str = "exponential",
        weighting: str = "inverse",
        missing: float = MISSING_DBM,
        alpha: float = 24.0,
        beta: float = float(np.e),
        offset_rounds: int = 2,
        offset_search_db: float = 0.0,
        offset_search_margin: float = 0.03,
        unheard_weight: float = 1.0,
        cluster_m: float = 0.0,
        floor_rule: str = "mean",
        weight_power: float = 4.0,
        blend_representation: str | None = "powed",
        floor_model: str | None = "logistic",
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
        self.offset_rounds = offset_rounds
        self.offset_search_db = offset_search_db
        self.offset_search_margin = offset_search_margin
        self.unheard_weight = unheard_weight
        self.cluster_m = cluster_m
        self.floor_rule = floor_rule
        self.weight_power = weight_power
        self.blend_representation = blend_representation
        self.floor_model = floor_model

    # -- fitting ---------------------------------------------------------------------------------

    def check_params(self) -> None:
        """ValueError naming the first parameter out of its range (fit calls it; so does tune, for every
        configuration of its grid, before any fit)."""
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {METRICS}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {WEIGHTINGS}")
        if self.floor_rule not in FLOOR_RULES:
            raise ValueError(f"unknown floor rule {self.floor_rule!r}; choose one of {FLOOR_RULES}")
        self._checks_floors()  # refuses a floor_model it does not know
        if self.blend_representation is not None and self.blend_representation not in REPRESENTATIONS:
            raise ValueError(f"blend_representation must be None (off) or a representation, one of "
                             f"{REPRESENTATIONS} (the model's own, {self.representation!r}: no blend)")
        for name in ("alpha", "beta"):  # the representations' scales: <= 0 or inf would empty the map
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
                    0 < value < float("inf")):
                raise ValueError(f"{name} must be a positive finite number")
        for name in ("k", "k_floor", "k_building"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | np.integer) or value < 1):
                raise ValueError(f"{name} must be a positive integer")
        if not isinstance(self.offset_rounds, int | np.integer) or not 0 <= self.offset_rounds <= 5:
            raise ValueError("offset_rounds must be an integer from 0 to 5")
        for name, high, high_included, message in (("offset_search_db", 30.0, True, "from 0 (off) to 30 dB"),
                                                   ("cluster_m", 1000.0, True, "from 0 (off) to 1000 m"),
                                                   ("weight_power", 8.0, True, "from 0 to 8"),
                                                   ("offset_search_margin", 1.0, False, "in [0, 1)"),
                                                   ("unheard_weight", 1.0, True, "in [0, 1]")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
                    value >= 0.0 and (value <= high if high_included else value < high)):
                raise ValueError(f"{name} must be a number {message}")

    def _represent(self, X: np.ndarray) -> np.ndarray:
        return to_representation(X, self.representation, self.missing, self.alpha, self.beta)

    def blends(self) -> bool:
        """Whether `fit` fits a second model to blend in: a `blend_representation` named that is not the model's own."""
        return self.blend_representation not in (None, self.representation)

    def fit(self, X: ArrayLike, y: ArrayLike, offset_X: ArrayLike | None = None) -> WKNNPositioner:
        """X: (n, n_aps) RSSI in dBm, unheard = `missing` (an array, or a frame whose column names are kept
        as `feature_names_in_` and matched at predict). y: (n, 4) = building, floor (whole numbers), x, y.
        A row that hears nothing stays in the map (a surveyed spot where nothing is heard); a map where
        no row hears anything is refused.

        `offset_X` (X's shape, dBm; a frame's columns matched to X's names as a query's are): what a query's offset
        is measured against, when not X itself: X with the levels its survey did not list estimated below the
        survey's hearing (a venue's map lists an AP at a point only where the survey phone heard it in half its
        scans; a phone louder than the survey phone is heard by some of the others now and then, and those readings
        then count toward its offset). A level under X's weakest listed one (`weakest_listed_dbm`: the estimates,
        and the few stray listed levels under its 0.1th percentile) counts at it: all a fingerprint that does not
        list an AP says is that it was under the hearing, so the phone read it at least that much louder (unclipped,
        a harsher simulated radio world lost up to 10 points of landing at 120 s). So an estimate decides only
        whether the AP counts at that spot. Matching, the strong rows and everything else stay on X
        (docs/landing-history.md, twenty-second pass)."""
        self.check_params()
        names = _column_names(X)
        if names is not None and (twice := _named_twice(names)):  # one AP, one column: a query could not be matched
            raise ValueError(f"X's column names must be unique: {_name_list(twice)} named twice")
        X = check_matrix(X)
        y = _check_targets(y, X.shape[0])
        if offset_X is not None:
            # a frame naming its columns is matched to X's names (in another order, reordered), as a query is
            offset_X = check_matrix(_in_named_order(offset_X, names, "offset_X", X_COLUMNS), "offset_X")
            if offset_X.shape != X.shape:
                raise ValueError(f"offset_X must have X's shape {X.shape}, got {offset_X.shape}")
        R = self._represent(X)
        # Inverted index (CSC): for each AP, the rows that hear it and their values. A query reads only
        # the columns of the APs it hears; the map is ~95% "not heard", so this is also ~10x smaller.
        csc = sparse.csc_matrix(R)
        if csc.nnz == 0:
            raise ValueError(f"no training row hears any access point (every value is at or below missing="
                             f"{self.missing:g} dBm): there is nothing to match queries against")
        self._set_feature_names(names)
        self.col_ptr_ = csc.indptr.astype(np.int64)
        # The APs no fingerprint hears: a query hearing only them matches nothing (see `hears_known`).
        self.unheard_aps_ = np.flatnonzero(np.diff(self.col_ptr_) == 0)
        self.col_rows_ = csc.indices.astype(np.int32)
        self.col_values_ = csc.data.astype(np.float32)
        self.whole_slot_, self.whole_columns_ = whole_columns(self.col_ptr_, self.col_rows_, self.col_values_,
                                                              X.shape[0])
        # The heard dBm per fingerprint (CSR): each AP's strong rows, and what a query's offset is measured against
        self._fit_cache = _FitCache()  # an earlier fit's strong rows and floor classifier forgotten
        self.row_ptr_, self.row_aps_, self.row_dbm_ = self._heard_rows(X)
        if offset_X is None:
            self.offset_ptr_, self.offset_aps_, self.offset_dbm_ = self.row_ptr_, self.row_aps_, self.row_dbm_
        else:
            weakest = weakest_listed_dbm(X, self.missing)
            self.offset_ptr_, self.offset_aps_, self.offset_dbm_ = self._heard_rows(
                np.where(offset_X > self.missing, np.maximum(offset_X, weakest), offset_X))
        self.row_sums_ = R.sum(axis=1, dtype=np.float64)
        self.row_squares_ = (R.astype(np.float64) ** 2).sum(axis=1)
        self.buildings_ = y[:, 0].astype(np.int64)
        self.floors_ = y[:, 1].astype(np.int64)
        self.building_labels_, self.building_codes_ = np.unique(self.buildings_, return_inverse=True)
        self.floor_labels_, self.floor_codes_ = np.unique(self.floors_, return_inverse=True)
        self.xy_ = y[:, 2:4].astype(np.float64)
        self.n_features_in_ = X.shape[1]
        self.blended_ = None
        if self.blends():
            partner = type(self)(**{**self.get_params(), "representation": self.blend_representation,
                                    "blend_representation": None, "floor_model": None}).fit(X, y, offset_X)
            # its represented values row by row, as its distances to a shortlist of rows read them (`_reranked`)
            owners = np.repeat(np.arange(X.shape[0]), np.diff(partner.row_ptr_))
            partner.row_values_ = partner._represent(X)[owners, partner.row_aps_]
            partner.col_values_ = None  # it ranks the first model's candidates and never searches: no index values
            partner.whole_columns_ = None  # nor whole columns (its `whole_slot_` is the first model's: shared)
            self._share_with(partner)
            self.blended_ = partner
        return self

    def _heard_rows(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X's heard entries by row (CSR): row pointers, AP columns, dBm."""
        heard = sparse.csr_matrix(np.where(self.missing < X, X - self.missing, 0.0))
        return (heard.indptr.astype(np.int64), heard.indices.astype(np.int32),
                (heard.data + self.missing).astype(np.float32))

    # The learned arrays that do not depend on the representation: which rows hear which APs, their dBm and
    # their labels. A blend's second model holds the same values; it takes these very arrays (`_share_with`).
    SHARED_ARRAYS = ("col_ptr_", "col_rows_", "whole_slot_", "unheard_aps_", "row_ptr_", "row_aps_", "row_dbm_",
                     "offset_ptr_", "offset_aps_", "offset_dbm_", "buildings_", "floors_", "building_labels_",
                     "building_codes_", "floor_labels_", "floor_codes_", "xy_")

    def _share_with(self, partner: WKNNPositioner) -> None:
        """Let the blend's second model read this model's representation-independent arrays instead of its
        own copies (equal by construction; checked, as a representation that mapped a heard reading to 0
        would drop it from that model's inverted index), so the blend holds them once."""
        for name in self.SHARED_ARRAYS:
            mine = getattr(self, name)
            if np.array_equal(getattr(partner, name), mine):
                setattr(partner, name, mine)

    # -- prediction ------------------------------------------------------------------------------

    def _set_feature_names(self, names: np.ndarray | None) -> None:
        if names is None:
            self.__dict__.pop("feature_names_in_", None)  # a refit on an array forgets the frame's names
        else:
            self.feature_names_in_ = names

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "col_ptr_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "col_ptr_"):
            # lazy: scikit-learn (~1.2 s to import) only on this error path; its tools expect this class
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(X, y) first")
        if self.col_values_ is None:
            raise ValueError("this is a blend's second model (`blended_`): it ranks the first model's candidates and "
                             "cannot search the map alone; query the blended model")

    def _by_name(self, X):
        """X with its columns in the fitted order when X names them (a frame) and fit saw names too;
        ValueError naming the difference when the names are not the fitted ones. Anything else as it is."""
        return _in_named_order(X, getattr(self, "feature_names_in_", None), "X")

    def hears_known(self, X: ArrayLike) -> np.ndarray:
        """Per dBm row of X: whether it hears an AP some fingerprint hears. Any other row matches no
        fingerprint: `locate` refuses it and `predict` / `locate_many` refuse a batch holding one (callers
        that batch live phones filter with this first)."""
        heard = self.missing < np.asarray(X, dtype=np.float64)
        if self.unheard_aps_.size:
            heard[..., self.unheard_aps_] = False
        return heard.any(axis=-1)

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Minus the mean 2-D error (metres, x/y) of `predict(X)` against y (n, 4): higher is better, as
        scikit-learn's tools (GridSearchCV, cross_val_score without `scoring`) expect. Building and floor
        misses are not in it: pass a `scoring` for those (e.g. the floor hit rate)."""
        y = _check_targets(y, None)
        predicted = self.predict(X)
        if y.shape[0] != predicted.shape[0]:
            raise ValueError(f"y has {y.shape[0]} rows, X {predicted.shape[0]}")
        error = np.hypot(predicted[:, 2] - y[:, 2], predicted[:, 3] - y[:, 3])
        return -float(np.average(error, weights=sample_weight))

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

    def _audible_sums(self, audible: np.ndarray, squares: bool = False) -> np.ndarray:
        """Per fingerprint: the sum (or sum of squares) of its values over the `audible` APs only."""
        starts, ends = self.col_ptr_[audible], self.col_ptr_[audible + 1]
        spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
        rows = np.concatenate([self.col_rows_[a:b] for a, b in spans])
        values = np.concatenate([self.col_values_[a:b] for a, b in spans]).astype(np.float64)
        return np.bincount(rows, weights=values**2 if squares else values, minlength=self.row_sums_.size)

    def _compared_sums(self, audible: np.ndarray, partial: bool, silent: np.ndarray | None,
                       squares: bool = False) -> np.ndarray:
        """Per fingerprint: its sum (or sum of squares) over the APs a match compares. A full match: all
        of them, those the query does not hear counted `unheard_weight` times. A partial one: the query's
        audible APs and the `silent` ones (known not to hear it), not the APs that have not reported yet."""
        if not partial:
            return self._fingerprint_sums(audible, float(self.unheard_weight), squares)
        known = audible if silent is None or silent.size == 0 else np.union1d(audible, silent)
        return self._audible_sums(known, squares)

    def _fingerprint_sums(self, audible: np.ndarray, weight: float, squares: bool = False) -> np.ndarray:
        """Per fingerprint: its sum (or sum of squares) with its values at the APs the query does not
        hear counted `weight` times (1: all of them; 0: over the query's audible APs only)."""
        full = self.row_squares_ if squares else self.row_sums_
        if weight == 1.0:
            return full
        heard = self._audible_sums(audible, squares)
        return heard if weight == 0.0 else weight * full + (1.0 - weight) * heard

    def distances(self, q: np.ndarray, partial: bool = False, silent: np.ndarray | None = None) -> np.ndarray:
        """Distances from one represented query to every fingerprint. `partial`: over the query's
        audible APs and the `silent` ones only (any other AP the query lacks is unknown, not unheard; see
        `locate`); otherwise a fingerprint's readings at APs the query lacks count `unheard_weight` times."""
        audible = np.flatnonzero(q)
        if audible.size == 0:
            raise ValueError("the query hears no known access point")
        cross = self._cross_terms(q, audible)
        q64 = q.astype(np.float64)
        if self.metric == "euclidean":
            squares = self._compared_sums(audible, partial, silent, squares=True)
            # Summed as the batch path sums it (kernels.search): np.dot's BLAS order can differ in the last
            # bit, and a last bit can order a near-tie between two neighbours differently.
            return np.sqrt(np.maximum(squares + (q64**2).sum() - 2 * cross, 0))
        total = self._compared_sums(audible, partial, silent) + q64.sum()
        l1 = np.maximum(total - 2 * cross, 0)
        return l1 if self.metric == "manhattan" else l1 / np.maximum(total, 1e-12)

    def _weights(self, d: np.ndarray) -> np.ndarray:
        if self.weighting == "uniform":
            return np.ones_like(d, dtype=np.float64)
        inverse = 1.0 / (d.astype(np.float64) + 1e-6)
        # weight_power p > 1 leans on the nearest more (inverse distance weighting's power); 1: the plain inverse
        return inverse if self.weight_power == 1 else inverse ** float(self.weight_power)

    def _scores(self, labels: np.ndarray, d: np.ndarray) -> tuple[int, np.ndarray]:
        """(lowest label, each label's summed weight from it up): labels are small integers (ids, levels)."""
        low = int(labels.min())
        return low, np.bincount(labels - low, weights=self._weights(d))

    def _vote(self, labels: np.ndarray, d: np.ndarray) -> tuple[int, float]:
        low, scores = self._scores(labels, d)
        best = int(np.argmax(scores))
        return best + low, float(scores[best] / scores.sum())

    def _share(self, labels: np.ndarray, d: np.ndarray, label: int) -> float:
        """The weighted share of `label` among these neighbours: what the vote would give it."""
        low, scores = self._scores(labels, d)
        return float(scores[label - low] / scores.sum()) if 0 <= label - low < scores.size else 0.0

    def _candidate_distances(self, q: np.ndarray, partial: bool = False, silent: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
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
                sums = self._compared_sums(audible, partial, silent)[rows]
                total = sums + float(q.sum(dtype=np.float64))
                return rows, np.maximum(total - 2 * cross[rows], 0) / total
        d = self.distances(q, partial, silent)
        return np.arange(d.size), d

    def _farthest(self) -> float:
        """The largest distance the metric gives (what the "mean" floor rule pads a floor short of k_floor with)."""
        return 1.0 if self.metric == "sorensen" else float("inf")

    def _needed(self) -> int:
        return max(self.k, self.k_floor or 0, self.k_building or 0)

    def _locate_represented(self, q: np.ndarray, partial: bool = False, silent: np.ndarray | None = None,
                            candidates: tuple[np.ndarray, np.ndarray] | None = None,
                            within: np.ndarray | None = None) -> Estimate:
        """One represented query's estimate (`candidates`: its `_candidate_distances`, when already found;
        `within`: the rows it may pick from, when at least as many of them are candidates as it needs)."""
        return self._located(q, partial, silent, candidates, within)[0]

    def _located(self, q: np.ndarray, partial: bool = False, silent: np.ndarray | None = None,
                 candidates: tuple[np.ndarray, np.ndarray] | None = None, within: np.ndarray | None = None
                 ) -> tuple[Estimate, np.ndarray]:
        """`_locate_represented`'s estimate and the rows it was decided from, nearest first (what a blend's second
        model ranks: `_reranked`)."""
        rows, d = candidates if candidates is not None else self._candidate_distances(q, partial, silent)
        if within is not None:
            rows, d = self._near((rows, d), within) or (rows, d)
        # The M nearest rows overall hold the exact k nearest of any building or floor as long as they
        # hold at least k of it; one partition then replaces three. Fall back to all rows otherwise.
        top = _smallest(d, self._width())
        estimate = self._decide(rows[top], d[top], complete=top.size == d.size)
        if estimate is not None:
            return estimate, rows[top]
        order = np.argsort(d, kind="stable")
        return self._decide(rows[order], d[order], complete=True), rows[order]

    def _width(self) -> int:
        """M: how many of a query's nearest candidates a decision reads (both paths)."""
        return max(32, 4 * self._needed())

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
        if self.floor_rule == "mean":
            best, exact = _floor_means(self.floor_codes_[rows][None], d[None], np.ones((1, d.size), bool),
                                       (buildings == building)[None], np.array([complete]), k_floor,
                                       self.floor_labels_.size, self._farthest())
            if not exact[0]:
                return None
            floor = int(self.floor_labels_[best[0]])
            floor_share = self._share(floors[nearest], d[nearest], floor)  # the vote's scale (confidence)
        else:
            floor, floor_share = self._vote(floors[nearest], d[nearest])
        on_floor = in_building[floors[in_building] == floor]
        if on_floor.size < self.k and not complete:
            return None
        nearest = on_floor[: self.k]
        weights = self._weights(d[nearest])
        chosen = rows[nearest]
        if self.cluster_m:
            keep = spatial_cluster(self.xy_[chosen][None], weights[None], self.cluster_m)[0]
            chosen, weights = chosen[keep], weights[keep]
        x, y = (self.xy_[chosen] * weights[:, None]).sum(axis=0) / weights.sum()
        return Estimate(building=building, floor=floor, x=float(x), y=float(y),
                        confidence=building_share * floor_share, neighbours=tuple(chosen.tolist()))

    def _floor_checked(self, X: np.ndarray, building: np.ndarray, floor: np.ndarray, confidence: np.ndarray,
                       offset: np.ndarray) -> dict[int, Estimate]:
        """`floor_model`: {index: new estimate} for the queries (X's rows, decided on `building` and `floor` with
        `confidence` after taking `offset` dB off: `_Batch.decided`) whose building's floor classifier names another
        floor with more confidence than the decision has (its building and floor shares): decided again on that floor
        from the query as last matched (X's dBm rows, their offset taken off), by this model alone (not blended: the
        partner decided from other candidates), the classifier's probability as its confidence (the building taken
        as decided). Each query's logits are summed in its own fixed order (`kernels.likeliest_floors`), so that a
        query alone and in a batch get the same bits (a block's matrix product may sum in another order): keep it so."""
        from positioning import kernels  # lazy: numba, as on the batch path

        out = {}
        for label, fitted in self._floor_classifier().items():
            at = np.flatnonzero(building == label)
            if not at.size:
                continue
            floors, probabilities = kernels.likeliest_floors(fitted, X, self.missing, self.beta, at)
            for j in np.flatnonzero((floors != floor[at]) & (probabilities > confidence[at])):
                i = int(at[j])
                again = self._decided_on_floor(X[i], label, int(floors[j]))
                if again is not None:
                    out[i] = replace(again, confidence=float(probabilities[j]), offset_db=float(offset[i]))
        return out

    def _checks_floors(self) -> bool:
        """Whether answers go through the floor classifier (`floor_model`, checked here too: `tune` sets it after
        fit, and a value fit would have refused must not pass for one)."""
        if self.floor_model not in FLOOR_MODELS:
            raise ValueError(f"floor_model must be one of {FLOOR_MODELS} (None: the neighbours decide the floor), got "
                             f"{self.floor_model!r}")
        return self.floor_model == "logistic"

    def _decided_on_floor(self, x: np.ndarray, building: int, floor: int) -> Estimate | None:
        """One dBm query decided among the fingerprints of that building and floor only; None when none of them
        hears an AP it hears."""
        rows, d = self._candidate_distances(self._represent(x[None])[0])
        keep = (self.buildings_[rows] == building) & (self.floors_[rows] == floor)
        if not keep.any():
            return None
        order = np.argsort(d[keep], kind="stable")  # equal distances by row id, as every decision sorts them
        return self._decide(rows[keep][order], d[keep][order], complete=True)

    def _floor_classifier(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per building of two floors or more: (its floor labels, coefficients (labels or 1 for two, APs),
        intercepts) of a logistic regression of the floor on the map's powed values (`floor_model`), fitted the
        first time it is asked after each fit (scikit-learn, lbfgs: deterministic; `_FitCache`: why not in `fit`)."""
        return self._fit_cache.get(FLOOR_CLASSIFIERS, self._fit_floor_classifiers)

    def _fit_floor_classifiers(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        # lazy: scikit-learn (~1.2 s to import) only where a floor model is asked for
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression  # lazy: as above

        # the map's powed values as a sparse matrix of its heard entries (what a dense one would hold, as the
        # queries' `to_representation` gives them; lbfgs takes it as it is)
        values = to_representation(self.row_dbm_.astype(np.float64)[None], "powed", self.missing, beta=self.beta)
        R = sparse.csr_matrix((values[0].astype(np.float64), self.row_aps_, self.row_ptr_),
                              shape=(self.row_ptr_.size - 1, self.n_features_in_))
        classifiers = {}
        for building in self.building_labels_.tolist():
            rows = self.buildings_ == building
            if np.unique(self.floors_[rows]).size < 2:
                continue
            with warnings.catch_warnings():  # a map the solver cannot fit closer still gives its probabilities
                warnings.simplefilter("ignore", ConvergenceWarning)
                fitted = LogisticRegression(C=FLOOR_MODEL_C, max_iter=FLOOR_MODEL_MAX_ITER).fit(
                    R[rows], self.floors_[rows])
            classifiers[int(building)] = (fitted.classes_.astype(np.int64), fitted.coef_.copy(),
                                          fitted.intercept_.copy())
        return classifiers

    def _check_columns(self, columns) -> np.ndarray | None:
        """AP column indices (any integer sequence) as a sorted unique int64 array; None for none."""
        return _checked_indices(columns, self.n_features_in_, "AP columns")

    def _check_rows(self, rows) -> np.ndarray | None:
        """Training row indices (any integer sequence) as a sorted unique int64 array; None for None."""
        return _checked_indices(rows, self.row_ptr_.size - 1, "rows")

    def _check_query(self, X, one: bool = False) -> np.ndarray:
        """Queries (`one`: a single vector, any shape) as a checked 2-D dBm array in the fitted column order."""
        self._check_fitted()
        X = _dense(self._by_name(X))
        X = check_matrix(X.reshape(1, -1) if one else np.atleast_2d(X))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"query has {X.shape[1]} access points, the model was fitted on {self.n_features_in_}")
        return X

    def strong_rows(self, column: int, rank: int = ASSOCIATION_RANK) -> np.ndarray:
        """The training rows (sorted) where AP `column` is among the `rank` strongest APs heard: where a phone that
        has just associated with that AP can be. Worked out for every AP at once, the first time a rank is asked
        (`with_strong_rows` does it ahead)."""
        self._check_fitted()
        if not 0 <= int(column) < self.n_features_in_:
            raise ValueError(f"AP column must lie in [0, {self.n_features_in_})")
        return self._strong_rows_by_ap(rank)[int(column)]

    def with_strong_rows(self, rank: int = ASSOCIATION_RANK) -> WKNNPositioner:
        """Self, with every AP's `strong_rows` at `rank` worked out now (a live model built ahead of its probes)."""
        self._check_fitted()
        self._strong_rows_by_ap(rank)
        return self

    def _strong_rows_by_ap(self, rank: int) -> list[np.ndarray]:
        """Per AP column, `strong_rows` at `rank`, cached per fit: each row's entries ordered by row, then
        strongest first (ties in column order, as a stable sort of the row), the first `rank` of each row kept,
        then grouped by AP with the rows ascending."""
        return self._fit_cache.get(("strong_rows", rank), lambda: self._work_out_strong_rows(rank))

    def _work_out_strong_rows(self, rank: int) -> list[np.ndarray]:
        entries = self.row_aps_.size
        row_of = np.repeat(np.arange(self.row_ptr_.size - 1), np.diff(self.row_ptr_))
        order = np.lexsort((np.arange(entries), -self.row_dbm_, row_of))
        place = np.arange(entries) - self.row_ptr_[row_of[order]]  # 0 for a row's strongest
        kept = order[place < rank]
        aps, rows = self.row_aps_[kept], row_of[kept]
        by_ap = np.argsort(aps, kind="stable")  # rows stay ascending within an AP
        return np.split(rows[by_ap].astype(np.int64), np.cumsum(np.bincount(aps, minlength=self.n_features_in_))[:-1])

    def locate(self, x: ArrayLike, partial: bool = False, silent: ArrayLike | None = None,
               search_db: float | None = None, within: np.ndarray | None = None) -> Estimate:
        """One RSSI vector (dBm) -> Estimate. Raises ValueError if it hears no known AP.

        `partial`: match on the APs the query hears only, for a vector known to be incomplete (a phone
        heard for a few seconds, before every AP's first report: an AP missing from it has not reported
        yet, which says nothing about whether it hears the phone). `silent`, with `partial`: the columns of
        the APs that have reported since the phone was first heard without hearing it - for them, not
        hearing it is known. One query at a time only.
        `search_db`: the offset search's reach for this query instead of `offset_search_db` (0: none), e.g.
        narrower for a phone whose offset is already known and taken off (see the class). `within`, with
        `partial`: the rows the match may pick from (`strong_rows` of the AP the phone has just associated with:
        a few seconds of readings from a few APs can match a far-off place as well as the right one), unless
        fewer of them can be neighbours than the match needs; only such a bounded partial match is searched for
        its offset (see the class)."""
        X = self._check_query(x, one=True)
        if not self.hears_known(X)[0]:
            raise ValueError("the query hears no known access point")
        silent = self._check_columns(silent) if partial else None
        within = self._check_rows(within) if partial else None
        searched = self._searched(X, self._reach(search_db), partial, silent, within)
        if searched is not None:
            X, total, estimate, shortlist = searched
        else:
            total = 0.0
            estimate, shortlist = self._located(self._represent(X)[0], partial, silent, within=within)
        for _ in range(self.offset_rounds):
            delta = float(self._offsets(X, np.zeros(len(estimate.neighbours), dtype=np.int64),
                                        np.asarray(estimate.neighbours, dtype=np.int64))[0])
            if delta == 0:
                break
            X, total = self._shifted(X, np.array([delta])), total + delta
            estimate, shortlist = self._located(self._represent(X)[0], partial, silent, within=within)
        estimate = replace(estimate, offset_db=total) if total else estimate
        partner = self._partner()
        if partner is not None:
            other = partner._reranked_estimate(partner._represent(X)[0], shortlist, partial, silent)
            estimate = blended(estimate, replace(other, offset_db=estimate.offset_db))
        if not self._checks_floors() or partial:  # a partial match's missing APs have not reported: no classifier
            return estimate
        decided = (np.array([estimate.building]), np.array([estimate.floor]), np.array([estimate.confidence]),
                   np.array([estimate.offset_db]))
        return self._floor_checked(X, *decided).get(0, estimate)

    def _searched(self, X: np.ndarray, reach: float, partial: bool, silent: np.ndarray | None,
                  within: np.ndarray | None) -> tuple[np.ndarray, float, Estimate, np.ndarray] | None:
        """One query's offset search: (the query shifted by the chosen shift, that shift, its estimate and the rows
        it was decided from), or None
        for no search: none asked, or a partial match that cannot be bound near its AP (see the class). The batch
        path's search (`_search_start`, full matches only) makes the same choice for a block at once."""
        if not reach or (partial and within is None):
            return None
        shifts = np.array([0.0, -reach, reach])
        tried = [self._represent(self._shifted(X, np.array([s])) if s else X)[0] for s in shifts]
        found = [self._search_candidates(q, partial, silent, within) for q in tried]
        if partial and found[0] is None:  # too few rows near its AP for a bound: the whole map, unsearched
            return None
        scores = [self._nearest_score(q, f) if f is not None else np.inf for q, f in zip(tried, found, strict=True)]
        pick = int(self._pick_shift(np.array(scores)[:, None])[0])
        total = float(shifts[pick])
        # the chosen shift's candidates, searched once
        estimate, shortlist = self._located(tried[pick], partial, silent, candidates=found[pick])
        return (self._shifted(X, np.array([total])) if total else X), total, estimate, shortlist

    def _search_candidates(self, q: np.ndarray, partial: bool, silent: np.ndarray | None,
                           within: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """One shifted query's candidates: None when it hears nothing, or, for a partial match, when fewer of
        them lie `within` the rows near its AP than a match needs."""
        if not q.any():
            return None
        found = self._candidate_distances(q, partial, silent)
        return self._near(found, within) if partial else found

    def _near(self, candidates: tuple[np.ndarray, np.ndarray], within: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray] | None:
        """The candidates among the rows `within`; None when fewer than a match needs (then they bound nothing)."""
        rows, d = candidates
        keep = np.isin(rows, within)
        return (rows[keep], d[keep]) if np.count_nonzero(keep) >= self._needed() else None

    def locate_many(self, X: ArrayLike, search_db: ArrayLike | None = None) -> list[Estimate]:
        """Many RSSI vectors -> Estimates, decided in batches (see `_locate_batch`). `search_db`: per query,
        the offset search's reach (`locate`'s `search_db`); None: `offset_search_db` for every query."""
        X = self._check_queries(X)
        reach = self._reaches(search_db, X.shape[0])
        return [e for _, batch in self._located_blocks(X, reach) for e in batch.estimates()]

    def _located_blocks(self, X: np.ndarray, reach: np.ndarray, own_too: bool = False
                        ) -> Iterator[tuple[_Batch, _Batch]]:
        """Checked dBm queries located block by block (`_locate_block`): per block, this model's own decisions
        and the answers, those blended with the partner's (the same batch when not blending). With `floor_model`
        the answers' floors are checked (`_floor_checked`), and this model's own too with `own_too` (what
        `predict_with_own` reads; else they are only what the blend was made from)."""
        partner = self._partner()
        checks = self._checks_floors()
        for start in range(0, X.shape[0], self.BATCH):
            batch = self._locate_block(X[start:start + self.BATCH], reach[start:start + self.BATCH])
            answer = batch if partner is None else self._blended_block(partner, batch)
            checked = (answer, batch) if own_too and answer is not batch else (answer,)
            for block in checked if checks else ():
                block.fallback.update(self._floor_checked(block.queries, *block.decided()))
            yield batch, answer

    def _partner(self) -> WKNNPositioner | None:
        """The model blended in (`blend_representation`, fitted beside this one); None when not blending. The
        blend is decided at fit: set after fit, `blend_representation` takes effect at the next fit (None turns
        it off at once)."""
        partner = getattr(self, "blended_", None)
        return partner if partner is not None and self.blend_representation == partner.representation else None

    def _blended_block(self, partner: WKNNPositioner, batch: _Batch) -> _Batch:
        """A located block blended with the partner's decisions over the same candidates (as `locate` blends one
        query; `blended`, on whole arrays)."""
        R = partner._represent(batch.queries)
        out = blended_batch(batch, partner._decide_batch(*partner._reranked(R, batch.rows),
                                                         np.ones(R.shape[0], dtype=bool)))
        for i, rows in batch.shortlists.items():  # decided by the one-query path: its shortlist, as `locate`'s
            out.fallback[i] = blended(batch.fallback[i], partner._reranked_estimate(R[i], rows))
        return out

    def _reranked_estimate(self, q: np.ndarray, rows: np.ndarray, partial: bool = False,
                           silent: np.ndarray | None = None) -> Estimate:
        """One represented query decided from the given candidate rows alone, ranked by this model's distances."""
        ranked, d = self._reranked(q[None], rows[None], partial, silent)
        return self._decide(ranked[0], d[0], complete=True)

    def _reranked(self, R: np.ndarray, rows: np.ndarray, partial: bool = False, silent: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) per represented query of R (m, n_aps; this model's representation): its candidate rows
        (m, M; -1: none) with this model's distances (`distances`' sums, read row by row: `row_values_`), nearest
        first, equal distances by row id, the -1 entries last at inf (a blend's second model, see the class). Compiled
        (positioning.kernels.ranked), for one query as for a block."""
        from positioning import kernels  # lazy: numba only in processes that blend or position in batches

        return kernels.ranked(self, R, rows, partial, silent)

    def set_params(self, **params: Any) -> WKNNPositioner:
        """As scikit-learn's; a fitted blend's second model takes the same settings (a query-time one set after
        fit, as `tune` sets them, reaches both models), less its own representation."""
        super().set_params(**params)
        partner = getattr(self, "blended_", None)
        shared = {name: value for name, value in params.items()  # the partner only ranks: no floor check of its own
                  if name not in ("representation", "blend_representation", "floor_model")}
        if partner is not None and shared:
            partner.set_params(**shared)
        return self

    def _reach(self, search_db: float | None) -> float:
        """One query's offset search reach in dB: `search_db`, or the model's when None."""
        value = self.offset_search_db if search_db is None else search_db
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(value) <= 30.0:
            name = "offset_search_db" if search_db is None else "search_db"
            raise ValueError(f"{name} must be a number from 0 (off) to 30 dB, got {value!r}")
        return float(value)

    def _reaches(self, search_db, n_queries: int) -> np.ndarray:
        """`search_db` as one reach in dB per query, each from 0 (off) to 30; None: the model's for each."""
        if search_db is None:
            return np.full(n_queries, self._reach(None))
        out = np.asarray(search_db)
        if out.shape != (n_queries,) or out.dtype.kind not in "fiu" or not ((out >= 0) & (out <= 30)).all():
            raise ValueError(f"search_db must be {n_queries} numbers from 0 (off) to 30 dB, one per query")
        return out.astype(np.float64)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """(m, n_aps) RSSI -> (m, 4): building, floor, x, y."""
        X = self._check_queries(X)
        return np.vstack([answer.table() for _, answer in self._located_blocks(X, self._reaches(None, len(X)))])

    def predict_with_own(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """`predict`'s table and, from the same search, this model's own answers without the blend (what
        `blend_representation=None` predicts; the same table when not blending): `tune` scores both from one search."""
        X = self._check_queries(X)
        blocks = [(own.table(), answer.table())
                  for own, answer in self._located_blocks(X, self._reaches(None, len(X)), own_too=True)]
        return np.vstack([answer for _, answer in blocks]), np.vstack([own for own, _ in blocks])

    # -- phone-to-phone differences ----------------------------------------------------------------

    def _offsets(self, X: np.ndarray, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per query (dBm rows of X): the median of query minus fingerprint over the APs both hear (the
        fingerprint's levels as fitted with `offset_X`), taken over the given (query, neighbour row) pairs. A
        phone model reading louder or softer than the survey phone shifts every AP alike, so this is the phone's
        offset as far as the neighbours are right."""
        lengths = self.offset_ptr_[rows + 1] - self.offset_ptr_[rows]
        entries = concat_ranges(self.offset_ptr_[rows], lengths)
        owner = np.repeat(queries, lengths)
        query_dbm = X[owner, self.offset_aps_[entries]]
        heard = query_dbm > self.missing
        diff, owner = query_dbm[heard] - self.offset_dbm_[entries][heard], owner[heard]
        order = np.lexsort((diff, owner))
        diff = diff[order]
        counts = np.bincount(owner, minlength=X.shape[0])
        first = np.cumsum(counts) - counts
        low, high = first + (counts - 1) // 2, first + counts // 2
        if diff.size == 0:
            return np.zeros(X.shape[0])
        median = (diff[np.minimum(low, diff.size - 1)] + diff[np.minimum(high, diff.size - 1)]) / 2
        return self._offset_or_none(median, counts)

    def _batch_offsets(self, X: np.ndarray, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`_offsets` for the batch path, the same numbers (tests/positioning_tests/test_batch_offsets.py), its
        medians compiled (positioning.kernels: a per-block lexsort was an eighth of a batch's time)."""
        from positioning import kernels  # lazy: numba only in batch processes (as in _batch_candidates)

        return self._offset_or_none(*kernels.median_offsets(self, X, queries, rows))

    @staticmethod
    def _offset_or_none(median: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The medians as offsets: rounded to 1/1000 dB, 0 where no AP was compared or under MIN_OFFSET_DB."""
        median = np.round(median.astype(np.float64), 3)
        return np.where((counts > 0) & (np.abs(median) >= MIN_OFFSET_DB), median, 0.0)

    def offset_of(self, x: ArrayLike, neighbours: ArrayLike) -> float:
        """How much louder than the given training rows one dBm vector reads (median over the APs both
        hear; 0 under MIN_OFFSET_DB): the per-query estimate `offset_rounds` removes."""
        rows = np.asarray(neighbours, dtype=np.int64)
        if rows.size == 0:
            return 0.0
        X = np.asarray(x, dtype=np.float64).reshape(1, -1)
        return float(self._offsets(X, np.zeros(rows.size, dtype=np.int64), rows)[0])

    def _pick_shift(self, scores: np.ndarray) -> np.ndarray:
        """(shifts, m) mean distances of the k nearest -> per query the index of the shift to start from:
        the closest, a shift counting as `offset_search_margin` farther than it is (ties: the first)."""
        handicap = np.ones((scores.shape[0], 1))
        handicap[1:] = 1.0 / (1.0 - float(self.offset_search_margin))
        return np.argmin(scores * handicap, axis=0)

    def _nearest_score(self, q: np.ndarray, candidates: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """Mean distance from one represented query to its k nearest fingerprints (inf: it hears nothing);
        `candidates`: its `_candidate_distances`, when already found."""
        if not q.any():
            return float("inf")
        _, d = candidates if candidates is not None else self._candidate_distances(q)
        return float(d[_smallest(d, self.k)].mean())

    def _batch_scores(self, R: np.ndarray, d: np.ndarray) -> np.ndarray:
        """`_nearest_score` of each represented query of a block from its batch candidates' distances `d` (the
        one-query path for a query with too few of them)."""
        scores = d[:, :self.k].mean(axis=1)
        for i in np.flatnonzero(~np.isfinite(scores)):
            scores[i] = self._nearest_score(R[i])
        return scores

    def _search_start(self, X: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """Per dBm query of a block: the shift the offset rounds start from (see `offset_search_db`; `reach`:
        each query's, 0 for none), the represented queries at it, and their batch candidates. Each shift is
        searched once: the chosen one's candidates are those the locate needs (a query moved to a shift
        reads as that shift's query did)."""
        R = self._represent(X)
        searched = np.flatnonzero(reach > 0)
        if searched.size == 0:
            return np.zeros(X.shape[0]), R, self._batch_candidates(R)
        shifts = np.vstack([np.zeros_like(reach), -reach, reach])  # (3, m): as read, softer, louder
        tried = [self._represent(self._shifted(X[searched], shifts[i, searched])) for i in (1, 2)]
        # the searched queries as read and at both shifts in one pass of the map; the others as read, apart
        as_read, *shifted = self._batch_candidates_of([R[searched], *tried])
        found = tuple(np.empty((X.shape[0], *part.shape[1:]), dtype=part.dtype) for part in as_read)
        for whole, part in zip(found, as_read, strict=True):
            whole[searched] = part
        rest = np.flatnonzero(reach <= 0)
        if rest.size:
            for whole, part in zip(found, self._batch_candidates(R[rest]), strict=True):
                whole[rest] = part
        scores = np.full(shifts.shape, np.inf)
        scores[0] = self._batch_scores(R, found[1])
        for i, (Rs, (_, d, _)) in enumerate(zip(tried, shifted, strict=True), start=1):
            scores[i, searched] = self._batch_scores(Rs, d)
        pick = self._pick_shift(scores)
        for i, (Rs, parts) in enumerate(zip(tried, shifted, strict=True), start=1):
            moved = pick[searched] == i  # the searched queries that start from shift i
            if moved.any():
                rows = searched[moved]
                R[rows] = Rs[moved]
                for whole, part in zip(found, parts, strict=True):
                    whole[rows] = part[moved]
        return shifts[pick, np.arange(X.shape[0])], R, found

    def _shifted(self, X: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Queries with `delta` removed from every heard AP; a heard AP stays heard (at the weakest level)."""
        heard = self.missing < X
        floor = self.missing + 1.0
        return np.where(heard, np.clip(X - delta[:, None], floor, 0.0), X)

    def _locate_block(self, X: np.ndarray, reach: np.ndarray) -> _Batch:
        """One block of dBm queries, with `offset_rounds` rounds of offset removal (see `locate`); `reach`: each
        query's offset search reach (`_reaches`)."""
        if reach.any():
            start, R, candidates = self._search_start(X, reach)
            moved = np.flatnonzero(start)
            if moved.size:
                X = X.copy()
                X[moved] = self._shifted(X[moved], start[moved])
            batch = self._locate_batch(R, candidates)
        else:
            start, batch = np.zeros(X.shape[0]), self._locate_batch(self._represent(X))
        batch.offset = start.copy()
        active = None  # the queries a round may move: all, then those the last round moved
        for _ in range(self.offset_rounds):
            queries, rows = batch.neighbour_pairs()
            if active is not None:  # the others have the same readings and neighbours: offset 0 again
                keep = np.isin(queries, active)
                queries, rows = queries[keep], rows[keep]
            delta = self._batch_offsets(X, queries, rows)
            moved = active = np.flatnonzero(delta != 0)
            if moved.size == 0:
                break
            X = X.copy()
            X[moved] = self._shifted(X[moved], delta[moved])
            batch.offset[moved] += delta[moved]
            batch.replace(moved, self._locate_batch(self._represent(X[moved])))
        batch.queries = X
        return batch

    # -- the batch path ----------------------------------------------------------------------------

    BATCH = 128  # queries per block: bounds the (block x candidates) arrays of the decision

    def _check_queries(self, X) -> np.ndarray:
        X = self._check_query(X)
        silent = ~self.hears_known(X)
        if silent.any():
            raise ValueError(f"query row {int(np.argmax(silent))} hears no known access point")
        return X

    def _locate_batch(self, R: np.ndarray, candidates: tuple[np.ndarray, ...] | None = None) -> _Batch:
        """One block of represented queries: the nearest candidates per query (the compiled search,
        positioning.kernels; `candidates` when already searched), then building -> floor -> x/y decided for
        all queries at once. The rare query whose candidate prefix is too short to decide exactly goes through
        the one-query path."""
        rows, d, complete = candidates if candidates is not None else self._batch_candidates(R)
        batch = self._decide_batch(rows, d, complete)
        for i in np.flatnonzero(~batch.exact):
            batch.fallback[int(i)], batch.shortlists[int(i)] = self._located(R[i])
        return batch

    def _batch_candidates(self, R: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per query: the M nearest rows sorted by distance (padded with -1 / inf), and whether they are
        all of its candidates. Rows with fewer Sorensen candidates than needed get no rows at all, so
        that the decision sends them to the one-query path. The search is compiled (positioning.kernels)."""
        from positioning import kernels  # lazy: numba (~61 MB, JIT) only in processes that position in batches

        return kernels.search(self, R, width=self._width(), needed=self._needed())

    def _batch_candidates_of(self, blocks: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """`_batch_candidates` of each block (the same queries at several levels: the offset search's shifts), in one
        pass of the map where they hear alike (`kernels.search_variants`: the same answers, 0.7-0.9 of the time)."""
        from positioning import kernels  # lazy: as in _batch_candidates

        return kernels.search_variants(self, blocks, width=self._width(), needed=self._needed())

    def _decide_batch(self, rows: np.ndarray, d: np.ndarray, complete: np.ndarray) -> _Batch:
        """`_decide` for many queries at once over (m, M) arrays of rows sorted by distance."""
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        weights = np.where(valid, self._weights(np.where(valid, d, 1.0)), 0.0)
        k_building, k_floor = self.k_building or self.k, self.k_floor or self.k
        building_codes = self.building_codes_[safe]
        first = np.zeros_like(valid)
        first[:, :k_building] = True
        building, building_share = _batch_vote(building_codes, weights * first, self.building_labels_.size)
        in_building = valid & (building_codes == building[:, None])
        rank = np.cumsum(in_building, axis=1)
        exact = valid[:, 0] & (complete | (rank[:, -1] >= k_floor))
        floor_codes = self.floor_codes_[safe]
        voters = weights * (in_building & (rank <= k_floor))
        if self.floor_rule == "mean":
            floor, decided = _floor_means(floor_codes, d, valid, in_building, complete, k_floor,
                                          self.floor_labels_.size, self._farthest())
            exact = valid[:, 0] & decided
            # its confidence on the vote's scale: the chosen floor's share of the k_floor nearest's weights
            floor_share = _batch_share(_batch_scores(floor_codes, voters, self.floor_labels_.size), floor)
        else:
            floor, floor_share = _batch_vote(floor_codes, voters, self.floor_labels_.size)
        on_floor = in_building & (floor_codes == floor[:, None])
        rank = np.cumsum(on_floor, axis=1)
        exact &= complete | (rank[:, -1] >= self.k)
        chosen = on_floor & (rank <= self.k)
        if self.cluster_m:
            chosen = self._clustered(chosen, weights, safe)
        w = weights * chosen
        xy = np.einsum("ij,ijk->ik", w, self.xy_[safe]) / np.maximum(w.sum(axis=1), 1e-300)[:, None]
        return _Batch(building=self.building_labels_[building], floor=self.floor_labels_[floor], xy=xy,
                      confidence=building_share * floor_share, rows=rows, chosen=chosen, exact=exact)

    def _clustered(self, chosen: np.ndarray, weights: np.ndarray, safe: np.ndarray) -> np.ndarray:
        """`chosen` (m, M) less the neighbours outside each query's main spatial cluster (`spatial_cluster`
        on each row's chosen columns, in rank order, as `_decide` sees them)."""
        width = min(self.k, chosen.shape[1])
        columns = np.argsort(~chosen, axis=1, kind="stable")[:, :width]  # the chosen ones first, in rank order
        picked = np.take_along_axis(chosen, columns, axis=1)
        w = np.where(picked, np.take_along_axis(weights, columns, axis=1), 0.0)
        keep = spatial_cluster(self.xy_[np.take_along_axis(safe, columns, axis=1)], w, self.cluster_m) & picked
        out = np.zeros_like(chosen)
        np.put_along_axis(out, columns, keep, axis=1)
        return out

    def model_bytes(self) -> int:
        """Memory held by the learned arrays (a blend's second model's included, each array counted once; a floor
        classifier's too once fitted)."""
        models = [self] + ([partner] if (partner := getattr(self, "blended_", None)) is not None else [])
        names = ("col_ptr_", "col_rows_", "col_values_", "whole_slot_", "whole_columns_", "row_sums_", "row_squares_",
                 "buildings_", "floors_", "xy_", "row_ptr_", "row_aps_", "row_dbm_", "offset_ptr_", "offset_aps_",
                 "offset_dbm_", "row_values_")
        arrays = {id(a): a for model in models for a in (getattr(model, name, None) for name in names) if a is not None}
        cache = getattr(self, "_fit_cache", None)
        classifiers = (cache.known(FLOOR_CLASSIFIERS) if cache is not None else None) or {}
        arrays.update({id(a): a for fitted in classifiers.values() for a in fitted})
        return int(sum(a.nbytes for a in arrays.values()))
