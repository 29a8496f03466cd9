"""WKNNPositioner: the estimator contract, hierarchical decisions, exactness of the fast path, bad input."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from positioning.representation import to_representation
from positioning.vectors import MISSING_DBM
from positioning.wknn import WKNNPositioner


def campus(n=600, n_aps=40, seed=3):
    """Two buildings x two floors; each AP heard near it only (like a real venue)."""
    rng = np.random.default_rng(seed)
    ap_b, ap_f = rng.integers(0, 2, n_aps), rng.integers(0, 2, n_aps)
    ap_xy = rng.uniform(0, 50, (n_aps, 2)) + ap_b[:, None] * [100, 0]
    b, f = rng.integers(0, 2, n), rng.integers(0, 2, n)
    xy = rng.uniform(0, 50, (n, 2)) + b[:, None] * [100, 0]
    d = np.linalg.norm(xy[:, None] - ap_xy[None], axis=2)
    rssi = -40 - 30 * np.log10(np.maximum(d, 1)) - 18 * np.abs(f[:, None] - ap_f[None]) + rng.normal(0, 2, d.shape)
    X = np.where(rssi > -92, np.round(rssi), MISSING_DBM)
    return X, np.column_stack([b, f, xy])


def test_estimator_api_params_and_clone():
    model = WKNNPositioner(k=5, metric="manhattan")
    assert model.get_params()["k"] == 5
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "col_ptr_")
    model.set_params(k=3)
    assert model.k == 3
    with pytest.raises(ValueError, match="invalid parameter 'kk'"):
        model.set_params(kk=3)
    assert repr(model) == "WKNNPositioner(k=3, metric='manhattan')"


def test_live_processes_load_a_positioner_without_scikit_learn():
    """Every gunicorn worker, tracker and CLI imports this: sklearn.base (via scipy.stats) cost each 1.2 s, and
    matplotlib with scipy.interpolate (the quality report's charts, drawn on demand) another second."""
    code = ("import sys, portal.bootstrap; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sklearn', 'matplotlib') or m.startswith('scipy.interpolate')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_fit_returns_self_and_learned_state_ends_in_underscore():
    X, y = campus()
    model = WKNNPositioner()
    assert model.fit(X, y) is model
    assert model.n_features_in_ == X.shape[1]
    assert model.model_bytes() > 0


def test_recovers_training_points_and_predicts_shape():
    X, y = campus()
    model = WKNNPositioner(k=1).fit(X, y)
    pred = model.predict(X[:50])
    assert pred.shape == (50, 4)
    assert (pred[:, 0] == y[:50, 0]).all() and (pred[:, 1] == y[:50, 1]).all()
    assert np.allclose(pred[:, 2:], y[:50, 2:])


def test_held_out_accuracy_is_sane():
    X, y = campus(n=900)
    model = WKNNPositioner().fit(X[:700], y[:700])
    pred = model.predict(X[700:])
    assert (pred[:, 0] == y[700:, 0]).mean() == 1.0
    assert (pred[:, 1] == y[700:, 1]).mean() > 0.9
    assert np.linalg.norm(pred[:, 2:] - y[700:, 2:], axis=1).mean() < 8.0


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("representation", ["positive", "exponential", "powed"])
def test_neighbours_match_brute_force(metric, representation):
    """The inverted-index fast path and the batch path return exactly the brute-force nearest neighbours
    (offset removal off: it moves the query itself)."""
    X, y = campus()
    y = y.copy()
    y[:, 0] = 0
    y[:, 1] = 0  # one building and floor: the neighbours are then the plain k nearest
    model = WKNNPositioner(k=5, metric=metric, representation=representation, offset_rounds=0).fit(X[:500], y[:500])
    R = to_representation(X, representation, MISSING_DBM, model.alpha, model.beta)
    sk_metric = {"sorensen": "braycurtis", "manhattan": "manhattan", "euclidean": "euclidean"}[metric]
    brute = NearestNeighbors(n_neighbors=5, algorithm="brute", metric=sk_metric).fit(R[:500])
    dist, idx = brute.kneighbors(R[500:540])
    batch = model.locate_many(X[500:540])
    for q, row_d, in_batch in zip(X[500:540], dist, batch, strict=True):
        ours = model.locate(q)
        assert in_batch.neighbours == ours.neighbours
        ours_d = np.sort(model.distances(to_representation(q[None], representation, MISSING_DBM,
                                                           model.alpha, model.beta)[0])[list(ours.neighbours)])
        assert np.allclose(ours_d, np.sort(row_d), atol=1e-5)


def test_floor_is_decided_before_position():
    """x/y averages only fingerprints of the chosen floor, never across floors."""
    X, y = campus()
    model = WKNNPositioner(k=7).fit(X, y)
    for q in X[:30]:
        e = model.locate(q)
        assert set(y[list(e.neighbours), 1]) == {e.floor}
        assert set(y[list(e.neighbours), 0]) == {e.building}
        assert 0 < e.confidence <= 1


def test_uniform_weighting_is_the_plain_mean():
    X, y = campus()
    model = WKNNPositioner(k=4, weighting="uniform", blend_representation=None).fit(X, y)  # one model's mean
    e = model.locate(X[0])
    assert np.allclose([e.x, e.y], y[list(e.neighbours), 2:].mean(axis=0))


@pytest.mark.parametrize("params, message", [
    ({"metric": "cosine"}, "unknown metric"),
    ({"weighting": "gauss"}, "unknown weighting"),
    ({"k": 0}, "positive integer"),
    ({"k": 2.5}, "positive integer"),
])
def test_bad_parameters_fail_at_fit(params, message):
    X, y = campus()
    with pytest.raises(ValueError, match=message):
        WKNNPositioner(**params).fit(X, y)


def test_bad_training_data():
    X, y = campus()
    with pytest.raises(ValueError, match="2-D"):
        WKNNPositioner().fit(X[0], y)
    with pytest.raises(ValueError, match="shape"):
        WKNNPositioner().fit(X, y[:, :2])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        WKNNPositioner().fit(bad, y)


def test_bad_queries():
    X, y = campus()
    model = WKNNPositioner().fit(X, y)
    with pytest.raises(ValueError, match="hears no known access point"):
        model.locate(np.full(X.shape[1], MISSING_DBM))
    with pytest.raises(ValueError, match="access points"):
        model.locate(X[0, :10])
    with pytest.raises(NotFittedError, match="not fitted"):  # scikit-learn's: its tools catch that one
        WKNNPositioner().predict(X[:1])


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
def test_partial_match_uses_only_the_queries_aps(metric):
    """partial=True: the distances are brute force over the query's heard APs alone, so a query missing
    its strongest APs (not reported yet) is matched as if the map had only the APs it has."""
    X, y = campus()
    y = y.copy()
    y[:, 0] = 0
    y[:, 1] = 0
    model = WKNNPositioner(k=5, metric=metric, representation="powed", offset_rounds=0).fit(X[:500], y[:500])
    sk_metric = {"sorensen": "braycurtis", "manhattan": "manhattan", "euclidean": "euclidean"}[metric]
    R = to_representation(X, "powed", MISSING_DBM, model.alpha, model.beta)
    for q in X[500:520]:
        keep = np.flatnonzero(q > MISSING_DBM)[::2]  # half of what it hears has "not reported yet"
        if keep.size == 0:
            continue
        partial = np.full_like(q, MISSING_DBM)
        partial[keep] = q[keep]
        rq = to_representation(partial[None], "powed", MISSING_DBM, model.alpha, model.beta)[0]
        brute = NearestNeighbors(n_neighbors=5, algorithm="brute", metric=sk_metric).fit(R[:500][:, keep])
        dist, _ = brute.kneighbors(rq[keep][None])
        ours = model.locate(partial, partial=True)
        ours_d = np.sort(model.distances(rq, partial=True)[list(ours.neighbours)])
        assert np.allclose(ours_d, np.sort(dist[0]), atol=1e-5)


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
def test_a_partial_match_counts_the_aps_known_not_to_hear_the_query(metric):
    """`silent` (APs that reported since the phone was first heard, without it): a partial match compares
    the query's heard APs and those, as brute force over exactly those columns does."""
    X, y = campus()
    y = y.copy()
    y[:, :2] = 0
    model = WKNNPositioner(k=5, metric=metric, representation="powed", offset_rounds=0).fit(X[:500], y[:500])
    sk_metric = {"sorensen": "braycurtis", "manhattan": "manhattan", "euclidean": "euclidean"}[metric]
    R = to_representation(X, "powed", MISSING_DBM, model.alpha, model.beta)
    moved = 0
    for q in X[500:520]:
        heard, unheard = np.flatnonzero(q > MISSING_DBM), np.flatnonzero(q <= MISSING_DBM)
        keep, silent = heard[::2], unheard[::3]
        if keep.size == 0:
            continue
        partial = np.full_like(q, MISSING_DBM)
        partial[keep] = q[keep]
        rq = to_representation(partial[None], "powed", MISSING_DBM, model.alpha, model.beta)[0]
        compared = np.union1d(keep, silent)
        brute = NearestNeighbors(n_neighbors=5, algorithm="brute", metric=sk_metric).fit(R[:500][:, compared])
        dist, _ = brute.kneighbors(rq[compared][None])
        ours = model.locate(partial, partial=True, silent=silent.tolist())
        assert np.allclose(np.sort(model.distances(rq, partial=True, silent=silent)[list(ours.neighbours)]),
                           np.sort(dist[0]), atol=1e-5)
        moved += ours.neighbours != model.locate(partial, partial=True).neighbours
    assert moved  # the silent APs change some matches (else the test would not show they count)


def test_silent_columns_must_be_the_models_and_count_only_in_a_partial_match():
    X, y = campus()
    model = WKNNPositioner(k=5).fit(X, y)
    with pytest.raises(ValueError, match="AP columns"):
        model.locate(X[0], partial=True, silent=[X.shape[1]])
    with pytest.raises(ValueError, match="AP columns"):
        model.locate(X[0], partial=True, silent=[-1])
    assert model.locate(X[0], silent=[0, 1]) == model.locate(X[0])  # a full match compares every AP already
