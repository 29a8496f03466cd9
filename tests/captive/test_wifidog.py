"""WiFiDog (captive-portals.md 3.4; wifidog-gateway @b9771dd src/http.c, src/auth.c, src/centralserver.c,
src/ping_thread.c, src/conf.h): the gateway's redirect to `<path>login/?gw_address=..&gw_port=..&gw_id=..&ip=..
&mac=..&url=..` lands the phone on its zone; Continue hands the browser to the gateway's /wifidog/auth with a
one-time token; the gateway's own auth/ calls (stage=login, counters, logout) decide and end the session; ping/
says Pong; portal/ is the status page. Every call the gateway makes is allowed only from its addresses (the venue's
`wifidog_gateways`, which every test here sets to GATEWAY: none while it is empty)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.captive.landing import FailOpenLog
from tests.captive.test_captive_gateways import configure
from tests.captive.test_gateway_state import session_of
from tests.captive.test_probe_lane import PHONE, tracked  # noqa: F401 - the fixture
from tests.captive.test_session_review_fixes import fail_open_page, store_away

GATEWAY = "192.168.1.1"  # where the gateway's auth/ and ping/ calls come from in these tests
REDIRECT = {"gw_address": GATEWAY, "gw_port": "2060", "gw_id": "001217DA42D2", "ip": "192.168.1.23",
            "mac": PHONE, "url": "http://example.org/news"}  # src/http.c's order and names


@pytest.fixture(autouse=True)
def gateways_named(client, demo):
    """The venue names its gateway's address: without it no one may call auth/ or ping/."""
    configure(client, wifidog_gateways=GATEWAY)


def from_gateway(address: str = GATEWAY) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def land(client, path: str = "/wifidog/login/", **params):
    resp = client.get(f"{path}?{urlencode({**REDIRECT, **params})}")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp


def continue_to_gateway(client, resp) -> str:
    """Continue from the landing: a 303 to the gateway's own /wifidog/auth with a token; the token."""
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    done = client.post("/portal/continue", data={"c": token})
    assert done.status_code == 303, done.get_data(as_text=True)[:300]
    grant = urlparse(done.headers["Location"])
    assert (grant.scheme, grant.netloc, grant.path) == ("http", f"{GATEWAY}:2060", "/wifidog/auth")
    (ticket,) = parse_qs(grant.query)["token"]
    return ticket


def auth(client, stage: str, token: str = "", mac: str = PHONE, path: str = "/wifidog/auth/",
         address: str = GATEWAY, gw_id: str = REDIRECT["gw_id"], ip: str = REDIRECT["ip"]):
    """The gateway's auth call as src/centralserver.c builds it."""
    query = urlencode({"stage": stage, "ip": ip, "mac": mac, "token": token, "incoming": "0",
                       "outgoing": "0", "gw_id": gw_id})
    return client.get(f"{path}?{query}", **from_gateway(address))


def answer(resp) -> str:
    assert resp.status_code == 200 and resp.mimetype == "text/plain", resp.get_data(as_text=True)[:300]
    return resp.get_data(as_text=True)


def probe(client) -> int:
    return client.get(f"/generate_204?client_mac={PHONE}").status_code


# ---- the whole flow -------------------------------------------------------------------------------------------


def test_the_redirect_lands_the_phone_on_its_zone_like_the_portal(client, tracked):  # noqa: F811
    assert urlparse(land(client).headers["Location"]).path == tracked
    assert urlparse(land(client, "/wifidog/demo/login/").headers["Location"]).path == tracked


def test_login_continue_auth_counters_revoke(client, demo, svc):
    token = continue_to_gateway(client, land(client))
    assert probe(client) == 302  # handed to the gateway, not online until the gateway confirms the token
    assert session_of(client, PHONE) is None
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    assert probe(client) == 204  # online: the probe by MAC gets its answer
    session = session_of(client, PHONE)
    assert session.gateway == "wifidog" and session.ip == REDIRECT["ip"]
    assert answer(auth(client, "login", token, mac="02:00:5e:00:53:99")) == "Auth: 0\n"  # one use: its phone's now
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # the browser reloaded the gateway's auth page
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"
    with client.application.app_context():
        from portal.captive.views import captive_services

        captive_services().sessions.revoke("demo", svc.hasher.client_id(PHONE))
    assert answer(auth(client, "counters", token)) == "Auth: 0\n"  # the gateway logs the phone off


