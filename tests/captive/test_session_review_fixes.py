"""Faults a review reproduced on a live server, each replayed here with the reviewer's requests:

1. a MAC typed into a probe's or the portal's URL got that phone a session (probes and CAPPORT said "online"
   while its gateway still held it back);
2. the CAPPORT API's user-portal-url led to a Continue that never went through the phone's gateway;
3. with the store down, CAPPORT told phones that were online already that they were captive;
4. with the store down, the fail-open page's Continue had no controller settings (SmartZone, UniFi, Omada).

Outside the demo (DEMO off), as deployed: the demo mall's data, CoovaChilli with its uamsecret. The store goes
away as in tests/faults/test_faults_breaker_views.py (the pool pointed at a closed port), the breaker stepped by
hand: nothing here is timed."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal import create_app
from portal.captive.gateways import CoovaChilli
from portal.captive.probes import APPLE_SUCCESS
from portal.captive.sessions import SessionKeys, SessionStore
from portal.captive.views import capport_url, captive_services
from portal.shopper import Shopper
from portal.tools.net import free_port
from tests.captive.test_captive_gateways import MERAKI, configure
from tests.captive.test_omada import EAP_REDIRECT, FakeOmada, omada  # noqa: F401 - the fixture
from tests.captive.test_omada import configured as omada_configured
from tests.captive.test_smartzone import ENC_IP, ENC_MAC, FakeNbi, nbi, redirect  # noqa: F401 - the fixture
from tests.captive.test_smartzone import configured as smartzone_configured

UAMSECRET, CHAP_PASSWORD = "s3cret", "pw"
CHALLENGE = "5b1d0000000000000000000000000000"
PHONE_A, IP_A = "5C-1D-D9-20-A0-C3", "10.9.9.9"
PHONE_C, IP_C = "5C-1D-D9-20-A0-C7", "10.9.9.8"
ATTACKER = "10.6.6.6"


def coova_redirect(mac: str, ip: str, res: str = "notyet") -> str:
    """CoovaChilli's redirect as the reviewer sent it, signed with the venue's uamsecret (`md`)."""
    query = (f"venue=demo&res={res}&uamip=192.168.182.1&uamport=3660&challenge={CHALLENGE}"
             f"&called=94-83-C4-01-42-27&mac={mac}&ip={ip}&nasid=fonlo&userurl=http%3a%2f%2fexample.org%2f")
    md = hashlib.md5((f"http://localhost/portal?{query}" + UAMSECRET).encode()).hexdigest()
    return f"/portal?{query}&md={md}"


def at(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def token_of(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]


def capport(client, ip: str):
    return client.get("/capport/api?venue=demo", headers={"Accept": "application/captive+json"}, **at(ip))


def captive(client, ip: str) -> bool:
    resp = capport(client, ip)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return json.loads(resp.data)["captive"]


def assert_coova_logon(resp) -> None:
    """The browser sent to the chilli's /logon with the CHAP answer to the redirect's challenge."""
    assert resp.status_code == 303, resp.get_data(as_text=True)
    logon = urlparse(resp.headers["Location"])
    assert (logon.netloc, logon.path) == ("192.168.182.1:3660", "/logon")
    query = parse_qs(logon.query)
    assert query["response"] == [CoovaChilli.chap_response(CHALLENGE, CHAP_PASSWORD, UAMSECRET)]
    assert query["userurl"] == ["http://example.org/"]


def assert_not_granted(resp, *, gateway_phone: bool) -> str:
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="not-granted"' in text, text
    assert 'id="online"' not in text and "Location" not in resp.headers
    assert 'id="open-a-page"' in text  # what to do: open a page, so that the gateway sends the phone here
    assert ("has not sent your device here recently" in text) is gateway_phone
    return text


@pytest.fixture
def production(settings, db, demo):
    """The app outside the demo, on the demo mall's data; CoovaChilli's uamsecret set; the store breaker's
    background prober off (the tests run its step)."""
    app = create_app(settings.with_(demo=False))
    app.extensions["mallportal"].breaker._on_open = None
    client = app.test_client()
    configure(client, coova_uamsecret=UAMSECRET, coova_password=CHAP_PASSWORD)
    return client


@contextmanager
def store_away(client):
    """The app's store gone (its pool pointed at a closed port), then back; the breaker closed again by hand."""
    svc = client.application.extensions["mallportal"]
    svc.breaker._on_open = None
    pool = svc.db.connection_pool
    real_port = pool.connection_kwargs["port"]
    pool.reset()
    pool.connection_kwargs.update(port=free_port())
    try:
        yield svc.breaker
    finally:
        pool.reset()
        pool.connection_kwargs.update(port=real_port)
        for _ in range(3):
            if not svc.breaker.is_open or svc.breaker.probe_once():
                break
        assert not svc.breaker.is_open


