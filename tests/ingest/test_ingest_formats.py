"""Every feed format, from its documented example payload to the stored readings."""

from __future__ import annotations

import time

import pytest

from portal.ingest.meraki import meraki_rssi_dbm
from portal.ingest.observation import ReportError, parse_time

# ---- Meraki ------------------------------------------------------------------------------------


def test_meraki_validator_handshake(feeds):
    resp = feeds.meraki_get()
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain" and resp.get_data(as_text=True) == feeds.VALIDATOR


def test_meraki_validator_of_unknown_network_or_venue_is_404(feeds):
    assert feeds.meraki_get(network="nope").status_code == 404
    assert feeds.meraki_get(venue="nowhere").status_code == 404
    assert feeds.meraki_get(network="../x").status_code == 404


def test_meraki_v2_documented_example(feeds):
    body = feeds.v2()
    resp = feeds.meraki(body)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json() == {"accepted": 1}
    readings = feeds.readings(feeds.PHONE2)
    # 47 on Meraki's positive scale is 47 - 95 = -48 dBm
    assert readings == {"00:18:0a:13:dd:b0": [(float(body["data"]["observations"][0]["seenEpoch"]), -48.0)]}
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE2), time.time()) is True


def test_meraki_v2_unassociated_client_is_probe_only(feeds):
    body = feeds.v2()
    body["data"]["observations"][0]["ssid"] = None
    assert feeds.meraki(body).status_code == 202
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE2), time.time()) is False


def test_meraki_v2_seen_time_when_no_epoch(feeds):
    body = feeds.v2()
    obs = body["data"]["observations"][0]
    del obs["seenEpoch"]
    assert feeds.meraki(body).status_code == 202
    [(ts, _rssi)] = feeds.readings(feeds.PHONE2)["00:18:0a:13:dd:b0"]
    assert abs(ts - parse_time(obs["seenTime"], "t")) < 1e-6


def test_meraki_v3_documented_example(feeds):
    body = feeds.v3()
    resp = feeds.meraki(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 4}
    readings = feeds.readings("11:22:33:44:55:66")
    assert {ap: r[0][1] for ap, r in readings.items()} == {
        "aa:aa:aa:11:11:11": -34.0, "aa:aa:aa:22:22:22": -51.0, "aa:aa:aa:44:44:44": -45.0,
        "aa:aa:aa:33:33:33": -51.0,
    }


def test_meraki_v3_latest_record_when_no_recent_locations(feeds):
    body = feeds.v3()
    body["data"]["observations"][0]["locations"] = []
    assert feeds.meraki(body).get_json() == {"accepted": 1}
    readings = feeds.readings("11:22:33:44:55:66")
    assert {ap: r[0][1] for ap, r in readings.items()} == {"aa:aa:aa:44:44:44": -47.0}  # the string "-47"


def test_meraki_v3_stale_latest_record_is_skipped_not_an_error(feeds):
    body = feeds.v3()
    obs = body["data"]["observations"][0]
    obs["locations"] = []
    obs["latestRecord"]["time"] = feeds.iso(time.time() - 86400)
    resp = feeds.meraki(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 0}
    assert feeds.nothing_stored()


def test_meraki_v3_epoch_time_as_in_the_mock(feeds):
    body = feeds.v3()
    body["data"]["observations"][0]["locations"][0]["time"] = int(time.time() - 10)
    assert feeds.meraki(body).status_code == 202


def test_meraki_ble_is_accepted_and_ignored(feeds):
    body = feeds.v3()
    body["type"] = "BLE"
    assert feeds.meraki(body).get_json() == {"accepted": 0}
    body = feeds.v2()
    body["type"] = "BluetoothDevicesSeen"
    assert feeds.meraki(body).get_json() == {"accepted": 0}
    assert feeds.nothing_stored()


def test_meraki_network_id_is_checked_when_configured(feeds):
    from portal.ingest.meraki import MerakiStore

    MerakiStore(feeds.db).configure("demo", "main", feeds.VALIDATOR, feeds.SECRET, "L_000000000000000001")
    assert feeds.meraki(feeds.v3()).status_code == 202
    resp = feeds.meraki(feeds.v3(network_id="L_999"))
    assert resp.status_code == 422 and resp.get_json()["field"] == "data.networkId"


