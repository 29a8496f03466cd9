"""The audit log of what the command line changes, and where operators read it: token, budget and account
commands record who ("cli") and what (never a token, a password or a link) under the venue(s) concerned;
`flask audit VENUE` prints the log in the venue's time zone; /console/ops/<venue>/audit shows it to that
venue's operators only. Commands refuse a venue that does not exist instead of doing nothing silently."""

from __future__ import annotations

import re

import pytest

from core.security import hash_token
from portal.apps.budgets import BudgetKeys
from portal.auth import AccountStore, AuditLog
from portal.captive.config import PortalConfigStore

AUDIT = "/console/ops/demo/audit"


@pytest.fixture
def cli(app, demo):
    runner = app.test_cli_runner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(args=list(args))
        assert (result.exit_code == 0) is ok, (args, result.output)
        return result.output

    return run


def entries(db, venue: str = "demo", n: int = 1) -> list[dict]:
    """The newest n entries, oldest first (the order the commands ran in)."""
    return list(reversed(AuditLog(db).recent(venue, n)))


def test_token_commands_are_audited_without_the_token(cli, db):
    token = cli("issue-token", "demo", "pos-1", "--scope", "membership,parking").strip().splitlines()[-1]
    cli("revoke-token", "demo", "pos-1")
    issued, revoked = entries(db, n=2)
    assert (issued["user"], issued["action"]) == ("cli", "token.issue")
    token_id = hash_token(token)[:8]  # its public id: what names it in the log and in list-tokens
    assert issued["detail"] == {"label": "pos-1", "scopes": "membership,parking", "token_id": token_id}
    assert (revoked["user"], revoked["action"], revoked["detail"]) == ("cli", "token.revoke",
                                                                       {"label": "pos-1", "count": 1,
                                                                        "token_id": token_id})
    assert token not in str(AuditLog(db).recent("demo", 100))
    before = len(AuditLog(db).recent("demo", 1000))
    cli("revoke-token", "demo", "pos-1", ok=False)  # nothing by that label: nothing done, nothing recorded
    cli("list-tokens", "demo")  # reading changes nothing
    assert len(AuditLog(db).recent("demo", 1000)) == before


def test_budget_commands_are_audited(cli, db):
    cli("budgets", "set", "demo", "coupons.claim.ip", "3/1h")
    cli("budgets", "reset", "demo", "coupons.claim.ip")
    set_, reset = entries(db, n=2)
    assert (set_["user"], set_["action"], set_["detail"]) == ("cli", "budget.set",
                                                              {"name": "coupons.claim.ip", "limit": "3/3600s"})
    assert (reset["user"], reset["action"], reset["detail"]) == ("cli", "budget.reset", {"name": "coupons.claim.ip"})
    before = len(AuditLog(db).recent("demo", 1000))
    cli("budgets", "set", "demo", "coupons.claim.ip", "lots", ok=False)
    cli("budgets", "set", "demo", "nope.ip", "1/1h", ok=False)
    assert len(AuditLog(db).recent("demo", 1000)) == before


def test_account_commands_are_audited_under_the_accounts_venues(cli, db, svc):
    out = cli("users", "create", "kopi-2", "--role", "owner", "--venue", "demo", "--zone", "kopi", "--invite")
    link = re.search(r"(/console/welcome\S+)", out).group(1)
    cli("users", "disable", "kopi-2")
    cli("users", "enable", "kopi-2")
    temporary = cli("users", "reset", "kopi-2", "--initial-password").rsplit(" ", 1)[-1].strip()
    cli("users", "reset", "kopi-2")
    cli("users", "set-password", "kopi-2", "--password", "a fresh long passphrase")
    recorded = entries(db, n=6)
    assert [(e["user"], e["action"]) for e in recorded] == [
        ("cli", "account.create"), ("cli", "account.disable"), ("cli", "account.enable"), ("cli", "account.reset"),
        ("cli", "account.reset"), ("cli", "account.set_password")]
    assert recorded[0]["detail"] == {"username": "kopi-2", "role": "owner", "method": "invite", "zones": "kopi"}
    assert [e["detail"].get("method") for e in recorded[3:5]] == ["temporary-password", "link"]
    logged = str(AuditLog(db).recent("demo", 100))
    assert temporary not in logged and link.split("t=")[1] not in logged and "a fresh long passphrase" not in logged
    # an operator of two venues: the change is in both venues' logs
    AccountStore(db).create("two-ops", "an old long passphrase", "operator", "demo")
    AccountStore(db).add_venue("two-ops", "galleria")
    cli("users", "disable", "two-ops")
    for venue in ("demo", "galleria"):
        assert (entries(db, venue)[0]["action"], entries(db, venue)[0]["detail"]) == (
            "account.disable", {"username": "two-ops"})
    before = len(AuditLog(db).recent("demo", 1000))
    cli("users", "disable", "nobody", ok=False)
    assert len(AuditLog(db).recent("demo", 1000)) == before