# ---- 1. a MAC typed into a URL gets no session --------------------------------------------------------


def test_a_mac_typed_into_a_probe_gets_that_phone_no_session(production):
    client = production
    assert client.get(coova_redirect(PHONE_A, IP_A), **at(IP_A)).status_code == 302  # res=notyet: never logs on
    assert captive(client, IP_A) is True
    probe = client.get(f"/generate_204?client_mac={PHONE_A}", headers={"Host": "connectivitycheck.gstatic.com"},
                       **at(ATTACKER))
    resp = client.post("/portal/continue", data={"c": token_of(probe)}, **at(ATTACKER))
    assert_not_granted(resp, gateway_phone=False)  # nor did it borrow A's gateway context
    assert captive(client, IP_A) is True
    assert client.get("/hotspot-detect.html", headers={"Host": "captive.apple.com"}, **at(IP_A)).status_code == 302
    assert client.get(f"/generate_204?client_mac={PHONE_A}", **at(ATTACKER)).status_code == 302


@pytest.mark.parametrize("mac", [PHONE_A, "3c:22:fb:99:88:77"])
def test_a_mac_typed_into_the_portal_url_gets_that_phone_no_session(production, mac):
    client = production
    client.get(coova_redirect(PHONE_A, IP_A), **at(IP_A))
    entry = client.get(f"/portal?venue=demo&client_mac={mac}", **at("10.6.6.7"))
    resp = client.post("/portal/continue", data={"c": token_of(entry)}, **at("10.6.6.7"))
    assert_not_granted(resp, gateway_phone=False)
    assert client.get(f"/generate_204?client_mac={mac}", **at("10.6.6.7")).status_code == 302
    assert captive(client, IP_A) is True


@pytest.mark.parametrize("entry", ["/generate_204?client_mac={mac}", "/portal?venue=demo&client_mac={mac}"])
def test_the_demo_still_grants_the_macs_it_simulates(client, demo, entry):
    mac = "02:00:5e:00:53:61"
    resp = client.post("/portal/continue", data={"c": token_of(client.get(entry.format(mac=mac)))})
    assert resp.status_code == 303 and urlparse(resp.headers["Location"]).path == "/portal/status"
    assert client.get(f"/generate_204?client_mac={mac}").status_code == 204


def test_a_verified_gateways_phone_still_grants_through_it(production):
    client = production
    landed = client.get(coova_redirect(PHONE_A, IP_A), **at(IP_A))
    assert_coova_logon(client.post("/portal/continue", data={"c": token_of(landed)}, **at(IP_A)))
    assert captive(client, IP_A) is False
    assert client.get("/hotspot-detect.html", headers={"Host": "captive.apple.com"},
                      **at(IP_A)).get_data(as_text=True) == APPLE_SUCCESS


# ---- 2. the CAPPORT API's user-portal-url continues through the phone's gateway ---------------------------


def test_the_user_portal_urls_continue_goes_through_the_phones_gateway(production):
    """Repro A: a phone that uses only the API (Android 11+, iOS 14+) opens user-portal-url, not the gateway's
    redirect: its Continue still logs it on at its CoovaChilli."""
    client = production
    assert client.get(coova_redirect(PHONE_C, IP_C), **at(IP_C)).status_code == 302
    api = json.loads(capport(client, IP_C).data)
    assert api["captive"] is True
    portal = urlparse(api["user-portal-url"])
    assert (portal.path, parse_qs(portal.query)) == ("/portal", {"venue": ["demo"]})
    entry = client.get(f"{portal.path}?{portal.query}", **at(IP_C))
    assert_coova_logon(client.post("/portal/continue", data={"c": token_of(entry)}, **at(IP_C)))
    assert captive(client, IP_C) is False  # recorded once the browser goes to the gateway, as for every grant


def test_the_venue_info_pages_continue_goes_through_the_phones_gateway(production):
    client = production
    client.get(coova_redirect(PHONE_C, IP_C), **at(IP_C))
    info = urlparse(json.loads(capport(client, IP_C).data)["venue-info-url"])
    token = parse_qs(info.query)["c"][0]
    assert_coova_logon(client.post("/portal/continue", data={"c": token}, **at(IP_C)))