def test_a_token_for_another_mac_is_refused_and_kept_for_its_own(client, demo):
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token, mac="02:00:5e:00:53:99")) == "Auth: 0\n"
    assert session_of(client, "02:00:5e:00:53:99") is None and session_of(client, PHONE) is None
    assert answer(auth(client, "login", token)) == "Auth: 1\n"


def test_unknown_token_no_token_and_no_mac_say_no(client, demo):
    continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", "x" * 43)) == "Auth: 0\n"
    assert answer(auth(client, "login", "")) == "Auth: 0\n"
    assert answer(auth(client, "login", "t", mac="")) == "Auth: 0\n"
    assert answer(auth(client, "counters", mac="")) == "Auth: 0\n"
    assert session_of(client, PHONE) is None


def test_logout_ends_the_session(client, demo):
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    assert answer(auth(client, "logout", token)) == "Auth: 0\n"
    assert session_of(client, PHONE) is None and probe(client) == 302
    assert answer(auth(client, "counters", token)) == "Auth: 0\n"


def test_counters_and_logout_must_bring_the_phones_own_token(client, demo):
    """Where a guest shares the gateway's address (a NAT), a guest may call: without the token a phone signed in
    with, a call about it changes nothing and says nothing (no `Auth:` line: the gateway leaves its phones as
    they are)."""
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    for stage in ("logout", "counters"):
        for forged in ("", "x" * 43):
            resp = auth(client, stage, forged)
            assert resp.status_code == 403 and "Auth:" not in resp.get_data(as_text=True)
    assert session_of(client, PHONE) is not None and probe(client) == 204
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"


def test_the_token_is_held_as_long_as_an_extended_session(client, demo, svc):
    """Extend lengthens a WiFiDog session; the gateway's next counters call keeps the phone's token as long, so
    the calls about it keep answering (and a logout keeps working) until the session ends."""
    from portal.captive.wifidog import HELD_EXTRA_S, WiFiDogKeys

    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    phone = svc.hasher.client_id(PHONE)
    with client.application.app_context():
        from portal.captive.views import captive_services

        captive_services().sessions.grant("demo", phone, 6 * 3600, "wifidog", granted_by=phone)  # kept, later end
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"
    ttl = svc.db.ttl(WiFiDogKeys("demo").held(phone))
    assert ttl > 5 * 3600 + HELD_EXTRA_S


def test_the_session_lasts_the_venues_length(client, demo):
    configure(client, session_minutes=90)
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    session = session_of(client, PHONE)
    assert session.expires_at - session.granted_at == 90 * 60 and session.counts_down


def test_the_shopper_may_extend_since_the_gateway_asks_the_portal(client, demo):
    """Unlike the other gateways', a WiFiDog session ends when the portal's record says (counters): Extend works."""
    resp = land(client)
    token = continue_to_gateway(client, resp)
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    c = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    ends = session_of(client, PHONE).expires_at
    assert 'id="extend"' in client.get(f"/portal/status?c={c}").get_data(as_text=True)
    assert client.post("/portal/extend", data={"c": c}).status_code == 303
    assert session_of(client, PHONE).expires_at == ends + 60 * 60
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"


def test_a_venue_named_in_the_auth_server_path(client, demo):
    """AuthServer Path /wifidog/demo/: every fragment under it; the token is the venue's own."""
    token = continue_to_gateway(client, land(client, "/wifidog/demo/login/"))
    assert answer(auth(client, "login", token, path="/wifidog/demo/auth/")) == "Auth: 1\n"
    assert client.get("/wifidog/nowhere/login/?" + urlencode(REDIRECT)).status_code == 404
    assert auth(client, "counters", path="/wifidog/nowhere/auth/").status_code == 404


def test_the_token_is_stored_hashed_only(client, demo, svc):
    token = continue_to_gateway(client, land(client))
    keys = [k.decode() for k in svc.db.scan_iter(match="*wifidog*")]
    assert len(keys) == 1 and token not in keys[0] and "{demo}" in keys[0]
    value = svc.db.get(keys[0]).decode()
    assert token not in value and PHONE not in value.lower() and 0 < svc.db.ttl(keys[0]) <= 120


# ---- ping, portal, gw_message --------------------------------------------------------------------------------


def test_ping_says_pong(client, demo):
    query = "gw_id=001217DA42D2&sys_uptime=1234&sys_memfree=20000&sys_load=0.10&wifidog_uptime=600"
    assert answer(client.get(f"/wifidog/ping/?{query}", **from_gateway())) == "Pong"
    assert answer(client.get(f"/wifidog/demo/ping/?{query}", **from_gateway())) == "Pong"


