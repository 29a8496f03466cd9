"""Gateways as captive-portals.md section 4 lists them (Ruckus Unleashed and SmartZone, TP-Link Omada, MikroTik
Hotspot, Extreme, Aruba Instant On; those with a grant of ours are also tested with it): their redirects land the
phone on its zone all the same, from
whatever names they give the client's MAC and the AP, on the gateway entry and on a probe. A Ruckus client_mac
sent encrypted (SmartZone's default) leaves the phone unknown, never the AP's MAC taken for the phone's."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.captive.common import ap_from_params, client_from_params
from tests.captive.test_captive_gateways import ROUTERS, configure
from tests.captive.test_probe_lane import PHONE, tracked  # noqa: F401 - the fixture

AP = "f0:9f:c2:1a:00:01"
DASHED, BARE = PHONE.replace(":", "-").upper(), PHONE.replace(":", "")

REDIRECTS = {  # the parameters each gateway sends, as the reference captured or documented them
    "ruckus unleashed": {"sip": "192.168.0.1", "mac": AP, "client_mac": PHONE, "uip": "10.0.0.9", "lid": "x",
                         "dn": "unleashed.ruckuswireless.com", "url": "http://example.com/", "ssid": "Mall"},
    "ruckus smartzone": {"nbiIP": "10.1.1.1", "client_mac": PHONE, "mac": AP, "zoneName": "Mall", "wlanName": "Mall",
                         "sip": "10.1.1.2", "uip": "10.0.0.9", "StartURL": "http://example.com/"},
    "tp-link omada": {"clientMac": DASHED, "clientIp": "10.0.0.9", "t": "1701234567", "site": "Default",
                      "redirectUrl": "http://example.com/", "apMac": AP.replace(":", "-"), "ssidName": "Mall",
                      "radioId": "1"},
    "mikrotik hotspot": {"mac": PHONE.upper(), "ip": "10.0.0.9", "username": "", "link-login": "http://10.5.50.1/login",
                         "link-orig": "http://example.com/", "link-login-only": "http://10.5.50.1/login"},
    "extreme": {"ap": "AP410C", "bssid": AP, "ssid": "Mall", "dest": "http://example.com/", "mac": BARE},
    "aruba instant on": {"cmd": "login", "mac": PHONE, "network": "Mall", "ip": "10.0.0.9", "apmac": AP,
                         "site": "Mall", "post": "portal.arubainstanton.com", "url": "http://example.com/"},
    # FortiGate's external portal (Fortinet KB 346187): the AP's device MAC as apmac, its radio's as bssid
    "fortigate": {"login": "", "post": "http://192.168.1.99:1000/fgtauth", "magic": "0a0b0c0d0e0f", "usermac": PHONE,
                  "apmac": "90:6c:ac:00:00:01", "apip": "10.1.1.5", "userip": "10.0.0.9", "bssid": AP, "ssid": "Mall"},
    "cambium": {"ga_ssid": "Mall", "ga_ap_mac": AP.replace(":", "-").upper(), "ga_nas_id": "mall-ap-1",
                "ga_srvr": "10.1.1.1", "ga_cmac": DASHED, "ga_Qv": "eUROBxsBHQ", "ga_orig_url": "http://example.com/"},
}


@pytest.mark.parametrize("gateway", sorted(REDIRECTS))
def test_the_phone_and_its_ap_are_read_from_every_gateways_names(svc, gateway):
    params = REDIRECTS[gateway]
    assert client_from_params(svc.hasher, params) == svc.hasher.client_id(PHONE)
    assert ap_from_params(params) == (None if gateway == "mikrotik hotspot" else AP)  # MikroTik names no AP


@pytest.mark.parametrize("gateway", sorted(REDIRECTS))
def test_a_tracked_phone_lands_on_its_zone_through_any_gateway(client, tracked, gateway):  # noqa: F811
    query = urlencode({**REDIRECTS[gateway], "venue": "demo"})
    entry = client.get(f"/portal?{query}")
    assert entry.status_code == 302 and urlparse(entry.headers["Location"]).path == tracked
    probe = client.get(f"/generate_204?{query}")
    assert probe.status_code == 302 and urlparse(probe.headers["Location"]).path == tracked


def test_a_mikrotik_login_page_may_post_its_variables(client, tracked):  # noqa: F811
    resp = client.post("/portal?venue=demo", data=REDIRECTS["mikrotik hotspot"])
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == tracked


def test_an_encrypted_client_mac_leaves_the_phone_unknown_not_the_ap(client, svc, demo):
    params = {**REDIRECTS["ruckus smartzone"], "client_mac": "ENC4a7f3b2c9d1e0f", "venue": "demo"}
    assert client_from_params(svc.hasher, params) is None
    assert ap_from_params(params) == AP
    entry = client.get(f"/portal?{urlencode(params)}")
    assert entry.status_code == 302  # landed (on the mall or the AP's zone), not a refused redirect
    assert client.get(f"/generate_204?{urlencode(params)}").status_code == 302


def test_names_are_read_without_regard_to_case_and_the_first_value_wins(svc):
    assert client_from_params(svc.hasher, {"CLIENTMAC": PHONE}) == svc.hasher.client_id(PHONE)
    assert client_from_params(svc.hasher, {"mac": "not-a-mac", "id": PHONE}) == svc.hasher.client_id(PHONE)
    assert client_from_params(svc.hasher, {"ap": AP}) is None
    assert ap_from_params({"client_mac": PHONE}) is None  # the client's own MAC is never the AP


# ---- the grants of MikroTik and Ruckus Unleashed (form logins, as their own login pages post them) ----------

MIKROTIK = {"mac": "5c:1d:d9:20:a0:c3", "ip": "10.5.50.77", "username": "", "link-login": "http://10.5.50.1/login",
            "link-login-only": "http://10.5.50.1/login", "link-orig": "http://example.org/news", "error": "",
            "chap-id": "\\347", "chap-challenge": "\\060\\142\\377abc"}
RUCKUS = {"sip": "192.168.0.1", "mac": AP, "client_mac": "5c:1d:d9:20:a0:c4", "uip": "192.168.0.77",
          "url": "http://example.org/news", "ssid": "Mall", "lid": "x", "dn": "unleashed.ruckuswireless.com"}


def _land_and_continue(client, resp, status=200):
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    done = client.post("/portal/continue", data={"c": token})
    assert done.status_code == status, done.get_data(as_text=True)[:500]
    return done.get_data(as_text=True)


def test_mikrotik_grant_posts_the_chap_password_as_the_routers_page_does(client, demo):
    configure(client, guest_password="hotspot-pw", guest_username="mall")
    page = _land_and_continue(client, client.post("/portal?venue=demo", data=MIKROTIK))
    expected = hashlib.md5(b"\xe7" + b"hotspot-pw" + b"\x30\x62\xffabc").hexdigest()
    assert 'action="http://10.5.50.1/login"' in page
    assert f'name="password" value="{expected}"' in page and 'name="username" value="mall"' in page
    assert 'name="dst" value="http://example.org/news"' in page


def test_mikrotik_without_a_challenge_posts_the_password_plain(client, demo):
    configure(client, guest_password="hotspot-pw")
    params = {k: v for k, v in MIKROTIK.items() if not k.startswith("chap")}
    page = _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(params)}"))
    assert 'name="password" value="hotspot-pw"' in page


@pytest.mark.parametrize("login", ["http://evil.example/login", "http://8.8.8.8/login", "ftp://10.5.50.1/login",
                                   "http://[2002:808:808::1]/login", "http://[2001:0:4136:e378::1]/login",
                                   "http://0.0.0.0/login", "http://[fe80::1%25eth0]/login",
                                   "http://10.5.50.1:evil.com/login"])
def test_mikrotik_login_must_be_the_hotspot(client, demo, login, caplog):
    """The phone still lands (its zone does not depend on the gateway's settings); the grant is refused (the
    setting to fix in the log, a plain page for the shopper), and no credentials go anywhere but the hotspot."""
    configure(client, guest_password="hotspot-pw")
    resp = client.get(f"/portal?venue=demo&{urlencode({**MIKROTIK, 'link-login-only': login})}")
    page = _land_and_continue(client, resp, status=403)
    assert "hotspot-pw" not in page and 'id="try-again"' in page
    assert "link-login-only" in caplog.text


def test_a_named_hotspot_needs_mikrotik_hosts(client, demo):
    named = {**MIKROTIK, "link-login-only": "http://hotspot.mall.lan/login"}
    _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(named)}"), status=403)
    configure(client, mikrotik_hosts="hotspot.mall.lan")
    page = _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(named)}"))
    assert 'action="http://hotspot.mall.lan/login"' in page
    _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(MIKROTIK)}"), status=403)  # not it now


def test_mikrotik_chap_takes_each_characters_low_byte_as_the_routers_page_does(client, demo):
    configure(client, guest_password="café")
    page = _land_and_continue(client, client.post("/portal?venue=demo", data=MIKROTIK))
    expected = hashlib.md5(b"\xe7" + "café".encode("latin-1") + b"\x30\x62\xffabc").hexdigest()
    assert f'name="password" value="{expected}"' in page


def test_a_mikrotik_phone_the_router_does_not_know_is_unknown_not_refused(client, demo):
    resp = client.get(f"/portal?venue=demo&{urlencode({**MIKROTIK, 'mac': '---'})}")
    assert resp.status_code == 302


def test_mikrotik_error_from_the_router_is_shown(client, demo):
    resp = client.get(f"/portal?venue=demo&{urlencode({**MIKROTIK, 'error': 'invalid password'})}")
    assert resp.status_code == 409 and b"invalid password" in resp.data


def test_ruckus_unleashed_grant_posts_to_the_master(client, demo):
    configure(client, guest_password="ruckus-pw")
    page = _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(RUCKUS)}"))
    assert 'action="http://192.168.0.1:9997/login"' in page and 'name="password" value="ruckus-pw"' in page


@pytest.mark.parametrize("sip", ["evil.example", "8.8.8.8", "192.168.0.1/x@evil", ""])
def test_ruckus_sip_must_be_the_master(client, demo, sip, caplog):
    configure(client, guest_password="ruckus-pw")
    page = _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode({**RUCKUS, 'sip': sip})}"),
                              status=403)
    assert "ruckus-pw" not in page and "grant through ruckus failed: sip" in caplog.text


@pytest.mark.parametrize("ap, read", [(" f0:9f:c2:1a:00:01", AP), ("f0:9f:c2:1a:00:01\t", AP),
                                     ("f09f.c21a.0001", AP)])
def test_an_ap_mac_with_spaces_or_dots_is_read_not_a_server_error(client, svc, demo, ap, read):
    # A padded AP MAC was a 500, then no AP; since 2026-12-07 it is read by the client MAC's rule (spaces around it
    # ignored), and Cisco's dotted form too
    assert ap_from_params({"ap": ap}) == read
    assert client.get(f"/generate_204?{urlencode({'client_mac': PHONE, 'ap': ap})}").status_code == 302
    assert client.get(f"/portal?{urlencode({'venue': 'demo', 'client_mac': PHONE, 'ap_mac': ap})}").status_code == 302


def test_a_cisco_wlc_at_its_recommended_virtual_address(client, demo):
    """Cisco recommends 192.0.2.1 for a WLC's virtual interface: not an RFC 1918 address, but the gateway's."""
    query = {"switch_url": "https://192.0.2.1/login.html", "ap_mac": AP, "client_mac": PHONE, "wlan": "Mall",
             "redirect": "http://example.com/", "venue": "demo"}
    assert client.get(f"/portal?{urlencode(query)}").status_code == 302


def test_an_authmon_poll_is_one_whatever_the_fas_path_carries(client, demo):
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="mall-gw", opennds_authmon_from=ROUTERS)
    poll = {"auth_get": "list", "gatewayhash": hashlib.sha256(b"mall-gw").hexdigest(), "payload": "bm9uZQ=="}
    resp = client.post("/portal?venue=demo&x=1", data=poll)
    assert resp.status_code == 200 and "Location" not in resp.headers


def test_posted_fields_never_add_to_a_signed_redirect(client, demo, svc):
    """CoovaChilli signs its query (`md`): a field posted beside it (an `ip` the IP table would trust) is not
    read; only a query without gateway parameters takes posted ones (MikroTik, openNDS's authmon)."""
    from portal.captive.views import captive_services
    from tests.captive.test_captive_gateways import COOVA_QUERY

    configure(client, coova_uamsecret="s3cret")
    query = COOVA_QUERY.replace("&ip=192.168.182.64", "")  # a signed redirect without the phone's IP
    md = hashlib.md5((f"http://localhost/portal?{query}" + "s3cret").encode()).hexdigest().upper()
    assert client.post(f"/portal?{query}&md={md}", data={"ip": "192.168.182.99"}).status_code == 302
    with client.application.app_context():
        assert captive_services().sessions.named_at("demo", "192.168.182.99") is None
    assert client.post("/portal?venue=demo", data={"mac": PHONE, "pad": "x" * 13_000}).status_code == 413


MERAKI_SIGN_ON = {"login_url": "https://n143.network-auth.com/splash/login?mauth=MMLxMkm9yw", "continue_url":
                  "http://example.org/news", "ap_mac": AP, "ap_name": "MR-atrium", "ap_tags": "mall",
                  "client_mac": "5c:1d:d9:20:a0:c5", "client_ip": "10.110.154.195"}


def test_meraki_sign_on_posts_the_guest_login_to_merakis_login_url(client, demo):
    configure(client, guest_username="mall", guest_password="meraki-pw")
    page = _land_and_continue(client, client.get(f"/portal?venue=demo&{urlencode(MERAKI_SIGN_ON)}"))
    assert 'action="https://n143.network-auth.com/splash/login?mauth=MMLxMkm9yw"' in page
    assert 'name="success_url" value="http://example.org/news"' in page and 'name="password" value="meraki-pw"' in page


@pytest.mark.parametrize("login_url", ["http://n143.network-auth.com/splash/login", "https://evil.example/login",
                                       "https://network-auth.com.evil.example/x", "https://x@n1.network-auth.com/"])
def test_meraki_sign_on_login_url_must_be_merakis(client, demo, login_url):
    resp = client.get(f"/portal?venue=demo&{urlencode({**MERAKI_SIGN_ON, 'login_url': login_url})}")
    assert resp.status_code == 400


def test_aruba_instant_on_grants_once_its_login_host_is_named(client, demo, caplog):
    params = {**REDIRECTS["aruba instant on"], "mac": "5c:1d:d9:20:a0:c6", "venue": "demo"}
    _land_and_continue(client, client.get(f"/portal?{urlencode(params)}"), status=403)  # lands; no grant yet
    assert "aruba_post_hosts" in caplog.text
    configure(client, aruba_post_hosts="portal.arubainstanton.com", guest_password="instant-pw")
    page = _land_and_continue(client, client.get(f"/portal?{urlencode(params)}"))
    assert 'action="https://portal.arubainstanton.com/cgi-bin/login"' in page
    assert 'name="cmd" value="authenticate"' in page and 'name="password" value="instant-pw"' in page
    forged = {**params, "post": "evil.example"}
    _land_and_continue(client, client.get(f"/portal?{urlencode(forged)}"), status=403)
