"""bench/floor_model.py runs end to end on a small set and prints every rule's floor rate per fold (in this process)."""

import re

import pytest

from bench.floor_model import RULES, main
from positioning.datasets import Dataset, write_mallportal

from .test_floor_model import noisy_campus


@pytest.fixture
def data_dir(tmp_path):
    X, y, _, _ = noisy_campus()
    (tmp_path / "tampere").mkdir()
    aps = [f"ap{i}" for i in range(X.shape[1])]
    write_mallportal(tmp_path / "tampere" / "train.csv", Dataset(X=X, y=y, ap_ids=aps))
    return tmp_path


def test_the_bench_prints_each_rule_per_fold_beside_the_neighbours(data_dir, capsys):
    assert main(["--data", str(data_dir), "--sets", "tampere"]) == 0
    out = capsys.readouterr().out
    assert "tampere: 5 folds by reference point" in out
    means = {}
    for rule in ("neighbours", *RULES):
        line = re.search(rf"^  {re.escape(rule)}\s+((?:[\d.]+% ){{5}}) mean ([\d.]+)%(?:  \(([+-][\d.]+) points\))?$",
                         out, re.M)
        assert line, (rule, out)
        folds = [float(rate[:-1]) for rate in line.group(1).split()]
        means[rule] = float(line.group(2))
        assert means[rule] == pytest.approx(sum(folds) / 5, abs=0.01)  # the mean of its folds, to the print's digits
        if rule != "neighbours":  # and its difference from the neighbours' mean, in points
            assert float(line.group(3)) == pytest.approx(means[rule] - means["neighbours"], abs=0.011)
    assert means[RULES[0]] != means["neighbours"]  # the classifier alone decides otherwise on these noisy queries


def test_an_unknown_set_is_refused(data_dir):
    with pytest.raises(SystemExit):
        main(["--data", str(data_dir), "--sets", "campus"])


def test_data_that_is_not_there_is_said_with_where_to_get_it(tmp_path, capsys):
    """Outside a checkout with ../shared/data beside it the default finds nothing: said, with the option to pass
    and where the sets come from, not a traceback."""
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(tmp_path / "nowhere")])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert f"no {tmp_path / 'nowhere' / 'tampere' / 'train.csv'}: the public sets are not shipped; pass --data" in said
    assert "UCI Machine Learning Repository" in said and "zenodo" in said
