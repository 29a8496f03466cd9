"""The field cases of issue 13, replayed as the gateways and phones send them: openNDS at its default
level exactly as openNDS 11 builds its redirect, honest direct mode, hijacked hosts, PORTAL_URL, UniFi OS
consoles with their self-signed certificates."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest

from core.settings import Settings
from portal import create_app
from portal.captive.controller_api import cert_sha256
from portal.captive.probes import APPLE_SUCCESS
from portal.captive.views import capport_url, captive_services
from portal.seed import ensure_demo_mall
from portal.shopper import Shopper
from tests.captive.test_captive_gateways import onward_link
from tests.captive.tls import self_signed
from tests.fake_http import JsonHandler, serving

PORTAL_URL = "https://portal.mall.example"


def configure(client, **values):
    with client.application.app_context():
        client.application.extensions["captive"].config.set("demo", {k: str(v) for k, v in values.items()})


def token_of(resp) -> str:
    return parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]


# ---- openNDS, as src/http_microhttpd.c builds it ------------------------------------------------


def opennds_fas(originurl: str, hid: str = "a1b2c3d4") -> str:
    """construct_querystring() at fas_secure_enabled 1: "name=value, " pairs, originurl url-encoded,
    no authdir, then b64_encode() with the standard alphabet and no url-encoding of the result."""
    fields = [("hid", hid), ("clientip", "192.168.8.107"), ("clientmac", "5c:1d:d9:20:a0:c3"),
              ("client_type", "cpd_can"), ("cpi_query", "(null)"), ("gatewayname", "Mall%20Guest"),
              ("gatewayurl", quote("http://192.168.8.1", safe="")), ("version", "11.0.0beta"),
              ("gatewayaddress", "192.168.8.1:2050"), ("gatewaymac", "aabbccddeeff"),
              ("originurl", quote(originurl, safe="")), ("clientif", "br-lan"), ("themespec", "(null)")]
    text = "".join(f"{k}={v}, " for k, v in fields)
    return base64.b64encode(text.encode()).decode()


def fas_with_plus(originurl: str) -> tuple[str, str]:
    """A payload whose encoding holds '+' (which a query parser reads as a space) and '/': six '~' and
    six '?' in a row hold an aligned '~~~' (fn5+) and '???' (Pz8/) whatever the offset."""
    hid = "a1b2~~~~~~??????"
    fas = opennds_fas(originurl, hid)
    assert "+" in fas and "/" in fas
    return hid, fas


@pytest.mark.parametrize("fas_url", ["/portal", "/portal?venue=demo"])
def test_opennds_level1_default_install_grants_at_the_auth_dir(client, demo, fas_url):
    """The FAS URL with or without a query: openNDS appends `?fas=` to it as it is."""
    configure(client, opennds_faskey="s3cret", opennds_level=1)
    origin = "http://example.org/news?id=7&lang=en"
    hid, fas = fas_with_plus(origin)
    resp = client.get(f"{fas_url}?fas={fas}")  # as openNDS sends it: `/portal?venue=demo?fas=...`
    assert resp.status_code == 302, resp.get_data(as_text=True)
    grant = client.post("/portal/continue", data={"c": token_of(resp)})
    location = urlparse(grant.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "192.168.8.1:2050", "/opennds_auth/")
    query = parse_qs(location.query)
    assert query["tok"] == [hashlib.sha256((hid + "s3cret").encode()).hexdigest()]
    assert query["redir"] == [origin]  # decoded once, not "http://http%3A%2F%2F..."


def test_opennds_level0_fas_url_with_a_query(client, demo):
    gateway = "http://192.168.8.1:2050/opennds_auth/"
    url = (f"/portal?venue=demo?authaction={gateway}?clientip=192.168.8.9&gatewayname=Mall%20Guest&tok=abc123"
           f"&redir={quote('http://a.org/x?y=1', safe='')}")
    resp = client.get(url)
    assert resp.status_code == 302
    grant = client.post("/portal/continue", data={"c": token_of(resp)})
    assert grant.headers["Location"] == gateway + "?tok=abc123&redir=" + quote("http://a.org/x?y=1", safe="")


def test_opennds_long_original_url(client, demo):
    """A 2 kB original URL: a 4.8 kB request line, as in the issue."""
    configure(client, opennds_faskey="s3cret", opennds_level=1)
    origin = "http://example.org/search?q=" + "x" * 2000
    resp = client.get("/portal?venue=demo?fas=" + opennds_fas(origin))
    assert resp.status_code == 302
    grant = client.post("/portal/continue", data={"c": token_of(resp)})
    assert parse_qs(urlparse(grant.headers["Location"]).query)["redir"] == [origin]


def test_opennds_custom_authdir(client, demo):
    configure(client, opennds_faskey="s3cret", opennds_authdir="nds_auth")
    resp = client.get("/portal?fas=" + opennds_fas("http://example.org/"))
    grant = client.post("/portal/continue", data={"c": token_of(resp)})
    assert urlparse(grant.headers["Location"]).path == "/nds_auth/"


# ---- direct mode: honest, or the portal as the gateway -----------------------------------------


def test_bare_probe_then_continue_is_honest(client, demo):
    """An iPhone's bare probe, no gateway parameters: Continue must not claim "online"."""
    resp = client.get("/hotspot-detect.html", headers={"Host": "captive.apple.com"},
                      environ_base={"REMOTE_ADDR": "10.9.0.5"})
    assert resp.status_code == 302
    page = client.post("/portal/continue", data={"c": token_of(resp)}, environ_base={"REMOTE_ADDR": "10.9.0.5"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="not-granted"' in text and 'id="online"' not in text
    again = client.get("/hotspot-detect.html", environ_base={"REMOTE_ADDR": "10.9.0.5"})
    assert again.status_code == 302  # still captive: nothing pretended otherwise


@pytest.fixture
def gateway_mode_client(settings, db):
    return create_app(settings.with_(direct_mode="gateway")).test_client()


def test_direct_gateway_mode_binds_the_session_to_the_client_ip(gateway_mode_client, demo_map):
    client = gateway_mode_client
    with client.application.app_context():
        ensure_demo_mall(client.application.extensions["mallportal"], "demo", demo_map)
    phone = {"REMOTE_ADDR": "10.9.0.6"}
    resp = client.get("/hotspot-detect.html", environ_base=phone)
    grant = client.post("/portal/continue", data={"c": token_of(resp)}, environ_base=phone)
    assert grant.status_code == 303
    status = client.get(grant.headers["Location"], environ_base=phone).get_data(as_text=True)
    assert 'id="online"' in status
    assert client.get("/hotspot-detect.html", environ_base=phone).get_data(as_text=True) == APPLE_SUCCESS
    assert client.get("/hotspot-detect.html", environ_base={"REMOTE_ADDR": "10.9.0.7"}).status_code == 302


# ---- hijacked hosts and PORTAL_URL --------------------------------------------------------------


@pytest.fixture
def public(settings, db, demo_map):
    """The app as deployed: PORTAL_URL set."""
    app = create_app(settings.with_(portal_url=PORTAL_URL))
    with app.app_context():
        ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    return app.test_client()


@pytest.mark.parametrize("host, path", [
    ("neverssl.com", "/online"), ("example.org", "/"), ("fedoraproject.org", "/static/hotspot.txt"),
    ("edge.microsoft.com", "/captiveportal/generate_204"), ("www.bbc.co.uk", "/news/some-story?x=1"),
])
def test_hijacked_host_goes_to_the_portal_before_the_grant(public, host, path):
    resp = public.get(path, headers={"Host": host})
    assert resp.status_code == 302
    location = urlparse(resp.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "portal.mall.example", "/v/demo/")
    assert "no-store" in resp.headers["Cache-Control"]


def test_after_the_grant_hijacked_hosts_are_none_of_our_business(public):
    phone = {"REMOTE_ADDR": "10.9.0.8"}
    with public.application.app_context():
        cs = public.application.extensions["captive"]
        cs.sessions.remember_ip("demo", "10.9.0.8", "client-8")
        cs.sessions.grant("demo", "client-8", 600, "meraki")
    page = public.get("/online", headers={"Host": "neverssl.com"}, environ_base=phone)
    assert page.status_code == 200 and b"You are online" in page.data
    assert public.get("/static/hotspot.txt", headers={"Host": "fedoraproject.org"}, environ_base=phone).data == b"OK\n"
    edge = public.get("/captiveportal/generate_204", headers={"Host": "edge.microsoft.com"}, environ_base=phone)
    assert edge.status_code == 204


@pytest.mark.parametrize("host", ["portal.mall.example", "127.0.0.1:8000", "localhost", "10.0.0.5"])
def test_the_portals_own_hosts_are_not_hijacked(public, host):
    assert public.get("/not-a-page", headers={"Host": host}).status_code == 404


def test_absolute_urls_use_portal_url_not_the_host_header(public):
    resp = public.get("/generate_204?client_mac=02:00:5e:00:53:71", headers={"Host": "connectivitycheck.gstatic.com"})
    assert resp.headers["Location"].startswith(PORTAL_URL + "/v/demo/")
    # Asked on the portal's internal address (a foreign host name would be a hijacked request), by a phone a
    # gateway named at its address (as one that vouches for its redirects teaches the IP table):
    with public.application.app_context():
        hasher = public.application.extensions["mallportal"].hasher
        captive_services().sessions.remember_ip("demo", "10.0.0.5", hasher.client_id("02:00:5e:00:53:71"))
    body = json.loads(public.get("/capport/api?venue=demo", headers={"Host": "10.0.0.5:8000"},
                                 environ_base={"REMOTE_ADDR": "10.0.0.5"}).data)
    assert body["user-portal-url"] == PORTAL_URL + "/portal?venue=demo"
    assert body["venue-info-url"].startswith(PORTAL_URL + "/v/demo/")
    entry = public.get("/portal?client_mac=02:00:5e:00:53:72", headers={"Host": "portal.mall.example"})
    grant = public.post("/portal/continue", data={"c": token_of(entry)}, headers={"Host": "10.0.0.5:8000"})
    assert grant.headers["Location"].startswith(PORTAL_URL + "/portal/status?c=")
    with public.application.test_request_context(headers={"Host": "10.0.0.5:8000"}):
        assert capport_url(Shopper("demo", "client-1")).startswith(PORTAL_URL + "/capport/api/")


def test_portal_url_setting_is_checked():
    assert Settings.from_env({"PORTAL_URL": "https://Portal.Mall.example/"}).portal_url == PORTAL_URL
    for bad in ("portal.mall.example", "https://portal.mall.example/portal", "ftp://x.example"):
        with pytest.raises(ValueError, match="PORTAL_URL"):
            Settings.from_env({"PORTAL_URL": bad})


# ---- UniFi OS consoles and legacy controllers over TLS --------------------------------------------


class FakeUniFiOS(JsonHandler):
    """A UniFi OS console: GET / is 200; /api/auth/login sets TOKEN and answers X-CSRF-Token; the Network
    API under /proxy/network needs both."""

    calls: list = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.answer(200, {})

    def do_POST(self):  # noqa: N802
        body = self.read_json()
        FakeUniFiOS.calls.append((self.path, body, self.headers.get("Cookie"), self.headers.get("X-CSRF-Token")))
        if self.path == "/api/auth/login":
            if body.get("password") != "ctrlpw":
                return self.answer(401, {"errors": ["Invalid credentials"]})
            return self.answer(200, {"username": body["username"]},
                                {"Set-Cookie": "TOKEN=jwt123; path=/; secure; httponly", "X-CSRF-Token": "csrf42"})
        authed = self.headers.get("Cookie") == "TOKEN=jwt123" and self.headers.get("X-CSRF-Token") == "csrf42"
        if self.path.startswith("/proxy/network/api/s/") and authed:
            return self.answer(200, {"meta": {"rc": "ok"}, "data": []})
        return self.answer(401, {"meta": {"rc": "error", "msg": "api.err.LoginRequired"}})


@pytest.fixture
def unifi_os(tmp_path):
    cert_path, key_path, der = self_signed(tmp_path, "unifi.local")
    FakeUniFiOS.calls = []
    with serving(FakeUniFiOS, tls=(cert_path, key_path)) as url:
        yield url, cert_path.read_text(), der


def unifi_redirect(client):
    query = urlencode({"ap": "44:d9:e7:0a:80:43", "id": "70:8a:09:65:4d:ec", "t": int(time.time()),
                       "url": "http://example.org/", "ssid": "Mall Guest"})
    resp = client.get("/guest/s/mall/?" + query)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client.post("/portal/continue", data={"c": token_of(resp)})


def test_unifi_os_console_with_a_pinned_certificate(client, demo, unifi_os):
    url, _, der = unifi_os
    configure(client, unifi_url=url, unifi_site="mall", unifi_username="portal", unifi_password="ctrlpw",
              unifi_cert_sha256=cert_sha256(der), session_minutes=45)
    resp = unifi_redirect(client)
    assert onward_link(resp) == "http://example.org/"
    (login_path, login, _, _), (cmd_path, cmd, cookie, csrf) = FakeUniFiOS.calls
    assert login_path == "/api/auth/login" and login == {"username": "portal", "password": "ctrlpw"}
    assert cmd_path == "/proxy/network/api/s/mall/cmd/stamgr" and (cookie, csrf) == ("TOKEN=jwt123", "csrf42")
    assert cmd == {"cmd": "authorize-guest", "mac": "70:8a:09:65:4d:ec", "minutes": 45, "ap_mac": "44:d9:e7:0a:80:43"}


def test_unifi_os_console_with_a_ca_bundle(client, demo, unifi_os):
    url, cert_pem, _ = unifi_os
    configure(client, unifi_url=url, unifi_password="ctrlpw", unifi_ca_bundle=cert_pem, unifi_kind="unifi-os")
    assert unifi_redirect(client).status_code == 303


@pytest.mark.parametrize("case", ["system CAs only", "wrong pin", "wrong password"])
def test_unifi_failures_show_a_clear_page_without_internal_text(client, demo, unifi_os, case, caplog):
    url, _, der = unifi_os
    settings = {"unifi_url": url, "unifi_password": "ctrlpw"}
    if case == "wrong pin":
        settings["unifi_cert_sha256"] = "00" * 32
    if case == "wrong password":
        settings.update(unifi_cert_sha256=cert_sha256(der), unifi_password="wrong")
    configure(client, **settings)
    resp = unifi_redirect(client)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 502 and 'id="grant-failed"' in page and 'id="try-again"' in page
    # the shopper's token (random base64url, in the page's links) may hold "SSL" by chance: read the page without
    # such long runs (an error's text has spaces and brackets, so it stays)
    words = re.sub(r"[A-Za-z0-9_-]{40,}", "", page)
    for internal in ("CERTIFICATE_VERIFY_FAILED", "SSL", "Traceback", "HTTP 401", "unifi", "127.0.0.1"):
        assert internal not in words
    assert "grant through unifi failed" in caplog.text  # the detail is in the operator's log
    if case != "wrong password":  # the certificate is refused before any credentials are sent
        assert FakeUniFiOS.calls == []
