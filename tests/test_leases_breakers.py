"""A per-venue worker skips a venue whose store breaker is open (portal/leases.py serve_venues): a step that timed
out (its shard hangs: each call waits out the store's timeout) opens the venue's breaker at once, so the next rounds
neither lease nor step it and the healthy venues keep their round time; its lease lapses, and once its slot answers
the ping again it is leased and served as before. Before, every round waited the timeout once per such venue (a
round of 10 s with two hung malls, past the tracker's 10 s lease). A real store for the leases, a step that raises
for the hung venue; the same with a primary stopped: tests/cluster/test_cluster_hung_shard_workers.py."""

from __future__ import annotations

import pytest
import redis

from core.storage import is_cluster
from core.store_health import StoreBreaker, VenueBreakers, worker_breakers
from portal.leases import VenueLeases, serve_venues
from tests.captive.test_store_breaker_per_venue import VenuePing

VENUES = ["hung", "live"]


class Steps:
    """A worker's step: raises `fault` for the venues in `failing`, records every venue stepped."""

    def __init__(self, fault: Exception, *failing: str) -> None:
        self.fault, self.failing, self.stepped = fault, set(failing), []

    def __call__(self, venue: str) -> int:
        self.stepped.append(venue)
        if venue in self.failing:
            raise self.fault
        return 1


@pytest.fixture
def breakers() -> VenueBreakers:
    return VenueBreakers(VenuePing("hung"), background=False)


def test_a_venue_that_timed_out_is_skipped_until_its_slot_answers(db, breakers):
    leases = VenueLeases(db, "test-worker", owner="worker-a")
    step = Steps(redis.TimeoutError("Timeout reading from the hung shard"), "hung")
    assert serve_venues(VENUES, leases, step, "test", breakers=breakers) == (1, 1)
    assert breakers.open_venues() == ["hung"]  # one timeout opened it
    for _ in range(3):
        assert serve_venues(VENUES, leases, step, "test", breakers=breakers) == (1, 0)  # skipped: not a failure
    assert sorted(step.stepped) == ["hung", "live", "live", "live", "live"] and leases.held == {"live"}

    breakers._ping.down.clear()  # its shard answers again
    step.failing.clear()
    assert breakers.probe_once() is True
    assert serve_venues(VENUES, leases, step, "test", breakers=breakers) == (2, 0)
    assert leases.held == set(VENUES)


def test_a_quick_store_error_does_not_skip_the_venue_at_once(breakers):
    """A refused connection costs the round nothing: the venue is tried again next round (a blip is outlasted)."""
    step = Steps(redis.ConnectionError("Connection refused"), "hung")
    assert serve_venues(VENUES, None, step, "test", breakers=breakers) == (1, 1)
    assert serve_venues(VENUES, None, step, "test", breakers=breakers) == (1, 1)
    assert step.stepped == ["hung", "live"] * 2 and breakers.open_venues() == []


def test_an_error_that_is_no_store_fault_opens_nothing(breakers):
    step = Steps(KeyError("a record it cannot read"), "hung")
    for _ in range(breakers.failures_to_open + 1):
        assert serve_venues(VENUES, None, step, "test", errors=(Exception,), breakers=breakers) == (1, 1)
    assert breakers.open_venues() == []


def test_a_worker_on_one_store_shares_the_stores_breaker(db):
    """On one store every venue fails with it: the first timeout skips them all."""
    if is_cluster(db):
        pytest.skip("a cluster's venues have breakers of their own (tests/cluster/test_cluster_hung_shard_workers.py)")
    breakers = worker_breakers(db)
    breakers.close()  # no background ping: it would find the test's store up and close the breaker again
    step = Steps(redis.TimeoutError("Timeout reading from the store"), "hung")
    venues = ["live", "hung"]  # the store hangs mid-round: the venue stepped first was served
    assert serve_venues(venues, None, step, "test", breakers=breakers) == (1, 1)
    assert serve_venues(venues, None, step, "test", breakers=breakers) == (0, 0)  # neither venue stepped
    assert step.stepped == ["live", "hung"]


def test_on_one_store_the_rest_of_a_round_after_a_timeout_is_skipped(db):
    """The store hangs mid-round: the venues after the one that timed out are not stepped in that round either
    (each would wait out the timeout too, and a later one's success would close the breaker the timeout opened)."""
    if is_cluster(db):
        pytest.skip("a cluster's venues have breakers of their own")
    breakers = worker_breakers(db)
    breakers.close()  # no background ping: it would find the test's store up and close the breaker again
    step = Steps(redis.TimeoutError("Timeout reading from the store"), "hung")
    assert serve_venues(["live", "hung", "after"], None, step, "test", breakers=breakers) == (1, 1)
    assert step.stepped == ["live", "hung"]
    assert breakers.for_venue("after").is_open


def test_a_worker_on_one_store_uses_its_processs_breaker(db):
    """A worker process's Services already hold the store's breaker (and close it): the worker takes that one
    instead of starting a second prober on the same store; on a cluster its venues get their own."""
    own = StoreBreaker.for_client(db)
    try:
        given = worker_breakers(db, own)
        assert (given is own) != is_cluster(db)
    finally:
        own.close()
        if given is not own:
            given.close()
