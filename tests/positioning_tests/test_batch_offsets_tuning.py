"""The batch path (the compiled search per block), per-query offset removal, test perturbations and tuning."""

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from positioning.cli import main
from positioning.perturb import shift_rssi, switch_off_aps
from positioning.tuning import cv_groups, tune, venue_config
from positioning.vectors import MISSING_DBM
from positioning.wknn import WHOLE_COLUMN_SHARE, WKNNPositioner, spatial_cluster, whole_columns

from .test_vectors_datasets_cli import write_uji
from .test_wknn import campus


def same(a, b) -> bool:
    """Equal decisions and neighbours; x/y/confidence equal up to the order of float sums."""
    return (a.building, a.floor, a.neighbours) == (b.building, b.floor, b.neighbours) and np.allclose(
        [a.x, a.y, a.confidence, a.offset_db], [b.x, b.y, b.confidence, b.offset_db], rtol=1e-9, atol=1e-9)


@st.composite
def sparse_maps(draw):
    """dBm maps and queries: ~60% unheard, readings drawn from a few levels (many equal distances) or
    from the whole range."""
    n, m, aps = draw(st.integers(1, 40)), draw(st.integers(1, 8)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    low = -60 if draw(st.booleans()) else -100

    def matrix(rows):
        dbm = rng.integers(low, -30, (rows, aps)).astype(np.float64)
        return np.where(rng.random((rows, aps)) < 0.6, MISSING_DBM, dbm)
    X, Q = matrix(n), matrix(m)
    Q[~(Q > MISSING_DBM).any(axis=1), 0] = -50.0  # every query hears an AP
    return X, Q


def brute_nearest(model, X, R, width):
    """The kernel's answer by brute force: every fingerprint's distance, sorted by (distance, row). The
    sums are taken in the kernel's order (AP by AP, float32 terms into float64), so that equal distances
    are equal here too and the order among them is tested; `by_definition` checks the values themselves."""
    M = model._represent(X)
    euclidean = model.metric == "euclidean"
    q_totals = (R.astype(np.float64) ** 2).sum(axis=1) if euclidean else R.sum(axis=1, dtype=np.float64)
    out = []
    for i, q in enumerate(R):
        terms = (M * q) if euclidean else np.minimum(M, q)  # float32, as the kernel computes them
        cross = np.cumsum(terms.astype(np.float64), axis=1)[:, -1]  # cumsum: one AP after the other
        heard_values = np.where(q > 0, M, 0).astype(np.float64)
        heard = np.cumsum(heard_values**2 if euclidean else heard_values, axis=1)[:, -1]
        full = model.row_squares_ if euclidean else model.row_sums_
        w = model.unheard_weight
        compared = full if w == 1.0 else heard if w == 0.0 else w * full + (1.0 - w) * heard
        total = compared + q_totals[i]
        d = np.maximum(total - 2 * cross, 0)
        candidates = np.arange(M.shape[0])
        if model.metric == "sorensen":
            candidates = np.flatnonzero(cross > 0)
            d = d / total
            if candidates.size < model._needed():
                out.append(([], [], False))
                continue
        elif euclidean:
            d = np.sqrt(d)
        order = candidates[np.lexsort((candidates, d[candidates]))][:width]
        out.append((order.tolist(), d[order].tolist(), candidates.size <= width))
    return out


def by_definition(model, X, q, rows):
    """The distances from their definitions, in float64 (the L1 forms without the min-sum identity)."""
    M = model._represent(X)[rows].astype(np.float64)
    q = q.astype(np.float64)
    w = np.where(q > 0, 1.0, model.unheard_weight)
    if model.metric == "euclidean":  # squared: the expanded form's rounding is sqrt(eps) at 0
        return (w * (M - q) ** 2).sum(axis=1)
    l1 = (w * np.abs(M - q)).sum(axis=1)
    return l1 / (w * (M + q)).sum(axis=1) if model.metric == "sorensen" else l1


def with_whole_columns(model: WKNNPositioner, share: float) -> WKNNPositioner:
    """The model with the columns heard by at least `share` of its rows kept whole for the search (0: every
    column, above 1: none), instead of WHOLE_COLUMN_SHARE's."""
    model.whole_slot_, model.whole_columns_ = whole_columns(
        model.col_ptr_, model.col_rows_, model.col_values_, model.row_sums_.size, share)
    return model


@settings(max_examples=120, deadline=None)
@given(sparse_maps(), st.sampled_from(["sorensen", "manhattan", "euclidean"]), st.sampled_from([1.0, 0.0, 0.4]),
       st.integers(1, 6), st.integers(1, 12), st.sampled_from([0.0, 0.5, 2.0]))
@example(maps=(np.array([[-50.0, -105.0], [-60.0, -70.0], [-105.0, -40.0]]), np.array([[-50.0, -60.0]])),
         metric="sorensen", weight=1.0, k=1, width=3, whole=2.0)  # as many candidates as the width: complete
@example(maps=(np.array([[-50.0, -105.0], [-60.0, -70.0], [-105.0, -40.0]]), np.array([[-50.0, -60.0]])),
         metric="manhattan", weight=1.0, k=1, width=2, whole=0.0)  # one more than the width: not complete
def test_compiled_search_equals_brute_force(maps, metric, weight, k, width, whole):
    """positioning.kernels.search: the `width` nearest rows by (distance, row id), their distances, and
    `complete`, as brute force over every fingerprint gives them (integer dBm: many equal distances), whether
    the APs' columns are scattered (`whole` 2.0), all added whole (0.0) or some of each (0.5)."""
    from positioning import kernels

    X, Q = maps
    y = np.zeros((X.shape[0], 4))
    heard_rows = (X > MISSING_DBM).any(axis=1)
    if not heard_rows.any():
        return
    model = WKNNPositioner(k=k, metric=metric, unheard_weight=weight).fit(X[heard_rows], y[heard_rows])
    with_whole_columns(model, whole)
    R = model._represent(Q)
    rows, d, complete = kernels.search(model, R, width=width, needed=model._needed())
    for i, (want_rows, want_d, want_complete) in enumerate(brute_nearest(model, X[heard_rows], R, width)):
        got = rows[i][rows[i] >= 0]
        assert got.tolist() == want_rows
        assert d[i][:got.size].tolist() == want_d and np.isinf(d[i][got.size:]).all()
        assert complete[i] == want_complete
        values = d[i][:got.size] ** (2 if metric == "euclidean" else 1)
        assert np.allclose(values, by_definition(model, X[heard_rows], R[i], got), rtol=1e-5, atol=1e-6)


@settings(max_examples=80, deadline=None)
@given(sparse_maps(), st.sampled_from(["sorensen", "manhattan", "euclidean"]), st.sampled_from([1.0, 0.0, 0.4]),
       st.integers(1, 6), st.sampled_from([0.0, 0.5, 2.0]), st.floats(0.5, 12.0))
def test_shifted_blocks_searched_together_answer_as_each_alone(maps, metric, weight, width, whole, reach):
    """kernels.search_variants: the offset search's three blocks (as read, softer, louder: a shifted heard AP stays
    heard) in one pass of the map, each block's rows, distances and `complete` those `search` gives it alone; blocks
    that hear differently are searched apart, with the same answers."""
    from positioning import kernels

    X, Q = maps
    y = np.zeros((X.shape[0], 4))
    heard_rows = (X > MISSING_DBM).any(axis=1)
    if not heard_rows.any():
        return
    model = with_whole_columns(WKNNPositioner(k=1, metric=metric, unheard_weight=weight).fit(
        X[heard_rows], y[heard_rows]), whole)
    blocks = [model._represent(model._shifted(Q, np.full(Q.shape[0], shift))) for shift in (0.0, -reach, reach)]
    other = model._represent(np.where(Q > MISSING_DBM, MISSING_DBM, -50.0))  # hears what the queries do not
    made, passes = kernels.nearest_rows_for, []

    def recorded(n_variants: int):  # which kernels ran: one pass of three, or passes of one
        passes.append(n_variants)
        return made(n_variants)

    for variants in (blocks, [blocks[0], other] if other.any(axis=1).all() else blocks[:1]):
        passes.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernels, "nearest_rows_for", recorded)
            together = kernels.search_variants(model, variants, width=width, needed=model._needed())
        assert passes == ([3] if variants is blocks else [1] * len(variants)), passes
        for R, answer in zip(variants, together, strict=True):
            alone = kernels.search(model, R, width=width, needed=model._needed())
            assert all(np.array_equal(a, b) for a, b in zip(answer, alone, strict=True))


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("whole", [0.0, 2.0])
@pytest.mark.parametrize("n_spots", [200, 320, 700])
def test_compiled_search_of_a_survey_in_walking_order_equals_brute_force(metric, whole, n_spots):
    """Hundreds of candidates per query, arriving nearer and nearer as a survey walks (rows in spatial order),
    each spot scanned twice alike (equal distances): the same rows, distances and order as brute force, with
    every candidate offered (under 16 x width of them) or through the bound from a sample (`kernels._nearest`)."""
    from positioning import kernels

    X, y = campus(n=n_spots, seed=5)
    walked = np.lexsort((y[:, 3], y[:, 2], y[:, 1], y[:, 0]))
    X, y = np.repeat(X[walked], 2, axis=0), np.repeat(y[walked], 2, axis=0)
    model = with_whole_columns(WKNNPositioner(metric=metric).fit(X, y), whole)
    rng = np.random.default_rng(8)
    spots = X[rng.choice(len(X), 30, replace=False)]
    Q = np.where(spots > MISSING_DBM, np.round(spots + rng.normal(0, 2, spots.shape)), MISSING_DBM)
    R = model._represent(Q)
    width = model._width()
    sharing = ((R > 0).astype(np.int64) @ (model._represent(X) > 0).T.astype(np.int64) > 0).sum(axis=1)
    candidates = sharing if metric == "sorensen" else np.full(len(Q), len(X))
    assert (candidates >= 2 * kernels.SAMPLED_PER_WIDTH * width).any() == (n_spots > 200)  # through the bound
    rows, d, complete = kernels.search(model, R, width=width, needed=model._needed())
    for i, (want_rows, want_d, want_complete) in enumerate(brute_nearest(model, X, R, width)):
        assert rows[i].tolist() == want_rows and d[i].tolist() == want_d and complete[i] == want_complete


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
def test_compiled_search_keeps_every_candidate_tied_at_its_bound(metric):
    """A crowd of equal fingerprints nearest the query: the bound from the sample is their distance, the answer's
    own farthest, and the answer is the crowd's first `width` rows (ties by row id), as brute force gives it."""
    from positioning import kernels

    near, far = [-50.0, -60.0, -70.0], [-80.0, -60.0, -90.0]
    X = np.array([near if i % 4 == 0 else far for i in range(600)])  # every fourth row one of 150 near ones
    model = WKNNPositioner(metric=metric).fit(X, np.zeros((600, 4)))
    R = model._represent(np.array([[-52.0, -60.0, -71.0]]))
    width = model._width()
    assert 600 // (kernels.SAMPLED_PER_WIDTH * width) >= 2  # a sample, not every candidate
    rows, d, complete = kernels.search(model, R, width=width, needed=model._needed())
    (want_rows, want_d, want_complete), = brute_nearest(model, X, R, width)
    assert rows[0].tolist() == want_rows == list(range(0, 4 * width, 4)) and d[0].tolist() == want_d


