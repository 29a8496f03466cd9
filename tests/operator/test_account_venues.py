"""The venues accounts belong to: `flask users create` takes only a venue id a map can be made under (and says when
the venue does not exist yet); `flask users add-venue` / `remove-venue` give a mall group's operator its further
venues; the console neither opens a draft for a venue id that can have no map nor tells an operator that another
mall's account exists."""

from __future__ import annotations

import html

import pytest

from fingerprints.drafts import DraftStore
from portal.auth import AccountStore, AuditLog

PASSWORD = "a long operator phrase"


def users(app, *args: str):
    return app.test_cli_runner().invoke(args=["users", *args])


@pytest.mark.parametrize("venue", ["East Mall", "East", "east\n", "x" * 49])
def test_an_account_of_a_venue_id_no_map_can_have_is_refused(app, svc, venue):
    done = users(app, "create", "east-ops", "--role", "operator", "--venue", venue, "--password", PASSWORD)
    assert done.exit_code == 2 and "is not valid" in done.output
    assert AccountStore(svc.db).get("east-ops") is None


def test_an_operator_may_come_before_the_mall_and_is_told_so(app, svc, demo):
    early = users(app, "create", "east-ops", "--role", "operator", "--venue", "east", "--password", PASSWORD)
    assert early.exit_code == 0 and "venue east does not exist yet" in early.output
    assert AccountStore(svc.db).get("east-ops").venue == "east"
    known = users(app, "create", "demo-ops", "--role", "operator", "--venue", "demo", "--password", PASSWORD)
    assert known.exit_code == 0 and "does not exist" not in known.output


def test_a_mall_groups_operator_is_given_and_loses_a_venue(app, client, console, svc):
    store = AccountStore(svc.db)
    assert users(app, "create", "group-ops", "--role", "operator", "--venue", "demo", "--password",
                 PASSWORD).exit_code == 0
    added = users(app, "add-venue", "group-ops", "east")
    assert added.exit_code == 0 and "group-ops now runs east" in added.output and "does not exist yet" in added.output
    assert store.get("group-ops").more_venues == ("east",)
    assert "already" in users(app, "add-venue", "group-ops", "east").output
    console.login("group-ops", PASSWORD)
    assert client.get("/console/ops/east/").status_code == 200
    for args, words in ((["add-venue", "kopi", "east"], "only operators"), (["add-venue", "nobody", "east"],
                        "no account 'nobody'"), (["add-venue", "group-ops", "East Mall"], "is not valid"),
                        (["remove-venue", "group-ops", "demo"], "own venue"),
                        (["remove-venue", "nobody", "east"], "no account 'nobody'")):
        refused = users(app, *args)
        assert refused.exit_code == 2 and words in refused.output, (args, refused.output)
    removed = users(app, "remove-venue", "group-ops", "east")
    assert removed.exit_code == 0 and "group-ops no longer runs east" in removed.output
    assert store.get("group-ops").more_venues == () and store.get("group-ops").venue == "demo"
    assert client.get("/console/ops/east/").status_code == 403  # at once: the same session
    assert "does not run east" in users(app, "remove-venue", "group-ops", "east").output
    actions = [entry["action"] for entry in AuditLog(svc.db).recent("east", 10)]
    assert "account.add_venue" in actions and "account.remove_venue" in actions  # east's operators see both


def test_the_owners_page_does_not_confirm_another_malls_account(client, ops, svc):
    AccountStore(svc.db).create("far-kopi", PASSWORD, "owner", "elsewhere")
    for taken in ("far-kopi", "jade"):  # another mall's owner, and one of this venue's: the same words
        resp = client.post("/console/ops/demo/owners?lang=en", data={"csrf_token": ops.csrf(), "username": taken,
                                                                    "zones": ["kopi"]})
        page = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 400 and "This username cannot be used: choose another one." in page
        assert "taken" not in page and "already exists" not in page
    assert AccountStore(svc.db).get("far-kopi").venue == "elsewhere"


def test_no_draft_is_opened_for_a_venue_id_that_can_have_no_map(client, console, svc):
    """An operator account made before the CLI checked venue ids: the console refuses as `map-draft open` does."""
    AccountStore(svc.db).create("east-ops", PASSWORD, "operator", "East")
    console.login("east-ops", PASSWORD)
    resp = client.post("/console/ops/East/drafts?lang=en", data={"csrf_token": console.csrf(), "title": "Opening"})
    assert resp.status_code == 400 and "East is no valid venue id" in resp.get_data(as_text=True)
    assert DraftStore(svc.db, svc.venues).list("East") == []
