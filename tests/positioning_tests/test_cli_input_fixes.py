"""`python -m positioning tune / evaluate` on files that used to be accepted wrongly or to fail with an error
that did not say what was wrong: a column named twice, a survey whose held-out readings a simulated phone
offset silences, a training file smaller than a baseline's k, an empty cell."""

from __future__ import annotations

import numpy as np
import pytest

from positioning import baselines, perturb, tuning
from positioning.cli import main
from positioning.datasets import Dataset, read_dataset, read_mallportal, read_ujiindoorloc, write_mallportal
from positioning.tuning import tune
from positioning.vectors import MISSING_DBM

from .test_vectors_datasets_cli import write_uji
from .test_wknn import campus

HEADER = "building,floor,x,y,zone,AP1,AP2,AP3\n"
# Three reference points, the last two heard only just above -105 dBm: the simulated +-5 dB phone offset of
# a one-phone survey's held-out readings silences them.
THREE_POINTS = HEADER + "0,1,10,10,,-60,-70,-80\n0,1,20,10,,-104,,\n0,1,30,10,,-103,-104,\n"
ALL_WEAK = HEADER + "0,1,10,10,,-101,,\n0,1,20,10,,-104,-102,\n0,1,30,10,,,-103,-104\n"


def _softer(db: float):
    """shift_rssi as a phone reading every held-out vector `db` dB softer (the worst of +-db), not at random."""
    return lambda X, _offsets: perturb.shift_rssi(X, -db)


def _survey(tmp_path, text: str) -> Dataset:
    (tmp_path / "survey.csv").write_text(text)
    return read_dataset(tmp_path / "survey.csv")


# -- a column named twice ---------------------------------------------------------------------------------


def _export_with_first_ap_repeated(tmp_path, n=800):
    X, y = campus(n=n, n_aps=12)
    ids = [f"0c:8d:db:09:00:{i:02x}" for i in range(X.shape[1])]
    path = tmp_path / "survey.csv"
    write_mallportal(path, Dataset(X=X, y=y, ap_ids=ids))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line + "," + line.split(",")[5] for line in lines) + "\n")
    return path, ids[0]


def test_our_format_refuses_an_ap_column_named_twice(tmp_path):
    path, first = _export_with_first_ap_repeated(tmp_path)
    with pytest.raises(ValueError, match=f"column '{first}' appears twice \\(columns 6 and 18\\)"):
        read_mallportal(path)


def test_tune_and_evaluate_refuse_an_ap_column_named_twice(tmp_path, capsys):
    path, first = _export_with_first_ap_repeated(tmp_path)
    assert main(["tune", "--train", str(path), "--quiet", "--grid", "k=3"]) == 2
    captured = capsys.readouterr()
    assert f"column '{first}' appears twice" in captured.err and "trusted" not in captured.out
    assert main(["evaluate", "--train", str(path), "--test", str(path), "--quiet"]) == 2
    assert f"column '{first}' appears twice" in capsys.readouterr().err


def test_the_same_ap_written_twice_another_way_is_named_too(tmp_path):
    """BSSIDs compare as the APs they name: case and notation do not make another AP."""
    (tmp_path / "s.csv").write_text("building,floor,x,y,zone,0c:8d:db:09:00:01,0C-8D-DB-09-00-01\n0,0,1,1,,-60,-61\n")
    with pytest.raises(ValueError, match="column '0C-8D-DB-09-00-01' appears twice .*'0c:8d:db:09:00:01'"):
        read_dataset(tmp_path / "s.csv")
    (tmp_path / "t.csv").write_text("building,floor,x,y,zone,AP1,x\n0,0,1,1,,-60,-61\n")  # an AP named like a target
    with pytest.raises(ValueError, match="column 'x' appears twice"):
        read_mallportal(tmp_path / "t.csv")


@pytest.mark.parametrize("repeated", ["WAP002", "LONGITUDE", "FLOOR"])
def test_the_ujiindoorloc_layout_refuses_a_column_named_twice(tmp_path, repeated):
    X, y = campus(n=20, n_aps=4)
    write_uji(tmp_path / "u.csv", X, y)
    lines = (tmp_path / "u.csv").read_text().splitlines()
    col = lines[0].split(",").index(repeated)
    (tmp_path / "u.csv").write_text("\n".join(line + "," + line.split(",")[col] for line in lines) + "\n")
    with pytest.raises(ValueError, match=f"column '{repeated}' appears twice"):
        read_ujiindoorloc(tmp_path / "u.csv")


# -- tune on a survey the simulated phone offset silences ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tune_on_a_tiny_weak_survey_never_says_x_is_empty(tmp_path, capsys, seed):
    """The reviewer's survey and seeds: each emptied a fold, and tune stopped with `error: X is empty`."""
    (tmp_path / "s.csv").write_text(THREE_POINTS)
    assert main(["tune", "--train", str(tmp_path / "s.csv"), "--seed", str(seed), "--quiet", "--grid", "k=1,2"]) == 0
    captured = capsys.readouterr()
    assert "X is empty" not in captured.err and "chosen:" in captured.out and "NOT TRUSTED" in captured.out


def test_a_fold_left_with_nothing_to_score_is_dropped_and_said(tmp_path, monkeypatch):
    monkeypatch.setattr(tuning, "shift_rssi", _softer(5.0))
    data = _survey(tmp_path, THREE_POINTS)
    result = tune(data.X, data.y, None, grid={"k": (1,)}, seed=0)
    # Point 1 (-60 dBm) is still heard 5 dB softer; points 2 and 3 (-104, -103/-104) are not: their folds go.
    assert result.n_splits == 1 and result.folds_dropped == 2 and result.unscored == 2
    assert any("dropped" in w and "of 3" in w for w in result.warnings) and not result.trusted
    assert any("2 held-out queries heard no AP" in n and "left out of the scoring" in n for n in result.notes)
    assert "dropped" in result.verdict()["warnings"]  # what positioning-tune stores beside the choice


