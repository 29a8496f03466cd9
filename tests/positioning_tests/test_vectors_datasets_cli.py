"""RSSI vectors, dataset readers (UJIIndoorLoc layout and ours) and the evaluate CLI."""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from positioning.cli import LOGGED_PROGRESS_S, main
from positioning.datasets import Dataset, read_dataset, read_mallportal, read_ujiindoorloc, write_mallportal
from positioning.vectors import MISSING_DBM, build_vector

from .test_wknn import campus

APS = ["aa", "bb", "cc"]


def test_vector_median_window_and_missing():
    readings = {"aa": [(100, -60), (101, -70), (102, -62)], "bb": [(10, -50)], "zz": [(101, -40)]}
    v = build_vector(readings, APS, now=102, window_s=60)
    assert v.tolist() == [-62, MISSING_DBM, MISSING_DBM]  # bb too old, zz unknown, cc unheard
    assert build_vector({"aa": [-80, -70]}, APS, agg="max")[0] == -70


def test_vector_errors():
    with pytest.raises(ValueError, match="no known AP"):
        build_vector({"zz": [-50]}, APS)
    with pytest.raises(ValueError, match="aggregate"):
        build_vector({"aa": [-50]}, APS, agg="mode")


def write_uji(path, X, y, phone=None):
    header = [f"WAP{i + 1:03d}" for i in range(X.shape[1])] + [
        "LONGITUDE", "LATITUDE", "FLOOR", "BUILDINGID", "SPACEID", "RELATIVEPOSITION", "USERID", "PHONEID",
        "TIMESTAMP"]
    lines = [",".join(header)]
    for i, (xrow, yrow) in enumerate(zip(X, y, strict=True)):
        phone_id = i % 3 if phone is None else phone if np.isscalar(phone) else phone[i]  # one, or one per row
        cells = ["100" if v <= MISSING_DBM else f"{v:g}" for v in xrow]
        lines.append(",".join(cells + [f"{yrow[2]:g}", f"{yrow[3]:g}", f"{yrow[1]:g}", f"{yrow[0]:g}",
                                       "1", "2", "1", str(phone_id), "0"]))
    path.write_text("\n".join(lines) + "\n")


def test_uji_reader_maps_100_to_missing(tmp_path):
    X, y = campus(n=20, n_aps=6)
    write_uji(tmp_path / "t.csv", X, y)
    data = read_ujiindoorloc(tmp_path / "t.csv")
    assert data.X.shape == (20, 6) and data.ap_ids[0] == "WAP001"
    assert np.array_equal(data.X, X) and np.allclose(data.y, y)
    assert data.groups is not None and set(data.groups) == {0, 1, 2}


def test_uji_layout_with_another_not_heard_value_is_read(tmp_path):
    """Other packagings of public data in this layout write "not heard" as -110 or -200, and simulated sets go
    below -120: anything under the floor is not heard, not a refused file."""
    (tmp_path / "low.csv").write_text("WAP001,WAP002,WAP003,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n"
                                      "-200,-64,-131,1,2,0,0\n-70,-200,100,3,4,1,0\n")
    data = read_ujiindoorloc(tmp_path / "low.csv")
    assert data.X.tolist() == [[MISSING_DBM, -64, MISSING_DBM], [-70, MISSING_DBM, MISSING_DBM]]


