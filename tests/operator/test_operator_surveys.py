"""Survey pages: device registration (MAC kept hashed), starting a point, collecting the device's
reports from the native API, finishing into a new map version; bad input and failed points."""

from __future__ import annotations

import html
import threading
import time

import pytest

from fingerprints.survey import MAX_DURATION_S, SurveyStore
from portal.auth import AuditLog
from portal.demo import simulated_reports
from portal.operator.mapedit import OpsKeys
from portal.operator.surveys import _finish_later, finish_point
from portal.operator.versions import wait_for_model
from portal.tools.net import free_port

V = "/console/ops/demo"
MAC = "02:00:5e:00:53:42"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def post(client, ops, url, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), **data})


@pytest.fixture
def device(client, ops, svc):
    resp = post(client, ops, V + "/survey/devices", mac=MAC, label="test phone")
    assert resp.status_code == 303
    return svc.hasher.client_id(MAC)


def play(client, token, venue_map, level, x, y, now):
    payload = simulated_reports(venue_map, level, x, y, MAC, now)
    resp = client.post("/api/v1/venues/demo/reports", json=payload, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (200, 202), resp.get_data(as_text=True)


def test_register_device_stores_only_the_hash(client, ops, svc, db, device):
    assert device in SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher).devices("demo")
    dump = str([db.dump(k) for k in db.keys("*")])
    assert MAC not in dump and MAC.replace(":", "") not in dump
    page = text(client.get(V + "/survey"))
    assert "test phone" in page and MAC not in page
    assert AuditLog(db).recent("demo")[0]["action"] == "survey.device_add"


@pytest.mark.parametrize("mac", ["", "02:00:5e:00:53", "zz:00:5e:00:53:42", "02:00:5e:00:53:42:01", "x" * 200])
def test_register_device_bad_mac(client, ops, svc, mac):
    resp = post(client, ops, V + "/survey/devices", mac=mac)
    assert resp.status_code == 400 and "is not a MAC address" in text(resp)
    assert SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher).devices("demo") == {}


def test_start_bad_input(client, ops, svc, device):
    before = svc.venues.current_version("demo")
    cases = [
        ({"device": "0" * 24}, "registered survey device"),
        ({"device": "../etc"}, "registered survey device"),
        ({"floor": "9"}, "Unknown floor"),
        ({"x": "500"}, "between"),
        ({"x": ""}, "required"),
        ({"duration": "1"}, "between 3"),
        ({"duration": "600"}, "between 3"),
        ({"duration": "abc"}, "must be a number"),
    ]
    for data, message in cases:
        form = {"device": device, "floor": "0", "x": "10", "y": "10", "duration": "5", **data}
        resp = post(client, ops, V + "/survey/start", **form)
        assert resp.status_code == 400 and message in text(resp), data
    assert SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher).pending("demo", device) is None
    assert svc.venues.current_version("demo") == before


