"""Bad input for every format, and who may call: a clear 4xx naming the field, nothing stored, never
a 500."""

from __future__ import annotations

import copy
import json
import time

import pytest

PHONE = "02:00:5e:00:53:aa"
AP1 = "f0:9f:c2:1a:00:01"


def set_path(body, path, value):
    """A copy of body with path (a tuple of keys/indices) set to value (or deleted, for DELETE)."""
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


DELETE = object()


def case_ids(cases) -> list[str]:
    """Stable test ids (the JSON path and the case's index): some cases hold times taken at import, and
    pytest-xdist needs every worker to collect the same ids."""
    return [f"{i}-{case[-1]}" for i, case in enumerate(cases)]
OBS2 = ("data", "observations", 0)
LOC = ("data", "observations", 0, "locations", 0)
REC = (*LOC, "rssiRecords", 0)
LATEST = ("data", "observations", 0, "latestRecord")

MERAKI_V2_BAD = [
    ((), [1], 403, "secret"),
    (("type",), "Nope", 422, "type"),
    (("type",), DELETE, 422, "type"),
    (("version",), "3.0", 422, "version"),
    (("version",), [], 422, "version"),
    (("data",), DELETE, 422, "data"),
    (("data",), "x", 422, "data"),
    (("data", "apMac"), DELETE, 422, "data.apMac"),
    (("data", "apMac"), "not-a-mac", 422, "data.apMac"),
    (("data", "observations"), {}, 422, "data.observations"),
    (("data", "observations"), DELETE, 422, "data.observations"),
    (("data", "observations", 0), "x", 422, "data.observations[0]"),
    ((*OBS2, "clientMac"), DELETE, 422, "data.observations[0].clientMac"),
    ((*OBS2, "clientMac"), "11:22", 422, "data.observations[0].clientMac"),
    ((*OBS2, "clientMac"), 7, 422, "data.observations[0].clientMac"),
    ((*OBS2, "rssi"), DELETE, 422, "data.observations[0].rssi"),
    ((*OBS2, "rssi"), "47", 422, "data.observations[0].rssi"),
    ((*OBS2, "rssi"), True, 422, "data.observations[0].rssi"),
    ((*OBS2, "rssi"), 200, 422, "data.observations[0].rssi"),
    ((*OBS2, "rssi"), -130, 422, "data.observations[0].rssi"),
    ((*OBS2, "seenEpoch"), "soon", 422, "data.observations[0].seenEpoch"),
    ((*OBS2, "seenEpoch"), time.time() + 3600, 422, "data.observations[0].seenEpoch"),  # clock skew
    ((*OBS2, "seenEpoch"), 10**400, 422, "data.observations[0].seenEpoch"),
    ((*OBS2, "rssi"), -(10**400), 422, "data.observations[0].rssi"),
]

MERAKI_V3_BAD = [
    (("type",), "wifi", 422, "type"),
    (("data", "observations"), None, 422, "data.observations"),
    (("data", "observations", 0, "locations"), "x", 422, "data.observations[0].locations"),
    ((*LOC, "time"), DELETE, 422, "data.observations[0].locations[0].time"),
    ((*LOC, "time"), "2019-11-28 14:27", 422, "data.observations[0].locations[0].time"),
    ((*LOC, "rssiRecords"), {"apMac": "x"}, 422, "data.observations[0].locations[0].rssiRecords"),
    ((*REC, "apMac"), "aa:aa", 422, "data.observations[0].locations[0].rssiRecords[0].apMac"),
    ((*REC, "rssi"), None, 422, "data.observations[0].locations[0].rssiRecords[0].rssi"),
    ((*REC, "rssi"), 101, 422, "data.observations[0].locations[0].rssiRecords[0].rssi"),
    ((*REC, "rssi"), -200, 422, "data.observations[0].locations[0].rssiRecords[0].rssi"),
    ((*LOC, "rssiRecords", 3), "x", 422, "data.observations[0].locations[0].rssiRecords[3]"),
    ((*LATEST, "nearestApRssi"), "loud", 422, "data.observations[0].latestRecord.nearestApRssi"),
    ((*LATEST, "nearestApMac"), "ap-1", 422, "data.observations[0].latestRecord.nearestApMac"),
    (("data", "reportingAps"), {"mac": "aa:aa:aa:11:11:11"}, 422, "data.reportingAps"),
    (("data", "reportingAps"), ["aa:aa:aa:11:11:11"], 422, "data.reportingAps[0]"),
    (("data", "reportingAps"), [{"mac": "aa:aa"}], 422, "data.reportingAps[0].mac"),
]


