"""Console faults a reviewer reproduced, each fixed and tested here against the real store:

1. an invite / reset link outlived a later reset or password change and took the account over;
2. one zone owner could push everything out of the venue's audit log (no-op coupon stops were audited, and
   nothing bounded how many entries one account writes);
3. on a venue's IPv6 guest WiFi one shopper's wrong guesses made every owner there wait (the login throttle
   counted the venue's /64 as one address);
4. a console form was refused an hour after its page opened although the session lasts 12 h, and the refusal
   was Flask-WTF's English on a Chinese page;
5. a post-login `next=` with CR/LF answered 500 after signing in."""

from __future__ import annotations

import html
import re
import time
from datetime import date, timedelta
from unittest import mock

import pytest
import redis

from lightapps.coupons.store import CouponStore
from portal import auth
from portal.auth import AccountStore, AuditLog, PasswordLinks
from portal.captive.config import PortalConfigStore
from tests.security.conftest import GOOD

ATTACKER = "attacker chosen pass 99"
COUPONS = "/console/apps/coupons/demo/kopi"
# a coupon's days, a year ahead of whenever the suite runs (a fixed year would turn into the past)
VALID_FROM = (date.today() + timedelta(days=365)).isoformat()
VALID_UNTIL = (date.today() + timedelta(days=366)).isoformat()


