"""`python -m portal ...` as another process on the suite's store (a worker's `--once`, a `flask` command)."""

from __future__ import annotations

import os
import subprocess
import sys

from core.settings import PROJECT_ROOT, Settings

# A Web Push signing key for the command (a shared store, REDIS_CLUSTER=1, needs one from the environment; the suite's
# settings have none): a test key, no secret
TEST_VAPID_KEY = "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I"


def run_portal(settings: Settings, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run it with the settings' store, keys and data folder (`env` adds or replaces variables); its output as
    text. The keys are passed as every host of a shared store must have them (core/settings.py `_shared_secret`), so
    that the command runs on the suite's cluster too, with the keys of the suite's own app."""
    full = {**os.environ, "REDIS_URL": settings.redis_url, "REDIS_CLUSTER": "1" if settings.redis_cluster else "0",
            "DATA_DIR": str(settings.data_dir), "SECRET_KEY": settings.secret_key,
            "MAC_HASH_KEY": settings.mac_hash_key, "PHONE_KEY": settings.phone_key,
            "VAPID_PRIVATE_KEY": settings.notify.vapid_private_key or TEST_VAPID_KEY, **env}
    return subprocess.run([sys.executable, "-m", "portal", *args], cwd=PROJECT_ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)
