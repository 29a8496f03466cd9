"""The till's side of the card through the Flask test client: only a zone running the membership card gets its
console (a coffee kiosk may not add points or look members up), and wrong member codes are counted per caller
(console account, API token) and member number: a caller who guesses is stopped, its guesses never lock the
member's card at the other tills, a fake card stops it for that number only, and a member's expired code (her page
did not update) is told apart and counts for nothing."""

from __future__ import annotations

import time

from lightapps.membership.api import STALE_ERROR
from lightapps.membership.codes import RECENT_STEPS, SKEW_STEPS, short_code, step_of, totp
from lightapps.membership.store import CALLER_MAX_MEMBERS, CALLER_MEMBER_MAX_FAILURES
from portal.apps.preview import save_preview

API = "/api/v1/venues/demo/membership"
CONSOLE = "/console/apps/membership/demo"
PHONE = "+8613900002222"


def current_code(m) -> str:
    return short_code(m.id, totp(m.secret, step_of(time.time())))


def wrong_code(m) -> str:
    """None of the member's codes of the hour before and the next minute (those are accepted or expired)."""
    step = step_of(time.time())
    recent = {totp(m.secret, s) for s in range(step - SKEW_STEPS - RECENT_STEPS - 1, step + 3)}
    return short_code(m.id, next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in recent))


def stale_code(m, steps_ago: int = 3) -> str:
    """Her card as it was `steps_ago` steps ago (30 s each): a page that did not update."""
    return short_code(m.id, totp(m.secret, step_of(time.time()) - steps_ago))


def not_in_use(n: int) -> str:
    return f"{900001 + n}-123456"


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
    assert members.get("demo", m.id).points == 0 and members.receipt("demo", "kopi", "FAKE-1", fold_case=True) is None


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
    for n in range(CALLER_MAX_MEMBERS["account"]):  # guesses spread over member numbers
        assert client.post(f"{CONSOLE}/kopi/check", data={"code": not_in_use(n), "csrf_token": csrf}).status_code == 404
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


def test_a_members_expired_code_at_the_console_says_so_and_stops_nobody(client, console, members):
    """Her card page did not update (no JavaScript, a pocket): shown again and again at the till, it asks for a
    refreshed card and never stops the till for her or the next customer."""
    m, _ = members.bind("demo", PHONE, "alice")
    other, _ = members.bind("demo", "+8613900003333", "bob")
    console.login("pixel")
    csrf = console.csrf()
    for _ in range(CALLER_MAX_MEMBERS["account"] * CALLER_MEMBER_MAX_FAILURES + 1):
        page = client.post(f"{CONSOLE}/pixel/check", data={"code": stale_code(m), "csrf_token": csrf})
        assert page.status_code == 422
        assert "This code has expired: ask the shopper to refresh the card" in page.get_data(as_text=True)
    for who in (m, other):
        page = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(who), "csrf_token": csrf})
        assert page.status_code == 200 and "Valid member card" in page.get_data(as_text=True)


def test_a_fake_card_stops_the_till_for_that_number_only(client, console, members):
    m, _ = members.bind("demo", PHONE, "alice")
    other, _ = members.bind("demo", "+8613900003333", "bob")
    console.login("pixel")
    csrf = console.csrf()
    for _ in range(CALLER_MEMBER_MAX_FAILURES):  # a fake card of hers, scanned again and again
        page = client.post(f"{CONSOLE}/pixel/check", data={"code": wrong_code(m), "csrf_token": csrf})
        assert page.status_code == 422
    refused = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(m), "csrf_token": csrf})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert f"Too many wrong codes for member {m.id} from this account" in refused.get_data(as_text=True)
    page = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(other), "csrf_token": csrf})
    assert page.status_code == 200 and "Valid member card" in page.get_data(as_text=True)


