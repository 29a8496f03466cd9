"""Live validation walks (portal/operator/walks.py): the operator walks a route with a phone and marks each
point; the phone is heard through the real ingest API (the radio simulator's readings), positioned by the real
tracker, and each mark scores the live position against the point. Who may call, bad input, store faults."""

from __future__ import annotations

import html
import math
import re
import time

import pytest
import redis

from portal.auth import AccountStore
from portal.demo import simulated_reports
from portal.maps.validation import LiveWalks, ValidationWalks
from portal.tracking import Tracker
from portal.tracking.positions import landing_zone

V = "/console/ops/demo"
PHONE = "02:00:5e:00:55:01"
ROUTE = [(1, 20.0, 30.0, "cinema"), (1, 65.0, 30.0, "foodcourt")]


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def heard_at(client, token, demo_map, floor, x, y, ago_s: float = 0.0):
    """The venue's APs report the phone standing at (x, y) over a few seconds ending `ago_s` ago."""
    import json

    body = simulated_reports(demo_map, floor, x, y, PHONE, time.time() - ago_s)
    resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)


def start(client, console, **form):
    data = {"csrf_token": console.csrf(), "phone": PHONE,
            "points": "\n".join(f"{f},{x:g},{y:g}" for f, x, y, _ in ROUTE), **form}
    return client.post(V + "/walk", data=data)


def walk_id(resp) -> str:
    assert resp.status_code == 303, text(resp)
    return re.search(r"/walk/([\w-]+)$", resp.headers["Location"]).group(1)


def mark(client, console, wid, point, **kw):
    return client.post(f"{V}/walk/{wid}/mark", data={"csrf_token": console.csrf(), "point": str(point)}, **kw)


def test_a_walk_scores_the_live_position_at_each_point(client, console, svc, demo, demo_map):
    """Readings from the radio simulator through the ingest API, the tracker's pass, then the operator's mark:
    the figures are the live position's against where she stood. Whether each landing is right is the live
    path's (random readings, and the kept position ages with the machine's speed): the test checks the scoring."""
    console.login("ops")
    wid = walk_id(start(client, console, name="cinema to food court"))
    tracker = Tracker(svc.db, svc.venues, svc.locator, batch=50)
    client_id = svc.hasher.client_id(PHONE)
    right: list[bool] = []
    for i, (floor, x, y, zone) in enumerate(ROUTE):
        # the phone stands at each point for a while (at the first 50-30 s ago, at the second until now),
        # heard in report batches the tracker positions as they come
        for ago_s in (20.0, 10.0, 0.0):
            ago_s += 30.0 * (len(ROUTE) - 1 - i)
            heard_at(client, demo, demo_map, floor, x, y, ago_s=ago_s)
            assert tracker.step("demo", now=time.time() - ago_s) == 1  # as the tracker did then
        resp = mark(client, console, wid, i)
        assert resp.status_code == 303 and resp.headers["Location"].endswith(f"#p{i + 1}")
        position = svc.locator.locate("demo", client_id)  # the kept position the mark read (no newer reading)
        got = LiveWalks(svc.db).get("demo", wid)["marks"][-1]
        assert got["point"] == i and got["zone"] == zone and got["floor"] == floor
        assert got["est_floor"] == position.floor == floor
        assert got["error_m"] == pytest.approx(math.hypot(position.x - x, position.y - y), abs=0.01)
        assert got["landed"] == landing_zone(position)
        right.append(got["landed"] == zone)
        assert got["error_m"] < 12
    page = text(client.get(f"{V}/walk/{wid}"))
    assert 'id="walk-summary"' in page and 'id="walk-chart"' in page and page.count("right zone") >= sum(right)
    summary = client.get(f"{V}/walk/{wid}", headers={"Accept": "application/json"}).get_json()["summary"]
    assert summary["marks"] == 2 and summary["zone_rate"] == sum(right) / 2 and summary["floor_rate"] == 1.0
    assert PHONE not in page and PHONE not in str(svc.db.hgetall(f"mp:{{demo}}:validation:live:{wid}"))

    resp = client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()})
    assert resp.status_code == 303
    last = ValidationWalks(svc.db).last("demo")
    assert last["points"] == 2 and last["zone_rate"] == sum(right) / 2 and last["by"] == "ops"
    assert mark(client, console, wid, 0).status_code == 409  # finished
    assert client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()}).status_code == 409
    assert 'id="walk-finished"' in text(client.get(f"{V}/walk/{wid}"))


