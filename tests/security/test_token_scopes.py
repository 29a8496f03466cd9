"""A venue's API tokens carry scopes: a report source's token (issued as the README says, with no scope
named: ingest only) is refused by every light-app machine API (membership points and refunds, member
identification, WeChat links, parking events, cinema showtimes) with a 403 naming the scope needed, and
changes nothing; a token with the app's scope works there and only there. `issue-token --scope` sets the
scopes and refuses names no loaded API declared."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.apps.views import STORES
from portal.ingest.tokens import INGEST, TokenKeys

V = "/api/v1/venues/demo"
MEMBER = "100001"  # the demo member
SHOW_DAY = (date.today() + timedelta(days=30)).isoformat()  # a showtime ahead (the app takes 120 days at most)
# Every machine API of a light app, with a body that would do something with the right token.
APP_CALLS = [
    ("membership", "post", "/membership/purchases", {"receipt_id": "FAKE-1", "store": "pixel", "member": MEMBER,
                                                    "amount": "99999.00"}),
    ("membership", "post", "/membership/refunds", {"receipt_id": "R-SCOPE-1", "store": "pixel"}),
    ("membership", "post", "/membership/identify", {"member_code": f"{MEMBER}-000000"}),
    ("membership", "post", "/membership/wechat-links", {"member_code": f"{MEMBER}-000000", "openid": "oSCOPE0001"}),
    ("parking", "post", "/parking/events", {"events": [{"type": "bay", "bay": "G-A01", "status": "occupied"}]}),
    ("parking", "get", "/parking/availability", None),
    ("cinema", "post", "/cinema/showtimes", {"showtimes": [{"film_en": "Fake", "film_zh": "假", "auditorium": "1",
                                                           "starts_at": f"{SHOW_DAY}T19:30", "price": 1}]}),
    ("cinema", "get", "/cinema/showtimes", None),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client, method: str, path: str, body, token: str):
    return getattr(client, method)(V + path, json=body, headers=bearer(token))


def everything(db) -> dict:
    return {key: db.dump(key) for key in db.scan_iter(count=1000)}


@pytest.fixture
def members(app):
    return app.extensions[STORES]["membership"]


@pytest.fixture
def receipt(client, demo, members):
    """A purchase the till posted with the demo token (every scope), so a refund has something to reverse."""
    resp = call(client, "post", "/membership/purchases",
                {"receipt_id": "R-SCOPE-1", "store": "pixel", "member": MEMBER, "amount": "10.00"}, demo)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@pytest.mark.parametrize(("scope", "method", "path", "body"), APP_CALLS, ids=[c[2] + ":" + c[1] for c in APP_CALLS])
def test_a_report_sources_token_is_refused_and_changes_nothing(client, svc, db, receipt, members,
                                                               scope, method, path, body):
    ap_token = svc.tokens.issue("demo", "ap-floor1-openwrt-relay")  # no scope named: ingest only
    before, points = everything(db), members.get("demo", MEMBER).points
    resp = call(client, method, path, body, ap_token)
    assert resp.status_code == 403
    answer = resp.get_json()
    assert f"'{scope}' scope" in answer["error"]
    # the command as an operator can run it (`flask --app wsgi` alone finds no store)
    assert f"`python -m portal flask issue-token demo <label> --scope {scope}`" in answer["error"]
    assert answer["field"] == "Authorization"
    assert everything(db) == before and members.get("demo", MEMBER).points == points


@pytest.mark.parametrize(("scope", "method", "path", "body"), APP_CALLS, ids=[c[2] + ":" + c[1] for c in APP_CALLS])
def test_a_token_of_another_app_is_refused(client, svc, db, demo, scope, method, path, body):
    others = [s for s in ("membership", "parking", "cinema") if s != scope]
    token = svc.tokens.issue("demo", "another-system", scopes=[INGEST, *others])
    before = everything(db)
    assert call(client, method, path, body, token).status_code == 403
    assert everything(db) == before


def test_the_attack_grants_no_points(client, svc, demo, members):
    """The reviewer's reproduction: an AP relay's token posting a huge purchase for a member."""
    ap_token = svc.tokens.issue("demo", "ap-floor1-openwrt-relay")
    member = members.get("demo", MEMBER)
    resp = call(client, "post", "/membership/purchases", APP_CALLS[0][3], ap_token)
    assert resp.status_code == 403
    after = members.get("demo", MEMBER)
    assert (after.points, after.lifetime, after.tier) == (member.points, member.lifetime, member.tier)
    assert members.receipt("demo", "pixel", "FAKE-1", fold_case=True) is None


def test_a_token_with_the_apps_scope_works(client, svc, demo, members):
    till = svc.tokens.issue("demo", "pos-pixel", scopes=["membership"])
    before = members.get("demo", MEMBER).points
    resp = call(client, "post", "/membership/purchases",
                {"receipt_id": "R-SCOPE-2", "store": "pixel", "member": MEMBER, "amount": "12.00"}, till)
    assert resp.status_code == 201 and members.get("demo", MEMBER).points == before + 12
    refund = call(client, "post", "/membership/refunds", {"receipt_id": "R-SCOPE-2", "store": "pixel"}, till)
    assert refund.status_code == 200 and members.get("demo", MEMBER).points == before
    barrier = svc.tokens.issue("demo", "car-park", scopes=["parking"])
    assert call(client, "get", "/parking/availability", None, barrier).status_code == 200
    cinema = svc.tokens.issue("demo", "cinema-pos", scopes=["cinema"])
    assert call(client, "get", "/cinema/showtimes", None, cinema).status_code == 200


def test_unknown_token_is_still_401(client, demo):
    assert client.post(V + "/membership/purchases", json=APP_CALLS[0][3]).status_code == 401
    assert call(client, "post", "/membership/purchases", APP_CALLS[0][3], "not-a-token").status_code == 401


# ---- issue-token --scope ---------------------------------------------------------------------------


def issue(app, *args):
    return app.test_cli_runner().invoke(args=["issue-token", "demo", *args])


def test_cli_default_is_ingest_only(app, svc, client, demo):
    result = issue(app, "ap-floor1-openwrt-relay")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert svc.tokens.source_for("demo", token).scopes == {INGEST}
    assert call(client, "post", "/membership/purchases", APP_CALLS[0][3], token).status_code == 403


@pytest.mark.parametrize("args", [["--scope", "membership,parking"], ["--scope", "membership", "--scope", "parking"],
                                  ["--scope", " membership , parking "]])
def test_cli_scopes_repeated_or_comma_separated(app, svc, client, demo, args):
    result = issue(app, "pos-and-barrier", *args)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert svc.tokens.source_for("demo", token).scopes == {"membership", "parking"}
    assert call(client, "get", "/parking/availability", None, token).status_code == 200
    body = {"ap": "f0:9f:c2:1a:00:01", "observations": []}
    assert client.post(V + "/reports", json=body, headers=bearer(token)).status_code == 403  # not ingest


@pytest.mark.parametrize("value", ["membrship", "", "Membership", "membership,,parking", "ingest;membership",
                                   "*", "membership,admin"])
def test_cli_refuses_bad_scopes_and_issues_nothing(app, db, demo, value):
    before = db.hlen(TokenKeys("demo").tokens())
    result = issue(app, "pos", "--scope", value)
    assert result.exit_code != 0
    assert "unknown scope" in result.output and "membership" in result.output  # the list of valid ones
    assert db.hlen(TokenKeys("demo").tokens()) == before


def test_cli_lists_and_revokes_a_token_by_its_label(app, svc, client, demo):
    token = issue(app, "leaked-pos", "--scope", "membership").output.strip().splitlines()[-1]
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["list-tokens", "demo"])
    assert "leaked-pos\tmembership" in listed.output and token not in listed.output
    result = runner.invoke(args=["revoke-token", "demo", "leaked-pos"])
    assert result.exit_code == 0 and "revoked 1" in result.output
    assert call(client, "post", "/membership/purchases", APP_CALLS[0][3], token).status_code == 401
    assert "leaked-pos" not in runner.invoke(args=["list-tokens", "demo"]).output
    assert runner.invoke(args=["revoke-token", "demo", "leaked-pos"]).exit_code != 0  # nothing by that label


@pytest.mark.parametrize("label", ["", " ", "a\tb", "a\nb", "pos\r", " pos", "pos ", "x" * 65, "bell\x07"])
def test_cli_refuses_a_label_list_tokens_could_not_print(app, db, demo, label):
    """A label is 1-64 printable characters, none blank at its ends: list-tokens prints LABEL<tab>SCOPES per
    line, and revoke-token names the label again."""
    before = db.hlen(TokenKeys("demo").tokens())
    result = issue(app, label)
    assert result.exit_code != 0 and "printable" in result.output
    assert db.hlen(TokenKeys("demo").tokens()) == before


def test_cli_takes_a_label_of_64_printable_characters(app, svc, demo):
    label = "POS 2 · 收银台-" + "x" * 52
    assert len(label) == 64
    assert issue(app, label).exit_code == 0
    listed = app.test_cli_runner().invoke(args=["list-tokens", "demo"]).output
    assert any(line.split("\t")[1:3] == [label, "ingest"] for line in listed.splitlines())  # id, label, scopes, ...
