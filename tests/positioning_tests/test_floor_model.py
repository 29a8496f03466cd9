"""The floor classifier beside the neighbours' floor (`WKNNPositioner(floor_model="logistic")`, positioning/wknn.py)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fingerprints.training import NOT_TUNED_LIVE, live_defaults
from positioning.kernels import likeliest_floors
from positioning.representation import to_representation
from positioning.tuning import DEFAULT_GRID, QUERY_TIME_PARAMS, tune
from positioning.vectors import MISSING_DBM
from positioning.wknn import FLOOR_CLASSIFIERS, WKNNPositioner

from .test_batch_offsets_tuning import same
from .test_wknn import campus


def noisy_campus():
    """Two buildings of three floors whose slabs take only 6 dB (an atrium), 700 fingerprints, and 200 queries read
    with 5 dB of noise: the neighbours miss some floors."""
    rng = np.random.default_rng(5)
    n, n_aps = 900, 36
    ap_b, ap_f = rng.integers(0, 2, n_aps), rng.integers(0, 3, n_aps)
    ap_xy = rng.uniform(0, 40, (n_aps, 2)) + ap_b[:, None] * [100, 0]
    b, f = rng.integers(0, 2, n), rng.integers(0, 3, n)
    xy = rng.uniform(0, 40, (n, 2)) + b[:, None] * [100, 0]
    d = np.linalg.norm(xy[:, None] - ap_xy[None], axis=2)
    mean = -40 - 30 * np.log10(np.maximum(d, 1)) - 6 * np.abs(f[:, None] - ap_f[None])
    noise = np.where(np.arange(n)[:, None] < 700, 2.0, 5.0)
    rssi = mean + rng.normal(0, 1, d.shape) * noise
    X = np.where(rssi > -90, np.round(rssi), MISSING_DBM)
    y = np.column_stack([b, f, xy])
    return X[:700], y[:700], X[700:], y[700:]


def with_classifier(model: WKNNPositioner, seed: int = 0, scale: float = 6.0) -> WKNNPositioner:
    """The model with a floor classifier of random, confident coefficients in place of its fitted one (so that it
    overrides the neighbours often: the rule is what is tested here, the fit below)."""
    rng = np.random.default_rng(seed)
    classifiers = {}
    for building in model.building_labels_.tolist():
        labels = np.unique(model.floors_[model.buildings_ == building])
        classifiers[building] = (labels, rng.normal(0, scale, (labels.size, model.n_features_in_)),
                                 rng.normal(0, 1, labels.size))
    model._fit_cache._values[FLOOR_CLASSIFIERS] = classifiers
    return model


@pytest.fixture(scope="module")
def fitted():
    X, y, queries, truth = noisy_campus()
    plain = WKNNPositioner(k=3, floor_model=None).fit(X, y)
    checked = with_classifier(WKNNPositioner(k=3, floor_model="logistic").fit(X, y))
    return plain, checked, queries, truth


def two_floors_and_two_odd_fingerprints():
    """Floor 0 hears AP a loud and b soft, floor 1 the other way round (20 fingerprints each), and two fingerprints
    labelled floor 1 read like floor 0 (a survey slip, or a spot by the stairs): a query reading like floor 0 beside
    them has them for its nearest."""
    rng = np.random.default_rng(1)
    floor0 = np.column_stack([-50 + rng.normal(0, 2, 20), -80 + rng.normal(0, 2, 20), -65 + rng.normal(0, 2, 20)])
    floor1 = np.column_stack([-80 + rng.normal(0, 2, 20), -50 + rng.normal(0, 2, 20), -65 + rng.normal(0, 2, 20)])
    odd = np.array([[-55.0, -75.0, -62.0], [-56.0, -74.0, -63.0]])
    X = np.round(np.vstack([floor0, floor1, odd]))
    xs = np.r_[np.arange(20.0), np.arange(20.0), 30.0, 31.0]
    y = np.column_stack([np.zeros(42), np.r_[np.zeros(20), np.ones(22)], xs, np.zeros(42)])
    return X, y, np.array([-55.0, -75.0, -63.0])


def test_a_more_confident_classifier_takes_the_floor_and_x_y_is_decided_on_it():
    X, y, query = two_floors_and_two_odd_fingerprints()
    params = dict(k=3, k_floor=3, floor_rule="vote", offset_rounds=0, blend_representation=None, weight_power=1.0)
    plain = WKNNPositioner(**params, floor_model=None).fit(X, y).locate(query)
    assert plain.floor == 1 and 0.5 < plain.confidence < 1  # the two odd fingerprints outvote one of floor 0
    model = WKNNPositioner(**params, floor_model="logistic").fit(X, y)
    r = to_representation(query[None], "powed", MISSING_DBM)[0].astype(np.float64)
    for logit, overrides in ((8.0, True), (0.05, False)):  # floor 0 likelier than the neighbours' floor 1, or not
        coef = np.zeros((1, 3))
        coef[0, 0] = -logit / r[0]  # a binary classifier's one row: the logit of floor 1 is -logit here
        model._fit_cache._values[FLOOR_CLASSIFIERS] = {0: (np.array([0, 1]), coef, np.zeros(1))}
        p0 = 1 / (1 + np.exp(-logit))
        checked = model.locate(query)
        if overrides:
            assert checked.floor == 0 and checked.confidence == pytest.approx(p0) and p0 > plain.confidence
            assert all(y[r, 1] == 0 for r in checked.neighbours) and 0 <= checked.x < 20
        else:
            assert same(checked, plain)


def test_the_classifier_is_a_logistic_regression_of_the_floor_on_the_powed_map():
    from sklearn.linear_model import LogisticRegression

    X, y, queries, _ = noisy_campus()
    model = WKNNPositioner(k=3, floor_model="logistic").fit(X, y)
    R = to_representation(X, "powed", MISSING_DBM).astype(np.float64)
    Q = to_representation(queries, "powed", MISSING_DBM).astype(np.float64)
    for building, fitted in model._floor_classifier().items():
        rows = y[:, 0] == building
        reference = LogisticRegression(C=10.0, max_iter=1000).fit(R[rows], y[rows, 1])
        probabilities = reference.predict_proba(Q)
        floors, p = likeliest_floors(fitted, queries, MISSING_DBM)  # the dBm queries, powed as the map was
        assert (floors == reference.classes_[np.argmax(probabilities, axis=1)]).all()
        assert p == pytest.approx(probabilities.max(axis=1), rel=1e-6)
        # a query alone, or picked out of the batch, gets the same bits as in it (the kernel sums each query on its
        # own: this guards that it stays so; the comparison with scikit-learn above checks the values)
        for i in range(Q.shape[0]):
            alone = likeliest_floors(fitted, queries[i], MISSING_DBM)
            picked = likeliest_floors(fitted, queries, MISSING_DBM, queries=np.array([i]))
            assert alone[0][0] == picked[0][0] == floors[i] and alone[1][0] == picked[1][0] == p[i]


def test_the_classifier_overrides_only_where_it_is_more_confident(fitted):
    plain, checked, queries, _ = fitted
    classifiers = checked._floor_classifier()
    overridden = 0
    for q in queries:
        before, after = plain.locate(q), checked.locate(q)
        matched = plain._shifted(q[None], np.array([before.offset_db]))[0] if before.offset_db else q
        floors, probabilities = likeliest_floors(classifiers[before.building], matched, MISSING_DBM)
        floor, probability = floors[0], probabilities[0]
        if floor != before.floor and probability > before.confidence:
            overridden += 1
            assert (after.building, after.floor) == (before.building, floor) and after.confidence == probability
            assert all(checked.floors_[r] == floor and checked.buildings_[r] == before.building
                       for r in after.neighbours)
        else:
            assert same(after, before)
    assert overridden >= 10  # a confident random classifier disagrees often: the test can fail


def test_an_unknown_floor_model_is_refused_by_name():
    X, y = campus(n=60)
    with pytest.raises(ValueError, match="floor_model must be one of"):
        WKNNPositioner(floor_model="forest").fit(X, y)


def test_a_batch_answers_as_one_query_at_a_time(fitted):
    _, checked, queries, _ = fitted
    table = checked.predict(queries)
    many = checked.locate_many(queries)
    for i, q in enumerate(queries):
        one = checked.locate(q)
        assert same(many[i], one)
        assert table[i, :2].tolist() == [one.building, one.floor]
        assert np.allclose(table[i, 2:], [one.x, one.y], rtol=1e-9, atol=1e-9)


def test_the_unblended_answers_from_one_search_are_checked_too():
    X, y, queries, _ = noisy_campus()
    blend = with_classifier(WKNNPositioner(k=3, representation="exponential", floor_model="logistic").fit(X, y))
    answers, own = blend.predict_with_own(queries)
    alone = with_classifier(WKNNPositioner(k=3, representation="exponential", floor_model="logistic",
                                           blend_representation=None).fit(X, y))
    assert not np.array_equal(answers[:, 1], WKNNPositioner(k=3, representation="exponential").fit(X, y).predict(
        queries)[:, 1])  # the classifier took some floors
    assert np.array_equal(own[:, :2], alone.predict(queries)[:, :2])
    assert np.allclose(own[:, 2:], alone.predict(queries)[:, 2:], rtol=1e-9, atol=1e-9)
    assert np.array_equal(answers, blend.predict(queries))


def test_a_partial_match_is_never_checked(fitted):
    plain, checked, queries, _ = fitted
    for q in queries[:60]:
        assert same(checked.locate(q, partial=True), plain.locate(q, partial=True))


def test_without_it_no_classifier_is_fitted_and_a_refit_forgets_the_old_one(fitted):
    plain, checked, queries, _ = fitted
    plain.predict(queries[:10])
    assert plain._fit_cache.known(FLOOR_CLASSIFIERS) is None
    X, y = campus(n=300, seed=9)
    model = WKNNPositioner(k=3, floor_model="logistic").fit(X, y)
    first = model._floor_classifier()
    model.fit(X[:200], y[:200])
    assert model._floor_classifier() is not first


def test_a_building_of_one_floor_has_no_classifier():
    X, y = campus(n=400, seed=11)
    y = y.copy()
    y[y[:, 0] == 1, 1] = 0  # building 1: one floor
    model = WKNNPositioner(k=3, floor_model="logistic").fit(X, y)
    assert set(model._floor_classifier()) == {0}


def test_two_floors_give_the_classifier_one_row_and_its_probabilities_still_add_up():
    labels, coef, intercept = np.array([2, 5]), np.array([[0.5, -1.0]]), np.array([0.25])
    # dBm that powes to 1 (0 dBm) and to 0 (unheard) against a missing level of -100: z = 0.75, then -0.75
    floors, p = likeliest_floors((labels, coef, intercept), np.array([[0.0, -100.0], [-100.0, 0.0]]), -100.0)
    assert floors.tolist() == [5, 2]  # the second label, then the first
    assert p == pytest.approx([1 / (1 + np.exp(-0.75)), 1 - 1 / (1 + np.exp(0.75))])


def test_the_classifier_refuses_what_its_compiled_loop_would_read_out_of_bounds():
    labels, coef, intercept = np.array([0, 1, 2]), np.zeros((3, 4)), np.zeros(3)
    with pytest.raises(ValueError, match="queries of 3 APs for a classifier of 4"):
        likeliest_floors((labels, coef, intercept), np.zeros((2, 3)), MISSING_DBM)
    with pytest.raises(ValueError, match="one coefficient row and intercept per label"):
        likeliest_floors((labels, coef, np.zeros(2)), np.zeros((2, 4)), MISSING_DBM)
    with pytest.raises(ValueError, match="one coefficient row and intercept per label"):
        likeliest_floors((np.array([0, 1]), coef, intercept), np.zeros((2, 4)), MISSING_DBM)
    for bad in ([2], [-1]):
        with pytest.raises(ValueError, match="query indices must lie in 0..1"):
            likeliest_floors((labels, coef, intercept), np.zeros((2, 4)), MISSING_DBM, queries=np.array(bad))


def test_tune_compares_it_from_one_fit_per_fold(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    assert DEFAULT_GRID["floor_model"] == (None, "logistic") and "floor_model" in QUERY_TIME_PARAMS
    fits = []
    original = LogisticRegression.fit
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, *a, **k: fits.append(1) or original(self, *a, **k))
    X, y, _, _ = noisy_campus()
    result = tune(X, y, grid={"k": (3, 5), "floor_model": (None, "logistic"), "blend_representation": (None,)},
                  folds=3, per_fold=100)
    assert sorted(str(row.params["floor_model"]) for row in result.rows) == ["None", "None", "logistic", "logistic"]
    assert len(fits) == 3 * 2  # one classifier per fold and building, for both values of k


def test_the_live_model_keeps_the_neighbours_floor():
    from types import SimpleNamespace

    from fingerprints.training import live_params

    assert live_defaults()["floor_model"] is None and "floor_model" in NOT_TUNED_LIVE
    stored = SimpleNamespace(positioner={"floor_model": "logistic", "k": 5})  # stored by a version that allowed it
    assert live_params(stored)["floor_model"] is None and live_params(stored)["k"] == 5


def test_evaluate_names_the_floor_classifier_in_the_model_line():
    from positioning.cli import model_label

    assert "floor classifier (logistic)" in model_label(WKNNPositioner().get_params())  # the defaults' since 2026-12-06
    assert "floor classifier" not in model_label(WKNNPositioner(floor_model=None).get_params())


def test_a_venue_cannot_store_it_for_the_live_model():
    from fingerprints.training import checked_live_config

    assert checked_live_config({"floor_model": None}) == {"floor_model": None}
    for value in ("logistic", "forest"):
        with pytest.raises(ValueError, match="floor_model"):
            checked_live_config({"floor_model": value})


def test_a_value_set_after_fit_is_checked_as_fit_checks_it():
    X, y, queries, _ = noisy_campus()
    model = WKNNPositioner(k=3).fit(X, y).set_params(floor_model="forest")
    with pytest.raises(ValueError, match="floor_model must be one of"):
        model.predict(queries[:5])
    with pytest.raises(ValueError, match="floor_model must be one of"):
        model.locate(queries[0])


def test_scikit_learn_is_loaded_only_where_a_classifier_is_asked_for():
    code = ("import sys; import numpy as np\n"
            "from positioning.wknn import WKNNPositioner\n"
            "rng = np.random.default_rng(0); n = 300\n"
            "X = np.round(rng.uniform(-95, -40, (n, 12))); y = np.column_stack([np.zeros(n), rng.integers(0, 3, n), "
            "rng.uniform(0, 40, (n, 2))]); q = X[:20] + 2\n"
            "m = WKNNPositioner(k=3, floor_model=None).fit(X, y); m.predict(q); m.locate(q[0])\n"
            "print('sklearn' in sys.modules)\n"
            "WKNNPositioner(k=3).fit(X, y).locate(q[0]); print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split() == ["False", "True"]


def test_model_bytes_counts_the_fitted_classifier():
    X, y, queries, _ = noisy_campus()
    model = WKNNPositioner(k=3, floor_model="logistic").fit(X, y)
    before = model.model_bytes()
    model.predict(queries[:5])
    assert model.model_bytes() > before
