"""Which venues' breakers VenueBreakers keeps (core/store_health.py): only venues known to exist, the least recently
used closed one dropped past the bound, never an open one. Before, any well-formed name in a probe made a breaker
and the oldest made was dropped first: 4,096 made-up names reset an open mall's breaker to a closed one, and its
probes waited out the store's timeout again. On an injected ping: nothing here is timed."""

from __future__ import annotations

import time

import redis

from core.store_health import VenueBreakers
from fingerprints.model import Floor, VenueMap
from fingerprints.store import VenueStore
from tests.captive.test_store_breaker_per_venue import VenuePing, open_breaker

REAL = {"demo", "north", "south"}


def test_made_up_venues_keep_no_breaker_and_never_reset_an_open_one():
    breakers = VenueBreakers(VenuePing("demo"), known=REAL.__contains__, background=False)
    open_breaker(breakers, "demo")
    opened = breakers.for_venue("demo")
    for i in range(breakers.max_venues + 10):  # the auditor's flood of unauthenticated probes
        assert not breakers.for_venue(f"x{i:06x}").is_open
    assert breakers.for_venue("demo") is opened and opened.is_open
    assert sorted(breakers._breakers) == ["demo"]


def test_a_made_up_venues_breaker_wakes_no_prober():
    woken = []
    breakers = VenueBreakers(VenuePing(), known=REAL.__contains__, background=False)
    breakers._wake_prober = lambda: woken.append(1)
    breaker = breakers.for_venue("madeup")
    for _ in range(breakers.failures_to_open):
        breaker.record_failure(redis.ConnectionError("down"))
    assert breaker.is_open and woken == [] and breakers.open_venues() == []


def test_a_venue_found_at_its_slot_is_kept_from_then_on():
    breakers = VenueBreakers(VenuePing(), known=REAL.__contains__, background=False)
    assert breakers.for_venue("newmall") is not breakers.for_venue("newmall")  # not known: kept nowhere
    breakers.remember("newmall")
    assert breakers.for_venue("newmall") is breakers.for_venue("newmall")


def test_the_least_recently_used_closed_breaker_is_dropped():
    breakers = VenueBreakers(VenuePing(), max_venues=2, background=False)
    first = breakers.for_venue("north")
    breakers.for_venue("south")
    assert breakers.for_venue("north") is first  # used again: south is now the least recently used
    breakers.for_venue("demo")
    assert sorted(breakers._breakers) == ["demo", "north"]


def test_while_every_kept_breaker_is_open_a_new_venues_is_not_kept():
    breakers = VenueBreakers(VenuePing(), max_venues=2, background=False)
    open_breaker(breakers, "north")
    open_breaker(breakers, "south")
    assert not breakers.for_venue("demo").is_open
    assert sorted(breakers._breakers) == ["north", "south"] and breakers.open_venues() == ["north", "south"]


def test_the_registry_copy_learns_a_venue_it_does_not_list_in_the_background(db):
    """The portal's `known` (fingerprints/store.py VenueStore.listed): never a round trip on the probe's path; a
    venue the copy does not list has it read off that path, so a venue is kept a moment later, also in a process that
    never read the registry (no warm-up)."""
    VenueStore(db).put_map(VenueMap(id="newmall", name="New", name_zh="新", floors=[Floor(0, "G", 50, 30)]))
    mine = VenueStore(db)
    assert mine.listed("newmall") is False  # never read: read in the background
    deadline = time.monotonic() + 60  # generous: only waits for the thread to be scheduled
    while not mine.listed("newmall") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mine.listed("newmall") and not mine.listed("madeup")
