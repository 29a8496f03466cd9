"""A shopper who declined location-based services (the privacy notice's first box unticked) gets no "from me": the
JSON API answers 409 naming the parameter, why, and where to change it; the route page says so with a link to the
privacy choices and does not start from "me". Before any answer, and once she agrees again, as before. The phone is
placed for real (a kept position, as the tracker keeps it) on the demo mall's data."""

from __future__ import annotations

import re
import time

import pytest

from portal.apps.location_consent import location_declined, position_phone
from portal.events.sim import Simulator
from portal.shopper import Shopper, new_shopper, shopper_token

CLIENT, PHONE = "s-nav-off-0001", "dev-nav-off-0001"


@pytest.fixture
def token(app, demo):
    """Her token (vouched for PHONE), with PHONE placed in the atrium just now."""
    with app.test_request_context():
        token = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    Simulator(app.extensions["mallportal"], app.extensions["captive"].landing, "demo")._fix(PHONE, "kopi", time.time())
    return token


def answer(client, token: str, location: bool) -> None:
    data = {"c": token, **({"location": "1"} if location else {})}
    assert client.post("/v/demo/privacy", data=data).status_code == 303


def route(client, **params):
    return client.get("/v/demo/route", query_string=params)


def test_api_from_me_is_refused_once_declined_and_works_again_once_agreed(client, token):
    assert route(client, **{"from": "me", "to": "shop:pixel", "c": token}).get_json()["from"]["kind"] == "me"
    answer(client, token, location=False)
    resp = route(client, **{"from": "me", "to": "shop:pixel", "c": token})
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["field"] == body["parameter"] == "from" and "location-based services are off" in body["error"]
    assert re.match(r"^/v/demo/privacy\?.*c=", body["privacy_choices"]) and body["privacy_choices"].endswith("#choices")
    resp = route(client, **{"from": "shop:kopi", "to": "me", "c": token})
    assert resp.status_code == 409 and resp.get_json()["field"] == "to"
    assert route(client, **{"from": "shop:kopi", "to": "shop:pixel", "c": token}).status_code == 200  # no position
    answer(client, token, location=True)
    assert route(client, **{"from": "me", "to": "shop:pixel", "c": token}).get_json()["from"]["kind"] == "me"


def test_api_without_her_token_is_unplaced_as_before(client, token):
    """Who may: no token, or a token of nobody who declined: "cannot place you", not her refusal."""
    answer(client, token, location=False)
    resp = route(client, **{"from": "me", "to": "shop:pixel"})
    assert resp.status_code == 409 and "cannot place you" in resp.get_json()["error"]
    assert "privacy_choices" not in resp.get_json()
    resp = route(client, **{"from": "me", "to": "shop:pixel", "c": "demo." + "x" * 43})
    assert resp.status_code == 409 and "cannot place you" in resp.get_json()["error"]


def test_api_bad_input_is_still_400_for_her(client, token):
    answer(client, token, location=False)
    resp = route(client, **{"from": "shop:nope", "to": "shop:pixel", "c": token})
    assert resp.status_code == 400 and resp.get_json()["field"] == "from"


def test_route_page_starts_from_no_place_and_says_why(client, token):
    assert '<option value="me" selected>' in client.get(f"/v/demo/navigate?c={token}").get_data(as_text=True)
    answer(client, token, location=False)
    resp = client.get(f"/v/demo/navigate?c={token}&lang=en")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'value="me"' not in html and 'id="route-error"' not in html
    assert '<option value="" selected disabled>' in html  # "choose where you are"
    link = re.search(r'<a href="([^"]+)" id="location-off-choices">', html)
    assert 'id="location-off"' in html and link and link.group(1).startswith("/v/demo/privacy?")
    assert "c=" in link.group(1) and "next=/v/demo/navigate" in link.group(1)

    resp = client.get("/v/demo/navigate", query_string={"from": "me", "to": "shop:pixel", "c": token, "lang": "en"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="you-are"' not in html and "<polyline" not in html
    assert "you turned location-based services off" in html and 'id="location-off"' in html
    assert '<option value="shop:pixel" selected>' in html  # her destination kept

    answer(client, token, location=True)
    html = client.get(f"/v/demo/navigate?c={token}").get_data(as_text=True)
    assert '<option value="me" selected>' in html and 'id="location-off"' not in html


def test_zone_landing_starts_from_the_zone_not_from_her(client, token):
    assert '<option value="me" selected>' in client.get(f"/v/demo/navigate/zone/kopi?c={token}").get_data(as_text=True)
    answer(client, token, location=False)
    html = client.get(f"/v/demo/navigate/zone/kopi?c={token}").get_data(as_text=True)
    assert 'value="me"' not in html and re.search(r'<option value="zone:kopi" selected>', html)


def test_the_helper_light_apps_ask(app, client, svc, token):
    """portal.apps.location_consent: the phone an app may use (parking's "from me" too), and whether she said no."""
    verified = Shopper("demo", CLIENT, phone=PHONE, phone_verified=True)
    typed = Shopper("demo", "s-typed-nav", phone=PHONE, phone_verified=False)
    with app.test_request_context():
        assert position_phone(None) is None and not location_declined(None)
        assert position_phone(typed) is None  # a MAC no gateway vouched for: never her position
        assert position_phone(verified) == PHONE and not location_declined(verified)  # before any answer
        fresh = new_shopper("demo")
        assert position_phone(fresh) is None and not location_declined(fresh)
    answer(client, token, location=False)
    with app.test_request_context():
        assert position_phone(verified) is None and location_declined(verified)
        # another shopper of her phone (a later sign-in sheet's token): the phone's owner said no
        assert position_phone(Shopper("demo", "s-other-nav", phone=PHONE, phone_verified=True)) is None
    svc.consent.record("demo", "s-typed-nav", location=False, marketing=False)
    with app.test_request_context():
        assert location_declined(typed)