def test_portal_after_the_auth_is_the_status_page_online(client, demo):
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    for path in ("/wifidog/portal/", "/wifidog/demo/portal/"):
        resp = client.get(f"{path}?gw_id=001217DA42D2&token={token}")
        assert resp.status_code == 302
        target = urlparse(resp.headers["Location"])
        assert target.path == "/portal/status" and parse_qs(target.query)["gateway"] == ["online"]
        page = client.get(resp.headers["Location"])
        assert page.status_code == 200 and 'id="online"' in page.get_data(as_text=True)


def test_a_denied_login_gets_the_try_again_page(client, demo):
    resp = client.get("/wifidog/gw_message.php?message=denied&token=x")
    assert resp.status_code == 409 and 'id="try-again"' in resp.get_data(as_text=True)


# ---- bad redirects ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("gw_address", "8.8.8.8"), ("gw_address", "gw.example.com"), ("gw_address", "192.168.1.1:2060"),
    ("gw_address", "fe80::1%eth0"), ("gw_address", "2002:808:808::1"), ("gw_port", "0"), ("gw_port", "65536"),
    ("gw_port", "http"), ("gw_id", "x" * 65), ("mac", "not-a-mac"), ("ip", "not-an-ip"),
])
def test_a_bad_field_is_refused_by_name(client, demo, name, value):
    resp = client.get("/wifidog/login/?" + urlencode({**REDIRECT, name: value}))
    assert resp.status_code == 400 and f"For the staff: {name}: " in resp.get_data(as_text=True)


@pytest.mark.parametrize("name", ["gw_address", "gw_port", "gw_id"])
def test_a_missing_field_is_refused_by_name(client, demo, name):
    resp = client.get("/wifidog/login/?" + urlencode({k: v for k, v in REDIRECT.items() if k != name}))
    assert resp.status_code == 400 and f"For the staff: {name}: " in resp.get_data(as_text=True)


def test_a_redirect_naming_neither_mac_nor_ip_is_refused_by_name(client, demo):
    """No MAC is fine where the redirect names the phone's ip (test_wifidog_redeem.py); neither: no token could be
    bound to the phone."""
    resp = client.get("/wifidog/login/?" + urlencode({k: v for k, v in REDIRECT.items() if k not in ("mac", "ip")}))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "For the staff: mac: is required where the redirect names no ip" in page
    assert "information desk" in page


def test_a_bad_destination_is_dropped_not_refused(client, demo):
    token = continue_to_gateway(client, land(client, url="javascript:alert(1)"))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"


def test_the_same_redirect_on_portal_is_a_wifidog_one(client, demo):
    continue_to_gateway(client, land(client, "/portal"))


# ---- who may call ----------------------------------------------------------------------------------------------


def test_only_the_named_gateways_may_call(client, demo):
    token = continue_to_gateway(client, land(client))
    for address in ("203.0.113.9", REDIRECT["ip"]):  # anyone's; a guest's private one
        refused = auth(client, "login", token, address=address)
        assert refused.status_code == 403 and "Auth:" not in refused.get_data(as_text=True)  # never a logoff
        assert client.get("/wifidog/ping/", **from_gateway(address)).status_code == 403
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # not spent by the refused call
    assert auth(client, "logout", address="203.0.113.9").status_code == 403
    assert session_of(client, PHONE) is not None


def test_wifidog_gateways_names_the_callers(client, demo):
    configure(client, wifidog_gateways="198.51.100.7, 10.20.0.0/16")
    token = continue_to_gateway(client, land(client))
    assert auth(client, "login", token).status_code == 403  # a private address, not one of them
    assert client.get("/wifidog/ping/", **from_gateway()).status_code == 403
    assert answer(client.get("/wifidog/ping/", **from_gateway("198.51.100.7"))) == "Pong"
    assert answer(auth(client, "login", token, address="10.20.3.4")) == "Auth: 1\n"


@pytest.fixture
def still_clock(client):
    """The app's once-every-10-s log lines on a clock that does not move: a busy machine's stall between two calls
    must not make a second line."""
    client.application.extensions["captive"].landing.fail_open_log = FailOpenLog(clock=lambda: 0.0)


