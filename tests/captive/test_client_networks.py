"""`client_networks`: a MAC no gateway vouched for places a phone only in a request from the venue's networks.
A MAC in a probe's or the portal's URL is anyone's to type; answered from anywhere, the landing (its zone's page,
or the online answer) would tell a stranger where that phone is. Outside the demo (whose MACs count as vouched
for), on the demo mall's data, with the phone heard in the cinema and positioned by the tracker."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlparse

import pytest

from portal.captive.config import PortalConfigStore
from portal.captive.landing import on_premises
from portal.captive.views import captive_services
from tests.captive.test_captive_gateways import configure
from tests.captive.test_probe_lane import PHONE, tracked  # noqa: F401 - the fixture
from tests.captive.test_session_review_fixes import coova_redirect, production  # noqa: F401 - the fixture

INSIDE, OUTSIDE = "10.20.0.7", "203.0.113.9"


def at(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def landed_path(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return urlparse(resp.headers["Location"]).path


@pytest.fixture
def guarded(production, tracked):  # noqa: F811
    configure(production, client_networks="10.20.0.0/16, 2001:db8::/32")
    return production, tracked


@pytest.mark.parametrize("url", ["/generate_204?", "/portal?venue=demo&"])
def test_a_mac_from_outside_the_venue_places_no_phone(guarded, url):
    client, cinema = guarded
    query = urlencode({"client_mac": PHONE})
    assert landed_path(client.get(url + query, **at(INSIDE))) == cinema
    assert landed_path(client.get(url + query, **at(OUTSIDE))) != cinema  # the mall home, as for no MAC


def test_nor_says_whether_it_is_online(guarded, svc):
    client, _ = guarded
    with client.application.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "direct")
    assert client.get(f"/generate_204?client_mac={PHONE}", **at(INSIDE)).status_code == 204
    assert client.get(f"/generate_204?client_mac={PHONE}", **at(OUTSIDE)).status_code == 302


def test_a_redirect_its_gateway_vouched_for_places_the_phone_from_anywhere(guarded):
    """A CoovaChilli redirect signed with the venue's uamsecret (`md`) is the gateway's word, not a stranger's."""
    client, cinema = guarded
    assert landed_path(client.get(coova_redirect(PHONE, "10.9.9.9"), **at(OUTSIDE))) == cinema


# Without the setting: the addresses a portal on the premises sees its guests at, and some just outside them.
PREMISES = ("127.0.0.1", "10.20.0.7", "172.16.5.4", "172.31.255.254", "192.168.1.20", "100.64.3.2",
            "100.127.255.254", "169.254.10.1", "::1", "fd12:3456::7", "fe80::1", f"::ffff:{INSIDE}")
PUBLIC = (OUTSIDE, "8.8.8.8", "172.32.0.1", "100.128.0.1", "11.0.0.1", "192.0.2.1", "2001:4860:4860::8888",
          "2002:a14:7::1", "64:ff9b::a14:7", f"::ffff:{OUTSIDE}")


def test_without_the_setting_a_mac_places_the_phone_only_from_the_premises_addresses(production, tracked):  # noqa: F811
    """The default (no `client_networks`) is safe: a MAC no gateway vouched for places its phone in a request from
    loopback, private, CGNAT, link-local or unique-local addresses (a portal on the premises sees its guests
    there), never from the internet (where it told anyone a phone's zone from its MAC). Not Python's `is_private`:
    the documentation ranges, 6to4 and NAT64 addresses are the internet's."""
    for ip in PREMISES:
        assert landed_path(production.get(f"/generate_204?client_mac={PHONE}", **at(ip))) == tracked, ip
    for ip in PUBLIC:
        assert landed_path(production.get(f"/generate_204?client_mac={PHONE}", **at(ip))) == "/v/demo/", ip


