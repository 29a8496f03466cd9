"""Zone-owner accounts from the operator console (issues 14 and 16): an invite link (one-time, expiring, only
its hash stored; the owner sets a password under the policy), a reset (link or temporary password; the old
password stops working and the owner's sessions end), an initial password that must be changed before any
other console page works; who may call each page, CSRF and bad input; the same from `flask users`."""

from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.auth import AccountStore, AuditLog, PasswordLinks

OWNERS = "/console/ops/demo/owners"
NEW = "a good long passphrase"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def csrf_of(client, path="/console/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def issued(resp, what: str) -> str:
    return re.search(rf'id="owner-{what}">([^<]+)<', text(resp)).group(1)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


def invite(client, console, username="newcafe", zones=("kopi",), method="link"):
    return client.post(OWNERS, data={"csrf_token": console.csrf(), "username": username, "zones": list(zones),
                                     "method": method})


def set_by_link(client, token: str, password=NEW, confirm=None):
    return client.post("/console/welcome", data={"csrf_token": csrf_of(client), "t": token, "new_password": password,
                                                 "confirm_password": password if confirm is None else confirm})


def sign_in(client, username, password):
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(client)})


def test_invite_link_sets_the_owners_own_password_once(app, client, console, svc):
    console.login("ops")
    resp = invite(client, console, zones=["kopi", "not-a-zone"])
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    link = issued(resp, "link")
    token = token_of(link)
    account = AccountStore(svc.db).get("newcafe")
    assert account.role == "owner" and account.zones == ("kopi",) and account.venue == "demo"
    stored = str(svc.db.hgetall("mp:{_accounts}:pwlink:newcafe"))
    secret = token.split(".", 1)[1]
    assert secret not in stored and hashlib.sha256(secret.encode()).hexdigest() in stored
    assert 0 < svc.db.ttl("mp:{_accounts}:pwlink:newcafe") <= PasswordLinks.TTL_S["invite"]
    assert "waiting for the owner" in text(client.get(OWNERS))
    console.logout()

    owner = app.test_client()
    page = owner.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status_code == 200 and "newcafe" in text(page) and page.headers["Referrer-Policy"] == "no-referrer"
    assert owner.get("/console/welcome?t=" + token).status_code == 200  # looking does not use it up
    weak = set_by_link(owner, token, "password123")
    assert weak.status_code == 400 and "refused" in text(weak)
    assert set_by_link(owner, token, NEW, "another thing entirely").status_code == 400
    assert set_by_link(owner, token).status_code == 303
    assert set_by_link(owner, token, "yet another passphrase").status_code == 404  # once
    assert owner.get("/console/welcome?t=" + token).status_code == 404
    assert sign_in(owner, "newcafe", NEW).status_code == 303
    assert owner.get("/console/owner/demo/").status_code == 200


def test_a_link_of_an_account_disabled_since_sets_nothing(app, client, console, svc):
    """The account disabled while its link is still live (disabling takes the link too, `set_disabled`; this is the
    flag alone, as a change racing the page would leave it): refused with a message (400), the link left as it was,
    no password set."""
    console.login("ops")
    token = token_of(issued(invite(client, console), "link"))
    console.logout()
    store = AccountStore(svc.db)
    svc.db.hset(store.keys.account("newcafe"), "disabled", "1")
    owner = app.test_client()
    refused = set_by_link(owner, token)
    assert refused.status_code == 400 and "cannot sign in" in text(refused)
    assert owner.get("/console/welcome?t=" + token).status_code == 200  # not used up
    assert AccountStore(svc.db).status("newcafe")["pending"]
    assert sign_in(owner, "newcafe", NEW).status_code != 303


@pytest.mark.parametrize("token", ["", "x", "newcafe.", "newcafe." + "A" * 43, "nobody." + "A" * 43, "." * 300])
def test_bad_or_forged_links_are_404(client, console, token):
    console.login("ops")
    invite(client, console)
    assert client.get("/console/welcome", query_string={"t": token}).status_code == 404
    assert set_by_link(client, token).status_code == 404
    assert AccountStore(client.application.extensions["mallportal"].db).status("newcafe")["pending"]


