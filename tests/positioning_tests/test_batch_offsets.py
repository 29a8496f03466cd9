"""The batch path's offset medians (compiled, positioning.kernels.median_offsets) are the one-query path's
(`WKNNPositioner._offsets`, numpy) exactly: the same pairs give the same offsets, bit for bit, so a batch and
one query at a time still take the same offset rounds."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from positioning.vectors import MISSING_DBM
from positioning.wknn import WKNNPositioner

from .test_batch_offsets_tuning import sparse_maps
from .test_wknn import campus


def fitted(X: np.ndarray) -> WKNNPositioner:
    y = np.column_stack([np.zeros(len(X)), np.zeros(len(X)), np.arange(len(X)), np.zeros(len(X))])
    return WKNNPositioner(k=1, k_floor=1).fit(X, y)


@settings(max_examples=150, deadline=None)
@given(maps=sparse_maps(), pairs=st.integers(0, 60), seed=st.integers(0, 2**32 - 1),
       shift=st.sampled_from([0.0, 0.5, 7.25]))
@example(maps=(np.full((3, 2), -50.0), np.full((2, 2), -50.0)), pairs=4, seed=0, shift=0.0)  # all equal
def test_compiled_medians_equal_numpy(maps, pairs, seed, shift):
    X, Q = maps
    X[0, 0] = -60.0  # a map hears something (fit refuses one that hears nothing)
    model = fitted(X)
    rng = np.random.default_rng(seed)
    Q = np.where(Q > MISSING_DBM, Q + shift, Q)  # offsets off the dB grid: halves and quarters
    queries = rng.integers(0, len(Q), pairs).astype(np.int64)  # any order, repeats, queries without pairs
    rows = rng.integers(0, len(X), pairs).astype(np.int64)
    expected = model._offsets(Q, queries, rows)
    got = model._batch_offsets(Q, queries, rows)
    assert got.dtype == expected.dtype and got.shape == expected.shape == (len(Q),)
    assert np.array_equal(got, expected)


def test_batch_and_one_query_predictions_agree_with_offset_rounds():
    X, y = campus()
    model = WKNNPositioner(offset_rounds=3).fit(X, y)
    rng = np.random.default_rng(5)
    Q = X[rng.choice(len(X), 200)]
    heard = Q > MISSING_DBM
    Q = np.where(heard, np.clip(Q + rng.normal(0, 3, Q.shape) + rng.choice([-8.0, 0.0, 6.5], (len(Q), 1)), -104, -20),
                 MISSING_DBM)
    batch = model.locate_many(Q)
    for q, b in zip(Q, batch, strict=True):
        one = model.locate(q)
        assert (one.building, one.floor, one.neighbours, one.offset_db) == \
            (b.building, b.floor, b.neighbours, b.offset_db)
    assert any(b.offset_db for b in batch)  # the rounds moved queries: the medians were used