@pytest.mark.parametrize(("path", "value", "status", "field"), MERAKI_V2_BAD, ids=case_ids(MERAKI_V2_BAD))
def test_meraki_v2_bad_input(feeds, path, value, status, field):
    body = feeds.v2() if path else value
    if path:
        body = set_path(body, path, value)
    resp = feeds.meraki(body)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"] and resp.get_json()["field"] == field
    assert feeds.nothing_stored()


@pytest.mark.parametrize(("path", "value", "status", "field"), MERAKI_V3_BAD, ids=case_ids(MERAKI_V3_BAD))
def test_meraki_v3_bad_input(feeds, path, value, status, field):
    resp = feeds.meraki(set_path(feeds.v3(), path, value))
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field
    assert feeds.nothing_stored()


def test_meraki_latest_record_is_validated_even_when_unused(feeds):
    body = set_path(feeds.v3(), (*LATEST, "time"), feeds.iso(time.time() + 3600))
    resp = feeds.meraki(body)
    assert resp.status_code == 422 and resp.get_json()["field"] == "data.observations[0].latestRecord.time"
    assert feeds.nothing_stored()


def test_one_bad_client_rejects_the_whole_meraki_post(feeds):
    body = feeds.v3()
    good = body["data"]["observations"][0]
    bad = copy.deepcopy(good)
    bad["clientMac"] = "zz"
    body["data"]["observations"] = [good, good, bad]
    resp = feeds.meraki(body)
    assert resp.status_code == 422 and resp.get_json()["field"] == "data.observations[2].clientMac"
    assert feeds.nothing_stored()


@pytest.mark.parametrize("secret", ["wrong", "", None, 42, "supersecre", "supersecret "])
def test_meraki_wrong_secret_is_403(feeds, secret):
    body = feeds.v2(secret=secret)
    if secret is None:
        del body["secret"]
    resp = feeds.meraki(body)
    assert resp.status_code == 403 and resp.get_json()["field"] == "secret"
    assert feeds.nothing_stored()


def test_meraki_secret_of_another_venue_cannot_report_here(feeds, other_venue):
    assert feeds.meraki(feeds.v2(secret="other-secret")).status_code == 403
    assert feeds.meraki(feeds.v2(), venue="other").status_code == 403
    assert feeds.meraki(feeds.v2(secret="other-secret"), venue="other").status_code == 202
    assert feeds.nothing_stored("demo")
    assert not feeds.nothing_stored("other")


def test_meraki_unconfigured_network_is_404(feeds):
    resp = feeds.meraki(feeds.v2(), network="elsewhere")
    assert resp.status_code == 404 and "Meraki" in resp.get_json()["error"]


def test_meraki_body_limit(feeds, settings):
    from portal import create_app

    small = create_app(settings.with_(max_meraki_bytes=50_000)).test_client()
    body = feeds.v2()
    body["pad"] = "x" * 50_000
    resp = small.post("/api/v1/venues/demo/meraki/main", json=body)
    assert resp.status_code == 413 and resp.get_json()["field"] == "$"
    assert feeds.nothing_stored()


def test_meraki_may_be_larger_than_the_native_limit(feeds, app):
    body = feeds.v2()
    body["pad"] = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert feeds.meraki(body).status_code == 202


# ---- OpenWrt -----------------------------------------------------------------------------------

EV = ("events", 0)


