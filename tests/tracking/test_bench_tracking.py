"""bench/tracking.py runs end to end on a few phones: its warm-up round is run, printed and left out of the figures.

Each run is a process of its own (~7 s of CPU here: imports, the generated mall's survey, the model), so the run
with a warm-up and `--phases` is made once for the two tests that read it (`--phases` only adds a line per counted
round), and the refused arguments are checked in this process (argparse refuses them before any work)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "tracking.py"), "--phones", "30", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def warmed_up() -> subprocess.CompletedProcess:
    """Two counted rounds after one warm-up, with `--phases` (read only: each test takes what it needs)."""
    return run_bench("--rounds", "2", "--warmup", "1", "--phases")


def test_the_warm_up_round_is_not_counted(warmed_up):
    done = warmed_up
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


def test_no_warm_up_counts_every_round(demo_map):
    """On the demo mall (`--demo`: ~2 s of CPU less than the generated mall's survey, and that path run too)."""
    done = run_bench("--rounds", "1", "--warmup", "0", "--demo")
    assert done.returncode == 0, done.stderr
    assert f"bench: {len(demo_map.samples)} reference points x {len(demo_map.aps)} APs, 30 phones" in done.stdout
    assert "warm-up round" not in done.stdout
    assert re.findall(r"^round (\d+): tracker", done.stdout, re.M) == ["1"]
    assert "phases:" not in done.stdout  # only when asked


def test_phases_time_each_step_of_every_counted_round(warmed_up):
    """`--phases`: per counted round (not the warm-up) each step's seconds, and the tracker's own work, which is the
    drain's time less the positioner's (whatever the machine's speed: only how the figures add up is checked)."""
    from bench.tracking import PHASES

    done = warmed_up
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^  phases: (.*); the tracker's own work ([\d.]+) s of ([\d.]+) s$", done.stdout, re.M)
    assert len(lines) == 2
    for parts, own, total in lines:
        seconds = {label: float(value) for label, value in (part.rsplit(" ", 2)[:2] for part in parts.split(", "))}
        assert list(seconds) == [label for label, _, _ in PHASES]
        # three figures each printed to 3 decimals: up to 0.0015 apart by rounding alone, a hair more in floats
        assert abs(float(own) + seconds["positioner"] - float(total)) <= 0.002
        assert seconds["weighing"] <= seconds["preparing"] + 0.0015  # weighing is part of preparing
        assert min(seconds.values()) >= 0  # not > 0: 30 phones' reads can take under 0.5 ms on a fast machine
    # and per counted round the CPU a phone took, the tracker's and the store's, beside its wall time
    cpu = re.findall(r"^  per phone: (\d+) us of wall time, the tracker's CPU (\d+) us \(its threads; the draining "
                     r"thread's (\d+) us\), the store's (\d+) us$", done.stdout, re.M)
    assert len(cpu) == 2 and all(int(wall) > 0 and int(tracker) >= int(drain) > 0 for wall, tracker, drain, _ in cpu), \
        done.stdout


def test_rounds_it_cannot_count_are_refused(capsys):
    from bench.tracking import main

    for args in (["--phones", "30", "--rounds", "0"], ["--phones", "30", "--warmup", "-1"]):
        with pytest.raises(SystemExit) as refused:
            main(args)
        assert refused.value.code == 2 and "--rounds must be at least 1" in capsys.readouterr().err
