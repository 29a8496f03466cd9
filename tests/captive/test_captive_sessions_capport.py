"""Sessions (grant, extend, expire, survive a restart), the RFC 8908 API, and failing open."""

import contextlib
import json
import os
import signal
import socket
import time
from urllib.parse import parse_qs, urlparse

import pytest
import redis

from portal import create_app
from portal.captive.views import fail_open

PHONE_A, PHONE_B = "02:00:5e:00:53:41", "02:00:5e:00:53:42"
MERAKI = ("/portal?client_mac={mac}&client_ip={ip}&base_grant_url=https%3A%2F%2Fn1.network-auth.com%2Fsplash%2Fgrant"
          "&user_continue_url=http%3A%2F%2Fexample.org%2F")


def land(client, mac=PHONE_A, ip="10.0.0.41"):
    resp = client.get(MERAKI.format(mac=mac, ip=ip))
    assert resp.status_code == 302
    # Meraki's redirect is unsigned, so its client_ip is not learnt (issue 14); here the IP table has the
    # phone as a verified gateway (Coova, openNDS FAS 2-3) would have taught it.
    from portal.captive.views import captive_services

    with client.application.app_context():
        hasher = client.application.extensions["mallportal"].hasher
        captive_services().sessions.remember_ip("demo", ip, hasher.client_id(mac))
    return parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]


def capport(client, ip):
    return client.get("/capport/api", headers={"Accept": "application/captive+json"}, environ_base={"REMOTE_ADDR": ip})


def test_grant_status_extend_and_limit(client, demo):
    # a session of the portal's own (no gateway: the demo's direct grant), the only kind Extend lengthens
    resp = client.get(f"/portal?venue=demo&client_mac={PHONE_A}")
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    client.post("/portal/continue", data={"c": token})
    page = client.get(f"/portal/status?c={token}").get_data(as_text=True)
    assert 'id="online"' in page and "60 min" in page
    for _ in range(3):
        assert client.post("/portal/extend", data={"c": token}).status_code == 303
    assert "240 min" in client.get(f"/portal/status?c={token}").get_data(as_text=True)
    assert client.post("/portal/extend", data={"c": token}).status_code == 409  # max_extensions = 3
    # A stale page's Extend at the limit: the refusal in the shopper's language, not the store's English words.
    refused = client.post("/portal/extend?lang=zh", data={"c": token})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "此 WiFi 上网时间已达到可延长的次数上限。" in text
    assert "cannot be extended again" not in text


def test_continue_and_extend_keep_the_chosen_language_without_cookies(client, demo):
    """The sign-in sheet keeps no cookie: the ?lang= the shopper chose rides on Continue's and Extend's forms and
    on their redirects, so the status page is in it (the phone's own language is English here)."""
    sheet = client.application.test_client(use_cookies=False)
    resp = sheet.get(f"/portal?venue=demo&client_mac={PHONE_B}")
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    page = sheet.get(f"/v/demo/?c={token}&lang=zh").get_data(as_text=True)
    assert 'action="/portal/continue?lang=zh"' in page
    online = sheet.post("/portal/continue?lang=zh", data={"c": token})
    assert online.status_code == 303 and parse_qs(urlparse(online.headers["Location"]).query)["lang"] == ["zh"]
    status = sheet.get(online.headers["Location"]).get_data(as_text=True)
    assert '<html lang="zh-CN">' in status and 'action="/portal/extend?lang=zh"' in status
    extended = sheet.post("/portal/extend?lang=zh", data={"c": token})
    assert extended.status_code == 303 and "lang=zh" in extended.headers["Location"]


def test_extend_needs_a_live_session_and_a_token(client, demo):
    token = land(client)
    assert client.post("/portal/extend", data={"c": token}).status_code == 409
    assert client.post("/portal/extend").status_code == 400
    assert client.get("/portal/status").status_code == 400


