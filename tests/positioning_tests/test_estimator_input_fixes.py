"""WKNNPositioner under scikit-learn's own tools, frames with named columns, and input that used to be taken
silently wrong: positive "dBm" (UJIIndoorLoc's raw 100), sparse matrices, fractional building/floor labels,
queries hearing only APs no fingerprint hears; the dataset readers' BSSID matching, format guess and
separator errors; `tune --out` checked before the cross-validation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.validation import check_is_fitted

from positioning import cli
from positioning.cli import main
from positioning.datasets import Dataset, align, read_dataset, read_ujiindoorloc, write_mallportal
from positioning.tuning import tune
from positioning.vectors import MISSING_DBM
from positioning.wknn import WKNNPositioner

from .test_vectors_datasets_cli import write_uji
from .test_wknn import campus

# -- scikit-learn's tools ---------------------------------------------------------------------------------


def test_scikit_learn_model_selection_runs_on_the_positioner():
    X, y = campus(n=240, n_aps=20)
    folds = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(WKNNPositioner(k=3), X, y, cv=folds)  # no scoring: the estimator's own score
    assert scores.shape == (3,) and (scores < 0).all() and (scores > -30).all()
    search = GridSearchCV(WKNNPositioner(), {"k": [1, 3, 5]}, cv=folds).fit(X, y)
    assert search.best_params_["k"] in (1, 3, 5) and search.best_estimator_.predict(X[:2]).shape == (2, 4)
    assert is_regressor(WKNNPositioner())


def test_not_fitted_is_scikit_learns_error():
    model = WKNNPositioner()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(np.full((1, 3), -60.0))
    with pytest.raises(NotFittedError):
        model.locate(np.full(3, -60.0))
    X, y = campus(n=100, n_aps=10)
    check_is_fitted(model.fit(X, y))


def test_score_is_minus_the_mean_2d_error_in_metres():
    X, y = campus(n=300, n_aps=20)
    model = WKNNPositioner(k=3).fit(X[:250], y[:250])
    predicted = model.predict(X[250:])
    error = np.hypot(*(predicted[:, 2:] - y[250:, 2:]).T)
    assert model.score(X[250:], y[250:]) == pytest.approx(-error.mean())
    weights = np.arange(50, dtype=float)
    assert model.score(X[250:], y[250:], sample_weight=weights) == pytest.approx(-np.average(error, weights=weights))


# -- frames: column names ---------------------------------------------------------------------------------


class Frame:
    """The part of a pandas DataFrame the positioner reads: `.columns` and the array protocol."""

    def __init__(self, values: np.ndarray, columns: list[str]) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def select(self, names: list[str]) -> Frame:
        return Frame(self.values[:, [self.columns.index(n) for n in names]], names)


def test_a_frames_columns_are_matched_by_name():
    X, y = campus(n=300, n_aps=12)
    names = [f"0c:8d:db:09:00:{i:02x}" for i in range(X.shape[1])]
    model = WKNNPositioner(k=3).fit(Frame(X[:250], names), y[:250])
    assert model.feature_names_in_.tolist() == names
    expected = model.predict(X[250:])
    reordered = Frame(X[250:], names).select(names[::-1])
    assert np.array_equal(model.predict(reordered), expected)
    assert [e.x for e in model.locate_many(reordered)] == expected[:, 2].tolist()
    one = Frame(X[250:251], names).select(names[::-1])
    assert model.locate(one).x == expected[0, 2]


def test_a_frame_naming_other_columns_is_refused():
    X, y = campus(n=100, n_aps=6)
    names = [f"ap{i}" for i in range(6)]
    model = WKNNPositioner(k=3).fit(Frame(X, names), y)
    with pytest.raises(ValueError, match=r"\['other'\] \(1\) unseen at fit; \['ap5'\] \(1\) seen at fit but missing"):
        model.predict(Frame(X, [*names[:5], "other"]))
    with pytest.raises(ValueError, match=r"\['ap5'\] \(1\) seen at fit but missing now; \['ap0'\] \(1\) named twice"):
        model.predict(Frame(X, [*names[:5], "ap0"]))
    assert model.predict(X[:3]).shape == (3, 4)  # a plain array is taken in the fitted order
    model.fit(X, y)  # refitted on an array: the names are forgotten
    assert not hasattr(model, "feature_names_in_")
    assert model.predict(Frame(X[:3], names[::-1])).shape == (3, 4)


def test_a_frame_naming_a_column_twice_is_refused_at_fit():
    """An AP is one column: a frame naming one twice could not have its queries matched by name (a reordered query
    would be refused as naming it twice), so fit refuses it, naming the duplicates."""
    X, y = campus(n=100, n_aps=6)
    names = ["ap0", "ap1", "ap2", "ap1", "ap4", "ap0"]
    with pytest.raises(ValueError, match=r"X's column names must be unique: \['ap0', 'ap1'\] \(2\) named twice"):
        WKNNPositioner(k=3).fit(Frame(X, names), y)
    assert WKNNPositioner(k=3).fit(X, y).predict(X[:2]).shape == (2, 4)  # an array has no names to repeat


def test_offset_x_is_matched_to_xs_column_names():
    X, y = campus(n=100, n_aps=6)
    names = [f"ap{i}" for i in range(6)]
    louder = np.where(X > MISSING_DBM, X + 3.0, X)  # what offsets are measured against: any other levels
    expected = WKNNPositioner(k=3).fit(Frame(X, names), y, louder)
    reordered = WKNNPositioner(k=3).fit(Frame(X, names), y, Frame(louder, names).select(names[::-1]))
    assert np.array_equal(reordered.offset_dbm_, expected.offset_dbm_)
    assert np.array_equal(reordered.offset_aps_, expected.offset_aps_)
    with pytest.raises(ValueError, match=r"offset_X's column names are not X's: \['other'\] \(1\) not in X; "
                                         r"\['ap5'\] \(1\) in X but missing"):
        WKNNPositioner(k=3).fit(Frame(X, names), y, Frame(louder, [*names[:5], "other"]))
    # an array beside a frame is taken in X's order, as a query is
    assert np.array_equal(WKNNPositioner(k=3).fit(Frame(X, names), y, louder).offset_dbm_, expected.offset_dbm_)


# -- input refused ----------------------------------------------------------------------------------------


def test_positive_dbm_is_refused_naming_ujiindoorlocs_100():
    X, y = campus(n=100, n_aps=10)
    raw = np.where(X <= MISSING_DBM, 100.0, X)  # UJIIndoorLoc's file values, read with numpy
    with pytest.raises(ValueError, match="above 0 dBm .*largest 100.*100 for 'not heard'"):
        WKNNPositioner().fit(raw, y)
    model = WKNNPositioner(k=3).fit(X, y)
    with pytest.raises(ValueError, match="above 0 dBm"):
        model.predict(raw[:2])
    with pytest.raises(ValueError, match="above 0 dBm"):
        model.locate(raw[0])
    assert model.predict(np.minimum(X[:2], 0.0)).shape == (2, 4)  # 0 dBm itself is a reading


def test_sparse_input_is_refused():
    X, y = campus(n=100, n_aps=10)
    with pytest.raises(ValueError, match="sparse matrix"):
        WKNNPositioner().fit(sparse.csr_matrix(X), y)
    model = WKNNPositioner(k=3).fit(X, y)
    with pytest.raises(ValueError, match="sparse matrix"):
        model.predict(sparse.csr_matrix(X[:2]))
    with pytest.raises(ValueError, match="sparse matrix"):
        model.locate(sparse.csr_matrix(X[:1]))


def test_fractional_building_or_floor_labels_are_refused():
    X, y = campus(n=90, n_aps=10)
    mezzanine = y.copy()
    mezzanine[30, 1] = 0.5
    with pytest.raises(ValueError, match="floor \\(column 1\\) must be a whole number.*row 30 has 0.5"):
        WKNNPositioner().fit(X, mezzanine)
    building = y.copy()
    building[3, 0] = 1.25
    with pytest.raises(ValueError, match="building \\(column 0\\) must be a whole number"):
        WKNNPositioner().fit(X, building)
    WKNNPositioner().fit(X, y + np.array([0.0, 0.0, 0.5, 0.25]))  # x/y are metres: fractions are fine


# -- APs no fingerprint hears -----------------------------------------------------------------------------


def _with_an_unsurveyed_ap(n=200):
    """The campus plus a last column no fingerprint hears (an AP installed after the survey)."""
    X, y = campus(n=n, n_aps=10)
    return np.column_stack([X, np.full(n, MISSING_DBM)]), y


def test_a_query_hearing_only_unsurveyed_aps_is_not_located():
    X, y = _with_an_unsurveyed_ap()
    model = WKNNPositioner(k=3).fit(X, y)
    lone = np.full(X.shape[1], MISSING_DBM)
    lone[-1] = -50.0
    with pytest.raises(ValueError, match="hears no known access point"):
        model.locate(lone)
    with pytest.raises(ValueError, match="hears no known access point"):
        model.locate(lone, partial=True)
    batch = np.vstack([X[0], lone, X[1]])
    with pytest.raises(ValueError, match="query row 1 hears no known access point"):
        model.predict(batch)
    with pytest.raises(ValueError, match="query row 1 hears no known access point"):
        model.locate_many(batch)
    also = X[0].copy()
    also[-1] = -50.0  # an unsurveyed AP beside known ones: located as before
    assert model.locate(also).floor == model.locate(X[0]).floor
    assert model.hears_known(np.vstack([X[0], lone, also])).tolist() == [True, False, True]


def test_a_map_hearing_nothing_is_refused_and_a_silent_row_kept():
    X, y = campus(n=50, n_aps=6)
    with pytest.raises(ValueError, match="no training row hears any access point"):
        WKNNPositioner().fit(np.full_like(X, MISSING_DBM), y)
    X[0] = MISSING_DBM  # a surveyed spot where nothing is heard: kept, as before
    model = WKNNPositioner(k=3).fit(X, y)
    assert model.predict(X[1:3]).shape == (2, 4)


def test_tune_leaves_out_held_out_queries_hearing_only_aps_their_fold_does_not():
    """An AP heard at one reference point only: held out, that point hears nothing its fold's map hears."""
    X, y = _with_an_unsurveyed_ap(n=200)
    lone = np.full((5, X.shape[1]), MISSING_DBM)
    lone[:, -1] = -50.0
    spot = np.tile([0.0, 0.0, 10.0, 10.0], (5, 1))
    result = tune(np.vstack([X, lone]), np.vstack([y, spot]), None, grid={"k": (3,)}, folds=3)
    assert result.unmatched == 5 and any("5 held-out queries heard only APs" in note for note in result.notes)


