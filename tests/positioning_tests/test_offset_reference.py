"""`WKNNPositioner.fit(X, y, offset_X)`: a phone's offset measured against a map whose unlisted APs are estimated
below its survey's hearing, each estimate counted at that hearing at most below it; matching stays on X."""

import numpy as np
import pytest

from positioning.tuning import _Fold, tune
from positioning.vectors import MISSING_DBM, weakest_listed_dbm
from positioning.wknn import WKNNPositioner

from .test_wknn import campus

HEARING = -92.0  # campus lists an AP where its level is above this


def campus_with_truth(n: int = 600):
    """campus' survey, and the same map with every unlisted AP at its true level (under -92 dBm, as a louder
    phone may hear it): what `offset_X` estimates on a venue."""
    X, y = campus(n=n)
    rng = np.random.default_rng(3)  # campus' own draw, to recover its levels below the hearing
    n_aps = X.shape[1]
    ap_b, ap_f = rng.integers(0, 2, n_aps), rng.integers(0, 2, n_aps)
    ap_xy = rng.uniform(0, 50, (n_aps, 2)) + ap_b[:, None] * [100, 0]
    d = np.linalg.norm(y[:, None, 2:] - ap_xy[None], axis=2)
    level = np.round(-40 - 30 * np.log10(np.maximum(d, 1)) - 18 * np.abs(y[:, 1:2] - ap_f[None]))
    below = (X <= MISSING_DBM) & (level > MISSING_DBM) & (level <= HEARING)
    return X, y, np.where(below, level, X)


def test_an_estimate_counts_at_the_weakest_listed_level_at_most_below_it():
    X = np.array([[-60.0, MISSING_DBM], [-70.0, MISSING_DBM], [-65.0, -75.0]])
    y = np.array([[0, 0, 0.0, 0.0], [0, 0, 10.0, 0.0], [0, 0, 20.0, 0.0]])
    offset_X = X.copy()
    offset_X[0, 1] = -100.0  # the survey phone did not list AP 1 at row 0: estimated far below the hearing
    query = np.array([-54.0, -66.0])  # 6 dB louder, and hears AP 1 there
    assert WKNNPositioner().fit(X, y).offset_of(query, [0]) == 6.0  # compared where X lists only
    weakest = weakest_listed_dbm(X)
    with_estimate = WKNNPositioner().fit(X, y, offset_X).offset_of(query, [0])
    # the median of 6 and -66 - max(-100, weakest): the estimate says "below the hearing", not 34 dB louder
    assert with_estimate == pytest.approx(np.median([6.0, -66.0 - weakest]), abs=1e-3)
    assert with_estimate < np.median([6.0, -66.0 + 100.0]) - 10


def test_matching_stays_on_what_the_survey_listed():
    X, y, offset_X = campus_with_truth()
    queries = X[500:] + np.where(X[500:] > MISSING_DBM, 4.0, 0.0)
    plain = WKNNPositioner(k=5, offset_rounds=0).fit(X[:500], y[:500])
    estimated = WKNNPositioner(k=5, offset_rounds=0).fit(X[:500], y[:500], offset_X[:500])
    assert np.array_equal(plain.predict(queries), estimated.predict(queries))  # no offset taken: the same answers
    for column in range(X.shape[1]):  # where a phone that joined an AP can be: the listed levels alone
        assert np.array_equal(plain.strong_rows(column), estimated.strong_rows(column))


def test_batch_and_one_query_measure_the_offset_alike():
    X, y, offset_X = campus_with_truth()
    model = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=10.0).fit(X[:500], y[:500], offset_X[:500])
    queries = X[500:] + np.where(X[500:] > MISSING_DBM, 7.0, 0.0)
    batch = model.locate_many(queries)
    assert [e.offset_db for e in batch] == [model.locate(q).offset_db for q in queries]
    plain = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=10.0).fit(X[:500], y[:500])
    assert [e.offset_db for e in batch] != [e.offset_db for e in plain.locate_many(queries)]  # measured otherwise
    assert np.array_equal(model.predict(queries), np.array([[e.building, e.floor, e.x, e.y] for e in batch]))


def test_offset_x_is_checked_and_counted():
    X, y, offset_X = campus_with_truth()
    with pytest.raises(ValueError, match="offset_X must have X's shape"):
        WKNNPositioner().fit(X, y, offset_X[:, :-1])
    bad = offset_X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="offset_X contains NaN"):
        WKNNPositioner().fit(X, y, bad)
    plain, estimated = WKNNPositioner().fit(X, y), WKNNPositioner().fit(X, y, offset_X)
    assert plain.offset_dbm_ is plain.row_dbm_  # without offset_X one set of arrays, counted once
    extra = sum(getattr(estimated, name).nbytes for name in ("offset_ptr_", "offset_aps_", "offset_dbm_"))
    assert estimated.model_bytes() == plain.model_bytes() + extra


def test_tune_measures_the_folds_offsets_against_offset_x(monkeypatch):
    X, y, offset_X = campus_with_truth(n=300)
    seen = []
    real_init = _Fold.__init__

    def spy(self, X_train, y_train, queries, offset_train=None):
        seen.append((X_train, offset_train))
        real_init(self, X_train, y_train, queries, offset_train)
    monkeypatch.setattr(_Fold, "__init__", spy)
    tune(X, y, None, grid={"k": (3,)}, per_fold=60, offset_X=offset_X)
    rows = {tuple(row) for row in X}
    for X_train, offset_train in seen:  # the folds' models: matched on X's rows, offsets against offset_X's
        assert {tuple(row) for row in X_train} <= rows
        assert offset_train is not None and offset_train.shape == X_train.shape
        assert np.array_equal(np.where(X_train > MISSING_DBM, X_train, offset_train), offset_train)
    assert len(seen) == 4 and all(o is not None for _, o in seen)
    seen.clear()
    tune(X, y, None, grid={"k": (3,)}, per_fold=60)
    assert all(offset_train is None for _, offset_train in seen)
    with pytest.raises(ValueError, match="offset_X must have X's shape"):
        tune(X, y, None, grid={"k": (3,)}, offset_X=offset_X[:, :-1])
