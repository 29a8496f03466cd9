"""Moments and the shopper's consents: every rule needs marketing consent whatever the form says, a rule her
whereabouts trigger needs location consent too; an offer shows only while she agrees (and is dropped when
she withdraws); a replay asks again (consent, cap, cooldown) and erasure leaves nothing to replay; the
preview counts only the hits the engine could make."""

from __future__ import annotations

import json
import re
import time

from werkzeug.datastructures import MultiDict

from portal.events.moments import MomentKeys, Rule, parse_rule
from portal.notify.outbox import NotifyKeys
from portal.shopper import Shopper, shopper_token


def form(csrf, **over):
    data = {"csrf_token": csrf, "name": "Coffee hello", "trigger": "zone_enter", "zone": "kopi", "action": "notify",
            "message_en": "TEN-PERCENT-OFF", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    data.update(over)
    return data


def visit(svc, shopper, device, *, location=True, marketing=True, at=None):
    """The shopper answers the notice, lands from her phone and enters kopi; the engine runs."""
    at = time.time() - 5 if at is None else at
    svc.consent.record("demo", shopper, location=location, marketing=marketing)
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=at, device=device, shopper=shopper, zone="atrium")
    svc.events.emit("demo", "zone_enter", at=at + 1, device=device, zone="kopi")
    svc.moments.tick("demo")


def test_the_form_cannot_turn_consent_off(client, console, svc):
    console.login("kopi")  # a tenant crafting the field the form no longer has
    assert client.post("/console/owner/demo/moments", data=form(console.csrf(), consent="off")).status_code == 303
    console.login("ops")  # an operator: no consent field (the unticked box of old)
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer",
                                                              name="Ops hello")).status_code == 303
    assert 'name="consent"' not in client.get("/console/ops/demo/moments").get_data(as_text=True)
    visit(svc, "s-no", "d-no", marketing=False)
    assert svc.moments.fired("demo") == {}
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 0


def test_a_rule_stored_with_consent_off_still_asks(svc):
    rule = parse_rule(MultiDict(form("")), zones=["kopi"], owner="ops", may_webhook=True)
    old = json.loads(rule.to_json()) | {"consent": False}  # as rules were kept before
    svc.db.hset(MomentKeys("demo").rules(), rule.id, json.dumps(old))
    assert isinstance(svc.moments.rule("demo", rule.id), Rule)
    visit(svc, "s-no", "d-no", marketing=False)
    assert svc.moments.fired("demo") == {}


def test_location_triggers_need_location_consent(svc):
    for trigger, zone in (("zone_enter", "kopi"), ("first_visit", "")):
        svc.moments.save("demo", parse_rule(MultiDict(form("", trigger=trigger, zone=zone, action="offer",
                                                           name=trigger)), zones=["kopi"], owner="ops",
                                            may_webhook=True))
    by_trigger = {r.trigger: r.id for r in svc.moments.rules("demo")}
    visit(svc, "s-noloc", "d-noloc", location=False, marketing=True)
    svc.events.emit("demo", "txn", at=time.time() + 2, device="d-noloc", shopper="s-noloc", zone="kopi",
                    app="coupons", action="coupon_claim")
    svc.moments.tick("demo")
    # Entering kopi is her whereabouts: not without location consent. A first visit is her transaction
    # (marketing consent is enough).
    assert svc.moments.fired("demo") == {by_trigger["first_visit"]: 1}
    visit(svc, "s-both", "d-both")
    assert svc.moments.fired("demo")[by_trigger["zone_enter"]] == 1


def test_an_offer_leaves_the_pages_once_consent_is_withdrawn(app, client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer")).status_code == 303
    visit(svc, "s-o", "d-o")
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-o"))
    console.logout()
    assert "TEN-PERCENT-OFF" in client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    svc.consent.record("demo", "s-o", location=False, marketing=True)  # a location-triggered offer
    assert "TEN-PERCENT-OFF" not in client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    svc.consent.record("demo", "s-o", location=True, marketing=True)
    assert "TEN-PERCENT-OFF" in client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    assert client.post("/v/demo/privacy", data={"c": token, "location": "1"}).status_code == 303  # marketing off
    assert "TEN-PERCENT-OFF" not in client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    assert not svc.db.exists(MomentKeys("demo").offers("s-o"))  # dropped, not only hidden


def test_replay_asks_for_consent_and_limits_again(client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), cap_per_day="0")).status_code == 303
    visit(svc, "s-r", "d-r")
    [d] = svc.moments.deliveries("demo")
    sent = svc.db.xlen(NotifyKeys("demo").stream())
    assert sent == 1
    replay = f"/console/ops/demo/moments/replay/{d.id}"
    assert client.post(replay, data={"csrf_token": console.csrf()}).status_code == 303  # within the cooldown
    assert svc.moments.replay("demo", d.id) == "COOLDOWN"
    assert svc.db.xlen(NotifyKeys("demo").stream()) == sent
    later = time.time() + 13 * 3600
    svc.consent.record("demo", "s-r", location=True, marketing=False)  # withdrawn from Me
    assert svc.moments.replay("demo", d.id, now=later) == "CONSENT"
    assert svc.db.xlen(NotifyKeys("demo").stream()) == sent
    svc.consent.record("demo", "s-r", location=True, marketing=True)
    assert svc.moments.replay("demo", d.id, now=later) == "SENT"  # a new firing, counted and logged
    assert svc.db.xlen(NotifyKeys("demo").stream()) == sent + 1
    assert len(svc.moments.deliveries("demo")) == 2 and sum(svc.moments.fired("demo").values()) == 2