def test_the_columns_that_many_rows_hear_are_kept_whole_for_the_search():
    """`whole_columns_`: each AP heard by at least WHOLE_COLUMN_SHARE of the map's rows, its represented values for
    every row (0 where unheard); the others only in the inverted index."""
    X, y = campus(n=300)  # each AP heard over a quarter of the map or more; five more heard at a tenth of it
    rare = np.where(np.arange(300)[:, None] % 10 == np.arange(5), -70.0, MISSING_DBM)
    X = np.hstack([X, rare])
    model = WKNNPositioner().fit(X, y)
    whole = model.whole_slot_ >= 0
    assert whole.any() and not whole.all()
    assert np.array_equal(whole, (X > MISSING_DBM).mean(axis=0) >= WHOLE_COLUMN_SHARE)
    assert np.array_equal(model.whole_slot_[whole], np.arange(whole.sum()))
    assert np.array_equal(model.whole_columns_, model._represent(X)[:, whole].T)


def test_compiled_search_refuses_what_it_cannot_search():
    from positioning import kernels

    X, y = campus(n=50)
    model = WKNNPositioner(k=3).fit(X, y)
    R = model._represent(X[:2])
    for bad in (dict(R=R, width=0, needed=3), dict(R=R, width=8, needed=0), dict(R=R[:, :-1], width=8, needed=3),
                dict(R=R.astype(np.float64), width=8, needed=3)):
        with pytest.raises(ValueError):
            kernels.search(model, **bad)


