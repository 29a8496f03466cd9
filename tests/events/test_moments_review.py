"""Moments after review: a firing is once per (rule, event) whoever reads the event, detected staff get no
moments, the preview counts what the engine would (consent per purpose, cooldowns carried into the day),
the rule form keeps its ticks and names a field once, a notification never shows the rule's name."""

from __future__ import annotations

import contextlib
import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from portal.events.log import Event, EventKeys
from portal.events.moments import GENERIC_TITLE, GROUP, MomentsEngine, parse_rule, preview
from portal.events.presence import day_start
from portal.events.report import day_bounds, venue_tz
from portal.notify.outbox import NotifyKeys


def saved_rule(svc, **over):
    data = {"name": "Coffee hello", "trigger": "zone_enter", "zone": "kopi", "action": "notify",
            "message_en": "TEN-PERCENT-OFF", "cap_per_day": "3", "cooldown_h": "0", "budget": "0", **over}
    rule = parse_rule(MultiDict(data), zones=["kopi", "books"], owner="ops", may_webhook=True)
    svc.moments.save("demo", rule)
    return rule


def one_stay(svc, phone: str, shopper: str) -> None:
    svc.consent.record("demo", shopper, location=True, marketing=True)
    svc.moments.ensure("demo", start="0")
    now = time.time() - 5
    svc.events.emit("demo", "landing", at=now, device=phone, shopper=shopper, zone="atrium")
    svc.events.emit("demo", "zone_enter", at=now + 1, device=phone, zone="kopi")


def test_an_event_read_by_two_engines_fires_once(svc, demo):
    rule = saved_rule(svc)
    one_stay(svc, "d-1", "s-1")
    batch = svc.events.read_group("demo", GROUP, "a-dead-tracker")  # read, never acked
    other = MomentsEngine(svc.db, svc.events, consent=svc.moments.consent, notifier=svc.moments.notifier,
                          tz_of=svc.moments.tz_of)
    for engine in (svc.moments, other):
        for event in batch:
            engine._process("demo", event, engine.rules("demo"), ZoneInfo("UTC"))
    svc.moments.tick("demo")
    assert svc.moments.fired("demo") == {rule.id: 1}
    assert len(svc.moments.deliveries("demo")) == 1
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 1


