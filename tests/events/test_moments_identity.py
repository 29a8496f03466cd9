"""Moments keyed on who a shopper is, not on a phone: first visit and return follow a member (or a kept
shopper token) across new MACs, never a phone's client id; dwell fires while the shopper is still in the
zone; live occupancy alerts on crossing a threshold, with a cooldown, signed to the venue's alert URL; a
notification rule reaches the real outbox and the development sender; the insights are cached briefly."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.datastructures import MultiDict

from portal.events.log import EventLog
from portal.events.moments import MomentKeys, MomentsEngine, RuleError, parse_rule, preview, verify
from portal.events.presence import PresenceTracker

ZONES = ["atrium", "kopi", "lumen"]
DAY = 86400.0
T0 = 1_800_000_000.0  # a fixed past moment: no test here depends on the clock


def rule(**form):
    form.setdefault("name", "r")
    form.setdefault("message_en", "Hello")
    form.setdefault("cap_per_day", "0")
    form.setdefault("cooldown_h", "0")
    return parse_rule(MultiDict(form), zones=ZONES, owner="ops", may_webhook=True, now=T0)


def visit(log: EventLog, t: float, device: str, shopper: str | None, **data) -> None:
    """A phone arrives; its shopper (if any) transacts ten minutes later."""
    log.emit("v1", "arrive", at=t, device=device)
    log.emit("v1", "landing", at=t + 30, device=device, shopper=f"fresh-{device}-{t:.0f}", zone="atrium")
    if shopper is not None:
        log.emit("v1", "txn", at=t + 600, device=device, shopper=shopper, zone="kopi", app="coupons",
                 action="coupon_claim", **data)


def test_first_visit_and_return_follow_the_identity_not_the_phone(db):
    log = EventLog(db)
    engine = MomentsEngine(db, log)
    first, back = rule(trigger="first_visit", action="offer"), rule(trigger="return", return_days="7", action="offer")
    for r in (first, back):
        engine.save("v1", r)
    engine.ensure("v1", start="0")
    # A member on day 0 and day 9 with a new (randomised) MAC each time: a first visit, then a return.
    visit(log, T0, "mac-a1", "s-member-1", member="100001")
    visit(log, T0 + 9 * DAY, "mac-a2", "s-member-2", member="100001")
    # A kept shopper token (the cookie) on day 0, day 3 (too soon) and day 11: first, nothing, return.
    for d, mac in ((0, "mac-b1"), (3, "mac-b2"), (11, "mac-b3")):
        visit(log, T0 + d * DAY + 100, mac, "s-kept")
    # One phone (one MAC) on day 0 and day 9 that never shows who it is: no first visit, no return.
    visit(log, T0 + 200, "mac-c", None)
    visit(log, T0 + 9 * DAY + 200, "mac-c", None)
    # A partner-link click identifies nobody.
    log.emit("v1", "txn", at=T0 + 300, device="mac-d", shopper="s-clicker", app="activities", action="referral")
    engine.drain("v1")
    assert engine.fired("v1") == {first.id: 2, back.id: 2}
    hit = {json.loads(d.body)["shopper"] for d in engine.deliveries("v1", rule=back.id)}
    assert hit == {"s-member-2", "s-kept"}
    # The preview replays the same book of visits.
    events = list(log.read("v1"))
    assert preview(back, events, T0, T0 + 30 * DAY).fires == 2
    assert preview(first, events, T0, T0 + 30 * DAY).fires == 2
    # Erasing the member forgets its visits: it would be "first" again.
    assert engine.forget("v1", ["s-member-2"], members=["100001"]) > 0
    assert db.hget(MomentKeys("v1").visits(), "m:100001") is None


def test_dwell_fires_during_the_stay_once(db):
    log = EventLog(db)
    presence = PresenceTracker(db)
    engine = MomentsEngine(db, log)
    ten = rule(trigger="dwell", zone="kopi", dwell_min="10", action="offer")
    engine.save("v1", ten)
    engine.ensure("v1", start="0")
    for dt in (0, 300, 599, 601, 900, 1200):  # in Kopi for 20 minutes, still there
        presence.record("v1", "d1", "kopi", T0 + dt)
    presence.record("v1", "d2", "kopi", T0)
    presence.record("v1", "d2", "atrium", T0 + 650)  # left after 650 s: reached 10 min only as it left
    presence.record("v1", "d3", "kopi", T0)
    presence.record("v1", "d3", "atrium", T0 + 500)  # 500 s: never
    engine.drain("v1")
    dwell = [e for e in log.read("v1") if e.kind == "dwell"]
    assert [(e.device, e.at, e.data["min"]) for e in dwell] == [("d1", T0 + 601, 10), ("d2", T0 + 650, 10)]
    assert not any(e.kind == "zone_leave" and e.device == "d1" for e in log.read("v1"))  # d1 is still inside
    assert engine.fired("v1") == {ten.id: 2}
    engine.set_active("v1", ten.id, False)  # no active dwell rule: no marks, no dwell events
    presence.record("v1", "d4", "kopi", T0)
    presence.record("v1", "d4", "kopi", T0 + 700)
    assert sum(1 for e in log.read("v1") if e.kind == "dwell") == 2


def test_occupancy_alert_on_crossing_with_cooldown_signed(db):
    log = EventLog(db)
    presence = PresenceTracker(db)
    sent = []
    engine = MomentsEngine(db, log, send=lambda url, body, headers: sent.append((url, body, headers)) or (True, "ok"),
                           occupancy=lambda v, now: (presence.occupancy(v, now), presence.limits(v)))
    presence.set_limit("v1", "kopi", 5)  # limits are 0 or at least k (5)
    with pytest.raises(RuleError):
        engine.set_alert_url("v1", "ftp://x")
    engine.set_alert_url("v1", "https://crm.example/alerts")
    now = time.time()
    for p in ("p1", "p2", "p3", "p4"):
        presence.record("v1", p, "kopi", now)
    assert engine.check_occupancy("v1", now) == []  # 4 < 5
    presence.record("v1", "p5", "kopi", now)
    assert engine.check_occupancy("v1", now) == ["kopi"]  # crossed
    assert engine.check_occupancy("v1", now + 60) == []  # still over: no repeat
    presence.record("v1", "p5", "atrium", now + 120)
    assert engine.check_occupancy("v1", now + 120) == []  # back under
    presence.record("v1", "p5", "kopi", now + 180)
    assert engine.check_occupancy("v1", now + 180) == []  # crossed again inside the cooldown: quiet
    engine.deliver_due("v1", now + 200)
    [(url, body, headers)] = sent
    assert url == "https://crm.example/alerts"
    assert json.loads(body) | {"at": 0} == json.loads(body) | {
        "venue": "v1", "zone": "kopi", "occupancy": 5, "limit": 5, "trigger": "occupancy", "at": 0}
    assert verify(engine.webhook_secret("v1"), headers["X-MallPortal-Signature"], body, time.time())
    [d] = engine.deliveries("v1", rule="occupancy")
    assert d.status == "delivered"


def test_a_notify_rule_goes_through_the_outbox_to_the_dev_sender(svc, demo):
    from portal.notify.contacts import ContactStore
    from portal.notify.outbox import NotifyKeys
    from portal.notify.sms import dev_sms
    from portal.notify.worker import NotifyWorker, default_channels

    hello = rule(trigger="zone_enter", zone="kopi", action="notify", message_en="Coffee is on us",
                 message_zh="咖啡我们请")
    svc.moments.save("demo", hello)
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-n", location=True, marketing=True)
    svc.consent.record("demo", "s-quiet", location=True, marketing=False)
    ContactStore(svc.db, svc.settings.phone_key).set_phone("demo", "s-n", "+8613800138000", "en")
    now = time.time()
    for dev, shopper in (("dev-n", "s-n"), ("dev-q", "s-quiet")):
        svc.events.emit("demo", "landing", at=now, device=dev, shopper=shopper, zone="atrium")
        svc.events.emit("demo", "zone_enter", at=now + 1, device=dev, zone="kopi")
    svc.moments.tick("demo", now=now + 2)
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 1  # the consenting shopper only
    [d] = svc.moments.deliveries("demo", rule=hello.id)
    assert d.status == "notified"
    worker = NotifyWorker(svc.db, svc.settings, default_channels(svc.settings, svc.db))
    assert worker.drain("demo", now + 3) == 1
    [sms] = dev_sms(svc.db, "demo", "s-n")
    assert sms["event"] == "moments.zone_enter" and "Coffee is on us" in sms["text"]


def test_insights_are_cached_briefly_and_an_erasure_starts_afresh(app, svc, demo):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from portal.events.report import day_insights, venue_tz

    venue_map = svc.venues.get_map("demo")
    with app.app_context():
        tz = venue_tz(svc, venue_map)
    now = time.time()
    day = datetime.fromtimestamp(now, ZoneInfo(tz)).date()

    def in_kopi(figures) -> int:
        return {f.zone: f.in_zone for f in figures.funnels}["kopi"]

    svc.events.emit("demo", "zone_enter", at=now - 5, device="dx", zone="kopi")
    with app.app_context():
        assert in_kopi(day_insights(svc, venue_map, day)) == 1
        for device in ("dy", "dz"):
            svc.events.emit("demo", "zone_enter", at=now - 4, device=device, zone="kopi")
        assert in_kopi(day_insights(svc, venue_map, day)) == 1  # the cached figures (a minute at most)
        svc.events.delete_where("demo", lambda e: e.device == "dx")  # an erasure: a new cache generation
        assert in_kopi(day_insights(svc, venue_map, day)) == 2
