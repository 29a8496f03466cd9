"""The zone evidence of a batch of estimates, compiled: per estimate, each zone's sum of the Gaussian over its
sample points (`ZoneMap.position_evidence`'s densities before they are normalised).

An estimate weighs the ~2,000 sample points within reach of it; per phone in numpy that is a dozen calls over
fresh arrays (~55 us of a tracked phone's ~300), in one compiled loop over the batch about half. The loop makes
the one-phone path's numbers: the same IEEE operations per point in the same order (numba compiles without
fast-math, so no fused multiply-add), the points added into their zone's sum in order as `np.bincount` adds
them, and `math.exp`, which is the C library's exp. numpy's `np.exp` (the one-phone path's) gives the same
doubles on a host where its float64 exp is not its own SIMD code (AVX-512 hosts have one): `exp_agrees` checks
it once per process and ZoneMap keeps the batch in numpy where it does not hold.

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
