"""The consoles used from a phone all day (an audit's findings):
1. a console session ends after CONSOLE_IDLE_S unused (each request slides it, a page's self-refresh does not) and
   CONSOLE_SESSION_MAX_S after signing in, not at a fixed 12 h mid-shift; the session key holds the bare username an
   older web host reads during a rolling deploy; a form sent after it ended changes nothing and leads, through a
   sign-in that says so, back to the page it was sent from, never to the form's POST-only URL (a 405);
2. a phone keyboard's capital first letter and trailing space are no wrong username (and its wrong passwords are
   counted against the folded name), and a refusal keeps the typed username;
3. a console's error page links the console home and the console page it came from, not the shoppers' mall home.
The store's TTLs are inspected (or a clock given to the store), never waited for."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from core.settings import Settings
from portal import create_app
from portal.auth import AccountStore, Throttled
from tests.security.conftest import GOOD

OWNERS = "/console/ops/demo/owners"
DISABLE = "/console/ops/demo/owners/{}/disabled"  # takes only a form (POST)
SIGNED_OUT = "You were signed out; your last change was not made. Sign in and try again."


def csrf_of(client, path: str = "/console/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str = "mallportal-demo", query: str = ""):
    return client.post("/console/login" + query,
                       data={"username": username, "password": password, "csrf_token": csrf_of(client)})


def session_keys(store: AccountStore, username: str) -> list[str]:
    return [store.keys.session(sid.decode()) for sid in store.db.smembers(store.keys.sessions_of(username))]


# ---- 1. idle time, a longest life, and a form sent after the end -------------------------------------------


def test_a_session_lasts_its_idle_time_and_each_use_starts_it_again(db, owner):
    store = AccountStore(db, session_idle_s=600, session_max_s=3600)
    key = store.keys.session(sid := store.start_session(owner))
    assert 590 < db.ttl(key) <= 600
    db.expire(key, 10)  # as if it had lain unused for almost its idle time
    assert store.session_user(sid) == owner
    assert 590 < db.ttl(key) <= 600


def test_using_a_session_never_carries_it_past_its_longest_life(db, owner):
    store = AccountStore(db, session_idle_s=3600, session_max_s=300)
    key = store.keys.session(sid := store.start_session(owner))
    assert 0 < db.ttl(key) <= 300
    db.expire(key, 10)
    assert store.session_user(sid) == owner
    assert 10 < db.ttl(key) <= 300  # slid, but only up to its end: never the hour of idle time


def test_a_session_ends_at_its_longest_life_however_busy(db, owner):
    """With the store given a clock: 100 s before the end the session is slid to its end only; at the end it is
    gone, though it was used a moment before."""
    store = AccountStore(db, session_idle_s=600, session_max_s=3600)
    now = float(db.time()[0])
    key = store.keys.session(sid := store.start_session(owner, now=now))
    assert store.session_user(sid, now=now + 3500) == owner and 0 < db.ttl(key) <= 100
    assert store.session_user(sid, now=now + 3600) is None and not db.exists(key)


def test_a_session_from_before_the_idle_rule_keeps_its_own_end(db, owner):
    store = AccountStore(db)
    db.set(key := store.keys.session("old-sid"), owner, ex=1000)  # the username alone, a fixed 12 h then
    assert store.session_user("old-sid") == owner and db.ttl(key) <= 1000
    store.end_session("old-sid")
    assert not db.exists(key)


def test_a_session_is_its_bare_username_to_the_release_before_the_idle_rule(db, owner):
    """Rolling deploy: an old web host GETs the session key and looks the account up by the whole value, so a
    sign-in made on a new host must read there as that username; its end lives beside it, with the same expiry."""
    store = AccountStore(db, session_idle_s=600, session_max_s=3600)
    now = float(db.time()[0])
    sid = store.start_session(owner, now=now)
    key, end = store.keys.session(sid), store.keys.session_end(sid)
    assert db.get(key).decode() == owner and store.get(db.get(key).decode()).username == owner  # the old rule
    assert int(db.get(end)) == int(now) + 3600
    assert 590 < db.ttl(key) <= 600 and db.ttl(end) == db.ttl(key)
    db.expire(key, 10)
    db.expire(end, 10)
    assert store.session_user(sid) == owner and db.get(key).decode() == owner
    assert 590 < db.ttl(key) <= 600 and db.ttl(end) == db.ttl(key)  # slid together
    store.end_session(sid)
    assert not db.exists(key) and not db.exists(end)


def test_a_refresh_reads_the_session_without_sliding_it_but_keeps_its_end(db, owner):
    store = AccountStore(db, session_idle_s=600, session_max_s=3600)
    now = float(db.time()[0])
    sid = store.start_session(owner, now=now)
    key, end = store.keys.session(sid), store.keys.session_end(sid)
    db.expire(key, 100)
    db.expire(end, 100)
    assert store.session_user(sid, slide=False) == owner
    assert 0 < db.ttl(key) <= 100 and 0 < db.ttl(end) <= 100  # not slid: it still ends 100 s from now
    assert store.session_user(sid, now=now + 3600, slide=False) is None  # nor read past its longest life
    assert not db.exists(key) and not db.exists(end)


def test_a_console_page_left_refreshing_itself_is_not_kept_signed_in(client, db, demo):
    """The console's self-refreshing pages fetch themselves every few seconds with X-Auto-Refresh: 1; such a fetch
    reads the session and leaves its idle time running, a request the user makes starts it again."""
    health = "/console/ops/demo/health"
    assert sign_in(client, "ops").status_code == 303
    page = client.get(health)
    assert page.status_code == 200
    assert 'headers: {"X-Auto-Refresh": "1"}' in page.get_data(as_text=True)  # what the page's script sends
    store = AccountStore(db)
    [sid] = [sid.decode() for sid in db.smembers(store.keys.sessions_of("ops"))]
    key, end = store.keys.session(sid), store.keys.session_end(sid)
    db.expire(key, 100)
    db.expire(end, 100)
    assert client.get(health, headers={"X-Auto-Refresh": "1"}).status_code == 200  # still signed in
    assert 0 < db.ttl(key) <= 100 and 0 < db.ttl(end) <= 100
    assert client.get(health).status_code == 200
    assert db.ttl(key) > 100 and db.ttl(end) == db.ttl(key)


def test_the_settings_are_read_once_and_reach_the_console(settings, db, demo):
    env = {"REDIS_URL": "redis://x", "SECRET_KEY": "k" * 32, "MAC_HASH_KEY": "m" * 32, "PHONE_KEY": "p" * 32,
           "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I"}
    default = Settings.from_env(env)
    assert (default.console_idle_s, default.console_session_max_s) == (8 * 3600, 24 * 3600)
    set_ = Settings.from_env({**env, "CONSOLE_IDLE_S": "900", "CONSOLE_SESSION_MAX_S": "7200"})
    assert (set_.console_idle_s, set_.console_session_max_s) == (900, 7200)
    app = create_app(settings.with_(console_idle_s=900, console_session_max_s=7200))
    client = app.test_client()
    assert sign_in(client, "ops").status_code == 303
    store = AccountStore(db)
    [key] = session_keys(store, "ops")
    assert 800 < db.ttl(key) <= 900
    db.expire(key, 10)
    assert client.get("/console/ops/demo/").status_code == 200  # a page opened: the idle time starts again
    assert 800 < db.ttl(key) <= 900
    assert app.permanent_session_lifetime.total_seconds() == 7200  # the cookie outlives the session


def test_a_form_sent_after_the_session_ended_is_not_done_and_leads_back_to_its_page(client, db, demo, owner):
    assert sign_in(client, "ops").status_code == 303
    token = csrf_of(client, OWNERS)
    AccountStore(db).end_sessions("ops")  # idle too long, or signed out from elsewhere: the cookie stays
    resp = client.post(DISABLE.format(owner), data={"disabled": "1", "csrf_token": token},
                       headers={"Referer": "http://localhost" + OWNERS + "?lang=en"})
    assert resp.status_code == 302
    login = urlsplit(resp.headers["Location"])
    assert login.path == "/console/login"
    assert parse_qs(login.query) == {"next": [OWNERS + "?lang=en"], "signed_out": ["1"]}
    assert not AccountStore(db).status(owner)["disabled"]  # nothing was done
    page = client.get(resp.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert SIGNED_OUT in page
    back = sign_in(client, "ops", query="?" + login.query)
    assert back.status_code == 303 and back.headers["Location"] == OWNERS + "?lang=en"
    assert client.get(back.headers["Location"]).status_code == 200


@pytest.mark.parametrize("referer", [None, "http://evil.example" + OWNERS, "http://localhost/v/demo/",
                                     "http://localhost" + DISABLE.format("tea-house"), "http://localhost//evil"])
def test_a_form_after_the_end_from_no_console_page_of_ours_goes_to_the_console_home(client, db, demo, owner,
                                                                                      referer):
    assert sign_in(client, "ops").status_code == 303
    token = csrf_of(client, OWNERS)
    AccountStore(db).end_sessions("ops")
    resp = client.post(DISABLE.format(owner), data={"disabled": "1", "csrf_token": token},
                       headers={"Referer": referer} if referer else {})
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query) == {"next": ["/console/"], "signed_out": ["1"]}


@pytest.mark.parametrize("target", [DISABLE.format("tea-house"), "/console/logout", "/console/nowhere",
                                    "/console/login"])
def test_signing_in_never_lands_on_a_url_a_browser_cannot_open(client, demo, owner, target):
    resp = sign_in(client, "ops", query="?next=" + target)
    assert resp.status_code == 303 and resp.headers["Location"] == "/console/"


# ---- 2. a phone's keyboard at the sign-in -------------------------------------------------------------------


def test_a_capital_first_letter_and_a_trailing_space_sign_in(app, db, demo):
    assert sign_in(app.test_client(), "Kopi ").status_code == 303  # the demo's owner "kopi"
    assert sign_in(app.test_client(), "  KOPI").status_code == 303
    assert not list(db.scan_iter("*:loginfail:*"))  # nothing counted against anyone


def test_wrong_passwords_typed_with_capitals_count_against_the_folded_name(app, db, demo):
    """The throttle counts a failure against the account the box names once folded: "KOPI " is `kopi`, so guesses
    spelt that way throttle `kopi` however it is typed next (and nothing is counted for another spelling)."""
    store = AccountStore(db)
    for i in range(store.FREE_FAILURES):
        assert sign_in(app.test_client(), "KOPI ", f"wrong guess {i}").status_code == 401
    keys = store._throttle_keys("kopi", "127.0.0.1")
    assert {int(db.hget(key, "n")) for key in keys} == {store.FREE_FAILURES}
    assert set(db.scan_iter("*:loginfail:*")) == {key.encode() for key in keys}
    # the next tries at the moment of a failure (a clock given, not a race with the one-second delay)
    at = float(db.hget(keys[0], "last"))
    for typed in ("kopi", "KOPI ", "Kopi"):
        with pytest.raises(Throttled):
            store.verify(store.sign_in_name(typed), "mallportal-demo", "127.0.0.1", now=at)


def test_an_account_spelt_with_capitals_is_its_own(app, db, demo):
    """`flask users create` keeps the case given: such an account signs in as spelt, and one differing only in case
    from another is never signed in to with the other's name."""
    store = AccountStore(db)
    store.create("Kopi", GOOD, "owner", "demo", ("kopi",))  # beside the demo's "kopi"
    assert store.sign_in_name(" Kopi ") == "Kopi" and store.sign_in_name("KOPI") == "kopi"
    assert sign_in(app.test_client(), "Kopi ", GOOD).status_code == 303
    assert sign_in(app.test_client(), "Kopi ").status_code == 401  # kopi's password is not Kopi's
    assert sign_in(app.test_client(), "kopi").status_code == 303


