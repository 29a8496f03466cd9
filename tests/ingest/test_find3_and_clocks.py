"""FIND3's scanner reads its server's {"success": bool, "message": str}: our FIND3 answers carry both (status
codes as before). A reading timed ahead of now (a source's clock running fast, within MAX_CLOCK_SKEW_S) is stored
as now: it was heard by now at the latest, and a future time would outrank fresher readings in the window."""

from __future__ import annotations

import time

import pytest

FIND3_URL = "/api/v1/venues/demo/find3/passive"


def test_find3_accepted_post_says_success(feeds):
    resp = feeds.find3(feeds.passive())
    assert resp.status_code == 202
    assert resp.get_json() == {"success": True, "message": "accepted 2 readings", "accepted": 2}


@pytest.mark.parametrize(("token", "body", "status", "field"), [
    ("good", {"d": "nowhere", "f": "mall", "t": 1, "s": {}}, 422, "d"),
    ("wrong-token", {}, 401, None),
    ("good", b"{not json", 400, "$"),
], ids=["bad-field", "bad-token", "not-json"])
def test_find3_errors_say_no_success_and_why(feeds, token, body, status, field):
    resp = feeds.find3(body, token=feeds.token if token == "good" else token)
    data = resp.get_json()
    assert resp.status_code == status and data["success"] is False
    assert data["error"] and data["message"].endswith(data["error"])
    assert data.get("field") == field and (field is None or data["message"].startswith(f"{field}: "))


def test_find3_unknown_venue_says_no_success(feeds):
    resp = feeds.find3(feeds.passive(), venue="nowhere")
    assert resp.status_code in (401, 404) and resp.get_json()["success"] is False


def test_other_feeds_answer_as_before(feeds):
    assert feeds.native({"ap": feeds.AP1, "observations": []}).get_json() == {"accepted": 0}
    assert "success" not in feeds.native({"ap": "x", "observations": []}).get_json()


@pytest.mark.parametrize("fmt", ["native", "openwrt", "find3", "meraki"])
def test_a_reading_from_the_future_is_stored_as_now(feeds, svc, fmt):
    ahead = time.time() + 200  # inside MAX_CLOCK_SKEW_S (300 s)
    if fmt == "native":
        resp = feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -50, "ts": ahead}]})
    elif fmt == "openwrt":
        resp = feeds.openwrt(feeds.event(ts=ahead))
    elif fmt == "find3":
        resp = feeds.find3(feeds.passive(t=int(ahead * 1000), wifi={feeds.PHONE: -50}))
    else:
        resp = feeds.meraki(feeds.v2(ts=int(ahead), client=feeds.PHONE))
    after = time.time()
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 1
    [[(ts, _rssi)]] = feeds.readings(feeds.PHONE).values()
    assert ts <= after
    # in the window from the moment it arrived, and out of it one window later, as a reading heard now
    window = svc.settings.rssi_window_s
    client = svc.hasher.client_id(feeds.PHONE)
    assert svc.rssi.readings("demo", client, after + window - 5)
    assert not svc.rssi.readings("demo", client, after + window + 5)


def test_a_future_reading_does_not_outrank_a_fresher_one(feeds):
    now = time.time()
    body = {"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -50, "ts": now + 120}]}
    feeds.native(body)
    time.sleep(0.3)  # the store keeps times to 0.1 s
    feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -80, "ts": time.time()}]})
    readings = feeds.readings(feeds.PHONE)[feeds.AP1]
    assert max(readings)[1] == -80, readings  # the newest reading is the one heard last


def test_beyond_the_skew_allowance_is_still_a_422(feeds):
    body = {"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -50, "ts": time.time() + 400}]}
    resp = feeds.native(body)
    assert resp.status_code == 422 and resp.get_json()["field"] == "observations[0].ts"
