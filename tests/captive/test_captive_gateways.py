"""Each gateway's real redirect (the reference's captured URLs), its verification, and its grant."""

import base64
import hashlib
import time
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fake_http import JsonHandler, serving

MERAKI = ("/portal?user_continue_url=https%3A%2F%2Fn93.network-auth.com%2Fsplash%2Fconnected%3Fhide_terms%3Dtrue"
          "&node_id=247165649030275&node_mac=e0:cb:bc:b6:0c:83&gateway_id=247165649030275&client_ip=10.218.44.108"
          "&client_mac=42:ae:4c:c0:73:a2&base_grant_url=https%3A%2F%2Fn93.network-auth.com%2Fsplash%2Fgrant")
WLC = ("/portal?switch_url=http://wifi-guest.equinox.com/login.html&ap_mac=00:ea:bd:95:96:20"
       "&client_mac=f8:ff:c2:39:ca:71&wlan=Captive&redirect=captive.apple.com/hotspot-detect.html")
COOVA_QUERY = ("res=notyet&uamip=192.168.182.1&uamport=3660&challenge=5b1d0e5f3c2a4b6d8e9f0a1b2c3d4e5f"
               "&called=94-83-C4-01-42-27&mac=5C-1D-D9-20-A0-C1&ip=192.168.182.64&nasid=fonlo"
               "&sessionid=5e6792ce00000006&userurl=http%3a%2f%2fexample.org%2fnews")
ARUBA = ("/portal?cmd=login&mac=5c:1d:d9:20:a0:c2&essid=MallGuest&ip=10.1.2.3&apname=ap-atrium-1"
         "&apmac=24:de:c6:00:11:22&vcname=mall-vc&switchip=securelogin.arubanetworks.com&url=http%3A%2F%2Fexample.org%2F")


ROUTERS = "127.0.0.0/8"  # the test client's own address, as the venue's openNDS routers (opennds_authmon_from)


def configure(client, **values):
    from portal.captive.views import captive_services

    with client.application.app_context():
        captive_services().config.set("demo", {k: str(v) for k, v in values.items()})


def land_and_continue(client, url, **headers):
    resp = client.get(url, headers=headers)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    return token, client.post("/portal/continue", data={"c": token})


def onward_link(resp) -> str:
    """Continue after a grant the portal answers itself (a controller's, direct mode): the status page, with the
    shopper's unsigned original URL as a link (`to`), never a redirect to it. That URL."""
    location = urlparse(resp.headers["Location"])
    assert resp.status_code == 303 and location.path == "/portal/status", resp.headers["Location"]
    return parse_qs(location.query)["to"][0]


def test_meraki_click_through(client, demo, svc):
    token, resp = land_and_continue(client, MERAKI)
    assert resp.status_code == 303
    grant = urlparse(resp.headers["Location"])
    assert (grant.scheme, grant.netloc, grant.path) == ("https", "n93.network-auth.com", "/splash/grant")
    query = parse_qs(grant.query)
    assert query["duration"] == ["3600"]
    assert query["continue_url"] == ["https://n93.network-auth.com/splash/connected?hide_terms=true"]
    # Granted: the phone's probe now gets the online answer by MAC. Meraki's redirect is not signed, so the
    # IP it names is not learnt (anyone could send it: issue 14); a verified gateway's is (Coova, below).
    assert client.get("/generate_204?client_mac=42:ae:4c:c0:73:a2").status_code == 204
    assert client.get("/generate_204", environ_base={"REMOTE_ADDR": "10.218.44.108"}).status_code == 302


def test_a_query_in_merakis_grant_url_is_kept(client, demo):
    """A base_grant_url with a query of its own: the grant adds continue_url and duration to it, never drops it."""
    own = quote("https://n93.network-auth.com/splash/grant?gateway_id=42&duration=5", safe="")
    _, resp = land_and_continue(client, MERAKI.replace("https%3A%2F%2Fn93.network-auth.com%2Fsplash%2Fgrant", own))
    query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert query["gateway_id"] == ["42"] and query["duration"] == ["3600"] and "continue_url" in query


