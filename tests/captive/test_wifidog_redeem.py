"""WiFiDog's redemption (portal/captive/wifidog.py): the ticket used up, the phone's session and its held token
written in one step, so a store fault leaves all or none of them (a 503 without an `Auth:` line, and the gateway's
retry signs the phone in); a redirect without `mac` binds its token to the redirect's `ip`, which the gateway's
auth call must name (with the MAC it then signs in); after the gateway's auth the status page shows the
redirect's original URL as a link, never a redirect to it."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import redis
from redis.crc import key_slot

from core.storage import set_phone_buckets
from portal.captive.sessions import SessionKeys
from portal.captive.wifidog import Ticket, WiFiDogKeys, WiFiDogTickets
from tests.captive.test_gateway_state import session_of
from tests.captive.test_probe_lane import PHONE
from tests.captive.test_wifidog import (  # noqa: F401 - gateways_named: the fixture
    REDIRECT,
    answer,
    auth,
    continue_to_gateway,
    gateways_named,
    land,
    probe,
)

OTHER = "02:00:5e:00:53:99"
NO_MAC = {k: v for k, v in REDIRECT.items() if k != "mac"}


def tickets_of(client) -> WiFiDogTickets:
    return client.application.extensions["captive"].tickets


def state(client, svc, token: str, mac: str = PHONE) -> tuple[bool, bool, bool]:
    """(a ticket kept for the token, the phone's held token, the phone's session)."""
    keys, phone, digest = WiFiDogKeys("demo"), svc.hasher.client_id(mac), WiFiDogTickets.digest(token)
    ticket = bool(svc.db.exists(keys.ticket(phone, digest)) or svc.db.exists(keys.address_ticket(digest)))
    return ticket, svc.db.get(keys.held(phone)) == digest.encode(), session_of(client, mac) is not None


def fault(*args, **kwargs):
    raise redis.ConnectionError("store went away")


def refused_for_the_store(resp) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "store unavailable" in body and "Auth:" not in body


def land_without_mac(client, **params):
    resp = client.get("/wifidog/login/?" + urlencode({**NO_MAC, **params}))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp


# ---- one step ---------------------------------------------------------------------------------------------------


def test_a_fault_in_the_redemption_writes_nothing_and_the_retry_signs_in(client, demo, svc, monkeypatch):
    token = continue_to_gateway(client, land(client))
    monkeypatch.setattr(tickets_of(client), "_redeem", fault)
    refused_for_the_store(auth(client, "login", token))
    assert state(client, svc, token) == (True, False, False)  # as before the call: the ticket kept
    monkeypatch.undo()
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # the browser reloads the gateway's auth page
    assert state(client, svc, token) == (False, True, True) and probe(client) == 204


def test_a_fault_after_the_redemption_leaves_it_whole_and_the_retry_says_yes(client, demo, svc, monkeypatch):
    """The IP table (the venue's slot, not the phone's) is written after the one step: a fault there is a 503,
    and the step stands whole (the session and the held token, the ticket used), so the retry finds the phone's
    own token and its session: `Auth: 1`, not the `Auth: 0` of a used ticket."""
    token = continue_to_gateway(client, land(client))
    monkeypatch.setattr(client.application.extensions["captive"].sessions, "bind_ip", fault)
    refused_for_the_store(auth(client, "login", token))
    assert state(client, svc, token) == (False, True, True)
    assert svc.db.get(SessionKeys("demo").client_ip(REDIRECT["ip"])) is None
    monkeypatch.undo()
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"
    # ... and the retry wrote the IP table's entry the fault left out: a probe from the phone's address is online
    assert svc.db.get(SessionKeys("demo").client_ip(REDIRECT["ip"])) is not None
    assert client.get("/generate_204", environ_base={"REMOTE_ADDR": REDIRECT["ip"]}).status_code == 204


def test_the_ticket_held_token_and_session_share_one_slot_in_every_bucket_layout(svc):
    """A Valkey Cluster refuses a script whose keys lie in two slots: the redemption's keys are the phone's
    bucket's, whichever bucket the phone falls in; a ticket bound to an address is in the venue's slot."""
    set_phone_buckets({"demo": 8})
    try:
        for n in range(16):
            phone = svc.hasher.client_id(f"02:00:5e:00:54:{n:02x}")
            keys = WiFiDogKeys("demo")
            slots = {key_slot(k.encode()) for k in (keys.ticket(phone, "d" * 64), keys.held(phone),
                                                   SessionKeys("demo").session(phone))}
            assert len(slots) == 1
        assert keys.address_ticket("d" * 64).startswith("mp:{demo}:")
    finally:
        set_phone_buckets({})


def test_a_ticket_an_older_host_stored_in_the_venues_slot_still_redeems(client, demo, svc):
    """During a rolling deploy a ticket issued by an older host lies where every ticket used to: still redeemed,
    for its own MAC only, once."""
    phone = svc.hasher.client_id(PHONE)
    old = Ticket(phone=phone, granted_by=phone, seconds=3600, timed=True, gw_id=REDIRECT["gw_id"])
    svc.db.set(WiFiDogKeys("demo").address_ticket(WiFiDogTickets.digest("t" * 43)),
               json.dumps({k: v for k, v in old.__dict__.items() if k != "ip"}), ex=120)
    assert answer(auth(client, "login", "t" * 43, mac=OTHER)) == "Auth: 0\n"
    assert answer(auth(client, "login", "t" * 43)) == "Auth: 1\n"
    assert state(client, svc, "t" * 43) == (False, True, True)
    assert answer(auth(client, "login", "t" * 43, mac=OTHER)) == "Auth: 0\n"


# ---- a redirect without `mac` -----------------------------------------------------------------------------------


def test_a_redirect_without_mac_signs_the_phone_the_gateway_names_at_its_ip(client, demo, svc):
    token = continue_to_gateway(client, land_without_mac(client))
    (key,) = [k.decode() for k in svc.db.scan_iter(match="*wifidog*")]
    assert "{demo}" in key and token not in key and token not in svc.db.get(key).decode()
    assert answer(auth(client, "login", token, ip="192.168.1.24")) == "Auth: 0\n"  # another address
    assert answer(auth(client, "login", token, gw_id="OTHERGATEWAY")) == "Auth: 0\n"  # another gateway
    assert session_of(client, PHONE) is None
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # the MAC the gateway names, at that address
    session = session_of(client, PHONE)
    assert session.gateway == "wifidog" and session.ip == REDIRECT["ip"] and probe(client) == 204
    assert state(client, svc, token) == (False, True, True)
    assert answer(auth(client, "login", token, mac=OTHER)) == "Auth: 0\n"  # one use
    assert answer(auth(client, "counters", token)) == "Auth: 1\n"
    assert answer(auth(client, "logout", token)) == "Auth: 0\n" and session_of(client, PHONE) is None


def test_an_address_ticket_is_the_first_named_phones_a_retry_included(client, demo, svc, monkeypatch):
    """The first MAC the gateway names at the address claims the ticket: a store fault before its session is
    written leaves the claim, which only that phone's retry redeems."""
    token = continue_to_gateway(client, land_without_mac(client))
    monkeypatch.setattr(tickets_of(client), "_redeem_claimed", fault)
    refused_for_the_store(auth(client, "login", token))
    assert state(client, svc, token) == (True, False, False)  # claimed, nothing else written
    monkeypatch.undo()
    assert answer(auth(client, "login", token, mac=OTHER)) == "Auth: 0\n"  # not the claiming phone
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    assert state(client, svc, token) == (False, True, True) and session_of(client, OTHER) is None


