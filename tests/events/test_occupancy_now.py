"""Live occupancy counts the phones there now: those heard within PRESENT_WITHIN_S (5 min), not every phone
whose visit is still open (LEAVE_AFTER_S, 20 min, the rule that closes a visit); its alerts follow it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal.events import PresenceTracker
from portal.events.moments import MomentKeys
from portal.events.presence import LEAVE_AFTER_S, PRESENT_WITHIN_S

T = datetime(2026, 11, 2, 12, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_a_phone_counts_while_heard_within_the_window_not_while_its_visit_is_open(svc, demo):
    for i in range(6):
        svc.presence.record("demo", f"g{i}", "kopi", T + i)
    assert svc.presence.occupancy("demo", T + 60) == {"kopi": 6}
    assert svc.presence.occupancy("demo", T + PRESENT_WITHIN_S + 0.5) == {"kopi": 5}  # g0 heard 300.5 s before
    assert svc.presence.occupancy("demo", T + 19 * 60) == {}  # gone 19 min: not there now
    assert svc.presence.sweep("demo", T + 19 * 60) == 0  # ... though their visits are still open
    svc.presence.record("demo", "g0", "kopi", T + 19 * 60)  # heard again: there again, same visit
    assert svc.presence.occupancy("demo", T + 19 * 60 + 1) == {"kopi": 1}
    assert [e.kind for e in svc.events.read("demo") if e.device == "g0"] == ["arrive", "zone_enter"]


def test_an_occupancy_alert_ends_when_the_phones_are_no_longer_heard(svc, demo):
    svc.presence.set_limit("demo", "kopi", 5)
    for i in range(6):
        svc.presence.record("demo", f"a{i}", "kopi", T + i)
    assert svc.moments.check_occupancy("demo", T + 60) == ["kopi"]
    assert svc.moments.check_occupancy("demo", T + 6 * 60) == []
    assert svc.db.hkeys(MomentKeys("demo").occupancy_over()) == []  # under its limit again, 14 min sooner


def test_the_window_is_at_most_the_leave_rule(db):
    presence = PresenceTracker(db, leave_after_s=120, present_within_s=PRESENT_WITHIN_S, staff=lambda v, now: ())
    presence.record("v1", "p", "kopi", T)
    assert presence.occupancy("v1", T + 119) == {"kopi": 1} and presence.occupancy("v1", T + 121) == {}
    assert PresenceTracker(db, staff=lambda v, now: ()).leave_after_s == LEAVE_AFTER_S  # closing visits: unchanged
    with pytest.raises(ValueError):
        PresenceTracker(db, present_within_s=0)