def test_a_walkway_route_and_a_phone_not_heard(client, console, svc, demo):
    console.login("ops")
    wid = walk_id(start(client, console, points="", **{"from": "cinema", "to": "garage"}))
    walk = LiveWalks(svc.db).get("demo", wid)
    assert len(walk["route"]) >= 3 and walk["route"][0][0] == 1 and walk["route"][-1][0] == 0
    assert mark(client, console, wid, 0).status_code == 303
    assert LiveWalks(svc.db).get("demo", wid)["marks"][0]["est_floor"] is None  # never heard: not placed
    assert "phone not placed" in text(client.get(f"{V}/walk/{wid}"))
    assert [w["id"] for w in LiveWalks(svc.db).recent("demo")] == [wid]
    assert wid in text(client.get(V + "/walk"))


@pytest.mark.parametrize("form,message", [
    ({"phone": "not-a-mac"}, "MAC address"),
    ({"points": "1,20"}, "Route line 1"),
    ({"points": "7,20,30"}, "Route line 1"),
    ({"points": "1,999,30"}, "Route line 1"),
    ({"points": "", "from": "cinema", "to": "cinema"}, "two different zones"),
    ({"points": "", "from": "nowhere", "to": "cinema"}, "two different zones"),
    ({"points": "\n".join(["1,20,30"] * 101)}, "1 to 100 points"),
])
def test_bad_walks_store_nothing(client, console, svc, form, message):
    console.login("ops")
    resp = start(client, console, **form)
    assert resp.status_code == 400 and message in text(resp)
    assert LiveWalks(svc.db).recent("demo") == []


def test_bad_marks(client, console, svc):
    console.login("ops")
    wid = walk_id(start(client, console))
    for point in ("", "x", "-1", "2", "99"):
        assert mark(client, console, wid, point).status_code == 400
    assert mark(client, console, "no-such-walk", 0).status_code == 404
    assert client.get(f"{V}/walk/no-such-walk").status_code == 404
    assert client.get(f"{V}/walk/" + "x" * 60).status_code == 404
    assert client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()}).status_code == 400
    assert LiveWalks(svc.db).get("demo", wid)["marks"] == []


def test_who_may_walk(client, console, svc):
    console.login("ops")
    wid = walk_id(start(client, console))
    assert client.post(V + "/walk", data={"phone": PHONE, "points": "1,20,30"}).status_code == 400  # no CSRF
    assert client.post(f"{V}/walk/{wid}/mark", data={"point": "0"}).status_code == 400
    console.logout()
    assert client.get(V + "/walk").status_code == 302
    assert client.get(f"{V}/walk/{wid}").status_code == 302
    console.login("cinema")
    assert client.get(f"{V}/walk/{wid}").status_code == 403
    assert mark(client, console, wid, 0).status_code == 403
    console.logout()
    AccountStore(svc.db).create("far-ops", "an old long passphrase", "operator", "elsewhere")
    console.login("far-ops", "an old long passphrase")
    assert start(client, console).status_code == 403
    assert mark(client, console, wid, 0).status_code == 403
    assert LiveWalks(svc.db).get("demo", wid)["marks"] == []
    assert len(LiveWalks(svc.db).recent("demo")) == 1


def test_store_faults_are_503(client, console, svc, monkeypatch):
    console.login("ops")
    wid = walk_id(start(client, console))

    def down(*args, **kwargs):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(LiveWalks, "mark", down)
    assert mark(client, console, wid, 0).status_code == 503
    monkeypatch.setattr(LiveWalks, "start", down)
    assert start(client, console).status_code == 503
    monkeypatch.setattr(LiveWalks, "get", down)
    assert client.get(f"{V}/walk/{wid}").status_code == 503