def test_a_tracker_killed_before_its_ack_is_taken_over_without_firing_again(svc, demo, monkeypatch):
    rule = saved_rule(svc)
    one_stay(svc, "d-2", "s-2")
    dead = MomentsEngine(svc.db, svc.events, consent=svc.moments.consent, notifier=svc.moments.notifier,
                         tz_of=svc.moments.tz_of)
    monkeypatch.setattr(svc.events, "ack", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
    with contextlib.suppress(SystemExit):
        dead.tick("demo")
    monkeypatch.undo()
    assert svc.moments.consumer() != dead.consumer()  # each its own consumer: no re-reading the other's batch
    assert svc.moments.tick("demo") == 0  # in flight elsewhere (not idle long enough): left alone
    monkeypatch.setattr("portal.events.moments.CLAIM_IDLE_MS", 0)
    assert svc.moments.tick("demo") == 2  # the dead one's pending events, claimed
    assert svc.moments.fired("demo") == {rule.id: 1}
    assert [d.status for d in svc.moments.deliveries("demo")] == ["notified"]
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 1
    assert svc.db.xpending(EventKeys("demo").stream(), GROUP)["pending"] == 0


def test_phones_detected_as_staff_get_no_moments(svc, demo):
    rule = saved_rule(svc, action="offer")
    tz = svc.moments.tz_of("demo")
    today = day_start(time.time(), tz)
    for back in range(7, 0, -1):  # a shop assistant: nine hours in the mall every day of the week
        start = today - back * 86400 + 9 * 3600
        svc.events.emit("demo", "arrive", at=start, device="d-staff")
        svc.events.emit("demo", "leave", at=start + 9 * 3600, device="d-staff", dwell_s=9 * 3600.0)
    one_stay(svc, "d-staff", "s-staff")
    svc.moments.drain("demo")
    assert svc.moments.fired("demo").get(rule.id, 0) == 0
    assert svc.moments.offers("demo", ["d-staff", "s-staff"]) == []


def yesterday(app, svc):
    from portal.operator.mapedit import load_map
    from portal.tracking.footfall import today
    with app.test_request_context("/console/ops/demo/moments"):
        tz = venue_tz(svc, load_map("demo"))
        return day_bounds(today(tz) - timedelta(days=1), tz)


def previews_of(app, rules):
    from portal.operator.mapedit import load_map
    from portal.operator.moments import yesterday_previews
    with app.test_request_context("/console/ops/demo/moments"):
        return yesterday_previews(load_map("demo"), rules)


def test_first_visit_preview_counts_shoppers_who_agreed_to_marketing_only(app, svc, demo):
    since, _until = yesterday(app, svc)
    rule = saved_rule(svc, trigger="first_visit", zone="", action="offer", cap_per_day="1", cooldown_h="12")
    for i in range(6):
        svc.consent.record("demo", f"s-m{i}", location=False, marketing=True)
        svc.events.emit("demo", "txn", at=since + 12 * 3600 + i, device=f"d-m{i}", shopper=f"s-m{i}",
                        zone="kopi", app="coupons", action="coupon_claim")
    entry = saved_rule(svc, name="entry", action="offer", cap_per_day="1", cooldown_h="12")
    found = previews_of(app, [rule, entry])
    assert (found[rule.id].phones, found[rule.id].fires) == (6, 6)
    assert found[entry.id].fires == 0  # location rules still need location consent


def test_preview_starts_the_day_with_the_cooldowns_of_the_day_before():
    rule = parse_rule(MultiDict({"name": "r", "trigger": "zone_enter", "zone": "kopi", "action": "offer",
                                 "message_en": "m", "cap_per_day": "3", "cooldown_h": "12"}),
                      zones=["kopi"], owner="ops", may_webhook=True)
    since = 1_700_000_000.0 - 1_700_000_000.0 % 86400
    events = [Event("zone_enter", since - 3600, "v", "d-1", "s-1", "kopi"),  # fired late the day before
              Event("zone_enter", since + 3600, "v", "d-1", "s-1", "kopi")]  # 2 h later: still cooling down
    out = preview(rule, events, since, since + 86400)
    assert (out.fires, out.phones, out.refused) == (0, 0, {"COOLDOWN": 1})


def test_a_rule_form_error_keeps_the_tiers_and_names_the_field_once(client, console, demo):
    console.login("kopi")
    page = client.post("/console/owner/demo/moments?lang=zh", data={
        "csrf_token": console.csrf(), "name": "Gold coffee", "trigger": "zone_enter", "zone": "kopi",
        "action": "offer", "message_en": "Hi gold", "tiers": ["gold", "platinum"], "cap_per_day": "abc",
        "cooldown_h": "12", "budget": "0"}).get_data(as_text=True)
    ticked = re.findall(r'<input type="checkbox" name="tiers" value="(\w+)" checked>', page)
    assert ticked == ["gold", "platinum"]
    error = re.search(r'id="rule-error"[^>]*>([^<]*)<', page).group(1)
    assert error.count("每部手机每天最多") == 1, error


def test_a_notification_is_titled_with_the_venue_never_the_rule(svc, demo, monkeypatch):
    saved_rule(svc, name="internal: push gold to kopi")
    sent = []
    monkeypatch.setattr(svc.moments, "notifier", lambda *args: sent.append(args))
    one_stay(svc, "d-3", "s-3")
    svc.moments.tick("demo")
    venue_map = svc.venues.get_map("demo")
    data = sent[0][3]
    assert (data["title_en"], data["title_zh"]) == (venue_map.name, venue_map.name_zh or venue_map.name)
    bare = MomentsEngine(svc.db, svc.events)
    assert bare._title("demo") == {"title_en": GENERIC_TITLE[0], "title_zh": GENERIC_TITLE[1]}


def test_consumers_of_processes_gone_are_deleted_once_nothing_is_pending(svc, demo, monkeypatch):
    """Each process reads as its own consumer, so every restart adds one to the group: those idle past
    GONE_IDLE_MS with nothing pending are deleted; one holding entries stays until they are claimed."""
    saved_rule(svc)
    one_stay(svc, "d-3", "s-3")
    holding = svc.events.read_group("demo", GROUP, "engine-gone-holding")  # read, never acked
    assert holding
    svc.events.read_group("demo", GROUP, "engine-gone-idle")  # nothing left for it: pending 0
    monkeypatch.setattr("portal.events.moments.GONE_IDLE_MS", 0)
    monkeypatch.setattr("portal.events.moments.CLAIM_IDLE_MS", 10**9)  # the holder's batch is not claimed yet
    svc.moments.tick("demo")
    names = {c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
             for c in svc.db.xinfo_consumers(EventKeys("demo").stream(), GROUP)}
    assert "engine-gone-idle" not in names
    assert "engine-gone-holding" in names and svc.moments.consumer() in names