def test_evaluate_counts_a_test_vector_hearing_only_unsurveyed_aps_as_unknown(tmp_path, capsys):
    X, y = _with_an_unsurveyed_ap(n=120)
    ids = [f"ap{i}" for i in range(X.shape[1])]
    write_mallportal(tmp_path / "train.csv", Dataset(X=X[:100], y=y[:100], ap_ids=ids))
    test_X = X[100:].copy()
    test_X[0] = MISSING_DBM
    test_X[0, -1] = -50.0
    write_mallportal(tmp_path / "test.csv", Dataset(X=test_X, y=y[100:], ap_ids=ids))
    assert main(["evaluate", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                 "--quiet", "--no-baselines"]) == 2
    assert "1 test vectors hear no access point known to the training set" in capsys.readouterr().err


# -- dataset files ----------------------------------------------------------------------------------------


def test_align_matches_bssids_in_any_notation():
    X, y = campus(n=20, n_aps=4)
    train_ids = [f"0C:8D:DB:09:00:{i:02X}" for i in range(4)]
    for notation in (str.lower, lambda m: m.replace(":", "-"), lambda m: m.lower().replace(":", "")):
        test = Dataset(X=X, y=y, ap_ids=[notation(m) for m in reversed(train_ids)])
        assert np.array_equal(align(test, train_ids), X[:, ::-1])