@pytest.mark.parametrize("grant_url", ["https://evil.example/splash/grant", "http://n93.network-auth.com/grant",
                                       "https://user@n93.network-auth.com.evil.net/grant"])
def test_meraki_forged_grant_url_is_refused(client, demo, grant_url):
    resp = client.get(MERAKI.replace("https%3A%2F%2Fn93.network-auth.com%2Fsplash%2Fgrant", quote(grant_url, safe="")))
    assert resp.status_code == 400 and b"base_grant_url" in resp.data


def test_meraki_bad_mac_is_refused(client, demo):
    assert client.get(MERAKI.replace("42:ae:4c:c0:73:a2", "not-a-mac")).status_code == 400


def fas_level1(faskey_hid="a1b2c3", **extra):
    fields = {"clientip": "192.168.8.107", "clientmac": "5c:1d:d9:20:a0:c3", "gatewayname": "mall-gw",
              "hid": faskey_hid, "gatewayaddress": "192.168.8.1:2050", "authdir": "opennds_auth",
              "originurl": "http://example.org/", "clientif": "br-lan", **extra}
    return ", ".join(f"{k}={v}" for k, v in fields.items())


def test_opennds_level1_grant_sends_rhid_to_the_gateway(client, demo):
    configure(client, opennds_faskey="s3cret", opennds_level=1)
    fas = base64.b64encode(fas_level1().encode()).decode()
    _, resp = land_and_continue(client, "/portal?" + urlencode({"fas": fas}))
    grant = urlparse(resp.headers["Location"])
    assert (grant.netloc, grant.path) == ("192.168.8.1:2050", "/opennds_auth/")
    assert parse_qs(grant.query)["tok"] == [hashlib.sha256(b"a1b2c3s3cret").hexdigest()]
    assert parse_qs(grant.query)["redir"] == ["http://example.org/"]


def test_opennds_level0(client, demo):
    action = "http://192.168.8.1:2050/opennds_auth/?clientip=192.168.8.9&gatewayname=gw&tok=abc123&redir=x"
    _, resp = land_and_continue(client, "/portal?" + urlencode({"authaction": action, "tok": "abc123",
                                                                 "clientip": "192.168.8.9", "redir": "http://a.org/"}))
    assert resp.headers["Location"] == "http://192.168.8.1:2050/opennds_auth/?tok=abc123&redir=http%3A%2F%2Fa.org%2F"


def test_opennds_level0_authaction_must_be_the_gateway(client, demo):
    resp = client.get("/portal?" + urlencode({"authaction": "http://evil.example/auth", "tok": "a"}))
    assert resp.status_code == 400


def encrypt_fas(text: str, key: str, iv: str, layers: int = 2) -> str:
    """As openNDS does it: base64_encode(openssl_encrypt($string, "aes-256-cbc", $key, 0, $iv)), where
    openssl_encrypt with options 0 already answers base64: two layers (src/http_microhttpd.c)."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode().ljust(32, b"\0")), modes.CBC(iv.encode())).encryptor()
    out = enc.update(data) + enc.finalize()
    for _ in range(layers):
        out = base64.b64encode(out)
    return out.decode()


@pytest.mark.parametrize("layers", [2, 1])
def test_opennds_level2_encrypted_fas(client, demo, layers):
    configure(client, opennds_faskey="k" * 20, opennds_level=2)
    iv = "0123456789abcdef"
    fas = encrypt_fas(fas_level1(), "k" * 20, iv, layers)
    _, resp = land_and_continue(client, "/portal?" + urlencode({"fas": fas, "iv": iv}))
    assert urlparse(resp.headers["Location"]).netloc == "192.168.8.1:2050"


def test_opennds_level2_grants_at_the_authdir_the_router_sent(client, demo):
    """Levels 2-3 carry the router's `authdir` in the encrypted query (src/http_microhttpd.c), and openNDS's
    own level-2 FAS (fas-aes.php) builds its Continue on it: a router whose authdir is not the default must get
    the grant there, not at the venue setting's /opennds_auth/ (a path that router does not serve)."""
    configure(client, opennds_faskey="k" * 20, opennds_level=2)
    iv = "0123456789abcdef"
    fas = encrypt_fas(fas_level1(authdir="mall_auth"), "k" * 20, iv)
    _, resp = land_and_continue(client, "/portal?" + urlencode({"fas": fas, "iv": iv}))
    grant = urlparse(resp.headers["Location"])
    assert (grant.netloc, grant.path) == ("192.168.8.1:2050", "/mall_auth/")
    # One that is no plain directory name is refused, as a bad setting is.
    fas = encrypt_fas(fas_level1(authdir="../x?y"), "k" * 20, iv)
    assert client.get("/portal?" + urlencode({"fas": fas, "iv": iv})).status_code == 400


