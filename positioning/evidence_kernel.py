"""The zone evidence of a batch of estimates, compiled: per estimate, each zone's sum of the Gaussian over its
sample points (`ZoneMap.position_evidence`'s densities before they are normalised).

An estimate weighs the ~2,000 sample points within reach of it; per phone in numpy that is a dozen calls over
fresh arrays (~55 us of a tracked phone's ~300), in one compiled loop over the batch about half. The loop makes
the one-phone path's numbers: the same IEEE operations per point in the same order (numba compiles without
fast-math, so no fused multiply-add), the points added into their zone's sum in order as `np.bincount` adds
them, and `math.exp`, which is the C library's exp. numpy's `np.exp` (the one-phone path's) gives the same
doubles on a host where its float64 exp is not its own SIMD code (AVX-512 hosts have one): `exp_agrees` checks
it once per process. Where it does not hold, the loop is cut in two around numpy's exp: `exponents` makes every
estimate's arguments in one flat array, numpy takes their exp in one call, `owner_sums` adds them up (on this
project's AVX-512 VM, a phase timer around bench/tracking.py's round of 2,000 phones: `zone_scores_many` ~0.04 s
against ~0.06 s with the densities row by row in numpy). That is the one-phone path's exp only where numpy's exp of
an element does not depend on where in an array it lies (`exp_elementwise`, checked once too); else ZoneMap goes row
by row.

Loaded only by the tracker's batch (ZoneMap.position_evidence_many): a web worker positioning a phone alone
never imports numba (positioning/kernels.py)."""

from __future__ import annotations

import functools
import math

import numpy as np

from positioning.kernels import compiled


@compiled()
def densities(px: np.ndarray, py: np.ndarray, owner: np.ndarray, n_owners: int, xs: np.ndarray, ys: np.ndarray,
              reach: float, scale: float) -> np.ndarray:
    """(len(xs), n_owners): per estimate (xs[r], ys[r]), per owner the sum of exp(-d² / scale) over its points
    within `reach` along x (px sorted ascending), added in the points' order."""
    out = np.zeros((xs.size, n_owners))
    lo = np.searchsorted(px, xs - reach)
    hi = np.searchsorted(px, xs + reach)
    for r in range(xs.size):
        x, y = xs[r], ys[r]
        for i in range(lo[r], hi[r]):
            dx = px[i] - x
            dy = py[i] - y
            out[r, owner[i]] += math.exp(-(dx * dx + dy * dy) / scale)
    return out


@compiled()
def exponents(px: np.ndarray, py: np.ndarray, xs: np.ndarray, ys: np.ndarray, reach: float, scale: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a host whose numpy exp is its own (`exp_agrees` False): (each estimate's first point within reach, where
    its arguments start in the flat array and, last, where they end, the arguments) - the arguments `densities` would
    take the exp of, -d² / scale per estimate per point within reach (estimate r's from bounds[r] to bounds[r + 1]),
    so numpy takes their exp in one call (the one-phone path's exp, `ZoneMap.position_evidence`), and `owner_sums`
    adds them up."""
    lo = np.searchsorted(px, xs - reach)
    hi = np.searchsorted(px, xs + reach)
    bounds = np.zeros(xs.size + 1, dtype=np.int64)
    for r in range(xs.size):
        bounds[r + 1] = bounds[r] + max(0, hi[r] - lo[r])
    out = np.empty(bounds[-1])
    for r in range(xs.size):
        x, y, at = xs[r], ys[r], bounds[r]
        for i in range(lo[r], hi[r]):
            dx = px[i] - x
            dy = py[i] - y
            out[at] = -(dx * dx + dy * dy) / scale
            at += 1
    return lo, bounds, out


@compiled()
def owner_sums(owner: np.ndarray, n_owners: int, lo: np.ndarray, bounds: np.ndarray, weights: np.ndarray
               ) -> np.ndarray:
    """(len(lo), n_owners): per estimate, per owner the sum of its points' weights (`exponents`' layout), added in
    the points' order as np.bincount adds them."""
    out = np.zeros((lo.size, n_owners))
    for r in range(lo.size):
        first = lo[r]
        for at in range(bounds[r], bounds[r + 1]):
            out[r, owner[first + at - bounds[r]]] += weights[at]
    return out


@compiled()
def _exp(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    for i in range(values.size):
        out[i] = math.exp(values[i])
    return out


@functools.cache
def exp_agrees() -> bool:
    """Whether numpy's exp gives the compiled loop's doubles (the C library's) here: checked once, on 200,000
    arguments over the range the evidence takes (0 down to -800, where exp underflows to 0), a third of them
    near 0 where the weights that count lie."""
    rng = np.random.default_rng(20)
    values = np.concatenate([-rng.random(100_000) * 800.0, -rng.random(66_000) * 15.0, -rng.random(34_000)])
    return bool(np.array_equal(np.exp(values), _exp(values)))


@functools.cache
def exp_elementwise() -> bool:
    """Whether numpy's exp of an element is the same double wherever it lies in an array and however long that is
    (its SIMD loop computes a tail as it does the rest): then `exponents`' flat array, taken in one call, gives the
    one-phone path's weights. Checked once, on 60,000 arguments split into runs of 1 to 40."""
    rng = np.random.default_rng(21)
    values = np.concatenate([-rng.random(40_000) * 800.0, -rng.random(20_000) * 15.0])
    cuts = np.cumsum(rng.integers(1, 41, size=values.size))
    pieces = np.split(values, cuts[cuts < values.size])
    return bool(np.array_equal(np.exp(values), np.concatenate([np.exp(piece) for piece in pieces])))
