"""bench/tracking.py runs end to end on a few phones: its warm-up round is run, printed and left out of the figures."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "tracking.py"), "--phones", "30", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_the_warm_up_round_is_not_counted():
    done = run_bench("--rounds", "2", "--warmup", "1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^warm-up round: tracker [\d,]+ phones/s \(30 phones\), not counted$", out, re.M)
    counted = re.findall(r"^round (\d+): tracker ([\d,]+) phones/s \(30 phones\)", out, re.M)
    assert [n for n, _ in counted] == ["1", "2"]  # the warm-up is not a numbered round
    rates = sorted(int(rate.replace(",", "")) for _, rate in counted)
    median = re.search(r"^tracker end to end .*: ([\d,]+) phones/s$", out, re.M)
    # the median of the two counted rounds (their mean), within the printed figures' rounding
    assert median and abs(int(median.group(1).replace(",", "")) - sum(rates) / 2) <= 1
    assert "median of 2 rounds after 1 warm-up" in out
    assert "(target >= 50%)" in out  # figures and verdict printed, whatever the machine's speed


def test_no_warm_up_counts_every_round():
    done = run_bench("--rounds", "1", "--warmup", "0")
    assert done.returncode == 0, done.stderr
    assert "warm-up round" not in done.stdout
    assert re.findall(r"^round (\d+): tracker", done.stdout, re.M) == ["1"]


def test_rounds_it_cannot_count_are_refused():
    for args in (("--rounds", "0"), ("--warmup", "-1")):
        refused = run_bench(*args)
        assert refused.returncode == 2 and "--rounds must be at least 1" in refused.stderr
