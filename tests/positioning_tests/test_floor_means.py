"""The "mean" floor rule's figures for every floor at once (`_floor_figures`, since 2026-12-04) are those of the loop
over floors it replaced, kept here verbatim: the same means and exactness, bit for bit, for one query and a batch,
complete or a prefix, with the padding finite or not (the choice among them, `_floor_means`, is unchanged)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.wknn import _floor_figures


def floor_figures_by_loop(codes, d, valid, in_building, complete, m, n_labels, pad):
    q = codes.shape[0]
    means = np.full((q, n_labels), np.inf)
    exact = np.ones((q, n_labels), dtype=bool)
    last = np.where(valid, d, -np.inf).max(axis=1, initial=-np.inf)  # rows past the prefix are at least this far
    rest = np.where(complete, pad if np.isfinite(pad) else last, last)  # what a floor short of m is padded with
    for f in range(n_labels):
        on = in_building & (codes == f)
        taken = on & (np.cumsum(on, axis=1) <= m)
        count = taken.sum(axis=1)
        total = np.cumsum(np.where(taken, d, 0.0), axis=1)[:, -1] if d.shape[1] else np.zeros(q)
        full = count >= m
        extra = np.zeros(q)
        np.multiply(m - count, rest, out=extra, where=~full)  # not 0 x inf where the floor has its m
        padded = (total + extra) / m
        means[:, f] = np.where(on.any(axis=1) | ~complete, padded, np.inf)
        exact[:, f] = full | complete
    return means, exact


@settings(max_examples=300, deadline=None)
@given(q=st.integers(1, 6), rows=st.integers(0, 40), n_labels=st.integers(1, 6), m=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1), pad=st.sampled_from([1.0, np.inf]), levels=st.booleans())
def test_every_floor_at_once_equals_the_loop(q, rows, n_labels, m, seed, pad, levels):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_labels, (q, rows))
    d = np.sort(rng.choice([0.1, 0.25, 0.5], (q, rows)) if levels else rng.random((q, rows)), axis=1)  # ties too
    valid = rng.random((q, rows)) < 0.9
    in_building = rng.random((q, rows)) < 0.8
    complete = rng.random(q) < 0.5
    means, exact = _floor_figures(codes, d, valid, in_building, complete, m, n_labels, pad)
    expected_means, expected_exact = floor_figures_by_loop(codes, d, valid, in_building, complete, m, n_labels, pad)
    assert np.array_equal(means, expected_means) and np.array_equal(exact, expected_exact)  # inf == inf, bit for bit
