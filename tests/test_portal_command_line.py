"""`python -m portal ...` and its operator commands as the README runs them: a refused setting or a store that does
not answer is one line (no traceback, a non-zero status); the workers find the running `make run` store as
`track` and `flask` do; `python -m portal flask` names itself in its usage lines; an operator's typo (a folder that
does not exist, an unknown venue) is said plainly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import PROJECT_ROOT
from tests.portal_command import TEST_VAPID_KEY, run_portal

SHARED = {"REDIS_URL": "redis://10.0.0.5:6379/0"}  # another host's store: every key must come from the environment
KEYS = {"SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32, "VAPID_PRIVATE_KEY": TEST_VAPID_KEY}
NOWHERE = "redis://app:hunter2-secret@127.0.0.1:1/0"  # nothing listens on port 1


def portal(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """`python -m portal ARGS` with only `env` of the store's and keys' variables (none of the suite's)."""
    drop = ("REDIS_URL", "REDIS_CLUSTER", *KEYS)
    full = {k: v for k, v in os.environ.items() if k not in drop} | env
    return subprocess.run([sys.executable, "-m", "portal", *args], cwd=PROJECT_ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)


def one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# ---- a shared store's keys ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("missing", "says", "not_said"), [
    ("PHONE_KEY", "phone numbers", "one phone counts as two"),
    ("VAPID_PRIVATE_KEY", "push subscription is bound to its public half", "session"),
    ("SECRET_KEY", "sign-ins", "phone counts as two"),
])
@pytest.mark.parametrize("command", [("sweep", "--once"), ("flask", "list-tokens", "demo")])
def test_a_shared_store_without_a_key_is_one_line_naming_it(tmp_path, command, missing, says, not_said):
    env = {k: v for k, v in KEYS.items() if k != missing}
    done = portal(*command, DATA_DIR=str(tmp_path), **SHARED, **env)
    line = one_line(done)
    assert done.returncode == 2
    assert line.startswith(f"python -m portal {command[0]}: {missing} is not set") and says in line
    assert not_said not in line
    assert not (tmp_path / "secrets").exists()  # nothing generated for a shared store


# ---- the store ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("flask", "list-tokens", "demo"), ("track", "--once"), ("sweep", "--once"),
                                     ("notify", "--once")])
def test_a_store_that_does_not_answer_is_one_line(tmp_path, command):
    done = portal(*command, DATA_DIR=str(tmp_path), REDIS_URL=NOWHERE)
    line = one_line(done)
    assert done.returncode == 1
    assert line.startswith(f"python -m portal {command[0]}: the store at redis://app:***@127.0.0.1:1/0 does not "
                           "answer (")
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize(("command", "says"), [("sweep", "expired orders handled"), ("notify", None)])
def test_the_workers_once_find_the_running_make_run_store(settings, tmp_path, command, says):
    """README: `python -m portal sweep --once` / `notify --once` beside `make run`, in a shell without REDIS_URL:
    the store `serve` wrote down (DATA_DIR/valkey/running.url), as `track --once` and `python -m portal flask` find
    it."""
    (tmp_path / "valkey").mkdir()
    (tmp_path / "valkey" / "running.url").write_text(settings.redis_url)  # what `serve` writes
    done = portal(command, "--once", DATA_DIR=str(tmp_path), SECRET_KEY=settings.secret_key,
                  MAC_HASH_KEY=settings.mac_hash_key, PHONE_KEY=settings.phone_key,
                  VAPID_PRIVATE_KEY=settings.notify.vapid_private_key or TEST_VAPID_KEY)
    assert done.returncode == 0, done.stderr
    assert "REDIS_URL is not set" not in done.stderr
    assert says is None or says in done.stdout


@pytest.mark.parametrize("command", ["sweep", "notify"])
def test_the_workers_without_any_store_say_so(tmp_path, command):
    done = portal(command, "--once", DATA_DIR=str(tmp_path))
    assert done.returncode == 2
    assert one_line(done) == (f"{command}: REDIS_URL is not set and no `make run` store is running (`make run` "
                              f"starts {'the sweeper' if command == 'sweep' else 'the worker'} with its store)")


# ---- `python -m portal flask` names itself ---------------------------------------------------------------------------

def test_python_m_portal_flask_names_itself(settings):
    helped = run_portal(settings, "flask", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: python -m portal flask [OPTIONS] COMMAND [ARGS]...")
    assert "An application to load" not in helped.stdout + helped.stderr
    assert "--app" not in helped.stdout  # the app is the portal's
    assert "map-import" in helped.stdout and "issue-token" in helped.stdout
    wrong = run_portal(settings, "flask", "map-import")
    assert wrong.returncode == 2
    assert "Usage: python -m portal flask map-import [OPTIONS] VENUE SOURCE" in wrong.stderr
    assert "Try 'python -m portal flask map-import --help' for help." in wrong.stderr
    assert "python -m flask" not in wrong.stderr


# ---- an operator's typo ---------------------------------------------------------------------------------------------

@pytest.fixture
def cli(app, demo):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=list(map(str, args)))

    return run


@pytest.mark.parametrize("command", ["map-export", "samples-export"])
def test_an_export_into_a_folder_that_does_not_exist_is_said(cli, tmp_path, command):
    out = tmp_path / "nonexistent" / ("x.zip" if command == "map-export" else "s.csv")
    result = cli(command, "demo", out)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert f"Error: cannot write {out}: No such file or directory" in result.output
    assert not out.parent.exists()


def test_outbox_commands_refuse_an_unknown_venue(cli):
    for args in (["stats"], ["dead"], ["replay", "--all"], ["drop", "--all"]):
        result = cli("outbox", args[0], "nosuch", *args[1:])
        assert result.exit_code == 2 and "unknown venue 'nosuch'" in result.output, (args, result.output)
    assert cli("outbox", "stats", "demo").exit_code == 0


def test_an_owner_of_an_unknown_venue_is_refused_as_such(cli):
    result = cli("users", "create", "y", "--role", "owner", "--venue", "nosuchvenue", "--zone", "kopi",
                 "--password", "Nosuch-venue-2026!")
    assert result.exit_code == 2
    assert "unknown venue 'nosuchvenue'" in result.output and "has no zone" not in result.output


def test_map_edit_help_says_what_place_ap_does(cli):
    result = cli("map-edit", "--help")
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.strip().startswith("place-ap"))
    assert "True" not in line and "Place an AP" in line
