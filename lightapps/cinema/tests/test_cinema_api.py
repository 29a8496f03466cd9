"""The cinema system's showtime push: bearer token per venue, validation naming the field, upserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cinema_fixtures import mall_fixture, store_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema import api
from lightapps.cinema.store import CinemaKeys

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
    assert resp.status_code == 401  # the token is checked before the venue: no stranger learns which venues exist


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


def listing(client, mall, query: str = "", status: int = 200) -> dict:
    resp = client.get(f"{URL}{'?' if query and not query.startswith('?') else ''}{query}",
                      headers={"Authorization": f"Bearer {mall}"})
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_a_cancellation_needs_only_the_id(client, mall, store):
    assert push(client, mall, {"showtimes": [item()]}).status_code == 201
    resp = push(client, mall, {"showtimes": [{"id": "pos-1", "status": "cancelled"}]})
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["created"], resp.get_json()["updated"]) == (0, 1)
    [show] = pushed(store)
    assert show.cancelled and (show.film_en, show.price_cents, show.auditorium) == ("Pushed Film", 4550, "1")
    # whatever else a cancellation carries is ignored, as the docstring says: it changes nothing of the show
    again = push(client, mall, {"showtimes": [{"id": "pos-1", "status": "cancelled", "price": "free"}]})
    assert again.status_code == 201 and pushed(store)[0].price_cents == 4550


def test_cancelling_an_id_never_pushed_is_422_on_its_id(client, mall, store):
    resp = push(client, mall, {"showtimes": [{"id": "pos-404", "status": "cancelled"}]})
    assert resp.status_code == 422 and resp.get_json()["field"] == "showtimes[0].id", resp.get_json()
    assert [s for s in store.showtimes("demo", "cinema") if s.external_id == "pos-404"] == []
    assert store.db.hget(CinemaKeys("demo").external_ids("cinema"), "pos-404") is None


@pytest.mark.parametrize("typed", ["date", "compact"])
def test_a_date_alone_is_no_showtime(client, mall, store, typed):
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).date()
    resp = push(client, mall, {"showtimes": [item(starts_at=day.isoformat() if typed == "date"
                                                  else day.strftime("%Y%m%d"))]})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == "showtimes[0].starts_at" and "time of day" in resp.get_json()["error"]
    assert pushed(store) == []


def test_the_listing_gives_the_start_and_price_as_the_push_takes_them(client, mall, store):
    sent = item(price=45.5)
    assert push(client, mall, {"showtimes": [sent]}).status_code == 201
    [show] = [s for s in listing(client, mall)["showtimes"] if s["external_id"] == "pos-1"]
    assert (show["price"], show["price_fen"]) == ("45.50", 4550)
    moment = datetime.fromisoformat(show["starts_at_iso"])
    assert show["starts_at_iso"].endswith("+08:00") and moment.timestamp() == show["starts_at"]
    assert moment.strftime("%Y-%m-%dT%H:%M") == sent["starts_at"]  # the wall-clock time pushed


def _at(days: int, hhmm: str) -> str:
    return f"{(datetime.now(ZoneInfo('Asia/Shanghai')) + timedelta(days=days)).date().isoformat()}T{hhmm}"


def _a_day_of_shows(client, mall) -> list[str]:
    """Five shows ten days ahead: three at 10:00 (one per hall: the same start), then 12:00 and 14:00."""
    shows = [item(id=f"day-{n}", auditorium=hall, starts_at=_at(10, hhmm))
             for n, (hall, hhmm) in enumerate([("1", "10:00"), ("2", "10:00"), ("3", "10:00"), ("1", "12:00"),
                                               ("1", "14:00")])]
    assert push(client, mall, {"showtimes": shows}).status_code == 201
    return [s["id"] for s in shows]


def test_the_listing_pages_in_order_through_next(client, mall):
    pushed_ids = _a_day_of_shows(client, mall)
    whole = listing(client, mall)
    assert whole["next"] is None and {s["external_id"] for s in whole["showtimes"]} >= set(pushed_ids)
    seen, page, sizes = [], listing(client, mall, "limit=2"), []
    while True:
        sizes.append(len(page["showtimes"]))
        seen += [s["id"] for s in page["showtimes"]]
        if page["next"] is None:
            break
        assert "cursor=" in page["next"] and "limit=2" in page["next"]
        page = listing(client, mall, page["next"].split(URL, 1)[1])
    assert seen == [s["id"] for s in whole["showtimes"]]  # each once, in order, the tied starts too
    assert sizes[:-1] == [2] * (len(sizes) - 1) and len(sizes) == (len(seen) + 1) // 2


def test_the_listing_takes_days_and_times_from_to(client, mall):
    _a_day_of_shows(client, mall)
    day = _at(10, "00:00")[:10]

    def ids(query: str) -> list[str]:
        """The shows listed, in order; the three starting together (ordered by their show ids) as a set."""
        found = [s["external_id"] for s in listing(client, mall, query)["showtimes"]]
        tied = {"day-0", "day-1", "day-2"}
        return ["10:00" if i in tied else i for i in found] if tied <= set(found) else found

    assert ids(f"from={day}&to={day}") == ["10:00"] * 3 + ["day-3", "day-4"]
    assert ids(f"from={day}&to={day}T12:00") == ["10:00"] * 3 + ["day-3"]
    assert ids(f"from={day}T11:00&to={day}") == ["day-3", "day-4"]
    utc_noon = datetime.fromisoformat(f"{day}T12:00+08:00").astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")
    assert ids(f"from={utc_noon}&to={day}") == ["day-3", "day-4"]  # an offset counts as written
    assert ids(f"from={day}&to={day}&limit=4") == ["10:00"] * 3 + ["day-3"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"),
    ("limit=1e3", "limit"), ("limit=" + "9" * 5000, "limit"), ("limit=２", "limit"),
    ("from=soon", "from"), ("from=2026-02-30", "from"), ("to=" + "1" * 50, "to"), ("to=9999-12-31", "to"),
    ("from=2026-12-24&to=2026-12-23", "to"), ("cursor=bad", "cursor"), ("cursor=12.a/b", "cursor"),
    ("cursor=123.abc%0A", "cursor"),  # a trailing newline, which ^...$ with match let through
    ("zone=kopi", "zone"),
])
def test_bad_listing_parameters_are_422_naming_them(client, mall, query, field):
    answer = listing(client, mall, query, status=422)
    assert answer["field"] == field, answer


def test_a_push_retried_without_ids_is_a_duplicate_not_a_clash(client, mall, store):
    show = {"film_en": "Pushed NoId", "auditorium": "2", "starts_at": later(7), "price": 40}
    first = push(client, mall, {"showtimes": [show]})
    assert first.status_code == 201 and first.get_json()["created"] == 1
    [made] = first.get_json()["showtimes"]
    again = push(client, mall, {"showtimes": [show]})
    assert again.status_code == 201, again.get_json()
    answer = again.get_json()
    assert (answer["created"], answer["updated"], answer["duplicates"]) == (0, 0, 1)
    assert answer["showtimes"] == [{"id": made["id"], "external_id": None, "duplicate": True}]
    assert [s.id for s in pushed(store)] == [made["id"]]
    # anything else about it differs: another show, refused in its hall as before
    clash = push(client, mall, {"showtimes": [{**show, "price": 42}]})
    assert clash.status_code == 409 and clash.get_json()["field"] == "showtimes[0].starts_at"
    # once the show is cancelled, the same push is a new show
    store.cancel_showtime("demo", made["id"])
    anew = push(client, mall, {"showtimes": [show]})
    assert anew.status_code == 201 and anew.get_json()["created"] == 1
    assert anew.get_json()["showtimes"][0]["id"] != made["id"]


def test_the_docstring_example_works_as_written(client, mall, store):
    assert "2025-05-01T19:30" not in api.__doc__
    body = api.__doc__.split("showtimes -d '", 1)[1].split("]}'", 1)[0] + "]}"
    body = body.replace("'$SHOW'", _at(3, "19:30"))
    resp = client.post(URL, data=body, content_type="application/json", headers={"Authorization": f"Bearer {mall}"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["showtimes"][0]["external_id"] == "pos-1234"