@pytest.mark.parametrize(("raw", "dbm"), [(47, -48.0), (0, -95.0), (95, 0.0), (-34, -34.0), (-120, -120.0),
                                          (12.5, -82.5)])
def test_meraki_rssi_conversion(raw, dbm):
    assert meraki_rssi_dbm(raw, "rssi") == dbm


@pytest.mark.parametrize("raw", [96, -121, "47", True, None, float("nan")])
def test_meraki_rssi_out_of_range(raw):
    with pytest.raises(ReportError):
        meraki_rssi_dbm(raw, "rssi")


def test_meraki_secret_is_stored_hashed(feeds):
    for key in feeds.db.scan_iter(match="mp:{demo}:meraki:*"):
        if feeds.db.type(key) == b"hash":
            assert feeds.SECRET.encode() not in b"".join(feeds.db.hgetall(key).values())


# ---- OpenWrt -----------------------------------------------------------------------------------


def test_openwrt_single_probe_event(feeds):
    before = time.time()
    resp = feeds.openwrt(feeds.event())
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1}
    [(ts, rssi)] = feeds.readings(feeds.PHONE)[feeds.AP1]
    assert rssi == -61.0 and before - 1 <= ts <= time.time() + 1  # no time in hostapd events: arrival
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE), time.time()) is False


def test_openwrt_batch_with_times_and_association(feeds):
    ts = time.time() - 3
    body = {"bssid": feeds.AP2, "events": [
        {"type": "probe", "address": feeds.PHONE, "signal": -70, "freq": 5180, "ts": ts},
        {"type": "assoc", "address": feeds.PHONE2, "signal": -55, "freq": 5180, "ts": int(ts * 1000)},
        {"type": "probe", "address": feeds.PHONE, "signal": -70, "freq": 5180, "ts": ts},  # duplicate
    ]}
    assert feeds.openwrt(body).get_json() == {"accepted": 2}
    assert feeds.readings(feeds.PHONE2)[feeds.AP2][0][1] == -55.0
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE2), time.time()) is True


# ---- FIND3 -------------------------------------------------------------------------------------


def test_find3_passive_documented_body(feeds):
    body = feeds.passive()
    resp = feeds.find3(body)
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 2  # bluetooth ignored
    [(ts, rssi)] = feeds.readings(feeds.PHONE)[feeds.AP1]  # scanner "AP-G01" is the map's AP f0:..:01
    assert rssi == -73.0 and ts == pytest.approx(body["t"] / 1000, abs=1e-3)


def test_find3_scanner_named_by_bssid(feeds):
    assert feeds.find3(feeds.passive(device="F0-9F-C2-1A-00-02")).status_code == 202
    assert feeds.AP2 in feeds.readings(feeds.PHONE)


def test_find3_basic_auth_password_is_the_token(feeds):
    import base64

    creds = base64.b64encode(f"scanner:{feeds.token}".encode()).decode()
    assert feeds.find3(feeds.passive(), headers={"Authorization": f"Basic {creds}"}).status_code == 202
    bad = base64.b64encode(b"scanner:wrong").decode()
    assert feeds.find3(feeds.passive(), headers={"Authorization": f"Basic {bad}"}).status_code == 401


def test_find3_accepts_a_plain_text_content_type(feeds):
    import json

    assert feeds.find3(json.dumps(feeds.passive()), content_type="text/plain").status_code == 202


# ---- native and common -------------------------------------------------------------------------


def test_native_associated_flag(feeds):
    body = {"ap": feeds.AP1, "observations": [
        {"client": feeds.PHONE, "rssi": -50, "ts": time.time(), "associated": True}]}
    assert feeds.native(body).status_code == 202
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE), time.time()) is True


def test_randomised_macs_are_accepted_by_every_format(feeds):
    laa = "da:a1:19:00:00:01"
    assert feeds.openwrt(feeds.event(address=laa)).status_code == 202
    assert feeds.find3(feeds.passive(wifi={laa: -60})).status_code == 202
    assert feeds.meraki(feeds.v2(client=laa)).status_code == 202
    assert feeds.meraki(feeds.v3(client=laa)).status_code == 202
    assert len(feeds.readings(laa)) >= 3