def test_initial_password_must_be_changed_before_anything_else(app, client, console, svc):
    console.login("ops")
    resp = invite(client, console, method="password")
    assert resp.status_code == 201
    password = issued(resp, "password")
    assert password not in str(svc.db.hgetall("mp:{_accounts}:account:newcafe"))
    console.logout()

    owner = app.test_client()
    assert sign_in(owner, "newcafe", password).status_code == 303
    for path in ("/console/", "/console/owner/demo/", "/console/apps/coupons/demo/kopi/"):
        resp = owner.get(path)
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/console/password"), path
    page = owner.get("/console/password")
    assert page.status_code == 200 and 'id="must-change"' in text(page)
    csrf = csrf_of(owner, "/console/password")
    change = {"csrf_token": csrf, "current_password": password, "new_password": NEW, "confirm_password": NEW}
    assert owner.post("/console/password", data={**change, "current_password": "wrong one here"}).status_code == 400
    assert owner.post("/console/password", data={**change, "new_password": "newcafe-2026-x",
                                                  "confirm_password": "newcafe-2026-x"}).status_code == 400
    assert owner.post("/console/password", data={**change, "csrf_token": "forged"}).status_code == 400
    assert AccountStore(svc.db).status("newcafe")["must_change"]
    assert owner.post("/console/password", data=change).status_code == 303
    assert owner.get("/console/owner/demo/").status_code == 200  # this browser goes on
    assert not AccountStore(svc.db).status("newcafe")["must_change"]