def test_euclidean_near_ties_decide_alike_in_batch_and_one_query():
    """A map of five dBm levels (many near-equal Euclidean distances): the one-query path's sum of squares
    of the query was np.dot's, whose last bit differs from the batch's sum for ~30% of queries, and on
    2 of these 3,000 queries that ordered a near-tie differently (found in review, 2026-12-01)."""
    rng = np.random.default_rng(1)
    levels = [-90, -80, -70, -60, -50]
    X = np.where(rng.random((20000, 16)) < 0.7, MISSING_DBM, rng.choice(levels, (20000, 16)).astype(float))
    X[~(X > MISSING_DBM).any(axis=1), 0] = -50
    Q = np.where(rng.random((3000, 16)) < 0.5, MISSING_DBM, rng.choice(levels, (3000, 16)).astype(float))
    Q = Q[(Q > MISSING_DBM).any(axis=1)]
    y = np.zeros((20000, 4))
    y[:, 2] = np.arange(20000)
    model = WKNNPositioner(k=17, metric="euclidean", offset_rounds=0).fit(X, y)
    batch = model.locate_many(Q)
    assert [e.neighbours for e in batch] == [model.locate(q).neighbours for q in Q]


def test_representation_scales_must_be_positive():
    X, y = campus(n=50)
    for name in ("alpha", "beta"):
        for value in (0.0, -1.0, float("nan"), float("inf"), True):
            with pytest.raises(ValueError, match=name):
                WKNNPositioner(**{name: value}).fit(X, y)


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("offset_rounds", [0, 1, 3])
def test_batch_path_decides_exactly_like_single_queries(metric, offset_rounds):
    """Same building, floor, x/y, confidence and neighbours (ties included: rounded dBm has many)."""
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, metric=metric, offset_rounds=offset_rounds).fit(X[:600], y[:600])
    model.BATCH = 32  # several blocks
    queries = np.vstack([X[600:], shift_rssi(X[600:640], 7.0)])
    batch = model.locate_many(queries)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, queries, strict=True))
    assert np.array_equal(model.predict(queries), np.array([[e.building, e.floor, e.x, e.y] for e in batch]))


