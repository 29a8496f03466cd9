"""Each AP's fall-off over the venue, fitted to the survey: how loud an AP that a spot's fingerprint does not list
may be there, for what the live model measures a phone's offset against (`filled`:
fingerprints.training.offset_reference) and the quality report's made-up phones (`levels_below`:
portal/tracking/estimate.py).

A survey lists an AP at a reference point only when its phone heard it in at least half of the scans there, so an
AP missing from a fingerprint is not absent: it is somewhere below the survey's hearing. A shopper's phone that
reads louder than the survey phone (another model, a better antenna) is heard by such APs now and then, and those
readings match no fingerprint at that spot. On simulated check mall 7777, whose survey phone read about 1.5 dB
quieter than the shoppers' phones on average, that was 4.6-6.1 readings a second at a dwell spot beside 11-19 from
the APs the fingerprint lists, and without them its landing at 30 s would have been 4.5 points higher
(docs/landing-history.md, twenty-first pass).

The fit is log-distance with a loss per floor between: level = a + b * 10 log10(d) + c * floors, d the plan
distance in metres (at least 1), per AP, as a censored (Tobit) regression: a reference point where the AP is not
listed says only that its level there is below `threshold_dbm`, the survey's hearing. Fitted on the heard points
alone, the unlisted APs read too loud (the places an AP was not heard are the ones behind walls): about twice the
readings a second that the simulator's true field gives. An AP not listed at a spot is then drawn from the fit's
normal there, truncated to below the threshold, or set at that truncated normal's mean (the map's best guess of
the level its survey phone did not list); a draw or a mean under `missing` stays unheard."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtri_exp
from threadpoolctl import threadpool_limits

# Bounds of the fit, so an AP heard at a few points gets a fall-off a building can have: a the level at 1 m (at most
# 0 dBm), b minus the path loss exponent (1-6), c a floor's loss (0-40 dB), the spread 2-15 dB.
LEVEL_AT_1M_BOUNDS = (-200.0, 0.0)
SLOPE_BOUNDS = (-6.0, -1.0)
FLOOR_LOSS_BOUNDS = (-40.0, 0.0)
SPREAD_BOUNDS_DB = (2.0, 15.0)
BOUNDS = (LEVEL_AT_1M_BOUNDS, SLOPE_BOUNDS, FLOOR_LOSS_BOUNDS)  # of a, b, c
MIN_HEARD = 3  # an AP listed at fewer reference points is not fitted: it is never drawn (heard too little to say)
# The fits run with BLAS on one thread. L-BFGS-B's steps are BLAS and LAPACK calls on a few numbers (4 parameters,
# 10 corrections), and OpenBLAS's threads only woke and waited for each of them: generated mall 4242's 52 APs took
# 3.6-8.2 s of CPU with OpenBLAS's default 2 threads on this 2-core VM and 0.27-0.29 s on one, the same fit to the
# bit (2026-12-06), in every process that builds a model (gunicorn workers, the tracker, CLIs, the live estimate's
# child). The limit is process-wide while it holds (threadpoolctl sets the library's count and puts it back), so
# one fit at a time takes and restores it: two overlapping would put back each other's one.
_ONE_BLAS_THREAD = threading.Lock()


@dataclass(frozen=True)
class ApFalloff:
    """Per AP (the survey matrix's columns): a, b, c of the fit and its spread; `fitted` False for an AP heard at
    fewer than MIN_HEARD points (never drawn)."""

    ap_floor: np.ndarray  # (m,)
    ap_xy: np.ndarray  # (m, 2)
    coef: np.ndarray  # (m, 3)
    spread_db: np.ndarray  # (m,)
    fitted: np.ndarray  # (m,) bool
    threshold_dbm: float
    missing: float

    @classmethod
    def fit(cls, coords: np.ndarray, X: np.ndarray, ap_floor: np.ndarray, ap_xy: np.ndarray, threshold_dbm: float,
            missing: float) -> ApFalloff:
        """`coords` (n, 3) floor, x, y of the survey's rows; `X` (n, m) their dBm (`missing`: not listed); each AP's
        floor and plan x/y."""
        m = X.shape[1]
        coef, spread, fitted = np.zeros((m, 3)), np.full(m, SPREAD_BOUNDS_DB[0]), np.zeros(m, dtype=bool)
        with _ONE_BLAS_THREAD, threadpool_limits(limits=1, user_api="blas"):
            for j in range(m):
                heard = X[:, j] > missing
                design = _design(coords[:, 0], coords[:, 1:], ap_floor[j], ap_xy[j])
                if heard.sum() < MIN_HEARD or not np.isfinite(design).all():  # off the plan: no fit, no hang
                    continue
                coef[j], spread[j] = _censored_fit(design, X[:, j], heard, threshold_dbm)
                fitted[j] = True
        arrays = (np.array(ap_floor, dtype=float), np.array(ap_xy, dtype=float), coef, spread, fitted)
        for array in arrays:  # a fit is shared by every model of its survey (fitted_falloff's memo): no writes
            array.setflags(write=False)
        return cls(*arrays, float(threshold_dbm), float(missing))

    def columns(self, keep: list[int]) -> ApFalloff:
        """The fits of the APs at `keep` (the survey matrix less some columns: each AP's fit is its own)."""
        keep = np.asarray(keep, dtype=int)
        return ApFalloff(self.ap_floor[keep], self.ap_xy[keep], self.coef[keep], self.spread_db[keep],
                         self.fitted[keep], self.threshold_dbm, self.missing)

    def levels_below(self, floor: int, x: float, y: float, unlisted: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """A level for each `unlisted` AP at the spot, below the threshold (drawn from the fit there, truncated; the
        tail drawn on the log scale, so a spot where the fit says far louder is drawn just under the threshold, not
        at it); `missing` for the others, for APs not fitted and for a draw under `missing` (it is never heard)."""
        draw = unlisted & self.fitted
        out = np.full(unlisted.shape, self.missing)
        if not draw.any():
            return out
        design = _design(np.array([floor]), np.array([[x, y]]), self.ap_floor[draw], self.ap_xy[draw])
        mean = (design * self.coef[draw]).sum(axis=1)
        sd = self.spread_db[draw]
        # the inverse CDF of the normal cut at the threshold: P(level <= threshold) * U, in logs; U in (0, 1), as
        # random() is in [0, 1) and its 0 (one draw in 2**53) would be log(0) = -inf, a level at -inf
        uniform = np.maximum(rng.random(mean.size), np.finfo(float).tiny)
        log_below = log_ndtr((self.threshold_dbm - mean) / sd) + np.log(uniform)
        level = np.minimum(mean + sd * ndtri_exp(log_below), self.threshold_dbm)
        out[draw] = np.where(level > self.missing, level, self.missing)
        return out

    def filled(self, coords: np.ndarray, X: np.ndarray) -> np.ndarray:
        """`X` (n, m; rows at `coords`, floor, x, y) with each fitted AP that a row does not list at its expected
        level there given that it is below the threshold (the fit's normal truncated at it: its mean); `missing`
        where that is under `missing` (an AP far away or floors apart stays unheard) and for APs not fitted."""
        out = np.array(X, dtype=float)
        if out.ndim != 2 or out.shape[1] != self.fitted.size or len(coords) != out.shape[0]:
            raise ValueError(f"X must be (points, {self.fitted.size} APs) with a floor, x, y per point; got "
                             f"{out.shape} and {len(coords)} points")
        for j in np.flatnonzero(self.fitted):
            unlisted = out[:, j] <= self.missing
            if not unlisted.any():
                continue
            design = _design(coords[unlisted, 0], coords[unlisted, 1:], self.ap_floor[j], self.ap_xy[j])
            z = (self.threshold_dbm - design @ self.coef[j]) / self.spread_db[j]
            # E[level | level < threshold] = mean - sd * pdf(z) / cdf(z), in logs so that a far spot (cdf ~ 1) and
            # a near one (cdf ~ 0, the fit reads far louder than the threshold there) are both exact
            level = self.threshold_dbm - self.spread_db[j] * (z + np.exp(_log_pdf(z) - log_ndtr(z)))
            out[unlisted, j] = np.where(level > self.missing, level, self.missing)
        return out


def _design(floors: np.ndarray, xy: np.ndarray, ap_floor: float | np.ndarray, ap_xy: np.ndarray) -> np.ndarray:
    """The fit's columns (1, 10 log10 d, floors between) for points against one AP, or one point against APs
    (`ap_floor` (m,), `ap_xy` (m, 2)): d the plan distance, at least 1 m."""
    ap_xy = np.asarray(ap_xy, dtype=float)
    d = np.hypot(xy[:, 0] - ap_xy[..., 0], xy[:, 1] - ap_xy[..., 1])
    return np.column_stack([np.ones(d.size), 10 * np.log10(np.maximum(d, 1.0)), np.abs(floors - ap_floor)])


def _log_pdf(z: np.ndarray) -> np.ndarray:
    return -0.5 * z**2 - 0.5 * np.log(2 * np.pi)


def _censored_fit(design: np.ndarray, y: np.ndarray, heard: np.ndarray, threshold: float
                  ) -> tuple[np.ndarray, float]:
    """Maximum likelihood of the censored normal regression (heard: y ~ N(design @ coef, sd); not heard: below
    `threshold`), from least squares on the heard rows; bounded as BOUNDS say (L-BFGS-B's best point is taken even
    when it stops short of its tolerance: a fall-off a few tenths of a dB off draws alike)."""
    heard_design, heard_y, censored = design[heard], y[heard], design[~heard]
    start, *_ = np.linalg.lstsq(heard_design, heard_y, rcond=None)
    low, high = [bound[0] for bound in BOUNDS], [bound[1] for bound in BOUNDS]
    start = np.clip(start, low, high)
    sd0 = float(np.clip(np.std(heard_y - heard_design @ start), *SPREAD_BOUNDS_DB))

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        coef, log_sd = params[:3], params[3]
        sd = np.exp(log_sd)
        z = (heard_y - heard_design @ coef) / sd
        zc = (threshold - censored @ coef) / sd
        log_cdf = log_ndtr(zc)
        ratio = np.exp(_log_pdf(zc) - log_cdf)  # pdf / cdf, the inverse Mills ratio
        value = 0.5 * float(z @ z) + heard_y.size * log_sd - float(log_cdf.sum())
        grad_coef = (-(z @ heard_design) + ratio @ censored) / sd
        grad_log_sd = heard_y.size - float(z @ z) + float(ratio @ zc)
        return value, np.r_[grad_coef, grad_log_sd]

    bounds = [*BOUNDS, tuple(np.log(SPREAD_BOUNDS_DB))]
    from scipy.optimize import minimize  # lazy: 0.4 s of every process's start; only a model build fits
    found = minimize(nll, np.r_[start, np.log(sd0)], jac=True, method="L-BFGS-B", bounds=bounds)
    return found.x[:3], float(np.exp(found.x[3]))
