"""The route page: works with no JavaScript (SVG plans with the route), steps, walking time, `c` on links."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from portal.apps import registry
from portal.shopper import Shopper, shopper_token
from portal.tracking import Position


@pytest.fixture
def token(app):
    with app.test_request_context():
        return shopper_token(Shopper("demo", "client-nav-2", phone="client-nav-2", phone_verified=True))


def page(client, **params):
    return client.get("/v/demo/navigate", query_string=params)


def assert_links_carry(html: str, token: str):
    links = [unescape(h) for h in re.findall(r'href="([^"]+)"', html) if h.startswith("/v/")]
    assert links
    for link in links:
        assert f"c={token}" in link, link
    form = re.search(r'<form[^>]*id="route-form".*?</form>', html, re.S).group(0)
    assert f'name="c" value="{token}"' in form


def test_registered():
    app = registry.load(["lightapps.navigation"]).get("navigation")
    assert app is not None and app.landing_endpoint == "navigation.landing"
    assert app.title_zh == "室内导航"


def test_route_page_draws_the_route_on_each_floor(client, demo, token):
    resp = page(client, **{"from": "shop:kopi", "to": "shop:pixel", "c": token})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="plan-0"' in html and 'id="plan-1"' in html
    for level in (0, 1):
        svg = re.search(rf'<svg[^>]*id="plan-svg-{level}".*?</svg>', html, re.S).group(0)
        assert '<polyline class="route"' in svg
    steps = re.findall(r"<li>(.*?)</li>", re.search(r'<ol id="steps">(.*?)</ol>', html, re.S).group(1))
    assert steps[0].startswith("Start at Kopi Coffee") and steps[-1].startswith("Arrive at Pixel Electronics")
    assert any("to floor L1" in s for s in steps)
    assert re.search(r'id="route-summary">About \d+ min walk · \d+ m', html)
    # the selects keep the choice
    assert '<option value="shop:kopi" selected>' in html and '<option value="shop:pixel" selected>' in html
    assert_links_carry(html, token)
    assert len(html.encode()) < 100_000
    # Leaflet enhancement data: legs and the plan overlay, per floor
    data = json.loads(re.search(r'<script type="application/json" id="route-data">(.*?)</script>', html,
                                re.S).group(1))
    assert [f["floor"] for f in data["floors"]] == [0, 1]
    assert data["floors"][0]["plan"].startswith("/v/demo/plan/0.svg")
    assert data["floors"][0]["legs"][0][0] == [90, 15]
    assert "/vendor/leaflet/leaflet.js" in html
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200


def test_same_floor_route_draws_one_plan(client, demo):
    html = page(client, **{"from": "shop:kopi", "to": "shop:lumen"}).get_data(as_text=True)
    assert 'id="plan-0"' in html and 'id="plan-1"' not in html


def test_accessible_route_page(client, demo, token):
    html = page(client, **{"from": "1,60,10", "to": "0,60,10", "accessible": "1", "c": token}).get_data(as_text=True)
    steps = re.search(r'<ol id="steps">(.*?)</ol>', html, re.S).group(1)
    assert "lift down to floor G" in steps and "escalator" not in steps and "stairs" not in steps
    assert 'name="accessible" value="1" checked' in html
    # a point start/goal is offered in the selects so the form can be sent again unchanged
    assert '<option value="1,60,10" selected>' in html and '<option value="0,60,10" selected>' in html


def test_me_when_placed(client, demo, svc, token, monkeypatch):
    monkeypatch.setattr(svc.locator, "locate", lambda venue, client_id, now=None: Position(
        floor=0, x=60.0, y=30.0, zone="atrium", confidence=0.9, zone_confidence=0.9))
    html = page(client, **{"from": "me", "to": "shop:starlight", "c": token}).get_data(as_text=True)
    assert 'id="you-are"' in html and "Atrium" in html
    assert "Start at your position" in html
    assert '<option value="me" selected>' in html
    assert html.count('<polyline class="route"') == 2


def test_me_when_not_placed_asks_where_you_are(client, demo, token):
    resp = page(client, **{"from": "me", "to": "shop:starlight", "c": token})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="route-notice"' in html
    assert '<option value="" selected disabled>' in html  # "choose where you are"
    assert '<option value="shop:starlight" selected>' in html
    assert "<polyline" not in html
    # the link from a shop page ("take me there") defaults `from` to me
    html = page(client, to="shop:starlight").get_data(as_text=True)
    assert 'id="route-notice"' in html


def test_page_without_destination_shows_the_form(client, demo, token):
    resp = page(client, c=token)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="route-form"' in html and 'id="steps"' not in html
    assert_links_carry(html, token)


@pytest.mark.parametrize("params, field", [
    ({"from": "shop:nope", "to": "shop:kopi"}, "from"),
    ({"from": "shop:kopi", "to": "9,1,1"}, "to"),
    ({"from": "shop:kopi", "to": "shop:pixel", "accessible": "x"}, "accessible"),
    ({"from": "shop:kopi", "to": "shop:pixel", "to_label": "z" * 80}, "to_label"),
])
def test_bad_input_page_is_400(client, demo, params, field):
    resp = page(client, **params)
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert re.search(rf'id="route-error"[^>]*data-field="{field}"', html)
    assert "<polyline" not in html


def test_a_refused_start_keeps_the_chosen_destination(client, demo):
    """Each field is read on its own: a start not on the map leaves the destination selected (the shopper
    only picks a new start), and a bad `accessible` leaves both places selected."""
    resp = page(client, **{"from": "nowhere", "to": "shop:starlight"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and '<option value="shop:starlight" selected>' in html
    assert re.search(r'id="route-error"[^>]*data-field="from"', html)
    assert '<select id="from" name="from" aria-invalid="true" aria-describedby="route-error" autofocus>' in html
    html = page(client, **{"from": "shop:kopi", "to": "shop:pixel", "accessible": "x"}).get_data(as_text=True)
    assert '<option value="shop:kopi" selected>' in html and '<option value="shop:pixel" selected>' in html


def test_every_refused_field_is_shown(client, demo):
    resp = page(client, **{"from": "shop:nope", "to": "9,1,1", "accessible": "x"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "<polyline" not in html
    assert re.findall(r'<p class="error" id="route-error[^"]*" role="alert" data-field="(\w+)"', html) == [
        "accessible", "from", "to"]


@pytest.mark.parametrize("params, label, raw", [
    ({"to": "shop:nosuch"}, "终点", "to"),
    ({"to": "9,1,1"}, "终点", "to"),
    ({"to": "0,99999,1"}, "终点", "to"),
    ({"to": "a,b,c"}, "终点", "to"),
    ({"from": "zone:nope", "to": "shop:pixel"}, "起点", "from"),
    ({"to": "shop:starlight", "accessible": "maybe"}, "无障碍", "accessible"),
    ({"to": "shop:pixel", "to_label": "z" * 80}, "", "to_label"),
])
def test_bad_input_page_says_so_in_the_shoppers_language(client, demo, params, label, raw):
    """The page words each refusal for the shopper (the JSON API keeps its English text)."""
    resp = page(client, lang="zh", **{"from": "shop:kopi"} | params)
    assert resp.status_code == 400
    text = re.search(r'id="route-error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
    assert text.startswith(label) and re.search(r"[\u4e00-\u9fff]", text[len(label):]), text
    assert not re.match(rf"\s*{raw}:", text) and "shop:" not in text and "nosuch" not in text, text


def test_landing_starts_from_the_zone(client, demo, token):
    resp = client.get(f"/v/demo/navigate/zone/garage?c={token}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<option value="zone:garage" selected>Car park</option>' in html
    assert_links_carry(html, token)
    assert client.get("/v/demo/navigate/zone/nowhere").status_code == 404
    assert client.get("/v/nowhere/navigate").status_code == 404


def test_point_destination_with_label(client, demo):
    html = page(client, **{"from": "shop:kopi", "to": "0,20,30", "to_label": "Your car, bay B12"}).get_data(
        as_text=True)
    assert '<option value="0,20,30" selected>Your car, bay B12</option>' in html
    assert "Arrive at Your car, bay B12" in html
    assert 'name="to_label" value="Your car, bay B12"' in html


def test_chinese_page(client, demo):
    html = page(client, **{"from": "shop:kopi", "to": "shop:pixel", "lang": "zh"}).get_data(as_text=True)
    assert "考比咖啡" in html and "像素电子" in html
    assert 'name="lang" value="zh"' in html


def test_other_apps_can_link_with_url_for(app):
    from flask import url_for

    with app.test_request_context():
        url = url_for("navigation.route_page", venue="demo", to="shop:kopi", **{"from": "me"})
    assert url.startswith("/v/demo/navigate?") and "from=me" in url
