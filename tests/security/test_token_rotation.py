"""Replacing a partner's API token without a leak or a cut-off: each token has a public id (the first 8 hex digits
of its stored hash) and its issue time and last use (kept to the hour); `list-tokens` shows them, `revoke-token
--id` withdraws one token of a label, `rotate-token` issues the label a new token with the same scopes and
withdraws the old one(s), at once or after a stored, enforced grace period; `issue-token` warns when the label
already has a live token. Tokens stored before ids and dates existed are listed, revoked and rotated too.

The store tests (db only) also run on the cluster: tests/cluster/test_cluster_api_tokens.py."""

from __future__ import annotations

import re

import pytest
import redis

from core.security import hash_token, new_token
from portal.auth import AuditLog
from portal.ingest.tokens import INGEST, LAST_USED_EVERY_S, MAX_KEEP_OLD_S, ApiTokenStore, TokenKeys

AVAILABILITY = "/api/v1/venues/demo/parking/availability"  # a cheap call a parking-scope token may make
T0 = 1_800_000_000  # the store's clock in the store tests: a fixed instant, moved by hand


def answer(client, token: str) -> int:
    return client.get(AVAILABILITY, headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture
def cli(app, demo):
    """`flask <args>` through the app's CLI runner: (exit code, what it printed on stdout and stderr)."""
    runner = app.test_cli_runner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(args=list(args))
        return result.exit_code, result.output

    return run


def issued(output: str) -> str:
    """The token a command printed: its last line (what `T=$(flask issue-token ...)` keeps)."""
    return output.strip().splitlines()[-1]


def listed(cli) -> list[list[str]]:
    code, out = cli("list-tokens", "demo")
    assert code == 0, out
    header, *rows = out.strip().splitlines()
    assert header == "id\tlabel\tscopes\tissued\tlast used\tstops"
    return [row.split("\t") for row in rows]


def rows_of(cli, label: str) -> list[list[str]]:
    return [row for row in listed(cli) if row[1] == label]


@pytest.fixture
def store(db):
    tokens = ApiTokenStore(db)
    tokens.clock = lambda: T0
    return tokens


# ---- the command line ------------------------------------------------------------------------------------


def test_issuing_a_second_token_under_a_label_warns_and_both_are_listed_apart(cli, client):
    code, first = cli("issue-token", "demo", "rot-test", "--scope", "parking")
    assert code == 0 and "warning" not in first
    code, second = cli("issue-token", "demo", "rot-test", "--scope", "parking")
    first_id = hash_token(issued(first))[:8]
    assert code == 0
    assert f"warning: 'rot-test' already has 1 live token(s) ({first_id})" in second
    assert "rotate-token demo rot-test" in second and "revoke-token demo rot-test --id ID" in second
    rows = rows_of(cli, "rot-test")
    assert sorted(row[0] for row in rows) == sorted([first_id, hash_token(issued(second))[:8]])
    for row in rows:
        assert row[2] == "parking" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d{4}", row[3])
        assert row[4:] == ["never", "-"]
    assert issued(first) not in str(listed(cli)) and answer(client, issued(first)) == 200


def test_revoke_by_id_withdraws_one_token_and_keeps_the_other(cli, client):
    old = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    new = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    old_id = hash_token(old)[:8]
    code, out = cli("revoke-token", "demo", "rot-test", "--id", old_id.upper())  # as typed from a screen
    assert code == 0 and f"revoked 1 token(s) labelled 'rot-test': {old_id}" in out
    assert answer(client, old) == 401 and answer(client, new) == 200
    assert [row[0] for row in rows_of(cli, "rot-test")] == [hash_token(new)[:8]]


@pytest.mark.parametrize(("typed", "says"), [("xyz", "a token id is 8 hex digits"), ("0123456", "8 hex digits"),
                                             ("0123456789", "8 hex digits"), ("", None)])
def test_a_malformed_id_is_refused_and_nothing_is_revoked(cli, client, typed, says):
    token = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    code, out = cli("revoke-token", "demo", "rot-test", "--id", typed)
    if says is None:  # --id "" is no id: every token of the label, as without --id
        assert code == 0 and answer(client, token) == 401
        return
    assert code != 0 and says in out and "--id" in out
    assert answer(client, token) == 200


@pytest.mark.parametrize("command", ["revoke-token", "rotate-token"])
def test_a_token_pasted_as_its_id_is_not_printed_back(cli, client, command):
    """`--id` echoed what was typed: an operator who pasted the token itself got the secret on stderr."""
    token = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    code, out = cli(command, "demo", "rot-test", "--id", token)
    assert code != 0 and "8 hex digits" in out and "(not shown)" in out and token not in out
    assert token[:16] not in out and answer(client, token) == 200
    code, out = cli(command, "demo", "rot-test", "--id", "0123456789abcdef")  # a short slip: said back, as before
    assert code != 0 and "'0123456789abcdef'" in out


def test_an_id_of_no_token_of_the_label_is_refused(cli, client):
    token = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    other = issued(cli("issue-token", "demo", "other", "--scope", "parking")[1])
    code, out = cli("revoke-token", "demo", "rot-test", "--id", hash_token(other)[:8])  # another label's token
    assert code != 0 and "no live token with id" in out and "list-tokens demo" in out
    assert answer(client, token) == 200 and answer(client, other) == 200


def test_rotate_replaces_every_token_of_the_label_at_once_with_the_same_scopes(cli, client, db):
    old = [issued(cli("issue-token", "demo", "rot-test", "--scope", "parking,insights")[1]) for _ in range(2)]
    code, out = cli("rotate-token", "demo", "rot-test")
    assert code == 0, out
    new = issued(out)
    assert all(answer(client, token) == 401 for token in old) and answer(client, new) == 200
    rows = rows_of(cli, "rot-test")
    assert [(row[0], row[2], row[5]) for row in rows] == [(hash_token(new)[:8], "insights,parking", "-")]
    entry = AuditLog(db).recent("demo", 1)[0]
    assert entry["action"] == "token.rotate" and new not in str(entry)
    assert entry["detail"] == {"label": "rot-test", "scopes": "insights,parking", "token_id": hash_token(new)[:8],
                               "replaced": ",".join(sorted(hash_token(t)[:8] for t in old))}


def test_rotate_with_a_grace_period_keeps_the_old_token_until_then_and_no_longer(cli, client, svc):
    old = issued(cli("issue-token", "demo", "bi-partner", "--scope", "parking")[1])
    code, out = cli("rotate-token", "demo", "bi-partner", "--keep-old-for", "3600")
    assert code == 0, out
    new = issued(out)
    assert answer(client, old) == 200 and answer(client, new) == 200  # the partner switches in the hour
    stops = {row[0]: row[5] for row in rows_of(cli, "bi-partner")}
    assert stops[hash_token(new)[:8]] == "-" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d{4}",
                                                               stops[hash_token(old)[:8]])
    real = svc.tokens.clock
    svc.tokens.clock = lambda: real() + 3601  # the grace is stored: every worker ends it, not this process
    assert answer(client, old) == 401 and answer(client, new) == 200
    assert [row[0] for row in rows_of(cli, "bi-partner")] == [hash_token(new)[:8]]


