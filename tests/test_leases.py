"""Trackers divide the venues through leases in the store: a second tracker takes half, a tracker
that vanishes loses nothing (its venues are taken over), one failing venue does not stop the others."""

from __future__ import annotations

import time

import redis

from portal.leases import VenueLeases
from portal.tracking import Tracker

VENUES = ["east", "north", "south", "west"]


def test_a_second_tracker_takes_half_of_the_venues(db):
    a, b = VenueLeases(db, owner="a"), VenueLeases(db, owner="b")
    assert sorted(a.assign(VENUES)) == VENUES  # alone: everything
    assert b.assign(VENUES) == []  # all held; but b now counts as alive
    first = a.assign(VENUES)  # a gives back what is over its share
    second = b.assign(VENUES)
    assert len(first) == len(second) == 2 and sorted(first + second) == VENUES
    assert sorted(a.assign(VENUES)) == sorted(first) and sorted(b.assign(VENUES)) == sorted(second)  # stable


def test_a_vanished_tracker_loses_nothing(db):
    # The default ttl: a slow machine pausing between two calls must not make a lapse here by itself. a's crash
    # is made in the store instead: its leases lapse and its last heartbeat is older than the ttl.
    a, b = VenueLeases(db, owner="a"), VenueLeases(db, owner="b")
    a.assign(VENUES)
    b.assign(VENUES)
    a.assign(VENUES)
    assert len(b.assign(VENUES)) == 2
    # a stops renewing (a crash: no release); once its heartbeat and leases lapse, b serves everything
    for venue in a.held:
        assert db.pexpire(a.lease_key(venue), 1)
    members = a.members_key
    assert db.zscore(members, a.owner) is not None
    db.zadd(members, {a.owner: time.time() - a.ttl_ms / 1000 - 1})
    deadline = time.monotonic() + 60
    while sorted(b.assign(VENUES)) != VENUES:
        assert time.monotonic() < deadline, "the leases of a vanished tracker were never taken over"
        time.sleep(0.05)
    assert db.zscore(members, a.owner) is None  # b counted a out


def test_a_clean_stop_hands_venues_over_at_once(db):
    a, b = VenueLeases(db, owner="a"), VenueLeases(db, owner="b")
    a.assign(VENUES)
    b.assign(VENUES)
    a.release_all()
    assert sorted(b.assign(VENUES)) == VENUES


def test_one_failing_venue_does_not_stop_the_others(svc, demo, monkeypatch):
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    monkeypatch.setattr(svc.venues, "venue_ids", lambda: ["broken", "demo"])
    served = []

    def step(venue, now=None):
        if venue == "broken":
            raise redis.ConnectionError("its shard is failing over")
        served.append(venue)
        return 1

    monkeypatch.setattr(tracker, "step", step)
    assert tracker.round() == (1, 1) and served == ["demo"]
