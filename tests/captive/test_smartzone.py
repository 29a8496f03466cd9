"""Ruckus SmartZone and RUCKUS One (`nbiIP` in the redirect): the phone's MAC, encrypted by the controller as it is
by default, is read through the northbound portal interface (GetConfig/Decrypt) so that the phone lands on its
zone, and Continue logs it in (UserOnlineControl/Login) with the MAC and IP exactly as the redirect sent them.
The NBI here is a loopback imitation over self-signed HTTPS that checks what the controller checks (the NBI
password, a value it encrypted, the guest credentials of an "always accept" hotspot service)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.apps.budgets import budget_store
from portal.captive import gateways
from portal.captive.controller_api import cert_sha256
from portal.captive.smartzone import is_encrypted
from portal.captive.views import captive_services
from tests.captive.test_captive_gateways import configure, onward_link
from tests.captive.test_probe_lane import PHONE, tracked  # noqa: F401 - the fixture
from tests.captive.tls import self_signed
from tests.fake_http import JsonHandler, serving

AP = "f0:9f:c2:1a:00:01"
PHONE_IP = "10.0.0.9"
ENCRYPTED = {"ENCb58960077a8dda598864608701fd73e1aaefa125bbcc857a": PHONE.upper(),
             "ENC93ee4456a0378b6e0c8df0ea83416f46": PHONE_IP}
ENC_MAC, ENC_IP = ENCRYPTED


class FakeNbi(JsonHandler):
    calls: list = []
    login_code = 201

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.read_json()
        FakeNbi.calls.append(body)
        base = {"Vendor": "Ruckus", "APIVersion": "1.0"}
        if body.get("RequestPassword") != "nbi-secret":
            return self.answer(200, {**base, "ResponseCode": 306, "ReplyMessage": "Wrong request password"})
        kind = (body.get("RequestCategory"), body.get("RequestType"))
        if kind == ("GetConfig", "Decrypt"):
            plain = ENCRYPTED.get(body.get("Data"))
            if plain is None:
                return self.answer(200, {**base, "ResponseCode": 302, "ReplyMessage": "Bad request"})
            return self.answer(200, {**base, "ResponseCode": 200, "ReplyMessage": "OK", "Data": plain})
        if kind == ("UserOnlineControl", "Login"):
            if (body.get("UE-MAC"), body.get("UE-IP")) != (ENC_MAC, ENC_IP):
                return self.answer(200, {**base, "ResponseCode": 300, "ReplyMessage": "Not found"})
            if (body.get("UE-Username"), body.get("UE-Password")) != ("mall", "guest-pw"):
                return self.answer(200, {**base, "ResponseCode": 301, "ReplyMessage": "Login failed"})
            return self.answer(200, {**base, "ResponseCode": FakeNbi.login_code, "ReplyMessage": "Login succeeded",
                                     "UE-MAC": ENC_MAC})
        return self.answer(200, {**base, "ResponseCode": 304, "ReplyMessage": "Command not supported"})


@pytest.fixture
def nbi(tmp_path):
    cert_path, key_path, der = self_signed(tmp_path, "sz.mall.example")
    FakeNbi.calls, FakeNbi.login_code = [], 201
    gateways._NBI_DECRYPTED.clear()
    with serving(FakeNbi, tls=(cert_path, key_path)) as url:
        yield urlparse(url).port, cert_sha256(der)


def configured(client, nbi, **extra):
    port, pin = nbi
    configure(client, **{"smartzone_nbi_hosts": "127.0.0.1", "smartzone_nbi_port": port,
                         "smartzone_cert_sha256": pin, "smartzone_nbi_password": "nbi-secret",
                         "guest_username": "mall", "guest_password": "guest-pw", **extra})


def redirect(**changes) -> str:
    """A SmartZone hotspot's redirect as the controller sends it (RUCKUS One WISPr API reference, redirection
    attributes), MAC and IP encrypted."""
    params = {"nbiIP": "127.0.0.1", "client_mac": ENC_MAC, "uip": ENC_IP, "mac": AP, "reason": "Un-Auth-Captive",
              "proxy": "0", "ssid": "Mall Guest", "vlan": "1", "wlan": "3", "zoneName": "Mall",
              "startUrl": "http://mall.example/welcome", "url": "http://example.org/news", "venue": "demo", **changes}
    return "/portal?" + urlencode({k: v for k, v in params.items() if v is not None})


def continue_from(client, resp):
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    return client.post("/portal/continue", data={"c": token})


def test_an_encrypted_mac_is_decrypted_and_the_phone_lands_on_its_zone(client, svc, tracked, nbi):  # noqa: F811
    configured(client, nbi)
    resp = client.get(redirect())
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == tracked
    decrypts = [c["Data"] for c in FakeNbi.calls if c["RequestType"] == "Decrypt"]
    assert decrypts == [ENC_MAC, ENC_IP]  # the IP only once the MAC proved the redirect the controller's
    assert all(c["RequestPassword"] == "nbi-secret" and c["Vendor"] == "ruckus" for c in FakeNbi.calls)
    with client.application.app_context():  # vouched for by the controller: its IP now finds the phone
        assert captive_services().sessions.named_at("demo", PHONE_IP) == svc.hasher.client_id(PHONE)


def test_a_phone_probing_again_is_not_decrypted_again(client, tracked, nbi):  # noqa: F811
    configured(client, nbi)
    for _ in range(3):
        assert urlparse(client.get(redirect()).headers["Location"]).path == tracked
    assert len(FakeNbi.calls) == 2


def test_continue_logs_the_phone_in_with_the_values_the_redirect_sent(client, demo, nbi):
    configured(client, nbi)
    resp = continue_from(client, client.get(redirect()))
    assert onward_link(resp) == "http://mall.example/welcome"  # startUrl, a link: SmartZone signs no URL
    login = FakeNbi.calls[-1]
    assert (login["RequestCategory"], login["RequestType"]) == ("UserOnlineControl", "Login")
    assert login["UE-MAC"] == ENC_MAC and login["UE-IP"] == ENC_IP and login["UE-Proxy"] == "0"
    assert (login["UE-Username"], login["UE-Password"]) == ("mall", "guest-pw")


def test_an_already_authorised_phone_is_a_grant_too(client, demo, nbi):
    configured(client, nbi)
    FakeNbi.login_code = 101
    assert onward_link(continue_from(client, client.get(redirect(startUrl=None)))) == "http://example.org/news"


def test_the_nbi_username_is_sent_where_the_controller_asks_for_one(client, demo, nbi):
    configured(client, nbi, smartzone_nbi_username="api")
    client.get(redirect())
    assert {c.get("RequestUserName") for c in FakeNbi.calls} == {"api"}


@pytest.mark.parametrize("case", ["login failed", "pending", "wrong NBI password", "not found"])
def test_a_refused_login_is_a_502_with_the_controllers_answer_in_the_log(client, demo, nbi, case, caplog):
    configured(client, nbi)
    landed = client.get(redirect())
    if case == "login failed":
        configured(client, nbi, guest_password="wrong")
    elif case == "pending":
        FakeNbi.login_code = 202
    elif case == "wrong NBI password":
        configured(client, nbi, smartzone_nbi_password="wrong")
    with caplog.at_level(logging.ERROR):
        resp = continue_from(client, landed) if case != "not found" else None
    if case == "not found":  # a redirect whose MAC the controller never encrypted: no phone to log in
        resp = continue_from(client, client.get(redirect(client_mac="ENC00ff", uip=None)))
    assert resp.status_code == 502 and 'id="try-again"' in resp.get_data(as_text=True)
    assert "smartzone" in caplog.text and "ResponseCode=" in caplog.text
    assert "guest-pw" not in caplog.text and "nbi-secret" not in caplog.text


def test_an_nbi_host_the_venue_has_not_listed_is_never_sent_the_password(client, tracked, nbi, caplog):  # noqa: F811
    """A forged redirect naming another nbiIP (a laptop on the guest WiFi): no call at all; the phone lands, unknown,
    and Continue is refused with the setting to fix in the log."""
    configured(client, nbi, smartzone_nbi_hosts="10.9.9.9")
    resp = client.get(redirect())
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path != tracked
    assert continue_from(client, resp).status_code == 403
    assert FakeNbi.calls == [] and "smartzone_nbi_hosts" in caplog.text


def test_an_nbi_that_does_not_decrypt_leaves_the_phone_unknown_and_the_log_without_the_value(
        client, tracked, nbi, caplog):  # noqa: F811
    configured(client, nbi, smartzone_nbi_password="wrong")
    with caplog.at_level(logging.WARNING):
        resp = client.get(redirect())
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path != tracked
    assert "ResponseCode=306" in caplog.text
    assert ENC_MAC not in caplog.text and PHONE.upper() not in caplog.text


def test_an_unreachable_nbi_leaves_the_phone_unknown(client, tracked, nbi):  # noqa: F811
    configured(client, nbi, smartzone_nbi_port=1)  # nothing listens there
    resp = client.get(redirect())
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path != tracked


def test_a_plain_mac_places_the_phone_without_the_nbi(client, tracked, nbi):  # noqa: F811
    """A WLAN set to `no encrypt-mac-ip`: the MAC is read as sent (unverified, as any unsigned redirect's)."""
    configured(client, nbi)
    resp = client.get(redirect(client_mac=PHONE, uip=PHONE_IP))
    assert urlparse(resp.headers["Location"]).path == tracked and FakeNbi.calls == []
    with client.application.app_context():  # anyone can write a plain MAC: it places the phone, binds no IP
        assert captive_services().sessions.named_at("demo", PHONE_IP) is None


@pytest.mark.parametrize("bad", ["", "not-a-mac", "ENC", "ENC12<script>", "ENC" + "a" * 600])
def test_a_client_mac_that_is_neither_a_mac_nor_an_encrypted_one_is_a_400(client, demo, nbi, bad):
    configured(client, nbi)
    resp = client.get(redirect(client_mac=bad))
    assert resp.status_code == 400 and "client_mac" in resp.get_data(as_text=True)
    assert FakeNbi.calls == []


@pytest.mark.parametrize("setting, value", [("smartzone_nbi_port", "0"), ("smartzone_nbi_port", "70000"),
                                            ("smartzone_nbi_port", "x"), ("smartzone_nbi_scheme", "ftp"),
                                            ("smartzone_cert_sha256", "abc")])
def test_smartzone_settings_are_checked_when_saved(app, setting, value):
    with app.app_context(), pytest.raises(ValueError, match=setting):
        captive_services().config.set("demo", {setting: value})


def test_what_counts_as_encrypted():
    assert is_encrypted(ENC_MAC) and not is_encrypted(PHONE) and not is_encrypted("ENC")
    assert not is_encrypted("ENC12 34") and not is_encrypted(None) and not is_encrypted("ENCé1")


def test_a_host_taken_off_the_list_after_landing_is_never_sent_the_password(client, demo, nbi, caplog):
    """The context keeps the NBI the phone landed through (an hour; a fail-open page's, six): Continue checks it
    against the venue's hosts of now."""
    configured(client, nbi)
    landed = client.get(redirect())
    configured(client, nbi, smartzone_nbi_hosts="10.9.9.9", smartzone_nbi_password="rotated-secret")
    before = len(FakeNbi.calls)
    assert continue_from(client, landed).status_code == 403
    assert len(FakeNbi.calls) == before and "smartzone_nbi_hosts" in caplog.text


@pytest.mark.parametrize("hosts", ["sz.example.com:9443", "[::1]", "https://sz.example.com", "sz example.com",
                                   "10.1.1.1, sz.example.com/portalintf"])
def test_nbi_hosts_with_a_port_or_a_scheme_are_refused_when_saved(app, hosts):
    with app.app_context(), pytest.raises(ValueError, match="smartzone_nbi_hosts"):
        captive_services().config.set("demo", {"smartzone_nbi_hosts": hosts})


def test_nbi_hosts_that_are_names_or_addresses_are_taken(app):
    with app.app_context():
        captive_services().config.set("demo", {"smartzone_nbi_hosts": "10.1.1.1, ::1, sz-1.mall.example, "
                                                                      "ebb9ea66.wispr.ruckus.cloud"})


def test_a_host_saved_before_the_check_is_a_refusal_not_a_500(client, demo, nbi, db):
    from portal.captive.config import PortalConfigKeys

    configured(client, nbi)
    db.hset(PortalConfigKeys("demo").config(), "smartzone_nbi_hosts", "sz.example.com:9443")  # as an old save left it
    resp = client.get(redirect(nbiIP="sz.example.com:9443"))
    assert resp.status_code == 302  # landed, unknown (the MAC stays encrypted)
    assert continue_from(client, resp).status_code == 502


def test_made_up_encrypted_macs_call_the_controller_only_within_the_decrypt_budget(client, tracked, nbi):  # noqa: F811
    """Each landing with an ENC... MAC the controller has not decrypted before costs the controller a call:
    a flood of made-up values spends captive.decrypt, then lands unknown without one (never a 429 page:
    the shopper's phone still lands); a value decrypted before is not asked again, so costs nothing."""
    configured(client, nbi)
    with client.application.app_context():
        budget_store(client.application).set_limit("demo", "captive.decrypt.ip", (3, 600))
    assert urlparse(client.get(redirect()).headers["Location"]).path == tracked  # decrypted: 1 of 3
    made_up = [f"ENC{i:032x}" for i in range(5)]
    answers = [client.get(redirect(client_mac=value)) for value in made_up]
    assert all(resp.status_code == 302 for resp in answers)
    decrypts = [c["Data"] for c in FakeNbi.calls if c["RequestType"] == "Decrypt"]
    assert decrypts == [ENC_MAC, ENC_IP, *made_up[:2]]  # the budget's 3 landings, then no call
    assert urlparse(client.get(redirect()).headers["Location"]).path == tracked  # known already: no call
    assert len([c for c in FakeNbi.calls if c["RequestType"] == "Decrypt"]) == 4