def test_opennds_level1_authdir_stays_the_venue_setting(client, demo):
    """Level 1 is base64 anyone can write (openNDS sends no authdir there): the venue's setting decides."""
    configure(client, opennds_faskey="s3cret", opennds_level=1)
    fas = base64.b64encode(fas_level1(authdir="elsewhere").encode()).decode()
    _, resp = land_and_continue(client, "/portal?" + urlencode({"fas": fas}))
    assert urlparse(resp.headers["Location"]).path == "/opennds_auth/"


def test_opennds_forged_encrypted_fas_is_refused(client, demo):
    configure(client, opennds_faskey="k" * 20, opennds_level=2)
    iv = "0123456789abcdef"
    fas = encrypt_fas(fas_level1(), "wrong-key", iv)
    assert client.get("/portal?" + urlencode({"fas": fas, "iv": iv})).status_code in (400, 403)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_opennds_level4_authmon_handshake(client, demo):
    """authmon as openNDS runs it: gatewayhash = sha256 of the url-encoded gateway name (src/main.c), every
    payload base64 (libs/post-request.php), `view` with "none" for the list, then the rhids it applied."""
    configure(client, opennds_faskey="s3cret", opennds_level=4, opennds_gatewayname="mall-gw", session_minutes=30,
              opennds_authmon_from=ROUTERS)
    fas = base64.b64encode(fas_level1().encode()).decode()
    _, resp = land_and_continue(client, "/portal?" + urlencode({"fas": fas}))
    assert onward_link(resp) == "http://example.org/"  # level 1's fas is not encrypted: a link, not followed
    rhid = hashlib.sha256(b"a1b2c3s3cret").hexdigest()
    gatewayhash = hashlib.sha256(b"mall-gw").hexdigest()
    poll = {"auth_get": "view", "gatewayhash": gatewayhash, "payload": b64("none")}
    assert client.post("/opennds/authmon/demo", data=poll).get_data(as_text=True) == "* " + quote(
        f"{rhid} 30 0 0 0 0 none")
    assert client.get("/opennds/authmon/demo?" + urlencode(poll)).status_code == 200  # its wget mode
    ack = {**poll, "payload": b64(f"* {rhid}")}
    assert client.post("/opennds/authmon/demo", data=ack).get_data(as_text=True) == "ack"
    assert client.post("/opennds/authmon/demo", data=poll).get_data(as_text=True) == "*"
    for notice in ("deauthed", "custom"):  # notices the FAS acknowledges
        resp = client.post("/opennds/authmon/demo", data={**poll, "auth_get": notice, "payload": b64("x y")})
        assert resp.get_data(as_text=True) == "ack"


def test_opennds_gatewayhash_is_of_the_url_encoded_name(client, demo):
    """openNDS hashes its gatewayname url-encoded with lower-case hex (uh_urlencode): "Mall GW/1" is hashed
    as "Mall%20GW%2f1"."""
    from portal.captive.gateways import OpenNDS

    assert OpenNDS.gateway_hash("Mall GW/1") == hashlib.sha256(b"Mall%20GW%2f1").hexdigest()
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="Mall GW/1", opennds_authmon_from=ROUTERS)
    poll = {"auth_get": "view", "gatewayhash": hashlib.sha256(b"Mall%20GW%2f1").hexdigest(), "payload": b64("none")}
    assert client.post("/opennds/authmon/demo", data=poll).status_code == 200


