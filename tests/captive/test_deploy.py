"""The production stack as documented: deploy/nginx.conf in front (probe hosts on plain HTTP, the portal
on HTTPS), gunicorn started with deploy/mallportal.service's own ExecStart and gunicorn.conf.py, the
settings of deploy/mallportal.env. Skips, saying why, when nginx is not installed (`make test` installs
Debian's nginx-light when it can: portal/tools/ensure_nginx.py).

Nothing here is timed: servers get a minute to start, requests 60 s to answer."""

from __future__ import annotations

import base64
import html
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from urllib.parse import parse_qs, quote, urlparse

import pytest
import redis

from core.settings import PROJECT_ROOT
from portal.tools.ensure_nginx import find_nginx
from portal.tools.net import free_port, wait_for_port
from tests.captive.tls import self_signed
from tests.systemd_units import unit_exec_start

# This server's own keys (not the root conftest's, whose `from conftest import` resolved to another
# directory's conftest when that one was collected first).
TEST_SECRET = "deploy-test-secret-" + "x" * 16
TEST_MAC_KEY = "deploy-test-mac-key-" + "y" * 16

DEPLOY = PROJECT_ROOT / "deploy"
PORTAL_HOST = "portal.mall.example"
TIMEOUT_S = 60


def request(port: int, method: str, target: str, host: str, *, tls: ssl.SSLContext | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT_S, context=tls) if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S))
    if tls:  # SNI and certificate name: the portal's host name, resolved to loopback here
        conn._create_connection = lambda *a, **k: socket.create_connection(("127.0.0.1", port), TIMEOUT_S)
        conn.host = PORTAL_HOST
    try:
        conn.request(method, target, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def certificate(tmp_path) -> tuple[str, str]:
    cert, key, _ = self_signed(tmp_path, PORTAL_HOST)
    return str(cert), str(key)


def site_config(http_port: int, https_port: int, upstream_port: int, cert: str, key: str,
                log_dir: str | None = None) -> str:
    """deploy/nginx.conf with only what a test host needs changed: ports, certificate paths, no IPv6, and the
    log files in `log_dir` (None: /var/log/nginx, as shipped)."""
    text = (DEPLOY / "nginx.conf").read_text()
    if log_dir is not None:
        text = text.replace("/var/log/nginx/", f"{log_dir}/")
    text = "\n".join(line for line in text.splitlines() if "[::]" not in line)
    text = text.replace("listen 80 ", f"listen 127.0.0.1:{http_port} ").replace(
        "listen 443 ", f"listen 127.0.0.1:{https_port} ")
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    text = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", text)
    return text.replace("ssl_stapling on;", "ssl_stapling off;")  # no OCSP responder for a test certificate


def unit_gunicorn_args(port: int | None = None) -> list[str]:
    """The ExecStart of deploy/mallportal.service as systemd runs it with deploy/mallportal.env: gunicorn.conf.py
    then listens on the environment's PORT with its WEB_WORKERS workers, as on a mall's host. With `port`: on that
    loopback port with 2 workers instead, said on the command line (which gunicorn takes over gunicorn.conf.py),
    for a caller whose environment keeps the file's PORT."""
    args = unit_exec_start(DEPLOY / "mallportal.service", env_file())
    args = args[1:]  # after the venv's gunicorn
    args[args.index("--access-logfile") + 1] = "/dev/null"
    return args if port is None else [*args, "--bind", f"127.0.0.1:{port}", "--workers", "2"]


def start_nginx(nginx: str, tmp, site: str) -> subprocess.Popen:
    """nginx with `site` included in an http block that logs as Debian's stock /etc/nginx/nginx.conf does:
    `access_log .../access.log;` (the `combined` format: request line with its query, Referer) and the error
    log at `error`. The site's own logging must override both; its log paths are expected in `tmp`. `gzip on;`
    as there too: the site may not repeat it at http level (nginx refuses a duplicate)."""
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(
        f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"events {{ worker_connections 256; }}\nhttp {{\n  access_log {tmp}/access.log;\n  gzip on;\n"
        + "".join(f"  {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                       "scgi"))
        + f"  include {tmp}/site.conf;\n}}\n")
    return subprocess.Popen([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                            start_new_session=True)


def wait_for_log(path, needles: list[str], deadline_s: float = TIMEOUT_S) -> str:
    """The log's text once every needle is in it (nginx writes a request's access line after the response)."""
    deadline = time.monotonic() + deadline_s
    while True:
        text = path.read_text() if path.exists() else ""
        if all(needle in text for needle in needles):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needles} not all in {path} within {deadline_s:.0f} s:\n{text[-3000:]}")
        time.sleep(0.1)


def env_file() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (DEPLOY / "mallportal.env").read_text().splitlines()
                if line and not line.startswith("#"))


def wait_for_a_worker(app_port: int, deadline_s: float = 300.0) -> None:
    """gunicorn's master listens before a worker has imported the app (seconds idle, more than a minute on a
    busy 2-core host), and deploy/nginx.conf gives a probe 30 s: ask gunicorn directly until a worker answers,
    so the tests never race a worker's boot against the proxy's timeout."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            status, _, _ = request(app_port, "GET", "/capport/api?venue=demo", PORTAL_HOST)
            if status in (200, 404):  # the API's answer, for a named address or one no gateway named
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no gunicorn worker answered within {deadline_s:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(live_valkey, demo_map, tmp_path_factory):
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; `make test` does it as root)")
    from core.settings import Settings
    from portal import create_app
    from portal.captive.config import PortalConfigStore
    from portal.seed import ensure_demo_mall
    from portal.services import services

    tmp = tmp_path_factory.mktemp("deploy")
    store_url = live_valkey.connection_url + "/3"
    redis.Redis.from_url(store_url).flushdb()
    http_port, https_port, app_port = free_port(), free_port(), free_port()
    portal_url = f"https://{PORTAL_HOST}:{https_port}"
    # the env file's secrets are placeholders (refused at start, on purpose): the test's own, and no VAPID or phone
    # key on this one host (made per data dir)
    env = {**os.environ, **env_file(), "VAPID_PRIVATE_KEY": "", "PHONE_KEY": "",
           "REDIS_URL": store_url, "SECRET_KEY": TEST_SECRET, "MAC_HASH_KEY": TEST_MAC_KEY,
           "DATA_DIR": str(tmp / "var"), "PORTAL_URL": portal_url,
           "NUMBA_CACHE_DIR": str(tmp / "numba-cache"), "PORT": str(app_port), "WEB_WORKERS": "2"}  # a test host's
    settings = Settings.from_env(env)
    with create_app(settings).app_context():
        ensure_demo_mall(services(), "demo", demo_map)
    PortalConfigStore(redis.Redis.from_url(store_url)).set("demo", {"opennds_faskey": "s3cret"})
    app = subprocess.Popen([sys.executable, "-m", "gunicorn", *unit_gunicorn_args()], cwd=PROJECT_ROOT,
                           env=env, start_new_session=True)
    cert, key = certificate(tmp)
    proxy = start_nginx(nginx, tmp, site_config(http_port, https_port, app_port, cert, key, log_dir=str(tmp)))
    try:
        for port in (app_port, http_port, https_port):
            wait_for_port(port, timeout=TIMEOUT_S)
        wait_for_a_worker(app_port)
        tls = ssl.create_default_context(cafile=cert)
        yield {"http": http_port, "https": https_port, "app": app_port, "tls": tls, "portal_url": portal_url,
               "logs": tmp}
    finally:
        for proc in (proxy, app):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=TIMEOUT_S)


def test_probe_on_plain_http_redirects_to_the_https_portal(stack):
    status, headers, _ = request(stack["http"], "GET", "/hotspot-detect.html", "captive.apple.com")
    assert status == 302 and headers["location"].startswith(stack["portal_url"] + "/v/demo/?c=")
    status, headers, _ = request(stack["http"], "GET", "/online", "neverssl.com")  # hijacked by the venue's DNS
    assert status == 302 and headers["location"].startswith(stack["portal_url"] + "/v/demo/?c=")


def test_portal_on_https_grants_and_capport_answers(stack):
    phone = "02:00:5e:00:53:81"
    entry = ("/portal?client_ip=10.0.0.81&client_mac=" + phone + "&base_grant_url="
             + quote("https://n1.network-auth.com/splash/grant", safe="") + "&user_continue_url=http%3A%2F%2Fa.org%2F")
    status, headers, _ = request(stack["https"], "GET", entry, PORTAL_HOST, tls=stack["tls"])
    assert status == 302, headers
    landing = urlparse(headers["location"])
    assert f"{landing.scheme}://{landing.netloc}" == stack["portal_url"]
    token = parse_qs(landing.query)["c"][0]
    body = f"c={quote(token)}"
    conn = http.client.HTTPSConnection("127.0.0.1", stack["https"], timeout=TIMEOUT_S, context=stack["tls"])
    conn._create_connection = lambda *a, **k: socket.create_connection(("127.0.0.1", stack["https"]), TIMEOUT_S)
    conn.host = PORTAL_HOST
    conn.request("POST", "/portal/continue", body=body, headers={
        "Host": PORTAL_HOST, "Content-Type": "application/x-www-form-urlencoded"})
    grant = conn.getresponse()
    grant.read()
    conn.close()
    assert grant.status == 303 and grant.getheader("Location").startswith("https://n1.network-auth.com/splash/grant")
    # Meraki's redirect is anyone's to forge, so it teaches the IP table nothing: the API has no answer for the
    # address (a JSON 404, over HTTPS through the proxy), and the OS asks its probes, which the gateway answers
    status, headers, raw = request(stack["https"], "GET", "/capport/api?venue=demo", PORTAL_HOST, tls=stack["tls"],
                                   headers={"Accept": "application/captive+json"})
    assert status == 404 and headers["content-type"].startswith("application/json") and "captive" not in json.loads(raw)


def opennds_request_target(length: int) -> str:
    """An openNDS level-1 redirect of about `length` bytes (openNDS builds Locations of up to 8 kB)."""
    origin = "http://example.org/search?q=" + "x" * (int((length - 23) * 0.75) - 150)
    text = f"hid=abc, clientip=10.0.0.9, clientmac=02:00:5e:00:53:82, gatewayaddress=192.168.8.1:2050, " \
           f"originurl={quote(origin, safe='')}, clientif=br-lan, "
    return "/portal?venue=demo?fas=" + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("length", [4800, 8600])
def test_long_gateway_redirects_pass_the_proxy_and_gunicorn(stack, length):
    target = opennds_request_target(length)
    assert length - 300 < len(target) < length + 100
    for port in (stack["http"], stack["app"]):  # through nginx, and gunicorn (gunicorn.conf.py) directly
        referer = "http://x.example/" + "r" * 9000  # a header field as long as the URL, too
        status, _, body = request(port, "GET", target, "10.0.0.1", headers={"Referer": referer})
        assert status == 302, (port, status, body[:300])  # not gunicorn's or nginx's 414 / 400


def test_pages_and_what_they_load_are_compressed(stack):
    """Debian's stock http block compresses text/html only: the site adds the stylesheet, scripts, SVG plans,
    JSON and the manifest, and says Vary: Accept-Encoding on them."""
    status, _, page = request(stack["https"], "GET", "/v/demo/", PORTAL_HOST, tls=stack["tls"])
    assert status == 200
    targets = [html.unescape(url) for url in re.findall(r'href="(/(?:static|pwa)/[^"]+\.(?:css|webmanifest)[^"]*)"',
                                                        page.decode())]
    assert len(targets) == 2, targets
    for target in [*targets, "/static/scratch.js", "/v/demo/plan/0.svg", "/v/demo/"]:
        status, headers, _ = request(stack["https"], "GET", target, PORTAL_HOST, tls=stack["tls"],
                                     headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("content-encoding") == "gzip", (target, headers)
        if target.startswith("/static/"):  # cached by shared caches: they must keep both encodings apart
            assert headers.get("vary", "").lower() == "accept-encoding", (target, headers)
    status, headers, _ = request(stack["http"], "GET", "/hotspot-detect.html", "captive.apple.com",
                                    headers={"Accept-Encoding": "gzip"})
    assert status == 302 and "content-encoding" not in headers  # a probe's answer stays as the OS expects it


def test_a_phone_cannot_spoof_its_address_through_the_proxy(stack):
    """nginx overwrites X-Forwarded-For; PROXY_HOPS=1 trusts that one value only."""
    status, headers, _ = request(stack["http"], "GET", "/generate_204", "connectivitycheck.gstatic.com",
                                 headers={"X-Forwarded-For": "10.0.0.81"})  # the granted phone's address
    assert status == 302  # the grant above is bound to its MAC and IP, not to a forged header


def assert_logs_keep_no_secret(logs, secrets: list[str]) -> None:
    for name in ("access.log", "error.log"):
        text = (logs / name).read_text() if (logs / name).exists() else ""
        for secret in secrets:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                assert form not in text, f"{form!r} in nginx's {name}:\n{text[-3000:]}"


def test_nginx_logs_the_path_without_query_or_referer(stack):
    """Under Debian's stock http block (`access_log /var/log/nginx/access.log;`, the `combined` format), the
    site's own log_format: no raw client MAC, shopper token or console secret from a query or a Referer."""
    mac, invite = "02:5e:12:34:56:78", "s3cr3t-invite-9f2c"
    probe = f"/generate_204?client_mac={mac}&venue=demo"
    status, headers, _ = request(stack["http"], "GET", probe, "connectivitycheck.gstatic.com",
                                 headers={"Referer": f"http://connectivitycheck.gstatic.com{probe}"})
    assert status == 302, headers
    landing = urlparse(headers["location"])
    token = parse_qs(landing.query)["c"][0]
    status, _, _ = request(stack["https"], "GET", f"{landing.path}?{landing.query}", PORTAL_HOST, tls=stack["tls"],
                           headers={"Referer": f"http://connectivitycheck.gstatic.com{probe}"})
    assert status == 200
    request(stack["https"], "GET", f"/console/welcome?t=alice.{invite}", PORTAL_HOST, tls=stack["tls"],
            headers={"Referer": f"{stack['portal_url']}/v/demo/?c={token}"})
    # secrets in the path itself: a CAPPORT URI's token, a coupon's code (the route is logged instead)
    uri_token, code = "WyJkZW1vIiwiYyJd.aBcD.SECRETSIG", "SECRETCODE7"
    status, headers, _ = request(stack["https"], "GET", f"/capport/api/{uri_token}", PORTAL_HOST, tls=stack["tls"])
    assert status == 404 and "x-logged-path" not in headers  # the proxy keeps the log's header to itself
    request(stack["https"], "GET", f"/v/demo/coupons/mine/{code}", PORTAL_HOST, tls=stack["tls"])
    log = wait_for_log(stack["logs"] / "access.log", ['"GET /generate_204', f'"GET {landing.path}',
                                                      '"GET /console/welcome', '"GET /capport/api/<token>',
                                                      '"GET /v/demo/coupons/mine/<code>'])  # in any format
    assert_logs_keep_no_secret(stack["logs"], [mac, token, invite, "SECRETSIG", code])
    assert "client_mac" not in log and "?c=" not in log and "?t=" not in log
    assert '"GET /generate_204 HTTP/1.1" 302' in log and f'"GET {landing.path} HTTP/1.1" 200' in log


def test_nginx_error_log_keeps_no_query_when_gunicorn_is_down(tmp_path):
    """nginx writes the request line, upstream URL and Referer into an error line (here `connect() failed`):
    the site's error log level keeps those lines out; the access line says the 302 the probe fails open with
    (error_page) and 502 from the upstream."""
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; `make test` does it as root)")
    http_port, https_port, dead_port = free_port(), free_port(), free_port()  # nothing listens on dead_port
    cert, key = certificate(tmp_path)
    proxy = start_nginx(nginx, tmp_path, site_config(http_port, https_port, dead_port, cert, key,
                                                     log_dir=str(tmp_path)))
    mac = "02:5e:12:34:56:79"
    try:
        wait_for_port(http_port, timeout=TIMEOUT_S)
        probe = f"/generate_204?client_mac={mac}"
        status, _, _ = request(http_port, "GET", probe, "connectivitycheck.gstatic.com",
                               headers={"Referer": f"http://connectivitycheck.gstatic.com{probe}"})
        assert status == 302  # the probe fails open to /offline (error_page 502 504)
        log = wait_for_log(tmp_path / "access.log", ['"GET /generate_204'])
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        proxy.wait(timeout=TIMEOUT_S)
    assert_logs_keep_no_secret(tmp_path, [mac])
    # Path, status, upstream status: what the error line would have told, without the query.
    assert re.search(r'"GET /generate_204 HTTP/1\.1" 302 .* 502 [0-9.]+$', log, re.M), log