def _uji_lines(tmp_path, n=60) -> list[str]:
    X, y = campus(n=n, n_aps=8)
    write_uji(tmp_path / "plain.csv", X, y)
    return (tmp_path / "plain.csv").read_text().splitlines()


def test_format_guessed_from_a_quoted_header_and_a_leading_index_column(tmp_path):
    lines = _uji_lines(tmp_path)
    plain = read_dataset(tmp_path / "plain.csv")
    quoted = tmp_path / "quoted.csv"  # R's write.csv, pandas' QUOTE_NONNUMERIC
    quoted.write_text("\n".join([",".join(f'"{n}"' for n in lines[0].split(",")), *lines[1:]]) + "\n")
    indexed = tmp_path / "indexed.csv"  # pandas' to_csv default: the index, unnamed, first
    indexed.write_text("\n".join([f",{lines[0]}", *(f"{i},{line}" for i, line in enumerate(lines[1:]))]) + "\n")
    for path in (quoted, indexed):
        data = read_dataset(path)
        assert np.array_equal(data.X, plain.X) and np.array_equal(data.y, plain.y) and data.ap_ids == plain.ap_ids


def test_a_header_of_neither_layout_names_both(tmp_path):
    (tmp_path / "other.csv").write_text("lon,lat,ap1\n1,2,-60\n")
    with pytest.raises(ValueError, match="neither layout: UJIIndoorLoc's has WAP001.*MallPortal's starts "
                                         "building,floor,x,y,zone.*this one starts lon,lat,ap1"):
        read_dataset(tmp_path / "other.csv")


