"""Make sure nginx is installed for the deployment test (tests/captive/test_deploy.py): Debian's
nginx-light via apt-get when root. Never fatal: without nginx that test skips and says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CANDIDATES = ("nginx", "/usr/sbin/nginx")


def find_nginx() -> str | None:
    explicit = os.environ.get("NGINX")
    for name in ((explicit,) if explicit else ()) + CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def main() -> int:
    if find_nginx():
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("The deployment test needs nginx (sudo apt-get install nginx-light); it will skip without it.",
              file=sys.stderr)
        return 0
    print("installing Debian's nginx-light for the deployment test...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx-light"], env=env,
                          check=False)
    if done.returncode != 0:
        print("could not install nginx-light; the deployment test will skip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
