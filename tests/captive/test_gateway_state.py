"""What the portal says of a phone's access agrees with the gateway: a session exists only once the grant
succeeded (a controller that refuses or is not set, a login host the venue has not allowed); CoovaChilli's
`res` and openNDS's `status=authenticated` (captive-portals.md 3.1, 3.3) revoke it or answer "online"
instead of landing the phone again."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.captive.sessions import SessionStore
from tests.captive.test_captive_gateways import COOVA_QUERY, FakeUniFi, configure, unifi_url
from tests.captive.test_captive_unknown_venue import open_venue
from tests.fake_http import serving

COOVA_MAC = "5C-1D-D9-20-A0-C1"
UNIFI_MAC = "70:8a:09:65:4d:ec"
INSTANT_ON = {"cmd": "login", "mac": "5c:1d:d9:20:a0:c6", "network": "Mall", "ip": "10.0.0.9",
              "apmac": "f0:9f:c2:1a:00:01", "site": "Mall", "post": "portal.arubainstanton.com",
              "url": "http://example.com/"}


def token_of(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]


def session_of(client, mac: str, venue: str = "demo"):
    from portal.captive.views import captive_services

    hasher = client.application.extensions["mallportal"].hasher
    with client.application.app_context():
        return captive_services().sessions.get(venue, hasher.client_id(mac))


def capport_of(client, token: str) -> dict:
    from portal.captive.views import capport_url
    from portal.shopper import current_shopper

    with client.application.test_request_context(f"/?c={token}"):
        uri = capport_url(current_shopper())
    return client.get(urlparse(uri).path).get_json(force=True)


def assert_online(client, token: str, mac: str, online: bool) -> None:
    """The session, the status page, CAPPORT and the phone's probe all tell the same."""
    assert (session_of(client, mac) is not None) == online
    page = client.get(f"/portal/status?c={token}").get_data(as_text=True)
    assert ('id="online"' in page) == online and ('id="offline"' in page) != online
    assert capport_of(client, token)["captive"] is not online
    assert client.get(f"/generate_204?client_mac={mac}").status_code == (204 if online else 302)


# ---- a session only once the grant succeeded ---------------------------------------------------------------


def test_no_session_when_the_unifi_controller_is_not_configured(client, demo, caplog):
    token = token_of(client.get(unifi_url()))
    assert client.post("/portal/continue", data={"c": token}).status_code == 502
    assert "unifi_url" in caplog.text
    assert_online(client, token, UNIFI_MAC, False)


def test_no_session_when_instant_on_has_no_login_host(client, demo):
    token = token_of(client.get(f"/portal?venue=demo&{urlencode(INSTANT_ON)}"))
    assert client.post("/portal/continue", data={"c": token}).status_code == 403
    assert_online(client, token, INSTANT_ON["mac"], False)
    configure(client, aruba_post_hosts="portal.arubainstanton.com")  # the good path: the form, and the session
    token = token_of(client.get(f"/portal?venue=demo&{urlencode(INSTANT_ON)}"))
    assert client.post("/portal/continue", data={"c": token}).status_code == 200
    assert_online(client, token, INSTANT_ON["mac"], True)


