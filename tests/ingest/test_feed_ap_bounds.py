"""What feeds record about the APs they name, and how the operator sees it (audit of the RSSI feeds).

- One ingest token could plant any number of APs: every AP a valid request named went into the per-AP hashes,
  which every probe (the APs' reach) and every health view and model recheck (their last report) read whole.
  Now a report counts toward MAX_OBSERVATIONS even without observations, only the map's APs go in the hashes
  (read by the map's or the model's BSSIDs), and the others in a bounded, newest-first set the health page shows.
- hostapd's `get_clients` gives `signal` 0 for a station whose driver gave none: no reading, not 0 dBm.
- Readings sent too late (and events without one) were counted only in the HTTP reply, which Meraki and Mist
  never read: the health page now shows them per source.
- An AP listed under several BSSIDs (one radio, several SSIDs: the AP list CSV writes one entry per BSSID) was
  one row per BSSID, the ones it does not report under "silent" for ever; now one row per AP."""

from __future__ import annotations

import re
import time

from fingerprints.model import AccessPoint
from portal.ingest.health import IngestHealth
from portal.ingest.store import UNKNOWN_APS_KEPT, RssiKeys

HEALTH = "/console/ops/demo/health"
JSON = {"Accept": "application/json"}


def fake_ap(i: int, tag: int = 0xFA) -> str:
    return f"02:{tag:02x}:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"


def flood(feeds, count: int, tag: int = 0xFA) -> None:
    """APs named in one valid request each way a feed can name one: a native report with a reading and one
    without, an OpenWrt event's own `bssid` (on an event that carries no reading)."""
    now = time.time()
    half = count // 2
    reports = [{"ap": fake_ap(i, tag), "observations": [{"client": feeds.PHONE2, "rssi": -90, "ts": now}]}
               for i in range(half)]
    reports += [{"ap": fake_ap(i, tag), "observations": []} for i in range(half, count)]
    assert feeds.native({"reports": reports}).status_code == 202
    events = [{"bssid": fake_ap(count + i, tag), "disassoc": {"address": feeds.PHONE}} for i in range(half)]
    assert feeds.openwrt({"bssid": feeds.AP1, "events": events}).status_code == 202


def test_reports_without_observations_count_toward_the_limit(demo, db, settings):
    from portal import create_app

    small = create_app(settings.with_(max_observations=10)).test_client()
    headers = {"Authorization": f"Bearer {demo}"}
    reports = [{"ap": fake_ap(i), "observations": []} for i in range(11)]
    resp = small.post("/api/v1/venues/demo/reports", json={"reports": reports}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["field"] == "reports"
    assert db.hlen(RssiKeys("demo").ap_last_seen()) == 0 and db.zcard(RssiKeys("demo").unknown_aps()) == 0
    assert small.post("/api/v1/venues/demo/reports", json={"reports": reports[:10]},
                      headers=headers).status_code == 202


def test_a_flood_of_ap_names_leaves_bounded_state_and_a_bounded_probe_read(feeds, svc, db):
    map_aps = set(svc.venues.get_map("demo").ap_ids())
    keys = RssiKeys("demo")
    count = 2 * UNKNOWN_APS_KEPT
    flood(feeds, count)
    assert feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -60,
                                                            "ts": time.time()}]}).status_code == 202
    last, reach = db.hgetall(keys.ap_last_seen()), db.hgetall(keys.ap_reach())
    assert {ap.decode() for ap in last} <= map_aps and feeds.AP1.encode() in last
    assert {ap.decode() for ap in reach} <= map_aps and feeds.AP1.encode() in reach
    assert db.zcard(keys.unknown_aps()) == UNKNOWN_APS_KEPT  # the newest only

    model = svc.models.get("demo")
    reads = []
    real = svc.locator._reads
    svc.locator._reads = lambda commands: reads.append((commands, real(commands))) or reads[-1][1]
    svc.locator.locate("demo", svc.hasher.client_id(feeds.PHONE))
    (commands, replies), = reads
    reached = [reply for command, reply in zip(commands, replies, strict=True) if keys.ap_reach() in command]
    assert len(reached) == 1 and len(reached[0]) == len(model.ap_ids)  # the model's APs, not every AP named


def test_the_health_page_stays_bounded_and_shows_a_real_unknown_ap(client, console, feeds, svc):
    flood(feeds, 2 * UNKNOWN_APS_KEPT)
    stray = "0c:8d:db:12:34:56"  # an AP the map lacks, reporting after the flood
    assert feeds.native({"ap": stray, "observations": []}).status_code == 202
    console.login("ops")
    data = client.get(HEALTH, headers=JSON).get_json()
    in_map = [a for a in data["aps"] if a["in_map"]]
    assert len(data["aps"]) - len(in_map) <= UNKNOWN_APS_KEPT and stray in data["unknown_aps"]
    assert not next(a for a in data["aps"] if a["bssid"] == stray)["silent"]