def test_no_caller_at_all_while_wifidog_gateways_is_empty(client, demo, caplog, still_clock):
    """No default: a private address is a guest's too on a network routed to the portal."""
    token = continue_to_gateway(client, land(client))
    configure(client, wifidog_gateways="")
    caplog.set_level("WARNING")
    for address in (GATEWAY, "127.0.0.1", "10.0.0.1", "203.0.113.9"):
        for resp in (auth(client, "login", token, address=address),
                     client.get("/wifidog/ping/?gw_id=001217DA42D2", **from_gateway(address))):
            body = resp.get_data(as_text=True)
            assert resp.status_code == 403 and "Auth:" not in body and "Pong" not in body
            assert "wifidog_gateways" in body
    refusals = [r for r in caplog.records if "wifidog_gateways is not set" in r.getMessage()]
    # once per venue every 10 s, not once per call: hundreds of gateways ping every minute
    assert len(refusals) == 1 and all(r.levelname == "WARNING" for r in refusals)
    assert REDIRECT["ip"] not in caplog.text and PHONE not in caplog.text.lower()
    assert session_of(client, PHONE) is None
    configure(client, wifidog_gateways=GATEWAY)
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # not spent by the refused calls


def test_a_forged_redirect_cannot_take_a_phones_session(client, demo, svc):
    """The review's H1: an attacker lands with the victim's MAC (WiFiDog signs nothing), Continues and reads the
    token from the Location. Calling auth/ with it from a guest's address is refused (only the named gateways
    may call), and the gateway itself names the MAC of the browser that brings a token (its ARP table): the
    attacker's own, for which the token redeems nothing. The victim's session and token stay as they were."""
    from portal.captive.wifidog import WiFiDogKeys

    victim = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", victim)) == "Auth: 1\n"
    phone = svc.hasher.client_id(PHONE)
    session, held = session_of(client, PHONE), svc.db.get(WiFiDogKeys("demo").held(phone))

    attacker = client.application.test_client()
    guest = {"environ_base": {"REMOTE_ADDR": "192.168.1.66"}}
    landed = attacker.get("/wifidog/login/?" + urlencode({**REDIRECT, "ip": "192.168.1.66"}), **guest)
    c = parse_qs(urlparse(landed.headers["Location"]).query)["c"][0]
    done = attacker.post("/portal/continue", data={"c": c}, **guest)
    (stolen,) = parse_qs(urlparse(done.headers["Location"]).query)["token"]
    for stage in ("login", "logout"):
        resp = auth(attacker, stage, stolen, address="192.168.1.66")
        assert resp.status_code == 403 and "Auth:" not in resp.get_data(as_text=True)
    # through the gateway: the attacker's browser brings the token, the gateway names the attacker's MAC
    assert answer(auth(attacker, "login", stolen, mac="02:00:5e:00:53:66")) == "Auth: 0\n"
    assert session_of(client, PHONE) == session and svc.db.get(WiFiDogKeys("demo").held(phone)) == held
    assert answer(auth(client, "counters", victim)) == "Auth: 1\n"


def test_a_phone_signs_in_again_after_the_gateway_forgot_it(client, demo):
    """A gateway restart forgets its phones while their sessions live here: the phone lands again and its new
    token signs it in (and is its token from then on)."""
    first = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", first)) == "Auth: 1\n"
    second = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", second)) == "Auth: 1\n"
    assert answer(auth(client, "counters", second)) == "Auth: 1\n"
    assert auth(client, "counters", first).status_code == 403  # no longer the phone's


def test_a_new_token_signs_in_once_the_old_session_ended(client, demo, svc):
    """The phone's own next sign-in, after its session ended (expired, revoked, logged out), is no takeover."""
    first = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", first)) == "Auth: 1\n"
    assert answer(auth(client, "logout", first)) == "Auth: 0\n"
    second = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", second)) == "Auth: 1\n"
    assert answer(auth(client, "counters", second)) == "Auth: 1\n"
    assert auth(client, "counters", first).status_code == 403  # no longer the phone's


def test_a_token_is_redeemed_only_by_the_gateway_it_was_issued_through(client, demo):
    set_budget(client, "captive.ticket_miss.ip", (1, 600))
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token, gw_id="OTHERGATEWAY")) == "Auth: 0\n"  # a miss, the ticket kept
    assert session_of(client, PHONE) is None
    over = auth(client, "login", token, gw_id="OTHERGATEWAY")
    assert over.status_code == 429 and "Auth:" not in over.get_data(as_text=True)  # misses spend the budget
    set_budget(client, "captive.ticket_miss.ip", (600, 600))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"


