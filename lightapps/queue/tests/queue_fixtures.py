"""What the queue's tests against the session's live server share: forgetting a zone's line between tests."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

from lightapps.queue.store import QueueKeys, service_day


def forget_line(db, zone: str, venue: str = "demo", now: float | None = None) -> None:
    """Forget the zone's tickets of today and yesterday and its pause (the live server's store lives for the
    session). Yesterday's too: past the mall's midnight a number still live from the day before carries over, and
    today's numbers start after it (store.py: never two live A001s), so a suite crossing midnight (16:00 UTC for the
    demo mall's Asia/Shanghai) found A001 taken and one party more waiting (2026-12-05, a fresh clone's run)."""
    keys, now = QueueKeys(venue), time.time() if now is None else now
    days = {service_day(now), service_day(now - 86_400)}
    db.delete(*[key for day in days for key in db.scan_iter(keys.zone(zone, day, "*"))], keys.paused(zone))


@contextlib.contextmanager
def queue_clock(at: float):
    """The queue's clock (its store and pages) at `at`; tokens, budgets and sessions keep the real time."""
    fake = SimpleNamespace(time=lambda: at)
    with mock.patch("lightapps.queue.store.time", fake), mock.patch("lightapps.queue.views.time", fake):
        yield


def venue_time(day_offset: int, hhmm: str) -> float:
    """`hhmm` on the venue's (Asia/Shanghai) day `day_offset` days from today, as epoch seconds."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=day_offset)
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