def test_batch_path_handles_too_few_candidates():
    """A query sharing APs with fewer fingerprints than k goes through the one-query path."""
    X, y = campus(n=300)
    model = WKNNPositioner(k=7).fit(X, y)
    lone = np.full(X.shape[1], MISSING_DBM)
    lone[np.argmin((X > MISSING_DBM).sum(axis=0) + 1000 * ((X > MISSING_DBM).sum(axis=0) == 0))] = -60
    batch = model.locate_many(np.vstack([lone, X[0]]))
    assert same(batch[0], model.locate(lone)) and same(batch[1], model.locate(X[0]))


def test_offset_removal_finds_a_louder_phone():
    X, y = campus(n=900)
    plain = WKNNPositioner(k=5, offset_rounds=0).fit(X[:700], y[:700])
    model = WKNNPositioner(k=5, offset_rounds=3).fit(X[:700], y[:700])
    loud = shift_rssi(X[700:], 8.0)
    assert np.median([e.offset_db for e in model.locate_many(loud)]) > 6
    assert np.median([e.offset_db for e in model.locate_many(X[700:])]) == 0

    def error(pred):
        return np.linalg.norm(pred[:, 2:] - y[700:, 2:], axis=1).mean()
    assert error(model.predict(loud)) < 0.6 * error(plain.predict(loud))


def test_offset_rounds_is_validated():
    X, y = campus()
    with pytest.raises(ValueError, match="offset_rounds"):
        WKNNPositioner(offset_rounds=-1).fit(X, y)
    with pytest.raises(ValueError, match="offset_search_db"):
        WKNNPositioner(offset_search_db=-5).fit(X, y)
    with pytest.raises(ValueError, match="offset_search_margin"):
        WKNNPositioner(offset_search_margin=1.0).fit(X, y)
    with pytest.raises(ValueError, match="cluster_m"):
        WKNNPositioner(cluster_m=-1.0).fit(X, y)


@pytest.mark.parametrize("metric", ["sorensen", "euclidean"])
def test_offset_search_decides_alike_in_batch_and_one_query(metric):
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, metric=metric, offset_search_db=10.0).fit(X[:600], y[:600])
    model.BATCH = 32
    queries = np.vstack([X[600:660], shift_rssi(X[600:640], -10.0), shift_rssi(X[640:680], 9.0)])
    batch = model.locate_many(queries)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, queries, strict=True))


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("weight", [0.0, 0.4])
def test_unheard_weight_decides_alike_in_batch_and_one_query(metric, weight):
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, metric=metric, unheard_weight=weight).fit(X[:600], y[:600])
    model.BATCH = 32
    queries = np.vstack([X[600:], switch_off_aps(X[600:640], 0.3)])
    batch = model.locate_many(queries)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, queries, strict=True))
    if weight == 0.0:  # the same as matching on the query's APs only
        assert all(same(a, model.locate(q, partial=True)) for a, q in zip(batch[:20], queries[:20], strict=True))


