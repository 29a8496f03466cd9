"""The till's side of the card through the Flask test client: only a zone running the membership card gets its
console (a coffee kiosk may not add points or look members up), and wrong member codes are counted per caller
(console account, API token): a caller who guesses is stopped, and its guesses never lock the member's card at
the other tills."""

from __future__ import annotations

import time

import pytest

from lightapps.membership.codes import short_code, step_of, totp
from lightapps.membership.store import CALLER_MAX_FAILURES, MemberStore
from portal.apps.preview import save_preview

API = "/api/v1/venues/demo/membership"
CONSOLE = "/console/apps/membership/demo"
PHONE = "+8613900002222"


@pytest.fixture
def members(app, svc):
    return MemberStore.from_services(svc)


def current_code(m) -> str:
    return short_code(m.id, totp(m.secret, step_of(time.time())))


def wrong_code(m) -> str:
    right = {totp(m.secret, step_of(time.time()) + d) for d in (-2, -1, 0, 1, 2)}
    return short_code(m.id, next(c for c in ("000000", "111111", "222222") if c not in right))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- who gets the console --------------------------------------------------------------------------


def test_a_zone_not_running_membership_gets_403_and_adds_nothing(client, console, svc, members):
    m, _ = members.bind("demo", PHONE, "alice")
    assert svc.zone_apps.config_for("demo", "kopi", "membership") is None  # kopi runs coupons
    console.login("kopi")
    csrf = console.csrf()
    assert client.get(f"{CONSOLE}/kopi/").status_code == 403
    assert client.post(f"{CONSOLE}/kopi/check", data={"code": current_code(m), "csrf_token": csrf}).status_code == 403
    sale = {"code": current_code(m), "receipt_id": "FAKE-1", "amount": "999999", "csrf_token": csrf}
    assert client.post(f"{CONSOLE}/kopi/purchase", data=sale).status_code == 403
    # an unsaved preview of membership settings for the zone is no assignment
    preview = save_preview(svc.db, "demo", "kopi", "membership", {})
    assert client.post(f"{CONSOLE}/kopi/purchase?preview={preview}", data=sale).status_code == 403
    assert members.get("demo", m.id).points == 0 and members.receipt("demo", "kopi", "FAKE-1") is None


def test_operators_use_it_in_a_membership_zone_only(client, console):
    console.login("ops")
    assert client.get(f"{CONSOLE}/pixel/").status_code == 200
    assert client.get(f"{CONSOLE}/kopi/").status_code == 403


def test_a_zone_that_switches_to_membership_gets_the_console(client, console, svc):
    svc.zone_apps.set("demo", "kopi", "membership", {})
    console.login("kopi")
    assert client.get(f"{CONSOLE}/kopi/").status_code == 200
    svc.zone_apps.set("demo", "kopi", "coupons", {})
    assert client.get(f"{CONSOLE}/kopi/").status_code == 403


# ---- wrong codes per caller ------------------------------------------------------------------------


def test_one_accounts_wrong_codes_stop_it_but_not_the_other_tills(client, console, svc, members):
    m, _ = members.bind("demo", PHONE, "alice")
    svc.zone_apps.set("demo", "kopi", "membership", {})  # a second membership shop
    console.login("kopi")
    csrf = console.csrf()
    for _ in range(CALLER_MAX_FAILURES["account"]):
        assert client.post(f"{CONSOLE}/kopi/check", data={"code": wrong_code(m), "csrf_token": csrf}).status_code == 422
    refused = client.post(f"{CONSOLE}/kopi/check", data={"code": current_code(m), "csrf_token": csrf})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many wrong member codes from this account" in refused.get_data(as_text=True)
    sale = {"code": current_code(m), "receipt_id": "K-1", "amount": "10", "csrf_token": csrf}
    assert client.post(f"{CONSOLE}/kopi/purchase", data=sale).status_code == 429
    assert members.get("demo", m.id).points == 0
    console.logout()
    console.login("pixel")  # the member's card still works at every other till
    page = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(m), "csrf_token": console.csrf()})
    assert page.status_code == 200 and "Valid member card" in page.get_data(as_text=True)
    pos = svc.tokens.issue("demo", "pos-pixel", scopes=["membership"])
    assert client.post(f"{API}/identify", json={"member_code": current_code(m)}, headers=auth(pos)).status_code == 200


def test_right_codes_cost_nothing(client, console, members):
    m, _ = members.bind("demo", PHONE, "alice")
    console.login("pixel")
    csrf = console.csrf()
    for _ in range(CALLER_MAX_FAILURES["account"] + 3):
        check = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(m), "csrf_token": csrf})
        assert check.status_code == 200
    assert client.post(f"{CONSOLE}/pixel/check", data={"code": wrong_code(m), "csrf_token": csrf}).status_code == 422


def test_one_tokens_wrong_codes_stop_it_but_not_the_other_tokens(client, demo, svc, members):
    m, _ = members.bind("demo", PHONE, "alice")
    guesser = svc.tokens.issue("demo", "pos-kopi", scopes=["membership"])
    till = svc.tokens.issue("demo", "pos-pixel", scopes=["membership"])
    for _ in range(CALLER_MAX_FAILURES["token"]):
        resp = client.post(f"{API}/identify", json={"member_code": wrong_code(m)}, headers=auth(guesser))
        assert resp.status_code == 422
    for path, body in (("identify", {}), ("wechat-links", {"openid": "oGUESS0001"}),
                       ("purchases", {"receipt_id": "G-1", "store": "kopi", "amount": "5"})):
        resp = client.post(f"{API}/{path}", json={"member_code": current_code(m), **body}, headers=auth(guesser))
        assert resp.status_code == 429 and resp.get_json()["field"] == "member_code", (path, resp.get_json())
        assert int(resp.headers["Retry-After"]) > 0
    assert members.get("demo", m.id).points == 0 and members.for_wechat("demo", "oGUESS0001") is None
    resp = client.post(f"{API}/identify", json={"member_code": current_code(m)}, headers=auth(till))
    assert resp.status_code == 200 and resp.get_json()["member"] == m.id
    resp = client.post(f"{API}/purchases", headers=auth(till),
                       json={"member_code": current_code(m), "receipt_id": "P-1", "store": "pixel", "amount": "5"})
    assert resp.status_code == 201 and members.get("demo", m.id).points == 5