def test_mallportal_roundtrip(tmp_path):
    X, y = campus(n=15, n_aps=5)
    data = Dataset(X=X, y=y, ap_ids=[f"00:11:22:33:44:{i:02x}" for i in range(5)], zones=["a", None] * 7 + ["b"])
    write_mallportal(tmp_path / "m.csv", data)
    back = read_dataset(tmp_path / "m.csv")
    assert np.array_equal(back.X, X) and np.allclose(back.y, y)
    assert back.zones == data.zones and back.ap_ids == data.ap_ids


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("WAP001,LONGITUDE\n-50,1\n", "not the UJIIndoorLoc layout"),
    ("WAP001,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n-50,1,2,x,0\n", "not a number"),
    ("WAP001,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n50,1,2,0,0\n", "dBm"),
    ("WAP001,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n-50,1\n", "fields"),
])
def test_uji_reader_rejects_bad_files(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        read_ujiindoorloc(tmp_path / "bad.csv")


def test_mallportal_reader_rejects_wrong_header(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="header"):
        read_mallportal(tmp_path / "bad.csv")


def test_evaluate_json_has_the_documented_keys(tmp_path, capsys):
    X, y = campus(n=400)
    write_uji(tmp_path / "train.csv", X[:300], y[:300])
    write_uji(tmp_path / "test.csv", X[300:], y[300:])
    code = main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                 "--json", "--quiet"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"building_hit_rate", "floor_hit_rate", "mean_error_m", "median_error_m",
                           "p75_error_m", "p95_error_m", "zone_hit_rate", "n_test", "fit_seconds",
                           "predict_seconds"}
    assert report["n_test"] == 100 and report["zone_hit_rate"] is None
    assert report["building_hit_rate"] == 1.0 and report["mean_error_m"] < 10


def test_evaluate_reports_zone_hit_rate_for_our_format(tmp_path, capsys):
    X, y = campus(n=300)
    zones = ["left" if x < 25 else "right" for x in y[:, 2] % 100]
    ids = [f"ap{i}" for i in range(X.shape[1])]
    write_mallportal(tmp_path / "a.csv", Dataset(X=X[:200], y=y[:200], ap_ids=ids, zones=zones[:200]))
    write_mallportal(tmp_path / "b.csv", Dataset(X=X[200:], y=y[200:], ap_ids=ids, zones=zones[200:]))
    assert main(["evaluate", "--train", str(tmp_path / "a.csv"), "--test", str(tmp_path / "b.csv"),
                 "--json", "--quiet", "--no-baselines"]) == 0
    assert 0.5 < json.loads(capsys.readouterr().out)["zone_hit_rate"] <= 1.0


def test_evaluate_human_output_shows_baselines(tmp_path, capsys):
    X, y = campus(n=200)
    write_uji(tmp_path / "train.csv", X[:150], y[:150])
    write_uji(tmp_path / "test.csv", X[150:], y[150:])
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "MallPortal WKNN" in out and "sklearn kNN" in out and "floor" in out


def test_evaluate_missing_file_exits_2(tmp_path, capsys):
    assert main(["evaluate", "--train", str(tmp_path / "nope.csv"), "--test", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err.lower()


def test_tune_runs_grouped_cross_validation(tmp_path, capsys):
    X, y = campus(n=300)
    write_uji(tmp_path / "train.csv", X, y)
    assert main(["tune", "--train", str(tmp_path / "train.csv"), "--folds", "3", "--per-fold", "40",
                 "--ks", "1", "3", "--grid", "offset_search_db=0", "--grid", "unheard_weight=1"]) == 0
    out = capsys.readouterr().out
    assert "sorensen" in out and "floor hit" in out


def test_tune_written_to_a_log_redraws_its_bar_seldom_and_still_ends_at_the_whole(tmp_path):
    X, y = campus(n=300)
    write_uji(tmp_path / "train.csv", X, y)
    log = tmp_path / "tune.log"
    started = time.monotonic()
    with log.open("w") as stderr:  # a file, not a terminal: as a cron job or CI writes it
        done = subprocess.run([sys.executable, "-m", "positioning", "tune", "--train", str(tmp_path / "train.csv"),
                               "--folds", "3", "--per-fold", "40", "--ks", "1", "3", "5"], stderr=stderr,
                              stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    elapsed = time.monotonic() - started
    assert done.returncode == 0
    redraws = [part for part in log.read_text().replace("\n", "\r").split("\r") if "folds x fits" in part]
    # the first draw, the last, and at most one every LOGGED_PROGRESS_S between (a terminal gets one per fit)
    assert 2 <= len(redraws) <= 2 + math.ceil(elapsed / LOGGED_PROGRESS_S)
    assert "100%" in redraws[-1]