@pytest.mark.parametrize("sep, name", [(";", "';'"), ("\t", "tabs")])
def test_a_file_separated_otherwise_says_so(tmp_path, sep, name):
    lines = _uji_lines(tmp_path)
    path = tmp_path / "sep.csv"
    path.write_text("\n".join(line.replace(",", sep) for line in lines) + "\n")
    for read in (read_dataset, read_ujiindoorloc):
        with pytest.raises(ValueError, match=f"seems separated by {name}; comma-separated values are expected"):
            read(path)
    mall = tmp_path / "mall.csv"
    mall.write_text(sep.join(["building", "floor", "x", "y", "zone", "ap1"]) + "\n" + sep.join("0013,-60") + "\n")
    with pytest.raises(ValueError, match=f"seems separated by {name}"):
        read_dataset(mall)


# -- tune --out -------------------------------------------------------------------------------------------


def test_tune_checks_out_before_reading_or_cross_validating(tmp_path, capsys, monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("ran before --out was checked")

    monkeypatch.setattr(cli, "read_dataset", never)
    monkeypatch.setattr(cli, "tune", never)
    train = str(tmp_path / "train.csv")
    assert main(["tune", "--train", train, "--out", str(tmp_path / "nope" / "venue.json"), "--quiet"]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["tune", "--train", train, "--out", str(tmp_path), "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_tune_out_is_replaced_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    X, y = campus(n=60, n_aps=6)
    write_uji(tmp_path / "train.csv", X, y)
    out = tmp_path / "venue.json"
    out.write_text('{"k": 7}\n')
    result = SimpleNamespace(n_splits=2, folds_dropped=0, n_groups=3, group_kind="phone", rows=[], trusted=True,
                             warnings=[], notes=[], config={"k": 3})
    monkeypatch.setattr(cli, "tune", lambda *_a, **_k: result)

    def half_written(_value, fh, **_kwargs):
        fh.write('{"k": ')
        raise OSError("No space left on device")

    with monkeypatch.context() as m:
        m.setattr(cli.json, "dump", half_written)
        assert main(["tune", "--train", str(tmp_path / "train.csv"), "--out", str(out), "--quiet"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert out.read_text() == '{"k": 7}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["train.csv", "venue.json"]
    assert main(["tune", "--train", str(tmp_path / "train.csv"), "--out", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["k"] == 3 and (out.stat().st_mode & 0o777) != 0o600
    capsys.readouterr()
