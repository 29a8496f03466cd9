"""Map quality report on the demo mall: leave-one-point-out numbers, confusion, weak spots, PNG plots."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
from PIL import Image

from fingerprints.quality import (
    ENGLISH,
    ChartWords,
    LeaveOutPositioner,
    ap_heatmap_png,
    cjk_font_family,
    confusion_png,
    drawable_words,
    error_grid,
    error_heatmap_png,
    quality_report,
    training_set,
    write_report_pngs,
)
from fingerprints.training import live_params, offset_reference
from positioning import WKNNPositioner

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(demo_map):
    return quality_report(demo_map)


def test_plausible_numbers_on_the_demo_mall(demo_map, report):
    assert report.n_points == len(demo_map.samples)
    assert report.zone_hit_rate > 0.8
    assert report.floor_hit_rate > 0.95
    assert 0.5 < report.median_error_m < 6.0
    assert report.mean_error_m <= report.p95_error_m
    assert [f.level for f in report.floors] == [0, 1]
    assert sum(f.n_points for f in report.floors) == report.n_points
    assert all(f.zone_hit_rate > 0.8 for f in report.floors)
    # leaving the point out really matters: in-sample the point would be its own nearest neighbour
    assert all(p.error_m > 0 for p in report.points)
    assert report.seconds < 60


def test_leaving_a_point_out_equals_refitting_without_it(demo_map, report):
    """The fit-once shortcut gives exactly what a refit without the left-out row gives (the offset measured
    against the same reference as the live model's)."""
    ap_ids, X, y = training_set(demo_map)
    reference = offset_reference(demo_map, ap_ids, X, y)
    for i in (0, 417, 800, 1599):
        keep = np.arange(len(X)) != i
        refit = WKNNPositioner(**live_params(demo_map)).fit(X[keep], y[keep], reference[keep]).locate(X[i])
        p = report.points[i]
        assert (refit.floor, refit.x, refit.y) == pytest.approx((p.est_floor, p.est_x, p.est_y))


def test_the_report_measures_offsets_as_the_live_model_does(demo_map, monkeypatch):
    """The report's model measures a phone's offset against the survey with its unlisted APs estimated, as the live
    model does (`offset_reference`), not against the listed levels alone."""
    fitted = []
    real_fit = LeaveOutPositioner.fit

    def spy(self, X, y, offset_X=None):
        fitted.append(offset_X)
        return real_fit(self, X, y, offset_X)
    monkeypatch.setattr(LeaveOutPositioner, "fit", spy)
    quality_report(demo_map, floor=1)
    ap_ids, X, y = training_set(demo_map)
    assert len(fitted) == 1 and np.array_equal(fitted[0], offset_reference(demo_map, ap_ids, X, y))


def test_the_leave_out_model_is_the_production_model(demo_map):
    from portal.tracking.models import build_venue_model

    production = build_venue_model(demo_map).positioner
    ap_ids, X, y = training_set(demo_map)
    mine = LeaveOutPositioner(**WKNNPositioner(**live_params(demo_map)).get_params()).fit(
        X, y, offset_reference(demo_map, ap_ids, X, y))
    assert mine.get_params() == production.get_params()
    assert mine.locate(X[5]) == production.locate(X[5])  # nothing excluded: identical


def test_confusion_matrix(report):
    c = np.asarray(report.confusion)
    assert c.shape == (len(report.zone_labels),) * 2
    assert c.sum() == report.n_points
    assert np.trace(c) / c.sum() == pytest.approx(report.zone_hit_rate)
    assert "cinema" in report.zone_labels and "garage" in report.zone_labels


def test_one_floor_only(demo_map):
    r = quality_report(demo_map, floor=1)
    assert r.n_points == sum(s.floor == 1 for s in demo_map.samples)
    assert [f.level for f in r.floors] == [1]
    with pytest.raises(ValueError, match="no floor 9"):
        quality_report(demo_map, floor=9)


def test_weak_spots(demo_map):
    venue = copy.deepcopy(demo_map)
    silent = venue.aps[7].bssid
    for s in venue.samples:
        s.rssi.pop(silent, None)
    venue.samples[0].n = 1
    venue.samples[1].rssi = dict(sorted(venue.samples[1].rssi.items(), key=lambda kv: -kv[1])[:2])
    # make two zones look alike: the kopi samples carry the books fingerprints
    books = [s for s in venue.samples if s.zone == "books"]
    for k, s in enumerate([s for s in venue.samples if s.zone == "kopi"]):
        s.rssi = dict(books[k % len(books)].rssi)
    calls = []
    r = quality_report(venue, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (len(venue.samples), len(venue.samples))
    assert silent in r.weak.silent_aps
    assert {"floor": 0, "x": venue.samples[0].x, "y": venue.samples[0].y, "n": 1} in r.weak.few_samples
    assert any(w["x"] == venue.samples[1].x and w["y"] == venue.samples[1].y for w in r.weak.few_aps)
    pairs = {(p["a"], p["b"]) for p in r.weak.alike_zones}
    assert ("kopi", "books") in pairs
    assert len(r.weak.worst_points) == 10
    text = "\n".join(r.summary_lines())
    assert silent in text and "kopi / books" in text


def test_no_samples(demo_map):
    venue = copy.deepcopy(demo_map)
    venue.samples = []
    with pytest.raises(ValueError, match="no fingerprint samples"):
        quality_report(venue)


def _image(data: bytes) -> Image.Image:
    assert data.startswith(PNG)
    image = Image.open(io.BytesIO(data))
    image.verify()
    return Image.open(io.BytesIO(data))


def test_pngs(demo_map, report):
    assert _image(confusion_png(report)).size[0] > 300
    heat = _image(error_heatmap_png(demo_map, report, 0))
    assert heat.size[0] > heat.size[1] > 200  # the plan is twice as wide as deep
    assert _image(ap_heatmap_png(demo_map, demo_map.aps[12].bssid)).size[0] > 300
    assert _image(ap_heatmap_png(demo_map, demo_map.aps[12].bssid.upper(), level=0)).size[0] > 300
    with pytest.raises(ValueError, match="no AP"):
        ap_heatmap_png(demo_map, "00:00:00:00:00:01")
    with pytest.raises(ValueError):
        ap_heatmap_png(demo_map, "not-a-bssid")


ZH_WORDS = ChartWords(x_m="x（米）", y_m="y（米）", expected_error_m="预计误差（米）",
                      error_title="%(venue)s：%(floor)s 层预计误差", estimated_zone="估计区域", true_zone="实际区域",
                      confusion_title="%(venue)s：区域混淆，%(scope)s（命中率 %(rate)s）", floor_scope="%(floor)s 层",
                      rssi_dbm="信号强度（dBm）", ap_title="%(ap)s（%(bssid)s）在 %(floor)s 层")


def test_charts_draw_a_pages_chinese_words_without_boxes(demo_map, report, recwarn):
    """A zh page's charts carry its words, drawn in a CJK font (matplotlib warns of each glyph it must draw as a
    box); with no such font on the machine they keep their English words instead."""
    if cjk_font_family() is None:
        pytest.skip("no font with Chinese glyphs on this machine (fc-list :lang=zh): charts stay English")
    drawn = {"confusion": confusion_png(report, ZH_WORDS),
             "error": error_heatmap_png(demo_map, report, 0, words=ZH_WORDS),
             "ap": ap_heatmap_png(demo_map, demo_map.aps[12].bssid, words=ZH_WORDS)}
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
    assert drawn["confusion"] != confusion_png(report)  # not the English chart
    assert all(_image(png).size[0] > 300 for png in drawn.values())


def test_without_a_chinese_font_charts_keep_english_words(monkeypatch):
    monkeypatch.setattr("fingerprints.quality.cjk_font_family", lambda: None)
    assert drawable_words(ZH_WORDS) == ENGLISH
    assert drawable_words(ENGLISH) == ENGLISH


def test_error_grid_covers_the_plan(demo_map, report):
    xs, ys, z = error_grid(demo_map, report, 1, cell_m=2.0)
    assert z.shape == (len(ys), len(xs)) == (30, 60)
    assert np.isfinite(z).all() and z.min() >= 0
    assert np.median(z) == pytest.approx(report.floors[1].median_error_m, rel=0.5)


def test_report_to_dict_is_json_ready(report):
    import json

    data = json.loads(json.dumps(report.to_dict(), default=float))
    assert data["zone_hit_rate"] == report.zone_hit_rate and "points" not in data


def test_write_report_pngs(demo_map, tmp_path):
    r = quality_report(demo_map, floor=1)
    written = write_report_pngs(demo_map, r, tmp_path, ap_heatmaps=False)  # (the CLI test writes those)
    assert {p.name for p in written} == {"confusion.png", "error-floor1.png"}
    assert all(p.read_bytes().startswith(PNG) for p in written)
