"""The third captive review: a login the gateway refused ends the phone's session and offers Try again; "already
online" follows only a redirect the gateway vouched for (no open redirect); a second Continue keeps a live
session as it is; the controller grants spend an abuse budget; a `[` without its `]` in a URL is no 500; the
CAPPORT API's unknown token is a plain JSON error."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlencode, urlparse

import pytest

from portal import create_app
from portal.captive.gateways import ContextSealer, GatewayContext, safe_destination
from portal.captive.sessions import SessionKeys, SessionStore
from portal.seed import ensure_demo_mall
from tests.captive.test_captive_gateways import MERAKI, WLC, FakeUniFi, configure, unifi_url
from tests.captive.test_captive_unknown_venue import open_venue
from tests.captive.test_gateway_state import (
    COOVA_MAC,
    assert_online,
    coova,
    coova_granted,
    session_of,
    token_of,
)
from tests.captive.test_other_gateways import MIKROTIK
from tests.captive.test_probe_lane import PHONE as PROBE_PHONE
from tests.captive.test_probe_lane import tracked  # noqa: F401 - the fixture
from tests.fake_http import serving


def try_again(client, page) -> object:
    """Press the grant-failed page's Try again: its form's fields, posted to Continue."""
    text = page.get_data(as_text=True)
    assert 'id="try-again"' in text, text[:500]
    token = text.split('name="c" value="', 1)[1].split('"', 1)[0]
    return client.post("/portal/continue", data={"c": token})


# ---- 1. a login the gateway refused: the session ends, the page says why and offers Try again --------------


def test_a_signed_coova_failed_ends_the_session_and_offers_try_again(client, demo):
    token = coova_granted(client)
    refused = coova(client, "failed")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "The WiFi network refused the sign-in." in page
    assert "no-store" in refused.headers["Cache-Control"]
    assert_online(client, token, COOVA_MAC, False)
    again = try_again(client, refused)  # through the refused redirect's context: the chilli's logon again
    assert again.status_code == 303 and urlparse(again.headers["Location"]).path == "/logon"


def test_an_unsigned_failed_logs_no_one_out(client, demo):
    """Without `coova_uamsecret` anyone can write a res=failed naming someone else's phone (a venue that is no
    demo: there a redirect's MAC is trusted as a gateway's)."""
    from portal.captive.views import captive_services

    open_venue(client.application.extensions["mallportal"], "other")
    phone = client.application.extensions["mallportal"].hasher.client_id(COOVA_MAC)
    with client.application.app_context():
        captive_services().sessions.grant("other", phone, 3600, "coova")
    refused = coova(client, "failed", secret="", venue="other")
    assert refused.status_code == 409 and 'id="try-again"' in refused.get_data(as_text=True)
    assert session_of(client, COOVA_MAC, "other") is not None


@pytest.mark.parametrize("gateway", ["cisco", "mikrotik"])
def test_a_form_login_the_gateway_refused_ends_the_session(client, demo, gateway):
    """Demo mode: a redirect's MAC is trusted as a gateway's, so the refusal ends the session (elsewhere these
    gateways sign nothing, and an unsigned refusal logs no one out, as above)."""
    configure(client, wlc_hosts="wifi-guest.equinox.com")
    if gateway == "cisco":
        first, mac = WLC, "f8:ff:c2:39:ca:71"
        back, words = WLC + "&statusCode=5", "The WiFi network did not accept the guest credentials."
    else:
        first, mac = f"/portal?venue=demo&{urlencode(MIKROTIK)}", MIKROTIK["mac"]
        back = f"/portal?venue=demo&{urlencode({**MIKROTIK, 'error': 'invalid password'})}"
        words = "The WiFi network refused the sign-in."
    token = token_of(client.get(first))
    assert client.post("/portal/continue", data={"c": token}).status_code == 200  # the form to the gateway
    assert_online(client, token, mac, True)
    refused = client.get(back)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and words in page
    main = page.split("<main", 1)[1].split("</main>", 1)[0]  # (the language switch's link repeats the query)
    assert "statusCode" not in main and "error" not in main  # no raw field name on the shopper's page
    assert_online(client, token, mac, False)
    again = try_again(client, refused)
    assert again.status_code == 200 and 'id="gateway-login"' in again.get_data(as_text=True)


def test_the_routers_own_words_are_quoted_escaped(client, demo):
    back = f"/portal?venue=demo&{urlencode({**MIKROTIK, 'error': '<b>call 555</b>' + 'x' * 300})}"
    said = client.get(back).get_data(as_text=True).split('id="gateway-said">', 1)[1].split("</p>", 1)[0]
    assert "&lt;b&gt;call 555&lt;/b&gt;" in said and "<b>" not in said and "x" * 200 not in said


@pytest.mark.parametrize(("code", "refusal"), [("2", "not-web-auth"), ("3", "user-unavailable"), ("4", "blocked"),
                                               ("5", "credentials")])
def test_a_refusal_is_worded_in_the_shoppers_language(client, demo, code, refusal):
    """The refusal is the catalog's text in the shopper's language (zh here), not English glued to a field name."""
    from portal.captive.gateways import REFUSALS
    from portal.captive.views import REFUSAL_TEXTS

    assert set(REFUSAL_TEXTS) == set(REFUSALS)
    with client.application.test_request_context("/?lang=zh"):
        expected = str(REFUSAL_TEXTS[refusal])
    resp = client.get(WLC + f"&statusCode={code}&lang=zh")
    assert resp.status_code == 409 and f'<p id="grant-refused">{expected}</p>' in resp.get_data(as_text=True)


def brand(page) -> str:
    return page.get_data(as_text=True).split('class="brand"', 1)[1].split(">", 1)[1].split("</a>", 1)[0]


def test_the_refused_page_names_the_mall_in_the_shoppers_language(client, demo, svc):
    """The grant-failed page's header names the mall, as the mall's other pages do (it said "MallPortal")."""
    mall = svc.venues.get_map("demo")
    assert brand(coova(client, "failed")) == mall.name
    denied = client.get("/wifidog/demo/gw_message.php?message=denied&token=x")
    assert denied.status_code == 409 and brand(denied) == mall.name
    assert brand(client.get(WLC + "&statusCode=4&lang=zh")) == (mall.name_zh or mall.name) != mall.name


def test_a_denied_login_for_an_unknown_venue_is_a_404_under_the_products_name(client, demo):
    denied = client.get("/wifidog/nosuchmall/gw_message.php?message=denied&token=x")
    assert denied.status_code == 404 and brand(denied) == "MallPortal"


# ---- 2. "already online" follows only a redirect the gateway vouched for ------------------------------------


@pytest.mark.parametrize("query", [
    "res=already&uamip=10.1.0.1&mac=AA-BB-CC-DD-EE-FF&userurl=https%3A%2F%2Fevil.example%2Flogin",
    "res=success&uamip=192.168.1.1&mac=AA-BB-CC-DD-EE-FF&userurl=https%3A%2F%2Fevil.example%2Flogin",
    "switch_url=https://anything/&statusCode=1&redirect=evil.example/login",
    "switch_url=http://wifi-guest.equinox.com/login.html&statusCode=1&redirect=evil.example/login",
])
def test_an_unsigned_already_online_is_no_open_redirect(client, demo, query):
    configure(client, wlc_hosts="wifi-guest.equinox.com")  # a host check says nothing of who wrote the link
    resp = client.get(f"/portal?venue=demo&{query}")
    status = urlparse(resp.headers["Location"])
    assert resp.status_code == 302 and status.netloc == "localhost" and status.path == "/portal/status"
    page = client.get(f"{status.path}?{status.query}").get_data(as_text=True)
    assert 'id="online"' in page
    assert 'id="destination"' in page and '://evil.example/login"' in page  # a link the shopper may follow


def test_the_status_page_shows_only_a_safe_destination(client, demo):
    resp = client.get("/portal?venue=demo&res=already&uamip=10.1.0.1&mac=AA-BB-CC-DD-EE-FF")
    status = urlparse(resp.headers["Location"])
    for to in ("javascript:alert(1)", "http://captive.apple.com/hotspot-detect.html", "http://[foo"):
        page = client.get(f"{status.path}?{status.query}&to={quote(to)}").get_data(as_text=True)
        assert 'id="destination"' not in page, to


# ---- 3. a second Continue keeps a live session as it is ------------------------------------------------------


@pytest.fixture
def gateway_mode(settings, db, demo_map):
    client = create_app(settings.with_(direct_mode="gateway")).test_client()
    with client.application.app_context():
        ensure_demo_mall(client.application.extensions["mallportal"], "demo", demo_map)
    return client


def capport_at(client, ip: str) -> dict:
    return json.loads(client.get("/capport/api?venue=demo", environ_base={"REMOTE_ADDR": ip}).data)


def test_continue_again_neither_shortens_an_extended_session_nor_resets_its_extensions(gateway_mode):
    client, phone = gateway_mode, {"REMOTE_ADDR": "10.9.0.8"}
    token = token_of(client.get("/hotspot-detect.html", environ_base=phone))
    assert client.post("/portal/continue", data={"c": token}, environ_base=phone).status_code == 303
    for _ in range(3):
        assert client.post("/portal/extend", data={"c": token}, environ_base=phone).status_code == 303
    extended = capport_at(client, "10.9.0.8")
    assert extended["seconds-remaining"] > 4 * 3600 - 60 and extended["can-extend-session"] is False
    again = client.post("/portal/continue", data={"c": token}, environ_base=phone)
    assert again.status_code == 303 and urlparse(again.headers["Location"]).path == "/portal/status"  # goes on
    after = capport_at(client, "10.9.0.8")
    assert after["seconds-remaining"] > 4 * 3600 - 60 and after["can-extend-session"] is False
    assert client.post("/portal/extend", data={"c": token}, environ_base=phone).status_code == 409


def test_continue_from_a_new_address_moves_the_kept_session_there(gateway_mode, svc):
    """A phone given another lease presses Continue again: its session is kept, at its new address."""
    client = gateway_mode
    token = token_of(client.get("/hotspot-detect.html", environ_base={"REMOTE_ADDR": "10.9.0.9"}))
    client.post("/portal/continue", data={"c": token}, environ_base={"REMOTE_ADDR": "10.9.0.9"})
    client.post("/portal/extend", data={"c": token}, environ_base={"REMOTE_ADDR": "10.9.0.9"})
    client.post("/portal/continue", data={"c": token}, environ_base={"REMOTE_ADDR": "10.9.0.10"})
    assert capport_at(client, "10.9.0.9")["captive"] is True  # the old address names no one now
    moved = capport_at(client, "10.9.0.10")
    assert moved["captive"] is False and moved["seconds-remaining"] > 2 * 3600 - 60


def test_a_gateway_grant_for_a_live_session_hands_the_phone_over_and_keeps_the_record(settings, demo, svc):
    """Outside the demo (Meraki signs nothing: the shopper's phone is not a verified one), a phone the gateway sent
    back while its session is live: handed to the gateway again, the record not shortened, and the status page
    of the shopper who pressed Continue says "online"."""
    from portal.captive.views import captive_services

    client = create_app(settings.with_(demo=False)).test_client()
    phone = svc.hasher.client_id("42:ae:4c:c0:73:a2")
    with client.application.app_context():
        before = captive_services().sessions.grant("demo", phone, 3 * 3600, "meraki", granted_by="earlier",
                                                   timed=True)
    token = token_of(client.get(MERAKI))
    resp = client.post("/portal/continue", data={"c": token})
    assert resp.status_code == 303 and urlparse(resp.headers["Location"]).path == "/splash/grant"  # handed over
    with client.application.app_context():
        assert captive_services().sessions.get("demo", phone).expires_at == pytest.approx(before.expires_at, abs=0.01)
    assert 'id="online"' in client.get(f"/portal/status?c={token}").get_data(as_text=True)


def test_grant_keeps_a_live_session_and_moves_its_end_only_later(db):
    sessions, now = SessionStore(db), time.time()
    first = sessions.grant("demo", "phone-1", 600, "direct", now=now, ip="10.0.0.1")
    assert sessions.extend("demo", "phone-1", 600, 3, now=now).extensions == 1
    kept = sessions.grant("demo", "phone-1", 600, "direct", now=now + 60, handed_to_gateway=False)
    assert (kept.expires_at, kept.extensions, kept.granted_at) == pytest.approx((now + 1200, 1, first.granted_at))
    later = sessions.grant("demo", "phone-1", 3600, "direct", now=now + 60, ip="10.0.0.2")
    assert later.expires_at == pytest.approx(now + 3660) and later.extensions == 1 and later.ip == "10.0.0.2"
    assert sessions.named_at("demo", "10.0.0.1") is None and sessions.named_at("demo", "10.0.0.2") == "phone-1"
    assert 3000 < db.ttl(SessionKeys("demo").client_ip("10.0.0.2")) <= 3662
    fresh = sessions.grant("demo", "phone-1", 600, "direct", now=now + 4000)  # after it ended: a new one
    assert fresh.extensions == 0 and fresh.granted_at == pytest.approx(now + 4000)


# ---- 4. a grant through the venue's controller spends an abuse budget ------------------------------------------


def set_budget(client, name: str, limit: tuple[int, int]) -> None:
    from portal.apps.budgets import budget_store

    budget_store(client.application).set_limit("demo", name, limit)


@pytest.mark.parametrize("budget", ["captive.grant.ip", "captive.grant.venue"])
def test_controller_grants_are_budgeted(client, demo, budget):
    set_budget(client, budget, (2, 600))
    FakeUniFi.calls = []
    with serving(FakeUniFi) as url:
        configure(client, unifi_url=url, unifi_username="portal", unifi_password="ctrlpw")
        answers = []
        for i in range(3):
            address = {"REMOTE_ADDR": "10.0.0.5" if budget.endswith(".ip") else f"10.0.1.{i}"}
            token = token_of(client.get(unifi_url(), environ_base=address))
            answers.append(client.post("/portal/continue", data={"c": token}, environ_base=address))
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert "Retry-After" in answers[2].headers and "Too many" in answers[2].get_data(as_text=True)
    assert [path for path, *_ in FakeUniFi.calls].count("/api/login") == 2  # the third never reached it


def test_a_redirect_to_the_gateway_costs_no_budget(client, demo):
    set_budget(client, "captive.grant.ip", (1, 600))
    for _ in range(3):
        token = token_of(client.get(MERAKI))
        assert client.post("/portal/continue", data={"c": token}).status_code == 303


def test_unsigned_landings_keep_their_context_within_a_budget(client, demo):
    """Every landing hands out a new shopper and kept its gateway context an hour: a flood of made-up unsigned
    redirects (any MAC) would fill the store. Past captive.context the phone still lands, nothing is kept; a
    gateway's signed redirect (CoovaChilli's md) is kept whatever the budget, and its Continue still grants."""
    from portal.captive.views import captive_services

    def kept() -> int:
        with client.application.app_context():
            return sum(1 for _ in captive_services().db.scan_iter(match="*gwctx:*"))

    set_budget(client, "captive.context.venue", (2, 600))
    landings = [client.get(MERAKI) for _ in range(3)]
    assert [r.status_code for r in landings] == [302, 302, 302]
    assert all(urlparse(r.headers["Location"]).path.startswith("/v/demo/") for r in landings)
    assert kept() == 2
    coova_granted(client)  # signed: kept and granted, the address's budget spent or not
    assert kept() == 3


def test_a_phone_the_aps_hear_keeps_its_context_whatever_a_flood_spent(client, tracked):  # noqa: F811
    """A flood of made-up redirects (MACs no AP hears) spends captive.context; a real shopper's phone, heard by
    the mall's APs, still has its landing's context kept, so its Continue still grants through the gateway."""
    set_budget(client, "captive.context.venue", (1, 600))
    for i in range(3):  # the flood: unheard MACs
        client.get(MERAKI.replace("42:ae:4c:c0:73:a2", f"02:00:5e:00:54:{i:02x}"))
    token = token_of(client.get(MERAKI.replace("42:ae:4c:c0:73:a2", PROBE_PHONE)))
    resp = client.post("/portal/continue", data={"c": token})
    assert resp.status_code == 303 and urlparse(resp.headers["Location"]).path == "/splash/grant"


# ---- 5. a `[` without its `]` in a URL parameter is a 4xx or a landing, never a 500 ----------------------------


@pytest.mark.parametrize("query", [
    "base_grant_url=https://%5B::1/splash/grant&client_mac=aa:bb:cc:dd:ee:01",
    "base_grant_url=https://n1.network-auth.com/splash/grant&client_mac=aa:bb:cc:dd:ee:01"
    "&user_continue_url=http://%5Bx/",
    "login_url=https://%5Bzz/&client_mac=aa:bb:cc:dd:ee:01",
    "switch_url=http://%5B::1&client_mac=aa:bb:cc:dd:ee:01",
    "switch_url=https://192.0.2.1/login.html&client_mac=aa:bb:cc:dd:ee:01&redirect=%5B::1/x",
    "link-login-only=http://%5B::1&mac=aa:bb:cc:dd:ee:01",
    "res=notyet&uamip=10.1.0.1&mac=aa:bb:cc:dd:ee:01&userurl=http://%5B::1",
    "id=aa:bb:cc:dd:ee:01&ap=00:11:22:33:44:55&t={t}&url=http://%5B",
    "url=http://%5Bfoo",
])
def test_an_unclosed_bracket_is_no_server_error(client, demo, query):
    resp = client.get("/portal?venue=demo&" + query.format(t=int(time.time())))
    assert resp.status_code in (302, 400), resp.get_data(as_text=True)[:300]
    if resp.status_code == 302:  # landed: the bracketed URL dropped, a login URL refused only at Continue
        assert "%5B" not in resp.headers["Location"] and "[" not in resp.headers["Location"]


def test_safe_destination_of_an_unclosed_bracket_is_none():
    assert safe_destination("http://[foo") is None and safe_destination("[::1/x") is None


# ---- minor: CAPPORT's unknown client ----------------------------------------------------------------------------


def test_an_unknown_capport_token_is_a_plain_json_error(client, demo):
    resp = client.get("/capport/api/forged-token")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    assert json.loads(resp.data) == {"error": "unknown client", "field": None}


def test_a_context_sealed_by_a_newer_process_still_opens():
    """A rolling deploy: a process of the new code seals a context with a field this one does not know yet; the
    old process opens it with what it knows (the shopper's Continue works) instead of a 500."""
    sealer = ContextSealer("s" * 32)
    sealed = sealer._fernet.encrypt(json.dumps({"gateway": "meraki", "client_ip": "10.0.0.7",
                                                "a_field_from_the_future": 1}).encode())
    assert sealer.open(sealed) == GatewayContext(gateway="meraki", client_ip="10.0.0.7")