@pytest.mark.parametrize(("args", "says"), [
    (["--keep-old-for", "-1"], "--keep-old-for"), (["--keep-old-for", str(MAX_KEEP_OLD_S + 1)], "--keep-old-for"),
    (["--keep-old-for", "1h"], "--keep-old-for"), (["--id", "nothex!!"], "8 hex digits"),
])
def test_rotate_refuses_bad_options_and_changes_nothing(cli, client, db, args, says):
    token = issued(cli("issue-token", "demo", "rot-test", "--scope", "parking")[1])
    before = db.hgetall(TokenKeys("demo").tokens())
    code, out = cli("rotate-token", "demo", "rot-test", *args)
    assert code != 0 and says in out
    assert db.hgetall(TokenKeys("demo").tokens()) == before and answer(client, token) == 200


def test_rotate_refuses_a_label_without_tokens_and_one_whose_tokens_differ(cli, client, db):
    code, out = cli("rotate-token", "demo", "nobody")
    assert code != 0 and "no live token labelled 'nobody' in venue 'demo'" in out
    parking = issued(cli("issue-token", "demo", "mixed", "--scope", "parking")[1])
    cli("issue-token", "demo", "mixed", "--scope", "insights")
    before = db.hgetall(TokenKeys("demo").tokens())
    code, out = cli("rotate-token", "demo", "mixed")
    assert code != 0 and "carry different scopes" in out and "rotate one with --id" in out
    assert db.hgetall(TokenKeys("demo").tokens()) == before
    code, out = cli("rotate-token", "demo", "mixed", "--id", hash_token(parking)[:8])
    assert code == 0 and answer(client, parking) == 401 and answer(client, issued(out)) == 200
    assert sorted(row[2] for row in rows_of(cli, "mixed")) == ["insights", "parking"]


def test_tokens_stored_before_ids_are_listed_revoked_and_rotated(cli, client, db):
    """What older releases stored: digest -> label (before scopes), and with `<digest>:scopes` (before dates)."""
    legacy, scoped = new_token(), new_token()
    db.hset(TokenKeys("demo").tokens(), mapping={hash_token(legacy): "old-relay", hash_token(scoped): "old-pos",
                                                 hash_token(scoped) + ":scopes": "parking"})
    assert answer(client, scoped) == 200
    rows = {row[1]: row for row in listed(cli)}
    assert rows["old-relay"] == [hash_token(legacy)[:8], "old-relay", INGEST, "unknown", "unknown", "-"]
    assert rows["old-pos"][:4] == [hash_token(scoped)[:8], "old-pos", "parking", "unknown"]
    assert rows["old-pos"][4] != "unknown"  # used just now: kept from now on
    code, out = cli("rotate-token", "demo", "old-pos")
    assert code == 0 and answer(client, scoped) == 401 and answer(client, issued(out)) == 200
    assert cli("revoke-token", "demo", "old-relay", "--id", hash_token(legacy)[:8])[0] == 0
    assert "old-relay" not in {row[1] for row in listed(cli)}