@pytest.mark.parametrize("metric", ["sorensen", "euclidean"])
@pytest.mark.parametrize("radius", [3.0, 12.0])
def test_spatial_cluster_decides_alike_in_batch_and_one_query(metric, radius):
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, metric=metric, cluster_m=radius).fit(X[:600], y[:600])
    model.BATCH = 32
    queries = np.vstack([X[600:], shift_rssi(X[600:640], 6.0), switch_off_aps(X[640:680], 0.4)])
    batch = model.locate_many(queries)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, queries, strict=True))
    # Without the offset rounds (whose second search starts from the kept neighbours' offset), the rule only
    # ever drops neighbours, and it does drop some on this map.
    kept = WKNNPositioner(k=5, metric=metric, cluster_m=radius, offset_rounds=0).fit(X[:600], y[:600])
    plain = WKNNPositioner(k=5, metric=metric, offset_rounds=0).fit(X[:600], y[:600]).locate_many(queries)
    kept = kept.locate_many(queries)
    assert all(set(a.neighbours) <= set(b.neighbours) for a, b in zip(kept, plain, strict=True))
    assert sum(len(a.neighbours) < len(b.neighbours) for a, b in zip(kept, plain, strict=True)) > 0


@pytest.mark.parametrize("weighting", ["inverse", "uniform"])
def test_spatial_cluster_decides_alike_on_a_tiny_map(weighting):
    """A map so small that a floor holds fewer than k fingerprints: the batch rows then carry fewer chosen
    columns than k (or go to the one-query path), and still choose as a lone query does."""
    X, y = campus(n=60)
    model = WKNNPositioner(k=7, weighting=weighting, cluster_m=6.0, offset_rounds=1).fit(X[:30], y[:30])
    queries = np.vstack([X[30:], shift_rssi(X[30:40], 5.0)])
    batch = model.locate_many(queries)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, queries, strict=True))


def test_tune_checks_every_configuration_before_fitting():
    X, y = campus(n=200)
    with pytest.raises(ValueError, match="cluster_m"):
        tune(X, y, None, grid={"k": (3,), "cluster_m": (0.0, -1.0)}, folds=2, per_fold=20)
    with pytest.raises(ValueError, match="unknown positioner parameters"):
        tune(X, y, None, grid={"k": (3,), "kk": (1,)}, folds=2, per_fold=20)


