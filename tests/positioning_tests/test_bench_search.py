"""bench/search.py runs end to end on small maps and prints a row per map, whatever the machine's speed."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "search.py"), "--fingerprints", "600", "--aps", "60",
                           "--queries", "40", *args], capture_output=True, text=True, timeout=600)


def test_the_bench_prints_each_map_with_its_whole_columns_and_both_times():
    done = run_bench("--seeds", "4242", "--repeats", "2")
    assert done.returncode == 0, done.stderr
    rows = {m.group(1).strip(): m.groups()[1:] for m in re.finditer(
        r"^(.{28})\s*(\d+) x (\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", done.stdout, re.M)}
    assert set(rows) == {"generated mall 4242", "bench map, random order", "bench map, survey order"}, done.stdout
    mall = rows["generated mall 4242"]
    assert int(mall[2]) > 0 and float(mall[3]) > 0  # a mall's ceiling APs are kept whole
    assert int(rows["bench map, random order"][2]) == 0  # a campus-like map's are not
    for _, _, _, _, queries, whole, none, ratio in rows.values():
        assert int(queries) == 40 and float(whole) > 0 and float(none) > 0 and float(ratio) > 0


def test_no_pairs_or_queries_is_refused():
    for bad in (("--repeats", "0"), ("--queries", "0")):
        refused = run_bench("--seeds", "", *bad)
        assert refused.returncode == 2 and "must be at least 1" in refused.stderr