def test_reset_ends_sessions_and_the_old_password(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("tea-house", "an old long passphrase", "owner", "demo", ("kopi",))
    owner = app.test_client()
    assert sign_in(owner, "tea-house", "an old long passphrase").status_code == 303
    assert owner.get("/console/owner/demo/").status_code == 200
    console.login("ops")
    listing = text(client.get(OWNERS))
    assert 'id="owner-tea-house"' in listing and "active" in listing
    resp = client.post(OWNERS + "/tea-house/reset", data={"csrf_token": console.csrf(), "method": "link"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    token = token_of(issued(resp, "link"))
    assert owner.get("/console/owner/demo/").status_code == 302  # signed out
    assert sign_in(app.test_client(), "tea-house", "an old long passphrase").status_code == 401
    second = client.post(OWNERS + "/tea-house/reset", data={"csrf_token": console.csrf(), "method": "link"})
    assert set_by_link(app.test_client(), token).status_code == 404  # a newer link replaced it
    assert set_by_link(app.test_client(), token_of(issued(second, "link"))).status_code == 303
    assert sign_in(app.test_client(), "tea-house", NEW).status_code == 303

    temp = client.post(OWNERS + "/tea-house/reset", data={"csrf_token": console.csrf(), "method": "password"})
    assert temp.status_code == 200 and store.status("tea-house")["must_change"]
    assert sign_in(app.test_client(), "tea-house", NEW).status_code == 401
    assert sign_in(app.test_client(), "tea-house", issued(temp, "password")).status_code == 303
    audit = [e["action"] for e in AuditLog(svc.db).recent("demo", 20)]
    assert audit.count("owner.reset") == 3


def test_who_may_call_and_bad_input(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("other-owner", "an old long passphrase", "owner", "elsewhere", ("x",))
    console.login("ops")
    csrf = console.csrf()
    assert client.post(OWNERS + "/other-owner/reset", data={"csrf_token": csrf}).status_code == 404  # another venue
    assert client.post(OWNERS + "/ops/reset", data={"csrf_token": csrf}).status_code == 404  # an operator
    assert client.post(OWNERS + "/nobody/reset", data={"csrf_token": csrf}).status_code == 404
    assert client.post(OWNERS + "/cinema/reset", data={"csrf_token": csrf, "method": "mail"}).status_code == 400
    assert client.post(OWNERS + "/cinema/reset", data={"csrf_token": "forged", "method": "link"}).status_code == 400
    assert not PasswordLinks(svc.db).live("cinema")
    for data in ({"username": "x y", "zones": ["kopi"]}, {"username": "nozone"},
                 {"username": "newcafe", "zones": ["kopi"], "method": "carrier-pigeon"}):
        assert client.post(OWNERS, data={"csrf_token": csrf, **data}).status_code == 400
    assert client.post(OWNERS, data={"username": "newcafe", "zones": ["kopi"]}).status_code == 400  # no CSRF
    assert invite(client, console, username="cinema").status_code == 400  # exists already
    assert store.get("newcafe") is None and store.get("nozone") is None
    console.logout()
    console.login("cinema")  # an owner
    assert client.get(OWNERS).status_code == 403
    assert client.post(OWNERS + "/cinema/reset", data={"csrf_token": console.csrf()}).status_code == 403
    console.logout()
    assert client.get(OWNERS).status_code == 302
    assert client.get("/console/password").status_code == 302  # signed out: the login page
    store.create("far-ops", "an old long passphrase", "operator", "elsewhere")
    console.login("far-ops", "an old long passphrase")
    assert client.get(OWNERS).status_code == 403
    assert client.post(OWNERS + "/cinema/reset", data={"csrf_token": console.csrf()}).status_code == 403


def test_users_cli_creates_and_resets(app, svc, demo):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["users", "create", "kopi-2", "--role", "owner", "--venue", "demo", "--zone", "kopi",
                              "--invite"])
    assert out.exit_code == 0, out.output
    token = re.search(r"t=(\S+)", out.output).group(1)
    assert PasswordLinks(svc.db).peek(token.replace("%7E", "~")) == ("kopi-2", "invite")
    first = runner.invoke(args=["users", "create", "kopi-3", "--role", "owner", "--venue", "demo", "--zone",
                                "kopi", "--initial-password"])
    assert first.exit_code == 0 and AccountStore(svc.db).status("kopi-3")["must_change"]
    for bad in (["--zone", "nozone", "--invite"], ["--invite"], ["--zone", "kopi", "--invite", "--initial-password"]):
        assert runner.invoke(args=["users", "create", "kopi-4", "--role", "owner", "--venue", "demo", *bad]).exit_code
    assert runner.invoke(args=["users", "create", "ops-2", "--role", "operator", "--venue", "demo", "--zone",
                               "kopi", "--invite"]).exit_code
    assert AccountStore(svc.db).get("kopi-4") is None and AccountStore(svc.db).get("ops-2") is None
    reset = runner.invoke(args=["users", "reset", "kopi-3"])
    assert reset.exit_code == 0 and "reset link" in reset.output
    assert runner.invoke(args=["users", "reset", "nobody"]).exit_code
    assert "invited" in runner.invoke(args=["users", "list"]).output
    for args in (["users", "--help"], ["users", "create", "--help"], ["users", "reset", "--help"]):
        assert runner.invoke(args=args).exit_code == 0


def test_a_taken_username_keeps_the_form_and_is_said_in_the_pages_language(client, console, svc):
    """The store's English "account 'jade' already exists" is not what the page says: the console's own message
    (translated), the form again with what was typed, and zone names in the page's language."""
    jade = AccountStore(svc.db).get("jade")
    console.login("ops")
    client.get(OWNERS + "?lang=zh")  # the language choice is kept for the next pages (no ?lang= on the post)
    resp = client.post(OWNERS, data={"csrf_token": console.csrf(), "username": "jade", "zones": ["kopi", "books"],
                                     "method": "password"})
    page = text(resp)
    assert resp.status_code == 400 and "already exists" not in page
    assert 'id="username" name="username" maxlength="48" value="jade"' in page
    assert sorted(re.findall(r'name="zones" value="(\w+)" checked', page)) == ["books", "kopi"]
    assert 'name="method" value="password" checked' in page
    assert "考比咖啡 (kopi)" in page and "Kopi Coffee" not in page  # the zone's Chinese name on a zh page
    assert AccountStore(svc.db).get("jade") == jade  # nothing changed
    english = text(client.post(OWNERS + "?lang=en", data={"csrf_token": console.csrf(), "username": "jade",
                                                          "zones": ["kopi"]}))
    assert "This username cannot be used" in english and "Kopi Coffee (kopi)" in english


def test_the_invite_forms_zones_stand_under_their_floor(client, console, svc):
    """A mall's zone names rarely say the floor (an onboarding pass on a generated mall: 124 checkboxes in one
    run): each floor's zones are a fieldset under the floor's name, every zone once, in the page's language."""
    venue_map = svc.venues.get_map("demo")
    floors = [f for f in venue_map.floors if any(z.floor == f.level for z in venue_map.zones)]
    console.login("ops")
    page = client.get(OWNERS + "?lang=en").get_data(as_text=True)
    groups = re.findall(r'<fieldset class="floor-zones"><legend>([^<]+)</legend>(.*?)</fieldset>', page, re.S)
    assert [name for name, _ in groups] == [f.name for f in floors]
    for (_, body), floor in zip(groups, floors, strict=True):
        ids = re.findall(r'name="zones" value="([\w-]+)"', body)
        assert ids == [z.id for z in venue_map.zones if z.floor == floor.level]
    zh = client.get(OWNERS + "?lang=zh").get_data(as_text=True)
    assert re.findall(r'<fieldset class="floor-zones"><legend>([^<]+)</legend>', zh) == [f.label(True) for f in floors]
