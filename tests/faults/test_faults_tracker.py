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
    taken = take(killed, lane=0, other_in_flight=False, n=2)  # ...and then SIGKILL
    assert len(taken) == 2 and svc.db.scard(keys.new_readings()) == 1
    successor = Tracker(svc.db, svc.venues, svc.locator, batch=200)
    assert successor.drain("demo") == 3
    assert svc.db.scard(keys.new_readings()) == 0 and not svc.db.exists(keys.being_positioned())
    for phone in PHONES:
        assert kept_zone(svc.db, svc.hasher.client_id(phone))


def take(tracker: Tracker, lane: int, other_in_flight: bool, n: int) -> list[bytes]:
    """What a step's take does (the script itself): up to n marked phones into `lane`."""
    keys = RssiKeys("demo")
    lanes = [keys.being_positioned(), keys.being_positioned(lane=1)]
    return tracker._take(keys=[keys.new_readings(), lanes[lane], lanes[1 - lane]], args=[n, int(other_in_flight)])


def test_both_lanes_taken_by_a_killed_tracker_are_positioned_by_the_next(client, demo, svc, demo_map):
    """Killed while it positioned one batch and read the next: the successor's first take puts both back."""
    for phone, spot in zip(PHONES, [(1, 20, 30), (1, 65, 30), (0, 20, 30)], strict=True):
        post_phone_at(client, demo, demo_map, *spot, phone=phone)
    keys = RssiKeys("demo")
    killed = Tracker(svc.db, svc.venues, svc.locator, batch=1)
    assert len(take(killed, lane=0, other_in_flight=False, n=1)) == 1
    assert len(take(killed, lane=1, other_in_flight=True, n=1)) == 1  # ...and then SIGKILL
    successor = Tracker(svc.db, svc.venues, svc.locator, batch=200, batches_per_step=1)
    assert successor.step("demo") == 3
    assert not svc.db.exists(keys.new_readings(), keys.being_positioned(), keys.being_positioned(lane=1))
    for phone in PHONES:
        assert kept_zone(svc.db, svc.hasher.client_id(phone))


def test_a_phone_of_the_batch_in_flight_waits_for_it(client, demo, svc, demo_map):
    """A phone heard again while its batch is positioned is not read into the next batch (its motion state is not
    written yet): it stays marked, and the next take after that batch's lane is gone takes it."""
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])
    keys = RssiKeys("demo")
    tracker = Tracker(svc.db, svc.venues, svc.locator, batch=10)
    assert take(tracker, lane=0, other_in_flight=False, n=10) == [svc.hasher.client_id(PHONES[0]).encode()]
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])  # heard again: marked again
    post_phone_at(client, demo, demo_map, 0, 20, 30, phone=PHONES[1])
    taken = take(tracker, lane=1, other_in_flight=True, n=10)
    assert taken == [svc.hasher.client_id(PHONES[1]).encode()]
    assert svc.db.smembers(keys.new_readings()) == {svc.hasher.client_id(PHONES[0]).encode()}
    assert svc.db.exists(keys.being_positioned()) and svc.db.exists(keys.being_positioned(lane=1))


def test_a_finished_batch_is_not_positioned_again(client, demo, svc, demo_map):
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    assert tracker.step("demo") == 1
    assert tracker.step("demo") == 0 and not svc.db.exists(RssiKeys("demo").being_positioned())


def test_a_take_beside_a_batch_in_flight_puts_its_own_lane_back_first(client, demo, svc, demo_map):
    """Its own lane left over (a write whose lane delete and put-back both failed) goes back before the take; the
    other lane, in flight, stays."""
    for phone, spot in zip(PHONES, [(1, 20, 30), (1, 65, 30), (0, 20, 30)], strict=True):
        post_phone_at(client, demo, demo_map, *spot, phone=phone)
    keys = RssiKeys("demo")
    tracker = Tracker(svc.db, svc.venues, svc.locator, batch=1)
    in_flight = take(tracker, lane=0, other_in_flight=False, n=1)
    left = take(tracker, lane=1, other_in_flight=True, n=1)  # ...its batch then never written nor put back
    again = take(tracker, lane=1, other_in_flight=True, n=3)
    assert set(again) == {svc.hasher.client_id(p).encode() for p in PHONES} - set(in_flight)
    assert set(left) <= set(again)
    assert svc.db.smembers(keys.being_positioned()) == set(in_flight)
