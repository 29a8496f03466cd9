"""The anonymisation's secret of a venue day is one per day, not one per run: a run that a store fault stops part way
through a day and the run after it give the day's events of one phone one pseudonym (two would count the phone as
two shoppers that day). The secret is kept in the store (`PrivacyKeys.day_key`, in the venue's slot) only while the
day is under way: with a TTL of one daily run and an hour, and deleted once a run is through. On the real store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from portal.events.insights import ANON
from portal.events.log import EventLog
from portal.events.privacy import DAY_KEY_KEPT_S, PrivacyKeys, PrivacyStore

DAY = datetime(2026, 11, 2, tzinfo=UTC)
NOW = DAY.timestamp() + 100 * 86400  # the day is past the default 90 days: anonymised whole


class FailingReads:
    """The store, whose stream reads fail from the `fail_at`-th on (the store went away mid-run)."""

    def __init__(self, db, fail_at: int) -> None:
        self._db, self._reads, self._fail_at = db, 0, fail_at

    def __getattr__(self, name: str):
        return getattr(self._db, name)

    def xrange(self, *args, **kwargs):
        self._reads += 1
        if self._reads >= self._fail_at:
            raise redis.ConnectionError("store went away")
        return self._db.xrange(*args, **kwargs)


def phone_day(db, events: int = 1500) -> None:
    """One phone's day of landings (more than one batch of the run's 1000), and another phone's."""
    log = EventLog(db)
    pipe = db.pipeline(transaction=False)
    for i in range(events):
        log.emit("v1", "landing", at=DAY.timestamp() + 36000 + i * 10, device="p1", zone="kopi", pipe=pipe)
    log.emit("v1", "landing", at=DAY.timestamp() + 36005, device="p2", zone="kopi", pipe=pipe)
    pipe.execute()


def devices(db) -> list[str]:
    return [e.device for e in EventLog(db).read("v1")]


def test_a_run_stopped_part_way_and_the_next_give_a_phone_one_pseudonym(db):
    phone_day(db)
    with pytest.raises(redis.ConnectionError):
        PrivacyStore(FailingReads(db, fail_at=2)).apply_retention("v1", NOW)  # the first 1000 only
    half = devices(db)
    assert {d.startswith(ANON) for d in half} == {True, False}  # stopped part way through the day
    key = PrivacyKeys("v1").day_key(DAY.date())
    assert "{v1}" in key and 0 < db.ttl(key) <= DAY_KEY_KEPT_S  # kept for the run that finishes the day
    assert PrivacyStore(db).apply_retention("v1", NOW)["events_anonymised"] == 1501 - 1000
    p1 = [e.device for e in EventLog(db).read("v1") if e.at != DAY.timestamp() + 36005]
    assert len(p1) == 1500 and len(set(p1)) == 1 and p1[0].startswith(ANON)
    assert len(set(devices(db))) == 2  # the other phone: a pseudonym of its own
    assert not db.exists(key)  # the day is through: its secret is gone


def test_a_run_through_keeps_no_secret(db):
    phone_day(db, events=10)
    assert PrivacyStore(db).apply_retention("v1", NOW)["events_anonymised"] == 11
    assert not db.exists(PrivacyKeys("v1").day_key(DAY.date()))
