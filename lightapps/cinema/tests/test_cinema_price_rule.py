"""A showtime's price read by the platform's one amount rule (portal/payments/money.py, `read_amount`), from the
owner's form and from the cinema system's push: "¥45" and "1,299" are taken, "30,5" is refused saying to use a dot,
and the refusal names the field once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cinema_fixtures import mall_fixture, store_fixture  # noqa: F401 (the fixtures)

CONSOLE = "/console/apps/cinema/demo/cinema"
API = "/api/v1/venues/demo/cinema/showtimes"


def later(days: float) -> str:
    """Days ahead, so no demo showtime clashes with it."""
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def test_the_console_takes_yuan_as_owners_type_it_and_refuses_a_decimal_comma(client, console, store):
    console.login("cinema")
    for n, (typed, fen) in enumerate((("¥45", 4500), ("￥1,299.00", 129900))):
        data = {"film_en": f"Price {n}", "auditorium": "2", "starts_at": later(3 + n), "price": typed,
                "csrf_token": console.csrf()}
        assert client.post(f"{CONSOLE}/showtimes", data=data).status_code == 303, typed
        assert [s.price_cents for s in store.showtimes("demo", "cinema") if s.film_en == f"Price {n}"] == [fen]
    data = {"film_en": "Comma", "auditorium": "2", "starts_at": later(6), "price": "30,5", "csrf_token": console.csrf()}
    resp = client.post(f"{CONSOLE}/showtimes?lang=en", data=data)
    assert resp.status_code == 422
    text = re.search(r'id="error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
    assert text.startswith("Price must use a dot for decimals") and text.count("Price") == 1, text


def test_the_push_takes_the_same_rule_and_names_the_field_once(client, mall, store):
    auth = {"Authorization": f"Bearer {mall}"}
    show = {"id": "pos-yuan", "film_en": "Pushed", "auditorium": "1", "starts_at": later(4), "price": "¥1,280.00"}
    resp = client.post(API, json={"showtimes": [show]}, headers=auth)
    assert resp.status_code == 201, resp.get_json()
    assert [s.price_cents for s in store.showtimes("demo", "cinema") if s.film_en == "Pushed"] == [128000]
    resp = client.post(API, json={"showtimes": [{**show, "price": "30,5"}]}, headers=auth)
    body = resp.get_json()
    assert resp.status_code == 422 and body["field"] == "showtimes[0].price"
    assert body["error"].startswith("showtimes[0].price must use a dot") and body["error"].count("price") == 1, body