class WatchingUniFi(FakeUniFi):
    """A controller that notes, while it decides, whether the portal already says "online"; then authorises the
    guest, or refuses (`refuses`)."""

    db = None
    client_id = ""
    refuses = False
    seen_session: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        if self.path.endswith("/cmd/stamgr"):
            WatchingUniFi.seen_session.append(SessionStore(WatchingUniFi.db).get("demo", WatchingUniFi.client_id))
            if WatchingUniFi.refuses:
                self.read_json()
                return self.answer(200, {"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}, "data": []})
        return super().do_POST()


@pytest.mark.parametrize("refuses", [True, False])
def test_the_session_follows_the_controllers_answer_never_precedes_it(client, demo, svc, refuses):
    WatchingUniFi.db, WatchingUniFi.seen_session, WatchingUniFi.refuses = svc.db, [], refuses
    WatchingUniFi.client_id = svc.hasher.client_id(UNIFI_MAC)
    with serving(WatchingUniFi) as url:
        configure(client, unifi_url=url, unifi_username="portal", unifi_password="ctrlpw")
        token = token_of(client.get(unifi_url()))
        resp = client.post("/portal/continue", data={"c": token})
    assert resp.status_code == (502 if refuses else 303)
    assert WatchingUniFi.seen_session == [None]  # not "online" while the controller decides
    assert_online(client, token, UNIFI_MAC, not refuses)


# ---- CoovaChilli's res ---------------------------------------------------------------------------------------


def coova(client, res: str, secret: str = "uamsecret", userurl: str = "http%3a%2f%2fexample.org%2fnews",
          venue: str = ""):
    query = COOVA_QUERY.replace("res=notyet", f"res={res}").replace("http%3a%2f%2fexample.org%2fnews", userurl)
    query = (f"venue={venue}&" if venue else "") + query
    if not secret:
        return client.get(f"/portal?{query}")
    md = hashlib.md5((f"http://localhost/portal?{query}" + secret).encode()).hexdigest()
    return client.get(f"/portal?{query}&md={md}")


def coova_granted(client) -> str:
    configure(client, coova_uamsecret="uamsecret")
    token = token_of(coova(client, "notyet"))
    assert client.post("/portal/continue", data={"c": token}).status_code == 303
    assert_online(client, token, COOVA_MAC, True)
    return token


@pytest.mark.parametrize("res", ["logoff", "notyet"])
def test_coova_saying_the_phone_is_not_online_revokes_its_session(client, demo, res):
    token = coova_granted(client)
    assert token_of(coova(client, res)) and session_of(client, COOVA_MAC) is None  # lands again, to sign in
    assert_online(client, token, COOVA_MAC, False)


def test_only_a_signed_logoff_logs_a_phone_out(client, demo):
    """Without `coova_uamsecret` anyone can write a redirect: it may land its phone, not end another's session
    (a venue that is no demo: there a redirect's MAC is trusted as a gateway's)."""
    from portal.captive.views import captive_services

    open_venue(client.application.extensions["mallportal"], "other")
    with client.application.app_context():
        cs = captive_services()
        cs.sessions.grant("other", client.application.extensions["mallportal"].hasher.client_id(COOVA_MAC), 3600,
                          "coova")
    assert coova(client, "logoff", secret="", venue="other").status_code == 302
    assert session_of(client, COOVA_MAC, "other") is not None
    with client.application.app_context():
        cs.config.set("other", {"coova_uamsecret": "uamsecret"})
    assert coova(client, "logoff", venue="other").status_code == 302  # signed by the chilli: it is so
    assert session_of(client, COOVA_MAC, "other") is None


@pytest.mark.parametrize("res", ["success", "already"])
def test_coova_saying_the_phone_is_online_sends_it_on_not_back_to_the_landing(client, demo, res):
    token = coova_granted(client)
    resp = coova(client, res)
    assert resp.status_code == 302 and resp.headers["Location"] == "http://example.org/news"
    assert_online(client, token, COOVA_MAC, True)  # untouched
    # no safe userurl (a probe URL): the status page, which says the phone is online
    resp = coova(client, res, userurl="http%3a%2f%2fcaptive.apple.com%2fhotspot-detect.html")
    status = urlparse(resp.headers["Location"])
    assert status.path == "/portal/status"
    page = client.get(f"{status.path}?{status.query}").get_data(as_text=True)
    assert "You are online." in page and "Time left" not in page  # CoovaChilli keeps its own length


@pytest.mark.parametrize("res", ["bogus", "", "SUCCESS", "logoff%00"])
def test_a_res_the_portal_does_not_know_changes_nothing(client, demo, res):
    token = coova_granted(client)
    resp = coova(client, res)
    assert "c" in parse_qs(urlparse(resp.headers["Location"]).query)  # landed, as before
    assert_online(client, token, COOVA_MAC, True)
    token_of(coova(client, "logoff"))  # a value it knows does change it (res=failed too: test_captive_review_refusals)
    assert_online(client, token, COOVA_MAC, False)


# ---- openNDS: an authenticated client comes back ---------------------------------------------------------------

AUTHENTICATED = "clientip=192.168.8.20&gatewayname=Mall%20WiFi&status=authenticated"


@pytest.mark.parametrize("url", [f"/portal?venue=demo?{AUTHENTICATED}", f"/portal?{AUTHENTICATED}"])
def test_opennds_authenticated_client_gets_the_already_online_page(client, demo, url):
    """With the README's faspath `/portal?venue=<venue>` openNDS appends its query with a second `?`."""
    resp = client.get(url)
    status = urlparse(resp.headers["Location"])
    assert resp.status_code == 302 and status.path == "/portal/status"
    page = client.get(f"{status.path}?{status.query}").get_data(as_text=True)
    assert 'id="online"' in page and "signed in already" in page


def test_only_a_second_question_mark_before_a_parameter_name_is_repaired(client, demo):
    for query, status in [("venue=demo&redirect=http://example.org/?fas=AAAA", 302),  # a URL's `?` is its own
                          ("venue=demo&url=http://example.org/a?status=authenticated&gatewayname=x", 302),
                          ("venue=demo?%3Cscript%3E=1", 400),  # no parameter name after it: the venue is wrong
                          ("venue=demo??fas=AAAA", 400),
                          ("venue=demo&x=1?auth_get=view", 403)]:  # after the FAS URL's pairs: authmon's (refused)
        resp = client.get(f"/portal?{query}")
        assert resp.status_code == status, query
        if status == 302:
            assert "c" in parse_qs(urlparse(resp.headers["Location"]).query), query  # landed: not openNDS's
