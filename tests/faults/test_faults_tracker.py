"""A tracker killed mid-batch loses no phone (issue 14): the batch it took stays marked as taken in the
store, and the next step on the venue puts it back first. Here the kill is a batch taken and never
finished; tests/faults/test_faults_gunicorn.py kills a real tracker process with SIGKILL."""

from __future__ import annotations

from portal.ingest.store import RssiKeys
from portal.tracking import Tracker
from tests.test_slice import post_phone_at
from tests.test_tracking import kept_zone

PHONES = ["02:00:5e:00:55:01", "02:00:5e:00:55:02", "02:00:5e:00:55:03"]


def test_a_batch_taken_by_a_killed_tracker_is_positioned_by_the_next(client, demo, svc, demo_map):
    for phone, spot in zip(PHONES, [(1, 20, 30), (1, 65, 30), (0, 20, 30)], strict=True):
        post_phone_at(client, demo, demo_map, *spot, phone=phone)
    keys = RssiKeys("demo")
    killed = Tracker(svc.db, svc.venues, svc.locator, batch=2)
    taken = killed._take(keys=[keys.new_readings(), keys.being_positioned()], args=[2])  # ...and then SIGKILL
    assert len(taken) == 2 and svc.db.scard(keys.new_readings()) == 1
    successor = Tracker(svc.db, svc.venues, svc.locator, batch=200)
    assert successor.drain("demo") == 3
    assert svc.db.scard(keys.new_readings()) == 0 and not svc.db.exists(keys.being_positioned())
    for phone in PHONES:
        assert kept_zone(svc.db, svc.hasher.client_id(phone))


def test_a_finished_batch_is_not_positioned_again(client, demo, svc, demo_map):
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    assert tracker.step("demo") == 1
    assert tracker.step("demo") == 0 and not svc.db.exists(RssiKeys("demo").being_positioned())
