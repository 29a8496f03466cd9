"""Over real HTTP against gunicorn: 200 concurrent feeds, every reading stored exactly once."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from portal.ingest.store import RssiKeys


def post(url, body, token):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_200_concurrent_reporters(live_server):
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text()
    db = live_server.db()
    now = time.time()
    phones = [f"02:00:00:00:{i // 256:02x}:{i % 256:02x}" for i in range(50)]

    def report(i):
        ap = f"f0:9f:c2:aa:{i // 256:02x}:{i % 256:02x}"
        if i % 2:
            body = {"ap": ap, "observations": [{"client": p, "rssi": -60, "ts": now} for p in phones]}
            return post(f"{live_server.url}/api/v1/venues/demo/reports", body, token)
        body = {"bssid": ap, "events": [{"address": p, "signal": -60, "ts": now} for p in phones]}
        return post(f"{live_server.url}/api/v1/venues/demo/openwrt", body, token)

    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(report, range(200)))
    assert all(status == 202 and body == {"accepted": 50} for status, body in results), results[:3]
    keys = [k for k in db.scan_iter(match=RssiKeys("demo").readings("*"))]
    counts = [db.zcard(k) for k in keys]
    assert len(keys) >= 50 and sorted(counts)[-50:] == [200] * 50
    # and bad requests under the same load are all clean 4xx
    with ThreadPoolExecutor(50) as pool:
        bad = list(pool.map(lambda i: post(f"{live_server.url}/api/v1/venues/demo/openwrt",
                                           {"bssid": "x", "events": []}, token), range(50)))
    assert {status for status, _ in bad} == {422}
