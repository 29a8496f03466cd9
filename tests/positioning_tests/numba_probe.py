"""Which steps of a fresh process load numba: a web worker's path must not (positioning/kernels.py)."""

from __future__ import annotations

import subprocess
import sys


def numba_loaded(setup: str, *steps: str) -> list[bool]:
    """Run `setup`, then each step in turn, in a new interpreter: after each step, whether numba was imported."""
    code = "\n".join(["import sys", setup, *(f"{step}\nprint('numba' in sys.modules)" for step in steps)])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [word == "True" for word in done.stdout.split()]
