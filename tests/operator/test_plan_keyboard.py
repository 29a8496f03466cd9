"""Enter or Space on the floor plan (an <input type=image>) submits it at (0, 0): that is no click at the plan's
corner. The place the operator typed is kept (an AP put at (0 m, 0 m) instead moved the live map and rebuilt the
model); with nothing typed the form is refused. operator.js marks a real pointer click (spot.pointer=1), which
counts wherever it lands; without JavaScript an unmarked click elsewhere still counts when nothing was typed."""

from __future__ import annotations

import html

from fingerprints.survey import SurveyStore

V = "/console/ops/demo"
BSSID = "f0:9f:c2:aa:bb:cc"
KEYS = {"spot.x": "0", "spot.y": "0"}  # what Enter or Space on the plan sends


def post(client, ops, url, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), **data})


def ap_at(svc) -> tuple[float, float]:
    ap = next(a for a in svc.venues.get_map("demo").aps if a.bssid == BSSID)
    return ap.x, ap.y


def test_keys_on_the_plan_keep_the_typed_place(client, ops, svc):
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid=BSSID, name="KBD-AP", x="30", y="12", **KEYS)
    assert resp.status_code == 303
    assert ap_at(svc) == (30.0, 12.0)
    resp = post(client, ops, V + "/setup/floor/0/nodes", id="kbd-node", x="10", y="8", **KEYS)
    assert resp.status_code == 303
    node = next(n for n in svc.venues.get_map("demo").nodes if n.id == "kbd-node")
    assert (node.x, node.y) == (10.0, 8.0)


def test_keys_on_the_plan_with_nothing_typed_are_refused(client, ops, svc):
    before = svc.venues.current_version("demo")
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid=BSSID, x="", y="", **KEYS)
    assert resp.status_code == 400 and "x (m) is required" in html.unescape(resp.get_data(as_text=True))
    assert svc.venues.current_version("demo") == before
    device = post(client, ops, V + "/survey/devices", mac="02:00:5e:00:53:43", label="kbd phone")
    assert device.status_code == 303
    client_id = svc.hasher.client_id("02:00:5e:00:53:43")
    resp = post(client, ops, V + "/survey/start", device=client_id, floor="0", x="", y="", **KEYS)
    assert resp.status_code == 400
    assert SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher).pending("demo", client_id) is None


def test_pointer_clicks_count(client, ops, svc):
    # a marked pointer click wins over what was typed before it, even at the plan's corner
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid=BSSID, x="30", y="12", **KEYS, **{"spot.pointer": "1"})
    assert resp.status_code == 303 and ap_at(svc) == (0.0, 0.0)
    # without JavaScript: an unmarked click counts when nothing is typed (5 px per metre on a drawn plan)...
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid=BSSID, **{"spot.x": "100", "spot.y": "50"})
    assert resp.status_code == 303 and ap_at(svc) == (20.0, 10.0)
    # ...and the typed place wins over it
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid=BSSID, x="3", y="4", **{"spot.x": "100", "spot.y": "50"})
    assert resp.status_code == 303 and ap_at(svc) == (3.0, 4.0)


def test_the_submitting_plan_carries_the_pointer_mark(client, ops):
    page = client.get(V + "/setup/floor/0?tool=ap").get_data(as_text=True)
    assert '<input type="hidden" id="plan-pointer" form="ap-form" name="spot.pointer" value="">' in page
    page = client.get(V + "/setup/floor/0?tool=zone").get_data(as_text=True)
    assert 'id="plan-pointer"' not in page  # the zone's plan collects clicks into a field, submitting nothing


def test_keys_on_a_collecting_plan_add_no_corner(client, ops):
    """Without JavaScript the zone tool's plan is a GET form: Enter on it added a corner at (0 m, 0 m)."""
    page = client.get(V + "/setup/floor/0?tool=zone&points=1,1&pick.x=0&pick.y=0").get_data(as_text=True)
    assert ">1,1</textarea>" in page
    page = client.get(V + "/setup/floor/0?tool=zone&points=1,1&pick.x=10&pick.y=5").get_data(as_text=True)
    assert ">1,1 2.00,1.00</textarea>" in page