def openwrt_batch(ts=None):
    return {"bssid": AP1, "events": [{"type": "probe", "address": PHONE, "signal": -61, "freq": 2437,
                                      "ts": ts or time.time()}]}


OPENWRT_BAD = [
    (("bssid",), DELETE, "bssid"),
    (("bssid",), "wlan0", "bssid"),
    (("events",), {}, "events"),
    (EV, [], "events[0]"),
    ((*EV, "address"), DELETE, "events[0].address"),
    ((*EV, "address"), "02:00:5e:00:53", "events[0].address"),
    ((*EV, "signal"), "-61", "events[0].signal"),
    ((*EV, "type"), 7, "events[0].type"),
    (EV, {"probe": {"address": "x", "signal": -60}}, "events[0].probe.address"),
    ((*EV, "signal"), 12, "events[0].signal"),
    ((*EV, "signal"), -300, "events[0].signal"),
    ((*EV, "freq"), "2437", "events[0].freq"),
    ((*EV, "freq"), 24, "events[0].freq"),
    ((*EV, "ts"), "now", "events[0].ts"),
    ((*EV, "ts"), time.time() + 3600, "events[0].ts"),
    ((*EV, "ts"), 1000, "events[0].ts"),
    ((*EV, "ts"), 10**400, "events[0].ts"),
    ((*EV, "signal"), 10**400, "events[0].signal"),
]


@pytest.mark.parametrize(("path", "value", "field"), OPENWRT_BAD, ids=case_ids(OPENWRT_BAD))
def test_openwrt_bad_input(feeds, path, value, field):
    resp = feeds.openwrt(set_path(openwrt_batch(), path, value))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == field
    assert feeds.nothing_stored()


@pytest.mark.parametrize(("path", "value", "field"), [
    (("address",), DELETE, "address"), (("signal",), None, "signal"), (("type",), 1, "type"),
])
def test_openwrt_bad_single_event(feeds, path, value, field):
    resp = feeds.openwrt(set_path(feeds.event(), path, value))
    assert resp.status_code == 422 and resp.get_json()["field"] == field
    assert feeds.nothing_stored()


# ---- FIND3 -------------------------------------------------------------------------------------

FIND3_BAD = [
    (("d",), DELETE, "d"),
    (("d",), "", "d"),
    (("d",), "kitchen-pi", "d"),  # not a BSSID and no AP of that name
    (("d",), 5, "d"),
    (("f",), DELETE, "f"),
    (("f",), ["x"], "f"),
    (("t",), DELETE, "t"),
    (("t",), "1520424248897", "t"),
    (("t",), 1, "t"),  # a FIND3 learning-control message (t:=1)
    (("t",), (time.time() + 3600) * 1000, "t"),
    (("t",), 10**400, "t"),
    (("s",), DELETE, "s"),
    (("s",), [], "s"),
    (("s", "wifi"), [], "s.wifi"),
    (("s", "wifi"), {"not-a-mac": -50}, "s.wifi[0]"),
    (("s", "wifi"), {PHONE: -50, "70:4d:7b:11:3a:c8": "-81"}, "s.wifi[1]"),
    (("s", "wifi"), {PHONE: 3}, "s.wifi[0]"),
]


@pytest.mark.parametrize(("path", "value", "field"), FIND3_BAD, ids=case_ids(FIND3_BAD))
def test_find3_bad_input(feeds, path, value, field):
    resp = feeds.find3(set_path(feeds.passive(), path, value))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == field
    assert feeds.nothing_stored()


def test_find3_error_does_not_echo_the_mac(feeds):
    resp = feeds.find3(feeds.passive(wifi={PHONE: 30}))
    assert PHONE not in resp.get_data(as_text=True)


# ---- common to the token formats ---------------------------------------------------------------

TOKEN_FORMATS = ["native", "openwrt", "find3"]


def valid(feeds, fmt):
    if fmt == "native":
        return {"ap": AP1, "observations": [{"client": PHONE, "rssi": -60, "ts": time.time()}]}
    return feeds.event() if fmt == "openwrt" else feeds.passive()


