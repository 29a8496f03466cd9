"""bench/search.py runs end to end on small maps and prints a row per map, whatever the machine's speed (in this
process: the bench's maps and models are its own)."""

import re

import pytest

from bench.search import main

SMALL = ["--fingerprints", "600", "--aps", "60", "--queries", "40"]


def test_the_bench_prints_each_map_with_its_whole_columns_and_both_times(capsys):
    assert main([*SMALL, "--seeds", "4242", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    rows = {m.group(1).strip(): m.groups()[1:] for m in re.finditer(
        r"^(.{28})\s*(\d+) x (\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)}
    assert set(rows) == {"generated mall 4242", "bench map, random order", "bench map, survey order"}, out
    mall = rows["generated mall 4242"]
    assert int(mall[2]) > 0 and float(mall[3]) > 0  # a mall's ceiling APs are kept whole
    assert int(rows["bench map, random order"][2]) == 0  # a campus-like map's are not
    for _, _, _, _, queries, whole, none, ratio in rows.values():
        # times as numbers, not > 0: a fast machine printed 0.0 ms (then one decimal) for 40 queries on a 600-row map
        assert int(queries) == 40 and min(float(whole), float(none), float(ratio)) >= 0


@pytest.mark.parametrize("bad", [["--repeats", "0"], ["--queries", "0"]])
def test_no_pairs_or_queries_is_refused(capsys, bad):
    with pytest.raises(SystemExit) as refused:
        main([*SMALL, "--seeds", "", *bad])
    assert refused.value.code == 2 and "must be at least 1" in capsys.readouterr().err
