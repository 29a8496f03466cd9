"""The cinema system's showtime push: bearer token per venue, validation naming the field, upserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cinema_fixtures import mall_fixture, store_fixture  # noqa: F401 (the fixtures)

URL = "/api/v1/venues/demo/cinema/showtimes"


def later(hours: float = 5) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def item(**changes):
    data = {"id": "pos-1", "film_en": "Pushed Film", "film_zh": "推送电影", "auditorium": "1",
            "starts_at": later(), "price": 45.5}
    data.update(changes)
    return data


def push(client, token, body, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(URL, json=body, headers=headers, **kwargs)


def pushed(store):
    return [s for s in store.showtimes("demo", "cinema") if s.film_en.startswith("Pushed")]


def test_push_creates_then_updates(client, mall, store):
    resp = push(client, mall, {"zone": "cinema", "showtimes": [item(), item(id="pos-2", auditorium=2)]})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["created"], body["updated"]) == (2, 0)
    assert [s["external_id"] for s in body["showtimes"]] == ["pos-1", "pos-2"]
    again = push(client, mall, {"showtimes": [item(price=50, film_en="Pushed Film 2")]})  # zone inferred
    assert again.status_code == 201
    assert (again.get_json()["created"], again.get_json()["updated"]) == (0, 1)
    shows = {s.external_id: s for s in pushed(store)}
    assert shows["pos-1"].price_cents == 5000 and shows["pos-1"].film_en == "Pushed Film 2"
    assert shows["pos-2"].auditorium == "2"
    listing = client.get(URL + "?zone=cinema", headers={"Authorization": f"Bearer {mall}"})
    assert listing.status_code == 200
    assert {"pos-1", "pos-2"} <= {s["external_id"] for s in listing.get_json()["showtimes"]}


def test_utc_offsets_are_understood(client, mall, store):
    when = datetime.now(UTC) + timedelta(hours=2)
    resp = push(client, mall, {"showtimes": [item(starts_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"))]})
    assert resp.status_code == 201
    assert pushed(store)[0].starts_at == int(when.replace(microsecond=0).timestamp())


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_missing_or_wrong_token_is_401(client, mall, store, token):
    resp = push(client, token, {"showtimes": [item()]})
    assert resp.status_code == 401
    assert "token" in resp.get_json()["error"]
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert pushed(store) == []


def test_token_of_the_venue_only_and_unknown_venue(client, mall):
    resp = client.post("/api/v1/venues/othermall/cinema/showtimes", json={"showtimes": [item()]},
                       headers={"Authorization": f"Bearer {mall}"})
    assert resp.status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"showtimes": []}, "showtimes"),
    ({"showtimes": "lots"}, "showtimes"),
    ({}, "showtimes"),
    ({"showtimes": [item()] * 501}, "showtimes"),
    ({"showtimes": ["x"]}, "showtimes[0]"),
    ({"showtimes": [item(film_en="", film_zh="")]}, "showtimes[0].film_en"),
    ({"showtimes": [item(film_en=5)]}, "showtimes[0].film_en"),
    ({"showtimes": [item(film_en="a\x00b")]}, "showtimes[0].film_en"),
    ({"showtimes": [item(film_zh="z" * 200)]}, "showtimes[0].film_zh"),
    ({"showtimes": [item(), item(id="pos-2", auditorium="IMAX")]}, "showtimes[1].auditorium"),
    ({"showtimes": [item(starts_at="soon")]}, "showtimes[0].starts_at"),
    ({"showtimes": [item(starts_at=1714500000)]}, "showtimes[0].starts_at"),
    ({"showtimes": [item(starts_at="2001-01-01T10:00")]}, "showtimes[0].starts_at"),
    ({"showtimes": [item(price=-5)]}, "showtimes[0].price"),
    ({"showtimes": [item(price="free")]}, "showtimes[0].price"),
    ({"showtimes": [item(price=True)]}, "showtimes[0].price"),
    ({"showtimes": [item(price=1e300)]}, "showtimes[0].price"),
    ({"showtimes": [item(price=None)]}, "showtimes[0].price"),
    ({"showtimes": [item(id="bad id with spaces")]}, "showtimes[0].id"),
    ({"showtimes": [item(), item()]}, "showtimes[1].id"),
    ({"zone": "kopi", "showtimes": [item()]}, "zone"),
    ({"zone": ["cinema"], "showtimes": [item()]}, "zone"),
    ([item()], "$"),
])
def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(client, mall, store, body, field):
    resp = push(client, mall, body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == field
    assert pushed(store) == []


def test_not_json_is_rejected(client, mall, store):
    headers = {"Authorization": f"Bearer {mall}"}
    assert client.post(URL, data="film=x", headers=headers).status_code == 415
    resp = client.post(URL, data="{not json", headers=headers, content_type="application/json")
    assert resp.status_code == 400
    assert pushed(store) == []


def test_auditorium_change_after_bookings_is_409(client, mall, store):
    assert push(client, mall, {"showtimes": [item()]}).status_code == 201
    show = pushed(store)[0]
    assert store.hold("demo", show, "shopper", ["A1"], ttl_s=60).ok
    resp = push(client, mall, {"showtimes": [item(auditorium="2")]})
    assert resp.status_code == 409 and resp.get_json()["field"] == "showtimes[0].auditorium"
    assert pushed(store)[0].auditorium == "1"