def test_a_replayed_offer_is_kept_as_an_offer_is(client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer", cooldown_h="0",
                                                              cap_per_day="0")).status_code == 303
    visit(svc, "s-k", "d-k")
    [d] = svc.moments.deliveries("demo")
    for _ in range(7):
        assert svc.moments.replay("demo", d.id) == "SENT"
    key = MomentKeys("demo").offers("s-k")
    assert 0 < svc.db.ttl(key) <= 86400 and svc.db.llen(key) == 5


def test_no_replay_after_erasure(app, client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer",
                                                              cooldown_h="0")).status_code == 303
    visit(svc, "s-gone", "d-gone")
    [d] = svc.moments.deliveries("demo")
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-gone"))  # opened from Me: no vouched phone
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert client.post(f"/console/ops/demo/moments/replay/{d.id}",
                       data={"csrf_token": console.csrf()}).status_code == 404
    assert not svc.db.exists(MomentKeys("demo").offers("s-gone"))
    assert svc.db.hget(MomentKeys("demo").shoppers(), "d-gone") is None  # the phone's link to her


def test_the_preview_counts_what_the_engine_can_do(app, client, console, svc):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from portal.events.report import venue_tz

    with app.app_context():
        tz = ZoneInfo(venue_tz(svc, svc.venues.get_map("demo")))
    day = datetime.now(tz).date() - timedelta(days=1)
    t = datetime.combine(day, datetime.min.time(), tz).timestamp() + 15 * 3600
    for i in range(6):  # six phones entered kopi yesterday; two landed first, neither agreed to marketing
        svc.events.emit("demo", "zone_enter", at=t + i, device=f"dev-{i}", zone="kopi")
    for i in range(2):
        svc.consent.record("demo", f"s-{i}", location=True, marketing=False)
        svc.events.emit("demo", "landing", at=t + i - 30, device=f"dev-{i}", shopper=f"s-{i}", zone="atrium")
    console.login("kopi")
    assert client.post("/console/owner/demo/moments", data=form(console.csrf(), action="offer")).status_code == 303
    page = client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert re.findall(r'class="preview">([^<]*)<', page) == ["fewer than 10 phones, fewer than 10 times"]
    console.login("ops")  # the exact count is the operator's
    page = client.get("/console/ops/demo/moments").get_data(as_text=True)
    assert re.findall(r'class="preview">([^<]*)<', page) == ["0 phones, 0 times"]
    svc.moments.ensure("demo", start="0")
    svc.moments.drain("demo")
    assert svc.moments.fired("demo") == {}


def test_erasure_finds_deliveries_logged_before_the_references(app, client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer")).status_code == 303
    visit(svc, "s-old", "d-old")
    for person in ("s:s-old", "p:d-old"):  # as a delivery logged before erasure kept references
        svc.db.srem(MomentKeys("demo").refs(person), *[m for m in svc.db.smembers(MomentKeys("demo").refs(person))
                                                      if m.startswith(b"d:")] or [b"-"])
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-old"))
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert svc.moments.deliveries("demo") == []


def test_a_message_queued_before_she_withdrew_is_never_sent(svc, demo):
    """The notify worker asks again when it sends: a moments text queued while she agreed, then marketing
    withdrawn before the worker's turn, is dropped (counted)."""
    from portal.notify.contacts import ContactStore
    from portal.notify.sms import dev_sms
    from portal.notify.worker import NotifyWorker, default_channels

    svc.moments.save("demo", Rule(id="", name="hello", trigger="zone_enter", zone="kopi", action="notify",
                                  message_en="TEN-PERCENT-OFF"))
    ContactStore(svc.db, svc.settings.phone_key).set_phone("demo", "s-late", "+8613800138001", "en")
    visit(svc, "s-late", "dev-late")
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 1  # queued while she agreed
    svc.consent.record("demo", "s-late", location=True, marketing=False)
    worker = NotifyWorker(svc.db, svc.settings, default_channels(svc.settings, svc.db))
    worker.drain("demo")
    assert dev_sms(svc.db, "demo", "s-late") == []
    assert svc.db.hget(NotifyKeys("demo").counts(), "no_consent") == b"1"
