"""deploy/: the web unit honours the settings file's HOST, PORT, WEB_WORKERS and WEB_THREADS, and what the files'
comments cite and claim holds."""

import logging
import re

import pytest

from core.settings import PROJECT_ROOT, Settings
from tests.systemd_units import DEPLOY, env_file, unit_exec_start

WEB_UNIT = DEPLOY / "mallportal.service"


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_web_unit_listens_and_sizes_as_the_settings_file_says():
    shipped = unit_exec_start(WEB_UNIT, env_file())
    assert (option(shipped, "--bind"), option(shipped, "--workers"), option(shipped, "--threads")) == (
        "127.0.0.1:8000", "4", "16")  # what nginx.conf's upstream and the unit's comment expect
    changed = unit_exec_start(WEB_UNIT, {**env_file(), "HOST": "0.0.0.0", "PORT": "8100", "WEB_WORKERS": "8",
                                         "WEB_THREADS": "32"})
    assert (option(changed, "--bind"), option(changed, "--workers"), option(changed, "--threads")) == (
        "0.0.0.0:8100", "8", "32")


def test_a_settings_file_without_them_gets_the_shipped_values():
    """An /etc/mallportal/env from before these settings were in it: the unit's own defaults, the same values."""
    assert unit_exec_start(WEB_UNIT, {}) == unit_exec_start(WEB_UNIT, env_file())


@pytest.mark.parametrize("path", sorted(DEPLOY.iterdir()), ids=lambda p: p.name)
def test_every_file_a_deploy_comment_cites_exists(path):
    cited = re.findall(r"\b((?:portal|core|fingerprints|positioning|lightapps)/[\w/]+\.py)\b", path.read_text())
    assert [c for c in cited if not (PROJECT_ROOT / c).is_file()] == []


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory"])
def test_time_zone_names_of_no_place_start_with_a_warning_as_the_settings_file_says(tmp_path, caplog, name):
    with caplog.at_level(logging.WARNING):
        assert Settings.from_env({"DATA_DIR": str(tmp_path), "TIME_ZONE": name}).time_zone == name
    assert f"TIME_ZONE={name} is no place" in caplog.text
    comment = " ".join(line for line in (DEPLOY / "mallportal.env").read_text().splitlines() if line.startswith("#"))
    assert "are refused" not in comment and "starts with a warning" in comment
