"""`blend_representation`: a second model over another representation ranks the first model's candidates, and its
decision is blended into each answer."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import clone

from positioning.tuning import DEFAULT_GRID, tune
from positioning.wknn import Estimate, WKNNPositioner, _smallest, blended

from .numba_probe import numba_loaded
from .test_batch_offsets_tuning import same
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
    plain = WKNNPositioner(**params, blend_representation=None).fit(X, y)
    partner = WKNNPositioner(**{**params, "representation": "powed"}).fit(X, y)
    both = WKNNPositioner(**params, blend_representation="powed").fit(X, y)
    return plain, partner, both


def answers(plain: WKNNPositioner, partner: WKNNPositioner, q: np.ndarray, partial=False, silent=None, within=None,
            search_db=None) -> tuple[Estimate, Estimate]:
    """The two models' answers to one query as the blend defines them, from each model's one-query distances over the
    whole map: the first model's own answer, and the second model's decision over the first's M nearest candidates
    (M = 4 x the most neighbours a decision needs, at least 32; those sharing an AP with the query; for a partial match
    bounded `within`, those among them when enough) of the query as last matched (the first model's offset taken
    off), ranked by the second model's distances (equal ones by row id)."""
    first = plain.locate(q, partial, silent, search_db, within)
    final = plain._shifted(q[None], np.array([first.offset_db]))[0] if first.offset_db else q
    d = plain.distances(plain._represent(final[None])[0], partial, silent)
    rows = np.flatnonzero(d < 1)  # Sorensen: the rows sharing an AP with the query
    if within is not None and np.isin(rows, within).sum() >= plain._needed():
        rows = rows[np.isin(rows, within)]
    rows = rows[_smallest(d[rows], max(32, 4 * plain._needed()), rows)]
    theirs = partner.distances(partner._represent(final[None])[0], partial, silent)[rows]
    order = np.lexsort((rows, theirs))
    other = partner._decide(rows[order], theirs[order], complete=True)
    return first, replace(other, offset_db=first.offset_db)


def reference(plain: WKNNPositioner, partner: WKNNPositioner, q: np.ndarray, **kwargs) -> Estimate:
    return blended(*answers(plain, partner, q, **kwargs))


def test_the_second_model_decides_from_the_first_models_candidates_ranked_by_its_own_distances():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450], offset_rounds=0)
    queries = X[450:]
    found = both.locate_many(queries)
    assert all(same(a, reference(plain, partner, q)) for a, q in zip(found, queries, strict=True))
    assert all(same(a, both.locate(q)) for a, q in zip(found, queries, strict=True))
    table = both.predict(queries)
    assert np.array_equal(table, [(e.building, e.floor, e.x, e.y) for e in found])
    # where both models agree, the answer lies between them (neither model's alone)
    assert any((a.x, a.y) != (e.x, e.y) for a, e in zip(plain.locate_many(queries), found, strict=True))
    # the blend of ranked candidates mostly answers as the blend of the second model's own search of the map would
    searched = map(blended, plain.locate_many(queries), partner.locate_many(queries))
    assert np.mean([same(a, s) for a, s in zip(found, searched, strict=True)]) >= 0.9


def test_with_offset_rounds_the_second_model_ranks_the_last_rounds_candidates_and_keeps_the_offset():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450], offset_rounds=2)
    queries = np.minimum(X[450:] + 4.0 * (X[450:] > -105), 0.0)  # a phone a little louder: the rounds move it
    found = both.locate_many(queries)
    assert all(same(a, both.locate(q)) for a, q in zip(found, queries, strict=True))
    assert all(same(a, reference(plain, partner, q)) for a, q in zip(found, queries, strict=True))
    firsts = plain.locate_many(queries)
    assert [a.offset_db for a in found] == [e.offset_db for e in firsts]  # the live path remembers it per phone
    assert sum(e.offset_db != 0 for e in firsts) > len(queries) / 2


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("unheard_weight", [1.0, 0.4, 0.0])
def test_ranked_distances_are_the_second_models_own_sorted_with_ties_by_row(metric, unheard_weight):
    X, y = campus()
    params = dict(metric=metric, unheard_weight=unheard_weight)
    partner = WKNNPositioner(**params, blend_representation="exponential", representation="powed").fit(X, y).blended_
    alone = WKNNPositioner(**params, representation="exponential").fit(X, y)  # its own search's distances
    R = partner._represent(X[:3])
    rows = np.array([[5, -1, 9, 9, 40, 3], [7, 8, 9, 10, 11, -1], [100, 200, 300, -1, -1, 2]])
    ranked, d = partner._reranked(R, rows)
    for i in range(3):
        valid = rows[i][rows[i] >= 0]
        expected = alone.distances(R[i])[valid]
        order = np.lexsort((valid, expected))
        assert np.array_equal(ranked[i][:valid.size], valid[order])
        assert np.allclose(d[i][:valid.size], expected[order], rtol=1e-12, atol=1e-12)
        assert (ranked[i][valid.size:] == -1).all() and np.isinf(d[i][valid.size:]).all()
    silent = np.array([1, 2, 3])
    q = R[0].copy()
    q[np.flatnonzero(q)[2:]] = 0  # two APs heard so far: a partial match
    ranked, d = partner._reranked(q[None], np.arange(60)[None], partial=True, silent=silent)
    assert np.allclose(d[0], np.sort(alone.distances(q, partial=True, silent=silent)[:60]))
    many = np.arange(X.shape[0])[None]  # longer than the kernel sorts itself: numpy sorts it, the same way
    ranked, d = partner._reranked(R[:1], many)
    order = np.lexsort((many[0], alone.distances(R[0])))
    assert np.array_equal(ranked[0], order) and np.allclose(d[0], alone.distances(R[0])[order])