def test_session_expires(client, demo, svc):
    from portal.captive.views import captive_services

    with client.application.app_context():
        sessions = captive_services().sessions
        client_id = svc.hasher.client_id(PHONE_A)
        sessions.grant("demo", client_id, 60, "direct", now=time.time() - 120)
        assert sessions.get("demo", client_id) is None
    assert client.get(f"/generate_204?client_mac={PHONE_A}").status_code == 302


def test_session_survives_a_server_restart(client, demo, settings):
    token = land(client)
    client.post("/portal/continue", data={"c": token})
    restarted = create_app(settings).test_client()  # a new process' app on the same store
    assert restarted.get(f"/generate_204?client_mac={PHONE_A}").status_code == 204


def test_capport_flips_after_grant(client, demo):
    token = land(client, ip="10.0.0.41")
    before = capport(client, "10.0.0.41")
    assert before.status_code == 200
    assert before.headers["Content-Type"].startswith("application/captive+json")
    assert "private" in before.headers["Cache-Control"]
    body = json.loads(before.data)
    assert body["captive"] is True and body["user-portal-url"].startswith("http")
    assert "seconds-remaining" not in body and "/v/demo/" in body["venue-info-url"]
    granted = time.time()
    client.post("/portal/continue", data={"c": token})
    after = json.loads(capport(client, "10.0.0.41").data)
    asked = time.time()
    assert after["captive"] is False
    # Meraki was told duration=3600: that is the time left (less the time since the grant, whole seconds); only the
    # gateway could lengthen it
    assert 3600 - (asked - granted) - 1 <= after["seconds-remaining"] <= 3600 and after["can-extend-session"] is False


def test_capport_per_client_uri_is_private(client, demo):
    token_a = land(client, PHONE_A, "10.0.0.41")
    land(client, PHONE_B, "10.0.0.42")
    client.post("/portal/continue", data={"c": token_a})
    from portal.captive.views import capport_url
    from portal.shopper import token_store

    with client.application.test_request_context():
        url_a = capport_url(token_store().resolve(token_a))
    assert json.loads(client.get(urlparse(url_a).path).data)["captive"] is False
    tampered = urlparse(url_a).path[:-3] + "abc"
    assert client.get(tampered).status_code == 404
    # B's IP sees B's state, not A's.
    assert json.loads(capport(client, "10.0.0.42").data)["captive"] is True


def assert_plain_json_error(resp, status: int) -> dict:
    """An error of the CAPPORT API: plain JSON, no captive+json object (that type says what "captive" is)."""
    assert resp.status_code == status and resp.mimetype == "application/json", resp.get_data(as_text=True)
    body = json.loads(resp.data)
    assert "captive" not in body and "user-portal-url" not in body and "no-store" in resp.headers["Cache-Control"]
    return body


def test_capport_for_a_venue_that_does_not_exist_is_a_404(client, demo):
    """A typo in DHCP option 114 must not put every phone behind a sign-in sheet whose links 404."""
    from portal.captive.views import capport_url
    from portal.shopper import Shopper

    resp = client.get("/capport/api?venue=nosuchmall", environ_base={"REMOTE_ADDR": "10.0.0.41"})
    assert "venue" in assert_plain_json_error(resp, 404)["error"]
    with client.application.test_request_context():  # a per-client URI signed for a venue that is gone
        gone = urlparse(capport_url(Shopper("nosuchmall", "s-1", "client-1", True))).path
    assert_plain_json_error(client.get(gone), 404)
    land(client, ip="10.0.0.41")
    assert json.loads(capport(client, "10.0.0.41").data)["captive"] is True  # a real venue still answers


# ---- fail open ----------------------------------------------------------------------------------------
# Store faults are real (a Valkey stopped with SIGSTOP, a closed port), and nothing is timed: the breaker
# opens after a count of failures, whatever the machine's speed (tests/captive/test_store_breaker.py).


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"redis://127.0.0.1:{port}/0"


