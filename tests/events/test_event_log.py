"""The event log: the presence listener's arrive / zone_enter / zone_leave / leave, the landing event and a
light app's transaction event, on the real store; consumer groups deliver each event once."""

from __future__ import annotations

import time

import pytest

from lightapps.coupons.store import CouponStore
from portal.events import EventKeys, EventLog, PresenceTracker
from portal.events.log import ONCE_KEEP_S, Event
from portal.shopper import Shopper, shopper_token, token_store
from portal.tracking.positions import Position

T0 = 1_800_000_000.0


def kinds(log: EventLog, venue: str = "v1") -> list[tuple]:
    return [(e.kind, e.zone, e.at - T0, e.data.get("dwell_s")) for e in log.read(venue)]


def test_presence_events_with_dwell_and_leave(db):
    log, presence = EventLog(db), PresenceTracker(db, leave_after_s=1200)
    presence.record("v1", "dev-a", "atrium", T0)
    presence.record("v1", "dev-a", "atrium", T0 + 60)
    presence.record("v1", "dev-a", "kopi", T0 + 300)
    presence.record("v1", "dev-a", None, T0 + 900)
    assert presence.occupancy("v1", T0 + 900) == {"": 1}
    assert presence.sweep("v1", T0 + 900 + 1199) == 0
    assert presence.sweep("v1", T0 + 900 + 1201) == 1
    assert kinds(log) == [("arrive", None, 0, None), ("zone_enter", "atrium", 0, None),
                          ("zone_leave", "atrium", 300, 300.0), ("zone_enter", "kopi", 300, None),
                          ("zone_leave", "kopi", 900, 600.0), ("leave", None, 900, 900.0)]
    assert presence.occupancy("v1", T0 + 3000) == {}


def test_a_return_after_the_leave_gap_is_a_new_arrival(db):
    log, presence = EventLog(db), PresenceTracker(db, leave_after_s=1200)
    presence.record("v1", "dev-b", "kopi", T0)
    presence.record("v1", "dev-b", "kopi", T0 + 3600)  # unseen for an hour: left at T0, back now
    assert [k[0] for k in kinds(log)] == ["arrive", "zone_enter", "zone_leave", "leave", "arrive", "zone_enter"]


@pytest.mark.single_node
def test_locator_listener_rides_on_the_pipeline(db):
    presence = PresenceTracker(db)
    pipe = db.pipeline(transaction=False)
    presence.on_positions(pipe, "v1", [("dev-c", Position(0, 1.0, 1.0, "kopi", 0.9, 0.9))], T0)
    assert EventLog(db).length("v1") == 0
    pipe.execute()
    assert [e.kind for e in EventLog(db).read("v1")] == ["arrive", "zone_enter"]


def test_consumer_group_delivers_once_and_redelivers_unacked(db):
    log = EventLog(db)
    log.ensure_group("v1", "g", start="0")
    log.ensure_group("v1", "g", start="0")  # idempotent
    log.emit("v1", "arrive", at=T0, device="d1")
    first = log.read_group("v1", "g", "c1")
    assert [e.device for e in first] == ["d1"]
    assert [e.id for e in log.read_group("v1", "g", "c1")] == [first[0].id]  # not acked: again
    log.ack("v1", "g", [first[0].id])
    assert log.read_group("v1", "g", "c1") == []


def test_landing_emits_an_event(app, svc, demo):
    landing = app.extensions["captive"].landing
    decision = landing.decide("demo", None)
    events = [e for e in svc.events.read("demo") if e.kind == "landing"]
    assert len(events) == 1 and events[0].shopper == decision.client and events[0].zone is None


