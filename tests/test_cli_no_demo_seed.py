"""`python -m portal flask ...` on a store of its own (no REDIS_URL, no server running): the operator's CLI,
as README "Open a new mall" step 1 runs it, loads no demo mall unless the demo was asked for (DEMO=1);
the README's demo commands still work on the store `make run` seeded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from core.settings import PROJECT_ROOT, Settings
from core.storage import start_embedded_valkey
from fingerprints.store import VenueStore
from portal.__main__ import cli_loads_demo, start_banner
from portal.auth import AccountStore
from portal.demo import is_demo_venue
from portal.seed import DEMO_OPERATOR, DEMO_OWNERS, GALLERIA_VENUE

pytestmark = pytest.mark.slow

PASSWORD = "Newmall-admin-2026!"
DEMO_ENV = ("REDIS_URL", "REDIS_CLUSTER", "DEMO", "LOAD_DEMO", "LOAD_DEMO_GALLERIA", "VENUE")


def portal_flask(data_dir: Path, *args: str, **env: str) -> str:
    """The README's command, as an operator runs it: only DATA_DIR (and `env`) set, the rest at defaults."""
    full = {k: v for k, v in os.environ.items() if k not in DEMO_ENV}
    full.update(DATA_DIR=str(data_dir), PYTHONPATH=str(PROJECT_ROOT), **env)
    done = subprocess.run([sys.executable, "-m", "portal", "flask", *args], cwd=PROJECT_ROOT, env=full,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


class OwnStore:
    """The data dir's embedded Valkey, started again to look at what a command left in it."""

    def __init__(self, data_dir: Path) -> None:
        self.server = start_embedded_valkey(data_dir / "valkey")
        self.settings = Settings.from_env({"DATA_DIR": str(data_dir), "REDIS_URL": self.server.connection_url})

    def __enter__(self) -> OwnStore:
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    def db(self) -> redis.Redis:
        return redis.Redis.from_url(self.server.connection_url)


def test_new_mall_first_operator_loads_no_demo(tmp_path):
    portal_flask(tmp_path, "users", "create", "nm-ops", "--role", "operator", "--venue", "newmall",
                 "--password", PASSWORD)
    with OwnStore(tmp_path) as store:
        db = store.db()
        accounts = AccountStore(db)
        assert accounts.get("nm-ops") is not None
        assert VenueStore(db).venue_ids() == []
        assert not is_demo_venue(db, "demo") and not is_demo_venue(db, GALLERIA_VENUE)
        assert [name for name in (DEMO_OPERATOR, *DEMO_OWNERS) if accounts.get(name) is not None] == []
    secrets = {p.name for p in (tmp_path / "secrets").iterdir()}
    assert not {"demo_api_token", "galleria_api_token"} & secrets


@pytest.mark.parametrize(("env", "loads"), [
    ({}, False),  # LOAD_DEMO is on by default (for `make run`): not a request for the demo
    ({"LOAD_DEMO": "1"}, False),
    ({"DEMO": "1"}, True),  # the demo asked for
    ({"DEMO": "1", "LOAD_DEMO": "0"}, False),
])
def test_cli_loads_the_demo_only_when_asked(tmp_path, env, loads):
    assert cli_loads_demo(Settings.from_env({"DATA_DIR": str(tmp_path), **env})) is loads


@pytest.mark.parametrize(("env", "shown", "not_shown"), [
    ({"DEMO": "1", "PORT": "8461"}, "(demo: http://127.0.0.1:8461/demo)", "/console/login"),
    # a new mall's server (DEMO=0): /demo is a 404 there, so the banner names the operator console instead
    ({"DEMO": "0", "PORT": "8461"}, "(operator console: http://127.0.0.1:8461/console/login)", "/demo"),
])
def test_start_banner_names_only_what_exists(tmp_path, env, shown, not_shown):
    banner = start_banner(Settings.from_env({"DATA_DIR": str(tmp_path), **env}), "127.0.0.1")
    assert shown in banner and not_shown not in banner


def test_readme_demo_commands_run_on_the_store_make_run_seeded(tmp_path, demo_map):
    from portal import create_app
    from portal.seed import ensure_demo_mall
    from portal.services import services

    with OwnStore(tmp_path) as store, create_app(store.settings).app_context():
        ensure_demo_mall(services(), "demo", demo_map)  # what `make run` loaded at its first start
    assert "v1: 2 floors" in portal_flask(tmp_path, "map-versions", "demo")
    accounts = portal_flask(tmp_path, "users", "list").splitlines()
    assert any(line.startswith(f"{DEMO_OPERATOR}\toperator\tdemo") for line in accounts), accounts
