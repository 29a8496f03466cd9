"""Reservation slots on the days the clocks change (a Madrid restaurant open 17:00-03:00, 2026): the slots of
the hour the clocks skip (29 March, 02:00-02:59) are not offered, so cannot be booked, and a booking for one
gets no reminder (from_local read it an hour late); a slot of the hour they repeat (25 October) starts, is past
and is reminded of at its first pass. The queue's clock is pinned (queue_clock): no real time of day matters."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

from fingerprints.model import Zone
from lightapps.queue import notices, views
from lightapps.queue.tests.queue_fixtures import queue_clock
from portal.captive.config import PortalConfigStore
from portal.notify.outbox import NotifyKeys

MADRID = ZoneInfo("Europe/Madrid")
CONFIG = {"open_hours": "17:00-03:00", "slot_minutes": 30, "slot_capacity": 4, "reservations": True}
JADE = Zone(id="jade", name="Jade", name_zh="", floor=0, polygon=[])


def madrid(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=MADRID, fold=fold).timestamp()


def slot_rows(app, day_iso: str, now: float) -> dict[str, dict]:
    with app.test_request_context("/v/demo/queue/jade/reserve"), queue_clock(now):
        return {row["slot"]: row for row in views._slot_rows("demo", "jade", day_iso, CONFIG)}


def reminder_due(app, db, day_iso: str, slot: str, booked_at: float) -> float | None:
    """When the reminder of a booking made at `booked_at` is due (None: none was queued)."""
    clock = SimpleNamespace(time=lambda: booked_at)  # the outbox's clock: a reminder already due is sent at once
    with app.test_request_context("/v/demo/queue/jade/reserve"), mock.patch("portal.notify.outbox.time", clock):
        queued = notices.remind_booking("demo", JADE, "r1", "shopper-1", day_iso, slot, 2)
    due = db.zscore(NotifyKeys("demo").due(), notices.reminder_key("jade", "r1") + "||")  # a scheduled one's key
    assert queued == (due is not None)
    return due


def test_the_skipped_hours_slots_are_not_offered_nor_reminded(app, db, demo):
    PortalConfigStore(db).set("demo", {"time_zone": "Europe/Madrid"})
    rows = slot_rows(app, "2026-03-29", madrid(3, 28, 12))
    assert "01:30" in rows and "03:00" not in rows  # closing at 03:00: the last slot is 02:30, which is skipped
    assert "02:00" not in rows and "02:30" not in rows
    assert reminder_due(app, db, "2026-03-29", "02:30", madrid(3, 28, 12)) is None


def test_the_repeated_hours_slot_is_its_first_pass(app, db, demo):
    PortalConfigStore(db).set("demo", {"time_zone": "Europe/Madrid"})
    assert not slot_rows(app, "2026-10-25", madrid(10, 25, 1, 45))["02:30"]["past"]
    # 02:15 the second time (winter time): 02:30 summer time was an hour ago
    assert slot_rows(app, "2026-10-25", madrid(10, 25, 2, 15, fold=1))["02:30"]["past"]
    due = reminder_due(app, db, "2026-10-25", "02:30", madrid(10, 24, 12))
    assert due == madrid(10, 25, 2, 30) - notices.REMINDER_BEFORE_S
