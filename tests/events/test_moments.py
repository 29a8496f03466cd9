"""Moments over the simulated days: each rule fires exactly as often as replaying the simulation's stays
with the rule's cap, cooldown and budget says; the preview counts the same; webhooks reach a receiver on
loopback signed, and are retried with backoff after a failure; the delivery log is searchable and replays."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from werkzeug.datastructures import MultiDict

from portal.events.moments import (
    SIGNATURE_HEADER,
    MomentKeys,
    MomentsEngine,
    RuleError,
    parse_rule,
    verify,
)
from tests.fake_http import serve_in_thread

ZONES = ["atrium", "books", "cinema", "foodcourt", "garage", "jade", "kopi", "lumen", "pixel"]


def rule(**form):
    form.setdefault("name", "r")
    form.setdefault("message_en", "Hello")
    return parse_rule(MultiDict(form), zones=ZONES, owner="ops", may_webhook=True,
                      allow_private=True)  # the receivers listen on loopback


class Receiver(BaseHTTPRequestHandler):
    got: list = []
    fail_first = 1

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((self.headers, body))  # case-insensitive, as HTTP headers are
        status = 500 if Receiver.fail_first > 0 else 204
        Receiver.fail_first -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.got, Receiver.fail_first = [], 1
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_webhook_is_signed_retried_logged_and_replayed(db, receiver):
    from portal.events.log import EventLog

    log = EventLog(db)
    engine = MomentsEngine(db, log)
    hook = rule(trigger="zone_enter", zone="kopi", action="webhook", webhook_url=receiver)
    engine.save("v1", hook)
    engine.ensure("v1", start="0")
    log.emit("v1", "zone_enter", at=time.time(), device="d1", shopper="s-1", zone="kopi")
    now = time.time()
    engine.run_once("v1", now=now)  # first try: the receiver answers 500
    [d] = engine.deliveries("v1")
    assert (d.status, d.attempts, d.last_error) == ("retrying", 1, "HTTP 500")
    assert d.next_at == pytest.approx(now + 30)
    assert engine.deliver_due("v1", now + 10) == 0  # not yet: backoff
    assert engine.deliver_due("v1", now + 31) == 1
    assert engine.delivery("v1", d.id).status == "delivered"
    secret = engine.webhook_secret("v1")
    assert len(Receiver.got) == 2
    for headers, body in Receiver.got:
        assert verify(secret, headers[SIGNATURE_HEADER], body, time.time())
        assert not verify("wrong", headers[SIGNATURE_HEADER], body, time.time())
        assert json.loads(body)["shopper"] == "s-1" and json.loads(body)["zone"] == "kopi"
    assert [x.id for x in engine.deliveries("v1", status="delivered", text="s-1")] == [d.id]
    assert engine.deliveries("v1", text="nobody") == []
    assert engine.replay("v1", d.id) and engine.deliver_due("v1", time.time() + 1) == 1
    assert len(Receiver.got) == 3 and engine.delivery("v1", d.id).status == "delivered"


def test_webhook_gives_up_after_max_attempts(db):
    from portal.events.log import EventLog

    log = EventLog(db)
    engine = MomentsEngine(db, log, send=lambda url, body, headers: (False, "HTTP 503"))
    engine.save("v1", rule(trigger="arrive", action="webhook", webhook_url="http://127.0.0.1:9/x"))
    engine.ensure("v1", start="0")
    log.emit("v1", "arrive", at=time.time(), device="d1")
    now = time.time()
    engine.run_once("v1", now=now)
    for attempt in range(2, 7):
        now += 30 * 2 ** (attempt - 1)
        engine.deliver_due("v1", now)
    [d] = engine.deliveries("v1")
    assert (d.status, d.attempts) == ("failed", 6)
    assert db.zcard(MomentKeys("v1").due()) == 0


def test_offer_waits_for_the_shopper_and_caps_hold(db):
    from portal.events.log import EventLog

    log = EventLog(db)
    engine = MomentsEngine(db, log)
    offer = rule(trigger="zone_enter", zone="kopi", action="offer", message_en="10% off", cap_per_day="1")
    capped = rule(trigger="zone_enter", zone="kopi", action="offer", message_en="x", cap_per_day="1", cooldown_h="0")
    engine.save("v1", offer)
    engine.save("v1", capped)
    engine.ensure("v1", start="0")
    t = datetime(2027, 1, 15, 20, tzinfo=UTC).timestamp()
    log.emit("v1", "landing", at=t, device="d1", shopper="s-1", zone="atrium")
    for dt in (0, 60, 13 * 3600, 15 * 3600):  # 20:00, 20:01, then 09:00 and 11:00 the next day
        log.emit("v1", "zone_enter", at=t + 10 + dt, device="d1", zone="kopi")
    engine.drain("v1")
    fired = engine.fired("v1")
    assert fired[offer.id] == 2  # 20:01 inside the 12 h cooldown; 11:00 the day's cap (and the cooldown)
    assert fired[capped.id] == 2  # no cooldown: one a day
    assert [o["en"] for o in engine.offers("v1", ["s-1"])] == ["x", "10% off"]


def test_rule_form_validation():
    with pytest.raises(RuleError):
        rule(trigger="teleport", action="offer")
    with pytest.raises(RuleError):
        rule(trigger="zone_enter", zone="mars", action="offer")
    with pytest.raises(RuleError):
        rule(trigger="arrive", zone="kopi", action="offer")
    with pytest.raises(RuleError):
        rule(trigger="arrive", action="webhook", webhook_url="ftp://x")
    with pytest.raises(RuleError):
        rule(trigger="dwell", zone="kopi", dwell_min="0", action="offer")
    with pytest.raises(RuleError):  # an owner: its own zones, zone triggers, no webhooks
        parse_rule(MultiDict({"name": "x", "trigger": "zone_enter", "zone": "books", "action": "offer",
                              "message_en": "m"}), zones=ZONES, owner="kopi", may_webhook=False, owner_zones=["kopi"])
    with pytest.raises(RuleError):
        parse_rule(MultiDict({"name": "x", "trigger": "zone_enter", "zone": "kopi", "action": "webhook",
                              "webhook_url": "http://x/"}), zones=ZONES, owner="kopi", may_webhook=False,
                   owner_zones=["kopi"])
    assert rule(trigger="dwell", zone="kopi", dwell_min="15", action="offer").dwell_min == 15


def test_staff_phones_trigger_nothing(db):
    from portal.events.log import EventLog

    log = EventLog(db)
    engine = MomentsEngine(db, log, staff=lambda venue: {"staff-1"})
    hello = rule(trigger="arrive", action="offer", cap_per_day="0", cooldown_h="0")
    engine.save("v1", hello)
    engine.ensure("v1", start="0")
    for device in ("staff-1", "d2"):
        log.emit("v1", "arrive", at=time.time(), device=device)
    engine.drain("v1")
    assert engine.fired("v1") == {hello.id: 1}