def probe_until_open(broken, path="/generate_204?client_mac=02:00:5e:00:53:51", limit=20):
    """Probe until the breaker opens; every answer on the way is already the fail-open redirect."""
    breaker = broken.application.extensions["captive"].breaker.for_venue("demo")  # the probes' venue
    for _ in range(limit):
        resp = broken.get(path)
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/offline"
        if breaker.is_open:
            return breaker
    raise AssertionError("the breaker never opened")


def test_probes_fail_open_while_the_store_is_down(settings):
    broken = create_app(settings.with_(redis_url=closed_port_url())).test_client()
    probe_until_open(broken)
    for path in ("/generate_204?client_mac=02:00:5e:00:53:51", "/hotspot-detect.html"):
        resp = broken.get(path)
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/offline"
    assert broken.get("/offline").status_code == 200


@pytest.fixture
def stoppable_valkey(tmp_path):
    """A Valkey of this test's own, to SIGSTOP (a hung store: connections open, nothing answers)."""
    from core.storage import start_embedded_valkey

    server = start_embedded_valkey(tmp_path / "valkey")
    yield server
    with contextlib.suppress(ProcessLookupError):
        os.kill(server._process.pid, signal.SIGCONT)
    server.stop()


def test_hung_store_opens_the_breaker_and_recovers(settings, demo_map, stoppable_valkey):
    from portal.seed import ensure_demo_mall

    # its own single node, whatever store the suite runs on (TEST_STORE=cluster)
    app = create_app(settings.with_(redis_url=stoppable_valkey.connection_url + "/0", store_timeout_s=1.0,
                                    redis_cluster=False))
    with app.app_context():
        ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    client = app.test_client()
    assert urlparse(client.get("/hotspot-detect.html").headers["Location"]).path == "/v/demo/"
    os.kill(stoppable_valkey._process.pid, signal.SIGSTOP)
    breaker = probe_until_open(client, "/hotspot-detect.html")
    page = client.get(MERAKI.format(mac=PHONE_A, ip="10.0.0.41"))  # the gateway entry fails open too
    assert page.status_code == 200 and b"continue-internet" in page.data
    os.kill(stoppable_valkey._process.pid, signal.SIGCONT)
    for _ in range(50):  # the background probe's step, run here: one ping per try, no timer raced
        if breaker.probe_once():
            break
    assert not breaker.is_open
    assert urlparse(client.get("/hotspot-detect.html").headers["Location"]).path == "/v/demo/"


def test_gateway_redirect_fails_open_to_the_internet(settings):
    broken = create_app(settings.with_(redis_url=closed_port_url())).test_client()
    page = broken.get(MERAKI.format(mac=PHONE_A, ip="10.0.0.41"))
    assert page.status_code == 200 and b"continue-internet" in page.data
    sealed = page.get_data(as_text=True).split('name="g" value="')[1].split('"')[0]
    assert PHONE_A not in sealed and PHONE_A.replace(":", "%3A") not in sealed  # the MAC travels encrypted
    resp = broken.post("/portal/continue", data={"g": sealed})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("https://n1.network-auth.com/splash/grant")


def test_the_fail_open_continue_is_no_open_redirect(settings):
    """The fail-open page's sealed context is good for hours and needs no store: its Continue must not send the
    browser to an original URL no gateway signed (here a direct landing's `url`), or the portal is anyone's
    redirect to a phishing page."""
    broken = create_app(settings.with_(redis_url=closed_port_url())).test_client()
    page = broken.get("/portal?venue=demo&url=https%3A%2F%2Fevil.example%2Fphish")
    assert page.status_code == 200 and b"continue-internet" in page.data
    sealed = page.get_data(as_text=True).split('name="g" value="')[1].split('"')[0]
    resp = broken.post("/portal/continue", data={"g": sealed})
    assert resp.status_code == 303 and "evil.example" not in resp.headers["Location"]
    assert urlparse(resp.headers["Location"]).path == "/offline"


