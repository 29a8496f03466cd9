"""A primary of the cluster is killed (SIGKILL) while feeds post readings and phones probe: no
acknowledged reading is lost, ingest answers 503 (retryable) and never 500, probes fail open and get
zone answers again once the replica is promoted, and the tracker keeps serving the other venue."""

from __future__ import annotations

import copy
import json
import threading
import time
from urllib.parse import urlparse

import pytest

from core.settings import Settings
from portal import create_app
from portal.demo import simulated_reports
from portal.ingest.store import RssiKeys
from portal.seed import ensure_demo_mall
from portal.tools.valkey_cluster import start_local_cluster
from portal.tracking import Tracker
from tests.test_slice import expected_landing_path

pytestmark = pytest.mark.slow
TRACKED = "02:00:5e:00:53:f1"


@pytest.fixture(scope="module")
def fragile_cluster(tmp_path_factory):
    """Its own cluster: this test kills one of its primaries."""
    cluster = start_local_cluster(tmp_path_factory.mktemp("failover-cluster"))
    yield cluster
    cluster.stop()


def post(client, token, venue, venue_map, phone, zone_xy=(1, 20, 30)):
    body = simulated_reports(venue_map, *zone_xy, phone, time.time())
    return client.post(f"/api/v1/venues/{venue}/reports", data=json.dumps(body),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")


def test_primary_killed_during_ingest_and_probes(fragile_cluster, demo_map, tmp_path):
    settings = Settings(redis_url=fragile_cluster.url, redis_cluster=True, secret_key="s" * 32,
                        mac_hash_key="m" * 32, data_dir=tmp_path, load_demo=False, testing=True)
    app = create_app(settings)
    svc = app.extensions["mallportal"]
    with app.app_context():
        ensure_demo_mall(svc, "demo", demo_map)
    token = (tmp_path / "secrets" / "demo_api_token").read_text()
    victim = fragile_cluster.primary_of("{demo}")
    other = next(v for v in (f"mall{i}" for i in range(100)) if fragile_cluster.primary_of("{" + v + "}") != victim)
    other_map = copy.deepcopy(demo_map)
    other_map.id = other
    svc.venues.put_map(other_map)
    other_token = svc.tokens.issue(other, "test")
    tracker = Tracker(svc.db, svc.venues, svc.locator)

    client = app.test_client()
    assert post(client, token, "demo", demo_map, TRACKED).status_code == 202
    assert tracker.drain("demo") == 1
    landing = expected_landing_path(app, svc, "cinema")
    assert urlparse(client.get(f"/generate_204?client_mac={TRACKED}").headers["Location"]).path == landing
    tracker.round()  # the venue list is read once while every shard is up (a copy is kept)

    acked: list[str] = []
    ingest_status: list[int] = []
    probe_answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def feed():
        own = app.test_client()
        i = 0
        while not stop.is_set():
            phone = f"02:00:5e:01:{i // 256:02x}:{i % 256:02x}"
            status = post(own, token, "demo", demo_map, phone).status_code
            ingest_status.append(status)
            if status == 202:
                acked.append(phone)
            i += 1

    def probes():
        own = app.test_client()
        while not stop.is_set():
            resp = own.get(f"/generate_204?client_mac={TRACKED}")
            probe_answers.append((resp.status_code, urlparse(resp.headers.get("Location", "")).path))
            time.sleep(0.02)

    threads = [threading.Thread(target=feed), threading.Thread(target=probes)]
    for thread in threads:
        thread.start()
    try:
        _wait(lambda: len(acked) >= 5, "no readings acknowledged before the kill")
        fragile_cluster.kill(victim)
        killed_at = len(acked)
        # The tracker keeps serving the other venue while demo's shard is down.
        assert post(client, other_token, other, other_map, "02:00:5e:02:00:01").status_code == 202
        _wait(lambda: tracker.round()[0] >= 1, "the tracker stopped serving the other venue")
        fragile_cluster.wait_ok(timeout=60)  # the replica is promoted
        seen = len(probe_answers)
        _wait(lambda: len(acked) >= killed_at + 5, "ingest did not recover after the promotion")
        _wait(lambda: any(path == landing for _, path in probe_answers[seen:]), "probes did not recover")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    # The dead primary is unreachable for at least the node timeout before its replica may take over.
    assert set(ingest_status) == {202, 503}, sorted(set(ingest_status))
    assert {status for status, _ in probe_answers} == {302}  # a zone answer or the offline page: never a 5xx
    lost = [p for p in acked if not svc.db.exists(RssiKeys("demo").readings(svc.hasher.client_id(p)))]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged phones lost their readings"


def _wait(check, message: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