def test_per_ap_hashes_written_before_are_cut_to_the_maps_aps(feeds, svc, db):
    """A venue flooded before the fix: the health view leaves the map's entries and drops the others."""
    keys, now = RssiKeys("demo"), time.time()
    planted = {fake_ap(i): now for i in range(3000)}
    db.hset(keys.ap_last_seen(), mapping={**planted, feeds.AP1: now - 7, feeds.AP2: now - 9})
    db.hset(keys.ap_reach(), mapping={**planted, feeds.AP1: now - 8})
    snap = IngestHealth(db).snapshot("demo", now, svc.venues.get_map("demo"), 300)
    assert snap["totals"]["aps_unknown"] == 0
    assert {k.decode(): float(v) for k, v in db.hgetall(keys.ap_last_seen()).items()} == {feeds.AP1: now - 7,
                                                                                           feeds.AP2: now - 9}
    assert {k.decode(): float(v) for k, v in db.hgetall(keys.ap_reach()).items()} == {feeds.AP1: now - 8}


def test_get_clients_signal_zero_is_no_reading(feeds):
    body = {"bssid": feeds.AP2, "freq": 2437, "clients": {
        "28:f0:76:2d:22:1f": {"auth": True, "assoc": True, "authorized": True, "signal": 0},
        feeds.PHONE: {"auth": True, "assoc": True, "authorized": True, "signal": -52}}}
    resp = feeds.openwrt(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1, "ignored": 1}
    assert not feeds.readings("28:f0:76:2d:22:1f") and feeds.readings(feeds.PHONE)


def test_late_readings_and_events_without_one_show_on_the_health_page(client, console, feeds, db, svc):
    """Meraki ignores the reply's "stale" count: a network whose readings all arrive too late looked like a
    feed reporting normally at 0 readings/s."""
    assert feeds.meraki(feeds.v2(ts=1474675583)).get_json() == {"accepted": 0, "stale": 1}
    events = [{"disassoc": {"address": feeds.PHONE}}, {"disassoc": {"address": feeds.PHONE2}}]
    assert feeds.openwrt({"bssid": feeds.AP1, "events": events}).get_json() == {"accepted": 0, "ignored": 2}
    by_source = {s.source: s for s in IngestHealth(db).sources("demo", time.time())}
    assert by_source["meraki:main"].stale_per_s == round(1 / 60, 3) and by_source["meraki:main"].ignored_per_s == 0
    assert by_source["openwrt:demo-simulator"].ignored_per_s == round(2 / 60, 3)
    console.login("ops")
    page = " ".join(client.get(HEALTH + "?lang=en").get_data(as_text=True).split())
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page) if "meraki:main" in r)
    assert f"Readings too old to use: {round(1 / 60, 3)}/s." in row and "delivery delay" in row
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page) if "openwrt:demo-simulator" in r)
    assert f"Events without a signal reading: {round(2 / 60, 3)}/s." in row
    assert client.get(HEALTH + "?lang=zh").status_code == 200


def test_an_ap_listed_under_two_bssids_is_one_row_alive_when_either_reports(client, console, feeds, svc, db):
    venue_map = svc.venues.get_map("demo").copy()
    first = next(a for a in venue_map.aps if a.bssid == feeds.AP1)
    second = "f0:9f:c2:1a:00:f1"  # the same radio's other SSID, as the AP list CSV writes it
    venue_map.aps.append(AccessPoint(bssid=second, floor=first.floor, x=first.x, y=first.y, name=first.name))
    svc.venues.put_map(venue_map)
    assert feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -50,
                                                            "ts": time.time()}]}).status_code == 202
    snap = IngestHealth(db).snapshot("demo", time.time(), svc.venues.get_map("demo"), 300)
    rows = [a for a in snap["aps"] if a["name"] == first.name]
    assert len(rows) == 1 and rows[0]["bssids"] == [feeds.AP1, second] and not rows[0]["silent"]
    assert second not in snap["silent_aps"]
    assert snap["totals"]["aps_in_map"] == len({(a.name, a.floor, a.x, a.y) for a in venue_map.aps})
    console.login("ops")
    page = client.get(HEALTH + "?lang=en").get_data(as_text=True)
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S) if second in r)
    assert feeds.AP1 in row and 'class="error"' not in row
