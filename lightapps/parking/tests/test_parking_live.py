"""Concurrency over real HTTP against gunicorn (2 workers x 16 threads): 200 parallel event batches
keep the counts exact, and 200 parallel lookups by one shopper get exactly the allowed number."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.parking.store import ParkingKeys, ParkingStore
from portal.apps.budgets import BudgetKeys
from portal.shopper import Shopper, shopper_token

pytestmark = pytest.mark.slow


def request(live_server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    parsed = urllib.parse.urlparse(live_server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


SHOPPER_LIMIT = DEFAULT_BUDGETS["parking.lookup.shopper"][0]


def clear_limits(db) -> None:
    for key in db.scan_iter(match=BudgetKeys("demo").counter("parking.lookup.*", "*").encode()):
        db.delete(key)


def test_200_parallel_event_batches_keep_counts_exact(live_server):
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text().strip()
    store = ParkingStore(live_server.db())
    bays = sorted(store.bays("demo", "garage"))[:40]
    base = time.time()

    def post(i: int):
        events = [{"type": "bay", "bay": bays[(i + k) % len(bays)], "status": "free" if (i + k) % 2 else "occupied",
                   "ts": base + i / 1000} for k in range(3)]
        body = json.dumps({"events": events}).encode()
        return request(live_server, "POST", "/api/v1/venues/demo/parking/events", body,
                       {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})[0]

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(post, range(200)))
    assert statuses == [200] * 200
    db = live_server.db()
    states = store.states("demo")
    keys = ParkingKeys("demo")
    free = {m.decode() for m in db.smembers(keys.free("garage", 0))}
    occupied = {m.decode() for m in db.smembers(keys.occupied("garage", 0))}
    assert free == {b for b, s in states.items() if s == "free"}
    assert occupied == {b for b, s in states.items() if s == "occupied"}
    status, body = request(live_server, "GET", "/api/v1/venues/demo/parking/availability",
                           headers={"Authorization": f"Bearer {token}"})
    (level,) = json.loads(body)["zones"]["garage"]
    assert status == 200 and (level["free"], level["occupied"]) == (len(free), len(occupied))


def test_200_parallel_lookups_by_one_shopper(live_server):
    from portal import create_app

    db = live_server.db()
    clear_limits(db)
    with create_app(live_server.settings).app_context():
        c = shopper_token(Shopper("demo", "enumerator"))
    form = urllib.parse.urlencode({"plate": "ZZZ9999", "c": c}).encode()

    def lookup(_i: int) -> int:
        return request(live_server, "POST", "/v/demo/parking/garage/find", form,
                       {"Content-Type": "application/x-www-form-urlencoded"})[0]

    try:
        with ThreadPoolExecutor(max_workers=200) as pool:
            statuses = list(pool.map(lookup, range(200)))
        assert statuses.count(303) == SHOPPER_LIMIT and statuses.count(429) == 200 - SHOPPER_LIMIT
        logged = [e for e in ParkingStore(db).lookups("demo", 400) if e["shopper"] == "enumerator"]
        assert len(logged) == 200 and sum(e["kind"] == "limited" for e in logged) == 200 - SHOPPER_LIMIT
    finally:
        clear_limits(db)
