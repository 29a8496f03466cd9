"""Two notification workers on one venue at once: a slow batch outlives the venue's lease, the next holder
reclaims the entries that look abandoned while the first is still sending them. Each message is sent once.
No test waits on the wall clock: the slow provider blocks on an Event, and the reclaim is immediate
(`reclaim_idle_s=0`) where production waits a minute."""

from __future__ import annotations

import threading
from collections import Counter

from portal.leases import VenueLeases
from portal.notify.outbox import NotifyKeys, Outbox
from portal.notify.sms import SmsChannel, SmsError
from portal.notify.worker import NotifyWorker

VENUE = "demo"
WAIT_S = 30  # only a bound on a broken test: nothing here is timed


class Venues:
    def venue_ids(self) -> list[str]:
        return [VENUE]


class Provider:
    """An SMS provider that records what it sent (shared by both workers); `hold` makes its first send
    block until `release` is set, after saying it started."""

    def __init__(self, sent: list[str], hold: bool = False) -> None:
        self.sent = sent
        self.hold = hold
        self.started = threading.Event()
        self.release = threading.Event()

    def send(self, venue, phone, event, params, text, lang=""):
        if self.hold:
            self.hold = False
            self.started.set()
            assert self.release.wait(WAIT_S)
        self.sent.append(text.split()[0])


def queue_messages(db, contacts, count: int) -> None:
    for i in range(count):
        contacts.set_phone(VENUE, f"s-{i}", f"+86138001300{i:02d}", "en")
        assert Outbox(db).enqueue(VENUE, f"s-{i}", "queue.called", {"title_en": f"msg{i}"}, f"m{i}")


def worker(db, settings, provider: Provider, name: str) -> NotifyWorker:
    return NotifyWorker(db, settings, [SmsChannel(provider, db, per_shopper_day=10)], venues=Venues(),
                        leases=VenueLeases(db, kind="notify", owner=name), consumer=name, reclaim_idle_s=0)


def test_a_slow_worker_and_the_one_that_reclaims_its_entries_send_each_message_once(db, settings, contacts):
    queue_messages(db, contacts, 4)
    sent: list[str] = []
    slow, quick = Provider(sent, hold=True), Provider(sent)
    a, b = worker(db, settings, slow, "host-a"), worker(db, settings, quick, "host-b")
    a.leases.renew = lambda venue: True  # as if its lease were taken only after A renewed it: A's batch goes on
    first = threading.Thread(target=a.round)
    first.start()
    assert slow.started.wait(WAIT_S)  # A read all four and is stuck sending msg0
    db.delete(a.leases.lease_key(VENUE))  # ... so long that its lease lapsed
    assert b.round() == (3, 0)  # B takes the venue and reclaims A's entries: msg0 is A's, the rest B's
    assert sorted(sent) == ["msg1", "msg2", "msg3"]
    slow.release.set()
    first.join(WAIT_S)
    assert not first.is_alive()
    assert Counter(sent) == {"msg0": 1, "msg1": 1, "msg2": 1, "msg3": 1}
    stream = NotifyKeys(VENUE).stream()
    assert db.xlen(stream) == 0 and db.xpending(stream, "notify")["pending"] == 0  # all acknowledged
    stats = Outbox(db).stats(VENUE)
    assert stats["sent.sms"] == 4 and stats["busy"] == 1 and stats["duplicate"] == 3 and stats["dead_letters"] == 0


def test_a_failed_try_by_the_reclaiming_worker_is_not_tried_again_by_the_slow_one(db, settings, contacts):
    """B's try of msg1 fails (retried later, with backoff); A, reaching msg1 in the batch it read before,
    finds its entry handled and leaves it to the retry rather than trying at once."""
    queue_messages(db, contacts, 2)
    sent: list[str] = []
    slow = Provider(sent, hold=True)
    a, b = worker(db, settings, slow, "host-a"), worker(db, settings, Down(), "host-b")
    a.leases.renew = lambda venue: True  # A's batch goes on past msg0 (as in the first test)
    first = threading.Thread(target=a.round)
    first.start()
    assert slow.started.wait(WAIT_S)
    db.delete(a.leases.lease_key(VENUE))
    b.round()
    slow.release.set()
    first.join(WAIT_S)
    stats = Outbox(db).stats(VENUE)
    assert sent == ["msg0"] and stats["handled_elsewhere"] == 1 and stats["retried"] == 1 and stats["scheduled"] == 1


def test_a_worker_that_lost_its_lease_mid_batch_leaves_the_rest_to_the_new_holder(db, settings, contacts):
    """After each entry the worker renews its lease; once another worker holds the venue, it stops its batch
    (the new holder reclaims the rest) rather than going on beside it."""
    queue_messages(db, contacts, 4)
    sent: list[str] = []
    slow, quick = Provider(sent, hold=True), Provider(sent)
    a, b = worker(db, settings, slow, "host-a"), worker(db, settings, quick, "host-b")
    first = threading.Thread(target=a.round)
    first.start()
    assert slow.started.wait(WAIT_S)
    db.delete(a.leases.lease_key(VENUE))
    assert b.round() == (3, 0)
    slow.release.set()
    first.join(WAIT_S)
    assert Counter(sent) == {"msg0": 1, "msg1": 1, "msg2": 1, "msg3": 1}
    assert VENUE not in a.leases.held and Outbox(db).stats(VENUE).get("duplicate", 0) == 0  # A stopped after msg0


class Down:
    """A provider that is down (a transient error: retried)."""

    def send(self, venue, phone, event, params, text, lang=""):
        raise SmsError("tencent: RequestLimitExceeded")


def test_an_entry_left_to_a_worker_that_died_mid_send_is_a_dead_letter_once_its_claim_lapses(db, settings, contacts):
    """The worker sending msg0 dies: the other left the entry unacknowledged, so it comes back once the dead
    worker's claim has lapsed (CLAIM_TTL_S; here deleted, as the store would). The send may have happened (its
    "sending" marker is still set): it is not sent again on its own but put in the dead letters, saying so, for
    the operator to replay (an SMS twice is charged twice)."""
    queue_messages(db, contacts, 1)
    sent: list[str] = []
    slow = Provider(sent, hold=True)
    a, b = worker(db, settings, slow, "host-a"), worker(db, settings, Provider(sent), "host-b")
    dying = threading.Thread(target=a.round, daemon=True)
    dying.start()
    assert slow.started.wait(WAIT_S)
    db.delete(a.leases.lease_key(VENUE))
    assert b.drain(VENUE) == 0  # ends, though the entry comes back at once (reclaim_idle_s=0)
    assert sent == [] and db.xpending(NotifyKeys(VENUE).stream(), "notify")["pending"] == 1  # busy: left pending
    for claim in db.scan_iter(match=NotifyKeys(VENUE).claim("*", "*")):
        db.delete(claim)  # A never comes back: its claim lapses
    b.round()
    assert sent == [] and db.xpending(NotifyKeys(VENUE).stream(), "notify")["pending"] == 0
    [letter] = Outbox(db).dead_letters(VENUE)
    assert "may have been sent" in letter.error
    assert Outbox(db).replay_dead(VENUE, letter.id)
    b.round()
    assert sent == ["msg0"]
    slow.hold, slow.sent = False, []  # let the dead worker's thread end without counting as a send
    slow.release.set()
    dying.join(WAIT_S)
