"""Meraki v3 posts as a real network sends them: one per minute with every client, so the body limit must hold
a large venue's (MAX_MERAKI_BYTES, and nginx's limit on that URL), and `reportingAps` names every AP that
reported, hearing clients or not (a quiet venue's APs are alive)."""

from __future__ import annotations

import json
import re
import time

from core.settings import PROJECT_ROOT, Settings
from portal.ingest.store import RssiKeys, ap_times

MIB = 1_048_576


def documented_client(i: int, now: float) -> dict:
    """A client in the shape of developer.cisco.com/meraki/scanning-api/3-0's example: 3 locations of 3-4
    rssiRecords, each with Meraki's position fields."""
    def location(age_s: float, n: int) -> dict:
        return {"x": "8.013339145491448", "lng": 6.095772908171716, "floorPlanName": "3rd Floor",
                "rssiRecords": [{"apMac": f"aa:aa:aa:{(i + j) % 200:02x}:11:11", "rssi": -30 - j} for j in range(n)],
                "variance": 1.6201842796909718, "y": "10.697906571736747",
                "nearestApTags": ["", "API-TEST", "Office", ""], "floorPlanId": "g_643451796760560979",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - age_s)), "lat": 60.05342922730819}
    return {"locations": [location(45, 3), location(31, 3), location(20, 4)], "ipv4": "192.168.0.251",
            "ssid": ".interwebs", "os": "iOS", "clientMac": f"11:22:00:00:{i >> 8 & 255:02x}:{i & 255:02x}",
            "latestRecord": {"time": "2024-01-01T00:00:00Z", "nearestApMac": "aa:aa:aa:44:44:44",
                             "nearestApRssi": "-47"},
            "ipv6": None, "manufacturer": "Apple"}


def test_the_default_limits_hold_40000_clients_of_the_documented_shape():
    settings = Settings()
    now = time.time()
    per_client = len(json.dumps([documented_client(i, now) for i in range(100)])) / 100  # ~1.6 kB
    readings = sum(len(loc["rssiRecords"]) for loc in documented_client(0, now)["locations"])
    assert settings.max_meraki_bytes >= 40_000 * per_client
    assert settings.max_meraki_observations >= 40_000 * (readings + 1)


def test_a_post_over_32_mib_is_read(feeds, settings):
    assert settings.max_meraki_bytes >= 33 * MIB  # the suite's settings keep the default
    body = feeds.v3()
    body["data"]["padding"] = "x" * (33 * MIB)
    resp = feeds.meraki(json.dumps(body))
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 4}


def nginx_body_limits() -> tuple[int, int]:
    """(the HTTPS server's client_max_body_size, the one of its Meraki location), in bytes."""
    text = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    https = text[text.index("listen 443"):]
    meraki = re.search(r"location ~ \^/api/v1/venues/\[\^/\]\+/meraki/[^{]*\{(.*?)\}", https, re.S)
    assert meraki, "deploy/nginx.conf has no location for the Meraki receiver"
    server = re.search(r"^    client_max_body_size (\d+)m;", https, re.M)
    inner = re.search(r"client_max_body_size (\d+)m;", meraki.group(1))
    return int(server.group(1)) * MIB, int(inner.group(1)) * MIB


def test_nginx_lets_meraki_posts_through_and_only_those_so_large():
    server, meraki = nginx_body_limits()
    assert meraki >= Settings().max_meraki_bytes
    assert server >= Settings().max_mist_bytes and server < meraki


def test_reporting_aps_are_alive_in_a_quiet_post(feeds, svc, db):
    aps = [ap.bssid for ap in svc.venues.get_map("demo").aps][:3]
    body = feeds.v3()
    body["data"]["observations"] = []
    body["data"]["reportingAps"] = [
        {"serial": f"Q2XX-0000-000{i}", "mac": mac.upper(), "name": f"AP{i}", "tags": [], "lat": 0, "lng": 0,
         "floorPlan": {"id": "g_1", "name": "L0", "x": 1, "y": 1}} for i, mac in enumerate(aps)]
    body["data"]["reportingAps"].append({"serial": "Q2XX-0000-0009", "mac": None})  # names no AP: marks none
    before = time.time()
    resp = feeds.meraki(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 0}
    seen = ap_times(db.hgetall(RssiKeys("demo").ap_last_seen()))
    assert set(seen) == set(aps) and all(t >= before for t in seen.values())


def test_reporting_aps_beside_readings(feeds, db):
    body = feeds.v3()
    body["data"]["reportingAps"] = [{"mac": "aa:aa:aa:99:99:99"}]
    assert feeds.meraki(body).get_json() == {"accepted": 4}
    seen = feeds.heard_aps()  # none of them in the demo map
    assert set(seen) == {"aa:aa:aa:99:99:99", "aa:aa:aa:11:11:11", "aa:aa:aa:22:22:22", "aa:aa:aa:33:33:33",
                         "aa:aa:aa:44:44:44"}
