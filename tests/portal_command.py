"""`python -m portal ...` as another process on the suite's store (a worker's `--once`, a `flask` command)."""

from __future__ import annotations

import os
import subprocess
import sys

from core.settings import PROJECT_ROOT, Settings


def run_portal(settings: Settings, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run it with the settings' store, keys and data folder (`env` adds or replaces variables); its output as
    text."""
    full = {**os.environ, "REDIS_URL": settings.redis_url, "REDIS_CLUSTER": "1" if settings.redis_cluster else "0",
            "DATA_DIR": str(settings.data_dir), "SECRET_KEY": settings.secret_key,
            "MAC_HASH_KEY": settings.mac_hash_key, **env}
    return subprocess.run([sys.executable, "-m", "portal", *args], cwd=PROJECT_ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)
