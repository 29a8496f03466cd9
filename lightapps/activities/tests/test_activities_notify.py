"""Group buys tell their members how it went: complete (every member, once), failed at the deadline (sent by
the worker, nobody opens a page), cancelled by the organiser."""

from __future__ import annotations

import functools
import time

import pytest

from lightapps.activities.store import ActivityStore
from portal.notify.contacts import ContactStore
from portal.notify.outbox import Outbox
from portal.notify.sms import LoggingSmsProvider, SmsChannel, dev_sms
from portal.notify.worker import NotifyWorker
from portal.shopper import Shopper, shopper_token

MEMBERS = ("alice", "bob", "carol")


@pytest.fixture
def contacts(svc):
    return ContactStore(svc.db, svc.settings.phone_key)


@pytest.fixture
def token(app):
    @functools.cache
    def make(client_id: str) -> str:
        with app.app_context():
            return shopper_token(Shopper("demo", client_id))
    return make


@pytest.fixture
def members(db, demo, contacts):
    for i, member in enumerate(MEMBERS):
        contacts.set_phone("demo", member, f"+861380013800{i}", "en")
    return MEMBERS


def group_buy(svc, needed=2):
    now = time.time()
    return ActivityStore(svc.db).create("demo", "atrium", {
        "kind": "group", "title_en": "Dumpling set", "title_zh": "饺子套餐", "starts_at": now, "ends_at": now + 3600,
        "limit": 0, "needed": needed})


def deliver(svc, db, now=None) -> dict[str, list[str]]:
    channel = SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=10)
    NotifyWorker(db, svc.settings, [channel]).drain("demo", now=now)
    out: dict[str, list[str]] = {}
    for sms in reversed(dev_sms(db, "demo")):
        out.setdefault(sms["shopper"], []).append(sms["event"])
    return out


def join(client, token, item, member):
    return client.post(f"/v/demo/activities/{item.id}/join", data={"c": token(member)})


def test_complete_group_buy_tells_every_member_once(client, svc, db, members, token):
    item = group_buy(svc, needed=2)
    assert join(client, token, item, "alice").status_code == 303
    assert deliver(svc, db) == {}  # not complete yet; the failure notice waits for the deadline
    join(client, token, item, "bob")
    join(client, token, item, "bob")  # a double tap
    join(client, token, item, "carol")  # joins after it completed
    sent = deliver(svc, db)
    assert sent == {m: ["activities.group_done"] for m in MEMBERS}
    assert Outbox(db).stats("demo")["scheduled"] == 0  # alice's failure notice was withdrawn
    assert deliver(svc, db, now=item.ends_at + 60) == sent  # nothing more at the deadline
    text = dev_sms(db, "demo", "alice")[0]["text"]
    assert "Dumpling set" in text and f"/v/demo/activities/{item.id}?c=" in text


def test_failed_group_buy_is_told_at_the_deadline(client, svc, db, members, token):
    item = group_buy(svc, needed=3)
    join(client, token, item, "alice")
    join(client, token, item, "bob")
    assert deliver(svc, db, now=item.ends_at - 1) == {}
    assert deliver(svc, db, now=item.ends_at + 1) == {"alice": ["activities.group_failed"],
                                                      "bob": ["activities.group_failed"]}


def test_organiser_cancelling_tells_the_members(client, console, svc, db, members, token):
    item = group_buy(svc, needed=3)
    join(client, token, item, "alice")
    console.login("events")
    response = client.post(f"/console/apps/activities/demo/atrium/{item.id}/stop",
                           data={"csrf_token": console.csrf(), "confirm": "yes"})
    assert response.status_code == 303
    assert deliver(svc, db, now=item.ends_at + 1) == {"alice": ["activities.group_cancelled"]}
