"""The audit log in words, in both languages: every action the code records has words (the host's in
portal/operator/audit.py `ACTION_WORDS`, an app's in its `LightApp.history`), found by reading the code for every
call that records one; an action without words shows its code. The page labels an entry's details too (a zone by
its name), where it showed `zone=foodcourt reservation=…`."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from portal.auth import AuditLog
from portal.maps.builds import SEED_ACTION
from portal.operator.audit import DETAIL_WORDS, action_words
from portal.setup_cli import CONSOLE_EDITS

AUDIT = "/console/ops/demo/audit"
SOURCES = ("portal", "lightapps", "fingerprints")
# The calls that record an audit entry (or a map change, which portal/maps audits): name -> the action's argument.
RECORDERS = {"audit": 0, "cli_audit": 1, "change_map": 2, "edit_map": 1, "record": 2, "edit": 1, "MapChanged": 3,
             "record_call": 2}  # AuditLog.record_call: a machine API's calls, rolled up per hour


@functools.cache
def calls_by_name(path: Path) -> dict[str, list[ast.Call]]:
    """Every call in one file, by the name called: each file is parsed once for the whole module (parsing the
    code's some 400 files once per recorder name was ~7 s of each of this file's tests)."""
    out: dict[str, list[ast.Call]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            out.setdefault(called, []).append(node)
    return out


def calls(path: Path, name: str) -> list[ast.Call]:
    return calls_by_name(path).get(name, [])


def literal_args(relative: str, name: str, index: int) -> set[str]:
    """The string literals passed as argument `index` to `name(...)` in one file."""
    return {call.args[index].value for call in calls(PROJECT_ROOT / relative, name)
            if len(call.args) > index and isinstance(call.args[index], ast.Constant)}


def recorded_here(call: ast.Call, name: str) -> bool:
    """`record` and `edit` are common names: only the audit log's and the venue store's."""
    if name == "record":
        return isinstance(call.func.value, ast.Call) and getattr(call.func.value.func, "id", "") == "AuditLog"
    if name == "edit":
        return isinstance(call.func, ast.Attribute) and ast.unparse(call.func.value).endswith("venues")
    return True


def dynamic() -> dict[tuple[str, str], set[str]]:
    """(file, the action's expression) -> the actions it records, for each call whose action is not a literal; an
    empty set: it passes on its caller's action, and the callers are read."""
    return {
        ("portal/auth.py", "action"): set(),  # audit(), cli_audit()
        ("portal/operator/mapedit.py", "action"): set(),  # change_map()
        ("portal/setup_cli.py", "action"): set(),  # edit_map()
        ("fingerprints/store.py", "action"): set(),  # VenueStore.edit()
        ("portal/maps/__init__.py", "event.action"): set(),  # every map change, recorded by the calls above
        ("portal/seed.py", "SEED_ACTION"): {SEED_ACTION},
        ("portal/setup_cli.py", "name.replace('_', '.')"): {name.replace("_", ".") for name in CONSOLE_EDITS},
        ("portal/users_cli.py", "f'account.{action}'"): {
            f"account.{action}" for action in literal_args("portal/users_cli.py", "_audit", 1)},
        ("portal/account_pages.py", "f'password.{purpose}'"): {"password.invite", "password.reset"},
        ("portal/operator/outbox.py", "audited"): {"outbox.replay", "outbox.drop", "outbox.replay_all",
                                                   "outbox.drop_all"},  # Outbox.act_on_dead's
        ("portal/notify/cli.py", "audited"): {"outbox.replay", "outbox.drop", "outbox.replay_all", "outbox.drop_all"},
        ("lightapps/queue/console.py", "f'queue.{action}'"): {
            f"queue.{action}" for action in literal_args("lightapps/queue/console.py", "_ticket_action", 3)},
        ("lightapps/queue/console.py", "f'queue.reservation_{action}'"): {  # reservation_action's `states`
            "queue.reservation_cancel", "queue.reservation_arrived", "queue.reservation_no-show"},
    }


@functools.cache
def recording_calls() -> tuple[tuple[str, ast.expr, ast.Call], ...]:
    """(file, the action's expression, the call) of every call in the code that records an audit entry."""
    return tuple(_recording_calls())


def _recording_calls() -> Iterator[tuple[str, ast.expr, ast.Call]]:
    for root in SOURCES:
        for path in (PROJECT_ROOT / root).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for name, index in RECORDERS.items():
                for call in calls(path, name):
                    if recorded_here(call, name) and len(call.args) > index:
                        yield path.relative_to(PROJECT_ROOT).as_posix(), call.args[index], call


def recorded_actions() -> set[str]:
    """Every action the code records; fails on a call whose action it cannot tell."""
    actions, seen, table = set(), set(), dynamic()
    for relative, action, _call in recording_calls():
        branches = [action.body, action.orelse] if isinstance(action, ast.IfExp) else [action]
        if all(isinstance(b, ast.Constant) for b in branches):
            actions |= {b.value for b in branches}
            continue
        where = (relative, ast.unparse(action))
        assert where in table, f"{where}: list the actions it records in dynamic()"
        seen.add(where)
        actions |= table[where]
    assert seen == set(table), f"no longer in the code: {set(table) - seen}"
    return actions


def recorded_detail_keys() -> set[str]:
    """The detail keys the recording calls name (the account commands' through users_cli's `_audit`), but the
    recorders' own parameters."""
    keys = {k.arg for _where, _action, call in recording_calls() for k in call.keywords if k.arg}
    keys |= {k.arg for call in calls(PROJECT_ROOT / "portal/users_cli.py", "_audit") for k in call.keywords if k.arg}
    return keys - {"create", "release_zones", "left", "now"}  # VenueStore.edit's, edit_map's, users_cli._audit's,
    # record_call's


def test_the_scan_finds_the_recorded_actions():
    actions = recorded_actions()
    assert {"ap.place", "zone.delete", "token.issue", "queue.reservation_cancel", "queue.seat", "survey.point",
            "account.create", "outbox.replay_all", "add.floor", "demo.load", "login", "map.rollback"} <= actions


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_recorded_action_has_words(app, lang):
    with app.test_request_context(f"/?lang={lang}"):
        words = {action: action_words(action) for action in recorded_actions()}
    assert sorted(action for action, text in words.items() if text == action) == []
    if lang == "zh":
        assert sorted(a for a, text in words.items() if not re.search(r"[\u4e00-\u9fff]", text)) == []


def test_every_recorded_detail_has_words():
    keys = recorded_detail_keys()
    assert {"zone", "reservation", "ticket", "bssid", "username", "role"} <= keys  # the scan finds them
    assert sorted(keys - set(DETAIL_WORDS)) == []


def test_an_action_without_words_shows_its_code(app):
    with app.test_request_context("/?lang=zh"):
        assert action_words("nobody.knows") == "nobody.knows"


def test_the_chinese_page_says_a_booking_cancelled_in_words(client, console, db, demo):
    AuditLog(db).record("demo", "foodcourt", "queue.reservation_cancel", zone="foodcourt", reservation="20260105-R3")
    console.login("ops")
    page = client.get(AUDIT + "?lang=zh").get_data(as_text=True)
    row = re.search(r"<tr><td>[^<]*</td><td>foodcourt</td>.*?</tr>", page, re.S).group(0)
    assert "订座 20260105-R3 已取消" in row and "zone=" not in row and "reservation=" not in row
    assert "区域：美食广场 · 订座：20260105-R3" in row  # the zone by its name, the booking as it is
    english = client.get(AUDIT + "?lang=en").get_data(as_text=True)
    assert "Table booking 20260105-R3 cancelled" in english
    assert "Zone: Food court · Table booking: 20260105-R3" in english
