"""Footfall leaves staff phones out and shows its counts k-safely: a phone on the operator's staff list is
counted nowhere (one at a time and in the tracker's batch alike; a visit it had open from before it was
listed is dropped uncounted), and the footfall page shows 1-4 as "<5", shades only counts it may show and
a mean dwell only over at least k visits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from core.security import MacHasher
from portal.events.insights import K_MIN
from portal.events.privacy import PrivacyStore
from portal.tracking.footfall import FootfallStore

T0 = datetime(2026, 12, 2, 4, tzinfo=UTC).timestamp()
DAY = "2026-12-02"


def staff_list(db) -> PrivacyStore:
    return PrivacyStore(db, MacHasher("test-key"))


def test_a_listed_staff_phone_is_counted_nowhere(db):
    footfall = FootfallStore(db)
    staff = staff_list(db).add_staff_mac("v1", "AA:BB:CC:DD:EE:03")
    footfall.record("v1", staff, "kopi", 0, 10.0, 10.0, T0)
    footfall.record_many("v1", [(staff, "kopi", 0, 10.0, 10.0), ("shopper", "kopi", 0, 12.0, 10.0)], T0 + 60)
    footfall.close_idle("v1", T0 + 3600)
    report = footfall.report("v1", DAY)
    assert report.visitors == 1 and report.zones["kopi"].visitors == 1 and report.zones["kopi"].visits == 1
    assert sum(footfall.presence("v1", DAY, 0).values()) == 1  # the shopper's fix only


def test_a_visit_open_before_the_phone_was_listed_is_dropped_uncounted(db):
    footfall = FootfallStore(db)
    guard = MacHasher("test-key").client_id("AA:BB:CC:DD:EE:04")
    footfall.record("v1", guard, "kopi", None, None, None, T0)
    footfall.record("v1", guard, "kopi", None, None, None, T0 + 300)
    staff_list(db).add_staff_mac("v1", "AA:BB:CC:DD:EE:04")
    footfall.record("v1", guard, "books", None, None, None, T0 + 360)  # would close 300 s in kopi
    footfall.close_idle("v1", T0 + 3600)
    assert footfall.report("v1", DAY).zones["kopi"].visits == 0


def test_the_footfall_page_shows_counts_below_k_as_such(client, console, svc):
    at = T0 + 600
    for i in range(3):
        svc.footfall.record("demo", f"few{i}", "jade", 0, 10.0, 10.0, at)
    for i in range(K_MIN):
        svc.footfall.record("demo", f"many{i}", "kopi", 0, 20.0, 10.0, at)
        svc.footfall.record("demo", f"many{i}", "kopi", 0, 20.0, 10.0, at + 120)
        svc.footfall.record("demo", f"many{i}", "atrium", 0, 30.0, 10.0, at + 180)  # closes 2 min in kopi
    svc.footfall.record("demo", "few0", "jade", 0, 10.0, 10.0, at + 120)
    svc.footfall.record("demo", "few0", "atrium", 0, 30.0, 10.0, at + 180)  # one jade visit closed
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    assert re.search(r'id="visitors-total">[^<]*<strong>8</strong>', page)  # 3 + 5: a total may show
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>([^<]+)</td>.*?</tr>", page, re.S)}
    jade, kopi = rows[svc.venues.get_map("demo").zone("jade").name], rows[svc.venues.get_map("demo").zone("kopi").name]
    assert "&lt;5" in jade and ">3<" not in jade and ">1<" not in jade and "background" not in jade
    assert "min</td>" not in jade and " s</td>" not in jade  # one visit: no mean dwell
    assert ">5<" in kopi and "background" in kopi and "2.0 min" in kopi


def test_the_footfall_page_shows_a_lone_staff_phone_as_nobody(client, console, svc):
    staff = svc.privacy.add_staff_mac("demo", "AA:BB:CC:DD:EE:02")
    svc.footfall.record("demo", staff, "kopi", 0, 10.0, 10.0, T0)
    svc.footfall.record("demo", "shopper", "kopi", 0, 10.0, 10.0, T0)
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    assert re.search(r'id="visitors-total">[^<]*<strong>&lt;5</strong>', page)
    assert svc.footfall.report("demo", DAY).visitors == 1


def test_a_phone_detected_as_staff_counts_nowhere_once_a_sweep_found_it(db):
    """The insights' detected staff (`staff`: StaffPhones.detected in the composition root) are left out as the listed
    ones are, from the sweep (close_idle) that found them: what they were counted in before stays counted (a
    HyperLogLog cannot take a phone back out), the visit one had open is dropped; found no more, counted again."""
    found: set[str] = set()
    footfall = FootfallStore(db, staff=lambda venue, now: found)
    footfall.record("v1", "guard", "kopi", 0, 10.0, 10.0, T0)  # nobody found yet: counted
    found.add("guard")
    footfall.close_idle("v1", T0 + 60)  # the sweep keeps what it finds for the script
    footfall.record_many("v1", [("guard", "books", 0, 10.0, 10.0), ("shopper", "books", 0, 12.0, 10.0)], T0 + 120)
    footfall.close_idle("v1", T0 + 3600)
    report = footfall.report("v1", DAY)
    assert report.zones["books"].visitors == 1 and report.visitors == 2  # the shopper; the guard counted at T0
    assert report.zones["kopi"].visitors == 1 and report.zones["kopi"].visits == 0  # its open visit dropped
    assert sum(footfall.presence("v1", DAY, 0).values()) == 2  # its first fix and the shopper's
    found.clear()
    footfall.close_idle("v1", T0 + 3660)
    footfall.record("v1", "guard", "jade", 0, 10.0, 10.0, T0 + 3700)
    assert footfall.report("v1", DAY).zones["jade"].visitors == 1


def test_a_store_without_the_staff_rule_leaves_the_found_ones_as_the_last_sweep_kept_them(db):
    """A process built without `staff` (a bench, a script) neither clears nor renews what the tracker's sweep kept."""
    FootfallStore(db, staff=lambda venue, now: {"guard"}).close_idle("v1", T0)
    plain = FootfallStore(db)
    plain.close_idle("v1", T0 + 30)
    plain.record("v1", "guard", "kopi", 0, 10.0, 10.0, T0 + 60)
    assert plain.report("v1", DAY).visitors == 0
