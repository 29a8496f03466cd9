"""The zone evidence of a batch (`ZoneMap.position_evidence_many`, `zone_scores_many`: the tracker's) against one
estimate at a time (`position_evidence`, `zone_scores`: a probe's), bit for bit: estimates on every floor, on
floors without zones, off the plan, on sample points and between them, far from every zone, with the compiled
loop (positioning/evidence_kernel.py), with its exponents and sums around one numpy exp (a host whose numpy has its
own exp), and row by row."""

from __future__ import annotations

import numpy as np
import pytest

from fingerprints.geometry import zone_map
from fingerprints.mallgen import generate_mall
from positioning import evidence_kernel
from positioning.wknn import Estimate
from positioning.zones import ZoneMap

HALL = [("corridor", 0, [(0, 0), (40, 0), (40, 6), (0, 6)]),
        ("kiosk", 0, [(10, 1.5), (13, 1.5), (13, 4.5), (10, 4.5)]),
        ("stall-a", 0, [(20, 6), (25, 6), (25, 13), (20, 13)]),
        ("stall-b", 0, [(25, 6), (30, 6), (30, 13), (25, 13)]),
        ("upstairs", 2, [(0, 0), (20, 0), (20, 10), (0, 10)])]


@pytest.fixture(scope="module")
def mall() -> ZoneMap:
    return zone_map(generate_mall(8, survey_step_m=12.0, scans=2).venue)


def spots(zones: ZoneMap, rng: np.random.Generator, n: int) -> tuple[list[int], list[float], list[float]]:
    """Estimates over each floor's zones and beyond them (a floor without zones, -3, too), some on sample points."""
    floors = sorted({floor for _, floor, _ in zones.zones})
    bounds = np.array([polygon.bounds for _, _, polygon in zones.zones])
    lo, hi = bounds[:, :2].min(axis=0) - 30, bounds[:, 2:].max(axis=0) + 30
    chosen = rng.choice([*floors, -3], size=n).tolist()
    xs, ys = rng.uniform(lo[0], hi[0], n), rng.uniform(lo[1], hi[1], n)
    for i in range(0, n, 7):  # exactly on a sample point of the floor
        grid = zones._grid(chosen[i])
        if grid is not None:
            xs[i], ys[i] = grid[0][int(rng.integers(len(grid[0])))]
    xs[3::11] = np.round(xs[3::11])  # between grid points, on whole metres
    return chosen, xs.tolist(), ys.tolist()


@pytest.mark.parametrize("path", ["compiled", "one exp", "rows"])
def test_position_evidence_of_a_batch_is_one_estimates_bit_for_bit(mall: ZoneMap, monkeypatch, path: str):
    """Each of the batch's three ways (zones.py `_densities`) on this host, where it can be taken."""
    if path == "compiled" and not evidence_kernel.exp_agrees():
        # An AVX-512 host: numpy's exp is its own SIMD code, so the batch does not use the compiled exp there
        pytest.skip("numpy's exp is not the C library's on this host: ZoneMap does not use the compiled loop")
    if path == "one exp" and not evidence_kernel.exp_elementwise():
        pytest.skip("numpy's exp of an element depends on where it lies here: ZoneMap goes row by row")
    if path != "compiled":
        monkeypatch.setattr(evidence_kernel, "exp_agrees", lambda: False)
    if path == "rows":
        monkeypatch.setattr(evidence_kernel, "exp_elementwise", lambda: False)
    rng = np.random.default_rng(7)
    for zones in (mall, ZoneMap(HALL)):
        floors, xs, ys = spots(zones, rng, 400)
        for sigma in (4.0, 1.0, 9.5):
            batch = zones.position_evidence_many(floors, xs, ys, sigma_m=sigma)
            one = [zones.position_evidence(f, x, y, sigma_m=sigma) for f, x, y in zip(floors, xs, ys, strict=True)]
            assert [list(b.items()) for b in batch] == [list(o.items()) for o in one]  # values and order
            assert any(batch) and not all(batch)  # some estimates far from every zone, most near one


def test_zone_scores_of_a_batch_are_one_estimates(mall: ZoneMap):
    rng = np.random.default_rng(8)
    floors, xs, ys = spots(mall, rng, 300)
    names = [zone for zone, _, _ in mall.zones] + [None]
    estimates = [Estimate(0, f, x, y, 0.7, ()) for f, x, y in zip(floors, xs, ys, strict=True)]
    neighbours = [rng.choice(np.array(names, dtype=object), size=int(rng.integers(0, 6))).tolist() for _ in floors]
    batch = mall.zone_scores_many(estimates, neighbours)
    one = [mall.zone_scores(e, n) for e, n in zip(estimates, neighbours, strict=True)]
    assert [list(b.items()) for b in batch] == [list(o.items()) for o in one]
    assert mall.zone_scores_many([], []) == []
