"""The "mean" floor rule: each floor judged by its own k_floor nearest fingerprints (positioning/wknn.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positioning.tuning import DEFAULT_GRID, QUERY_TIME_PARAMS
from positioning.vectors import MISSING_DBM
from positioning.wknn import WKNNPositioner

from .test_batch_offsets_tuning import same
from .test_wknn import campus


def neighbours_only(**params) -> WKNNPositioner:
    """A positioner whose floor the neighbours alone decide (no floor classifier, the defaults' since 2026-12-06):
    the rules under test here."""
    return WKNNPositioner(floor_model=None, **params)


def floor_by_definition(model, q_dbm, building, k_floor):
    """The floor whose k_floor nearest fingerprints of the building have the smallest mean distance, from
    every fingerprint's distance (a floor with fewer than k_floor padded with the metric's farthest)."""
    q = model._represent(q_dbm[None])[0]
    d = model.distances(q).astype(np.float64)
    if model.metric == "sorensen":
        d = np.where(model._cross_terms(q, np.flatnonzero(q)) > 0, d, 1.0)  # no AP shared: the farthest
    pad = 1.0 if model.metric == "sorensen" else d.max()  # unbounded metrics: the farthest fingerprint
    best = None
    for floor in np.unique(model.floors_[model.buildings_ == building]):
        own = np.sort(d[(model.buildings_ == building) & (model.floors_ == floor)])[:k_floor]
        mean = (own.sum() + (k_floor - own.size) * pad) / k_floor if own.size < k_floor else own.mean()
        if best is None or mean < best[0] - 1e-12:
            best = (mean, floor)
    return best[1]


def stairwell_map():
    """Floor 1 has one fingerprint that matches the query best; floor 0 has three that match it nearly as well."""
    X = np.array([[-50.0, -60.0, -70.0],   # floor 1: the lucky one
                  [-80.0, -90.0, -40.0],   # floor 1, far
                  [-80.0, -40.0, -95.0],   # floor 1, far
                  [-52.0, -61.0, -72.0],   # floor 0
                  [-53.0, -62.0, -69.0],   # floor 0
                  [-49.0, -63.0, -73.0]])  # floor 0
    y = np.array([[0, 1, 10, 10], [0, 1, 40, 0], [0, 1, 0, 40], [0, 0, 11, 10], [0, 0, 12, 9], [0, 0, 9, 11]], float)
    return X, y


def test_mean_rule_takes_the_floor_whose_own_nearest_match_best():
    X, y = stairwell_map()
    query = np.array([-50.0, -60.0, -70.0])
    vote = neighbours_only(k=1, k_floor=3, offset_rounds=0, floor_rule="vote", weight_power=1.0).fit(X, y).locate(query)
    mean = neighbours_only(k=1, k_floor=3, offset_rounds=0, floor_rule="mean", weight_power=1.0).fit(X, y).locate(query)
    assert vote.floor == 1  # the exact match outweighs the three close ones in the inverse-distance vote
    assert mean.floor == 0 and 0 < mean.confidence < 1


def test_mean_rule_with_k_floor_one_is_the_nearest_fingerprints_floor():
    X, y = campus(n=500)
    model = neighbours_only(k=3, k_floor=1, offset_rounds=0, floor_rule="mean").fit(X[:400], y[:400])
    for q in X[400:]:
        d = model.distances(model._represent(q[None])[0])
        assert model.locate(q).floor == model.floors_[np.argmin(d)] or np.sort(d)[0] == np.sort(d)[1]


@pytest.mark.parametrize("metric", ["sorensen", "manhattan", "euclidean"])
@pytest.mark.parametrize("k_floor", [2, 5])
def test_mean_rule_matches_its_definition(metric, k_floor):
    X, y = campus(n=700)
    model = neighbours_only(k=3, k_floor=k_floor, metric=metric, offset_rounds=0, floor_rule="mean").fit(
        X[:600], y[:600])
    for q in X[600:]:
        e = model.locate(q)
        assert e.floor == floor_by_definition(model, q, e.building, k_floor)


@st.composite
def floor_maps(draw):
    """Small maps over 1-3 buildings x 1-3 floors, often more candidates than the decision's prefix holds (32)."""
    n, aps = draw(st.integers(2, 70)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = np.where(rng.random((n, aps)) < 0.4, MISSING_DBM, rng.integers(-90, -40, (n, aps)).astype(float))
    X[~(X > MISSING_DBM).any(axis=1), 0] = -70.0
    X[0, 0] = -70.0
    y = np.column_stack([rng.integers(0, draw(st.integers(1, 3)), n), rng.integers(0, draw(st.integers(1, 3)), n),
                         rng.uniform(0, 30, (n, 2))])
    Q = np.where(rng.random((6, aps)) < 0.3, MISSING_DBM, rng.integers(-90, -40, (6, aps)).astype(float))
    Q[~(Q[:, (X > MISSING_DBM).any(axis=0)] > MISSING_DBM).any(axis=1), 0] = -60.0  # each hears a mapped AP
    return X, y, Q


@settings(max_examples=80, deadline=None)
@given(floor_maps(), st.sampled_from(["sorensen", "manhattan", "euclidean"]), st.integers(1, 4),
       st.sampled_from([None, 1, 2, 6, 9]), st.integers(0, 2), st.sampled_from([0.0, 1.0, 4.0, 8.0]))
def test_mean_rule_decides_alike_in_batch_and_one_query(maps, metric, k, k_floor, offset_rounds, power):
    X, y, Q = maps
    model = neighbours_only(k=k, k_floor=k_floor, metric=metric, offset_rounds=offset_rounds,
                           floor_rule="mean", weight_power=power).fit(X, y)
    batch = model.locate_many(Q)
    assert all(same(a, model.locate(q)) for a, q in zip(batch, Q, strict=True))
    assert all(0.0 <= e.confidence <= 1.0 for e in batch)


def test_mean_rules_confidence_is_the_chosen_floors_vote_share():
    """On the vote's scale (the motion filter reads it as floor trust): the chosen floor's share of the
    k_floor nearest fingerprints' weights, whichever floor the vote itself would pick."""
    X, y = stairwell_map()
    model = neighbours_only(k=1, k_floor=3, offset_rounds=0, floor_rule="mean", weight_power=1.0).fit(X, y)
    query = np.array([-50.0, -60.0, -70.0])
    d = model.distances(model._represent(query[None])[0])
    nearest = np.argsort(d, kind="stable")[:3]
    w = 1.0 / (d[nearest] + 1e-6)
    expected = w[model.floors_[nearest] == 0].sum() / w.sum()
    assert model.locate(query).confidence == pytest.approx(expected, rel=1e-12)


def test_floor_rule_is_validated_and_cross_validated():
    X, y = stairwell_map()
    with pytest.raises(ValueError, match="floor rule"):
        WKNNPositioner(floor_rule="majority").fit(X, y)
    # a query-time parameter: tune fits once per fold for both rules
    assert DEFAULT_GRID["floor_rule"] == ("vote", "mean") and "floor_rule" in QUERY_TIME_PARAMS
    assert "weight_power" in QUERY_TIME_PARAMS and "weight_power" not in DEFAULT_GRID  # --grid weight_power=...


def test_weight_power_leans_on_the_nearest_and_one_is_the_plain_inverse():
    X, y = campus(n=500)
    plain = neighbours_only(k=5, offset_rounds=0, weight_power=1.0, blend_representation=None).fit(X[:400], y[:400])
    sharp = neighbours_only(k=5, offset_rounds=0, blend_representation=None).fit(X[:400], y[:400])  # 1/d^4: default
    assert sharp.weight_power == 4.0
    for q in X[400:460]:
        a, c = plain.locate(q), sharp.locate(q)
        d = plain.distances(plain._represent(q[None])[0])
        for e, power in ((a, 1), (c, 4)):  # x/y: the neighbours' mean weighted by 1/d^p
            w = (1.0 / (d[list(e.neighbours)] + 1e-6)) ** power
            assert np.allclose([e.x, e.y], (plain.xy_[list(e.neighbours)] * w[:, None]).sum(axis=0) / w.sum())


@pytest.mark.parametrize("floor_rule", ["vote", "mean"])
def test_weight_power_decides_alike_in_batch_and_one_query(floor_rule):
    X, y = campus(n=700)
    model = neighbours_only(k=7, k_floor=3, weight_power=3.0, floor_rule=floor_rule, cluster_m=12.0).fit(
        X[:600], y[:600])
    model.BATCH = 32
    batch = model.locate_many(X[600:])
    assert all(same(a, model.locate(q)) for a, q in zip(batch, X[600:], strict=True))


@pytest.mark.parametrize("power", [-1.0, 9.0, float("nan"), True])
def test_weight_power_is_validated(power):
    X, y = stairwell_map()
    with pytest.raises(ValueError, match="weight_power"):
        neighbours_only(weight_power=power).fit(X, y)
