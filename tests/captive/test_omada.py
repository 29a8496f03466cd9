"""TP-Link Omada's external portal: the controller's redirect (for an access point and for a gateway), and
the grant as TP-Link FAQ 3231 describes it: the hotspot operator's login, then `extPortal/auth` with the
CSRF token and the session cookie, over the controller's self-signed HTTPS. The controller here is a
loopback imitation that checks what a controller checks (operator, token, cookie, a client it redirected)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.captive.config import PortalConfigKeys, PortalConfigStore
from portal.captive.controller_api import cert_sha256
from tests.captive.test_captive_gateways import configure, onward_link
from tests.captive.tls import self_signed
from tests.fake_http import JsonHandler, serving

CONTROLLER_ID = "fc2b25d44a950a6357313da0afb4c14a"
PHONE, AP, GATEWAY = "5C-1D-D9-20-A0-D1", "B0-19-21-04-1E-12", "AC-84-C6-00-00-01"
EAP_REDIRECT = {"clientMac": PHONE, "clientIp": "10.0.0.9", "apMac": AP, "ssidName": "Mall Guest",
                "t": "1764590000000", "radioId": "1", "site": "Default", "redirectUrl": "http://example.org/"}
GATEWAY_REDIRECT = {"clientMac": PHONE, "gatewayMac": GATEWAY, "vid": "20", "t": "1764590000000",
                    "site": "Default", "redirectUrl": "http://example.org/"}


class FakeOmada(JsonHandler):
    calls: list = []
    auth_error = 0
    login_override: tuple[int, dict] | None = None  # (HTTP status, answer) instead of a good login

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.read_json()
        FakeOmada.calls.append((self.path, body, self.headers.get("Cookie"), self.headers.get("Csrf-Token")))
        root = f"/{CONTROLLER_ID}/api/v2/hotspot"
        if self.path == f"{root}/login":
            if FakeOmada.login_override:
                return self.answer(*FakeOmada.login_override)
            if body != {"name": "portal-op", "password": "oppw"}:
                return self.answer(200, {"errorCode": -30109, "msg": "Invalid username or password."})
            return self.answer(200, {"errorCode": 0, "msg": "Hotspot log in successfully.",
                                     "result": {"token": "csrf77"}},
                               {"Set-Cookie": "TPOMADA_SESSIONID=sess9; Path=/; HttpOnly"})
        if self.path == f"{root}/extPortal/auth":
            signed_in = (self.headers.get("Csrf-Token"), self.headers.get("Cookie")) == ("csrf77",
                                                                                          "TPOMADA_SESSIONID=sess9")
            return self.answer(200, {"errorCode": FakeOmada.auth_error if signed_in else -1})
        return self.answer(200, {"errorCode": -1600})


@pytest.fixture
def omada(tmp_path):
    cert_path, key_path, der = self_signed(tmp_path, "omada.local")
    FakeOmada.calls, FakeOmada.auth_error, FakeOmada.login_override = [], 0, None
    with serving(FakeOmada, tls=(cert_path, key_path)) as url:
        yield url, cert_sha256(der)


def configured(client, omada, **extra):
    url, pin = omada
    settings = {"omada_url": url, "omada_controller_id": CONTROLLER_ID, "omada_cert_sha256": pin,
                "omada_username": "portal-op", "omada_password": "oppw", "session_minutes": 90}
    configure(client, **{**settings, **extra})


def land_and_continue(client, redirect):
    resp = client.get("/portal?" + urlencode(redirect))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    return client.post("/portal/continue", data={"c": token})


def test_an_access_points_client_is_authorised_on_the_controller(client, demo, omada):
    configured(client, omada)
    resp = land_and_continue(client, EAP_REDIRECT)
    assert onward_link(resp) == "http://example.org/"  # Omada signs nothing: a link on the status page
    (login_path, login, _, _), (auth_path, auth, cookie, csrf) = FakeOmada.calls
    assert login_path == f"/{CONTROLLER_ID}/api/v2/hotspot/login" and login == {"name": "portal-op", "password": "oppw"}
    assert auth_path == f"/{CONTROLLER_ID}/api/v2/hotspot/extPortal/auth"
    assert (cookie, csrf) == ("TPOMADA_SESSIONID=sess9", "csrf77")
    assert auth == {"clientMac": PHONE, "apMac": AP, "ssidName": "Mall Guest", "radioId": "1", "site": "Default",
                    "clientIp": "10.0.0.9", "time": 90 * 60 * 1000, "authType": 4}  # as the controller sent them


def test_a_gateways_client_is_authorised_with_its_vlan(client, demo, omada):
    configured(client, omada)
    assert land_and_continue(client, GATEWAY_REDIRECT).status_code == 303
    auth = FakeOmada.calls[-1][1]
    assert auth == {"clientMac": PHONE, "gatewayMac": GATEWAY, "vid": "20", "site": "Default",
                    "time": 90 * 60 * 1000, "authType": 4}


def test_the_time_unit_may_be_microseconds(client, demo, omada):
    configured(client, omada, omada_time_unit="us")
    assert land_and_continue(client, EAP_REDIRECT).status_code == 303
    assert FakeOmada.calls[-1][1]["time"] == 90 * 60 * 1_000_000


FAILURES = {  # case: (the setting the log names, what the controller or the venue does)
    "wrong operator": ("omada:", {"omada_password": "wrong"}),
    "controller refuses the client": ("omada:", {}),
    "login answers HTTP 500": ("omada:", {}),
    "login errorCode false": ("omada:", {}),
    "login token with a line break": ("omada:", {}),
    "login token not ASCII": ("omada:", {}),
    "wrong pin": ("omada_cert_sha256:", {"omada_cert_sha256": "00" * 32}),
    "no pin, no CA": ("omada: controller unreachable: SSLCertVerificationError", {}),
}
LOGINS = {"login answers HTTP 500": (500, {"errorCode": 0, "result": {"token": "csrf77"}}),
          "login errorCode false": (200, {"errorCode": False, "result": {"token": "csrf77"}}),
          "login token with a line break": (200, {"errorCode": 0, "result": {"token": "csrf77\r\nX-Evil: 1"}}),
          "login token not ASCII": (200, {"errorCode": 0, "result": {"token": "csrf€77"}})}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_controller_failures_are_a_502_with_the_detail_in_the_log_only(client, demo, omada, case, caplog):
    setting, settings = FAILURES[case]
    FakeOmada.auth_error = -41501 if case == "controller refuses the client" else 0
    FakeOmada.login_override = LOGINS.get(case)
    configured(client, omada, **settings)
    if case == "no pin, no CA":  # the system CAs do not know a self-signed controller
        configure(client, omada_cert_sha256="")
    resp = land_and_continue(client, EAP_REDIRECT)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 502 and 'id="grant-failed"' in page
    for internal in ("errorCode", "41501", "Csrf", "127.0.0.1", "omada"):
        assert internal not in page
    assert f"grant through omada failed: {setting}" in caplog.text
    if case in ("wrong pin", "no pin, no CA"):  # the certificate is refused before the operator is sent
        assert FakeOmada.calls == []
    if case.startswith("login"):  # nothing is authorised on a login that did not succeed
        assert [path for path, *_ in FakeOmada.calls] == [f"/{CONTROLLER_ID}/api/v2/hotspot/login"]


def test_a_time_unit_written_some_other_way_is_no_grant(client, demo, svc, omada, caplog):
    configured(client, omada)
    svc.db.hset(PortalConfigKeys("demo").config(), "omada_time_unit", "s")
    assert land_and_continue(client, EAP_REDIRECT).status_code == 502
    assert "grant through omada failed: omada_time_unit:" in caplog.text and FakeOmada.calls == []


def test_a_plain_http_controller_is_refused(client, demo, svc, omada, caplog):
    """The operator's password goes in the login: not in clear text (a pin is not even checked over http)."""
    with pytest.raises(ValueError, match="omada_url"):
        PortalConfigStore(svc.db).set("demo", {"omada_url": "http://127.0.0.1:8043"})
    configured(client, omada)
    http_url = omada[0].replace("https://", "http://")
    svc.db.hset(PortalConfigKeys("demo").config(), "omada_url", http_url)  # written some other way
    assert land_and_continue(client, EAP_REDIRECT).status_code == 502
    assert "grant through omada failed: omada_url:" in caplog.text and FakeOmada.calls == []