def test_capport_venue_lookup_fails_open_while_the_store_is_down(settings):
    """The store down is no unknown venue: the venue lookup fails open as the rest of the API does (a 503, so
    the OS falls back to its probes), and counts toward the venue's breaker, which then answers at once."""
    broken = create_app(settings.with_(redis_url=closed_port_url())).test_client()
    breaker = broken.application.extensions["captive"].breaker.for_venue("nosuchmall")
    for _ in range(breaker.failures_to_open + 1):  # while the store fails, and once the breaker is open
        resp = broken.get("/capport/api?venue=nosuchmall")
        assert_plain_json_error(resp, 503)
        assert int(resp.headers["Retry-After"]) > 0
    assert breaker.is_open


def test_bare_probe_offline_page_has_continue(client, demo):
    page = client.get("/offline?venue=demo").get_data(as_text=True)
    assert 'id="continue-internet"' in page and 'action="/portal"' in page and 'value="demo"' in page
    assert 'name="lang"' not in page  # no choice made: the phone's language
    chosen = client.get("/offline?venue=demo&lang=zh").get_data(as_text=True)  # the choice rides on the form
    assert '<input type="hidden" name="lang" value="zh">' in chosen and "<html lang=\"zh-CN\">" in chosen


def test_portal_config_cli(app, db, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal-config", "demo", "session_minutes=90", "coova_uamsecret=abc"])
    assert result.exit_code == 0, result.output
    assert "90" in result.output and "abc" not in result.output  # secrets are masked
    bad = runner.invoke(args=["portal-config", "demo", "session_minutes=0", "coova_username=x"])
    assert bad.exit_code != 0 and "session_minutes" in bad.output
    unknown = runner.invoke(args=["portal-config", "demo", "nope=1"])
    assert unknown.exit_code != 0 and "unknown setting" in unknown.output
    listing = runner.invoke(args=["portal-config", "demo"]).output
    assert "coova_username" in listing and " x " not in listing  # the refused batch wrote nothing


def test_capport_polls_are_no_landings(client, demo):
    """Phones ask the API at every re-evaluation: each answer is no landing (the funnels' middle step), while the
    gateway's redirect is one."""
    svc = client.application.extensions["mallportal"]

    def landings() -> int:
        svc.events.flush()
        return sum(1 for event in svc.events.read("demo") if event.kind == "landing")

    token = land(client, ip="10.0.0.41")
    after_landing = landings()
    assert after_landing >= 1
    for _ in range(3):
        assert json.loads(capport(client, "10.0.0.41").data)["captive"] is True
    client.post("/portal/continue", data={"c": token})
    for _ in range(3):
        assert json.loads(capport(client, "10.0.0.41").data)["captive"] is False
    assert landings() == after_landing


def test_capport_has_no_answer_for_an_address_no_gateway_named(client, demo):
    """Meraki's redirect (anyone's to forge) teaches the IP table nothing: were the API to say "captive" for its
    phone's address, that would stay true after the grant (the OS takes the API's word over its probes). A JSON 404
    sends the OS to its probes, which the gateway answers."""
    resp = client.get(MERAKI.format(mac=PHONE_B, ip="10.0.0.52"), environ_base={"REMOTE_ADDR": "10.0.0.52"})
    client.post("/portal/continue", data={"c": parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]})
    assert_plain_json_error(capport(client, "10.0.0.52"), 404)


def test_a_page_failing_open_again_and_again_logs_once_per_venue(app, caplog):
    """A failure the breaker does not stop (a slot being resharded refuses every page of a busy mall) is one log
    line per venue every few seconds, as the probes' (FailOpenLog), not one per page."""
    with app.test_request_context("/portal?venue=demo"), caplog.at_level("ERROR"):
        refused = redis.ResponseError("TRYAGAIN Multiple keys request during rehashing")
        for _ in range(5):
            assert fail_open("demo", refused).status_code == 200
        fail_open("galleria", redis.ResponseError("TRYAGAIN"))
    lines = [r.getMessage() for r in caplog.records if "failing open" in r.getMessage()]
    assert len(lines) == 2 and "venue demo" in lines[0] and "venue galleria" in lines[1]