@pytest.mark.parametrize("url", ["/generate_204?", "/portal?venue=demo&"])
def test_behind_a_proxy_without_proxy_hops_the_proxys_address_places_no_phone(production, tracked, url, caplog):  # noqa: F811
    """A proxy in front with PROXY_HOPS=0: every request comes from the proxy's own (private) address, which would
    pass the premises default for anyone on the internet; the forwarded request's address is not used, and the
    operator is told to set PROXY_HOPS."""
    import portal.captive.landing as landing_module

    landing_module._warned_forwarded = False
    query = urlencode({"client_mac": PHONE})
    proxied = {"environ_base": {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": OUTSIDE}}
    assert landed_path(production.get(url + query, **proxied)) == "/v/demo/"
    assert "PROXY_HOPS=0" in caplog.text
    assert landed_path(production.get(url + query, **at("10.0.0.2"))) == tracked  # not forwarded: its own


def test_guest_ip_trusts_a_forwarded_address_only_through_proxy_hops():
    from portal.captive.landing import guest_ip

    assert guest_ip("10.0.0.2", None, 0) == "10.0.0.2"
    assert guest_ip("10.0.0.2", "203.0.113.9", 0) is None  # the proxy's own address: not a guest's
    assert guest_ip("203.0.113.9", "203.0.113.9", 1) == "203.0.113.9"  # ProxyFix put the guest's in REMOTE_ADDR
    assert guest_ip("", None, 0) is None


@pytest.mark.parametrize("ip", ["", "unix:/run/portal.sock", "not-an-address", "10.0.0.1:80"])
def test_without_the_setting_a_request_with_no_usable_address_places_no_phone(production, tracked, ip):  # noqa: F811
    assert landed_path(production.get(f"/generate_204?client_mac={PHONE}", **at(ip))) == "/v/demo/"


def test_without_the_setting_the_internet_learns_neither_the_online_answer_nor_the_status(production, svc):  # noqa: F811
    with production.application.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "direct")
    assert production.get(f"/generate_204?client_mac={PHONE}", **at("192.168.1.20")).status_code == 204
    assert production.get(f"/generate_204?client_mac={PHONE}", **at(OUTSIDE)).status_code == 302
    configure(production, coova_uamsecret="")
    query = urlencode({"venue": "demo", "res": "already", "uamip": "192.168.182.1", "mac": PHONE})
    page = production.get(production.get(f"/portal?{query}", **at(OUTSIDE)).headers["Location"], **at(OUTSIDE))
    assert page.status_code == 200 and 'id="extend"' not in page.get_data(as_text=True)


def test_without_the_setting_a_redirect_its_gateway_vouched_for_still_places_the_phone_from_anywhere(
        production, tracked):  # noqa: F811
    assert landed_path(production.get(coova_redirect(PHONE, "10.9.9.9"), **at(OUTSIDE))) == tracked


def test_the_setting_replaces_the_premises_default(guarded):
    """A venue that names its networks (a portal hosted outside: the mall's public addresses) places phones from
    those only: a private address outside them is not the venue's either."""
    client, cinema = guarded
    assert landed_path(client.get(f"/generate_204?client_mac={PHONE}", **at("2001:db8::9"))) == cinema
    assert landed_path(client.get(f"/generate_204?client_mac={PHONE}", **at("192.168.1.20"))) != cinema


def test_on_premises_reads_addresses_as_the_landing_does():
    assert on_premises("10.1.2.3") and on_premises("::ffff:10.1.2.3") and on_premises("fe80::1%eth0")
    assert not any(on_premises(raw) for raw in (None, "", "garbage", "203.0.113.9", "::ffff:203.0.113.9", "10.0.0.1/8"))


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-a-network", "10.0.0.1, example.com"])
def test_a_setting_that_is_not_networks_is_refused(db, value):
    with pytest.raises(ValueError, match="not an IP address or network"):
        PortalConfigStore(db).set("demo", {"client_networks": value})
    assert PortalConfigStore(db).client_networks("demo") == ""



def test_an_already_online_redirect_from_outside_shows_no_phones_session(guarded, svc):
    """A CoovaChilli-shaped "already online" redirect (any venue that does not sign them) names a MAC too: from
    outside the venue its status page shows that phone's session neither, nor lets it be extended."""
    client, _ = guarded
    configure(client, coova_uamsecret="")
    with client.application.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "direct")
    query = urlencode({"venue": "demo", "res": "already", "uamip": "192.168.182.1", "mac": PHONE})
    page = client.get(client.get(f"/portal?{query}", **at(OUTSIDE)).headers["Location"], **at(OUTSIDE))
    assert page.status_code == 200 and 'id="extend"' not in page.get_data(as_text=True)


