"""GET /v/<venue>/route: JSON route per floor; bad input 400 naming the parameter; me; no route."""

from __future__ import annotations

import copy

import pytest

from portal.shopper import Shopper, shopper_token
from portal.tracking import Position


@pytest.fixture
def token(app):
    with app.test_request_context():
        return shopper_token(Shopper("demo", "client-nav-1", phone="client-nav-1", phone_verified=True))


def get_route(client, **params):
    return client.get("/v/demo/route", query_string=params)


def test_route_across_floors_json(client, demo):
    resp = get_route(client, **{"from": "shop:kopi", "to": "shop:pixel"})
    assert resp.status_code == 200 and resp.is_json
    body = resp.get_json()
    assert body["from"]["ref"] == "shop:kopi" and body["from"]["name"] == "Kopi Coffee"
    assert body["to"] == {"kind": "shop", "ref": "shop:pixel", "floor": 1, "x": 102, "y": 45,
                          "name": "Pixel Electronics"}
    assert body["accessible"] is False
    assert [f["floor"] for f in body["floors"]] == [0, 1]
    assert [f["name"] for f in body["floors"]] == ["G", "L1"]
    assert body["floors"][0]["points"][0] == [90, 15] and body["floors"][1]["points"][-1] == [102, 45]
    assert all(len(f["legs"]) >= 1 and len(f["points"]) >= 2 for f in body["floors"])
    assert body["seconds"] > 0 and body["minutes"] >= 1 and body["length_m"] > 0
    assert body["points"][0] == [0, 90, 15] and body["points"][-1] == [1, 102, 45]
    texts = [s["text"] for s in body["steps"]]
    assert texts[0].startswith("Start at Kopi Coffee") and texts[-1].startswith("Arrive at Pixel Electronics")
    assert any("up to floor L1" in t for t in texts)


def test_route_to_a_point_with_a_label(client, demo):
    body = get_route(client, **{"from": "zone:atrium", "to": "0,20,30", "to_label": "Your car"}).get_json()
    assert body["to"]["kind"] == "point" and body["to"]["name"] == "Your car"
    assert body["steps"][-1]["text"].startswith("Arrive at Your car")


def test_route_in_chinese(client, demo):
    body = get_route(client, **{"from": "shop:kopi", "to": "shop:pixel", "lang": "zh"}).get_json()
    assert body["from"]["name"] == "考比咖啡" and body["to"]["name"] == "像素电子"


def test_accessible_route_uses_the_lift(client, demo):
    fast = get_route(client, **{"from": "1,60,10", "to": "0,60,10"}).get_json()
    assert "escalator" in [s["action"] for s in fast["steps"]]
    body = get_route(client, **{"from": "1,60,10", "to": "0,60,10", "accessible": "1"}).get_json()
    assert body["accessible"] is True
    actions = [s["action"] for s in body["steps"]]
    assert "elevator" in actions and "escalator" not in actions and "stairs" not in actions
    assert body["floors"][0]["points"][-1] == [44.0, 54.0]  # at the lift
    assert body["seconds"] > fast["seconds"]


def test_from_me(client, demo, svc, token, monkeypatch):
    calls = []

    def locate(venue, client_id, now=None):
        calls.append((venue, client_id))
        return Position(floor=1, x=50.0, y=20.0, zone="foodcourt", confidence=0.9, zone_confidence=0.9)

    monkeypatch.setattr(svc.locator, "locate", locate)
    body = get_route(client, **{"from": "me", "to": "shop:kopi", "c": token}).get_json()
    assert calls[0] == ("demo", "client-nav-1")
    assert body["from"]["kind"] == "me" and body["from"]["floor"] == 1 and body["from"]["x"] == 50.0
    assert body["points"][0] == [1, 50.0, 20.0]


def test_from_me_unplaced_is_409(client, demo):
    resp = get_route(client, **{"from": "me", "to": "shop:kopi"})
    assert resp.status_code == 409
    assert resp.get_json()["field"] == "from"


@pytest.mark.parametrize("params, field", [
    ({"to": "shop:kopi"}, "from"),
    ({"from": "shop:kopi"}, "to"),
    ({"from": "", "to": "shop:kopi"}, "from"),
    ({"from": "shop:nope", "to": "shop:kopi"}, "from"),
    ({"from": "shop:kopi", "to": "shop:nope"}, "to"),
    ({"from": "shop:kopi", "to": "zone:nope"}, "to"),
    ({"from": "7,1,1", "to": "shop:kopi"}, "from"),
    ({"from": "0,1000,1", "to": "shop:kopi"}, "from"),
    ({"from": "0,1,-1", "to": "shop:kopi"}, "from"),
    ({"from": "0;1;1", "to": "shop:kopi"}, "from"),
    ({"from": "shop:kopi", "to": "1,2"}, "to"),
    ({"from": "shop:kopi", "to": "1,inf,2"}, "to"),
    ({"from": "shop:kopi", "to": "x" * 500}, "to"),
    ({"from": "shop:kopi", "to": "shop:pixel", "accessible": "perhaps"}, "accessible"),
    ({"from": "shop:kopi", "to": "shop:pixel", "to_label": "y" * 61}, "to_label"),
])
def test_bad_input_is_400_naming_the_parameter(client, demo, params, field):
    resp = get_route(client, **params)
    assert resp.status_code == 400
    assert resp.is_json
    body = resp.get_json()
    assert body["field"] == field and body["parameter"] == field
    assert body["error"].startswith(f"{field}: ")


def test_the_api_answers_in_english_whatever_the_page_language(client, demo):
    resp = get_route(client, **{"from": "shop:kopi", "to": "shop:nosuch", "lang": "zh"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "to: unknown shop 'nosuch'"


def test_unknown_venue_404_json(client, demo):
    resp = client.get("/v/nowhere/route?from=shop:kopi&to=shop:pixel")
    assert resp.status_code == 404 and resp.is_json
    assert resp.get_json() == {"error": "unknown venue", "field": None}  # the one error shape: "field" always there


def test_no_step_free_route_is_404(client, demo, svc, app, demo_map):
    venue = copy.deepcopy(demo_map)
    venue.edges = [e for e in venue.edges if e.kind != "elevator"]
    with app.app_context():
        svc.venues.put_map(venue)
    resp = get_route(client, **{"from": "shop:kopi", "to": "shop:pixel", "accessible": "1"})
    assert resp.status_code == 404
    assert "step-free" in resp.get_json()["error"] and resp.get_json()["field"] is None
    assert get_route(client, **{"from": "shop:kopi", "to": "shop:pixel"}).status_code == 200


def test_plan_svg(client, demo):
    resp = client.get("/v/demo/plan/1.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    svg = resp.get_data(as_text=True)
    assert svg.startswith("<svg") and "Starlight Cinema" in svg
    assert "星光影城" in client.get("/v/demo/plan/1.svg?lang=zh").get_data(as_text=True)
    assert client.get("/v/demo/plan/9.svg").status_code == 404
    assert client.get("/v/demo/plan/-1.svg").status_code == 404
    assert client.get("/v/nowhere/plan/0.svg").status_code == 404
