"""A floor with no walkways yet (a new floor, drawn before its walkway graph): a route to or from it is "no
route" (the API's 404, the route page's notice), never a 500."""

from __future__ import annotations

import pytest

from fingerprints.model import Floor
from fingerprints.routes import shortest_route


@pytest.fixture
def roof_garden(svc, app, demo_map):
    """The demo mall with a floor 2 that has no walkways, stored as venue demo3."""
    venue = demo_map.copy()
    venue.id, venue.samples = "demo3", []
    venue.floors.append(Floor(level=2, name="L2", width_m=120.0, height_m=60.0))
    with app.app_context():
        svc.venues.put_map(venue)
    return venue


def test_a_route_to_a_floor_without_walkways_is_none(roof_garden):
    assert shortest_route(roof_garden, (2, 10.0, 10.0), (0, 90.0, 15.0)) is None
    assert shortest_route(roof_garden, (0, 90.0, 15.0), (2, 10.0, 10.0), accessible_only=True) is None
    assert shortest_route(roof_garden, (0, 90.0, 15.0), (1, 102.0, 45.0)) is not None


@pytest.mark.parametrize("places", [{"from": "2,10,10", "to": "shop:kopi"}, {"from": "shop:kopi", "to": "2,10,10"}])
def test_the_route_api_answers_no_route(client, roof_garden, places):
    resp = client.get("/v/demo3/route", query_string=places)
    assert resp.status_code == 404 and resp.is_json
    assert resp.get_json()["error"] == "no route between these places"


def test_the_route_page_says_there_is_no_route(client, roof_garden):
    resp = client.get("/v/demo3/navigate", query_string={"from": "2,10,10", "to": "shop:kopi"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="route-notice"' in html and "There is no route between these places." in html
    assert "<polyline" not in html
    resp = client.get("/v/demo3/navigate", query_string={"from": "2,10,10", "to": "shop:kopi", "lang": "zh"})
    assert resp.status_code == 200 and "这两个地点之间没有路线。" in resp.get_data(as_text=True)
