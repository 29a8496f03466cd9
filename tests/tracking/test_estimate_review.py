"""The live estimate and the walk / quality-report errors, review faults: a floor with no reference points counts
its visits as misses (not dropped, which gave a one-floor survey a perfect claim); a survey that records no
scan-to-scan spread (a CSV import) gets the simulator's fast fading as its assumed reading noise, not 0 dB; a
point placed on the wrong floor counts the storey in its error. Pure numerics on the demo map; no store needed."""

from __future__ import annotations

import math

import pytest

from fingerprints import samples_io
from fingerprints.quality import ASSUMED_NOISE_DB, STOREY_M, quality_report
from fingerprints.simulator import RadioSimulator
from portal.tracking.estimate import live_estimate, score_mark, survey_noise_db
from portal.tracking.models import build_venue_model
from portal.tracking.positions import Position


def one_floor(demo_map, level: int = 0):
    venue = demo_map.copy()
    venue.samples = [s for s in demo_map.samples if s.floor == level]
    return venue


def test_a_survey_of_one_floor_counts_the_other_floors_visits_as_misses(demo_map):
    """The demo surveyed on floor 0 only: half its dwell zones are on floor 1, so the claim is about half."""
    est = live_estimate(one_floor(demo_map), max_points=16, seed=0)
    assert est.settled_zone_rate <= 0.55 and est.floor_rate <= 0.55 and est.early_zone_rate <= 0.55
    assert est.n_points == 16 and set(est.unsurveyed.values()) == {1}
    assert 0 < len(est.unsurveyed) < est.dwell_zones
    assert {f for f, *_ in est.errors_at} == {0}  # no metre error made up for a visit never simulated
    assert f"{len(est.unsurveyed)} of {est.dwell_zones} dwell zones (floor 1) have no reference points: " \
           "counted as misses" in "\n".join(est.summary_lines())


def test_a_survey_with_no_spread_assumes_the_simulators_fading(demo_map):
    """The MallPortal CSV has no spread column: an import (even of 5 scans a point) records none."""
    text, _ = samples_io.export_samples(demo_map, "mallportal")
    venue = demo_map.copy()
    venue.samples = samples_io.import_samples(venue, text.encode(), scans=5)
    assert survey_noise_db(venue) is None
    est = live_estimate(venue, max_points=4, seed=0)
    assert est.noise_assumed and est.reading_noise_db == ASSUMED_NOISE_DB
    assert RadioSimulator(demo_map).fading_db == ASSUMED_NOISE_DB  # one figure, the simulator's
    assert "reading noise 2.5 dB (assumed: the survey records none)" in "\n".join(est.summary_lines())
    surveyed = live_estimate(demo_map, max_points=4, seed=0)
    assert not surveyed.noise_assumed and surveyed.reading_noise_db == pytest.approx(survey_noise_db(demo_map))


def at(floor: int, x: float, y: float) -> Position:
    return Position(floor=floor, x=x, y=y, zone=None, confidence=1.0, zone_confidence=0.0)


def test_a_walk_point_placed_on_the_floor_above_is_a_storey_off(demo_map):
    model = build_venue_model(demo_map)
    above = at(1, 22.0, 30.0)
    mark = score_mark(model, 0.0, 0, 22.0, 30.0, above)
    assert mark.error_m == pytest.approx(STOREY_M)
    assert RadioSimulator(demo_map).floor_height_m == STOREY_M
    beside = score_mark(model, 0.0, 0, 25.0, 34.0, at(0, 22.0, 30.0))
    assert beside.error_m == pytest.approx(5.0)  # the same floor: on the plan only


def test_a_reference_point_placed_on_the_wrong_floor_is_a_storey_off(demo_map):
    """A floor-1 point surveyed with the fingerprint of the floor-0 point below it is placed on floor 0."""
    venue = demo_map.copy()
    upper = next(i for i, s in enumerate(venue.samples) if s.floor == 1)
    s = venue.samples[upper]
    below = min((t for t in venue.samples if t.floor == 0), key=lambda t: math.hypot(t.x - s.x, t.y - s.y))
    venue.samples[upper] = type(s)(s.floor, s.x, s.y, dict(below.rssi), dict(below.spread), s.n, s.zone)
    point = next(p for p in quality_report(venue, floor=1).points if p.index == upper)
    assert point.est_floor == 0
    assert point.error_m >= STOREY_M