def test_right_codes_cost_nothing(client, console, members):
    m, _ = members.bind("demo", PHONE, "alice")
    console.login("pixel")
    csrf = console.csrf()
    for _ in range(CALLER_MAX_MEMBERS["account"] * CALLER_MEMBER_MAX_FAILURES + 3):
        check = client.post(f"{CONSOLE}/pixel/check", data={"code": current_code(m), "csrf_token": csrf})
        assert check.status_code == 200
    assert client.post(f"{CONSOLE}/pixel/check", data={"code": wrong_code(m), "csrf_token": csrf}).status_code == 422


def test_one_tokens_wrong_codes_stop_it_but_not_the_other_tokens(client, demo, svc, members):
    m, _ = members.bind("demo", PHONE, "alice")
    other, _ = members.bind("demo", "+8613900003333", "bob")
    guesser = svc.tokens.issue("demo", "pos-kopi", scopes=["membership"])
    till = svc.tokens.issue("demo", "pos-pixel", scopes=["membership"])
    for _ in range(CALLER_MEMBER_MAX_FAILURES):  # a fake card of hers, scanned again and again
        resp = client.post(f"{API}/identify", json={"member_code": wrong_code(m)}, headers=auth(guesser))
        assert resp.status_code == 422 and resp.get_json()["error"] != STALE_ERROR
    resp = client.post(f"{API}/identify", json={"member_code": current_code(m)}, headers=auth(guesser))
    assert resp.status_code == 429 and "for this member number" in resp.get_json()["error"]
    resp = client.post(f"{API}/identify", json={"member_code": current_code(other)}, headers=auth(guesser))
    assert resp.status_code == 200 and resp.get_json()["member"] == other.id  # the next customer's card works
    for n in range(CALLER_MAX_MEMBERS["token"] - 1):  # guesses spread over member numbers
        resp = client.post(f"{API}/identify", json={"member_code": not_in_use(n)}, headers=auth(guesser))
        assert resp.status_code == 404
    for path, body in (("identify", {}), ("wechat-links", {"openid": "oGUESS0001"}),
                       ("purchases", {"receipt_id": "G-1", "store": "kopi", "amount": "5"})):
        resp = client.post(f"{API}/{path}", json={"member_code": current_code(other), **body}, headers=auth(guesser))
        assert resp.status_code == 429 and resp.get_json()["field"] == "member_code", (path, resp.get_json())
        assert "from this token" in resp.get_json()["error"] and int(resp.headers["Retry-After"]) > 0
    assert members.get("demo", other.id).points == 0 and members.for_wechat("demo", "oGUESS0001") is None
    resp = client.post(f"{API}/identify", json={"member_code": current_code(m)}, headers=auth(till))
    assert resp.status_code == 200 and resp.get_json()["member"] == m.id
    resp = client.post(f"{API}/purchases", headers=auth(till),
                       json={"member_code": current_code(m), "receipt_id": "P-1", "store": "pixel", "amount": "5"})
    assert resp.status_code == 201 and members.get("demo", m.id).points == 5


def test_expired_codes_at_a_pos_token_say_so_and_stop_no_till(client, demo, members):
    """Stale codes scanned at the tills of one POS token, more than it may get wrong: each answers the distinct
    "expired" error, and the next member's fresh code still goes through."""
    m, _ = members.bind("demo", PHONE, "alice")
    for n in range(CALLER_MAX_MEMBERS["token"] * CALLER_MEMBER_MAX_FAILURES + 1):
        resp = client.post(f"{API}/identify", json={"member_code": stale_code(m, 2 + n % 20)}, headers=auth(demo))
        assert resp.status_code == 422 and resp.get_json() == {"error": STALE_ERROR, "field": "member_code"}
    resp = client.post(f"{API}/purchases", headers=auth(demo),
                       json={"member_code": current_code(m), "receipt_id": "R-77", "store": "kopi", "amount": "35"})
    assert resp.status_code == 201 and resp.get_json()["points_earned"] == 35