def test_landing_event_is_written_off_the_path_and_never_costs_the_token(app, svc, demo, caplog):
    landing = app.extensions["captive"].landing
    stream = EventKeys("demo").stream()
    svc.db.set(stream, "not a stream")  # the store refuses the event's append
    try:
        decision = landing.decide("demo", None)
        shopper = token_store(app).resolve(decision.token)
        assert shopper is not None and shopper.client == decision.client  # the token stands
        svc.events.flush()
        assert "events not logged" in caplog.text  # refused: dropped and logged, not retried forever
    finally:
        svc.db.delete(stream)
    decision = landing.decide("demo", None, now=T0)
    svc.events.flush()
    entry = svc.db.xrange(stream)[-1][1]
    assert entry[b"k"] == b"landing" and entry[b"sh"] == decision.client.encode() and entry[b"at"] == b"%.3f" % T0


def test_coupon_claim_emits_a_transaction(app, client, svc, demo):
    coupon = CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "T", "title_zh": "T", "description": "d", "stock": 5, "valid_from": time.time() - 60,
        "valid_until": time.time() + 86400})
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-alice", phone="dev-alice"))
    resp = client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token})
    assert resp.status_code == 303
    client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token})  # ALREADY: no second event
    txns = [e for e in svc.events.read("demo") if e.kind == "txn"]
    assert len(txns) == 1
    assert (txns[0].shopper, txns[0].device, txns[0].zone) == ("s-alice", "dev-alice", "kopi")
    assert txns[0].data == {"app": "coupons", "action": "coupon_claim", "coupon": coupon.id}


def test_payments_and_refunds_are_money_events_in_the_orders_zone(svc):
    """A payment and a refund are `txn` events in the zone the order was bought in (its merchant: they named none,
    so no zone's figures saw them)."""
    from types import SimpleNamespace

    order = SimpleNamespace(venue="v1", shopper="s-9", purpose="cinema", id="o1", merchant="cinema", amount=4500,
                            refunded=1500)  # as the listeners are told a refund: its total refunded after it
    for listener in svc.payments.listeners:
        listener("paid", order, 4500)
        listener("refund", order, 1500)
    txns = [(e.shopper, e.zone, e.data["action"], e.data["amount_fen"]) for e in svc.events.read("v1")
            if e.kind == "txn"]
    assert txns == [("s-9", "cinema", "payment", 4500), ("s-9", "cinema", "refund", 1500)]


def test_an_event_emitted_once_is_written_once(db):
    """`emit_once`: what is done again (a paid order's delivery told again) writes no second event; the mark is in
    the venue's slot and expires."""
    log = EventLog(db)
    assert log.emit_once("v1", "txn", "paid:o1", at=T0, shopper="s-1", zone="cinema", app="cinema", action="ticket")
    assert not log.emit_once("v1", "txn", "paid:o1", at=T0 + 5, shopper="s-1", zone="cinema", action="ticket")
    assert log.emit_once("v1", "txn", "paid:o2", at=T0 + 9, shopper="s-2", action="ticket")
    assert [(e.shopper, e.zone, e.at - T0, e.data.get("app")) for e in log.read("v1")] == [
        ("s-1", "cinema", 0, "cinema"), ("s-2", None, 9, None)]
    assert 0 < db.ttl(EventKeys("v1").once("paid:o1")) <= ONCE_KEEP_S


def test_a_log_entry_has_the_fields_of_its_event(db):
    """EventLog.entry builds the fields without an Event (the probe's landing, once per probe): the same fields,
    in the same order, as Event.fields, the one schema; no extra of None, and an unknown kind still refused."""
    log = EventLog(db)
    entry = log.entry("v1", "landing", at=T0, device="dev-a", shopper="s-1", zone="kopi", app="coupons", none=None)
    event = Event("landing", T0, "v1", "dev-a", "s-1", "kopi", {"app": "coupons"})
    assert entry == (EventKeys("v1").stream(), log.maxlen, event.fields())
    assert list(entry.fields) == ["k", "at", "dev", "sh", "z", "d"]
    bare = log.entry("v2", "leave", at=T0)
    assert bare.stream == EventKeys("v2").stream() and bare.fields == Event("leave", T0, "v2").fields()
    with pytest.raises(ValueError):
        log.entry("v1", "nope", at=T0)