def test_a_block_is_blended_as_each_of_its_queries_would_be():
    from positioning.wknn import _Batch, blended_batch

    def batch(floor, x, confidence, first_row):
        n = len(floor)
        return _Batch(building=np.zeros(n, dtype=int), floor=np.array(floor), xy=np.column_stack([x, np.zeros(n)]),
                      confidence=np.array(confidence), rows=np.arange(n * 2).reshape(n, 2) + first_row,
                      chosen=np.ones((n, 2), dtype=bool), exact=np.ones(n, dtype=bool), offset=np.array([1.0] * n))

    # agreeing (the other more confident), disagreeing either way, and a tie on another floor
    own = batch([0, 0, 0, 0], [10.0, 10.0, 10.0, 10.0], [0.5, 0.5, 0.9, 0.6], first_row=0)
    other = batch([0, 1, 1, 1], [20.0, 30.0, 30.0, 30.0], [0.8, 0.8, 0.4, 0.6], first_row=100)
    expected = [blended(a, b) for a, b in zip(own.estimates(), other.estimates(), strict=True)]
    assert blended_batch(own, other).estimates() == expected
    assert [(e.floor, e.x) for e in expected] == [(0, 15.0), (1, 30.0), (0, 10.0), (0, 10.0)]


def test_query_time_settings_set_after_fit_reach_the_blended_model():
    X, y = campus()
    _, _, both = models(X[:450], y[:450])
    both.set_params(k=2, offset_rounds=0)
    assert both.blended_.k == 2
    plain, partner, _ = models(X[:450], y[:450], k=2, offset_rounds=0)
    assert same(both.locate(X[460]), reference(plain, partner, X[460]))


def test_a_partial_match_is_blended_over_its_own_bounds_and_the_aps_known_silent():
    X, y = campus()
    plain, partner, both = models(X[:450], y[:450])
    checked = 0
    for i in range(450, 600, 5):
        q = np.minimum(X[i] + 3.0 * (X[i] > -105), 0.0)
        heard = np.flatnonzero(q > -105)
        if heard.size < 6:
            continue
        q[heard[2:]] = -105.0  # two APs heard so far
        silent = heard[3:6]  # APs that reported without hearing it
        within = plain.strong_rows(int(heard[0]))
        for args in (dict(partial=True, silent=silent), dict(partial=True, search_db=5.0, within=within)):
            assert same(both.locate(q, **args), reference(plain, partner, q, **args))
        checked += 1
    assert checked >= 10


def test_the_blend_is_the_default_and_a_parameter_clone_keeps_and_costs_a_little_memory():
    X, y = campus()
    assert WKNNPositioner().get_params()["blend_representation"] == "powed"
    model = WKNNPositioner(blend_representation=None)
    assert clone(model).get_params()["blend_representation"] is None
    assert repr(model) == "WKNNPositioner(blend_representation=None)"
    plain, partner, both = models(X, y)
    # The second model reads the first's representation-independent arrays: held once, counted once; it ranks and
    # never searches, so it holds no index values of its own: its sums and its values row by row
    for name in WKNNPositioner.SHARED_ARRAYS:
        assert getattr(both.blended_, name) is getattr(both, name), name
    assert both.blended_.col_values_ is None
    for use in (lambda m: m.predict(X[:2]), lambda m: m.locate(X[0]), lambda m: m.strong_rows(0)):
        with pytest.raises(ValueError, match="cannot search the map alone"):
            use(both.blended_)
    own = sum(getattr(both.blended_, name).nbytes for name in ("row_sums_", "row_squares_", "row_values_"))
    assert both.model_bytes() == plain.model_bytes() + own < plain.model_bytes() + partner.model_bytes() / 2