def test_a_forged_redirect_plants_no_gateway_context_for_someone_elses_phone(production):
    """Only a redirect the gateway vouched for is kept as the phone's: an unsigned one naming C's MAC (a Meraki
    redirect anyone can type) must not become what C's Continue grants through."""
    client = production
    client.get(coova_redirect(PHONE_C, IP_C), **at(IP_C))
    assert client.get(MERAKI.replace("42:ae:4c:c0:73:a2", PHONE_C), **at(ATTACKER)).status_code == 302
    entry = client.get("/portal?venue=demo", **at(IP_C))
    assert_coova_logon(client.post("/portal/continue", data={"c": token_of(entry)}, **at(IP_C)))


def test_a_phone_the_api_alone_knows_nothing_of_is_told_to_open_a_page(production):
    """Repro B: a fresh address, no gateway redirect seen: the API has no answer for it (a JSON 404: the OS falls
    back to its probes, which the gateway answers), and the portal's page says what to do."""
    client = production
    fresh = "10.9.9.77"
    api = capport(client, fresh)
    assert api.status_code == 404 and api.mimetype == "application/json" and "captive" not in json.loads(api.data)
    entry = client.get("/portal?venue=demo", **at(fresh))
    assert_not_granted(client.post("/portal/continue", data={"c": token_of(entry)}, **at(fresh)),
                       gateway_phone=False)
    assert capport(client, fresh).status_code == 404


def test_a_gateways_phone_whose_context_is_gone_gets_no_direct_session(production, svc):
    """The IP table still knows the phone (a verified gateway taught it), but its gateway's context has lapsed
    (an hour): a session of ours would only tell its probes "online" while the gateway holds it back."""
    client = production
    client.get(coova_redirect(PHONE_C, IP_C), **at(IP_C))
    svc.db.delete(SessionKeys("demo").phone_gateway_context(svc.hasher.client_id(PHONE_C)))
    entry = client.get("/portal?venue=demo", **at(IP_C))
    assert_not_granted(client.post("/portal/continue", data={"c": token_of(entry)}, **at(IP_C)),
                       gateway_phone=True)
    assert captive(client, IP_C) is True
    assert client.get("/hotspot-detect.html", headers={"Host": "captive.apple.com"}, **at(IP_C)).status_code == 302


# ---- 3. the store down: CAPPORT gives no answer rather than "captive" -------------------------------------


@pytest.mark.single_node
def test_capport_answers_503_while_the_store_is_down_and_recovers(production, svc):
    client = production
    landed = client.get(coova_redirect(PHONE_A, IP_A), **at(IP_A))
    assert_coova_logon(client.post("/portal/continue", data={"c": token_of(landed)}, **at(IP_A)))
    assert captive(client, IP_A) is False
    with client.application.test_request_context():
        per_client = urlparse(capport_url(Shopper("demo", "s-1", svc.hasher.client_id(PHONE_A), True))).path
    with store_away(client) as breaker:
        for _ in range(breaker.failures_to_open + 1):  # while the store fails, and once the breaker is open
            for resp in (capport(client, IP_A), client.get(per_client)):
                assert resp.status_code == 503 and resp.mimetype == "application/json"
                assert "error" in json.loads(resp.data) and "captive" not in json.loads(resp.data)
                assert int(resp.headers["Retry-After"]) > 0 and "no-store" in resp.headers["Cache-Control"]
        assert breaker.is_open
    assert captive(client, IP_A) is False
    assert json.loads(client.get(per_client).data)["captive"] is False


def test_capport_refuses_a_malformed_venue_with_a_clear_400(production):
    resp = production.get("/capport/api?venue=../etc")
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert "venue" in json.loads(resp.data)["error"]


# ---- 4. the store down: the fail-open page's Continue uses the settings last read -------------------------


