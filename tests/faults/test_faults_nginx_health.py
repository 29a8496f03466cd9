"""Behind deploy/nginx.conf the health checks (portal/health.py) tell a load balancer the truth on both ports: gunicorn
down is a 502 on /healthz and /readyz, where every other path on port 80 still fails open to the offline page (a 302 a
load balancer would count as healthy), and the portal's own 503 (its store down) passes through as it is."""

from __future__ import annotations

import os
import signal
import ssl
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest

from portal.tools.ensure_nginx import find_nginx
from portal.tools.net import free_port, wait_for_port
from tests.captive.test_deploy import PORTAL_HOST, TIMEOUT_S, certificate, site_config, start_nginx
from tests.captive.test_deploy import request as http_request
from tests.fake_http import serving


class NotReady(BaseHTTPRequestHandler):
    """A portal whose store is down: /readyz answers 503."""

    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def proxy_to(tmp_path, upstream_port: int):
    """deploy/nginx.conf in front of `upstream_port`: (http port, https port, TLS context)."""
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; `make test` does it as root)")
    http_port, https_port = free_port(), free_port()
    cert, key = certificate(tmp_path)
    proxy = start_nginx(nginx, tmp_path, site_config(http_port, https_port, upstream_port, cert, key,
                                                     log_dir=str(tmp_path)))
    try:
        wait_for_port(http_port, timeout=TIMEOUT_S)
        wait_for_port(https_port, timeout=TIMEOUT_S)
        yield http_port, https_port, ssl.create_default_context(cafile=cert)
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        proxy.wait(timeout=TIMEOUT_S)


def test_gunicorn_down_is_a_502_on_the_health_checks_while_probes_still_fail_open(tmp_path):
    with proxy_to(tmp_path, free_port()) as (http_port, https_port, tls):  # nothing listens upstream
        probe, _, _ = http_request(http_port, "GET", "/generate_204?venue=demo", "connectivitycheck.gstatic.com")
        page, _, _ = http_request(http_port, "GET", "/v/demo/", "10.0.0.1")
        checks = {(port, path): http_request(port, "GET", path, PORTAL_HOST, tls=context)[0]
                  for port, context in ((http_port, None), (https_port, tls)) for path in ("/healthz", "/readyz")}
        strict, _, _ = http_request(http_port, "GET", "/readyz?strict=1", "10.0.0.1")
    assert probe == 302 and page == 302  # the fail-open answer, as before
    assert set(checks.values()) == {502} and strict == 502, checks


def test_the_portals_own_503_reaches_the_load_balancer(tmp_path):
    with serving(NotReady) as url, proxy_to(tmp_path, int(url.rsplit(":", 1)[1])) as (http_port, https_port, tls):
        plain, _, _ = http_request(http_port, "GET", "/readyz", "10.0.0.1")
        secure, _, _ = http_request(https_port, "GET", "/readyz", PORTAL_HOST, tls=tls)
    assert plain == 503 and secure == 503
