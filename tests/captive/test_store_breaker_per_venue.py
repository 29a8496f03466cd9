"""A store breaker per venue (core/store_health.py VenueBreakers), the captive portal's on a Valkey Cluster: one
venue's failures open only its breaker, its recovery ping asks that venue, and the map stays bounded. On an
injected clock and ping: nothing here is timed. The same on a real cluster with a primary killed:
tests/cluster/test_cluster_breaker_per_venue.py."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from core.store_health import StoreBreaker, StoreUnavailable, VenueBreakers
from portal.captive.landing import Landing, Offline, Online
from portal.captive.probe_state import ProbeState
from portal.captive.probes import ANDROID
from portal.captive.sessions import Session

GUEST = "10.0.0.9"  # a probe from the guest network (a MAC no gateway vouched for places a phone from there)


class VenuePing:
    """ping(venue): fails for the venues in `down`, and records who was asked."""

    def __init__(self, *down: str) -> None:
        self.down, self.asked = set(down), []

    def __call__(self, venue: str):
        self.asked.append(venue)
        if venue in self.down:
            raise redis.ConnectionError("Connection refused")
        return 0


def failing():
    raise redis.ConnectionError("Connection refused")


def open_breaker(breakers: VenueBreakers, venue: str) -> None:
    for _ in range(breakers.failures_to_open):
        with pytest.raises(redis.ConnectionError):
            breakers.for_venue(venue).call(failing)


def test_one_venues_failures_open_only_its_own_breaker():
    breakers = VenueBreakers(VenuePing(), background=False)
    open_breaker(breakers, "mall1")
    assert breakers.for_venue("mall1").is_open and breakers.open_venues() == ["mall1"]
    with pytest.raises(StoreUnavailable):
        breakers.for_venue("mall1").call(lambda: "not called")
    assert breakers.for_venue("mall2").call(lambda: "answered") == "answered"
    assert not breakers.for_venue("mall2").is_open


def test_the_recovery_ping_asks_the_open_venue_only():
    """A node-wide PING is answered by any live shard: each open breaker pings its own venue (its slot), and
    only the open ones are pinged."""
    ping = VenuePing("mall1")
    breakers = VenueBreakers(ping, background=False)
    breakers.for_venue("mall2").call(lambda: None)
    open_breaker(breakers, "mall1")
    assert breakers.probe_once() is False and ping.asked == ["mall1"]
    assert breakers.open_venues() == ["mall1"]
    ping.down.clear()
    assert breakers.probe_once() is True and ping.asked == ["mall1", "mall1"]
    assert breakers.for_venue("mall1").call(lambda: "back") == "back"


def test_the_map_is_bounded_and_a_dropped_venue_starts_closed():
    """Past the bound the least recently used closed breaker is dropped (never an open one)."""
    breakers = VenueBreakers(VenuePing(), max_venues=2, background=False)
    open_breaker(breakers, "mall1")
    breakers.for_venue("mall2")
    breakers.for_venue("mall3")  # past the bound: mall2 is dropped, mall1 is open
    assert sorted(breakers._breakers) == ["mall1", "mall3"] and breakers.open_venues() == ["mall1"]
    assert not breakers.for_venue("mall2").is_open


def test_the_one_store_breaker_is_every_venues():
    breaker = StoreBreaker(lambda: True, background=False)
    assert breaker.for_venue("mall1") is breaker and breaker.for_venue("mall2") is breaker


def test_one_prober_per_process_closes_a_venues_breaker():
    ping = VenuePing("mall1")
    pinged = threading.Event()

    def watched(venue: str):
        try:
            return ping(venue)
        finally:
            pinged.set()

    breakers = VenueBreakers(watched, probe_interval_s=0.01)
    open_breaker(breakers, "mall1")
    ping.down.clear()
    assert pinged.wait(60)  # generous: only waits for the thread to be scheduled at all
    deadline = time.monotonic() + 60  # the ping answered; the prober records it just after
    while breakers.open_venues() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert breakers.open_venues() == []
    assert [t.name for t in threading.enumerate()].count("store-breaker-probe") >= 1
    assert set(ping.asked) == {"mall1"}
    breakers.close(60)  # its prober ends with the test (an idle one would wait on for the next opening)


class Store:
    """The stores Landing reads, answering from memory per venue: a venue in `down` fails as a dead shard.
    (The real cluster test: tests/cluster/test_cluster_breaker_per_venue.py.)"""

    def __init__(self, *down: str) -> None:
        self.down = set(down)

    def read(self, venue, client, now, associated_ap=None):
        if venue in self.down:
            raise redis.ConnectionError("Connection refused")
        session = Session(client=client, granted_at=now, expires_at=now + 600, gateway="direct", extensions=0)
        return ProbeState(session=session, position=None, app=None)

    def mint(self, shopper, handout=False, event=None):
        return "demo." + "t" * 43


def test_decide_fails_open_only_the_venue_whose_shard_is_down():
    store = Store("mall1")
    breakers = VenueBreakers(VenuePing("mall1"), background=False)
    landing = Landing(probe_state=store, sessions=store, locator=store, zone_app=lambda venue, zone: None,
                      landing_endpoint=lambda name: None, breaker=breakers, tokens=store)
    answers: dict[str, list[str]] = {"mall1": [], "mall2": []}
    for _ in range(5):  # a burst of mall1's probes (enough to open a breaker), then one of mall2's
        answers["mall1"] += [type(landing.decide("mall1", "phone-1", probe=ANDROID, ip=GUEST)).__name__
                             for _ in range(3)]
        answers["mall2"].append(type(landing.decide("mall2", "phone-2", probe=ANDROID, ip=GUEST)).__name__)
    assert answers == {"mall1": ["Offline"] * 15, "mall2": ["Online"] * 5}
    assert breakers.open_venues() == ["mall1"]
    assert isinstance(landing.decide("mall2", "phone-2", probe=ANDROID, ip=GUEST), Online)
    assert isinstance(landing.decide("mall1", "phone-1", probe=ANDROID, ip=GUEST), Offline)
