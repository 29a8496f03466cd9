"""The systemd units in deploy/: what they let the services write is where the services write."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "deploy").glob("*.service"))


def unit_values(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in unit.read_text().splitlines() if line.startswith(key + "=")]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_numba_cache_is_in_a_writable_path(unit):
    """ProtectSystem=strict makes the code directory read-only, where numba would cache by default."""
    assert "strict" in unit_values(unit, "ProtectSystem")
    environment = dict(value.split("=", 1) for value in unit_values(unit, "Environment"))
    cache = Path(environment["NUMBA_CACHE_DIR"])
    writable = [Path(p) for value in unit_values(unit, "ReadWritePaths") for p in value.split()]
    assert any(cache.is_relative_to(w) for w in writable), (cache, writable)


def test_numba_caches_the_batch_search_where_told(tmp_path):
    """NUMBA_CACHE_DIR is honoured: the compiled search lands there, not beside the code."""
    script = ("import numpy as np; from positioning.wknn import WKNNPositioner\n"
              "X = np.array([[-50., -105.], [-105., -60.], [-70., -80.]]); y = np.zeros((3, 4))\n"
              "WKNNPositioner(k=1).fit(X, y).predict(X)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600)
    assert any(p.name.startswith("kernels.nearest_rows") for p in tmp_path.rglob("*.nbi"))
