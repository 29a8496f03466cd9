"""A worker's heartbeat is timed by the store's clock, not its host's: a worker on a host whose clock runs two
minutes fast, once stopped, is counted out by the others within the lease ttl (not two minutes later), so they
take its venues' share."""

from __future__ import annotations

import time
from types import SimpleNamespace

from portal import leases
from portal.leases import VenueLeases

VENUES = ["east", "north", "south", "west"]
TTL_S = 0.5  # short, so that the test waits past it; a slow machine only makes the wait longer


def test_a_stopped_worker_whose_clock_runs_ahead_is_counted_out_within_the_ttl(db, monkeypatch):
    fast_clock = SimpleNamespace(time=lambda: time.time() + 120)
    with monkeypatch.context() as fast_host:
        fast_host.setattr(leases, "time", fast_clock, raising=False)  # the module's clock, where it has one
        fast = VenueLeases(db, owner="fast", ttl_s=TTL_S)
        assert fast.live_workers() == 1
    other = VenueLeases(db, owner="other", ttl_s=TTL_S)
    time.sleep(TTL_S + 0.2)  # "fast" stopped: its last heartbeat is now older than the ttl
    assert other.live_workers() == 1
    assert sorted(other.assign(VENUES)) == VENUES  # the whole share, not half


def test_two_live_workers_count_each_other(db):
    a, b = VenueLeases(db, owner="a"), VenueLeases(db, owner="b")
    assert a.live_workers() == 1
    assert b.live_workers() == 2 and a.live_workers() == 2
    a.release_all()
    assert b.live_workers() == 1
