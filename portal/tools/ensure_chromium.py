"""Make sure a Chromium for the browser tests is installed (Debian's package, via apt-get as root).

Playwright's own browser download cannot be used offline, so tests drive the system Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit and shutil.which(explicit):
        return shutil.which(explicit)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def main() -> int:
    if find_chromium():
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("Browser tests need Chromium. Install Debian's package: sudo apt-get install chromium "
              "(or set CHROMIUM=/path/to/chrome).", file=sys.stderr)
        return 1
    print("installing Debian's chromium for the browser tests...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-noto-cjk"],
                   check=True, env=env)
    return 0 if find_chromium() else 1


if __name__ == "__main__":
    sys.exit(main())
