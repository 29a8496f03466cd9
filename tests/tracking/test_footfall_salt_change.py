"""A day whose visitor-count salt changed while it had counts: the day an install upgraded to salted counts (its
morning's members are the phones' ids, its afternoon's sha1(salt .. id)), or a salt the store lost. No HyperLogLog
can tell the two members of one phone apart, so a phone seen before and after counts twice in the day's unique
visitors: the report says when the salt changed, and the footfall page calls that day's counts estimates. A day
that began salted is exact and says nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from portal.tracking import footfall as footfall_module
from portal.tracking.footfall import FootfallKeys, FootfallStore
from tests.tracking.test_batch_listeners import reference_footfall

T0 = datetime(2026, 12, 2, 1, tzinfo=UTC).timestamp()  # 09:00 in Shanghai
DAY, DAY_KEY = "2026-12-02", "20261202"
MORNING, AFTERNOON = [f"m{i}" for i in range(6)], ["m0", "m1", "m2", "a0"]  # 7 phones, 3 seen on both sides


def test_the_upgrade_day_is_marked_an_estimate_from_the_first_salted_count(db, monkeypatch):
    monkeypatch.setattr(footfall_module, "new_salt", lambda: "the-days-salt")
    before = reference_footfall(db)  # the install before the upgrade: unsalted members
    before.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in MORNING], T0)
    after = FootfallStore(db)
    after.close_idle("v1", T0 + 3 * 3600)  # counts no one: nothing is salted yet
    assert after.report("v1", DAY).salt_changed_at is None
    upgrade = T0 + 4 * 3600
    after.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in AFTERNOON], upgrade)
    after.record("v1", "a1", "books", None, None, None, upgrade + 60)
    report = after.report("v1", DAY)
    assert report.salt_changed_at == upgrade  # the first salted count, not a later one
    assert report.visitors == 11 > 8  # the three phones seen on both sides counted twice: why it is marked
    assert 0 < db.ttl(FootfallKeys("v1").salt_changed(DAY_KEY)) <= after.day_ttl_s  # as long as the day's counts
    after.record("v1", "n0", "kopi", None, None, None, T0 + 86400)  # the next day begins salted: exact
    assert after.report("v1", "2026-12-03").salt_changed_at is None


def test_a_salt_lost_during_the_day_marks_it_and_a_day_that_kept_its_salt_is_not(db):
    store = FootfallStore(db)
    store.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in MORNING], T0)
    store.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in AFTERNOON], T0 + 3600)
    assert store.report("v1", DAY).salt_changed_at is None and store.report("v1", DAY).visitors == 7
    db.delete(FootfallKeys("v1").salt(DAY_KEY))  # the store lost it (a restart without persistence, a failover)
    store.record("v1", "m0", "kopi", None, None, None, T0 + 7200)
    store.record("v1", "m1", "kopi", None, None, None, T0 + 7260)
    assert store.report("v1", DAY).salt_changed_at == T0 + 7200


def test_the_footfall_page_calls_the_days_counts_estimates(client, console, svc, demo):
    before = reference_footfall(svc.db, tz_of=svc.footfall.tz_of)
    before.record_many("demo", [(p, "kopi", 0, 10.0, 10.0) for p in MORNING], T0)
    upgrade = T0 + 4 * 3600
    svc.footfall.record_many("demo", [(p, "kopi", 0, 10.0, 10.0) for p in AFTERNOON], upgrade)
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    assert re.search(r'id="visitors-total">[^<]*<strong>[^<]*</strong> \(estimate\)</p>', page)
    zone = ZoneInfo(str(svc.footfall.tz_of("demo")))
    at = datetime.fromtimestamp(upgrade, zone).strftime("%H:%M")
    note = re.search(r'id="footfall-estimate-note">([^<]*)</p>', page).group(1)
    assert f"at {at} the anonymous counts of this day started over" in note and "counted twice" in note
    page = client.get("/console/ops/demo/footfall?day=2026-12-01").get_data(as_text=True)  # a day without
    assert "footfall-estimate-note" not in page and "(estimate)" not in page


def test_the_page_floors_a_zone_by_the_phones_its_count_vouches_for(client, console, svc, demo):
    """3 phones seen in kopi before and after the salt changed count 6 there: held back on the page ("withheld", a
    count of 6; its hours' 3 "<5"), its hours not shaded, like 3 phones on a day that kept its salt (it read 6 and
    shaded the hour)."""
    before = reference_footfall(svc.db, tz_of=svc.footfall.tz_of)
    three = ["m0", "m1", "m2"]
    before.record_many("demo", [(p, "kopi", 0, 10.0, 10.0) for p in three], T0)
    svc.footfall.record_many("demo", [(p, "kopi", 0, 10.0, 10.0) for p in three], T0 + 4 * 3600)
    report = svc.footfall.report("demo", DAY, ["kopi"])
    assert report.zones["kopi"].visitors == 6 and report.salts == 2
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    [row] = [r for r in re.findall(r"<tr><td>(.*?)</tr>", page, re.S) if r.startswith("Kopi")]
    assert "<td>6</td>" not in row and "<td>withheld</td>" in row and "&lt;5" in row
    assert "background:" not in row
