"""The systemd units in deploy/: what they let the services write is where the services write."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "deploy").glob("*.service"))
ENV_FILE = ROOT / "deploy" / "mallportal.env"


def unit_values(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in unit.read_text().splitlines() if line.startswith(key + "=")]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_numba_cache_is_in_a_writable_path(unit):
    """ProtectSystem=strict makes the code directory read-only, where numba would cache by default: the
    settings file both units read names a cache directory they may write."""
    assert "strict" in unit_values(unit, "ProtectSystem")
    assert unit_values(unit, "EnvironmentFile") == ["/etc/mallportal/env"]  # deploy/mallportal.env, installed
    settings = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines()
                    if line and not line.startswith("#"))
    cache = Path(settings["NUMBA_CACHE_DIR"])
    writable = [Path(p) for value in unit_values(unit, "ReadWritePaths") for p in value.split()]
    assert any(cache.is_relative_to(w) for w in writable), (cache, writable)


def test_numba_caches_the_batch_search_where_told(tmp_path):
    """NUMBA_CACHE_DIR is honoured: the compiled search lands there, not beside the code, and the next process
    finds it there (each search kernel, one reading or the offset search's three, loaded rather than compiled)."""
    script = ("import numpy as np; from positioning import kernels; from positioning.wknn import WKNNPositioner\n"
              "X = np.array([[-50., -105.], [-105., -60.], [-70., -80.]]); y = np.zeros((3, 4))\n"
              "WKNNPositioner(k=1).fit(X, y).predict(X)\n"
              "WKNNPositioner(k=1, offset_search_db=5.0).fit(X, y).predict(X)\n"
              "print(*(sum(kernels.nearest_rows_for(n).stats.cache_hits.values()) for n in (1, 3)))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600,
                           capture_output=True, text=True) for _ in range(2)]
    assert any("nearest_rows" in p.name for p in tmp_path.rglob("*.nbi"))
    assert runs[0].stdout.split() == ["0", "0"] and runs[1].stdout.split() == ["1", "1"], [r.stdout for r in runs]


def test_no_writable_cache_compiles_per_process_instead_of_failing():
    """Where numba finds no cache location it refuses cache=True at import: the kernels compile anyway."""
    script = ("import numba.core.caching as caching; caching.CacheImpl._locator_classes = []\n"
              "import numpy as np; from positioning.wknn import WKNNPositioner\n"
              "X = np.array([[-50., -105.], [-105., -60.], [-70., -80.]]); y = np.zeros((3, 4))\n"
              "print(WKNNPositioner(k=1).fit(X, y).predict(X).shape)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                          timeout=600)
    assert done.stdout.strip() == "(3, 4)"
