"""The daily SMS budget per shopper (SMS_PER_SHOPPER_DAY) counts texts the provider accepted, on the venue's
day: tries that failed (an outage, a refusal) take nothing from it, and the day turns at the venue's
midnight, not the host's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.captive.config import PortalConfigStore, VenueTimeZones
from portal.notify.outbox import Outbox
from portal.notify.sms import SmsChannel, SmsError
from portal.notify.worker import NotifyWorker, default_channels

NOW = 1_800_000_000.0


class Provider:
    """Fails every try with `error` while it is set, else sends."""

    def __init__(self, error: SmsError | None) -> None:
        self.error = error
        self.sent: list[str] = []

    def send(self, venue, phone, event, params, text, lang=""):
        if self.error is not None:
            raise self.error
        self.sent.append(text)


def enqueue(db, key: str, now: float) -> None:
    assert Outbox(db).enqueue("demo", "s-1", "queue.called", {"title_en": key}, key, now=now)


@pytest.mark.parametrize("error", [SmsError("tencent: RequestLimitExceeded"),  # retried, then dead letters
                                   SmsError("tencent: InvalidParameterValue", permanent=True)])  # refused
def test_tries_that_failed_do_not_spend_the_shoppers_day(db, settings, contacts, error):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    provider = Provider(error)
    worker = NotifyWorker(db, settings, [SmsChannel(provider, db, per_shopper_day=2, clock=lambda: NOW)])
    for i in range(3):  # the provider is down: up to 3 tries each (NOTIFY_MAX_ATTEMPTS), more than the budget
        enqueue(db, f"m{i}", NOW)
        for hour in range(3):
            worker.drain("demo", NOW + 3600 * hour)
    assert len(Outbox(db).dead_letters("demo")) == 3 and provider.sent == []
    provider.error = None  # back: the shopper's next text goes out, then one replayed dead letter
    enqueue(db, "after", NOW + 4 * 3600)
    worker.drain("demo", NOW + 4 * 3600)
    assert Outbox(db).retry_dead("demo", now=NOW + 5 * 3600) == 3
    worker.drain("demo", NOW + 5 * 3600)
    assert len(provider.sent) == 2  # the budget: two texts sent, the rest refused for it
    assert "budget" in Outbox(db).dead_letters("demo")[0].error


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


def test_the_budget_day_is_the_venues_day(db, settings, contacts):
    """A New York venue (the TIME_ZONE setting says Shanghai; the host's zone is whatever it is): one SMS a
    day, the day turning at New York's midnight."""
    PortalConfigStore(db).set("demo", {"time_zone": "America/New_York"})
    contacts.set_phone("demo", "s-1", "+8613800138000", "en")
    provider = Provider(None)
    channel = SmsChannel(provider, db, per_shopper_day=1, time_zone_of=VenueTimeZones(db, settings.time_zone))
    worker = NotifyWorker(db, settings, [channel])
    for key, instant in [("dec31", "2027-01-01T03:00"),  # 22:00 on Dec 31 in New York (Jan 1 in UTC, Shanghai)
                         ("jan1", "2027-01-01T06:00"),  # 01:00 on Jan 1 in New York: a new day there
                         ("jan1-late", "2027-01-02T04:00")]:  # 23:00 on Jan 1 in New York: that day is spent
        channel.clock = lambda instant=instant: at(instant)
        enqueue(db, key, at(instant))
        worker.drain("demo", at(instant))
    assert [text.split()[0] for text in provider.sent] == ["dec31", "jan1"]
    assert "budget" in Outbox(db).dead_letters("demo")[0].error


def test_the_worker_counts_sms_on_each_venues_day(db, settings):
    PortalConfigStore(db).set("demo", {"time_zone": "America/New_York"})
    [sms] = [channel for channel in default_channels(settings, db) if channel.name == "sms"]
    sms.clock = lambda: at("2027-01-01T03:00")
    assert sms.budget_key("demo", "s-1").endswith(":20261231:s-1")
    assert sms.budget_key("elsewhere", "s-1").endswith(":20270101:s-1")  # the TIME_ZONE setting: Shanghai
