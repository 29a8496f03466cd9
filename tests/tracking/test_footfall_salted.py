"""Footfall's visitor counts cannot say whether a given phone was counted: a HyperLogLog answers "was this member
added?" to anyone who adds it and sees whether a register moved, so with the phones' ids as members it told, for
400 days and after the phone's erasure, which zones a phone was in on a day. The members are sha1(the day's salt
.. client id); the salt lives SALT_TTL_S, so the day's counts still union over its hours, and afterwards nobody
can make the members again."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from portal.tracking import footfall as footfall_module
from portal.tracking.footfall import SALT_TTL_S, FootfallKeys, FootfallStore

T0 = datetime(2026, 12, 2, 4, tzinfo=UTC).timestamp()
DAY, DAY_KEY = "2026-12-02", "20261202"


def would_change(db, key: str, member: str) -> bool:
    """Whether adding `member` to a copy of the HyperLogLog `key` moves a register (1: it was not counted)."""
    db.copy(key, key + ":probe", replace=True)
    try:
        return bool(db.pfadd(key + ":probe", member))
    finally:
        db.delete(key + ":probe")


def test_the_counts_hold_salted_members_that_still_add_up(db, monkeypatch):
    # a fixed salt: with a random one a raw id could, by chance (about 1 in 200), move no register of its own
    monkeypatch.setattr(footfall_module, "new_salt", lambda: "a-fixed-salt-for-the-test")
    footfall = FootfallStore(db)
    phones = [f"client-{i:02d}" for i in range(12)]
    footfall.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in phones], T0)
    footfall.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in phones[:6]], T0 + 3600)  # the next hour
    keys = FootfallKeys("v1")
    salt = db.get(keys.salt(DAY_KEY))
    assert salt and 0 < db.ttl(keys.salt(DAY_KEY)) <= SALT_TTL_S
    day = keys.day_visitors(DAY_KEY, "kopi")
    # a phone's id is not a member (each would move a register); its salted form is
    assert all(would_change(db, day, p) for p in phones)
    assert not any(would_change(db, day, hashlib.sha1(salt + p.encode()).hexdigest()) for p in phones)
    report = footfall.report("v1", DAY)
    assert report.zones["kopi"].visitors == 12  # the day's hours still union: one salt for the day
    assert report.zones["kopi"].visitors_by_hour[4:6] == [12, 6]


def test_once_the_salt_is_gone_a_new_one_is_drawn(db):
    footfall = FootfallStore(db)
    footfall.record("v1", "client-a", "kopi", None, None, None, T0)
    keys = FootfallKeys("v1")
    first = db.get(keys.salt(DAY_KEY))
    db.delete(keys.salt(DAY_KEY))  # as its TTL does two days on
    footfall.record("v1", "client-b", "kopi", None, None, None, T0 + 60)
    assert db.get(keys.salt(DAY_KEY)) not in (None, first)
