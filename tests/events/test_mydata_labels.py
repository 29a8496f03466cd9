"""Every field the my-data page shows is labelled in words, in both languages: a shopper who used every light
app (a coupon, a queue number and a table booking, a cinema ticket, an activity, membership, parking, a game,
a payment: tests/events/test_erasure_everywhere.py `use_every_app`) sees no field under its stored name (the
food court's queue number read "cls A … id A004 number 4"), in her own part of the page or in an earlier WiFi
sign-in's on her phone. The apps' transaction events are walked too, with the fields each `record_event(...)` call
in the code gives them, so a field an app adds without a label fails here."""

from __future__ import annotations

import ast
import re
import time

import pytest

from core.settings import PROJECT_ROOT
from portal.shopper import Shopper, new_shopper, shopper_token, token_store
from tests.events.test_erasure_everywhere import CLIENT, PHONE, use_every_app

# A label the page has no words for is shown as the stored key, in <code> (templates/insights/mydata.html).
RAW_LABEL = re.compile(r"<dt><code>([^<]*)</code></dt>")
APPS = {"queue", "cinema", "coupons", "activities", "games", "membership", "parking", "payments"}


def recorded_events() -> list[tuple[str, str, dict[str, str]]]:
    """(app, action, fields) of each `record_event(APP, "<action>", ..., **fields)` call in the light apps."""
    found = []
    for path in sorted((PROJECT_ROOT / "lightapps").glob("*/*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "record_event"
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                fields = {k.arg: "x1" for k in node.keywords if k.arg not in (None, "zone", "at")}
                found.append((path.parent.name, node.args[1].value, fields))
    return found


def record_every_event(svc, client: str) -> None:
    for name, action, fields in recorded_events():
        svc.events.emit("demo", "txn", at=time.time() - 20, shopper=client, zone="kopi", app=name, action=action,
                        **fields)


def preorder_and_call(app, client: str) -> None:
    """Her queue number gets a pre-order and is called: the fields a ticket gains on its way."""
    queue = app.extensions["light_app_stores"]["queue"]
    with app.app_context():
        (ticket,) = [t for t in queue.export_shopper("demo", client)["tickets"] if "number" in t]
        assert queue.attach_preorder_to_ticket("demo", "foodcourt", ticket["id"], client, {
            "items": [{"id": "m1", "name_en": "Noodles", "name_zh": "面", "price": 1800, "qty": 2}],
            "total": 3600}).ok
        for _ in range(ticket["number"]):  # the day's earlier numbers first
            if queue.call_next("demo", "foodcourt", ticket["cls"]).value == ticket["id"]:
                break
        (called,) = [t for t in queue.export_shopper("demo", client)["tickets"] if "number" in t]
        assert called["called"] and called["preorder"]["total"] == 3600


def raw_labels(page: str) -> str:
    return ", ".join(sorted(set(RAW_LABEL.findall(page))))


def test_the_scan_finds_the_apps_events():
    actions = {action for _app, action, _fields in recorded_events()}
    assert {"queue_ticket", "ticket", "coupon_claim", "game_draw", "activity_join"} <= actions


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_field_of_hers_shows_under_its_stored_name(app, client, svc, demo, lang):
    use_every_app(app, svc)
    preorder_and_call(app, CLIENT)
    record_every_event(svc, CLIENT)
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    assert set(client.get(f"/v/demo/my-data/export.json?c={token}").get_json()["apps"]) >= APPS
    page = client.get(f"/v/demo/my-data?c={token}&lang={lang}").get_data(as_text=True)
    assert 'id="held-app-queue"' in page and 'id="held-events"' in page
    assert raw_labels(page) == ""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_field_of_an_earlier_sign_in_shows_under_its_stored_name(app, client, svc, demo, lang):
    """Monday's sign-in on her phone used every app; Tuesday's sheet shows it as the phone's other sign-in."""
    tokens = token_store(app)
    monday = new_shopper("demo", PHONE, phone_verified=True)
    assert client.get("/v/demo/my-data", query_string={"c": tokens.mint(monday, handout=True)}).status_code == 200
    use_every_app(app, svc, client=monday.client)
    preorder_and_call(app, monday.client)
    tuesday = tokens.mint(new_shopper("demo", PHONE, phone_verified=True), handout=True)
    (linked,) = client.get("/v/demo/my-data/export.json", query_string={"c": tuesday}).get_json()["linked"]
    assert set(linked["apps"]) >= APPS and linked["notifications"]["messages"]
    page = client.get("/v/demo/my-data", query_string={"c": tuesday, "lang": lang}).get_data(as_text=True)
    assert 'id="held-linked-1-app-queue"' in page and 'id="held-linked-1-notifications"' in page
    assert raw_labels(page) == ""


def section(page: str, id_: str) -> str:
    found = re.search(rf'<section id="{id_}" class="held">(.*?)</section>', page, re.S)
    assert found, id_
    return found.group(1)


def test_a_field_an_app_gives_a_meaning_of_its_own_is_labelled_by_that_app(app, client, svc, demo):
    """A queue ticket's `number` is its place in the food court's day's line, its pre-order's `items` are dishes; the
    same fields of another app (a game's event here) read in words true of any app."""
    use_every_app(app, svc)
    preorder_and_call(app, CLIENT)
    svc.events.emit("demo", "txn", at=time.time() - 20, shopper=CLIENT, zone="kopi", app="games", action="game_draw",
                    number="7", items="2")
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    page = client.get(f"/v/demo/my-data?c={token}&lang=en").get_data(as_text=True)
    queue, events = section(page, "held-app-queue"), section(page, "held-events")
    assert "<dt>Place in the day’s line</dt>" in queue and "<dt>Dishes</dt>" in queue
    assert "<dt>Number</dt>" in events and "<dt>Items</dt>" in events
    assert "Place in the day’s line" not in events and "Dishes" not in events