@pytest.mark.parametrize("fmt", TOKEN_FORMATS)
@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_missing_or_wrong_token_is_401(feeds, fmt, token):
    resp = getattr(feeds, fmt)(valid(feeds, fmt), token=token)
    assert resp.status_code == 401 and "token" in resp.get_json()["error"]
    assert feeds.nothing_stored()


@pytest.mark.parametrize("fmt", TOKEN_FORMATS)
def test_token_of_another_venue(feeds, other_venue, fmt):
    post = getattr(feeds, fmt)
    assert post(valid(feeds, fmt), token=other_venue).status_code == 401
    assert post(valid(feeds, fmt), venue="other").status_code == 401
    assert post(valid(feeds, fmt), token=other_venue, venue="other").status_code == 202
    assert feeds.nothing_stored("demo")


@pytest.mark.parametrize("fmt", TOKEN_FORMATS)
def test_an_unknown_venue_is_a_401_before_anything_else(feeds, fmt):
    """A token is checked before the venue: a token-less caller cannot confirm which venues exist."""
    resp = getattr(feeds, fmt)(valid(feeds, fmt), venue="nowhere")
    assert resp.status_code == 401 and resp.get_json()["field"] is None


def test_a_meraki_receiver_of_an_unknown_venue_is_an_unknown_network(feeds):
    """The receiver URL is public (the validator GET): an unknown venue is answered as an unknown network of a
    venue that exists, so neither tells which venues there are."""
    unknown_venue = feeds.meraki(feeds.v2(), venue="nowhere", network="main")
    unknown_network = feeds.meraki(feeds.v2(), network="nowhere")
    assert unknown_venue.status_code == unknown_network.status_code == 404
    assert unknown_venue.get_json()["field"] is None
    assert "unknown venue" not in unknown_venue.get_json()["error"]


@pytest.mark.parametrize("fmt", [*TOKEN_FORMATS, "meraki"])
@pytest.mark.parametrize("raw", ["{not json", '{"bssid": "f0:9f:c2:1a:00:01", "events": [', "", "\xff\xfe",
                                 "[" * 100_000 + "]" * 100_000, "NaN"])
def test_malformed_or_truncated_json(feeds, fmt, raw):
    data = raw.encode("latin-1") if raw == "\xff\xfe" else raw
    resp = getattr(feeds, fmt)(data)
    assert 400 <= resp.status_code < 500
    assert resp.get_json()["error"] and resp.get_json()["field"]
    assert feeds.nothing_stored()


@pytest.mark.parametrize("fmt", ["native", "openwrt"])
def test_json_content_type_is_required(feeds, fmt):
    resp = getattr(feeds, fmt)(json.dumps(valid(feeds, fmt)), content_type="text/plain")
    assert resp.status_code == 415
    assert feeds.nothing_stored()


@pytest.mark.parametrize("fmt", TOKEN_FORMATS)
def test_body_limit(feeds, app, fmt):
    body = valid(feeds, fmt)
    body["pad"] = "x" * app.config["MAX_CONTENT_LENGTH"]
    resp = getattr(feeds, fmt)(body)
    assert resp.status_code == 413 and resp.get_json()["error"]
    assert feeds.nothing_stored()


def test_too_many_observations_in_every_format(demo, db, settings):
    from portal import create_app
    from portal.ingest.meraki import MerakiStore

    small = create_app(settings.with_(max_observations=3, max_meraki_observations=3)).test_client()
    MerakiStore(db).configure("demo", "main", "v", "s3cret")
    hdr = {"Authorization": f"Bearer {demo}"}
    now = time.time()
    macs = [f"02:00:00:00:00:{i:02x}" for i in range(4)]
    cases = [
        ("/api/v1/venues/demo/openwrt", hdr, {"bssid": AP1, "events": [
            {"address": m, "signal": -50, "ts": now} for m in macs]}, "events"),
        ("/api/v1/venues/demo/find3/passive", hdr, {"d": AP1, "f": "x", "t": now * 1000,
                                                    "s": {"wifi": {m: -50 for m in macs}}}, "s.wifi"),
        ("/api/v1/venues/demo/meraki/main", {}, {"secret": "s3cret", "type": "DevicesSeen", "data": {
            "apMac": AP1, "observations": [{"clientMac": m, "rssi": 40, "seenEpoch": now} for m in macs]}},
         "data.observations"),
    ]
    for url, headers, body, field in cases:
        resp = small.post(url, json=body, headers=headers)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (url, resp.get_json())
    assert list(db.scan_iter(match="mp:{demo}:rssi:*")) == []