def test_a_blend_shares_no_array_that_differs_between_its_two_models():
    """`_share_with` takes an array over only where both models hold the same values: one that differs (here
    made to) stays the second model's own."""
    X, y = campus()
    plain, partner, _ = models(X, y)
    partner.xy_ = partner.xy_ + 1.0
    plain._share_with(partner)
    assert partner.xy_ is not plain.xy_ and np.array_equal(partner.xy_, plain.xy_ + 1.0)
    assert partner.row_dbm_ is plain.row_dbm_


def test_equal_distances_rank_by_row_id():
    X, y = campus()
    X = X.copy()
    X[20] = X[10]  # two fingerprints alike: the same distance to any query
    partner = WKNNPositioner().fit(X, y).blended_
    ranked, d = partner._reranked(partner._represent(X[10:11]), np.array([[20, 33, 10, 7]]))
    assert ranked[0][:2].tolist() == [10, 20] and d[0][0] == d[0][1] == 0.0


def test_a_process_locating_like_the_live_model_never_loads_numba_and_one_blending_or_checking_floors_does():
    # the live model's kind (unblended, no floor classifier) against a blend and a classifier (whose logits are
    # compiled: kernels.likeliest_floors)
    setup = ("from positioning.wknn import WKNNPositioner\n"
             "from tests.positioning_tests.test_wknn import campus\n"
             "X, y = campus(n=200)")
    live_kind = "WKNNPositioner(blend_representation=None, floor_model=None).fit(X, y).locate(X[3])"
    assert numba_loaded(setup, live_kind, "WKNNPositioner(blend_representation='powed', floor_model=None).fit(X, y)"
                        ".locate(X[3])") == [False, True]
    assert numba_loaded(setup, live_kind, "WKNNPositioner(blend_representation=None).fit(X, y).locate(X[3])") == [
        False, True]


@pytest.mark.parametrize("value", ["cosine", 3])
def test_an_unknown_blend_representation_is_refused_at_fit(value):
    X, y = campus()
    with pytest.raises(ValueError, match="blend_representation must be None"):
        WKNNPositioner(blend_representation=value).fit(X, y)


def test_a_blend_with_the_models_own_representation_is_no_blend():
    X, y = campus()
    for representation in ("powed", "exponential"):
        plain = WKNNPositioner(representation=representation, blend_representation=None).fit(X[:450], y[:450])
        itself = WKNNPositioner(representation=representation, blend_representation=representation).fit(
            X[:450], y[:450])
        assert itself.blended_ is None
        assert itself.locate_many(X[450:]) == plain.locate_many(X[450:])
    assert WKNNPositioner(representation="powed").fit(X, y).blended_ is None  # the default blend on a powed model


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
    hidden = np.array([5, 6, 7])
    both.excluded = hidden
    for q in X[5:8]:  # each query's own fingerprint is hidden: neither model may answer with it
        answer = both.locate(q)
        assert not set(answer.neighbours) & set(hidden.tolist())


def test_where_the_models_disagree_on_the_floor_the_more_confident_answers_whole():
    X, y = campus(seed=8)
    noisy = np.where(X > -105, np.clip(X + np.random.default_rng(1).normal(0, 14, X.shape), -104, 0), X)
    params = dict(k=3, k_floor=7, representation="powed", offset_rounds=0, floor_model=None)
    plain = WKNNPositioner(**params, blend_representation=None).fit(X[:300], y[:300])
    partner = WKNNPositioner(**{**params, "representation": "exponential"}).fit(X[:300], y[:300])
    both = WKNNPositioner(**params, blend_representation="exponential").fit(X[:300], y[:300])
    queries = noisy[300:]
    pairs = [answers(plain, partner, q) for q in queries]
    split = [i for i, (a, b) in enumerate(pairs) if (a.building, a.floor) != (b.building, b.floor)]
    assert any(pairs[i][1].confidence > pairs[i][0].confidence for i in split)  # the case under test happens here
    found = both.locate_many(queries)
    for i in split:
        own, other = pairs[i]
        assert same(found[i], other if other.confidence > own.confidence else own)


