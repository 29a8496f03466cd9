"""The second captive review: the IP table bound to the session (DHCP hands a departed phone's address to the
next one), IPv4-mapped addresses, Extend and the time left only where the gateway agrees, the CAPPORT
user-portal-url of a per-client URI, Cisco WLC's "already logged in", doubly-encoded original URLs."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from portal import create_app
from portal.captive.gateways import safe_destination
from portal.captive.sessions import SessionKeys
from tests.captive.test_captive_gateways import MERAKI, WLC, configure, land_and_continue
from tests.captive.test_captive_unknown_venue import open_venue
from tests.captive.test_session_review_fixes import (
    CHAP_PASSWORD,
    IP_A,
    IP_C,
    PHONE_A,
    PHONE_C,
    UAMSECRET,
    assert_coova_logon,
    at,
    coova_redirect,
    token_of,
)

APPLE = {"Host": "captive.apple.com"}
ANDROID = {"Host": "connectivitycheck.gstatic.com"}


@pytest.fixture
def production(settings, db, demo):
    """The app outside the demo (as test_session_review_fixes.py's): a CoovaChilli that signs its redirects."""
    client = create_app(settings.with_(demo=False)).test_client()
    configure(client, coova_uamsecret=UAMSECRET, coova_password=CHAP_PASSWORD)
    return client


def capport(client, ip: str) -> dict:
    return json.loads(client.get("/capport/api?venue=demo", **at(ip)).data)


def named_by_no_one(client, ip: str) -> bool:
    """The API's answer for an address no gateway names (now): a JSON 404, so the OS asks its own probes."""
    resp = client.get("/capport/api?venue=demo", **at(ip))
    return resp.status_code == 404 and "captive" not in json.loads(resp.data)


def grant_coova(client, mac: str, ip: str) -> None:
    landed = client.get(coova_redirect(mac, ip), **at(ip))
    assert_coova_logon(client.post("/portal/continue", data={"c": token_of(landed)}, **at(ip)))


# ---- 1. the IP table lives no longer than the session, and only while the session holds that address --------


def test_the_ip_entry_ends_with_its_session(production, svc):
    grant_coova(production, PHONE_A, IP_A)
    ttl = svc.db.ttl(SessionKeys("demo").client_ip(IP_A))
    assert 0 < ttl <= 3601  # the session's hour, not the table's day


def test_an_address_a_granted_phone_left_names_no_one(production):
    """A granted at X, then (a new lease) at Y and granted there: whoever has X now is not A."""
    x, y = "192.168.182.64", "192.168.182.65"
    grant_coova(production, PHONE_A, x)
    grant_coova(production, PHONE_A, y)
    assert capport(production, y)["captive"] is False
    assert named_by_no_one(production, x)
    assert production.get("/generate_204", headers=ANDROID, **at(x)).status_code == 302


def test_a_gateway_logoff_clears_the_address(production, svc):
    grant_coova(production, PHONE_A, IP_A)
    production.get(coova_redirect(PHONE_A, "192.168.182.70", res="logoff"), **at("192.168.182.70"))
    assert svc.db.get(SessionKeys("demo").client_ip(IP_A)) is None  # the ended session's address
    assert named_by_no_one(production, IP_A)


# ---- 2. IPv4-mapped addresses ------------------------------------------------------------------------------


def test_a_dual_stack_socket_finds_the_granted_phone(production):
    grant_coova(production, PHONE_A, IP_A)
    mapped = "::ffff:" + IP_A
    assert capport(production, mapped)["captive"] is False
    assert b"Success" in production.get("/hotspot-detect.html", headers=APPLE, **at(mapped)).data
    from portal.captive.sessions import normal_ip

    assert normal_ip(mapped) == IP_A and normal_ip("2001:DB8::1") == "2001:db8::1"


# ---- 3. Extend and the time left: only the portal's own sessions are extended ---------------------------


def status_text(client, token: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/portal/status?c=" + token).get_data(as_text=True)))


def test_meraki_sessions_are_not_extended_and_show_merakis_duration(client, demo):
    token, resp = land_and_continue(client, MERAKI)
    assert parse_qs(urlparse(resp.headers["Location"]).query)["duration"] == ["3600"]
    page = client.get("/portal/status?c=" + token).get_data(as_text=True)
    assert 'id="extend"' not in page and "Time left: 60 min" in status_text(client, token)
    assert client.post("/portal/extend", data={"c": token}).status_code == 409
    assert "Time left: 60 min" in status_text(client, token)  # no more than Meraki was told
    from portal.captive.views import capport_url
    from portal.shopper import token_store

    with client.application.test_request_context():
        uri = urlparse(capport_url(token_store().resolve(token))).path
    api = json.loads(client.get(uri).data)
    assert api["can-extend-session"] is False and api["seconds-remaining"] <= 3600


def test_a_gateway_that_keeps_the_length_shows_no_countdown(production):
    grant_coova(production, PHONE_A, IP_A)
    api = capport(production, IP_A)
    assert api["captive"] is False and "seconds-remaining" not in api and api["can-extend-session"] is False


# ---- 4. the per-client CAPPORT URI's user-portal-url names the phone ---------------------------------------


def test_user_portal_url_of_a_per_client_uri_grants_through_the_phones_gateway(production, svc):
    from portal.captive.views import capport_url
    from portal.shopper import Shopper

    nat = "203.0.113.7"  # all the portal sees of the venue
    # A portal hosted outside names the mall's public address (unset, only private addresses may name a phone)
    configure(production, client_networks=nat)
    assert production.get(coova_redirect(PHONE_C, IP_C), **at(nat)).status_code == 302
    phone = svc.hasher.client_id(PHONE_C)
    with production.application.test_request_context():
        uri = capport_url(Shopper("demo", phone, phone=phone, phone_verified=True))
    upu = urlparse(json.loads(production.get(urlparse(uri).path, **at(nat)).data)["user-portal-url"])
    entry = production.get(f"{upu.path}?{upu.query}", **at(nat))
    assert_coova_logon(production.post("/portal/continue", data={"c": token_of(entry)}, **at(nat)))
    # a token of another venue names no one here
    open_venue(svc, "other")
    other = upu.query.replace("venue=demo", "venue=other")
    assert production.get(f"{upu.path}?{other}", **at(nat)).status_code in (302, 400)


# ---- 5. Cisco WLC statusCode=1: already logged in --------------------------------------------------------


def test_wlc_already_logged_in_is_online(client, demo):
    """The status page says so; the original URL is a link on it, never followed by itself: the WLC signs
    nothing, so a statusCode=1 link is anyone's (a CoovaChilli's signed res=already is followed:
    tests/captive/test_gateway_state.py)."""
    configure(client, wlc_hosts="wifi-guest.equinox.com")
    resp = client.get(WLC + "&statusCode=1")
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/portal/status"
    resp = client.get(WLC.replace("redirect=captive.apple.com/hotspot-detect.html", "redirect=example.org/x")
                      + "&statusCode=1")
    status = urlparse(resp.headers["Location"])
    assert resp.status_code == 302 and status.path == "/portal/status"
    page = client.get(f"{status.path}?{status.query}").get_data(as_text=True)
    assert 'id="online"' in page and '<a href="http://example.org/x"' in page
    assert client.get(WLC + "&statusCode=4").status_code == 409


# ---- 6. doubly-encoded original URLs ---------------------------------------------------------------------


def test_a_doubly_encoded_url_is_decoded_once_before_the_checks():
    assert safe_destination("http%3A%2F%2Fexample.org%2Fnews") == "http://example.org/news"
    assert safe_destination("HTTPS%3a%2f%2fexample.org%2F").lower() == "https://example.org/"
    assert safe_destination("http%3a%2f%2fcaptive.apple.com%2fhotspot-detect.html") is None
    assert safe_destination("http%253a%252f%252fexample.org") is None  # three times: a host with a %
    assert safe_destination("javascript%3A%2F%2Falert(1)") is None