def test_a_query_silenced_in_a_fold_that_still_scores_is_counted(monkeypatch):
    monkeypatch.setattr(tuning, "shift_rssi", _softer(5.0))
    X, y = campus(n=120, n_aps=12)
    X[:10] = MISSING_DBM
    X[:10, 0] = -103.0  # ten scans heard once, just above hearing: silenced 5 dB softer
    result = tune(X, y, None, grid={"k": (1,)}, folds=2, per_fold=1000, seed=0)
    assert result.n_splits == 2 and result.folds_dropped == 0 and result.unscored == 10
    assert any(n.startswith("10 held-out queries heard no AP") for n in result.notes)


def test_when_no_fold_can_be_scored_tune_says_the_survey_is_too_small_or_weak(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tuning, "shift_rssi", _softer(5.0))
    data = _survey(tmp_path, ALL_WEAK)
    with pytest.raises(ValueError, match="too small or too weak to cross-validate"):
        tune(data.X, data.y, None, grid={"k": (1,)})
    assert main(["tune", "--train", str(tmp_path / "survey.csv"), "--quiet", "--grid", "k=1"]) == 2
    err = capsys.readouterr().err
    assert "too small or too weak to cross-validate" in err and "X is empty" not in err


@pytest.mark.parametrize("flag, value", [("--per-fold", "0"), ("--folds", "1")])
def test_tune_says_what_is_wrong_with_a_fold_setting(tmp_path, capsys, flag, value):
    (tmp_path / "s.csv").write_text(THREE_POINTS)
    assert main(["tune", "--train", str(tmp_path / "s.csv"), flag, value, "--quiet", "--grid", "k=1"]) == 2
    err = capsys.readouterr().err
    assert "at least 2 folds and 1 test vector per fold" in err and "X is empty" not in err


# -- baselines on fewer training rows than their k -------------------------------------------------------------


def test_evaluate_on_one_training_row_runs_the_baselines_with_k_1(tmp_path, capsys):
    rows = THREE_POINTS.splitlines()
    (tmp_path / "train.csv").write_text("\n".join(rows[:2]) + "\n")
    (tmp_path / "test.csv").write_text("\n".join([rows[0], rows[2], rows[3]]) + "\n")
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "MallPortal WKNN" in captured.out and captured.err == ""
    assert "sklearn kNN, Euclidean, k=1 (5 asked, 1 training row), raw dBm" in captured.out
    assert "sklearn kNN, Euclidean, k=1 (3 asked, 1 training row), powed" in captured.out


def test_baseline_k_comes_down_to_the_training_rows_only_when_it_must():
    X, y = campus(n=40, n_aps=8)
    assert baselines.baseline_label("sklearn kNN, Euclidean, k=5, raw dBm", 5, 3) == \
        "sklearn kNN, Euclidean, k=3 (5 asked, 3 training rows), raw dBm"
    assert baselines.baseline_label("sklearn kNN, Euclidean, k=3, powed", 3, 3) == "sklearn kNN, Euclidean, k=3, powed"
    predicted = baselines.baseline_predict(X[:2], y[:2], X[2:], "raw", 5)
    assert predicted.shape == (38, 4)


# -- an empty or unreadable cell names its column and line -----------------------------------------------------


def test_a_missing_x_names_the_column_and_the_line(tmp_path, capsys):
    # line 3 is blank: the bad row is line 4 of the file, as an editor shows it
    (tmp_path / "s.csv").write_text(HEADER + "0,1,10,10,,-60,-70,-80\n\n0,1,,10,,-60,,\n")
    with pytest.raises(ValueError, match=r"s\.csv: line 4, column x: is empty; a number is needed"):
        read_mallportal(tmp_path / "s.csv")
    assert main(["evaluate", "--train", str(tmp_path / "s.csv"), "--test", str(tmp_path / "s.csv")]) == 2
    assert "line 4, column x: is empty" in capsys.readouterr().err


@pytest.mark.parametrize("cell, message", [("abc", "'abc' is not a number"), ("nan", "'nan' is not a finite")])
def test_an_unreadable_cell_names_its_column(tmp_path, cell, message):
    (tmp_path / "s.csv").write_text(HEADER + f"0,1,10,10,,-60,{cell},-80\n")
    with pytest.raises(ValueError, match=f"line 2, column AP2: {message}"):
        read_mallportal(tmp_path / "s.csv")
    (tmp_path / "u.csv").write_text(f"WAP001,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n-50,1,2,{cell},0\n")
    with pytest.raises(ValueError, match=f"line 2, column FLOOR: {message}"):
        read_ujiindoorloc(tmp_path / "u.csv")


def test_evaluate_on_test_vectors_a_perturbation_silences_entirely_is_an_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / "s.csv").write_text(THREE_POINTS)
    assert main(["evaluate", "--train", str(tmp_path / "s.csv"), "--test", str(tmp_path / "s.csv"),
                 "--rssi-offset", "-60", "--quiet"]) == 2
    assert "hear nothing once perturbed" in capsys.readouterr().err


def test_readers_still_read_good_files(tmp_path):
    X, y = campus(n=30, n_aps=5)
    write_mallportal(tmp_path / "m.csv", Dataset(X=X, y=y, ap_ids=[f"ap{i}" for i in range(5)]))
    assert np.array_equal(read_mallportal(tmp_path / "m.csv").X, X)