def test_opennds_authmon_refuses_another_gateway(client, demo):
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="mall-gw", opennds_authmon_from=ROUTERS)
    resp = client.post("/opennds/authmon/demo", data={"auth_get": "list", "gatewayhash": "0" * 64})
    assert resp.status_code == 403


def test_opennds_authmon_only_from_the_venues_routers_when_set(client, demo):
    """The gatewayhash is not a secret (a level-4 redirect shows the gateway name): with
    opennds_authmon_from set, a poll from any other address is refused before the list is read or cleared."""
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="mall-gw", opennds_authmon_from="203.0.113.0/28")
    poll = {"auth_get": "clear", "gatewayhash": hashlib.sha256(b"mall-gw").hexdigest(), "payload": b64("none")}
    refused = client.post("/opennds/authmon/demo", data=poll, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert refused.status_code == 403 and b"address" in refused.data
    allowed = client.post("/opennds/authmon/demo", data=poll, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert allowed.status_code == 200


def test_opennds_authmon_is_refused_while_no_routers_are_named(client, demo):
    """The gatewayhash is no secret (a level-4 redirect shows the name): with `opennds_authmon_from` unset, anyone
    could read and clear the list, and the routers would never learn of their guests' sign-ins."""
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="mall-gw")
    poll = {"auth_get": "list", "gatewayhash": hashlib.sha256(b"mall-gw").hexdigest()}
    resp = client.post("/opennds/authmon/demo", data=poll)
    assert resp.status_code == 403 and b"opennds_authmon_from" in resp.data
    configure(client, opennds_authmon_from=ROUTERS)
    assert client.post("/opennds/authmon/demo", data=poll).status_code == 200


def test_opennds_authmon_from_is_checked_when_set(client, demo):
    from portal.captive.views import captive_services

    with client.application.app_context(), pytest.raises(ValueError, match="not an IP address"):
        captive_services().config.set("demo", {"opennds_authmon_from": "10.0.0.0/8, routers.example"})


def test_opennds_without_faskey_is_a_clear_error(client, demo):
    fas = base64.b64encode(fas_level1().encode()).decode()
    resp = client.get("/portal?" + urlencode({"fas": fas}))
    assert resp.status_code == 503 and b"faskey" in resp.data


def coova_url(secret: str) -> str:
    base = "http://localhost/portal?" + COOVA_QUERY
    md = hashlib.md5((base + secret).encode()).hexdigest().upper()
    return "/portal?" + COOVA_QUERY + "&md=" + md


def test_coova_checksum_and_chap_logon(client, demo):
    configure(client, coova_uamsecret="uamsecret", coova_username="guest", coova_password="pw")
    _, resp = land_and_continue(client, coova_url("uamsecret"))
    logon = urlparse(resp.headers["Location"])
    assert (logon.netloc, logon.path) == ("192.168.182.1:3660", "/logon")
    query = parse_qs(logon.query)
    challenge = hashlib.md5(bytes.fromhex("5b1d0e5f3c2a4b6d8e9f0a1b2c3d4e5f") + b"uamsecret").digest()
    assert query["response"] == [hashlib.md5(b"\0pw" + challenge).hexdigest()]
    assert query["username"] == ["guest"] and query["userurl"] == ["http://example.org/news"]


def test_coova_wrong_checksum_is_refused(client, demo):
    configure(client, coova_uamsecret="uamsecret")
    assert client.get(coova_url("another-secret")).status_code == 403
    assert client.get("/portal?" + COOVA_QUERY).status_code == 403  # md missing


def test_cisco_wlc_real_redirect(client, demo):
    configure(client, wlc_hosts="wifi-guest.equinox.com", guest_username="mall", guest_password="guestpw")
    _, resp = land_and_continue(client, WLC)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'action="http://wifi-guest.equinox.com/login.html"' in page
    assert 'name="buttonClicked" value="4"' in page and 'name="username" value="mall"' in page
    assert "hotspot-detect" not in page  # continuing to a probe URL is pointless: not kept as destination


def refused_continue(client, url, password, caplog, *logged):
    """The phone lands on its zone; Continue is refused (403, the try-again page), the guest login goes
    nowhere, and the operator's log names what to fix."""
    token, resp = land_and_continue(client, url)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 403 and 'id="try-again"' in page and password not in page
    assert all(word in caplog.text for word in logged)
    return token


def test_cisco_wlc_hostname_outside_wlc_hosts_lands_and_only_continue_is_refused(client, demo, caplog):
    """The reference's real capture: a public-looking name for the controller's virtual interface. Until the
    venue names it in `wlc_hosts` (none set: only private addresses) the phone lands, as the README says."""
    configure(client, guest_password="guestpw")
    refused_continue(client, WLC, "guestpw", caplog, "switch_url", "wlc_hosts")
    configure(client, wlc_hosts="wlc.mall.internal")  # another controller's name
    refused_continue(client, WLC, "guestpw", caplog)


@pytest.mark.parametrize("switch_url", ["http://evil.example/login.html", "http://8.8.8.8/login.html",
                                        "ftp://192.0.2.1/login.html", "http://user@192.0.2.1/login.html",
                                        "http://192.0.2.1:evil.com/login.html", ""])
def test_cisco_wlc_forged_switch_url_gets_no_credentials(client, demo, switch_url, caplog):
    configure(client, guest_password="guestpw")
    url = WLC.replace("http://wifi-guest.equinox.com/login.html", quote(switch_url, safe=""))
    refused_continue(client, url, "guestpw", caplog, "grant through cisco failed: switch_url")


def test_cisco_wlc_status_code_is_explained(client, demo):
    resp = client.get(WLC + "&statusCode=5")
    assert resp.status_code == 409 and b"credentials" in resp.data


@pytest.mark.parametrize("scheme", [None, "https"])
def test_aruba_instant(client, demo, scheme):
    """Login posted to http://securelogin.arubanetworks.com/cgi-bin/login as Aruba documents it (the reference,
    4), or https where the venue says its APs have a trusted certificate."""
    configure(client, guest_password="arubapw", **({"aruba_login_scheme": scheme} if scheme else {}))
    _, resp = land_and_continue(client, ARUBA)
    page = resp.get_data(as_text=True)
    assert f'action="{scheme or "http"}://securelogin.arubanetworks.com/cgi-bin/login"' in page
    assert 'name="cmd" value="authenticate"' in page and 'name="password" value="arubapw"' in page


@pytest.mark.parametrize("switchip", ["evil.example", "10.1.1.1", "8.8.8.8"])
def test_aruba_other_switchip_lands_and_only_continue_is_refused(client, demo, switchip, caplog):
    configure(client, guest_password="arubapw")
    url = ARUBA.replace("securelogin.arubanetworks.com", switchip)
    refused_continue(client, url, "arubapw", caplog, "switchip", "aruba_switchip")


def test_aruba_controller_switchip_once_the_venue_names_it(client, demo, caplog):
    url = ARUBA.replace("securelogin.arubanetworks.com", "10.1.1.1")
    configure(client, guest_password="arubapw")
    refused_continue(client, url, "arubapw", caplog, "aruba_switchip")  # lands before it is named
    configure(client, aruba_switchip="10.1.1.1")
    _, resp = land_and_continue(client, url)
    assert 'action="http://10.1.1.1/cgi-bin/login"' in resp.get_data(as_text=True)


class FakeUniFi(JsonHandler):
    calls: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.read_json()
        FakeUniFi.calls.append((self.path, body, self.headers.get("Cookie")))
        ok = self.path == "/api/login" and body.get("password") == "ctrlpw" or self.headers.get("Cookie")
        cookie = {"Set-Cookie": "unifises=abc; Path=/"} if self.path == "/api/login" and ok else {}
        self.answer(200, {"meta": {"rc": "ok" if ok else "error", "msg": "api.err.Invalid"}, "data": []}, cookie)


@pytest.fixture
def unifi_controller():
    FakeUniFi.calls = []
    with serving(FakeUniFi) as url:
        yield url


def unifi_url(t=None):
    return ("/guest/s/default/?" + urlencode({"ap": "44:d9:e7:0a:80:43", "id": "70:8a:09:65:4d:ec",
                                               "t": int(time.time()) if t is None else t,
                                               "url": "http://example.org/", "ssid": "Mall Guest"}))


def test_unifi_authorizes_the_guest_on_the_controller(client, demo, unifi_controller):
    configure(client, unifi_url=unifi_controller, unifi_username="portal", unifi_password="ctrlpw", session_minutes=90)
    _, resp = land_and_continue(client, unifi_url())
    assert onward_link(resp) == "http://example.org/"  # UniFi signs nothing: the URL is a link, not followed
    (login_path, login, _), (cmd_path, cmd, cookie) = FakeUniFi.calls
    assert login_path == "/api/login" and login["username"] == "portal"
    assert cmd_path == "/api/s/default/cmd/stamgr" and cookie == "unifises=abc"
    assert cmd == {"cmd": "authorize-guest", "mac": "70:8a:09:65:4d:ec", "minutes": 90, "ap_mac": "44:d9:e7:0a:80:43"}


def test_unifi_controller_refusal_is_a_502_not_a_grant(client, demo, unifi_controller):
    configure(client, unifi_url=unifi_controller, unifi_password="wrong")
    _, resp = land_and_continue(client, unifi_url())
    assert resp.status_code == 502


def test_unifi_replayed_redirect_is_refused(client, demo):
    assert client.get(unifi_url(t=int(time.time()) - 7200)).status_code == 400


@pytest.mark.parametrize("redir", ["javascript:alert(1)", "http://user:pw@example.org/", "//evil.example/",
                                   "http://localhost.evil.example/", "data:text/html,hi"])
def test_no_open_redirect_through_the_destination(client, demo, redir):
    _, resp = land_and_continue(client, "/portal?" + urlencode({"client_mac": "02:00:5e:00:53:31", "url": redir}))
    location = urlparse(resp.headers["Location"])
    assert location.path == "/portal/status"  # the destination was dropped, not followed


def test_a_direct_grant_shows_an_unsigned_destination_as_a_link(client, demo):
    """With no gateway the portal grants the session itself (the demo's phones): the destination a direct link
    names is anyone's to write, so Continue lands on the status page showing it as a link, never a redirect to
    it (the portal would be an open redirect for any phishing page on a trusted host)."""
    destination = "https://shop.example/phish?x=1"
    _, resp = land_and_continue(client, "/portal?" + urlencode({"client_mac": "02:00:5e:00:53:32",
                                                                "url": destination}))
    location = urlparse(resp.headers["Location"])
    assert resp.status_code == 303 and location.path == "/portal/status", resp.headers["Location"]
    assert parse_qs(location.query)["to"] == [destination]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'href="{destination.replace("&", "&amp;")}"' in page


def test_continue_without_shopper_token_is_refused(client, demo):
    assert client.post("/portal/continue").status_code == 400
    assert client.post("/portal/continue", data={"c": "forged"}).status_code == 400
    assert client.post("/portal/continue", data={"g": "forged"}).status_code == 400


@pytest.mark.parametrize("probe_url", ["http://connectivitycheck.platform.hicloud.com/generate_204_f0a1",
                                       "http://connect.rom.miui.com/generate_204", "http://g.cn/generate_204",
                                       "http://www.google.com/gen_204", "http://ipv6.msftconnecttest.com/connecttest.txt",
                                       "http://www.apple.com/library/test/success.html"])
def test_an_os_probe_on_any_host_is_not_where_the_shopper_continues(client, demo, probe_url):
    """OEM builds probe their own hosts (the reference's UniFi capture: url=http://connectivitycheck.platform.
    hicloud.com/generate_204_...): continuing to a probe URL only closes the sign-in browser."""
    url = MERAKI.replace("https%3A%2F%2Fn93.network-auth.com%2Fsplash%2Fconnected%3Fhide_terms%3Dtrue",
                         quote(probe_url, safe=""))
    _, resp = land_and_continue(client, url)
    assert resp.status_code == 303 and quote(probe_url, safe="") not in resp.headers["Location"]
    assert probe_url not in resp.headers["Location"]


def test_opennds_authmon_polls_its_fas_url_the_portal(client, demo):
    """A stock openNDS polls its FAS URL (fas_url = faspath, here /portal?venue=demo): by POST
    (post-request.php), or in wget mode by GET with `?auth_get=...` appended to a URL that has a query already."""
    configure(client, opennds_faskey="s3cret", opennds_level=4, opennds_gatewayname="mall-gw", session_minutes=30,
              opennds_authmon_from=ROUTERS)
    fas = base64.b64encode(fas_level1().encode()).decode()
    land_and_continue(client, "/portal?venue=demo?" + urlencode({"fas": fas}))
    entry = "* " + quote(f"{hashlib.sha256(b'a1b2c3s3cret').hexdigest()} 30 0 0 0 0 none")
    poll = {"auth_get": "view", "gatewayhash": hashlib.sha256(b"mall-gw").hexdigest(), "payload": b64("none")}
    assert client.post("/portal?venue=demo", data=poll).get_data(as_text=True) == entry
    assert client.get("/portal?venue=demo?" + urlencode(poll)).get_data(as_text=True) == entry
    assert client.post("/portal?venue=demo", data={"fas": fas}).status_code == 302  # posted: the same entry


def test_opennds_authmon_junk_payload_is_not_an_error(client, demo):
    configure(client, opennds_faskey="s3cret", opennds_gatewayname="mall-gw", opennds_authmon_from=ROUTERS)
    poll = {"auth_get": "view", "gatewayhash": hashlib.sha256(b"mall-gw").hexdigest()}
    for payload in ("é", "%%%", "x" * 3000):
        assert client.post("/opennds/authmon/demo", data={**poll, "payload": payload}).status_code == 200
    assert client.get("/opennds/authmon/demo?" + urlencode({**poll, "payload": "é"})).status_code == 200


def test_opennds_gatewayhashes_for_routers_with_a_serial_suffix(client, demo):
    """openNDS's default enable_serial_number_suffix makes the name "<name> Node:<mac> ": the hash each router
    logs can be set instead, several at once."""
    one, two = (hashlib.sha256(name.encode()).hexdigest() for name in ("mall-gw%20Node%3a0a0b0c0d0e0f%20", "other"))
    configure(client, opennds_faskey="s3cret", opennds_gatewayhashes=f"{one}, {two.upper()}",
              opennds_authmon_from=ROUTERS)
    for given in (one, two):
        resp = client.post("/opennds/authmon/demo", data={"auth_get": "view", "gatewayhash": given,
                                                          "payload": b64("none")})
        assert resp.status_code == 200
    from portal.captive.views import captive_services

    with client.application.app_context(), pytest.raises(ValueError, match="opennds_gatewayhashes"):
        captive_services().config.set("demo", {"opennds_gatewayhashes": "not-a-hash"})


def test_a_shops_own_page_with_a_probe_like_path_is_a_destination():
    """Only Android's /generate_204 is a check on any host; the other OSes' probe paths are checks on their
    vendors' domains, not on a shop's site."""
    from portal.captive.gateways import safe_destination

    assert safe_destination("http://shop.example/success.html") == "http://shop.example/success.html"
    assert safe_destination("https://shop.example/redirect") == "https://shop.example/redirect"
    assert safe_destination("http://www.apple.com/library/test/success.html") is None
    assert safe_destination("http://anything.example/generate_204_x") is None
