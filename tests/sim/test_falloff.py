"""Each AP's fall-off fitted to the survey as a censored regression (fingerprints/falloff.py), and the quality
report's made-up phones heard by the APs a fingerprint does not list. Pure numerics; no store needed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import truncnorm

from core.memo import BoundedMemo
from fingerprints import training
from fingerprints.falloff import MIN_HEARD, ApFalloff, _design
from fingerprints.geometry import zone_map
from fingerprints.quality import LiveAssumptions, WalkIn
from fingerprints.simulator import ApReporting
from fingerprints.training import fitted_falloff, live_params, offset_reference, training_set
from portal.tracking import estimate
from portal.tracking.models import build_venue_model
from positioning import MISSING_DBM, WKNNPositioner
from positioning.vectors import weakest_listed_dbm

THRESHOLD = -95.0


def surveyed_ap(seed: int = 0, n: int = 3000, spread_db: float = 5.0):
    """Reference points over four floors of 120 x 120 m around one AP at (60, 60) on floor 1, its level
    -35 - 24 log10(d) - 16 per floor + N(0, spread), listed only where at or above THRESHOLD."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 120, size=(n, 2))
    floors = rng.integers(0, 4, n).astype(float)
    d = np.hypot(xy[:, 0] - 60, xy[:, 1] - 60)
    level = -35 - 24 * np.log10(np.maximum(d, 1)) - 16 * np.abs(floors - 1) + rng.normal(0, spread_db, n)
    X = np.where(level >= THRESHOLD, level, MISSING_DBM)[:, None]
    return np.column_stack([floors, xy]), X


def fitted(coords, X) -> ApFalloff:
    return ApFalloff.fit(coords, X, np.array([1.0]), np.array([[60.0, 60.0]]), THRESHOLD, MISSING_DBM)


def test_the_censored_fit_finds_the_fall_off_that_the_heard_points_alone_misjudge():
    coords, X = surveyed_ap()
    falloff = fitted(coords, X)
    a, b, c = falloff.coef[0]
    assert a == pytest.approx(-35, abs=1.5) and b == pytest.approx(-2.4, abs=0.1) and c == pytest.approx(-16, abs=1)
    assert falloff.spread_db[0] == pytest.approx(5.0, abs=0.4)
    # least squares over the points where it was heard misjudges the slope and the floors, and reads the places
    # it was not heard (the quieter ones) 3.5 dB louder than the censored fit does
    heard = X[:, 0] > MISSING_DBM
    design = _design(coords[:, 0], coords[:, 1:], 1.0, np.array([60.0, 60.0]))
    ols = np.linalg.lstsq(design[heard], X[heard, 0], rcond=None)[0]
    assert ols[1] > b + 0.2 and ols[2] > c + 1.5
    assert (design[~heard] @ ols).mean() > (design[~heard] @ falloff.coef[0]).mean() + 2.5


def test_an_unlisted_ap_is_drawn_below_the_survey_hearing_and_a_listed_one_not_at_all():
    coords, X = surveyed_ap()
    falloff = fitted(coords, X)
    rng = np.random.default_rng(1)
    near = np.array([falloff.levels_below(1, 62.0, 60.0, np.array([True]), rng)[0] for _ in range(2000)])
    # 2 m from the AP the fit says -42 dBm: a spot where the survey did not list it is just under its hearing, about
    # 5^2 / 53 = 0.5 dB (the normal's tail there), not piled at the threshold itself
    assert (near <= THRESHOLD).all() and -96.5 < near.mean() < THRESHOLD - 0.1
    # two floors away and 70 m off the fit says about -111 dBm: most draws fall under the map's missing level and
    # stay unheard, never lifted to the weakest level a louder phone could reach
    far = np.array([falloff.levels_below(3, 10.0, 10.0, np.array([True]), rng)[0] for _ in range(500)])
    assert (far == MISSING_DBM).mean() > 0.7 and far[far > MISSING_DBM].mean() < THRESHOLD - 5
    # on floor 0 at 40 m the fit says about -89 dBm: drawn below -95 with the fit's spread (-97.5 on average)
    mid = np.array([falloff.levels_below(0, 100.0, 60.0, np.array([True]), rng)[0] for _ in range(2000)])
    assert THRESHOLD - 4 < mid.mean() < THRESHOLD - 1.5 and mid.std() > 1.5
    assert falloff.levels_below(1, 62.0, 60.0, np.array([False]), rng)[0] == MISSING_DBM


