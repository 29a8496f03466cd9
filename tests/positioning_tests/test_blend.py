"""`blend_representation`: a second model over another representation, its estimate blended into each answer."""

import numpy as np
import pytest
from sklearn.base import clone

from positioning.tuning import DEFAULT_GRID, tune
from positioning.wknn import Estimate, WKNNPositioner, blended

from .test_wknn import campus


def estimate(building=0, floor=0, x=0.0, y=0.0, confidence=0.5, neighbours=(1,), offset_db=0.0):
    return Estimate(building=building, floor=floor, x=x, y=y, confidence=confidence, neighbours=neighbours,
                    offset_db=offset_db)


def test_agreeing_estimates_average_their_position_and_keep_the_more_confident_ones_neighbours():
    own = estimate(x=10.0, y=20.0, confidence=0.6, neighbours=(1, 2), offset_db=3.0)
    other = estimate(x=14.0, y=10.0, confidence=0.9, neighbours=(5,), offset_db=-1.0)
    out = blended(own, other)
    assert (out.x, out.y) == (12.0, 15.0)
    assert (out.confidence, out.neighbours, out.offset_db) == (0.9, (5,), -1.0)


def test_disagreeing_floors_take_the_more_confident_estimate_whole_and_a_tie_keeps_its_own():
    own = estimate(floor=0, x=10.0, confidence=0.7)
    other = estimate(floor=1, x=50.0, confidence=0.8)
    assert blended(own, other) == other
    assert blended(own, estimate(floor=1, x=50.0, confidence=0.7)) == own
    assert blended(own, estimate(building=1, floor=0, x=50.0, confidence=0.6)) == own


def models(X, y, **params):
    plain = WKNNPositioner(**params).fit(X, y)
    partner = WKNNPositioner(**{**params, "representation": "powed"}).fit(X, y)
    both = WKNNPositioner(**params, blend_representation="powed").fit(X, y)
    return plain, partner, both


def test_every_query_path_answers_the_blend_of_the_two_models():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450], offset_rounds=2)
    queries = X[450:] + 4.0 * (X[450:] > -105)  # a phone a little louder than the survey's: the rounds move it
    queries = np.minimum(queries, 0.0)
    expected = [blended(a, b) for a, b in zip(plain.locate_many(queries), partner.locate_many(queries), strict=True)]
    assert both.locate_many(queries) == expected
    assert [both.locate(q) for q in queries] == [blended(plain.locate(q), partner.locate(q)) for q in queries]
    table = both.predict(queries)
    assert table.shape == (len(queries), 4)
    assert np.array_equal(table, [(e.building, e.floor, e.x, e.y) for e in expected])
    moved = [e for e in expected if e.offset_db]
    assert moved  # the blend keeps the chosen model's offset: the live path remembers it per phone
    # where both models agree, the answer lies between them (neither model's alone)
    assert any((a.x, a.y) != (e.x, e.y) for a, e in zip(plain.locate_many(queries), expected, strict=True))


def test_query_time_settings_set_after_fit_reach_the_blended_model():
    X, y = campus()
    _, _, both = models(X[:450], y[:450])
    both.set_params(k=2, offset_rounds=0)
    partner = WKNNPositioner(representation="powed", k=2, offset_rounds=0).fit(X[:450], y[:450])
    plain = WKNNPositioner(k=2, offset_rounds=0).fit(X[:450], y[:450])
    q = X[460]
    assert both.locate(q) == blended(plain.locate(q), partner.locate(q))


def test_a_partial_match_near_an_ap_is_blended_with_the_same_bounds():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450])
    q = X[470].copy()
    heard = np.flatnonzero(q > -105)
    q[heard[2:]] = -105.0  # two APs heard so far
    within = plain.strong_rows(int(heard[0]))
    args = dict(partial=True, search_db=5.0, within=within)
    assert both.locate(q, **args) == blended(plain.locate(q, **args), partner.locate(q, **args))


