"""A store fault between the provider's accepted send and `mark_sent`: the SMS is never sent a second time
(and charged twice). A short fault is outlasted in-process; when the claim lapses all the same, the delivery is a
dead letter saying it may have been sent, for the operator to replay. No test waits: the retry waits are zero, a
lapsed claim is deleted as the store would after CLAIM_TTL_S."""

from __future__ import annotations

import pytest
import redis

from portal.notify import worker as worker_module
from portal.notify.outbox import NotifyKeys, Outbox
from tests.notify.test_notify_two_workers import VENUE, Provider, queue_messages, worker


@pytest.fixture
def store_blips(monkeypatch):
    """`mark_sent` fails with a connection error the first `faults["n"]` times; the retry waits are zero."""
    monkeypatch.setattr(worker_module, "MARK_SENT_RETRY_S", (0.0,) * len(worker_module.MARK_SENT_RETRY_S))
    real, faults = Outbox.mark_sent, {"n": 1}

    def mark_sent(self, job):
        if faults["n"] > 0:
            faults["n"] -= 1
            raise redis.ConnectionError("store unreachable for a moment")
        return real(self, job)

    monkeypatch.setattr(Outbox, "mark_sent", mark_sent)
    return faults


def lapse_claims(db) -> None:
    for claim in db.scan_iter(match=NotifyKeys(VENUE).claim("*", "*")):
        db.delete(claim)  # CLAIM_TTL_S later


def test_a_store_blip_after_a_successful_send_does_not_send_it_again(db, settings, contacts, store_blips):
    """The auditor's case: the entry stayed pending, the claim lapsed, and the SMS went out again."""
    queue_messages(db, contacts, 1)
    sent: list[str] = []
    w = worker(db, settings, Provider(sent), "host-a")
    w.round()
    assert sent == ["msg0"] and store_blips["n"] == 0
    lapse_claims(db)
    w.round()
    w.round()
    assert sent == ["msg0"]
    assert db.xpending(NotifyKeys(VENUE).stream(), "notify")["pending"] == 0


def test_a_send_never_confirmed_is_a_dead_letter_not_a_second_sms(db, settings, contacts, store_blips):
    queue_messages(db, contacts, 1)
    sent: list[str] = []
    w = worker(db, settings, Provider(sent), "host-a")
    store_blips["n"] = len(worker_module.MARK_SENT_RETRY_S) + 1  # the store stays down past every retry
    w.round()  # the venue's step fails (serve_venues logs it); the entry stays pending
    assert sent == ["msg0"] and store_blips["n"] == 0
    lapse_claims(db)
    w.round()
    w.round()
    assert sent == ["msg0"]  # not again on its own
    outbox = Outbox(db)
    [letter] = outbox.dead_letters(VENUE)
    assert letter.job.channel == "sms" and "may have been sent" in letter.error
    assert db.xpending(NotifyKeys(VENUE).stream(), "notify")["pending"] == 0
    assert outbox.replay_dead(VENUE, letter.id)  # the shopper says it never came: the operator sends it
    w.round()
    assert sent == ["msg0", "msg0"] and not outbox.dead_letters(VENUE)


def test_a_failed_send_leaves_no_sending_marker(db, settings, contacts):
    queue_messages(db, contacts, 1)
    sent: list[str] = []
    provider = Provider(sent)
    provider.send = lambda *args: (_ for _ in ()).throw(RuntimeError("provider down"))
    w = worker(db, settings, provider, "host-a")
    w.round()
    assert not list(db.scan_iter(match=NotifyKeys(VENUE).sending("*", "*")))  # its retry sends it
