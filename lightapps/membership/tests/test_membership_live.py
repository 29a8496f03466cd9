"""The POS API over real HTTP against gunicorn (2 workers x 16 threads): 200 concurrent posts of the
same receipt count it once; 200 concurrent refunds reverse it once."""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from lightapps.membership.codes import short_code, step_of, totp
from lightapps.membership.store import MemberStore

pytestmark = pytest.mark.slow


def live_members(live_server) -> MemberStore:
    return MemberStore(live_server.db(), live_server.settings.secret_key, live_server.settings.phone_key)


def post_json(base: str, path: str, body: dict, headers: dict):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def api_token(live_server) -> str:
    return (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text()


def new_member(live_server):
    phone = f"+4479{random.randrange(10**8):08d}"
    return live_members(live_server).bind("demo", phone, f"live-{phone}")[0]


def test_200_concurrent_posts_of_one_receipt_count_once(live_server):
    member = new_member(live_server)
    headers = {"Authorization": f"Bearer {api_token(live_server)}"}
    receipt = f"LIVE-{member.id}"
    body = {"receipt_id": receipt, "store": "pixel", "member": member.id, "amount": "399.00"}
    path = "/api/v1/venues/demo/membership/purchases"
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda _i: post_json(live_server.url, path, body, headers), range(200)))
    statuses = [s for s, _b in results]
    assert statuses.count(201) == 1, sorted(set(statuses))
    assert statuses.count(200) == 199
    assert all(b["points"] == 399 and b["member"] == member.id for _s, b in results)
    assert sum(not b["duplicate"] for _s, b in results) == 1
    store = live_members(live_server)
    assert store.get("demo", member.id).points == 399
    assert [e["type"] for e in store.ledger("demo", member.id)] == ["earn", "join"]

    refund_path = "/api/v1/venues/demo/membership/refunds"
    refund = {"receipt_id": receipt, "store": "pixel"}
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda _i: post_json(live_server.url, refund_path, refund, headers), range(200)))
    assert all(s == 200 for s, _b in results)
    assert sum(not b["duplicate"] for _s, b in results) == 1
    assert store.get("demo", member.id).points == 0
    assert [e["type"] for e in store.ledger("demo", member.id)] == ["reverse", "earn", "join"]


def test_200_concurrent_posts_with_the_scanned_code_count_once(live_server):
    member = new_member(live_server)
    headers = {"Authorization": f"Bearer {api_token(live_server)}", "Idempotency-Key": f"idem-{member.id}"}
    code = short_code(member.id, totp(member.secret, step_of(time.time())))
    body = {"store": "kopi", "member_code": code, "amount": 12.5}
    path = "/api/v1/venues/demo/membership/purchases"
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda _i: post_json(live_server.url, path, body, headers), range(200)))
    statuses = [s for s, _b in results]
    assert statuses.count(201) == 1 and statuses.count(200) == 199, sorted(set(statuses))
    assert live_members(live_server).get("demo", member.id).points == 12