def test_blend_is_a_parameter_clone_keeps_and_that_costs_the_second_models_memory():
    X, y = campus()
    model = WKNNPositioner(blend_representation="powed")
    assert clone(model).get_params()["blend_representation"] == "powed"
    assert repr(model) == "WKNNPositioner(blend_representation='powed')"
    plain, partner, both = models(X, y)
    assert WKNNPositioner().get_params()["blend_representation"] is None  # off by default: it doubles a query's work
    # The second model reads the first's representation-independent arrays: held once, counted once
    for name in WKNNPositioner.SHARED_ARRAYS:
        assert getattr(both.blended_, name) is getattr(both, name), name
    own = partner.col_values_.nbytes + partner.row_sums_.nbytes + partner.row_squares_.nbytes
    assert both.model_bytes() == plain.model_bytes() + own < plain.model_bytes() + partner.model_bytes()


def test_a_blend_shares_no_array_that_differs_between_its_two_models():
    """`_share_with` takes an array over only where both models hold the same values: one that differs (here
    made to) stays the second model's own."""
    X, y = campus()
    plain, partner, _ = models(X, y)
    partner.xy_ = partner.xy_ + 1.0
    plain._share_with(partner)
    assert partner.xy_ is not plain.xy_ and np.array_equal(partner.xy_, plain.xy_ + 1.0)
    assert partner.row_dbm_ is plain.row_dbm_


@pytest.mark.parametrize("value", ["exponential", "cosine", 3])
def test_a_blend_with_the_same_or_an_unknown_representation_is_refused_at_fit(value):
    X, y = campus()
    with pytest.raises(ValueError, match="blend_representation must be None"):
        WKNNPositioner(blend_representation=value).fit(X, y)


def test_tune_can_choose_the_blend():
    X, y = campus(n=700)
    result = tune(X, y, grid={"k": (5,), "blend_representation": (None, "powed")}, folds=3, per_fold=60)
    scored = {row.params["blend_representation"] for row in result.rows}
    assert scored == {None, "powed"}
    assert result.config["blend_representation"] in scored


def test_the_quality_reports_leave_out_model_hides_the_same_rows_in_the_blended_model():
    from fingerprints.quality import LeaveOutPositioner

    X, y = campus()
    both = LeaveOutPositioner(blend_representation="powed").fit(X, y)
    plain = LeaveOutPositioner().fit(X, y)
    partner = LeaveOutPositioner(representation="powed").fit(X, y)
    hidden = np.array([5, 6, 7])
    for model in (both, plain, partner):
        model.excluded = hidden
    for q in X[5:8]:  # each query's own fingerprint is hidden: neither model may answer with it
        answer = both.locate(q)
        assert answer == blended(plain.locate(q), partner.locate(q))
        assert not set(answer.neighbours) & set(hidden.tolist())


def test_where_the_models_disagree_on_the_floor_the_more_confident_answers_whole():
    X, y = campus(seed=8)
    noisy = np.where(X > -105, np.clip(X + np.random.default_rng(1).normal(0, 14, X.shape), -104, 0), X)
    params = dict(k=3, k_floor=7, representation="powed")
    plain = WKNNPositioner(**params).fit(X[:300], y[:300])
    partner = WKNNPositioner(**{**params, "representation": "exponential"}).fit(X[:300], y[:300])
    both = WKNNPositioner(**params, blend_representation="exponential").fit(X[:300], y[:300])
    queries = noisy[300:]
    own, other = plain.locate_many(queries), partner.locate_many(queries)
    split = [i for i, (a, b) in enumerate(zip(own, other, strict=True))
             if (a.building, a.floor) != (b.building, b.floor)]
    assert any(other[i].confidence > own[i].confidence for i in split)  # the case under test happens here
    answers = both.locate_many(queries)
    for i in split:
        assert answers[i] == (other[i] if other[i].confidence > own[i].confidence else own[i])