def csrf_of(client, path: str = "/console/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str = GOOD, ip: str = "10.1.1.1", query: str = ""):
    return client.post("/console/login" + query, data={"username": username, "password": password,
                                                       "csrf_token": csrf_of(client)},
                       environ_base={"REMOTE_ADDR": ip})


def use_link(client, token: str, password: str = ATTACKER):
    return client.post("/console/welcome", data={"csrf_token": csrf_of(client), "t": token,
                                                 "new_password": password, "confirm_password": password})


def new_coupon(client, title: str = "Half-price latte"):
    return client.post(COUPONS + "/new", data={"csrf_token": csrf_of(client), "title_en": title, "stock": "5",
                                               "valid_from": VALID_FROM, "valid_until": VALID_UNTIL})


# ---- 1. a link ends with any later password change --------------------------------------------------------


@pytest.mark.parametrize("change", ["set_temporary_password", "set_password", "forget_password", "set_disabled"])
def test_a_later_password_change_ends_the_link(app, db, owner, change):
    store = AccountStore(db)
    token = PasswordLinks(db).issue(owner, "reset", by="ops")
    if change == "set_password":
        store.set_password(owner, "the owners own new pass")
    else:
        getattr(store, change)(owner)
    hash_before = db.hget(store.keys.account(owner), "hash")
    client = app.test_client()
    assert client.get("/console/welcome", query_string={"t": token}).status_code == 404
    assert use_link(client, token).status_code == 404
    assert db.hget(store.keys.account(owner), "hash") == hash_before  # the password is as the change left it
    assert PasswordLinks(db).live(owner) is None


def test_an_old_link_cannot_take_over_after_the_owners_own_change(app, db, owner):
    """The reviewer's path: a reset link, then a temporary password instead, which the owner signs in with and
    changes on the password page; the first link must not set a password, nor end the owner's session."""
    old = PasswordLinks(db).issue(owner, "reset", by="ops")
    temporary = AccountStore(db).set_temporary_password(owner)
    browser = app.test_client()
    assert sign_in(browser, owner, temporary).status_code == 303
    changed = browser.post("/console/password", data={
        "csrf_token": csrf_of(browser), "current_password": temporary, "new_password": "the owners own new pass",
        "confirm_password": "the owners own new pass"})
    assert changed.status_code == 303
    assert use_link(app.test_client(), old).status_code == 404
    assert browser.get("/console/owner/demo/").status_code == 200  # still signed in
    assert sign_in(app.test_client(), owner, ATTACKER).status_code == 401
    assert sign_in(app.test_client(), owner, "the owners own new pass").status_code == 303


def test_the_link_itself_sets_the_password_once(app, db, owner):
    token = PasswordLinks(db).issue(owner, "reset", by="ops")
    assert use_link(app.test_client(), token, "the owners own new pass").status_code == 303
    assert use_link(app.test_client(), token).status_code == 404
    assert sign_in(app.test_client(), owner, "the owners own new pass").status_code == 303


# ---- 2. the audit log ---------------------------------------------------------------------------------------


def stops_recorded(db, coupon_id: str) -> int:
    return sum(1 for e in AuditLog(db).recent("demo", 1000)
               if e["action"] == "coupons.stop" and e["detail"].get("coupon") == coupon_id)


def test_stopping_a_stopped_coupon_is_no_audit_entry(app, db, owner):
    client = app.test_client()
    assert sign_in(client, owner).status_code == 303
    coupon_id = new_coupon(client).headers["Location"].split("created=")[1]
    for _ in range(3):
        assert client.post(f"{COUPONS}/{coupon_id}/stop", data={"csrf_token": csrf_of(client),
                                                                "confirm": "yes"}).status_code == 303
    assert stops_recorded(db, coupon_id) == 1
    assert CouponStore(db).get("demo", coupon_id).status == "stopped"
    assert CouponStore(db).stop("demo", "books", coupon_id) is None  # another zone's: no such coupon there


def test_one_accounts_volume_cannot_push_a_change_out_of_the_log(app, db, owner, monkeypatch):
    """Scaled down (each account may make 5 audited changes a day, the log keeps 20): the owner's change, then
    30 audited changes tried by another owner and 30 more by the same owner. Past its allowance each is a 429
    before anything changes, so the change stays in the log."""
    monkeypatch.setattr(AuditLog, "WRITES_PER_DAY", 5, raising=False)
    monkeypatch.setattr(AuditLog, "KEEP", 20)
    AccountStore(db).create("tea-house-2", GOOD, "owner", "demo", ("kopi",))
    first = app.test_client()
    assert sign_in(first, owner).status_code == 303  # the sign-in is the first of its 5
    hidden = new_coupon(first, "The change to hide").headers["Location"].split("created=")[1]
    other = app.test_client()
    assert sign_in(other, "tea-house-2").status_code == 303
    codes = [new_coupon(browser, f"flood {i}").status_code for browser in (other, first) for i in range(30)]
    entries = AuditLog(db).recent("demo", AuditLog.KEEP)
    assert any(e["action"] == "coupons.create" and e["detail"]["coupon"] == hidden for e in entries)
    assert codes == [303] * 4 + [429] * 26 + [303] * 3 + [429] * 27
    refused = new_coupon(other)
    assert 0 < int(refused.headers["Retry-After"]) <= AuditLog.DAY_S
    made = [c for c in CouponStore(db).for_zone("demo", "kopi") if c.title_en.startswith(("flood", "The change"))]
    assert len(made) == 1 + 4 + 3  # nothing past the allowance was made
    assert sign_in(app.test_client(), owner).status_code == 429  # a sign-in is an entry too
    assert first.post("/console/logout", data={"csrf_token": csrf_of(first)}).status_code == 303  # always allowed


# ---- 3. the login throttle on a venue's IPv6 guest WiFi --------------------------------------------------------


def test_a_shopper_on_the_guest_wifi_does_not_delay_the_owner_there(app, db, owner):
    PortalConfigStore(db).set("demo", {"client_networks": "2001:db8:42:1::/64"})
    attacker = app.test_client()
    codes = [sign_in(attacker, f"nobody{i}", "wrong guess 123", ip="2001:db8:42:1::a").status_code
             for i in range(40)]
    assert 429 in codes  # the shopper's own address is throttled
    assert sign_in(app.test_client(), owner, ip="2001:db8:42:1::b").status_code == 303


def test_outside_the_guest_networks_an_ipv6_64_is_still_one_address(app, db, owner):
    PortalConfigStore(db).set("demo", {"client_networks": "2001:db8:42:1::/64"})
    attacker = app.test_client()
    for i in range(AccountStore.FREE_FAILURES_PER_IP + 1):
        sign_in(attacker, f"nobody{i}", "wrong guess 123", ip="2001:db8:99:1::a")
    assert sign_in(app.test_client(), owner, ip="2001:db8:99:1::b").status_code == 429


def test_a_venue_whose_settings_cannot_be_read_stops_no_sign_in(app, db, owner):
    """On a cluster a shard that is down holds some venues' settings: a sign-in (which names no venue) leaves
    those venues' guest networks out rather than answering 503 for every mall; IPv4 reads none at all."""
    def unreadable(venue):
        raise redis.ConnectionError("that shard is down")

    with mock.patch.object(auth, "guest_networks", side_effect=unreadable) as read:
        assert sign_in(app.test_client(), owner, ip="10.1.1.9").status_code == 303
        assert read.call_count == 0  # IPv4: no venue's networks asked for
        assert sign_in(app.test_client(), owner, ip="2001:db8:42:1::b").status_code == 303
        assert read.call_count >= 1


# ---- 4. CSRF: as long as the session, and in the page's language ---------------------------------------------


def test_a_form_opened_an_hour_before_is_accepted_in_a_live_session(app, db, owner):
    client = app.test_client()
    assert sign_in(client, owner).status_code == 303
    token = csrf_of(client, COUPONS + "/")
    later = time.time() + 61 * 60
    with mock.patch("time.time", lambda: later):
        resp = client.post(COUPONS + "/new", data={"csrf_token": token, "title_en": "Typed for an hour",
                                                   "stock": "5", "valid_from": VALID_FROM,
                                                   "valid_until": VALID_UNTIL})
    assert resp.status_code == 303
    assert [c.title_en for c in CouponStore(db).for_zone("demo", "kopi")].count("Typed for an hour") == 1


def test_a_csrf_refusal_on_a_chinese_page_has_no_english(app, owner):
    client = app.test_client()
    assert sign_in(client, owner).status_code == 303
    client.get(COUPONS + "/?lang=zh")
    resp = client.post(COUPONS + "/new", data={"title_en": "no token"}, headers={"Accept-Language": "zh-CN"})
    page = html.unescape(resp.get_data(as_text=True))
    message = re.search(r'id="error-message">([^<]*)<', page).group(1)
    assert resp.status_code == 400 and "CSRF" not in page
    assert message.strip() and not re.search(r"[A-Za-z]{3,}", message), message


def test_a_csrf_refusal_in_english_says_what_to_do(app, owner):
    client = app.test_client()
    assert sign_in(client, owner).status_code == 303
    resp = client.post(COUPONS + "/new?lang=en", data={"title_en": "no token"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "CSRF" not in page and "reload" in page


# ---- 5. next= with control characters ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/console/%0d%0aSet-Cookie:%20x=1", "/console/%0aX", "/console/%09/x",
                                    "/console/%7f"])
def test_a_next_with_control_characters_falls_back_to_the_console_home(app, owner, target):
    resp = sign_in(app.test_client(), owner, query="?next=" + target)
    assert resp.status_code == 303 and resp.headers["Location"] == "/console/"


def test_a_plain_next_is_still_followed(app, owner):
    resp = sign_in(app.test_client(), owner, query="?next=/console/owner/demo/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/console/owner/demo/"
