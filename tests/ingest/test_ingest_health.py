"""The operator's ingest health view: rates per source, last report per AP, silent APs; and who may
see it."""

from __future__ import annotations

import re
import time

import pytest

from portal.ingest.health import IngestHealth
from portal.ingest.store import RssiKeys

URL = "/console/ops/demo/health"
JSON = {"Accept": "application/json"}


def test_rates_per_source_and_silent_aps(feeds, svc, db):
    now = time.time()
    for _ in range(3):
        assert feeds.openwrt(feeds.event()).status_code == 202
    body = {"ap": feeds.AP2, "observations": [{"client": feeds.PHONE, "rssi": -50, "ts": now},
                                              {"client": feeds.PHONE2, "rssi": -55, "ts": now}]}
    assert feeds.native(body).status_code == 202
    assert feeds.native({"ap": "bad"}).status_code == 422  # counted as rejected
    meraki_sent = time.time()
    assert feeds.meraki(feeds.v2()).status_code == 202
    # an AP of the map that reported long ago
    db.hset(RssiKeys("demo").ap_last_seen(), feeds.AP3, now - 3600)

    at = time.time()
    snap = IngestHealth(db).snapshot("demo", at, svc.venues.get_map("demo"), 300)
    by_source = {s["source"]: s for s in snap["sources"]}
    assert set(by_source) == {"openwrt:demo-simulator", "native:demo-simulator", "meraki:main"}
    assert by_source["openwrt:demo-simulator"]["reports_per_s"] == pytest.approx(3 / 60, abs=1e-3)
    assert by_source["openwrt:demo-simulator"]["observations_per_s"] == pytest.approx(3 / 60, abs=1e-3)
    assert by_source["native:demo-simulator"]["observations_per_s"] == pytest.approx(2 / 60, abs=1e-3)
    assert by_source["native:demo-simulator"]["rejected_per_s"] == pytest.approx(1 / 60, abs=1e-3)
    # at most the time since just before the report was sent (rounded to 0.1 s), however long that took
    assert 0 <= by_source["meraki:main"]["last_report_age_s"] <= round(at - meraki_sent, 1) + 0.1

    aps = {a["bssid"]: a for a in snap["aps"]}
    assert not aps[feeds.AP1]["silent"] and not aps[feeds.AP2]["silent"]
    assert aps[feeds.AP3]["silent"] and aps[feeds.AP3]["age_s"] >= 3599
    assert aps["00:18:0a:13:dd:b0"]["in_map"] is False  # the Meraki example's AP is not in the map
    never = [a for a in snap["aps"] if a["in_map"] and a["last_seen"] is None]
    assert never and all(a["silent"] for a in never)
    assert set(snap["silent_aps"]) == {a["bssid"] for a in snap["aps"] if a["silent"]}
    assert snap["aps"][0]["silent"]  # silent ones first


def test_rates_cover_only_the_last_minute(feeds, db):
    health = IngestHealth(db)
    old = time.time() - 90
    for command in IngestHealth.accepted_commands("demo", "native:x", 600, old):
        db.execute_command(*command)
    assert health.sources("demo", time.time())[0].observations_per_s == 0
    assert health.sources("demo", old)[0].observations_per_s == 10
    assert 0 < db.ttl(f"mp:{{demo}}:ingest:rate:{int(old)}") <= 120


def test_silence_threshold_is_configurable(feeds, svc, db):
    db.hset(RssiKeys("demo").ap_last_seen(), feeds.AP1, time.time() - 100)
    vm = svc.venues.get_map("demo")
    aps = {a.bssid: a for a in IngestHealth(db).aps("demo", time.time(), vm, silent_after_s=300)}
    assert not aps[feeds.AP1].silent
    aps = {a.bssid: a for a in IngestHealth(db).aps("demo", time.time(), vm, silent_after_s=60)}
    assert aps[feeds.AP1].silent


# ---- the page ----------------------------------------------------------------------------------


