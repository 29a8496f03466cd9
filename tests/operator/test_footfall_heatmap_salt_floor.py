"""The presence heatmap's k floor on a day whose visitor-count salt changed: a phone seen before and after a change
is a member of the day's count under each salt, so the count holds it twice (three times after a second change).
The floor (every cell blank while fewer than k phones were seen that day) is applied to the phones the count vouches
for, the count shared among the day's salts and rounded up, not to the inflated count. On the real store."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from portal.tracking import footfall as footfall_module
from portal.tracking.footfall import FootfallKeys, FootfallStore, presence_shown
from tests.tracking.test_batch_listeners import reference_footfall

T0 = datetime(2026, 12, 2, 9, tzinfo=UTC).timestamp()
DAY, DAY_KEY, K = "2026-12-02", "20261202", 5


def seen(store: FootfallStore, phones: list[str], at: float) -> None:
    """The phones, all standing in one cell of floor 0 (a fix each: a cell the floor alone would show)."""
    store.record_many("v1", [(p, "kopi", 0, 10.0, 10.0) for p in phones], at)


def shown_cells(store: FootfallStore) -> int:
    return int(np.isfinite(presence_shown(store, "v1", DAY, 0, 40, 40, k=K)).sum())


def upgrade_day(db, monkeypatch, morning: list[str], afternoon: list[str]) -> FootfallStore:
    """The day an install upgraded to salted counts: `morning`'s phones seen unsalted, `afternoon`'s salted."""
    monkeypatch.setattr(footfall_module, "new_salt", lambda: "the-days-salt")
    seen(reference_footfall(db), morning, T0)
    store = FootfallStore(db)
    seen(store, afternoon, T0 + 4 * 3600)
    return store


def test_fewer_than_k_phones_counted_twice_show_nothing(db, monkeypatch):
    store = upgrade_day(db, monkeypatch, ["a", "b", "c"], ["a", "b", "c"])
    assert store.report("v1", DAY).visitors == 6 >= K  # the inflated count would pass the floor
    assert store.phones_at_least("v1", DAY) == 3
    assert shown_cells(store) == 0


def test_k_phones_counted_twice_still_show(db, monkeypatch):
    """9 members, at most two of a phone: at least 5 phones (a doubled floor, 10, would hide them)."""
    store = upgrade_day(db, monkeypatch, ["a", "b", "c", "d"], ["a", "b", "c", "d", "e"])
    assert store.report("v1", DAY).visitors == 9
    assert store.phones_at_least("v1", DAY) == K and shown_cells(store) == 1


def test_each_change_of_the_salt_counts(db):
    """A salt lost twice in a day (evicted, deleted): three members of a phone seen in all three parts."""
    store, phones = FootfallStore(db), ["a", "b", "c"]
    seen(store, phones, T0)
    for hours in (2, 4):
        db.delete(FootfallKeys("v1").salt(DAY_KEY))
        seen(store, phones, T0 + hours * 3600)
    assert store.report("v1", DAY).visitors == 9  # doubling the floor would still show these three phones
    assert store.phones_at_least("v1", DAY) == 3 and shown_cells(store) == 0


def test_a_day_that_kept_its_salt_counts_as_before(db):
    store = FootfallStore(db)
    seen(store, ["a", "b", "c", "d"], T0)
    assert store.phones_at_least("v1", DAY) == 4 and shown_cells(store) == 0
    seen(store, ["a", "e"], T0 + 3600)
    assert store.phones_at_least("v1", DAY) == 5 and shown_cells(store) == 1