def test_disabling_an_owner_from_the_command_line_pauses_its_rules(cli, db, svc):
    """As the operator console's Disable does: a disabled owner's moments rules stop messaging shoppers."""
    from portal.events.moments import Rule

    cli("users", "create", "kopi-3", "--role", "owner", "--venue", "demo", "--zone", "kopi", "--invite")
    svc.moments.save("demo", Rule(id="k3", name="k3", trigger="zone_enter", action="notify", zone="kopi",
                                  message_en="hi", owner="kopi-3"))
    out = cli("users", "disable", "kopi-3")
    assert "k3 paused" in out and svc.moments.rule("demo", "k3").active is False
    assert entries(db)[0]["detail"] == {"username": "kopi-3", "paused_rules": "k3"}


@pytest.mark.parametrize("args", [["budgets", "set", "dem0", "coupons.claim.ip", "3/1h"],
                                  ["budgets", "reset", "dem0", "coupons.claim.ip"], ["budgets", "list", "dem0"],
                                  ["list-tokens", "dem0"], ["revoke-token", "dem0", "pos-1"], ["audit", "dem0"]])
def test_commands_refuse_an_unknown_venue(cli, db, args):
    assert "unknown venue 'dem0'" in cli(*args, ok=False)
    assert not db.exists(BudgetKeys("dem0").config()) and AuditLog(db).recent("dem0") == []


def test_flask_audit_prints_the_newest_entries_in_the_venues_time_zone(cli, db):
    PortalConfigStore(db).set("demo", {"time_zone": "Asia/Kolkata"})  # +05:30: not the host's zone
    cli("budgets", "set", "demo", "coupons.claim.ip", "3/1h")
    AuditLog(db).record("demo", "jade", "zone.shop.text", zone="kopi", shop="K\x1b[2J\x9b", note="two words")
    lines = cli("audit", "demo", "--limit", "2").splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0530  jade  zone\.shop\.text  zone=kopi "
                        r'shop="K\\u001b\[2J\\x9b" note="two words"', lines[0]), lines[0]  # no terminal escapes
    assert lines[1].endswith("  cli  budget.set  name=coupons.claim.ip limit=3/3600s")
    assert cli("audit", "demo", "--limit", "0", ok=False)


def test_operators_of_the_venue_read_the_log_on_a_page(app, client, console, cli, db):
    cli("issue-token", "demo", "pos-1")
    console.login("ops")
    page = client.get(AUDIT)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "token.issue" in body and "Label: pos-1 · Scopes: ingest" in body  # the details labelled
    assert "API token issued" in body  # the action in words, its code beside them
    assert f'href="{AUDIT}"' in client.get("/console/ops/demo/owners").get_data(as_text=True)  # the ops menu
    assert "已签发 API 令牌" in client.get(AUDIT + "?lang=zh").get_data(as_text=True)
    console.logout()
    assert client.get(AUDIT).status_code == 302  # signed out: the login page
    console.login("cinema")  # an owner
    assert client.get(AUDIT).status_code == 403
    console.logout()
    AccountStore(db).create("far-ops", "an old long passphrase", "operator", "elsewhere")
    console.login("far-ops", "an old long passphrase")  # another venue's operator
    assert client.get(AUDIT).status_code == 403


def test_the_operator_home_lists_every_ops_page(client, console):
    console.login("ops")
    home = client.get("/console/ops/demo/").get_data(as_text=True)
    for link in ("insights-link", "moments-link", "outbox-link", "audit-link", "ledger-link", "checklist-link"):
        assert f'id="{link}"' in home, link


def test_an_entry_the_store_did_not_take_is_kept_and_written_once_it_answers(db, settings):
    """The entry comes after the change it records landed: a store error must neither lose who made it nor
    report the change as failed. Kept in the process, written by the backlog's writer (called here by hand:
    no timer is raced)."""
    if settings.redis_cluster:
        pytest.skip("moves a single node's connection pool")
    import redis

    from portal.auth import _backlog
    from portal.tools.net import free_port

    down = redis.Redis.from_url(settings.redis_url)
    real = down.connection_pool.connection_kwargs["port"]
    down.connection_pool.connection_kwargs.update(port=free_port())  # a closed port: the store is gone
    AuditLog(down).record("demo", "ops", "insights.retention", events_delete=30)  # no error raised
    assert entries(db) == [] and _backlog.write_waiting() is False
    down.connection_pool.reset()
    down.connection_pool.connection_kwargs.update(port=real)
    assert _backlog.write_waiting() is True
    [entry] = entries(db)
    assert (entry["user"], entry["action"], entry["detail"]) == ("ops", "insights.retention", {"events_delete": 30})