def test_the_map_fills_an_unlisted_ap_with_its_expected_level_below_the_hearing():
    coords, X = surveyed_ap()
    falloff = fitted(coords, X)
    filled = falloff.filled(coords, X)
    listed = X[:, 0] > MISSING_DBM
    assert np.array_equal(filled[listed], X[listed])  # what the survey listed is kept as it is
    unlisted = ~listed & (filled[:, 0] > MISSING_DBM)
    assert unlisted.sum() > 300 and (filled[unlisted, 0] < THRESHOLD).all()
    # the truncated normal's mean, against scipy's own
    a, b, c = falloff.coef[0]
    sd = falloff.spread_db[0]
    design = _design(coords[:, 0], coords[:, 1:], 1.0, np.array([60.0, 60.0]))
    mean = design @ falloff.coef[0]
    expected = truncnorm.mean(-np.inf, (THRESHOLD - mean) / sd, loc=mean, scale=sd)
    assert np.allclose(filled[unlisted, 0], expected[unlisted], atol=1e-6)
    # where the fit reads far louder than the hearing (a point by the AP the survey happened to miss), just under it;
    # two floors off and far away, under the missing level: unheard
    near = falloff.filled(np.array([[1.0, 61.0, 60.0]]), np.array([[MISSING_DBM]]))[0, 0]
    far = falloff.filled(np.array([[3.0, 0.0, 0.0]]), np.array([[MISSING_DBM]]))[0, 0]
    assert THRESHOLD - 1 < near < THRESHOLD and far == MISSING_DBM


def with_an_ap_heard_too_little():
    """surveyed_ap's survey and a second AP at (10, 10) on floor 1 listed at MIN_HEARD - 1 points, and their fit."""
    coords, X = surveyed_ap()
    X = np.column_stack([X, np.full(len(X), MISSING_DBM)])
    X[:MIN_HEARD - 1, 1] = -80.0
    falloff = ApFalloff.fit(coords, X, np.array([1.0, 1.0]), np.array([[60.0, 60.0], [10.0, 10.0]]), THRESHOLD,
                            MISSING_DBM)
    return coords, X, falloff


def test_an_ap_not_fitted_is_not_filled():
    coords, X, falloff = with_an_ap_heard_too_little()
    assert np.array_equal(falloff.filled(coords, X)[:, 1], X[:, 1])
    with pytest.raises(ValueError, match="X must be"):  # another survey's columns, or its points
        falloff.filled(coords, X[:, :1])
    with pytest.raises(ValueError, match="X must be"):
        falloff.filled(coords[:-1], X)
    assert falloff.columns([1]).filled(coords, X[:, 1:]).shape == (len(X), 1)  # the fits of the APs kept


@pytest.mark.parametrize("shape", ["linear", "ring"])
def test_a_louder_phone_is_placed_nearer_with_its_offset_measured_against_the_fall_off(small_malls, shape):
    """A shopper's phone 6 dB louder than the survey phone, still for 5 scans at a spot in every dwell zone (the
    simulator's field): the live model measures its offset against the survey's fingerprints with the APs they do
    not list estimated below the hearing (`offset_reference`), and places it nearer than on the listed levels
    alone."""
    mall = small_malls[shape]
    venue, sim = mall.venue, mall.simulator()
    ap_ids, X, y = training_set(venue)
    columns = [venue.ap_ids().index(b) for b in ap_ids]
    zones, rng = zone_map(venue), np.random.default_rng(0)
    queries, truth = [], []
    for zone in venue.zones:
        if zone.kind in ("corridor", "garage", "lobby"):
            continue
        x, yy = estimate.spot_in_zone(zone, zones, rng)
        mean = sim.mean_vector(zone.floor, x, yy)
        scans = np.stack([sim.scan_vector(zone.floor, x, yy, rng, phone_offset_db=mall.survey_phone_offset_db + 6,
                                          mean=mean) for _ in range(5)])
        heard = (~np.isnan(scans)).sum(axis=0) >= 3
        vector = np.full(len(columns), MISSING_DBM)
        vector[heard[columns]] = np.nanmedian(scans[:, columns][:, heard[columns]], axis=0)
        queries.append(vector)
        truth.append((zone.floor, x, yy))
    truth = np.array(truth)

    def mean_error(offset_X: np.ndarray | None) -> float:
        placed = WKNNPositioner(**live_params(venue)).fit(X, y, offset_X).predict(np.array(queries))
        return float(np.mean(np.hypot(placed[:, 2] - truth[:, 1], placed[:, 3] - truth[:, 2])
                             + 30.0 * (placed[:, 1] != truth[:, 0])))  # a wrong floor counts 30 m

    reference = offset_reference(venue, ap_ids, X, y)
    assert ((reference > MISSING_DBM) & (X <= MISSING_DBM)).sum() > 0.3 * (X > MISSING_DBM).sum()
    assert mean_error(reference) < 0.9 * mean_error(None)  # 0.76 on both when written