def test_spatial_cluster_keeps_the_heavier_group_and_breaks_ties_by_rank():
    xy = np.array([[[0.0, 0.0], [50.0, 0.0], [52.0, 1.0]],    # the pair outweighs the nearest
                   [[0.0, 0.0], [50.0, 0.0], [52.0, 1.0]],    # the nearest outweighs the pair
                   [[0.0, 0.0], [40.0, 0.0], [0.0, 0.0]],     # a tie: the nearest's group
                   [[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]])     # a chain: within 5 m of the middle one
    weights = np.array([[1.0, 0.8, 0.7], [3.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    keep = spatial_cluster(xy, weights, 5.0)
    assert keep.tolist() == [[False, True, True], [True, False, False], [True, False, True], [True, True, True]]
    no_weight = spatial_cluster(xy[:1], np.array([[1.0, 0.0, 0.7]]), 5.0)
    assert no_weight.tolist() == [[True, False, False]]  # a column with no weight is never kept


def test_spatial_cluster_moves_the_estimate_to_one_group():
    """Two far spots that match alike: x/y is one of them, not the point between them."""
    X = np.array([[-50.0, -60.0], [-50.0, -60.0], [-51.0, -60.0], [-40.0, -90.0]])
    y = np.array([[0, 0, 0.0, 0.0], [0, 0, 60.0, 0.0], [0, 0, 61.0, 0.0], [0, 0, 200.0, 0.0]])
    plain = {"k": 3, "k_floor": None, "offset_rounds": 0, "weight_power": 1.0}  # the plain inverse-distance mean
    averaged = WKNNPositioner(**plain).fit(X, y).locate(np.array([-50.0, -60.0]))
    clustered = WKNNPositioner(**plain, cluster_m=10.0).fit(X, y).locate(np.array([-50.0, -60.0]))
    assert 15 < averaged.x < 50
    assert clustered.x > 59 and set(clustered.neighbours) == {1, 2}


def test_unheard_weight_scales_what_a_fingerprint_hears_and_the_query_does_not():
    """Sorensen over two APs: the fingerprint hears both, the query only the first."""
    X = np.array([[-50.0, -60.0], [-80.0, MISSING_DBM]])
    y = np.array([[0, 0, 0.0, 0.0], [0, 0, 9.0, 0.0]])
    q = np.array([[-50.0, MISSING_DBM]])
    for weight in (1.0, 0.5, 0.0):
        model = WKNNPositioner(k=1, representation="positive", unheard_weight=weight).fit(X, y)
        a, b = 55.0, 45.0  # represented: dBm + 105
        expected = weight * b / (2 * a + weight * b)
        assert model.distances(model._represent(q)[0])[0] == pytest.approx(expected)


def test_offset_search_finds_a_quieter_phone_the_rounds_stop_short_of():
    """Rounds alone start from fingerprints that read as softly as the query and stop short; the search
    starts from -10 dB. A phone that reads like the map keeps offset 0 far more often than not."""
    X, y = campus(n=900)
    rounds = WKNNPositioner(k=5, offset_rounds=2).fit(X[:700], y[:700])
    search = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=10.0).fit(X[:700], y[:700])
    quiet = shift_rssi(X[700:], -10.0)
    found = np.array([e.offset_db for e in search.locate_many(quiet)])
    assert abs(np.median(found) + 10) <= 2
    assert abs(np.median(found) + 10) <= abs(np.median([e.offset_db for e in rounds.locate_many(quiet)]) + 10)
    assert np.mean([abs(e.offset_db) < 5 for e in search.locate_many(X[700:])]) > 0.8


def test_a_partial_match_is_not_searched_for_an_offset_over_the_whole_map():
    """A partial match (few APs heard) not bound near its AP starts its rounds from the query as read, as a model
    without the search does; a full match of the same quiet query is searched (so this test can tell the two
    apart)."""
    X, y = campus(n=900)
    rounds = WKNNPositioner(k=5, offset_rounds=2).fit(X[:700], y[:700])
    search = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=10.0).fit(X[:700], y[:700])
    quiet = shift_rssi(X[700:760], -10.0)
    assert any(search.locate(q).offset_db != rounds.locate(q).offset_db for q in quiet)
    for q in quiet:
        assert search.locate(q, partial=True) == rounds.locate(q, partial=True)


def partial_near_its_ap(model: WKNNPositioner, x: np.ndarray, heard: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(the vector with only its `heard` strongest APs, the rows where its strongest AP is among the strongest):
    a phone heard a second or two after joining that AP."""
    q = np.full_like(x, MISSING_DBM)
    strongest = np.argsort(-x, kind="stable")[:heard]
    q[strongest] = x[strongest]
    return q, model.strong_rows(int(strongest[0]))


def test_a_partial_match_near_its_ap_is_searched_for_its_offset():
    """Bound to the rows near the AP it joined (`within`), a partial match is searched as a full one is: the
    offset of a phone 6 dB quieter than the map is found better with the search than by the rounds alone, each
    shift's neighbours stay within the bound, and a match unbound (too few rows near its AP) is not searched."""
    X, y = campus(n=900)
    rounds = WKNNPositioner(k=5, offset_rounds=2).fit(X[:700], y[:700])
    search = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=5.0).fit(X[:700], y[:700])
    found, unsearched = [], []
    for x in shift_rssi(X[700:800], -6.0):
        q, near = partial_near_its_ap(search, x)
        if near.size < search._needed():
            continue
        estimate = search.locate(q, partial=True, within=near)
        assert set(estimate.neighbours) <= set(near.tolist())
        found.append(estimate.offset_db)
        unsearched.append(rounds.locate(q, partial=True, within=near).offset_db)
        # a bound of too few rows is none: the match is the unsearched one over the whole map
        assert search.locate(q, partial=True, within=near[:2]) == rounds.locate(q, partial=True)
    assert len(found) >= 50
    assert np.median(np.abs(np.array(found) + 6)) < np.median(np.abs(np.array(unsearched) + 6))
    assert search.locate(q, partial=True, within=near, search_db=0.0) == rounds.locate(q, partial=True, within=near)


@pytest.mark.parametrize("metric", ["sorensen", "euclidean"])
def test_each_query_is_searched_as_far_as_asked_alike_in_batch_and_one_query(metric):
    """`search_db` per query (the tracker's: narrower for a phone whose offset it already knows, 0 for none): in a
    batch mixing reaches, each query is decided as it is alone; reach 0 is a model without the search, the
    model's own reach the batch of before."""
    X, y = campus(n=900)
    rounds = WKNNPositioner(k=5, metric=metric, offset_rounds=2).fit(X[:700], y[:700])
    model = WKNNPositioner(k=5, metric=metric, offset_rounds=2, offset_search_db=10.0).fit(X[:700], y[:700])
    model.BATCH = 32
    queries = np.vstack([X[700:740], shift_rssi(X[740:800], -10.0), shift_rssi(X[800:840], 6.0)])
    reach = np.random.default_rng(3).choice([0.0, 5.0, 10.0], size=len(queries))
    reach[:32] = 0.0  # a whole block unsearched
    mixed = model.locate_many(queries, search_db=reach)
    for estimate, q, r in zip(mixed, queries, reach, strict=True):
        assert same(estimate, model.locate(q, search_db=float(r)))
        if r == 0:
            assert same(estimate, rounds.locate(q))
    assert {e.offset_db for e, r in zip(mixed, reach, strict=True) if r == 5.0} & {-5.0, 5.0}  # a 5 dB start
    assert any(not same(a, b) for a, b in zip(mixed, model.locate_many(queries), strict=True))
    everywhere = model.locate_many(queries, search_db=np.full(len(queries), 10.0))
    assert all(same(a, b) for a, b in zip(everywhere, model.locate_many(queries), strict=True))
    assert all(same(model.locate(q, search_db=10.0), model.locate(q)) for q in queries[::7])


@pytest.mark.parametrize("bad", [[5.0, 5.0], np.full(3, -1.0), np.full(3, 31.0), np.ones((3, 1)),
                                 np.array(["5", "5", "5"])])
def test_locate_many_refuses_a_search_reach_that_is_not_one_per_query_in_range(bad):
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, offset_search_db=10.0).fit(X[:600], y[:600])
    with pytest.raises(ValueError, match="search_db must be"):
        model.locate_many(X[600:603], search_db=bad)
    for one in (-2.0, True, "5", np.ones(1), float("nan")):
        with pytest.raises(ValueError, match="search_db must be"):
            model.locate(X[600], search_db=one)


def test_shift_rssi_loses_readings_pushed_below_hearing():
    X = np.array([[-50.0, -100.0, MISSING_DBM], [-5.0, -60.0, -70.0]])
    out = shift_rssi(X, -10)
    assert out.tolist() == [[-60.0, MISSING_DBM, MISSING_DBM], [-15.0, -70.0, -80.0]]
    assert shift_rssi(X, 10)[1, 0] == 0.0  # capped at 0 dBm
    assert shift_rssi(X, np.array([0.0, 1.0]))[1].tolist() == [-4.0, -59.0, -69.0]


def test_evaluate_mask_off_fits_without_the_aps_switched_off(tmp_path, capsys):
    """--mask-off: the model is fitted without the APs --ap-off silenced, as the live model leaves out APs
    silent in the live reports; the same APs are silenced either way (same seed)."""
    X, y = campus(n=400)
    write_uji(tmp_path / "train.csv", X[:300], y[:300])
    write_uji(tmp_path / "test.csv", X[300:], y[300:])
    files = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--json", "--quiet",
             "--no-baselines", "--ap-off", "0.3", "--seed", "3"]
    assert main(["evaluate", *files]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["evaluate", *files, "--mask-off"]) == 0
    masked = json.loads(capsys.readouterr().out)
    heard = int((X[300:] > MISSING_DBM).any(axis=0).sum())
    assert plain["aps_masked"] == 0 and masked["aps_masked"] == round(0.3 * heard)
    assert plain["aps_silent"] > 0  # found silent without being told
    assert main(["evaluate", *files, "--mask-off", "--keep-silent"]) == 2
    assert "contradict" in capsys.readouterr().err
    assert masked["n_test"] == plain["n_test"] and masked["building_hit_rate"] > 0.9
    assert main(["evaluate", *files[:-4], "--mask-off"]) == 2  # nothing switched off: nothing to leave out
    assert "--mask-off needs --ap-off" in capsys.readouterr().err