def test_a_refusal_keeps_the_username_and_never_the_password(client, demo):
    resp = client.post("/console/login", data={"username": " Kopi ", "password": "secret-typed-here",
                                               "csrf_token": csrf_of(client)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    username = re.search(r'<input type="text" id="username"[^>]*>', html).group(0)
    assert 'value="Kopi"' in username
    assert "secret-typed-here" not in html


def test_the_username_box_is_not_capitalised_or_corrected_by_a_phone(client, demo):
    html = client.get("/console/login").get_data(as_text=True)
    username = re.search(r'<input type="text" id="username"[^>]*>', html).group(0)
    for attribute in ('autocomplete="username"', 'autocapitalize="none"', 'autocorrect="off"',
                      'spellcheck="false"'):
        assert attribute in username


# ---- 3. a console's error pages -----------------------------------------------------------------------------


def links(html: str) -> dict[str, str]:
    return dict(re.findall(r'<a class="button" id="([^"]+)" href="([^"]+)"', html))


def test_a_console_405_links_the_console_home_and_the_page_it_came_from(client, demo, owner):
    assert sign_in(client, "ops").status_code == 303
    resp = client.get(DISABLE.format(owner) + "?lang=en", headers={"Referer": "http://localhost" + OWNERS})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 405
    assert links(html) == {"error-back": OWNERS, "error-console-home": "/console/"}
    assert "start again from the console home" in html and "Mall home" not in html


@pytest.mark.parametrize(("path", "status"), [("/console/ops/demo/no-such-page", 404),
                                              ("/console/owner/demo/zone/kopi", 403)])
def test_console_errors_link_the_console_home_not_the_mall(client, demo, path, status):
    assert sign_in(client, "cinema").status_code == 303
    resp = client.get(path, headers={"Referer": "http://evil.example/console/owner/demo/"})
    assert resp.status_code == status
    assert links(resp.get_data(as_text=True)) == {"error-console-home": "/console/"}  # no way back to another site


def test_a_shopper_error_page_still_links_the_mall_home(client, demo):
    resp = client.get("/v/demo/no-such-page", headers={"Referer": "http://localhost/console/ops/demo/"})
    assert resp.status_code == 404
    assert set(links(resp.get_data(as_text=True))) == {"error-home"}
