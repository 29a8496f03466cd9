"""The native report endpoint: accepted reports are stored; every bad input is a clear 4xx that
stores nothing."""

from __future__ import annotations

import json
import time

import pytest

from portal.ingest.store import RssiKeys

PHONE = "02:00:5e:00:53:aa"
AP = "f0:9f:c2:1a:00:01"


def report(rssi=-67, ts=None, client=PHONE, ap=AP):
    return {"ap": ap, "observations": [{"client": client, "rssi": rssi, "ts": ts or time.time()}]}


def post(client, body, token, venue="demo", **kw):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(f"/api/v1/venues/{venue}/reports", data=data, headers=headers,
                       content_type=kw.get("content_type", "application/json"))


def stored_keys(db):
    return [k for k in db.scan_iter(match="mp:{demo}:rssi:*")]


def test_report_is_stored_under_hashed_client(client, demo, svc, db):
    resp = post(client, report(), demo)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1}
    client_id = svc.hasher.client_id(PHONE)
    readings = svc.rssi.readings("demo", client_id, time.time())
    assert list(readings) == [AP] and readings[AP][0][1] == -67.0
    # the raw MAC is nowhere in the store
    for key in db.scan_iter():
        # the MAC in either notation (not a fragment of it: keys carry epoch times, e.g. ...:1796210200)
        assert PHONE not in key.decode() and PHONE.replace(":", "") not in key.decode().lower()
        if db.type(key) == b"zset":
            assert all(PHONE not in m.decode() for m in db.zrange(key, 0, -1))


def test_batch_from_several_aps(client, demo, svc):
    body = {"reports": [report(ap=AP), report(rssi=-80, ap="f0:9f:c2:1a:00:02")]}
    assert post(client, body, demo).get_json() == {"accepted": 2}
    readings = svc.rssi.readings("demo", svc.hasher.client_id(PHONE), time.time())
    assert set(readings) == {AP, "f0:9f:c2:1a:00:02"}


def test_duplicate_observations_count_once(client, demo):
    ts = time.time()
    body = {"ap": AP, "observations": [{"client": PHONE, "rssi": -60, "ts": ts}] * 3}
    assert post(client, body, demo).get_json() == {"accepted": 1}


def test_randomised_mac_is_accepted(client, demo):
    assert post(client, report(client="da:a1:19:00:00:01"), demo).status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ("{not json", 400, "$"),
        ('{"ap": "f0:9f:c2:1a:00:01", "observations": [', 400, "$"),
        ([1, 2], 422, "$"),
        ({"observations": []}, 422, "ap"),
        ({"ap": "zz:zz", "observations": []}, 422, "ap"),
        ({"ap": AP}, 422, "observations"),
        ({"ap": AP, "observations": [{"rssi": -50, "ts": 1}]}, 422, "observations[0].client"),
        (lambda: {"ap": AP, "observations": [{"client": "nope", "rssi": -50, "ts": time.time()}]}, 422,
         "observations[0].client"),
        (lambda: report(rssi=5), 422, "observations[0].rssi"),
        (lambda: report(rssi=-121), 422, "observations[0].rssi"),
        (lambda: report(rssi="-60"), 422, "observations[0].rssi"),
        (lambda: report(rssi=True), 422, "observations[0].rssi"),
        (lambda: report(ts=time.time() + 3600), 422, "observations[0].ts"),
        (report(ts=1000.0), 422, "observations[0].ts"),
        ({"reports": []}, 422, "reports"),
        (lambda: {"reports": [report(), {"ap": AP, "observations": [{"client": PHONE, "rssi": 9, "ts": 1}]}]}, 422,
         "reports[1].observations[0].rssi"),
    ],
)
def test_bad_reports_are_rejected_whole(client, demo, db, body, status, field):
    # Bodies with timestamps are built when the test runs, not when it is collected: on a busy machine
    # minutes pass in between, and a reading that old is refused for its age, not for what the case tests.
    resp = post(client, body() if callable(body) else body, demo)
    assert resp.status_code == status
    payload = resp.get_json()
    assert payload["error"] and payload.get("field") == field
    assert stored_keys(db) == []


def test_non_json_content_type(client, demo, db):
    assert post(client, "ap=1", demo, content_type="text/plain").status_code == 415
    assert stored_keys(db) == []


def test_oversized_body_is_413(client, demo, db, app):
    big = json.dumps({"ap": AP, "observations": [], "pad": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    resp = post(client, big, demo)
    assert resp.status_code == 413 and "error" in resp.get_json()
    assert stored_keys(db) == []


def test_too_many_observations(demo, db, settings):
    from portal import create_app

    small = create_app(settings.with_(max_observations=10)).test_client()
    body = {"ap": AP, "observations": [{"client": PHONE, "rssi": -60, "ts": time.time() - i * 1e-3}
                                         for i in range(11)]}
    resp = post(small, body, demo)
    assert resp.status_code == 422 and resp.get_json()["field"] == "observations"
    assert stored_keys(db) == []


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_wrong_or_missing_token_is_401(client, demo, db, token):
    resp = post(client, report(), token)
    assert resp.status_code == 401 and "token" in resp.get_json()["error"]
    assert stored_keys(db) == []


def test_token_of_another_venue_cannot_report_here(client, demo, svc, demo_map, db):
    import copy

    other = copy.deepcopy(demo_map)
    other.id = "other"
    svc.venues.put_map(other)
    other_token = svc.tokens.issue("other", "other-controller")
    assert post(client, report(), other_token, venue="demo").status_code == 401
    assert post(client, report(), demo, venue="other").status_code == 401
    assert post(client, report(), other_token, venue="other").status_code == 202
    assert stored_keys(db) == []  # nothing in demo


def test_an_unknown_venue_is_a_401_as_a_known_one_without_a_valid_token(client, demo):
    """A stranger cannot tell a venue that exists from one that does not: both are a 401, the same body."""
    for token in (None, "not-a-token"):
        unknown, known = post(client, report(), token, venue="nowhere"), post(client, report(), token)
        assert unknown.status_code == known.status_code == 401 and unknown.get_json() == known.get_json()
        assert unknown.headers.getlist("WWW-Authenticate") == known.headers.getlist("WWW-Authenticate")
    resp = post(client, report(), demo, venue="nowhere")  # a token is valid for its own venue only
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "missing or invalid bearer token for this venue", "field": None}


def test_readings_expire_and_slide(svc, demo, db):
    from portal.ingest.observation import Observation

    now = time.time()
    client_id = svc.hasher.client_id(PHONE)
    old = Observation(client_id, AP, -70.0, now - 120)
    new = Observation(client_id, AP, -60.0, now)
    svc.rssi.write("demo", [old, new], now)
    assert svc.rssi.readings("demo", client_id, now) == {AP: [(round(now, 3), -60.0)]}
    assert 0 < db.ttl(RssiKeys("demo").readings(client_id)) <= svc.settings.rssi_window_s * 2