def test_wifidog_gateways_must_be_addresses(client, demo):
    with pytest.raises(ValueError, match="not an IP address"):
        configure(client, wifidog_gateways="gw.example.com")


def test_an_unknown_stage_is_no_answer(client, demo):
    resp = client.get("/wifidog/auth/?stage=sneak&mac=" + PHONE, **from_gateway())
    assert resp.status_code == 400 and "Auth:" not in resp.get_data(as_text=True)


# ---- the store down ---------------------------------------------------------------------------------------------


@pytest.mark.single_node
def test_store_down_no_token_no_answer_then_the_try_again_grants(client, demo):
    """No token can be stored: the fail-open page's Continue says try again (503), never a redirect to a gateway
    that would refuse it; the gateway's calls get no `Auth:` line (it leaves its phones as they are) and no
    Pong. Once the store is back, that page's Try again grants."""
    url = "/wifidog/login/?" + urlencode(REDIRECT)
    with store_away(client):
        sealed = fail_open_page(client, url)
        failed = client.post("/portal/continue", data={"g": sealed})
        assert failed.status_code == 503 and f'name="g" value="{sealed}"' in failed.get_data(as_text=True)
        for resp in (auth(client, "counters"), client.get("/wifidog/ping/", **from_gateway())):
            assert resp.status_code == 503 and "Auth:" not in resp.get_data(as_text=True)
            assert "Pong" not in resp.get_data(as_text=True)
    resp = client.post("/portal/continue", data={"g": sealed})
    assert resp.status_code == 303
    (token,) = parse_qs(urlparse(resp.headers["Location"]).query)["token"]
    assert answer(auth(client, "login", token)) == "Auth: 1\n" and probe(client) == 204


# ---- abuse budgets and logs ------------------------------------------------------------------------------------


def set_budget(client, name: str, limit: tuple[int, int]) -> None:
    from portal.apps.budgets import budget_store

    budget_store(client.application).set_limit("demo", name, limit)


def test_token_misses_spend_a_budget_hits_do_not(client, demo):
    set_budget(client, "captive.ticket_miss.ip", (2, 600))
    token = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # a hit is free
    assert answer(auth(client, "login", "guess-1")) == "Auth: 0\n"
    assert answer(auth(client, "login", "guess-2")) == "Auth: 0\n"
    over = auth(client, "login", "guess-3")
    assert over.status_code == 429 and "Auth:" not in over.get_data(as_text=True)


def test_tokens_issued_spend_a_budget(client, demo):
    set_budget(client, "captive.ticket.venue", (1, 600))
    continue_to_gateway(client, land(client))
    token = parse_qs(urlparse(land(client).headers["Location"]).query)["c"][0]
    assert client.post("/portal/continue", data={"c": token}).status_code == 429


def test_one_shopper_pressing_continue_in_a_loop_does_not_lock_the_venue_out(client, demo):
    """captive.ticket per shopper: one browser's loop spends its own budget, not the venue's (review H2)."""
    set_budget(client, "captive.ticket.shopper", (2, 600))
    token = parse_qs(urlparse(land(client).headers["Location"]).query)["c"][0]
    presses = [client.post("/portal/continue", data={"c": token}).status_code for _ in range(3)]
    assert presses == [303, 303, 429]
    other = client.application.test_client()  # another shopper, from the same address (a NAT)
    assert continue_to_gateway(other, land(other))


def test_no_mac_and_no_token_in_the_logs(client, demo, caplog):
    caplog.set_level("DEBUG")
    token = continue_to_gateway(client, land(client))
    auth(client, "login", token, mac="02:00:5e:00:53:99")
    auth(client, "login", token)
    auth(client, "login", token)
    auth(client, "logout", token)
    assert token not in caplog.text and PHONE not in caplog.text.lower() and "02:00:5e:00:53:99" not in caplog.text


def test_pings_while_the_store_is_down_log_one_line(client, demo, caplog, still_clock):
    """Every gateway pings every minute: during an outage one line per venue every 10 s, not one per ping (40
    pings were 40 ERROR lines, flooding the journal when it is needed)."""
    caplog.set_level("ERROR")
    with store_away(client):
        for _ in range(40):
            assert client.get("/wifidog/ping/", **from_gateway()).status_code == 503
    lines = [r for r in caplog.records if "WiFiDog pings" in r.getMessage()]
    assert len(lines) == 1

