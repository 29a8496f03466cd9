"""deploy/: the web unit honours the settings file's HOST, PORT, WEB_WORKERS and WEB_THREADS by the settings' own
rules (gunicorn.conf.py reads them), and what the files' comments cite and claim holds."""

import json
import logging
import re

import pytest

from core.settings import PROJECT_ROOT, Settings
from tests.systemd_units import DEPLOY, env_file, unit_exec_start, unit_gunicorn

WEB_UNIT = DEPLOY / "mallportal.service"


def served(settings: dict[str, str]) -> tuple[list[str], int, int]:
    """(bind, workers, threads) of the web unit's gunicorn with `settings` as /etc/mallportal/env."""
    done = unit_gunicorn(WEB_UNIT, settings)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads(done.stdout)
    return config["bind"], config["workers"], config["threads"]


def test_the_web_unit_listens_and_sizes_as_the_settings_file_says():
    # what nginx.conf's upstream and the unit's comment expect
    assert served(env_file()) == (["127.0.0.1:8000"], 4, 16)
    changed = {**env_file(), "HOST": "0.0.0.0", "PORT": "8100", "WEB_WORKERS": "8", "WEB_THREADS": "32"}
    assert served(changed) == (["0.0.0.0:8100"], 8, 32)
    assert served({}) == served(env_file())  # a settings file from before these were in it: the unit's defaults


def test_blank_values_are_the_settings_defaults_not_every_interface():
    """`HOST=` is 127.0.0.1, as `serve` reads it: gunicorn's `--bind :8000` would listen on every interface, where
    ProxyFix trusts X-Forwarded-For from any peer; `WEB_WORKERS=` is the settings' 2 (gunicorn refused
    `--workers ''`)."""
    assert served({**env_file(), "HOST": "", "WEB_WORKERS": ""}) == (["127.0.0.1:8000"], 2, 16)
    flags = ("--bind", "--workers", "--threads")  # on the command line they would override gunicorn.conf.py's
    assert [word for word in unit_exec_start(WEB_UNIT, env_file()) if word in flags] == []


def test_no_control_socket_a_second_install_on_the_machine_would_take():
    """gunicorn 24+ listens on a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): the old and the
    new release side by side during an upgrade took each other's. Nothing here uses it: it is off."""
    done = unit_gunicorn(WEB_UNIT, env_file())
    assert done.returncode == 0 and json.loads(done.stdout)["control_socket_disable"] is True


def test_a_bad_value_stops_the_unit_with_one_line_naming_it():
    done = unit_gunicorn(WEB_UNIT, {**env_file(), "WEB_THREADS": "0"})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("gunicorn.conf.py: environment variable WEB_THREADS must be a whole number of at "
                                   "least 1, got '0'")


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