def test_switch_off_aps_is_seeded_and_counts_heard_aps():
    X, _ = campus()
    heard = (X > MISSING_DBM).any(axis=0).sum()
    a, b = switch_off_aps(X, 0.3, seed=4), switch_off_aps(X, 0.3, seed=4)
    assert np.array_equal(a, b)
    assert heard - (a > MISSING_DBM).any(axis=0).sum() == round(0.3 * heard)
    with pytest.raises(ValueError, match="fraction"):
        switch_off_aps(X, 1.0)


def test_cv_groups_prefer_phones_then_points():
    y = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 30, 1], [0, 1, 1, 1]], dtype=float)
    groups, kind = cv_groups(y, np.array([1, 1, 2, 2]))
    assert kind == "phone" and groups.tolist() == [0, 0, 1, 1]
    groups, kind = cv_groups(y, np.array([5, 5, 5, 5]))
    assert kind == "reference point" and groups[0] == groups[1] and len(set(groups.tolist())) == 3
    groups, kind = cv_groups(y, None, "block", block_m=50)
    assert kind == "spatial block" and len(set(groups.tolist())) == 2
    with pytest.raises(ValueError, match="two or more phones"):
        cv_groups(y, np.zeros(4), "phone")


def test_tune_one_phone_survey_groups_by_point_and_gives_a_usable_config():
    X, y = campus(n=300)
    X, y = np.repeat(X, 2, axis=0), np.repeat(y, 2, axis=0)  # two scans per reference point
    result = tune(X, y, np.zeros(len(X)), grid={"k": (1, 3), "offset_rounds": (0, 1)}, per_fold=60)
    assert result.group_kind == "reference point" and result.n_groups == 300 and result.n_splits == 4
    assert set(result.config) == {"k", "offset_rounds"} and result.rows[0].params == result.config
    assert result.notes  # it says what one phone cannot tell
    WKNNPositioner(**result.config).fit(X, y)
    assert venue_config(X, y, grid={"k": (1, 3)}, per_fold=60) in ({"k": 1}, {"k": 3})


