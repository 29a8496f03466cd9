"""A field the vendor's schema makes optional, missing or null in one entry of a Mist or Meraki v3 message, costs
that entry alone: it is counted as `ignored` and the message's other readings are stored (as OpenWrt's events
without `signal` and Mist's events without packets are). A malformed value is still a 422 that stores nothing."""

from __future__ import annotations

import time

import pytest

from tests.ingest.test_ingest_mist import post

OTHER_PHONE = "38:f9:d3:99:08:70"


def post_mist(feeds, body):
    return post(feeds.client, body)


def mist_event(feeds, **fields):
    return {"ap_id": feeds.AP1.replace(":", "-"), "client_id": feeds.PHONE, "packets": [{"band": "5", "rssi": -70}],
            **fields}


@pytest.mark.parametrize("odd", [
    {"packets": [{"band": "24"}]},  # a packet without rssi (mistapi: Rssi *int, Optional)
    {"packets": [{"band": "24", "rssi": None}]},
    {"client_id": None},
    {"ap_id": None},
], ids=["packet-without-rssi", "null-rssi", "null-client", "null-ap"])
def test_mist_event_missing_an_optional_field_is_ignored(mist, odd):
    resp = post_mist(mist, {"topic": "wifi-unconn-raw",
                            "events": [mist_event(mist), mist_event(mist, **{"client_id": OTHER_PHONE, **odd})]})
    assert resp.status_code == 200 and resp.get_json() == {"accepted": 1, "ignored": 1}
    assert list(mist.readings(mist.PHONE)) == [mist.AP1]
    assert not mist.readings(OTHER_PHONE)


@pytest.mark.parametrize("name", ["client_id", "ap_id"])
def test_mist_event_without_an_id_is_ignored(mist, name):
    odd = mist_event(mist, client_id=OTHER_PHONE)
    del odd[name]
    resp = post_mist(mist, {"topic": "wifi-conn-raw", "events": [mist_event(mist), odd]})
    assert resp.status_code == 200 and resp.get_json() == {"accepted": 1, "ignored": 1}


def test_mist_packets_without_rssi_beside_ones_with_it(mist):
    packets = [{"band": "24"}, {"band": "5", "rssi": -60}, {"band": "5", "rssi": None}, {"band": "5", "rssi": -64}]
    resp = post_mist(mist, {"topic": "wifi-unconn-raw", "events": [mist_event(mist, packets=packets)]})
    assert resp.get_json() == {"accepted": 1}
    assert mist.readings(mist.PHONE)[mist.AP1][0][1] == -62  # the median of the two that have one


def test_mist_a_bad_value_beside_missing_ones_is_still_a_422(mist):
    odd = mist_event(mist, client_id="not a mac", packets=[{"band": "24"}])
    resp = post_mist(mist, {"topic": "wifi-unconn-raw", "events": [mist_event(mist), odd]})
    assert resp.status_code == 422 and resp.get_json()["field"] == "events[1].client_id"
    assert mist.nothing_stored()


def v3_with(feeds, odd_client: dict) -> dict:
    body = feeds.v3()
    body["data"]["observations"].append({"clientMac": OTHER_PHONE, "ssid": None, **odd_client})
    return body


GOOD_V3_APS = {"aa:aa:aa:11:11:11", "aa:aa:aa:22:22:22", "aa:aa:aa:33:33:33", "aa:aa:aa:44:44:44"}


@pytest.mark.parametrize("rssi_records", ["missing", None])
def test_meraki_v3_location_without_rssi_records_is_ignored(feeds, rssi_records):
    location = {"time": feeds.iso(time.time() - 10), "nearestApMac": "aa:aa:aa:11:11:11", "x": 1, "y": 2}
    if rssi_records is None:
        location["rssiRecords"] = None
    resp = feeds.meraki(v3_with(feeds, {"locations": [location]}))
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 4, "ignored": 1}
    assert set(feeds.readings("11:22:33:44:55:66")) == GOOD_V3_APS
    assert not feeds.readings(OTHER_PHONE)


def test_meraki_v3_location_without_records_falls_back_to_latest_record(feeds):
    location = {"time": feeds.iso(time.time() - 10)}
    latest = {"time": feeds.iso(time.time() - 5), "nearestApMac": "aa:aa:aa:22:22:22", "nearestApRssi": -60}
    resp = feeds.meraki(v3_with(feeds, {"locations": [location], "latestRecord": latest}))
    assert resp.get_json() == {"accepted": 5, "ignored": 1}
    assert feeds.readings(OTHER_PHONE)["aa:aa:aa:22:22:22"][0][1] == -60


@pytest.mark.parametrize("latest", [
    {"time": None, "nearestApMac": None, "nearestApRssi": None},
    {"nearestApMac": "aa:aa:aa:11:11:11", "nearestApRssi": "-47"},
    {"time": "NOW", "nearestApMac": None, "nearestApRssi": "-47"},
    {"time": "NOW", "nearestApMac": "aa:aa:aa:11:11:11"},
], ids=["all-null", "no-time", "null-ap", "no-rssi"])
def test_meraki_v3_incomplete_latest_record_is_ignored(feeds, latest):
    latest = {k: feeds.iso(time.time() - 5) if v == "NOW" else v for k, v in latest.items()}
    resp = feeds.meraki(v3_with(feeds, {"locations": [], "latestRecord": latest}))
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 4, "ignored": 1}
    assert not feeds.readings(OTHER_PHONE)


@pytest.mark.parametrize(("latest", "field"), [
    ({"time": None, "nearestApMac": "ap-1", "nearestApRssi": None}, "nearestApMac"),
    ({"time": "yesterday", "nearestApMac": None, "nearestApRssi": None}, "time"),
    ({"time": None, "nearestApMac": None, "nearestApRssi": "loud"}, "nearestApRssi"),
    ({"time": None, "nearestApMac": None, "nearestApRssi": True}, "nearestApRssi"),
])
def test_meraki_v3_a_bad_value_in_an_incomplete_latest_record_is_still_a_422(feeds, latest, field):
    resp = feeds.meraki(v3_with(feeds, {"locations": [], "latestRecord": latest}))
    assert resp.status_code == 422 and resp.get_json()["field"] == f"data.observations[1].latestRecord.{field}"
    assert feeds.nothing_stored()
