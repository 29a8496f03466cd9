"""bench/positioning.py runs end to end on a small map, with the defaults or a configuration file."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "positioning.py"), "--fingerprints", "400",
                           "--aps", "40", "--queries", "60", *args], capture_output=True, text=True, timeout=600)


def test_the_bench_names_the_configuration_it_measures(tmp_path):
    defaults = run_bench()
    assert defaults.returncode == 0, defaults.stderr
    assert "k=7, k_floor=3" in defaults.stdout and "floor by its nearest (mean)" in defaults.stdout
    assert "targets: p99 single" in defaults.stdout  # figures and verdicts printed, whatever the machine's speed
    former = tmp_path / "former.json"
    former.write_text(json.dumps({"representation": "powed", "k": 11, "k_floor": None, "floor_rule": "vote",
                                  "weight_power": 1.0, "floor_model": None}))
    configured = run_bench("--config", str(former))
    assert configured.returncode == 0, configured.stderr
    assert "MallPortal WKNN (powed, sorensen, k=11, offset x2)" in configured.stdout


def test_a_configuration_naming_an_unknown_parameter_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kk": 3}))
    refused = run_bench("--config", str(bad))
    assert refused.returncode != 0 and "unknown parameters ['kk']" in refused.stderr


def test_the_batch_ratio_is_the_median_of_back_to_back_pairs():
    done = run_bench("--repeats", "3")
    assert done.returncode == 0, done.stderr
    pairs = re.search(r"^batch pairs \(ours / baseline, per s\): (.*)$", done.stdout, re.M)
    assert pairs, done.stdout
    ratios = sorted(float(r) for r in re.findall(r"\(x([\d.]+)\)", pairs.group(1)))
    assert len(ratios) == 3
    printed = re.search(r"batch throughput x([\d.]+) \(median of the pairs", done.stdout)
    assert printed and float(printed.group(1)) == ratios[1]
    assert f"batch x{ratios[1]:.2f} the baseline" in done.stdout  # the verdict uses the same median


def test_no_pairs_is_refused():
    refused = run_bench("--repeats", "0")
    assert refused.returncode == 2 and "--repeats must be at least 1" in refused.stderr
