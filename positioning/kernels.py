"""The batch path's search, compiled: per query, the `width` nearest fingerprints and their distances.

A query hears ~20 of a map's ~500 APs, and each AP is heard by a few hundred to a few thousand of its
fingerprints. Per query the kernel walks the inverted index (AP -> fingerprints hearing it) of the APs
it hears, adds each fingerprint's cross term (min(q, r) for the L1 metrics, q * r for Euclidean) into a
dense accumulator, turns the terms of the fingerprints sharing an AP with it into distances and keeps
the nearest in a bounded heap (equal distances by row id). That is the one-query path's work
(`WKNNPositioner._cross_terms` + `_smallest`), its cross terms added in the same order (the same float64
sums), so both paths pick the same neighbours (tests/positioning_tests/ checks it, ties included).
The offset search's three readings of a block (as read, softer, louder) are searched in one pass
(`search_variants`). Compiled, the search is ~3x the numpy/scipy form it replaced (one sparse product per block of
queries over a per-(AP, value) index, then a partition per query: two passes over the product and a Python step per
query); README *Positioning* has the figures. The offset rounds' medians (`median_offsets`) are compiled here too,
for the batch path only, a blend's second model's ranking of the first's candidates (`ranked`), on both paths, and the
floor classifier's logits (`likeliest_floors`), on both paths.

numba compiles it on first use (a few seconds) and caches the machine code (`compiled`: in `NUMBA_CACHE_DIR`
if set, else in `__pycache__` beside this file); WKNNPositioner imports this module only on its batch path, to
blend and to check floors with a classifier, so a process that never positions in batches with an unblended model
without one (a web worker answering single lookups with the live model) never loads numba."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numba
import numpy as np

if TYPE_CHECKING:
    from positioning.wknn import WKNNPositioner

SORENSEN, MANHATTAN, EUCLIDEAN = 0, 1, 2


def compiled(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """numba.njit with its machine code cached on disk (`NUMBA_CACHE_DIR`, else `__pycache__` beside this
    file, else the user's cache); where none of them is writable numba refuses `cache=True` outright, so the
    function is compiled in each process instead (a second or two on its first batch) rather than the import
    failing."""
    def decorate(function):
        try:
            return numba.njit(cache=True, nogil=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(nogil=True, **options)(function)
    return decorate
METRIC_CODES = {"sorensen": SORENSEN, "manhattan": MANHATTAN, "euclidean": EUCLIDEAN}


@compiled(inline="always")
def _after(d_a: float, row_a: int, d_b: float, row_b: int) -> bool:
    """(d_a, row_a) sorts after (d_b, row_b): by distance, equal distances by row id."""
    return d_a > d_b or (d_a == d_b and row_a > row_b)


@compiled(inline="always")
def _offer(heap_d, heap_r, size: int, d: float, row: int) -> int:
    """Offer (d, row) to a max-heap of the `heap_d.size` nearest so far; returns the new size."""
    capacity = heap_d.size
    if size == capacity:
        if not _after(heap_d[0], heap_r[0], d, row):
            return size
        at = 0  # replace the farthest and sift it down
        while True:
            child = 2 * at + 1
            if child >= size:
                break
            if child + 1 < size and _after(heap_d[child + 1], heap_r[child + 1], heap_d[child], heap_r[child]):
                child += 1
            if not _after(heap_d[child], heap_r[child], d, row):
                break
            heap_d[at], heap_r[at] = heap_d[child], heap_r[child]
            at = child
        heap_d[at], heap_r[at] = d, row
        return size
    at = size  # append and sift up
    while at > 0:
        parent = (at - 1) // 2
        if not _after(d, row, heap_d[parent], heap_r[parent]):
            break
        heap_d[at], heap_r[at] = heap_d[parent], heap_r[parent]
        at = parent
    heap_d[at], heap_r[at] = d, row
    return size + 1


@compiled()
def _write_sorted(heap_d, heap_r, size: int, d_out, rows_out) -> None:
    """The heap's entries, nearest first (insertion sort: `size` is a few dozen)."""
    for i in range(size):
        d_out[i], rows_out[i] = heap_d[i], heap_r[i]
    for i in range(1, size):
        d, row = d_out[i], rows_out[i]
        j = i - 1
        while j >= 0 and _after(d_out[j], rows_out[j], d, row):
            d_out[j + 1], rows_out[j + 1] = d_out[j], rows_out[j]
            j -= 1
        d_out[j + 1], rows_out[j + 1] = d, row


@compiled(inline="always")
def _add_whole_column(column, q, metric: int, partial_sums: bool, cross, heard) -> None:
    """One AP's cross terms (and heard sums) for every row and variant (`q`: the variants' values), from its
    whole column (`WKNNPositioner.whole_columns_`): where a large share of the rows hear the AP, a pass over all
    rows (no scattered writes, vectorised) is faster than scattering into the ones that hear it. Where a row
    does not hear the AP the term is 0.0 and adding it leaves the sum bit for bit as it was, so every row's sum
    is the one the scatter gives (the same terms added in the same AP order). That needs min(0, q) = 0: every
    representation's values are 0 or more (clipped at the missing level: positioning/representation.py), a
    represented query's too. At module level, not in `_nearest_rows_kernel`: a compiled function the kernel closed
    over would enter its cache key with an id of its own each process, and no process would find the cache's code."""
    n = heard.size
    for v in range(cross.shape[0]):  # a variant at a time: one pass over the column each, vectorised
        if metric == EUCLIDEAN:
            for row in range(n):
                cross[v, row] += np.float64(column[row] * q[v])
        else:
            for row in range(n):
                cross[v, row] += np.float64(min(column[row], q[v]))
    if partial_sums:
        for row in range(n):
            value = np.float64(column[row])
            heard[row] += value * value if metric == EUCLIDEAN else value


def nearest_rows_for(n_variants: int) -> Callable[..., None]:
    """`nearest_rows` for blocks of `n_variants` variants of the same queries (made once per count, its machine code
    cached like the others: the count is a constant of the code, so the loops over the variants unroll and one
    variant runs as fast as a kernel without them)."""
    if n_variants not in _KERNELS:
        _KERNELS[n_variants] = _nearest_rows_kernel(n_variants)
    return _KERNELS[n_variants]


def _nearest_rows_kernel(n_variants: int) -> Callable[..., None]:
    @compiled()
    def nearest_rows(col_ptr: np.ndarray, col_rows: np.ndarray, col_values: np.ndarray, whole_slot: np.ndarray,
                     whole_columns: np.ndarray, row_full: np.ndarray, q_ptr: np.ndarray, q_cols: np.ndarray,
                     q_values: np.ndarray, q_totals: np.ndarray, metric: int, unheard_weight: float, needed: int,
                     rows_out: np.ndarray, d_out: np.ndarray, complete: np.ndarray) -> None:
        """Fill rows_out / d_out (n_variants, m, width: preset to -1 / inf) with each query's nearest fingerprints,
        nearest first (equal distances by row id), and `complete[i]` when they are all of its candidates.

        The map: CSC of the represented fingerprints (col_ptr, col_rows, col_values float32) and per row its
        sum (L1) or sum of squares (Euclidean), `row_full`; the columns that a large share of the rows hear also
        whole (`whole_columns[whole_slot[ap]]`, 0 where unheard; `whole_slot` -1 for the others). The queries:
        CSR of their audible APs in ascending order (q_ptr, q_cols), their values (n_variants, entries) float32 and
        per query its sum (L1) or sum of squares (n_variants, m). The variants are the block's queries read at
        several levels, hearing the same APs (the offset search's shifts: a shifted heard AP stays heard, every
        value > 0): one pass of the map's entries and one scan of its rows for all, each variant's sums (a row of
        `cross` per variant) added in the order a search of it alone adds them. On a sparse map (UJIIndoorLoc) the
        three shifts take 0.7 of three searches' time; on a mall's, where every AP's column is whole, 0.9.
        Sorensen compares only fingerprints sharing an AP with the query (any other is at the maximum
        distance 1); a query with fewer than `needed` of them gets no rows, for the one-query path.
        `unheard_weight` < 1 counts a fingerprint's values at APs the query does not hear that many times."""
        n = row_full.size
        width = rows_out.shape[2]
        cross = np.zeros((n_variants, n))
        heard = np.zeros(n)
        candidates = np.empty(n + 1, dtype=np.int64)
        distances = np.empty(n)
        kept = np.empty(n, dtype=np.int64)
        every_row = np.arange(n)
        heap_d = np.empty(width)
        heap_r = np.empty(width, dtype=np.int64)
        partial_sums = unheard_weight != 1.0
        for i in range(q_ptr.size - 1):
            for e in range(q_ptr[i], q_ptr[i + 1]):  # one loop per case: a branch inside costs 4x
                ap, q = q_cols[e], q_values[:, e]
                slot = whole_slot[ap]
                if slot >= 0:
                    _add_whole_column(whole_columns[slot], q, metric, partial_sums, cross, heard)
                    continue
                if metric == EUCLIDEAN:
                    for f in range(col_ptr[ap], col_ptr[ap + 1]):
                        row, value = col_rows[f], col_values[f]
                        for v in range(n_variants):
                            cross[v, row] += np.float64(value * q[v])
                else:
                    for f in range(col_ptr[ap], col_ptr[ap + 1]):
                        row, value = col_rows[f], col_values[f]
                        for v in range(n_variants):
                            cross[v, row] += np.float64(min(value, q[v]))
                if partial_sums:
                    for f in range(col_ptr[ap], col_ptr[ap + 1]):
                        value = np.float64(col_values[f])
                        heard[col_rows[f]] += value * value if metric == EUCLIDEAN else value
            # Scanning every row is cheaper than tracking the touched ones (a branch per entry that the
            # CPU cannot predict), and the one-query path scans them too (`cross > 0`). Branches on data
            # that the CPU cannot predict cost more here than the arithmetic: hence the forms below.
            if metric == SORENSEN:
                n_candidates = 0
                for row in range(n):  # written always, counted when it shares an AP: no branch to mispredict
                    candidates[n_candidates] = row
                    n_candidates += cross[0, row] > 0  # the variants hear alike: all of a row's sums > 0, or none
                if n_candidates >= needed:
                    for v in range(n_variants):
                        for c in range(n_candidates):  # the distances first: a loop without branches
                            row = candidates[c]
                            total = _compared(row_full[row], heard[row], unheard_weight) + q_totals[v, i]
                            distances[c] = max(total - 2 * cross[v, row], 0.0) / total
                        size = _nearest(distances, candidates, n_candidates, heap_d, heap_r, kept)
                        _write_sorted(heap_d, heap_r, size, d_out[v, i], rows_out[v, i])
                    complete[i] = n_candidates <= width
            else:
                for v in range(n_variants):
                    for row in range(n):
                        total = _compared(row_full[row], heard[row], unheard_weight) + q_totals[v, i]
                        d = max(total - 2 * cross[v, row], 0.0)
                        distances[row] = np.sqrt(d) if metric == EUCLIDEAN else d
                    size = _nearest(distances, every_row, n, heap_d, heap_r, kept)
                    _write_sorted(heap_d, heap_r, size, d_out[v, i], rows_out[v, i])
                complete[i] = n <= width
            cross[:] = 0.0
            if partial_sums:
                heard[:] = 0.0

    return nearest_rows


_KERNELS: dict[int, Callable[..., None]] = {}


# The bound comes from a sample of 8 x width candidates (so ~1/8 of the candidates pass it: it is the sample's 1/8
# quantile); of 2, 4, 8 and 16 x width, 8 was as fast as any on three maps (a /tmp sweep, 2026-12-05).
SAMPLED_PER_WIDTH = 8


@compiled()
def _nearest(distances, candidates, count: int, heap_d, heap_r, kept) -> int:
    """Keep the `heap_d.size` nearest of candidates[:count] (distances[:count]) in the heap; returns its size.

    Offering every candidate costs most where the map's rows are in survey order: candidates then arrive
    nearer and nearer to the query, and each one that enters the heap sifts through it on branches the CPU
    cannot predict. So a strided sample's `width`-th nearest is found first: it is no nearer than the
    `width`-th nearest of all, so every row of the answer is within it, and only the candidates within it
    (a pass without branches) are offered to a fresh heap. The answer is the one offering all would give."""
    width = heap_d.size
    size = 0
    step = count // (SAMPLED_PER_WIDTH * width)
    for c in range(0, count, max(step, 1)):  # >= 8 x width samples (the heap fills), or every candidate
        size = _offer(heap_d, heap_r, size, distances[c], candidates[c])
    if step <= 1:  # the sample was every candidate: the heap holds the answer
        return size
    bound = heap_d[0]
    n_kept = 0
    for c in range(count):
        kept[n_kept] = c
        n_kept += distances[c] <= bound
    size = 0
    for t in range(n_kept):
        c = kept[t]
        size = _offer(heap_d, heap_r, size, distances[c], candidates[c])
    return size


@compiled(inline="always")
def _compared(full: float, heard: float, unheard_weight: float) -> float:
    """A fingerprint's sum over the APs a full match compares (see WKNNPositioner._fingerprint_sums)."""
    if unheard_weight == 1.0:
        return full
    if unheard_weight == 0.0:
        return heard
    return unheard_weight * full + (1.0 - unheard_weight) * heard


def _query_totals(model, R: np.ndarray) -> np.ndarray:
    """Each represented query's sum (L1 metrics) or sum of squares (Euclidean), R checked to be a block of the
    fitted model's represented queries (float32, one column per AP)."""
    if R.ndim != 2 or R.shape[1] != model.n_features_in_ or R.dtype != np.float32:
        raise ValueError(f"R must be represented queries: float32 of shape (m, {model.n_features_in_})")
    return (R.astype(np.float64) ** 2).sum(axis=1) if model.metric == "euclidean" else R.sum(axis=1, dtype=np.float64)


def search(model: WKNNPositioner, R: np.ndarray, width: int, needed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, distances, complete) for a block of represented queries R (m, n_aps float32) against a
    fitted WKNNPositioner's index (`nearest_rows_for`), the kernel's arguments assembled with numpy."""
    return search_variants(model, [R], width, needed)[0]


def search_variants(model: WKNNPositioner, variants: list[np.ndarray], width: int, needed: int
                    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`search` of each block of represented queries in `variants` (the same m queries read at several levels, e.g.
    the offset search's shifts): one pass of the map for all when each hears what the first one hears (a shifted
    heard AP stays heard), else a pass each. Each block's (rows, distances, complete) is the one `search` gives it."""
    if width < 1 or needed < 1:
        raise ValueError("width and needed must be at least 1")
    first = variants[0]
    qi, qj = np.nonzero(first)  # row-major: each query's APs in ascending order, as the one-query path takes them
    if not all((R[qi, qj] > 0).all() and np.count_nonzero(R) == qi.size for R in variants[1:]):
        return [found for R in variants for found in search_variants(model, [R], width, needed)]
    m, n_variants = first.shape[0], len(variants)
    euclidean = model.metric == "euclidean"
    q_ptr = np.concatenate([[0], np.cumsum(np.bincount(qi, minlength=m))]).astype(np.int64)
    rows_out = np.full((n_variants, m, width), -1, dtype=np.int64)
    d_out = np.full((n_variants, m, width), np.inf)
    complete = np.zeros(m, dtype=np.bool_)
    nearest_rows_for(n_variants)(
        model.col_ptr_, model.col_rows_, model.col_values_, model.whole_slot_, model.whole_columns_,
        model.row_squares_ if euclidean else model.row_sums_, q_ptr, qj.astype(np.int64),
        np.stack([R[qi, qj] for R in variants]), np.stack([_query_totals(model, R) for R in variants]),
        METRIC_CODES[model.metric], float(model.unheard_weight), needed, rows_out, d_out, complete)
    return [(rows_out[v], d_out[v], complete.copy()) for v in range(n_variants)]


@compiled()
def _median_offsets(row_ptr, row_aps, row_dbm, X, missing: float, queries, rows, medians, counts) -> None:
    """Per query of X (dBm rows): the median of query minus fingerprint over the APs both hear, over its
    (query, neighbour row) pairs, into `medians` (unset where `counts` is 0). The median of an even count is
    the mean of the two middle values, as `WKNNPositioner._offsets` takes it, from the same float64 values."""
    for p in range(queries.size):  # how many values each query has
        q, row = queries[p], rows[p]
        for e in range(row_ptr[row], row_ptr[row + 1]):
            counts[q] += X[q, row_aps[e]] > missing
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    for q in range(counts.size):
        starts[q + 1] = starts[q] + counts[q]
    values = np.empty(starts[-1])
    filled = starts[:-1].copy()
    for p in range(queries.size):
        q, row = queries[p], rows[p]
        for e in range(row_ptr[row], row_ptr[row + 1]):
            heard = X[q, row_aps[e]]
            if heard > missing:
                values[filled[q]] = heard - np.float64(row_dbm[e])
                filled[q] += 1
    for q in range(counts.size):
        n = counts[q]
        if n:
            own = np.sort(values[starts[q]:starts[q + 1]])
            medians[q] = (own[(n - 1) // 2] + own[n // 2]) / 2


def median_offsets(model: WKNNPositioner, X: np.ndarray, queries: np.ndarray, rows: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(median, count) per query of X for a fitted WKNNPositioner (`_median_offsets`): the batch path's
    offset rounds, which sorted every pair's values with numpy (a lexsort per block) before."""
    medians = np.zeros(X.shape[0])
    counts = np.zeros(X.shape[0], dtype=np.int64)
    _median_offsets(model.offset_ptr_, model.offset_aps_, model.offset_dbm_, np.ascontiguousarray(X, dtype=np.float64),
                    float(model.missing), np.asarray(queries, dtype=np.int64), np.asarray(rows, dtype=np.int64),
                    medians, counts)
    return medians, counts


@compiled()
def _ranked_rows(row_ptr, row_aps, row_values, row_full, R, q_totals, rows, metric: int, unheard_weight: float,
                 partial: bool, silent, sort: bool, rows_out, d_out) -> None:
    """Per represented query of R: its candidate rows (-1: none) with their distances, nearest first (equal
    distances by row id), the -1 entries last at inf. The map row by row: CSR of the represented fingerprints
    (row_ptr, row_aps, row_values float32) and per row its full sum (L1) or sum of squares (Euclidean). A full match
    compares a fingerprint's values at the APs the query does not hear `unheard_weight` times; a partial one
    (`partial`) over the query's audible APs and the `silent` ones (a bool per AP) only. The cross terms are float32
    (min, or the product), summed in float64, as the search sums them. `sort` False: left in the given order (-1
    entries at inf), for the caller to sort a list too long for an insertion sort."""
    big = np.iinfo(np.int64).max
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            row = rows[i, j]
            if row < 0:
                d_out[i, j], rows_out[i, j] = np.inf, big
                continue
            cross, compared = 0.0, 0.0
            for e in range(row_ptr[row], row_ptr[row + 1]):
                ap, value, q = row_aps[e], row_values[e], R[i, row_aps[e]]
                if metric == EUCLIDEAN:
                    cross += np.float64(value * q)
                    own = np.float64(value) * np.float64(value)
                else:
                    cross += np.float64(min(value, q))
                    own = np.float64(value)
                if q > 0 or (partial and silent[ap]):
                    compared += own
            if not partial:
                compared = _compared(row_full[row], compared, unheard_weight)
            if metric == EUCLIDEAN:
                d = np.sqrt(max(compared + q_totals[i] - 2 * cross, 0.0))
            else:
                total = compared + q_totals[i]
                d = max(total - 2 * cross, 0.0)
                if metric == SORENSEN:
                    d = d / max(total, 1e-12)
            d_out[i, j], rows_out[i, j] = d, row
        if not sort:
            continue
        for j in range(1, rows.shape[1]):  # insertion sort: a few dozen candidates
            d, row = d_out[i, j], rows_out[i, j]
            k = j - 1
            while k >= 0 and _after(d_out[i, k], rows_out[i, k], d, row):
                d_out[i, k + 1], rows_out[i, k + 1] = d_out[i, k], rows_out[i, k]
                k -= 1
            d_out[i, k + 1], rows_out[i, k + 1] = d, row
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if rows_out[i, j] == big:
                rows_out[i, j] = -1


SORTED_IN_KERNEL = 64  # candidates per query that `_ranked_rows` insertion-sorts itself


def ranked(model: WKNNPositioner, R: np.ndarray, rows: np.ndarray, partial: bool = False,
           silent: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, distances): each represented query's candidate `rows` (m, M; -1: none) ranked by a fitted
    WKNNPositioner's own distances (`_ranked_rows`; the model holds `row_values_`: a blend's second model)."""
    q_totals = _query_totals(model, R)
    if rows.shape[0] != R.shape[0]:
        raise ValueError(f"{R.shape[0]} represented queries need one row of candidates each, got {rows.shape[0]}")
    n_rows = model.row_ptr_.size - 1
    if rows.size and (rows.min() < -1 or rows.max() >= n_rows):  # the kernel reads unchecked memory
        raise ValueError(f"candidate rows must be row ids of the map (0 to {n_rows - 1}) or -1 for none")
    euclidean = model.metric == "euclidean"
    silent_mask = np.zeros(model.n_features_in_, dtype=np.bool_)
    if partial and silent is not None:
        silent_mask[silent] = True
    rows_out = np.empty(rows.shape, dtype=np.int64)
    d_out = np.empty(rows.shape)
    short = rows.shape[1] <= SORTED_IN_KERNEL  # a full-sort fallback hands over every candidate: numpy sorts those
    _ranked_rows(model.row_ptr_, model.row_aps_, model.row_values_,
                 model.row_squares_ if euclidean else model.row_sums_, np.ascontiguousarray(R), q_totals,
                 np.ascontiguousarray(rows, dtype=np.int64), METRIC_CODES[model.metric], float(model.unheard_weight),
                 bool(partial), silent_mask, short, rows_out, d_out)
    if short:
        return rows_out, d_out
    order = np.lexsort((np.where(rows_out < 0, np.iinfo(np.int64).max, rows_out), d_out), axis=1)
    return np.take_along_axis(rows_out, order, axis=1), np.take_along_axis(d_out, order, axis=1)


@compiled()
def _likeliest_floors(X, queries, missing: float, beta: float, coef, intercept, best, probability) -> None:
    """Per dBm query of X named in `queries`: the index of its likeliest floor label under a logistic regression of
    the floor on the powed values (coef: one row per label, or one row for a binary one, its second label) and that
    label's probability. A heard value is powed as `to_representation` powes the map the classifier was fitted on
    (in float64, kept as float32); each label's logit is summed over the query's heard APs in column order, the same
    order whatever else is in X: a query alone and in a batch get the same bits (a matrix product may sum a block in
    another order)."""
    n_labels = coef.shape[0]
    z = np.empty(n_labels)
    for k in range(queries.size):
        i = queries[k]
        for c in range(n_labels):
            z[c] = intercept[c]
        for j in range(X.shape[1]):
            x = X[i, j]
            if x > missing:
                value = np.float64(np.float32(((x - missing) / -missing) ** beta))
                for c in range(n_labels):
                    z[c] += coef[c, j] * value
        if n_labels == 1:  # binary: the row is the second label's
            second = 1.0 / (1.0 + np.exp(-z[0]))
            best[k], probability[k] = (1, second) if second > 0.5 else (0, 1.0 - second)
            continue
        top = 0
        for c in range(1, n_labels):
            if z[c] > z[top]:
                top = c
        total = 0.0
        for c in range(n_labels):
            total += np.exp(z[c] - z[top])
        best[k], probability[k] = top, 1.0 / total


def likeliest_floors(fitted: tuple[np.ndarray, np.ndarray, np.ndarray], X: np.ndarray, missing: float,
                     beta: float = float(np.e), queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(floor label, its probability) per dBm query of X (those at `queries`; None: all) under a floor classifier
    (WKNNPositioner `_floor_classifier`'s (labels, coefficients, intercepts)): `_likeliest_floors`."""
    labels, coef, intercept = fitted
    X = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float64)
    # the kernel reads unchecked memory: every shape and index is checked here
    if X.shape[1] != coef.shape[1]:
        raise ValueError(f"queries of {X.shape[1]} APs for a classifier of {coef.shape[1]}")
    if intercept.shape != (coef.shape[0],) or labels.size != max(2, coef.shape[0]):
        raise ValueError(f"a classifier of {labels.size} labels needs one coefficient row and intercept per label (one "
                         f"for two labels), got {coef.shape[0]} rows and {intercept.size} intercepts")
    queries = (np.arange(X.shape[0], dtype=np.int64) if queries is None
               else np.asarray(queries, dtype=np.int64).ravel())
    if queries.size and (queries.min() < 0 or queries.max() >= X.shape[0]):
        raise ValueError(f"query indices must lie in 0..{X.shape[0] - 1}")
    best = np.zeros(queries.size, dtype=np.int64)
    probability = np.zeros(queries.size)
    _likeliest_floors(X, queries, float(missing), float(beta), np.ascontiguousarray(coef, dtype=np.float64),
                      np.ascontiguousarray(intercept, dtype=np.float64), best, probability)
    return labels[best], probability