def test_a_forged_redirect_naming_a_phones_ip_cannot_take_its_session(client, demo, svc):
    """The review's H1 without a MAC: an attacker lands naming the victim's address and reads the token from
    Continue's Location. A guest's own call to auth/ is refused, and through the gateway the attacker's browser
    is named with the attacker's MAC and address, for which the token redeems nothing."""
    victim = continue_to_gateway(client, land(client))
    assert answer(auth(client, "login", victim)) == "Auth: 1\n"
    session, held = session_of(client, PHONE), state(client, svc, victim)

    attacker = client.application.test_client()
    guest = {"environ_base": {"REMOTE_ADDR": "192.168.1.66"}}
    landed = attacker.get("/wifidog/login/?" + urlencode(NO_MAC), **guest)
    c = parse_qs(urlparse(landed.headers["Location"]).query)["c"][0]
    done = attacker.post("/portal/continue", data={"c": c}, **guest)
    (stolen,) = parse_qs(urlparse(done.headers["Location"]).query)["token"]
    resp = auth(attacker, "login", stolen, address="192.168.1.66")
    assert resp.status_code == 403 and "Auth:" not in resp.get_data(as_text=True)
    assert answer(auth(attacker, "login", stolen, mac=OTHER, ip="192.168.1.66")) == "Auth: 0\n"
    assert session_of(client, PHONE) == session and state(client, svc, victim) == held
    assert session_of(client, OTHER) is None and answer(auth(client, "counters", victim)) == "Auth: 1\n"


