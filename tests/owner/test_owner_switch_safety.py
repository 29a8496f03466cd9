"""A zone owner's save never strands what shoppers hold (LightApp.in_use, portal/owner/views.py `_stranded`):
a queue's table classes may not drop a class a party still holds a number in (422), and a zone may not be
switched away from the queue while numbers or table bookings are live, nor away from the cinema while tickets
for coming showtimes are (409); nothing is stored then. And the queue console of a zone switched away shows
the queue's kept classes, not the defaults."""

from __future__ import annotations

import re
import time

import pytest

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from lightapps.queue.store import QueueStore
from portal.auth import AuditLog

QUEUE_ZONE = "jade"  # the demo runs the queue there, classes A:1-2,B:3-4,C:5-12
CINEMA_ZONE = "cinema"


def save(client, console, zone: str, data: dict):
    return client.post(f"/console/owner/demo/zone/{zone}?lang=en", data={"csrf_token": console.csrf(), **data})


def form_of(config: dict) -> dict:
    """A zone's config as its settings form posts it (a checkbox left off is absent)."""
    return {k: ("on" if v is True else str(v)) for k, v in config.items() if v not in (False, None)}


def zone_audit(svc) -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 1000) if e["action"].startswith("zone.")]


def refusal(resp) -> str:
    html = resp.get_data(as_text=True)
    found = re.search(r'id="form-errors"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"\s+", " ", found.group(1)) if found else ""


@pytest.fixture
def queue(svc, console):
    """The queue's store (on the demo's time zone, the default), jade's owner logged in."""
    console.login(QUEUE_ZONE)
    return QueueStore(svc.db)


@pytest.fixture
def cinema(svc, console):
    """The cinema's store, its owner logged in."""
    console.login(CINEMA_ZONE)
    return CinemaStore(svc.db)


# ---- the queue's table classes --------------------------------------------------------------------


def test_classes_that_drop_a_class_with_a_waiting_party_are_refused(queue, svc, client, console):
    before = svc.zone_apps.get("demo", QUEUE_ZONE)
    assert queue.take("demo", QUEUE_ZONE, "A", 2, "shopper-1").ok
    audited = len(zone_audit(svc))
    resp = save(client, console, QUEUE_ZONE, {**form_of(before[1]), "app": "queue", "table_classes": "S:1-3,L:4-12"})
    assert resp.status_code == 422
    assert "Table class A still has 1 party with a number" in refusal(resp)
    assert svc.zone_apps.get("demo", QUEUE_ZONE) == before and len(zone_audit(svc)) == audited  # nothing stored


def test_called_parties_count_too_and_every_dropped_class_is_named(queue, svc, client, console):
    _name, config = svc.zone_apps.get("demo", QUEUE_ZONE)
    queue.take("demo", QUEUE_ZONE, "A", 2, "shopper-1")
    queue.take("demo", QUEUE_ZONE, "C", 6, "shopper-2")
    queue.take("demo", QUEUE_ZONE, "C", 7, "shopper-3")
    assert queue.call_next("demo", QUEUE_ZONE, "C").ok  # called, not yet seated: still holds the number
    resp = save(client, console, QUEUE_ZONE, {**form_of(config), "app": "queue", "table_classes": "B:1-4"})
    assert resp.status_code == 422
    words = refusal(resp)
    assert "Table class A still has 1 party" in words and "Table class C still has 2 parties" in words


def test_classes_may_change_around_the_classes_parties_hold(queue, svc, client, console):
    _name, config = svc.zone_apps.get("demo", QUEUE_ZONE)
    queue.take("demo", QUEUE_ZONE, "A", 2, "shopper-1")
    # A keeps its label (other sizes), B and C go: nobody holds a number there.
    resp = save(client, console, QUEUE_ZONE, {**form_of(config), "app": "queue", "table_classes": "A:1-3,L:4-12"})
    assert resp.status_code == 303
    assert svc.zone_apps.get("demo", QUEUE_ZONE)[1]["table_classes"] == "A:1-3,L:4-12"


def test_a_class_may_go_once_its_parties_are_seated(queue, svc, client, console):
    _name, config = svc.zone_apps.get("demo", QUEUE_ZONE)
    ticket = queue.take("demo", QUEUE_ZONE, "A", 2, "shopper-1").value
    assert queue.seat("demo", QUEUE_ZONE, ticket, "A").ok
    resp = save(client, console, QUEUE_ZONE, {**form_of(config), "app": "queue", "table_classes": "S:1-3,L:4-12"})
    assert resp.status_code == 303


# ---- switching a zone away from an app ------------------------------------------------------------


def test_a_queue_with_a_waiting_party_is_not_switched_away(queue, svc, client, console):
    before = svc.zone_apps.get("demo", QUEUE_ZONE)
    ticket = queue.take("demo", QUEUE_ZONE, "B", 3, "shopper-1").value
    audited = len(zone_audit(svc))
    resp = save(client, console, QUEUE_ZONE, {"app": "coupons", "headline_en": "Coupons", "headline_zh": "券"})
    assert resp.status_code == 409
    assert "1 party still holds a number" in refusal(resp)
    assert svc.zone_apps.get("demo", QUEUE_ZONE) == before and len(zone_audit(svc)) == audited
    zh = client.post(f"/console/owner/demo/zone/{QUEUE_ZONE}?lang=zh",
                     data={"csrf_token": console.csrf(), "app": "coupons"})
    assert zh.status_code == 409 and refusal(zh) and svc.zone_apps.get("demo", QUEUE_ZONE) == before
    assert queue.cancel("demo", QUEUE_ZONE, ticket, "B", "shopper-1").ok
    assert save(client, console, QUEUE_ZONE, {"app": "coupons"}).status_code == 303
    assert svc.zone_apps.get("demo", QUEUE_ZONE)[0] == "coupons"


def test_a_queue_with_a_table_booking_to_come_is_not_switched_away(queue, svc, client, console):
    tomorrow = time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400))
    booked = queue.reserve("demo", QUEUE_ZONE, tomorrow, "12:00", 2, "A", "shopper-1", capacity=4)
    assert booked.ok
    resp = save(client, console, QUEUE_ZONE, {"app": "coupons"})
    assert resp.status_code == 409 and "1 table booking is still to come" in refusal(resp)
    assert queue.end_reservation("demo", QUEUE_ZONE, booked.value, "CANCELED").ok
    assert save(client, console, QUEUE_ZONE, {"app": "coupons"}).status_code == 303


