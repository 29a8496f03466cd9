"""Two hosts (two gunicorn servers, each its own data folder) on one cluster: a session granted on A
is honoured on B, a seat held on A is confirmed on B, and one phone heard through both counts once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from core.security import MacHasher
from core.settings import PROJECT_ROOT
from core.storage import connect
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.demo import simulated_reports
from portal.ingest.store import RssiKeys
from portal.tools.net import free_port, stop_process, wait_for_port

pytestmark = pytest.mark.slow
PHONE = "02:00:5e:00:53:e1"
MERAKI = ("/portal?client_mac={mac}&client_ip=10.0.0.9&base_grant_url=https%3A%2F%2Fn1.network-auth.com%2Fsplash"
          "%2Fgrant&user_continue_url=http%3A%2F%2Fexample.org%2F")


def request(port: int, method: str, path: str, fields=None, headers=None, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if fields is not None:
            body = urlencode(fields).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        conn.request(method, path, body, headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def hosts(settings, demo_map, tmp_path_factory):
    """(port A, port B, API token, store client): the demo mall loaded once into the cluster."""
    from portal import create_app
    from portal.seed import ensure_demo_mall

    db = connect(settings, timeout_s=10)
    db.flushdb()
    loader_dir = tmp_path_factory.mktemp("loader")
    app = create_app(settings.with_(data_dir=loader_dir))
    with app.app_context():
        ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    token = (loader_dir / "secrets" / "demo_api_token").read_text()
    procs, ports = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            # Only what every host shares: the store and the two keys (each its own data folder).
            env = {**os.environ, "REDIS_URL": settings.redis_url, "REDIS_CLUSTER": "1",
                   "SECRET_KEY": settings.secret_key, "MAC_HASH_KEY": settings.mac_hash_key,
                   "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I", "PHONE_KEY": settings.phone_key,
                   "DATA_DIR": str(tmp_path_factory.mktemp(f"host-{name}")), "LOAD_DEMO": "0", "VENUE": "demo"}
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                 "--threads", "4", "--worker-class", "gthread", "--log-level", "warning"], cwd=PROJECT_ROOT, env=env))
            ports.append(port)
        for port in ports:
            wait_for_port(port, timeout=120)
        yield ports[0], ports[1], token, db
    finally:
        for proc in procs:
            stop_process(proc, sig=signal.SIGQUIT)  # gunicorn's quick shutdown: nothing left to finish here


def test_session_granted_on_a_is_honoured_on_b(hosts):
    a, b, _token, _db = hosts
    status, location, _ = request(a, "GET", MERAKI.format(mac=PHONE))
    assert status == 302
    c = parse_qs(urlsplit(location).query)["c"][0]
    assert request(a, "POST", "/portal/continue", [("c", c)])[0] in (302, 303)
    status, _, page = request(b, "GET", f"/portal/status?c={c}")
    assert status == 200 and 'id="online"' in page


def test_seat_held_on_a_is_confirmed_on_b(hosts):
    a, b, _token, db = hosts
    item = ShowtimeInput("Two hosts", "Two hosts", "1", int(time.time()) + 3 * 3600, 4000)
    show = CinemaStore(db).upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]
    status, location, _ = request(a, "POST", f"/v/demo/cinema/cinema/show/{show}/hold", [("seat", "A1")])
    assert status == 303
    parts = urlsplit(location)
    status, location, _ = request(b, "POST", parts.path + "/confirm", [("c", parse_qs(parts.query)["c"][0])])
    assert status == 303 and "/ticket/" in location


def test_one_phone_heard_through_both_hosts_counts_once(hosts, demo_map, settings):
    a, b, token, db = hosts
    phone = "02:00:5e:00:53:e2"
    for port in (a, b):
        body = json.dumps(simulated_reports(demo_map, 1, 20, 30, phone, time.time())).encode()
        status, _, _ = request(port, "POST", "/api/v1/venues/demo/reports", body=body,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert status == 202
    client_id = MacHasher(settings.mac_hash_key).client_id(phone)
    assert db.sismember(RssiKeys("demo").new_readings(), client_id)
    readings = [k for k in db.scan_iter(match=RssiKeys("demo").readings("*"), count=1000)]
    assert readings == [RssiKeys("demo").readings(client_id).encode()]