def test_a_dual_stack_sockets_ipv4_address_is_inside(guarded):
    """gunicorn bound to [::] (or nginx with ipv6only=off) writes an IPv4 client as ::ffff:a.b.c.d."""
    client, cinema = guarded
    assert landed_path(client.get(f"/generate_204?client_mac={PHONE}", **at(f"::ffff:{INSIDE}"))) == cinema
    assert landed_path(client.get(f"/generate_204?client_mac={PHONE}", **at(f"::ffff:{OUTSIDE}"))) != cinema


def test_a_mac_typed_inside_the_venue_shows_no_session_it_did_not_grant(production, svc):  # noqa: F811
    """Inside the venue too: a token minted for a typed MAC names that phone, but the status page shows, and
    Extend extends, only a session of a verified phone or one this shopper's own Continue granted."""
    with production.application.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "meraki", granted_by="someone")
    token = urlparse(production.get(f"/portal?venue=demo&client_mac={PHONE}").headers["Location"]).query
    status = production.get(f"/portal/status?{token}")
    assert status.status_code == 200 and 'id="extend"' not in status.get_data(as_text=True)
    assert production.post("/portal/extend", data=dict(parse_qsl(token))).status_code == 409
    with production.application.app_context():
        assert captive_services().sessions.get("demo", svc.hasher.client_id(PHONE)).extensions == 0


def capport_token(client, svc, phone: str, *, signed_at: float | None = None) -> str:
    """A per-client CAPPORT URI's token for `phone` (as `capport_url` mints it), optionally signed at another time."""
    from unittest import mock

    from portal.captive.views import capport_url
    from portal.shopper import Shopper

    with client.application.test_request_context():
        shopper = Shopper("demo", "s-1", svc.hasher.client_id(phone), True)
        if signed_at is None:
            return urlparse(capport_url(shopper)).path.rsplit("/", 1)[1]
        with mock.patch("itsdangerous.timed.time.time", return_value=signed_at):
            return urlparse(capport_url(shopper)).path.rsplit("/", 1)[1]


def test_a_capport_uri_places_its_phone_only_from_the_venues_networks(guarded, svc):
    """The per-client URI's token (in user-portal-url) names the phone: a URI seen elsewhere (a log, a screenshot)
    must not place it, nor hand its page and its Continue to a stranger, from outside the venue."""
    client, cinema = guarded
    token = capport_token(client, svc, PHONE)
    assert landed_path(client.get(f"/portal?venue=demo&capport={token}", **at(INSIDE))) == cinema
    assert landed_path(client.get(f"/portal?venue=demo&capport={token}", **at(OUTSIDE))) != cinema
    # nor the API itself: its venue-info-url would name the phone's zone, with a token vouched for the phone
    assert client.get(f"/capport/api/{token}", **at(INSIDE)).status_code == 200
    outside = client.get(f"/capport/api/{token}", **at(OUTSIDE))
    assert outside.status_code == 404 and "captive" not in outside.get_json()


def test_a_capport_uri_older_than_a_day_names_no_one(production, tracked, svc):  # noqa: F811
    import time

    from portal.captive.views import CAPPORT_URI_MAX_AGE_S

    stale = capport_token(production, svc, PHONE, signed_at=time.time() - CAPPORT_URI_MAX_AGE_S - 60)
    assert production.get(f"/capport/api/{stale}").status_code == 404  # the OS falls back to its probes
    assert landed_path(production.get(f"/portal?venue=demo&capport={stale}", **at(INSIDE))) != tracked
    fresh = capport_token(production, svc, PHONE, signed_at=time.time() - CAPPORT_URI_MAX_AGE_S + 600)
    assert production.get(f"/capport/api/{fresh}").status_code == 200
    assert landed_path(production.get(f"/portal?venue=demo&capport={fresh}", **at(INSIDE))) == tracked


def test_a_capport_uri_signed_by_a_host_ahead_names_its_phone(production, tracked, svc):  # noqa: F811
    """Another web host whose clock runs 2 minutes ahead signed it: within MAX_CLOCK_SKEW_S it opens (it was
    refused at 1 s ahead); 10 minutes ahead it does not."""
    import time

    ahead = capport_token(production, svc, PHONE, signed_at=time.time() + 120)
    assert production.get(f"/capport/api/{ahead}").status_code == 200
    far = capport_token(production, svc, PHONE, signed_at=time.time() + 600)
    assert production.get(f"/capport/api/{far}").status_code == 404