def test_an_unconfigured_controller_is_no_grant_and_the_log_names_the_setting(client, demo, caplog):
    assert land_and_continue(client, EAP_REDIRECT).status_code == 502
    assert "omada_url: the Omada controller is not configured" in caplog.text


@pytest.mark.parametrize("redirect, name, value", [(EAP_REDIRECT, "clientMac", "not-a-mac"),
                                                   (EAP_REDIRECT, "apMac", "B0-19-21"),
                                                   (GATEWAY_REDIRECT, "gatewayMac", "zz")])
def test_a_malformed_mac_is_a_400(client, demo, redirect, name, value):
    assert client.get("/portal?" + urlencode({**redirect, name: value})).status_code == 400


@pytest.mark.parametrize("redirect, name, value", [(EAP_REDIRECT, "radioId", "x"), (EAP_REDIRECT, "radioId", ""),
                                                   (EAP_REDIRECT, "radioId", "9"), (EAP_REDIRECT, "site", "s" * 129),
                                                   (EAP_REDIRECT, "site", ""), (EAP_REDIRECT, "ssidName", "a\nb"),
                                                   (GATEWAY_REDIRECT, "vid", "4095"), (GATEWAY_REDIRECT, "vid", "²")])
def test_any_other_odd_field_lands_the_phone_and_refuses_continue(client, demo, omada, redirect, name, value, caplog):
    configured(client, omada)
    resp = land_and_continue(client, {**redirect, name: value})  # landed: a 302 to the zone, with a token
    assert resp.status_code == 400 and FakeOmada.calls == []
    assert f"grant through omada failed: {name}:" in caplog.text