def test_raw_macs_never_reach_the_store(feeds):
    macs = [feeds.PHONE, feeds.PHONE2, "11:22:33:44:55:66", "70:4d:7b:11:3a:c8"]
    feeds.openwrt(feeds.event())
    feeds.find3(feeds.passive())
    feeds.meraki(feeds.v2())
    feeds.meraki(feeds.v3())
    variants = set()
    for mac in macs:
        variants |= {mac, mac.replace(":", ""), mac.upper(), mac.replace(":", "-")}
    dump = []
    for key in feeds.db.scan_iter():
        dump.append(key)
        kind = feeds.db.type(key)
        if kind == b"zset":
            dump += feeds.db.zrange(key, 0, -1)
        elif kind == b"hash":
            for k, v in feeds.db.hgetall(key).items():
                dump += [k, v]
        elif kind == b"string":
            dump.append(feeds.db.get(key))
        elif kind == b"set":
            dump += list(feeds.db.smembers(key))
    blob = b"\n".join(dump).decode(errors="replace").lower()
    assert not [v for v in variants if v.lower() in blob]


def test_raw_macs_never_reach_the_logs(feeds, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    feeds.openwrt(feeds.event())
    feeds.openwrt(feeds.event(signal=5))
    feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": 9, "ts": time.time()}]})
    assert feeds.PHONE not in caplog.text


@pytest.mark.parametrize(("value", "expected"), [
    (1732400000, 1732400000.0), (1732400000500, 1732400000.5), ("2019-11-28T14:27:46Z", 1574951266.0),
    ("2019-11-28T14:27:46.250+00:00", 1574951266.25),
])
def test_parse_time(value, expected):
    assert parse_time(value, "t") == expected


@pytest.mark.parametrize("value", ["2019-11-28T14:27:46", "yesterday", "", True, None, float("inf"), [1]])
def test_parse_time_rejects(value):
    with pytest.raises(ReportError):
        parse_time(value, "t")


def test_find3_scanner_names_follow_the_map(feeds, svc):
    assert feeds.find3(feeds.passive(device="ap-g01")).status_code == 202  # case-insensitive
    venue_map = svc.venues.get_map("demo")
    venue_map.aps[0].name = "Pi-Entrance"
    svc.venues.put_map(venue_map)  # a new map version: the scanner's new name is known at once
    assert feeds.find3(feeds.passive(device="pi-entrance")).status_code == 202
    assert feeds.find3(feeds.passive(device="AP-G01")).status_code == 422


def test_meraki_v3_network_sized_post(feeds):
    """One v3 POST carries the whole network: 3,000 clients x 8 APs (stored in several chunks)."""
    base = feeds.v3()
    template = base["data"]["observations"][0]
    observations = []
    for i in range(3000):
        obs = {**template, "clientMac": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"}
        obs["locations"] = [{**template["locations"][0], "rssiRecords": [
            {"apMac": f"f0:9f:c2:1a:00:{a + 1:02x}", "rssi": -40 - a - i % 7} for a in range(8)]}]
        observations.append(obs)
    base["data"]["observations"] = observations
    resp = feeds.meraki(base)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 24_000}
    assert len(feeds.readings("02:00:00:00:0b:b7")) == 8
    assert sum(1 for _ in feeds.db.scan_iter(match="mp:{demo}:rssi:*", count=1000)) == 3000


def test_openwrt_events_as_ubus_subscribe_prints_them(feeds):
    """`ubus subscribe hostapd.wlan0` prints `{ "probe": {...} }` (openwrt/ubus cli.c print_event): taken as it
    is, one event (with the relay's bssid beside it) or a batch of them; the name is the event's type."""
    probe = {"address": feeds.PHONE, "target": "f0:9f:c2:1a:00:01", "signal": -61, "freq": 2437}
    assert feeds.openwrt({"bssid": feeds.AP1, "probe": probe}).get_json() == {"accepted": 1}
    assoc = {"address": feeds.PHONE2, "signal": -55, "freq": 5180}
    resp = feeds.openwrt({"bssid": feeds.AP1, "events": [{"assoc": assoc}, {"probe": {**probe, "signal": -60}}]})
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 2}
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE2), time.time()) is True


def test_openwrt_notifications_without_a_reading_are_ignored_not_errors(feeds):
    """hostapd adds `signal` only when the driver knows it, and sends other notifications on the same object
    (disassoc, beacon-report, vlan_add): those are counted as ignored; the batch's readings are stored."""
    events = [{"type": "probe", "address": feeds.PHONE, "signal": -61},
              {"type": "assoc", "address": feeds.PHONE2},  # no signal
              {"type": "disassoc", "address": feeds.PHONE2},
              {"beacon-report": {"address": feeds.PHONE2, "rcpi": 90}}]
    resp = feeds.openwrt({"bssid": feeds.AP1, "events": events})
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1, "ignored": 3}
    assert feeds.readings(feeds.PHONE) and not feeds.readings(feeds.PHONE2)


