"""Behind deploy/nginx.conf a probe the portal does not answer (gunicorn down: 502; every worker busy past the proxy's
read timeout: 504) gets the portal's own fail-open answer, a 302 to the offline page that no cache keeps, never
nginx's English error page, within the 3 s Android gives a probe (the config's own 2 s read timeout): the upstream
here never answers at all."""

from __future__ import annotations

import os
import signal
import socket
from urllib.parse import parse_qs, urlparse

import pytest

from portal.tools.ensure_nginx import find_nginx
from portal.tools.net import free_port, wait_for_port
from tests.captive.test_deploy import PORTAL_HOST, TIMEOUT_S, certificate, site_config, start_nginx
from tests.captive.test_deploy import request as http_request


@pytest.fixture
def silent_upstream():
    """A port that takes connections and never answers (a portal whose every worker thread is busy)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("upstream", ["down", "silent"])
def test_a_probe_the_portal_does_not_answer_fails_open_to_the_offline_page(tmp_path, request, upstream):
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; `make test` does it as root)")
    port = free_port() if upstream == "down" else request.getfixturevalue("silent_upstream")
    http_port, https_port = free_port(), free_port()
    cert, key = certificate(tmp_path)
    site = site_config(http_port, https_port, port, cert, key, log_dir=str(tmp_path))
    proxy = start_nginx(nginx, tmp_path, site)
    try:
        wait_for_port(http_port, timeout=TIMEOUT_S)
        status, headers, _ = http_request(http_port, "GET", "/generate_204?venue=demo&client_mac=02:5e:12:34:56:79",
                                     "connectivitycheck.gstatic.com")
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        proxy.wait(timeout=TIMEOUT_S)
    location = urlparse(headers.get("location", ""))
    assert status == 302 and (location.hostname, location.path) == (PORTAL_HOST, "/offline")
    assert parse_qs(location.query) == {"venue": ["demo"]} and "no-store" in headers["cache-control"]