def test_a_per_query_search_reach_reaches_the_blended_model_and_both_paths_agree():
    X, y = campus()
    plain, _, both = models(X[:450], y[:450], offset_search_db=10.0)
    queries = np.minimum(X[450:480] + 8.0 * (X[450:480] > -105), 0.0)
    reach = np.where(np.arange(30) % 2 == 0, 10.0, 0.0)
    answers = both.locate_many(queries, search_db=reach)
    assert all(same(a, both.locate(q, search_db=r)) for a, q, r in zip(answers, queries, reach, strict=True))
    assert [a.offset_db for a in answers] == [e.offset_db for e in plain.locate_many(queries, search_db=reach)]


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
    alone = tune(X, y, grid={"k": (5,), "blend_representation": ("exponential",)}, folds=3, per_fold=40)
    plain = tune(X, y, grid={"k": (5,), "blend_representation": (None,)}, folds=3, per_fold=40)
    assert alone.rows[0].mean_error_m == plain.rows[0].mean_error_m  # the model's own: no blend


def test_the_default_grid_compares_the_blend_and_leaves_out_powed_with_itself():
    X, y = campus(n=700)
    assert DEFAULT_GRID["blend_representation"] == (None, "powed")
    small = {**DEFAULT_GRID, "k": (5,), "offset_rounds": (1,), "offset_search_db": (0.0,), "unheard_weight": (1.0,),
             "floor_rule": ("vote",)}
    result = tune(X, y, grid=small, folds=3, per_fold=40)
    assert {(r.params["representation"], r.params["blend_representation"]) for r in result.rows} == {
        ("powed", None), ("exponential", None), ("exponential", "powed")}


def test_tune_answers_an_unblended_configuration_from_the_blended_ones_search(monkeypatch):
    X, y = campus(n=500)
    searched = []
    located = WKNNPositioner._locate_block
    monkeypatch.setattr(WKNNPositioner, "_locate_block", lambda self, *a: searched.append(1) or located(self, *a))
    grid = {"k": (5,), "offset_rounds": (0,)}
    both = tune(X, y, grid={**grid, "blend_representation": (None, "powed")}, folds=2, per_fold=100)
    n_both = len(searched)
    searched.clear()
    tune(X, y, grid={**grid, "blend_representation": ("powed",)}, folds=2, per_fold=100)
    assert n_both == len(searched) > 0 and len(both.rows) == 2


def test_tune_scores_every_configuration_as_the_model_itself_answers():
    """`tuning._score` fits each map (the blend's included) once per fold: the same figures as fitting
    WKNNPositioner(**config) for every configuration and predicting."""
    from positioning.metrics import position_report
    from positioning.tuning import _score, grid_configs

    X, y = campus(n=500)
    held = np.minimum(X + 3.0 * (X > -105), 0.0)  # held-out vectors read 3 dB louder: the offset rounds work
    folds = [(np.arange(0, 350), np.arange(350, 500)), (np.arange(150, 500), np.arange(0, 150))]
    configs = grid_configs({"representation": ("exponential", "powed"), "k": (3, 5), "k_floor": (None, 5),
                            "offset_rounds": (0, 2), "blend_representation": (None, "powed", "exponential")})
    configs = [c for c in configs if c["blend_representation"] != c["representation"]]
    configs += [{"k": 5}]  # the default blend, unnamed
    rows = _score(X, y, folds, configs, held, None)
    for config, row in zip(configs, rows, strict=True):
        direct = [position_report(y[test], WKNNPositioner(**config).fit(X[train], y[train]).predict(held[test]))
                  for train, test in folds]
        assert row.params == config
        assert row.mean_error_m == np.mean([r["mean_error_m"] for r in direct])
        assert row.floor_hit_rate == np.mean([r["floor_hit_rate"] for r in direct])


def test_a_query_the_batch_sends_to_the_one_query_path_is_blended_from_that_paths_candidates():
    X, y = campus()
    X = X.copy()
    lone = X.shape[1] - 1
    X[:, lone] = -105.0
    X[:3, lone] = [-50.0, -60.0, -70.0]  # an AP three fingerprints hear: a query hearing it alone has too few
    _, _, both = models(X[:450], y[:450], offset_rounds=0)
    q = np.full(X.shape[1], -105.0)
    q[lone] = -55.0
    queries = np.vstack([X[450:460], q])
    answers = both.locate_many(queries)
    assert all(same(a, both.locate(x)) for a, x in zip(answers, queries, strict=True))
    rows, _, _ = both._batch_candidates(both._represent(q[None]))
    assert (rows == -1).all()  # the batch found too few candidates: this query took the one-query path


def test_the_ranking_kernel_refuses_queries_that_are_not_represented_for_the_map():
    from positioning import kernels

    X, y = campus()
    partner = WKNNPositioner().fit(X, y).blended_
    with pytest.raises(ValueError, match="represented queries"):
        kernels.ranked(partner, X[:2], np.zeros((2, 4), dtype=np.int64))  # dBm float64, not represented float32
    with pytest.raises(ValueError, match="one row of candidates each"):
        kernels.ranked(partner, partner._represent(X[:2]), np.zeros((3, 4), dtype=np.int64))
