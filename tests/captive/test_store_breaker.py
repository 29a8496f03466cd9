"""The store breaker (portal/store_health.py) on an injected clock and ping, and the landing decision
behind it: nothing here is timed, so a busy machine cannot flip a result."""

from __future__ import annotations

import time

import pytest
import redis

from core.store_health import StoreBreaker, StoreUnavailable
from portal.captive.landing import Landing, Offline, Redirect


class Ping:
    def __init__(self) -> None:
        self.up, self.calls = True, 0

    def __call__(self):
        self.calls += 1
        if not self.up:
            raise redis.TimeoutError("no answer")
        return True


def failing():
    raise redis.TimeoutError("slow")


def test_opens_after_consecutive_failures_only():
    breaker = StoreBreaker(Ping(), failures_to_open=3, background=False)
    for _ in range(2):
        with pytest.raises(redis.TimeoutError):
            breaker.call(failing)
    assert breaker.call(lambda: "ok") == "ok"  # a success in between resets the count
    for _ in range(2):
        with pytest.raises(redis.TimeoutError):
            breaker.call(failing)
    assert not breaker.is_open
    with pytest.raises(redis.TimeoutError):
        breaker.call(failing)
    assert breaker.is_open


def test_open_breaker_refuses_without_calling_and_the_probe_closes_it():
    ping = Ping()
    breaker = StoreBreaker(ping, failures_to_open=1, background=False, clock=lambda: 100.0)
    with pytest.raises(redis.TimeoutError):
        breaker.call(failing)
    assert breaker.opened_at == 100.0
    calls = []
    with pytest.raises(StoreUnavailable):
        breaker.call(lambda: calls.append(1))
    assert calls == []  # refused before the store was touched
    ping.up = False
    assert breaker.probe_once() is False and breaker.is_open
    ping.up = True
    assert breaker.probe_once() is True and not breaker.is_open
    assert breaker.call(lambda: "again") == "again"


def test_refusals_are_not_counted_as_new_failures():
    breaker = StoreBreaker(Ping(), failures_to_open=1, background=False)
    breaker.record_failure(redis.ConnectionError("down"))
    breaker.record_failure(StoreUnavailable("refused"))
    assert breaker.probe_once()  # one ping closes it; the refusal did not count
    assert not breaker.is_open


def test_background_prober_closes_the_breaker():
    import threading

    ping = Ping()
    ping.up = False
    closed = threading.Event()

    def watched_ping():
        result = ping()
        closed.set()
        return result

    breaker = StoreBreaker(watched_ping, failures_to_open=1, probe_interval_s=0.01)
    breaker.record_failure(redis.ConnectionError("down"))
    ping.up = True
    assert closed.wait(60)  # generous: only waits for the thread to be scheduled at all
    # The ping has answered; the prober records it just after. Wait for that by the clock (an event already set
    # returns at once from wait(), so waiting on `closed` here would not wait at all on a busy machine).
    deadline = time.monotonic() + 60
    while breaker.is_open and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not breaker.is_open
    breaker.close(60)  # its prober ends with the test (an idle one would wait on for the next opening)


class Spy:
    """A store object that records being asked (the breaker must refuse before any of these)."""

    def __init__(self) -> None:
        self.asked = 0

    def read(self, *args):
        self.asked += 1
        raise AssertionError("the store was asked while the breaker is open")

    named_at = locate = read

    def mint(self, shopper, handout=False, event=None):  # minting a new shopper's token is not refused here: closed
        return "demo." + "t" * 43


def test_decide_fails_open_at_once_while_open():
    spy = Spy()
    breaker = StoreBreaker(Ping(), failures_to_open=1, background=False)
    landing = Landing(probe_state=spy, sessions=spy, locator=spy, zone_app=spy.read,
                      landing_endpoint=lambda name: None, breaker=breaker, tokens=spy)
    assert isinstance(landing.decide("demo", None), Redirect)  # nothing known: the home and a new token
    breaker.record_failure(redis.ConnectionError("down"))
    assert isinstance(landing.decide("demo", "client-1", ip="10.0.0.1"), Offline)
    assert spy.asked == 0


def test_probes_answered_partly_from_a_memo_still_open_the_breaker_when_the_store_hangs():
    """A probe naming a MAC asks the venue's `client_networks` (a memo's hit: the store untouched) before it reads
    the phone's state (the store: timing out). The hit must not count as the store answering, or every probe
    resets the count and a hung store never opens the breaker (each probe then waits the store's timeout)."""
    spy = Spy()
    reads = []

    def hung_read(*args):
        reads.append(1)
        raise redis.TimeoutError("no answer")

    spy.read = hung_read
    breaker = StoreBreaker(Ping(), failures_to_open=3, background=False)
    landing = Landing(probe_state=spy, sessions=spy, locator=spy, zone_app=spy.read, landing_endpoint=lambda n: None,
                      breaker=breaker, tokens=spy, client_networks=lambda venue: ())
    outcomes = [landing.decide("demo", f"client-{i}", ip="10.0.0.9") for i in range(5)]
    assert all(isinstance(o, Offline) for o in outcomes)
    assert breaker.is_open and len(reads) == 3  # the fourth and fifth failed open without asking the store
