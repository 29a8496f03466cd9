"""Live occupancy leaves staff phones out as the insights do (on the operator's list, or detected: present
more than 6 hours a day on most days), and never tells a count below k: limits are 0 or at least k, a limit
below k stored before that rule counts as none, and an alert's body carries its count through k_safe."""

from __future__ import annotations

import json
import re
import time

import pytest

from portal.events import EventKeys, EventLog, PresenceTracker
from portal.events.insights import K_MIN
from portal.events.moments import MomentsEngine

STAFF_MAC = "AA:BB:CC:DD:EE:01"


def row(page: str, zone: str) -> str:
    return re.sub(r"\s+", " ", re.search(rf'<tr data-zone="{zone}"[^>]*>.*?</tr>', page, re.S).group(0))


def test_a_listed_staff_phone_is_left_out_of_occupancy_pages_and_alerts(client, console, svc, demo):
    staff = svc.privacy.add_staff_mac("demo", STAFF_MAC)
    now = time.time()
    svc.presence.record("demo", staff, "jade", now)
    for i in range(K_MIN - 1):  # four shoppers: with the staff phone, five would reach the limit
        svc.presence.record("demo", f"shopper{i}", "jade", now)
    svc.presence.set_limit("demo", "jade", K_MIN)
    assert svc.presence.occupancy("demo", now)["jade"] == K_MIN - 1
    console.login("ops")
    jade = row(client.get("/console/ops/demo/insights").get_data(as_text=True), "jade")
    assert 'class="alert"' not in jade and "&lt;5" in jade
    svc.moments.tick("demo", now=now)
    assert svc.moments.deliveries("demo", rule="occupancy") == []
    console.logout()
    console.login("jade")
    page = client.get("/console/owner/demo/insights").get_data(as_text=True)
    owner = re.search(r'<li data-zone="jade"[^>]*>.*?</li>', page, re.S).group(0)
    assert 'class="alert"' not in owner and "over the limit" not in owner


def test_a_detected_staff_phone_is_left_out_of_occupancy(svc, demo):
    now = time.time()
    for day in range(1, 8):  # present 8 hours a day every day of the week before today
        svc.events.emit("demo", "leave", at=now - day * 86400, device="dev-guard", dwell_s=8 * 3600.0)
        svc.events.emit("demo", "leave", at=now - day * 86400 + 60, device=f"dev-visit{day}", dwell_s=1200.0)
    svc.presence.record("demo", "dev-guard", "jade", now)
    svc.presence.record("demo", "dev-shopper", "jade", now)
    assert svc.presence.occupancy("demo", now)["jade"] == 1
    assert "dev-guard" not in svc.privacy.staff("demo")  # not on the list: detected, as the insights detect it


def test_a_limit_below_k_is_refused_and_one_stored_before_counts_as_none(svc, demo):
    for low in range(1, K_MIN):
        with pytest.raises(ValueError, match="at least 5"):
            svc.presence.set_limit("demo", "jade", low)
    assert svc.presence.limits("demo") == {}
    svc.presence.set_limit("demo", "jade", K_MIN)
    svc.presence.set_limit("demo", "kopi", 0)  # none
    svc.db.hset(EventKeys("demo").occupancy_limits(), "kopi", 2)  # as set before limits below k were refused
    assert svc.presence.limits("demo") == {"jade": K_MIN}
    now = time.time()
    for i in range(3):
        svc.presence.record("demo", f"k{i}", "kopi", now)
    assert svc.moments.check_occupancy("demo", now) == []  # "kopi over 2" would tell 2-4 phones


def test_the_operator_gets_a_clear_400_for_a_limit_below_k(client, console, svc):
    """Needs portal/operator/insights.py:insights_limit to refuse it (ValueError from set_limit -> 400)."""
    console.login("ops")
    resp = client.post("/console/ops/demo/insights/limit",
                       data={"zone": "jade", "limit": "1", "csrf_token": console.csrf()})
    assert resp.status_code == 400
    assert 'aria-invalid="true"' in row(resp.get_data(as_text=True), "jade")
    assert svc.presence.limits("demo") == {}


def test_an_alert_body_never_carries_a_count_below_k(db):
    """Whatever the occupancy source says (here a limit below k, as a store from before would give)."""
    seen = {"kopi": 3, "jade": 7}
    engine = MomentsEngine(db, EventLog(db), occupancy=lambda venue, now: (seen, {"kopi": 3, "jade": 5}))
    now = time.time()
    assert sorted(engine.check_occupancy("v1", now)) == ["jade", "kopi"]
    bodies = {b["zone"]: b for b in (json.loads(d.body) for d in engine.deliveries("v1", rule="occupancy"))}
    assert bodies["kopi"]["occupancy"] is None and bodies["jade"]["occupancy"] == 7


def test_occupancy_reads_no_log_while_nobody_is_present(db):
    calls = []
    presence = PresenceTracker(db, staff=lambda venue, now: calls.append(venue) or set())
    assert presence.occupancy("v1", time.time()) == {}
    presence.record("v1", "p1", "kopi", time.time())
    assert presence.occupancy("v1", time.time()) == {"kopi": 1} and calls == ["v1"]
