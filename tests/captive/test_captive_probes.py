"""Each OS's probe, replayed as real clients send it: a 302 to the portal before access is granted,
that OS's exact "online" answer after."""

from urllib.parse import urlparse

import pytest

from portal.captive.probes import APPLE_SUCCESS, FIREFOX_CANONICAL

PHONE = "02:00:5e:00:53:21"

PROBES = [  # (host, path, status after grant, body after grant, extra header after grant)
    ("connectivitycheck.gstatic.com", "/generate_204", 204, "", None),
    ("www.google.com", "/gen_204", 204, "", None),
    ("connectivitycheck.platform.hicloud.com", "/generate_204_8e0d4f1a-3c55-4d1c", 204, "", None),
    ("clients3.google.com", "/generate_204", 204, "", None),
    ("captive.apple.com", "/hotspot-detect.html", 200, APPLE_SUCCESS, None),
    ("www.apple.com", "/library/test/success.html", 200, APPLE_SUCCESS, None),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test", None),
    ("www.msftncsi.com", "/ncsi.txt", 200, "Microsoft NCSI", None),
    ("detectportal.firefox.com", "/canonical.html", 200, FIREFOX_CANONICAL, None),
    ("detectportal.firefox.com", "/success.txt", 200, "success\n", None),
    ("nmcheck.gnome.org", "/check_network_status.txt", 200, "NetworkManager is online\n", None),
    ("ping.archlinux.org", "/nm-check.txt", 200, "NetworkManager is online\n", None),
    ("connectivity-check.ubuntu.com", "/", 204, "", ("X-NetworkManager-Status", "online")),
]


def grant(client, svc, mac=PHONE):
    from portal.captive.views import captive_services

    with client.application.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(mac), 600, "direct")


@pytest.mark.parametrize("host, path, status, body, header", PROBES)
def test_probe_before_grant_redirects_to_the_portal(client, demo, host, path, status, body, header):
    resp = client.get(f"{path}?client_mac={PHONE}", headers={"Host": host})
    assert resp.status_code == 302  # never an empty 200 or a 511: Android would read "no internet"
    assert urlparse(resp.headers["Location"]).path.startswith("/v/demo/")
    assert "no-store" in resp.headers["Cache-Control"]


@pytest.mark.parametrize("host, path, status, body, header", PROBES)
def test_probe_after_grant_gets_the_exact_online_answer(client, demo, svc, host, path, status, body, header):
    grant(client, svc)
    resp = client.get(f"{path}?client_mac={PHONE}", headers={"Host": host})
    assert resp.status_code == status
    assert resp.get_data(as_text=True) == body
    if header:
        assert resp.headers[header[0]] == header[1]


def test_apple_cna_user_agent_gets_the_same_answers(client, demo, svc):
    ua = {"User-Agent": "CaptiveNetworkSupport-441 wispr", "Host": "captive.apple.com"}
    assert client.get(f"/hotspot-detect.html?client_mac={PHONE}", headers=ua).status_code == 302
    grant(client, svc)
    assert client.get(f"/hotspot-detect.html?client_mac={PHONE}", headers=ua).get_data(as_text=True) == APPLE_SUCCESS


def test_windows_redirect_page_always_goes_to_the_portal(client, demo, svc):
    grant(client, svc)
    resp = client.get(f"/redirect?client_mac={PHONE}", headers={"Host": "www.msftconnecttest.com"})
    assert resp.status_code == 302


def test_another_phone_is_not_online_because_one_was_granted(client, demo, svc):
    grant(client, svc)
    assert client.get("/generate_204?client_mac=02:00:5e:00:53:22").status_code == 302


def test_plain_root_is_the_mall_home_not_a_probe(client, demo):
    resp = client.get("/", headers={"Host": "portal.example"})
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/v/demo/"


@pytest.mark.parametrize("query, status", [
    ("client_mac=" + "a" * 13_000, 414),  # above the 12 kB gateway-redirect limit
    ("venue=../../etc", 400),
    ("venue=" + "x" * 100, 400),
])
def test_garbage_query_strings_are_refused(client, demo, query, status):
    assert client.get(f"/generate_204?{query}").status_code == status


def test_non_utf8_query_is_refused(client, demo):
    raw = {"QUERY_STRING": "client_mac=\xff\xfe"}  # WSGI carries raw bytes as latin-1
    assert client.get("/generate_204", environ_overrides=raw).status_code == 400
    assert client.get("/portal", environ_overrides=raw).status_code == 400


def test_unknown_path_is_not_a_probe(client, demo):
    assert client.get("/not-a-probe.txt").status_code == 404