def test_a_per_query_search_reach_and_the_aps_known_silent_reach_the_blended_model():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450], offset_search_db=10.0)
    queries = np.minimum(X[450:480] + 8.0 * (X[450:480] > -105), 0.0)
    reach = np.where(np.arange(30) % 2 == 0, 10.0, 0.0)
    assert both.locate_many(queries, search_db=reach) == [
        blended(a, b) for a, b in zip(plain.locate_many(queries, search_db=reach),
                                      partner.locate_many(queries, search_db=reach), strict=True)]
    q = X[470].copy()
    heard = np.flatnonzero(q > -105)
    q[heard[3:]] = -105.0
    silent = heard[3:5]  # APs that reported without hearing it
    assert both.locate(q, partial=True, silent=silent) == blended(plain.locate(q, partial=True, silent=silent),
                                                                  partner.locate(q, partial=True, silent=silent))


def test_the_blend_is_decided_at_fit():
    X, y = campus()
    plain, _, both = models(X[:450], y[:450])
    both.set_params(blend_representation=None)  # off at once
    assert both.locate(X[460]) == plain.locate(X[460])
    plain.set_params(blend_representation="powed")  # on at the next fit
    assert plain.locate(X[460]) == both.locate(X[460])
    assert plain.fit(X[:450], y[:450]).locate(X[460]) != both.locate(X[460])


def test_a_grid_varying_both_representations_and_the_blend_leaves_out_the_blends_with_themselves():
    X, y = campus(n=700)
    grid = {"k": (5,), "representation": ("powed", "exponential"), "blend_representation": (None, "powed",
                                                                                           "exponential")}
    result = tune(X, y, grid=grid, folds=3, per_fold=40)
    pairs = {(row.params["representation"], row.params["blend_representation"]) for row in result.rows}
    assert pairs == {("powed", None), ("exponential", None), ("powed", "exponential"), ("exponential", "powed")}
    with pytest.raises(ValueError, match="blend_representation must be None"):  # a grid of nothing else: named
        tune(X, y, grid={"k": (5,), "blend_representation": ("exponential",)}, folds=3, per_fold=40)


def test_the_default_grid_compares_the_blend_and_leaves_out_powed_with_itself():
    X, y = campus(n=700)
    assert DEFAULT_GRID["blend_representation"] == (None, "powed")
    small = {**DEFAULT_GRID, "k": (5,), "offset_rounds": (1,), "offset_search_db": (0.0,), "unheard_weight": (1.0,),
             "floor_rule": ("vote",)}
    result = tune(X, y, grid=small, folds=3, per_fold=40)
    assert {(r.params["representation"], r.params["blend_representation"]) for r in result.rows} == {
        ("powed", None), ("exponential", None), ("exponential", "powed")}


def test_tune_scores_a_blend_from_its_two_maps_as_the_blended_model_itself_answers():
    """`tuning._score` fits each map once per fold and makes a blend of the two maps' estimates: the same figures as
    fitting WKNNPositioner(**config) for every configuration and predicting."""
    from positioning.metrics import position_report
    from positioning.tuning import _score, grid_configs

    X, y = campus(n=500)
    held = np.minimum(X + 3.0 * (X > -105), 0.0)  # held-out vectors read 3 dB louder: the offset rounds work
    folds = [(np.arange(0, 350), np.arange(350, 500)), (np.arange(150, 500), np.arange(0, 150))]
    configs = grid_configs({"representation": ("exponential", "powed"), "k": (3, 5), "k_floor": (None, 5),
                            "offset_rounds": (0, 2), "blend_representation": (None, "powed", "exponential")})
    configs = [c for c in configs if c["blend_representation"] != c["representation"]]
    rows = _score(X, y, folds, configs, held, None)
    for config, row in zip(configs, rows, strict=True):
        direct = [position_report(y[test], WKNNPositioner(**config).fit(X[train], y[train]).predict(held[test]))
                  for train, test in folds]
        assert row.params == config
        assert row.mean_error_m == np.mean([r["mean_error_m"] for r in direct])
        assert row.floor_hit_rate == np.mean([r["floor_hit_rate"] for r in direct])