def test_openwrt_a_malformed_event_beside_ignored_ones_is_still_a_422(feeds):
    """Skipping is for notifications without a reading, not for broken ones: an event without `address`
    (or with a bad one) is an error, and nothing of the batch is stored."""
    events = [{"type": "disassoc", "address": feeds.PHONE2}, {"type": "probe", "address": feeds.PHONE, "signal": -61},
              {"type": "probe", "rssi": -61}]
    resp = feeds.openwrt({"bssid": feeds.AP1, "events": events})
    assert resp.status_code == 422 and resp.get_json()["field"] == "events[2].address"
    assert feeds.nothing_stored()
    assert feeds.openwrt({"bssid": feeds.AP1, "probe": {"address": "garbage"}}).status_code == 422


def test_openwrt_a_ubus_line_with_the_relays_time(feeds):
    at = time.time() - 5
    body = {"bssid": feeds.AP1, "ts": at, "probe": {"address": feeds.PHONE, "signal": -61, "freq": 2437}}
    assert feeds.openwrt(body).get_json() == {"accepted": 1}
    assert [ts for ts, _ in feeds.readings(feeds.PHONE)[feeds.AP1]] == [pytest.approx(at)]


def test_openwrt_get_clients_answer_reports_the_associated_stations(feeds):
    """`ubus call hostapd.wlan0 get_clients`, polled by the relay with the interface's BSSID beside it: each associated
    station with a `signal` is a reading of an associated client; one not associated yet, or without a signal, is
    skipped and counted (openwrt hostapd ubus.c `hostapd_bss_get_clients`)."""
    at = time.time() - 2
    body = {"bssid": feeds.AP2, "ts": at, "freq": 5180, "clients": {
        feeds.PHONE: {"auth": True, "assoc": True, "authorized": True, "signal": -52, "aid": 1,
                      "rate": {"rx": 866700, "tx": 780000}, "bytes": {"rx": 1234, "tx": 5678}},
        feeds.PHONE2: {"auth": True, "assoc": False, "signal": -80},  # authenticated, not associated
        "02:00:5e:00:53:99": {"auth": True, "assoc": True},  # the driver did not say its signal
    }}
    resp = feeds.openwrt(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1, "ignored": 2}
    assert feeds.readings(feeds.PHONE)[feeds.AP2] == [(pytest.approx(at), -52.0)]
    assert feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(feeds.PHONE), time.time()) is True
    assert not feeds.readings(feeds.PHONE2)


@pytest.mark.parametrize("clients, field", [
    ([{"signal": -52}], "clients"),  # a list, not hostapd's object by MAC
    ({"not-a-mac": {"signal": -52}}, "clients[0]"),  # a station by its position: the key is a raw MAC
    ({"02:00:5e:00:53:01": {"signal": "loud"}}, "clients[0].signal"),
    ({"02:00:5e:00:53:01": -52}, "clients[0]"),
])
def test_openwrt_a_malformed_get_clients_answer_is_a_422_naming_the_field(feeds, clients, field):
    resp = feeds.openwrt({"bssid": feeds.AP1, "clients": clients})
    assert resp.status_code == 422 and resp.get_json()["field"] == field
    assert feeds.nothing_stored()


def test_openwrt_a_refused_station_is_named_by_its_position_never_its_mac(feeds, caplog):
    """get_clients keys its stations by their raw MAC: the error names the second station `clients[1]`, so no MAC is
    in the answer (nor in what is logged of it), as FIND3's `s.wifi[i]`."""
    mac = "02:00:5e:00:53:77"
    resp = feeds.openwrt({"bssid": feeds.AP1, "clients": {feeds.PHONE: {"assoc": True, "signal": -52},
                                                          mac: {"assoc": True, "signal": "loud"}}})
    assert resp.status_code == 422 and resp.get_json()["field"] == "clients[1].signal"
    said = resp.get_data(as_text=True) + caplog.text
    assert all(m not in said.lower() for m in (mac, feeds.PHONE.lower(), "5e:00:53", "5e0053"))
    assert feeds.nothing_stored()