def test_tune_says_when_it_cannot_be_trusted():
    X, y = campus(n=200)
    result = tune(X, y, np.arange(200) % 3, grid={"k": (1, 3)}, per_fold=50)
    assert result.group_kind == "phone" and result.n_splits == 3
    assert not result.trusted and "only 3 phones" in result.warnings[0]
    with pytest.raises(ValueError, match="at least two groups"):
        tune(X[:5], np.tile(y[:1], (5, 1)), None, grid={"k": (1,)})


def test_cli_tune_writes_a_config_that_evaluate_reads(tmp_path, capsys):
    X, y = campus(n=400)
    write_uji(tmp_path / "train.csv", X[:300], y[:300], phone=7)  # one phone: used to crash
    write_uji(tmp_path / "test.csv", X[300:], y[300:])
    config = tmp_path / "venue.json"
    assert main(["tune", "--train", str(tmp_path / "train.csv"), "--per-fold", "40", "--ks", "1", "3",
                 "--grid", "offset_rounds=0,1", "--grid", "unheard_weight=1,0.4", "--offset-search", "0", "10",
                 "--out", str(config), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "reference points" in out and "chosen:" in out and "note:" in out
    chosen = json.loads(config.read_text())
    assert chosen["k"] in (1, 3) and chosen["unheard_weight"] in (1, 0.4) and chosen["offset_search_db"] in (0, 10)
    assert chosen["offset_rounds"] in (0, 1)
    # every parameter, the grid's and the defaults': the file means the same model should the defaults change
    assert set(chosen) == set(WKNNPositioner().get_params()) and chosen["weight_power"] == 4.0
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                 "--config", str(config), "--json", "--quiet", "--rssi-offset", "-10", "--ap-off", "0.3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["k"] == chosen["k"] and report["rssi_offset_db"] == -10 and report["aps_off"] == 0.3
    assert report["model"]["floor_rule"] == chosen["floor_rule"] in ("vote", "mean")  # cross-validated by default
    assert report["n_test"] + report["n_dropped"] == 100 and report["building_hit_rate"] > 0.9


def test_cli_tune_rejects_a_bad_grid(tmp_path, capsys):
    X, y = campus(n=60)
    write_uji(tmp_path / "train.csv", X, y)
    for item in ("colour=red", "k", "k="):
        assert main(["tune", "--train", str(tmp_path / "train.csv"), "--grid", item, "--quiet"]) == 2
        assert "NAME=V1,V2" in capsys.readouterr().err


def test_cli_evaluate_rejects_a_bad_config(tmp_path, capsys):
    X, y = campus(n=200)
    write_uji(tmp_path / "train.csv", X, y)
    (tmp_path / "bad.json").write_text('{"k": 3, "colour": "red"}')
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "train.csv"),
                 "--config", str(tmp_path / "bad.json"), "--quiet"]) == 2
    assert "unknown parameters" in capsys.readouterr().err