def test_a_cinema_with_a_ticket_for_a_coming_show_is_not_switched_away(cinema, svc, client, console):
    before = svc.zone_apps.get("demo", CINEMA_ZONE)
    show_id = cinema.upsert_showtimes("demo", CINEMA_ZONE, [ShowtimeInput("Test Film", "测试电影", "1",
                                      int(time.time()) + 3 * 3600, 4200)], source="test")["ids"][0]
    show = cinema.showtime("demo", show_id)
    held = cinema.hold("demo", show, "shopper-1", ["A4", "A5"], ttl_s=480)
    resp = save(client, console, CINEMA_ZONE, {"app": "directory", "welcome_en": "Closed", "welcome_zh": "关闭"})
    assert resp.status_code == 409 and "1 ticket is booked (or being paid for)" in refusal(resp)  # a hold too
    code = cinema.confirm("demo", held.token, "shopper-1", CINEMA_ZONE).code
    resp = save(client, console, CINEMA_ZONE, {"app": "directory"})
    assert resp.status_code == 409 and svc.zone_apps.get("demo", CINEMA_ZONE) == before
    assert cinema.cancel_booking("demo", code, "shopper-1").ok
    assert save(client, console, CINEMA_ZONE, {"app": "directory"}).status_code == 303


def test_a_ticket_for_a_show_long_begun_does_not_hold_the_zone(cinema, svc, client, console):
    show_id = cinema.upsert_showtimes("demo", CINEMA_ZONE, [ShowtimeInput("Old Film", "旧电影", "1",
                                      int(time.time()) - 3600, 4200)], source="test")["ids"][0]
    held = cinema.hold("demo", cinema.showtime("demo", show_id), "shopper-1", ["A4"], ttl_s=480)
    assert cinema.confirm("demo", held.token, "shopper-1", CINEMA_ZONE).ok
    assert save(client, console, CINEMA_ZONE, {"app": "directory"}).status_code == 303


# ---- the queue console of a zone switched away ---------------------------------------------------


def test_the_queue_console_of_a_zone_switched_away_keeps_its_classes(queue, svc, client, console):
    _name, config = svc.zone_apps.get("demo", QUEUE_ZONE)
    assert save(client, console, QUEUE_ZONE, {**form_of(config), "app": "queue",
                                              "table_classes": "S:1-3,L:4-12"}).status_code == 303
    ticket = queue.take("demo", QUEUE_ZONE, "S", 2, "shopper-1").value
    svc.zone_apps.set("demo", QUEUE_ZONE, "coupons", {})  # switched before switches were checked
    dash = client.get(f"/console/apps/queue/demo/{QUEUE_ZONE}/?lang=en").get_data(as_text=True)
    assert set(re.findall(r'name="cls" value="([^"*]+)"', dash)) == {"S", "L"} and ticket in dash
    called = client.post(f"/console/apps/queue/demo/{QUEUE_ZONE}/call-next",
                         data={"csrf_token": console.csrf(), "cls": "S"})
    assert called.status_code == 303
    assert queue.ticket("demo", QUEUE_ZONE, ticket)["state"] == "SERVICE_READY"