def test_the_survey_hearing_is_its_weakest_listed_level_not_a_stray_one():
    _, X = surveyed_ap()
    assert weakest_listed_dbm(X, MISSING_DBM) == pytest.approx(THRESHOLD, abs=0.1)
    X[:2, 0] = -118.0  # two stray readings
    assert weakest_listed_dbm(X, MISSING_DBM) == pytest.approx(THRESHOLD, abs=0.1)
    assert weakest_listed_dbm(np.full((5, 2), MISSING_DBM), MISSING_DBM) is None


def test_an_ap_listed_at_too_few_points_is_never_drawn():
    coords, X, falloff = with_an_ap_heard_too_little()
    assert list(falloff.fitted) == [True, False]
    levels = falloff.levels_below(1, 10.0, 10.0, np.array([True, True]), np.random.default_rng(0))
    assert levels[1] == MISSING_DBM and levels[0] > MISSING_DBM


class _ZeroDraws:
    """A generator whose uniform draws are all 0: random() is in [0, 1), so 0 can come (one draw in 2**53)."""

    def random(self, size: int) -> np.ndarray:
        return np.zeros(size)


def test_a_uniform_draw_of_zero_gives_a_level_not_a_log_of_zero():
    coords, X, falloff = with_an_ap_heard_too_little()
    with np.errstate(all="raise"):  # log(0) would raise here
        levels = falloff.levels_below(1, 10.0, 10.0, np.array([True, False]), _ZeroDraws())
    # U -> 0 is the bottom of the truncated normal: far under the threshold, so never heard
    assert levels.tolist() == [MISSING_DBM, MISSING_DBM]


def test_a_louder_phone_is_heard_by_aps_its_fingerprint_does_not_list(demo_map, monkeypatch):
    """The estimate's phone standing at a spot: each second its APs are the fingerprint's, at their levels, and the
    others at a level below the survey's hearing (one draw for the spot); 8 dB louder than the survey phone, some of
    those others hear it, as real APs hear a louder phone. Without a fall-off none does."""
    model = build_venue_model(demo_map)
    _, X, _ = training_set(demo_map)
    by_id = {ap.bssid: ap for ap in demo_map.aps}
    ap_xy = np.array([(by_id[b].x, by_id[b].y) for b in model.ap_ids])
    coords = np.array([(s.floor, s.x, s.y) for s in demo_map.samples], dtype=float)
    falloff = ApFalloff.fit(coords, X, np.array([by_id[b].floor for b in model.ap_ids], dtype=float), ap_xy,
                            THRESHOLD, MISSING_DBM)
    a = LiveAssumptions(phone_mean_db=8.0, phone_spread_db=0.0, ap_off=0.0, frame_rate=1.0)
    every_second = [(i, ApReporting(b, "native", 1, 0)) for i, b in enumerate(model.ap_ids)]
    zones, rng = zone_map(demo_map), np.random.default_rng(4)
    plain = estimate._Survey(demo_map, X)
    zone, spot = next((z, spot) for z in demo_map.zones if z.kind == "shop"  # a spot whose fingerprint lacks APs
                      for spot in [estimate.spot_in_zone(z, zones, rng) for _ in range(5)]
                      if (plain.between(z.floor, *spot) <= MISSING_DBM).sum() >= 2)
    heard_unlisted = {}
    for name, fall in (("with", falloff), ("without", None)):
        survey = estimate._Survey(demo_map, X, fall)
        rng = np.random.default_rng(4)
        fingerprint = survey.between(zone.floor, *spot)
        below = survey.below(zone.floor, *spot, fingerprint, rng)
        listed = fingerprint > MISSING_DBM
        assert (below[listed] == MISSING_DBM).all() and (fall is None) == (below == MISSING_DBM).all()
        seconds = 60
        visit = estimate._Visit(where=[(zone.floor, *spot)] * seconds, vectors=[fingerprint] * seconds,
                                below=[below] * seconds, headings=[0.0] * seconds, entered=0, joins=0, zone=zone.id)
        heard: list[str] = []

        def hear(self, ap, items, heard=heard):
            heard.extend([ap] * len(items))
        monkeypatch.setattr(estimate.PhoneReplay, "hear", hear)
        estimate._replay_visit(model, ap_xy, visit, every_second, rng, a, 2.0)
        unlisted = {b for b, on in zip(model.ap_ids, listed, strict=True) if not on}
        heard_unlisted[name] = sum(1 for ap in heard if ap in unlisted)
        assert any(ap not in unlisted for ap in heard)
    assert heard_unlisted["without"] == 0 < heard_unlisted["with"]