def test_duplicates_count_once_in_every_format(feeds):
    ev = feeds.event(ts=time.time())
    assert feeds.openwrt({"bssid": ev["bssid"], "events": [ev, ev]}).get_json() == {"accepted": 1}
    body = feeds.v3()
    body["data"]["observations"] *= 2
    assert feeds.meraki(body).get_json() == {"accepted": 4}
    body = feeds.v2()
    body["data"]["observations"] *= 3
    assert feeds.meraki(body).get_json() == {"accepted": 1}


def test_store_outage_is_503_not_500(feeds, monkeypatch):
    import redis

    def down(*a, **kw):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(feeds.svc.rssi, "write_batch", down)
    resp = feeds.openwrt(feeds.event())
    assert resp.status_code == 503 and resp.get_json()["error"]


@pytest.mark.parametrize("value", [10**400, -(10**400), 1e300, float("inf")])
def test_native_huge_numbers(feeds, value):
    for field in ("rssi", "ts"):
        obs = {"client": PHONE, "rssi": -60, "ts": time.time(), field: value}
        resp = feeds.native({"ap": AP1, "observations": [obs]})
        assert resp.status_code == 422 and resp.get_json()["field"] == f"observations[0].{field}"
    assert feeds.nothing_stored()


def test_meraki_late_readings_are_skipped_and_counted_not_the_whole_post(feeds):
    """Meraki delivers "typical 1-2 min, not guaranteed" (reference 5.1): a reading too old to position with is
    skipped and counted, and the post's fresh readings are stored; a malformed or future time is still a 422."""
    v2 = feeds.v2()
    late = {**v2["data"]["observations"][0], "clientMac": feeds.PHONE, "seenEpoch": 1474675583,  # the doc's 2016
            "seenTime": "2016-09-24T00:06:23Z"}
    v2["data"]["observations"].append(late)
    resp = feeds.meraki(v2)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1, "stale": 1}
    assert feeds.readings(feeds.PHONE2) and not feeds.readings(feeds.PHONE)
    v3 = feeds.v3()
    old = {**v3["data"]["observations"][0], "clientMac": feeds.PHONE}
    old["locations"] = [{**old["locations"][0], "time": "2019-11-28T14:27:46Z"}]
    v3["data"]["observations"].append(old)
    resp = feeds.meraki(v3)
    assert resp.status_code == 202 and resp.get_json()["stale"] == len(old["locations"][0]["rssiRecords"])
    assert resp.get_json()["accepted"] >= 1


def test_meraki_a_late_reading_beside_a_malformed_one_is_still_a_422(feeds):
    body = feeds.v2(ts=1474675583)
    body["data"]["observations"].append({**body["data"]["observations"][0], "rssi": "loud"})
    resp = feeds.meraki(body)
    assert resp.status_code == 422 and resp.get_json()["field"] == "data.observations[1].rssi"
    assert feeds.nothing_stored()


def test_meraki_all_late_is_accepted_with_nothing_stored(feeds):
    resp = feeds.meraki(feeds.v2(ts=1474675583))
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 0, "stale": 1}
    # no reading; only that the post's AP reported (v2 is one AP's post: alive, its readings late)
    stored = feeds.stored()
    assert set(stored) == {"ap_last", "ap_reach", "ap_unknown", "feed_since"} and stored["ap_reach"] == ()
    assert [ap for ap, _ in stored["ap_unknown"]] == [b"00:18:0a:13:dd:b0"]  # not in the demo map