# ---- the store (also on the cluster) ---------------------------------------------------------------------


def test_last_use_is_written_at_most_once_an_hour(store, db):
    token = store.issue("demo", "pos", scopes=["parking"])
    used = hash_token(token) + ":used"
    store.source_for("demo", token)  # no call named: the demo seed's check, no use
    store.source_for("demo", token, used_for="cinema")  # a call the token may not make: refused, no use
    assert db.hget(TokenKeys("demo").tokens(), used) is None
    store.source_for("demo", token, used_for="parking")
    assert db.hget(TokenKeys("demo").tokens(), used) == str(T0).encode()
    store.clock = lambda: T0 + LAST_USED_EVERY_S - 1
    store.source_for("demo", token, used_for="parking")
    assert db.hget(TokenKeys("demo").tokens(), used) == str(T0).encode()  # no write on every request
    store.clock = lambda: T0 + LAST_USED_EVERY_S
    store.source_for("demo", token, used_for="parking")
    assert db.hget(TokenKeys("demo").tokens(), used) == str(T0 + LAST_USED_EVERY_S).encode()
    [info] = store.tokens("demo")
    assert (info.issued, info.used, info.until) == (T0, T0 + LAST_USED_EVERY_S, None)


def test_a_refused_last_use_stamp_never_refuses_the_call(store, db, caplog):
    """The stamp is bookkeeping: a store that answers the lookup but refuses the write (out of memory, a replica's
    read-only turn) still lets the call through, and the log names the fault, never the token."""
    token = store.issue("demo", "pos", scopes=["parking"])

    def refused(*args, **kwargs):
        raise redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'")

    store._stamp = refused
    source = store.source_for("demo", token, used_for="parking")
    assert source is not None and source.label == "pos"
    assert db.hget(TokenKeys("demo").tokens(), hash_token(token) + ":used") is None
    assert "OutOfMemoryError" in caplog.text and token not in caplog.text


def test_issue_names_the_labels_other_live_tokens(store):
    first = store.issue_source("demo", "pos", scopes=["parking"])
    second = store.issue_source("demo", "pos", scopes=["parking"])
    assert first.others == [] and second.others == [first.id]
    assert store.issue_source("demo", "other").others == []
    again = store.issue_source("demo", "pos", token=first.token, scopes=["parking", "cinema"])  # the demo seed's way
    assert again.others == [second.id]
    assert {t.id: t.scopes for t in store.tokens("demo") if t.label == "pos"}[first.id] == {"parking", "cinema"}


def test_a_grace_period_is_enforced_and_never_lengthened(store):
    old = store.issue("demo", "bi", scopes=["insights"])
    rotated = store.rotate("demo", "bi", keep_old_for_s=3600)
    assert rotated.until == T0 + 3600 and rotated.scopes == {"insights"}
    store.clock = lambda: T0 + 600
    again = store.rotate("demo", "bi", keep_old_for_s=7200)  # a second rotation: the first old one still ends at T0+1h
    until = {t.id: t.until for t in store.tokens("demo")}
    assert until == {rotated.replaced[0]: T0 + 3600, rotated.id: T0 + 600 + 7200, again.id: None}
    assert store.source_for("demo", old) is not None
    store.clock = lambda: T0 + 3600
    assert store.source_for("demo", old) is None
    assert store.source_for("demo", rotated.token) is not None and store.source_for("demo", again.token) is not None


def test_revoke_by_label_or_id(store, db):
    tokens = [store.issue_source("demo", "pos") for _ in range(3)]
    assert store.revoke_label("demo", "pos", tokens[0].id) == [tokens[0].id]
    assert store.revoke_label("demo", "pos", tokens[0].id) == []
    assert store.revoke_label("demo", "pos") == sorted(t.id for t in tokens[1:])
    assert store.revoke_label("demo", "nobody") == [] and not db.exists(TokenKeys("demo").tokens())
    one = store.issue("demo", "till")
    store.revoke("demo", one)
    assert not db.exists(TokenKeys("demo").tokens())


def test_the_store_refuses_bad_rotations_and_writes_nothing(store, db):
    store.issue("demo", "pos", scopes=["parking"])
    store.issue("demo", "pos", scopes=["cinema"])
    before = db.hgetall(TokenKeys("demo").tokens())
    for kwargs, says in (({"keep_old_for_s": -1}, "grace period"), ({"keep_old_for_s": MAX_KEEP_OLD_S + 1}, "grace"),
                         ({"only_id": "zz"}, "8 hex digits"), ({}, "different scopes")):
        with pytest.raises(ValueError, match=says):
            store.rotate("demo", "pos", **kwargs)
    with pytest.raises(ValueError, match="no live token labelled 'nobody'"):
        store.rotate("demo", "nobody")
    assert db.hgetall(TokenKeys("demo").tokens()) == before