def test_operator_sees_the_health_page(client, console, feeds):
    feeds.openwrt(feeds.event())
    console.login("ops")
    page = client.get(URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "openwrt:demo-simulator" in html and feeds.AP1 in html and "AP-G01" in html
    assert len(page.get_data()) < 100_000
    assert "/api/v1/venues/demo/meraki/main" in html


def test_the_ap_table_names_floors_as_the_map_does(client, console, feeds, svc):
    """G and L1, as every other page says, not the levels 0 and 1; the JSON keeps the levels."""
    console.login("ops")
    floors = {f.level: f for f in svc.venues.get_map("demo").floors}
    for lang, zh in (("en", False), ("zh", True)):
        html = client.get(URL, query_string={"lang": lang}).get_data(as_text=True)
        table = re.search(r'<table id="ingest-aps".*?</table>', html, re.S).group(0)
        shown = set(re.findall(r"</code></td><td>([^<]*)</td>", table))
        assert shown == {floors[0].label(zh), floors[1].label(zh)} == {"G", "L1"}
    assert {ap["floor"] for ap in client.get(URL, headers=JSON).get_json()["aps"]} == {0, 1}


def test_health_as_json(client, console, feeds):
    feeds.openwrt(feeds.event())
    console.login("ops")
    resp = client.get(URL, headers=JSON)
    assert resp.status_code == 200 and resp.is_json
    data = resp.get_json()
    assert data["venue"] == "demo" and data["silent_after_s"] == 300
    assert data["sources"][0]["source"] == "openwrt:demo-simulator"
    assert {"bssid", "last_seen", "age_s", "silent"} <= set(data["aps"][0])


def test_health_in_chinese(client, console, feeds):
    console.login("ops")
    assert client.get(URL + "?lang=zh").status_code == 200


def test_operator_home_links_to_health(client, console):
    console.login("ops")
    home = client.get("/console/ops/demo/")
    assert home.status_code == 200 and URL in home.get_data(as_text=True)
    # the console's home sends operators to their venue's operator home
    resp = client.get("/console/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/ops/demo/")


@pytest.mark.parametrize("url", [URL, "/console/ops/demo/"])
def test_logged_out_is_sent_to_login(client, demo, url):
    resp = client.get(url)
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert client.get(url, headers=JSON).status_code == 302


@pytest.mark.parametrize("url", [URL, "/console/ops/demo/"])
def test_owner_account_is_403(client, console, url):
    console.login("cinema")
    assert client.get(url).status_code == 403
    assert client.get(url, headers=JSON).status_code == 403


def test_operator_of_another_venue_is_403(client, console, feeds, other_venue):
    from portal.auth import AccountStore

    AccountStore(feeds.db).create("ops-other", "mallportal-demo", "operator", "other")
    console.login("ops-other")
    assert client.get(URL).status_code == 403
    assert client.get("/console/ops/demo/").status_code == 403
    assert client.get("/console/ops/other/health").status_code == 200


def test_unknown_venue(client, console):
    console.login("ops")
    assert client.get("/console/ops/nowhere/health").status_code == 403  # not the operator's venue


def test_an_unknown_ap_silent_for_a_week_is_forgotten_a_silent_map_ap_never(feeds, svc, db):
    """A BSSID not in the map (a typo, an AP taken away) that has not reported for UNKNOWN_AP_FORGET_S leaves the
    view and the set of unknown APs; an AP of the map stays, silent, however long ago it reported. The per-AP
    hashes keep the map's APs only (entries of other APs written before they were kept apart are dropped)."""
    from portal.ingest.health import UNKNOWN_AP_FORGET_S

    keys, now = RssiKeys("demo"), time.time()
    typo, recent = "0c:8d:db:ff:ff:01", "0c:8d:db:ff:ff:02"
    db.zadd(keys.unknown_aps(), {typo: now - UNKNOWN_AP_FORGET_S - 60, recent: now - 60})
    db.hset(keys.ap_last_seen(), mapping={typo: now - UNKNOWN_AP_FORGET_S - 60,
                                          feeds.AP3: now - UNKNOWN_AP_FORGET_S - 60})
    db.hset(keys.ap_reach(), mapping={typo: now - UNKNOWN_AP_FORGET_S - 61, recent: now - 61})
    snap = IngestHealth(db).snapshot("demo", now, svc.venues.get_map("demo"), 300)
    assert snap["unknown_aps"] == [recent]
    assert feeds.AP3 in snap["silent_aps"]
    assert db.zrange(keys.unknown_aps(), 0, -1) == [recent.encode()]
    assert not db.hexists(keys.ap_last_seen(), typo) and not db.hexists(keys.ap_reach(), typo)
    assert not db.hexists(keys.ap_reach(), recent) and db.hexists(keys.ap_last_seen(), feeds.AP3)


def test_page_marks_masked_aps_and_counts_the_maps_aps_apart(client, console, feeds, svc, db):
    """An AP masked out of live positioning says so on its row (README: "the page marks them per AP"), and the
    summary's "of N" counts the map's APs only: an unknown BSSID heard is counted apart."""
    venue_map = svc.venues.get_map("demo")
    aps, unknown, now = venue_map.ap_ids(), "02:00:00:00:00:99", time.time()
    gone = aps[0]
    db.hset(RssiKeys("demo").ap_last_seen(), mapping={**{ap: now - 5 for ap in aps[1:]}, gone: now - 3600})
    db.zadd(RssiKeys("demo").unknown_aps(), {unknown: now - 10})
    svc.models.recheck_s = 0  # the cached model looks at the live reports again now
    console.login("ops")
    data = client.get(URL, headers=JSON).get_json()
    assert data["masked_aps"] == [gone]
    assert data["totals"]["aps_in_map"] == len(aps) and data["totals"]["aps_in_map_silent"] == 1
    assert data["totals"]["aps_unknown"] == 1 and data["totals"]["aps"] == len(aps) + 1
    page = client.get(URL + "?lang=en").get_data(as_text=True)
    rows = {bssid: row for row in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S)
            for bssid in re.findall(r"<code>([0-9a-f:]{17})</code>", row)}
    assert "left out of positioning" in rows[gone]
    assert "left out of positioning" not in rows[aps[1]] and "left out of positioning" not in rows[unknown]
    summary = " ".join(re.search(r'id="ap-summary">(.*?)</span>', page, re.S).group(1).split())
    assert f"1 of the {len(aps)} access points in the map silent" in summary
    assert "Left out of live positioning: 1." in summary and "Heard but not in the venue map: 1." in summary


def test_the_health_page_has_the_ops_navigation_with_itself_current(client, console, demo):
    console.login("ops")
    page = client.get("/console/ops/demo/health").get_data(as_text=True)
    assert '<nav class="ops-nav">' in page
    assert re.search(r'href="/console/ops/demo/health" aria-current="page"', page)