def test_the_estimate_draws_a_spot_once_while_she_stands_and_anew_each_second_she_walks(demo_map, monkeypatch):
    """`_visit`: one draw of the unlisted APs' levels for the dwell spot, one a second on the walk in; and
    `live_estimate` fits the fall-off with the survey's own hearing as the threshold."""
    _, X, _ = training_set(demo_map)
    model = build_venue_model(demo_map)
    by_id = {ap.bssid: ap for ap in demo_map.aps}
    coords = np.array([(s.floor, s.x, s.y) for s in demo_map.samples], dtype=float)
    falloff = ApFalloff.fit(coords, X, np.array([by_id[b].floor for b in model.ap_ids], dtype=float),
                            np.array([(by_id[b].x, by_id[b].y) for b in model.ap_ids]), THRESHOLD, MISSING_DBM)
    survey = estimate._Survey(demo_map, X, falloff)
    zones, rng = zone_map(demo_map), np.random.default_rng(6)
    walk_in = WalkIn(demo_map, survey.coords, 60.0)
    zone = next(z for z in demo_map.zones if z.kind == "shop")
    visit = estimate._visit(walk_in, survey, zone, estimate.spot_in_zone(zone, zones, rng), rng, LiveAssumptions(),
                            zones)
    standing = visit.where.index(visit.where[-1])  # the first second at her spot
    assert all(b is visit.below[-1] for b in visit.below[standing:]) and len(visit.below) == len(visit.where)
    walking = [b for b in visit.below[:standing] if (b > MISSING_DBM).any()]
    assert len(walking) > 3 and len({b.tobytes() for b in walking}) == len(walking)

    fits = []
    real_fit = ApFalloff.fit.__func__

    def fit(cls, coords, X, ap_floor, ap_xy, threshold_dbm, missing):
        fits.append(threshold_dbm)
        return real_fit(cls, coords, X, ap_floor, ap_xy, threshold_dbm, missing)
    monkeypatch.setattr(ApFalloff, "fit", classmethod(fit))
    monkeypatch.setattr(training, "_FALLOFFS", BoundedMemo(size=8))  # no fit kept by an earlier test
    estimate.live_estimate(demo_map, max_points=3)
    # one fit, the live model's: its offset reference and the estimate's made-up phones, from the survey's hearing
    assert fits == [weakest_listed_dbm(X, MISSING_DBM)]


def test_a_survey_is_fitted_once_per_process_and_a_changed_one_again(demo_map, monkeypatch):
    """`fitted_falloff` keeps its fits by the survey's content: the same survey (another app's model, a rebuild) gets
    the fit already made; one reading changed, or the same readings under APs placed elsewhere, is fitted anew."""
    monkeypatch.setattr(training, "_FALLOFFS", BoundedMemo(size=8))
    fits = []
    real_fit = ApFalloff.fit.__func__
    monkeypatch.setattr(ApFalloff, "fit", classmethod(lambda cls, *a: fits.append(1) or real_fit(cls, *a)))
    ap_ids, X, y = training_set(demo_map)
    first = fitted_falloff(demo_map, ap_ids, X, y)
    assert fitted_falloff(demo_map, ap_ids, X.copy(), y.copy()) is first and len(fits) == 1
    louder = X.copy()
    louder[X > MISSING_DBM] += 1.0
    assert fitted_falloff(demo_map, ap_ids, louder, y) is not first and len(fits) == 2
    moved = dataclasses.replace(demo_map, aps=[dataclasses.replace(ap, x=ap.x + 5.0) for ap in demo_map.aps])
    refit = fitted_falloff(moved, ap_ids, X, y)
    assert len(fits) == 3 and not np.array_equal(refit.ap_xy, first.ap_xy)
    upstairs = dataclasses.replace(demo_map, aps=[dataclasses.replace(ap, floor=ap.floor + 1) for ap in demo_map.aps])
    assert fitted_falloff(upstairs, ap_ids, X, y) is not first and len(fits) == 4
    shifted = y.copy()
    shifted[:, 2] += 3.0  # every reference point 3 m east
    assert fitted_falloff(demo_map, ap_ids, X, shifted) is not first and len(fits) == 5
    assert np.array_equal(fitted_falloff(demo_map, ap_ids, X, y).coef, first.coef) and len(fits) == 5
    with pytest.raises(ValueError):  # shared by every model of the survey: read-only
        first.coef[0, 0] = 0.0
