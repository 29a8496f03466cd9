"""A phone heard for a few seconds is matched near the AP it has just associated with: WKNNPositioner.strong_rows
(the reference points where an AP is among the strongest) and locate(partial=True, within=...)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.vectors import MISSING_DBM
from positioning.wknn import ASSOCIATION_RANK, WKNNPositioner
from tests.positioning_tests.test_wknn import campus

M = MISSING_DBM


def test_strong_rows_are_where_the_ap_is_among_the_strongest():
    X = np.array([[-40, -50, -60, M], [-70, -45, -50, -80], [M, -90, -40, -41], [-55, -55, -55, -55]], float)
    y = np.column_stack([np.zeros(4), np.zeros(4), np.arange(4) * 3.0, np.zeros(4)])
    model = WKNNPositioner(k=1, offset_rounds=0).fit(X, y)
    assert model.strong_rows(0, rank=1).tolist() == [0, 3]  # a tie keeps the AP first in column order
    assert model.strong_rows(1, rank=1).tolist() == [1]
    assert model.strong_rows(1, rank=2).tolist() == [0, 1, 3]
    assert model.strong_rows(3, rank=2).tolist() == [2]
    assert model.strong_rows(0).tolist() == [0, 3]  # ASSOCIATION_RANK (2): row 1 hears AP 0 third
    assert model.strong_rows(3).tolist() == [2]
    assert ASSOCIATION_RANK == 2
    with pytest.raises(ValueError, match=r"AP column must lie in \[0, 4\)"):
        model.strong_rows(4)
    refit = model.fit(X[:2], y[:2])  # a new fit forgets the old rows
    assert refit.strong_rows(2, rank=1).tolist() == []


def test_a_partial_match_picks_its_neighbours_within_the_rows_given():
    X, y = campus()
    y = y.copy()
    y[:, :2] = 0
    model = WKNNPositioner(k=5, offset_rounds=0).fit(X[:500], y[:500])
    q = X[500].copy()
    q[np.flatnonzero(q > M)[2:]] = M  # two APs heard so far
    free = model.locate(q, partial=True)
    assert model.locate(q, partial=True, within=None) == free
    column = int(np.argmax(q))
    near = model.strong_rows(column)
    bound = model.locate(q, partial=True, within=near)
    assert set(bound.neighbours) <= set(near.tolist())
    sharing = np.flatnonzero((X[:500][:, q > M] > M).any(axis=1))  # rows that can be neighbours (Sorensen)
    far = np.setdiff1d(sharing, list(free.neighbours))[-5:]  # rows it would not pick
    assert set(model.locate(q, partial=True, within=far).neighbours) == set(far.tolist())
    # fewer rows than the match needs (k=5): the rows are not a bound
    assert model.locate(q, partial=True, within=far[:3]) == free
    assert model.locate(X[500], within=far) == model.locate(X[500])  # a whole vector: no bound
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 500\)"):
        model.locate(q, partial=True, within=[0, 500])


def strong_rows_by_loop(model: WKNNPositioner, rank: int) -> list[list[int]]:
    """The rule row by row, as it was written first (a stable sort of each row's APs, strongest first)."""
    by_ap: list[list[int]] = [[] for _ in range(model.n_features_in_)]
    for row in range(model.row_ptr_.size - 1):
        start, end = model.row_ptr_[row], model.row_ptr_[row + 1]
        for ap in model.row_aps_[start:end][np.argsort(-model.row_dbm_[start:end], kind="stable")[:rank]]:
            by_ap[int(ap)].append(row)
    return by_ap


@given(st.integers(1, 40), st.integers(1, 12), st.integers(1, 5), st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_every_aps_strong_rows_are_the_row_by_row_rules(n_rows, n_aps, rank, seed):
    """Worked out for every AP at once, the same rows as the rule applied row by row: ties (whole dBm, often
    equal) in column order, rows heard by fewer APs than the rank, APs heard nowhere."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-90, -40, size=(n_rows, n_aps)).astype(float)
    X[rng.random(X.shape) < 0.4] = M
    X[np.arange(n_rows), rng.integers(0, n_aps, n_rows)] = -60.0  # every row hears one AP at least
    model = WKNNPositioner(k=1, offset_rounds=0).fit(X, np.zeros((n_rows, 4)))
    assert model.with_strong_rows(rank) is model
    expected = strong_rows_by_loop(model, rank)
    for column in range(n_aps):
        rows = model.strong_rows(column, rank=rank)
        assert rows.dtype == np.int64 and rows.tolist() == expected[column]