@pytest.mark.parametrize("redirect, name, value", [(EAP_REDIRECT, "ssidName", ""), (EAP_REDIRECT, "radioId", "2"),
                                                   (EAP_REDIRECT, "site", "69bca1d3470cf665361476f0"),
                                                   (EAP_REDIRECT, "ssidName", "商场 Guest"),
                                                   (GATEWAY_REDIRECT, "vid", "0"), (EAP_REDIRECT, "clientIp", "")])
def test_what_a_controller_may_send_is_taken(client, demo, omada, redirect, name, value):
    configured(client, omada)
    assert land_and_continue(client, {**redirect, name: value}).status_code == 303
    auth = FakeOmada.calls[-1][1]
    assert auth.get(name, "") == value


def test_omada_is_recognised_by_its_access_point_or_gateway_mac(client, demo, omada):
    """clientMac and site alone (no apMac / gatewayMac) are no Omada redirect: the phone lands (Direct) and
    Continue calls no controller."""
    configured(client, omada)
    bare = {k: v for k, v in EAP_REDIRECT.items() if k not in ("apMac", "ssidName", "radioId")}
    assert land_and_continue(client, bare).status_code == 303 and FakeOmada.calls == []


@pytest.mark.parametrize("name, value", [("omada_controller_id", "../admin"), ("omada_time_unit", "s"),
                                         ("omada_time_unit", ""), ("omada_cert_sha256", "abc"),
                                         ("omada_url", "https://"), ("omada_url", "ftp://omada.local")])
def test_omada_settings_are_checked(svc, name, value):
    with pytest.raises(ValueError, match=name):
        PortalConfigStore(svc.db).set("demo", {name: value})
