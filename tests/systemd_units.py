"""A deploy/ unit's command line as systemd runs it, for the tests that start it (tests/captive/test_deploy.py) or
read it (tests/test_deploy_settings.py), and what gunicorn makes of it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
VARIABLE = re.compile(r"\$\{(\w+)\}")


def unit_values(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in unit.read_text().splitlines() if line.startswith(key + "=")]


def env_file() -> dict[str, str]:
    """deploy/mallportal.env, installed as /etc/mallportal/env: the settings every unit reads."""
    return dict(line.split("=", 1) for line in (DEPLOY / "mallportal.env").read_text().splitlines()
                if line and not line.startswith("#"))


def unit_environment(unit: Path, settings: dict[str, str]) -> dict[str, str]:
    """The unit's Environment= values, then `settings` (its EnvironmentFile, which systemd reads after them)."""
    defaults = dict(pair.split("=", 1) for value in unit_values(unit, "Environment") for pair in shlex.split(value))
    return {**defaults, **settings}


def unit_exec_start(unit: Path, settings: dict[str, str]) -> list[str]:
    """ExecStart's words with each ${NAME} replaced by its value (systemd's substitution inside a word). A name set
    nowhere is a KeyError: systemd would put an empty word there, which gunicorn refuses."""
    env = unit_environment(unit, settings)
    (line,) = unit_values(unit, "ExecStart")
    return [VARIABLE.sub(lambda m: env[m.group(1)], word) for word in shlex.split(line)]


# gunicorn's own reading of its command line (sys.argv) and of gunicorn.conf.py in the working directory, printed
# as JSON; the app is not imported (its settings are not the question here).
_GUNICORN_CONFIG = """
import json
from gunicorn.app.wsgiapp import WSGIApplication
cfg = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg
print(json.dumps({"bind": cfg.bind, "workers": cfg.workers, "threads": cfg.threads,
                  "control_socket_disable": cfg.control_socket_disable}))
"""


def unit_gunicorn(unit: Path, settings: dict[str, str]) -> subprocess.CompletedProcess:
    """gunicorn's configuration as the unit starts it with `settings` as its EnvironmentFile: its ExecStart's
    arguments and gunicorn.conf.py (the unit's WorkingDirectory is the project), in the unit's environment only.
    stdout: {"bind": [...], "workers": N, "threads": N}; a start gunicorn.conf.py refuses exits non-zero."""
    args = unit_exec_start(unit, settings)[1:]  # after the venv's gunicorn
    return subprocess.run([sys.executable, "-c", _GUNICORN_CONFIG, *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env=unit_environment(unit, settings), timeout=120)