def fail_open_page(client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200 and b"continue-internet" in page.data, page.get_data(as_text=True)
    return page.get_data(as_text=True).split('name="g" value="')[1].split('"')[0]


@pytest.mark.single_node
def test_fail_open_continue_authorises_on_omada_with_the_settings_last_read(client, demo, omada):  # noqa: F811
    omada_configured(client, omada)
    url = "/portal?" + urlencode(EAP_REDIRECT)
    assert client.get(url).status_code == 302  # one successful read of the venue's settings
    with store_away(client):
        sealed = fail_open_page(client, url)
        resp = client.post("/portal/continue", data={"g": sealed})
        # authorised; the shopper's unsigned original URL is not followed (anyone's link): the fail-open page
        assert resp.status_code == 303 and urlparse(resp.headers["Location"]).path == "/offline"
    paths = [path.rsplit("/", 1)[-1] for path, *_ in FakeOmada.calls]
    assert paths == ["login", "auth"] and FakeOmada.calls[-1][1]["time"] == 90 * 60 * 1000  # the venue's 90 min


@pytest.mark.single_node
def test_fail_open_continue_logs_in_on_smartzone_with_the_settings_last_read(client, demo, nbi):  # noqa: F811
    smartzone_configured(client, nbi)
    assert client.get(redirect()).status_code == 302
    with store_away(client):
        sealed = fail_open_page(client, redirect())
        resp = client.post("/portal/continue", data={"g": sealed})
        assert resp.status_code == 303 and urlparse(resp.headers["Location"]).path == "/offline"
    login = FakeNbi.calls[-1]
    assert (login["RequestType"], login["UE-MAC"], login["UE-IP"]) == ("Login", ENC_MAC, ENC_IP)


@pytest.mark.single_node
def test_fail_open_continue_with_no_settings_read_says_so(settings, client, demo, omada, caplog):  # noqa: F811
    omada_configured(client, omada)
    fresh = create_app(settings).test_client()  # a process that has not read the venue's settings yet
    with store_away(fresh):
        sealed = fail_open_page(fresh, "/portal?" + urlencode(EAP_REDIRECT))
        with caplog.at_level(logging.ERROR):
            resp = fresh.post("/portal/continue", data={"g": sealed})
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert 'id="try-again"' in resp.get_data(as_text=True)
    assert "settings of venue demo are unknown while the store is down" in caplog.text
    assert "not configured" not in caplog.text and FakeOmada.calls == []


@pytest.mark.single_node
def test_a_fail_open_page_grants_on_its_own_venues_settings_only(client, demo, omada):  # noqa: F811
    """The venue is sealed into the page's context: a redirect naming a venue whose settings this process never
    read cannot borrow another's (the demo's, posted beside it), and a context altered is refused."""
    omada_configured(client, omada)
    client.get("/portal?" + urlencode(EAP_REDIRECT))  # the demo venue's settings, read
    with store_away(client):
        sealed = fail_open_page(client, "/portal?" + urlencode({**EAP_REDIRECT, "venue": "elsewhere"}))
        assert client.post("/portal/continue", data={"g": sealed, "venue": "demo"}).status_code == 503
        assert client.post("/portal/continue", data={"g": sealed[:-4] + "AAAA"}).status_code == 400
    assert FakeOmada.calls == []


def test_venue_ids_without_settings_do_not_push_a_venues_settings_out(production):
    """Any well-formed venue id can be asked for; only venues with settings of their own are remembered, so
    anonymous requests cannot evict the settings a fail-open Continue needs."""
    with production.application.app_context():
        config = captive_services().config
        config.last_known.size = 3  # the bound, small here (4096 in use)
        config.get("demo")
        assert config.last_known.get("demo") is not None
        for i in range(config.last_known.size + 5):
            config.get(f"nowhere{i}")
        assert config.last_known.get("demo") is not None and config.last_known.get("nowhere0") is None


def test_revoke_ends_a_session_granted_again_while_it_runs(db):
    """A logoff reads the session, then deletes it and the address entry it held: a grant at a new address
    in between must not leave that address naming the phone with no session behind it."""
    sessions, now = SessionStore(db), time.time()
    sessions.grant("demo", "phone-1", 600, "direct", now=now, ip="10.0.0.1")
    real_get, raced = db.get, []

    def get_then_a_new_grant(key):
        value = real_get(key)
        if not raced and key == SessionKeys("demo").session("phone-1"):
            raced.append(sessions.grant("demo", "phone-1", 3600, "direct", now=now + 1, ip="10.0.0.2"))
        return value

    db.get = get_then_a_new_grant
    try:
        sessions.revoke("demo", "phone-1")
    finally:
        db.get = real_get
    assert raced and sessions.get("demo", "phone-1") is None
    assert sessions.named_at("demo", "10.0.0.1") is None and sessions.named_at("demo", "10.0.0.2") is None
