"""The outbox end to end on the real store: an app's notify() -> the stream -> the worker -> the development
SMS sender; retries with backoff then the dead letters; idempotency; reminders; a dead worker's entries."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.apps.notify import PhoneInputError, cancel, in_both, notify, save_phone
from portal.notify import outbox as outbox_module
from portal.notify.channels import Refused, Retry
from portal.notify.outbox import NotifyInputError, NotifyKeys, Outbox
from portal.notify.sms import LoggingSmsProvider, SmsChannel, dev_sms
from portal.notify.worker import NotifyWorker, backoff_s
from portal.shopper import token_store

NOW = 1_800_000_000.0


def dev_channel(db):
    return SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=10)


class Flaky:
    """A channel that fails the way it is told (`outcome`: None = delivers)."""

    name = "flaky"

    def __init__(self, outcome=Retry("service down")) -> None:
        self.outcome = outcome
        self.tries = 0

    def targets(self, contact):
        return ["t1"]

    def send(self, shopper, target, contact, message):
        self.tries += 1
        if self.outcome is not None:
            raise self.outcome


def send(app, shopper="s-1", key="queue.called:jade:A001", **data):
    with app.test_request_context():
        return notify("demo", shopper, "queue.called", {
            **in_both(title=lambda lang: "Your table is ready", body=lambda lang: "Number A001"),
            "path": "/v/demo/queue/jade", "number": "A001", **data}, key=key)


def test_notification_reaches_the_dev_sms_sender_with_a_link_that_opens_the_shoppers_page(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "en")
    assert send(app) is True
    worker = NotifyWorker(db, svc.settings, [dev_channel(db)])
    assert worker.drain("demo", now=NOW) == 1
    [sms] = dev_sms(db, "demo", "s-1")
    assert sms["event"] == "queue.called" and sms["to"] == "+86•••••••8000" and "13800138000" not in str(sms)
    assert sms["text"].startswith("Your table is ready Number A001 https://portal.test/v/demo/queue/jade?c=")
    link = urlsplit(sms["text"].split()[-1])
    shopper = token_store(app).resolve(parse_qs(link.query)["c"][0])
    assert shopper.venue == "demo" and shopper.client == "s-1"
    assert Outbox(db).stats("demo")["sent.sms"] == 1
    assert db.xlen(NotifyKeys("demo").stream()) == 0  # acknowledged and deleted


def test_same_key_is_sent_once(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    assert send(app) is True
    assert send(app) is False  # a double tap, a retried request
    NotifyWorker(db, svc.settings, [dev_channel(db)]).drain("demo", now=NOW)
    assert len(dev_sms(db, "demo", "s-1")) == 1


def test_a_redelivered_entry_is_not_sent_again(app, svc, db, contacts):
    """The worker died after sending, before acknowledging: the entry comes back, the SMS does not."""
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    send(app)
    outbox = Outbox(db)
    outbox.ensure_group("demo")
    [entry] = outbox.read("demo", "dead-worker")  # taken, never acknowledged
    worker = NotifyWorker(db, svc.settings, [dev_channel(db)], consumer="second")
    worker._handle(entry.job, NOW)  # the first worker delivered it ...
    assert worker.step("demo", now=NOW) == 0  # ... and died: not idle long enough to be reclaimed yet
    [again] = outbox.read("demo", "second", reclaim_idle_s=0)  # now it is
    worker._handle(again.job, NOW)
    assert len(dev_sms(db, "demo", "s-1")) == 1
    assert outbox.stats("demo")["duplicate"] == 1


def test_retries_with_backoff_then_the_dead_letters(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    send(app)
    flaky = Flaky()
    worker = NotifyWorker(db, svc.settings, [flaky])  # NOTIFY_MAX_ATTEMPTS 3, first retry after ~10 s
    worker.drain("demo", now=NOW)
    assert flaky.tries == 1 and Outbox(db).stats("demo")["scheduled"] == 1
    worker.drain("demo", now=NOW + 5)  # not due yet
    assert flaky.tries == 1
    worker.drain("demo", now=NOW + 12)
    assert flaky.tries == 2
    worker.drain("demo", now=NOW + 12 + 25)  # second retry ~20 s later: the third and last try
    assert flaky.tries == 3
    worker.drain("demo", now=NOW + 3600)
    assert flaky.tries == 3
    [letter] = Outbox(db).dead_letters("demo")
    assert letter.job.channel == "flaky" and letter.job.attempt == 2 and "gave up after 3 tries" in letter.error
    stats = Outbox(db).stats("demo")
    assert (stats["dead"], stats["dead_letters"], stats["retried"], stats["scheduled"]) == (1, 1, 2, 0)
    # The operator fixed the cause: the dead letter is sent again, once.
    flaky.outcome = None
    assert Outbox(db).retry_dead("demo", now=NOW + 4000) == 1
    worker.drain("demo", now=NOW + 4000)
    assert flaky.tries == 4 and Outbox(db).stats("demo")["dead_letters"] == 0


def test_a_refused_message_goes_to_the_dead_letters_at_once(app, svc, db):
    send(app)
    flaky = Flaky(Refused("number refused"))
    NotifyWorker(db, svc.settings, [flaky]).drain("demo", now=NOW)
    assert flaky.tries == 1
    assert "refused: number refused" in Outbox(db).dead_letters("demo")[0].error


def test_one_failing_channel_does_not_resend_the_other(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    send(app)
    flaky = Flaky()
    worker = NotifyWorker(db, svc.settings, [dev_channel(db), flaky])
    worker.drain("demo", now=NOW)
    worker.drain("demo", now=NOW + 3600)
    worker.drain("demo", now=NOW + 7200)
    assert flaky.tries == 3 and len(dev_sms(db, "demo", "s-1")) == 1


def test_backoff_doubles_and_is_capped():
    assert 9 <= backoff_s(10, 0) <= 11 and 18 <= backoff_s(10, 1) <= 22 and backoff_s(10, 30) <= 900 * 1.1


def test_reminder_waits_for_its_time_and_can_be_cancelled(app, svc, db, contacts, monkeypatch):
    # The outbox queues by the real clock: NOW (2027-01-15) is pinned there too, or from NOW + 600 on the reminder
    # would be due at once and this test would fail.
    monkeypatch.setattr(outbox_module, "time", SimpleNamespace(time=lambda: NOW))
    contacts.set_phone("demo", "s-1", "+8613800138000", "en")
    worker = NotifyWorker(db, svc.settings, [dev_channel(db)])
    with app.test_request_context():
        data = {"title_en": "Your table at 19:00", "path": "/v/demo/queue/jade"}
        assert notify("demo", "s-1", "queue.reminder", data, key="r1", at=NOW + 600)
        assert notify("demo", "s-1", "queue.reminder", data, key="r2", at=NOW + 600)
        assert cancel("demo", "r2")
    worker.drain("demo", now=NOW)
    assert dev_sms(db, "demo") == []
    worker.drain("demo", now=NOW + 601)
    assert [s["text"].split(" https")[0] for s in dev_sms(db, "demo")] == ["Your table at 19:00"]


def test_shopper_without_any_channel_is_counted_not_retried(app, svc, db):
    send(app)
    NotifyWorker(db, svc.settings, [dev_channel(db)]).drain("demo", now=NOW)
    stats = Outbox(db).stats("demo")
    assert stats["no_channel"] == 1 and stats["dead_letters"] == 0 and stats["scheduled"] == 0


def test_texts_in_the_shoppers_language(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    with app.test_request_context():
        notify("demo", "s-1", "queue.called", {"title_en": "Table ready", "title_zh": "请就座"})
        notify("demo", "s-1", "queue.called", {"title_en": "Only English"})  # the other language rather than nothing
    NotifyWorker(db, svc.settings, [dev_channel(db)]).drain("demo", now=NOW)
    assert sorted(s["text"] for s in dev_sms(db, "demo")) == ["Only English", "请就座"]


@pytest.mark.parametrize("event, data, key", [
    ("Queue Called", {}, None),
    ("queue", {}, None),
    ("queue.called", {}, "has spaces"),
    ("queue.called", {"body_en": "x" * 5000}, None),
])
def test_malformed_notifications_are_refused_and_nothing_is_queued(app, db, event, data, key):
    with app.test_request_context(), pytest.raises(NotifyInputError):
        notify("demo", "s-1", event, data, key=key)
    assert db.xlen(NotifyKeys("demo").stream()) == 0


def test_store_fault_drops_the_notification_not_the_action(app, monkeypatch):
    import redis

    def down(*args, **kwargs):
        raise redis.ConnectionError("down")

    with app.test_request_context():
        monkeypatch.setattr(Outbox, "enqueue", down)
        assert notify("demo", "s-1", "queue.called", {"title_en": "x"}) is False


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "+86 138-0013-8000", "0086 13800138000",
                                   "(138) 0013-8000"])
def test_phone_numbers_in_any_common_format(app, db, typed, contacts):
    with app.test_request_context():
        assert save_phone("demo", "s-1", typed) == "+86•••••••8000"
    assert contacts.get("demo", "s-1").phone == "+8613800138000"


@pytest.mark.parametrize("typed", ["", "12345", "not a number", "+86 138", "1" * 40])
def test_bad_phone_numbers_are_refused_and_nothing_is_kept(app, db, typed, contacts):
    with app.test_request_context(), pytest.raises(PhoneInputError):
        save_phone("demo", "s-1", typed)
    assert contacts.get("demo", "s-1").phone is None


def test_sms_budget_per_shopper_and_day(app, svc, db, contacts):
    contacts.set_phone("demo", "s-1", "+8613800138000", "zh")
    channel = SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=2)
    with app.test_request_context():
        for i in range(3):
            notify("demo", "s-1", "queue.called", {"title_en": f"n{i}"})
    NotifyWorker(db, svc.settings, [channel]).drain("demo", now=NOW)
    assert len(dev_sms(db, "demo")) == 2
    assert "budget" in Outbox(db).dead_letters("demo")[0].error


def test_development_sender_keeps_no_text_outside_demo_mode(db, caplog):
    provider = LoggingSmsProvider(db, show_text=False)
    provider.send("demo", "+8613800138000", "cinema.ticket", {}, "Your ticket https://x/?c=secret", shopper="s-1")
    assert dev_sms(db, "demo") == []
    assert "secret" not in caplog.text and "13800138000" not in caplog.text and "•8000" in caplog.text


def test_a_text_asked_for_one_number_goes_to_that_number(app, svc, db, contacts):
    """A message for SMS alone ("text me this ticket") is for the number the shopper had when it was queued:
    a number set before the worker runs does not take it over (nor its retries). A message for every channel
    goes to the number the shopper has when it is delivered."""
    with app.test_request_context():
        for i, phone in enumerate(("+8613800130001", "+8613800130002", "+8613800130003")):
            contacts.set_phone("demo", "s-1", phone, "en")
            assert notify("demo", "s-1", "cinema.ticket", {"title_en": f"ticket {i}"}, key=f"t{i}", channel="sms")
        assert notify("demo", "s-1", "queue.called", {"title_en": "table"}, key="q1")
        contacts.set_phone("demo", "s-1", "+8613800130009", "en")
        assert notify("demo", "s-1", "cinema.ticket", {"title_en": "x"}, key="t0", channel="sms") is False  # once
    stream = db.xrange(NotifyKeys("demo").stream())
    assert all(b"13800130" not in fields[b"job"] for _id, fields in stream)  # pinned sealed, never in clear
    flaky = SmsChannel(LoggingSmsProvider(db, show_text=True), db, per_shopper_day=10)
    sent_once = flaky.send
    calls = []

    def first_try_fails(shopper, target, contact, message):
        calls.append(contact.phone)
        if len(calls) == 1:
            raise Retry("provider busy")
        sent_once(shopper, target, contact, message)

    flaky.send = first_try_fails
    worker = NotifyWorker(db, svc.settings, [flaky])
    worker.drain("demo", now=NOW)
    worker.drain("demo", now=NOW + 3600)  # the retry
    sent = {s["text"].split(" https")[0]: s["to"][-4:] for s in dev_sms(db, "demo", "s-1")}
    assert sent == {"ticket 0": "0001", "ticket 1": "0002", "ticket 2": "0003", "table": "0009"}
    assert len(calls) == 5 and calls[0] == calls[-1] == "+8613800130001"  # the failed try and its retry


def test_a_text_for_one_number_is_not_queued_without_one(app, db, contacts):
    with app.test_request_context():
        assert notify("demo", "s-2", "cinema.ticket", {"title_en": "t"}, key="t-none", channel="sms") is False
    assert db.xlen(NotifyKeys("demo").stream()) == 0