def test_only_the_named_gateways_may_redeem_an_address_ticket(client, demo):
    token = continue_to_gateway(client, land_without_mac(client))
    refused = auth(client, "login", token, address=REDIRECT["ip"])  # the phone's own address
    assert refused.status_code == 403 and "Auth:" not in refused.get_data(as_text=True)
    assert answer(auth(client, "login", token)) == "Auth: 1\n"  # not spent by the refused call


@pytest.mark.parametrize("value", ["not-a-mac", "02:00:5e:00:53"])
def test_a_malformed_mac_is_still_refused_beside_an_ip(client, demo, value):
    resp = client.get("/wifidog/login/?" + urlencode({**REDIRECT, "mac": value}))
    assert resp.status_code == 400 and "For the staff: mac: is not a MAC address" in resp.get_data(as_text=True)


# ---- the original URL after the gateway's auth ------------------------------------------------------------------


def landed_in_the_browser(client, **params):
    """The landing's redirect followed, as the browser does: its page keeps the shopper in the cookie."""
    resp = land(client, **params)
    assert client.get(resp.headers["Location"]).status_code == 200
    return resp


def test_after_the_auth_the_status_page_shows_the_original_url_as_a_link(client, demo):
    token = continue_to_gateway(client, landed_in_the_browser(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    resp = client.get(f"/wifidog/portal/?gw_id={REDIRECT['gw_id']}")
    assert resp.status_code == 302
    target = urlparse(resp.headers["Location"])
    assert target.path == "/portal/status"  # never a redirect to the unsigned original URL itself
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="online"' in page
    assert 'id="destination"' in page and f'<a href="{REDIRECT["url"]}"' in page


def test_an_unsafe_original_url_is_no_link(client, demo):
    token = continue_to_gateway(client, landed_in_the_browser(client, url="javascript:alert(1)"))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    resp = client.get(f"/wifidog/portal/?gw_id={REDIRECT['gw_id']}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="online"' in page and 'id="destination"' not in page and "javascript" not in page


def test_a_browser_without_its_shopper_gets_the_status_page_without_a_link(client, demo):
    token = continue_to_gateway(client, landed_in_the_browser(client))
    assert answer(auth(client, "login", token)) == "Auth: 1\n"
    other = client.application.test_client()  # the captive mini-browser kept no cookie
    resp = other.get(f"/wifidog/portal/?gw_id={REDIRECT['gw_id']}")
    assert urlparse(resp.headers["Location"]).path == "/portal/status"
    assert 'id="destination"' not in other.get(resp.headers["Location"]).get_data(as_text=True)