def test_survey_point_end_to_end(client, ops, svc, demo, device):
    token = demo
    venue_map = svc.venues.get_map("demo")
    before = venue_map.version
    # As the browser survey test does: a long window, "Finish now" once the status shows 3 scans. A 3 s point's own
    # timer ended it at a fixed time, whether or not three one-second scans had landed by then (one slow report
    # post on a busy machine and the point failed for good).
    duration = min(MAX_DURATION_S, svc.rssi.window_s)  # the longest the form takes (60 s)
    resp = post(client, ops, V + "/survey/start", device=device, floor="1", duration=f"{duration:g}",
                **{"spot.x": "150", "spot.y": "100"})  # 5 px per metre: (30 m, 20 m)
    assert resp.status_code == 303 and f"device={device}" in resp.headers["Location"]
    page = client.get(resp.headers["Location"])
    assert 'id="auto-refresh"' in text(page) and 'id="collecting"' in text(page)
    deadline = time.monotonic() + duration - 10  # generous, and before the point's own timer would end it
    while True:
        play(client, token, venue_map, 1, 30.0, 20.0, time.time() + 1)
        status = client.get(V + f"/survey/status.json?device={device}").get_json()
        assert status["pending"] is not None, status  # still collecting: nothing finished it behind our back
        if status["scans"] >= 3:
            break
        assert time.monotonic() < deadline, f"the device's reports never made 3 scans: {status}"
        time.sleep(0.5)
    resp = post(client, ops, V + "/survey/finish", device=device)
    assert resp.status_code == 303
    status = client.get(V + f"/survey/status.json?device={device}").get_json()
    assert status["pending"] is None and status["result"], status
    assert status["result"]["ok"], status
    after = svc.venues.get_map("demo")
    assert after.version == before + 1 == status["result"]["version"]
    sample = after.samples[-1]
    assert (sample.floor, sample.x, sample.y) == (1, 30.0, 20.0) and sample.n >= 3 and sample.spread
    page = text(client.get(V + f"/survey?device={device}&floor=1"))
    assert 'id="survey-done"' in page and "refresh" not in page
    assert f"v={after.version}" in page
    actions = [e["action"] for e in AuditLog(svc.db).recent("demo")]
    assert "survey.point" in actions and "survey.start" in actions
    assert wait_for_model("demo", after.version, db=svc.db)["state"] == "ready"


def test_point_heard_too_little_stays_pending_and_says_why(client, ops, svc, device):
    before = svc.venues.current_version("demo")
    resp = post(client, ops, V + "/survey/start", device=device, floor="0", x="10", y="10", duration="3")
    assert resp.status_code == 303
    resp = post(client, ops, V + "/survey/finish", device=device)  # nothing heard
    assert resp.status_code == 303
    page = text(client.get(V + f"/survey?device={device}"))
    assert "scan(s) of the survey device were heard" in page
    store = SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher)
    assert store.pending("demo", device) is not None
    assert svc.venues.current_version("demo") == before
    resp = post(client, ops, V + "/survey/cancel", device=device)
    assert resp.status_code == 303 and store.pending("demo", device) is None
    assert svc.db.get(OpsKeys("demo").survey_result(device)) is None
    resp = post(client, ops, V + "/survey/finish", device=device)
    assert resp.status_code == 400 and "No survey point in progress" in text(resp)


def test_remove_device(client, ops, svc, device):
    resp = post(client, ops, V + "/survey/devices/delete", device=device)
    assert resp.status_code == 303
    assert SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher).devices("demo") == {}
    resp = post(client, ops, V + "/survey/devices/delete", device=device)
    assert resp.status_code == 400
    assert client.get(V + "/survey/status.json?device=nope").status_code == 400


def test_the_timer_finishing_a_point_gone_meanwhile_gets_a_value_error(app):
    """The timer thread finishes points with an app context and no request: a point gone meanwhile (finished by a
    poll, cancelled) is a ValueError it expects, not the RuntimeError a request-only gettext raised there."""
    with app.app_context(), pytest.raises(ValueError, match="No survey point in progress"):
        finish_point("demo", "02:00:00:00:00:99", "ops")


def test_a_point_timer_that_meets_a_store_outage_logs_and_leaves_the_point_to_the_poll(app, svc, demo, caplog,
                                                                                       monkeypatch):
    """The timer finishing a survey point runs outside any request: with the store away it logs a warning (no
    traceback out of its thread) and the page's next poll finishes the point."""
    if svc.settings.redis_cluster:
        pytest.skip("moves a single node's connection pool")
    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    pool = svc.db.connection_pool
    real = pool.connection_kwargs["port"]
    pool.connection_kwargs.update(port=free_port())  # a closed port: the store is away
    pool.reset()
    try:
        _finish_later(app, "demo", "c" * 24, 1.0, 0.0, "ops").join(30)
    finally:
        pool.reset()
        pool.connection_kwargs.update(port=real)
    assert escaped == []
    assert "store unavailable (ConnectionError); left to the next poll" in caplog.text
