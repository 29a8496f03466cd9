"""Is the store up? A circuit breaker instead of a per-call guillotine.

A fixed short socket timeout on every call (the portal used 80 ms) answers the wrong question: on a
busy host a healthy store misses it and a shopper gets the "services busy" page. Instead every call
gets the one generous timeout of the store connection (core.storage.connect), and this breaker
decides when the store is down: after `failures_to_open` consecutive failures (errors or timeouts) it
opens, and while it is open callers fail open at once, without touching the store. A background
thread pings the store every `probe_interval_s` and closes the breaker when a ping succeeds.

On a Valkey Cluster the store is not up or down as a whole: a shard is. There `VenueBreakers` keeps one
breaker per venue (a venue's keys live in its `{venue}` slot, so its failures say that its shard is down), and
one shard down fails open only its own venues.

The clock and the ping are injectable, and `probe_once()` runs one background probe in the caller's
thread, so tests drive the breaker step by step instead of racing timers."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger(__name__)

STORE_ERRORS = (redis.RedisError, OSError)
T = TypeVar("T")


class StoreUnavailable(redis.ConnectionError):
    """Raised instead of calling the store while the breaker is open (a redis error, so every
    `except STORE_ERRORS` fail-open path handles it)."""


class _Prober:
    """A background thread that sleeps until woken, then runs `step` every `interval_s` until it answers True
    (nothing is open any more). It lives until `stop()` (its app closing: Services.close) or until its owner is
    gone: it holds `step`'s object weakly, so an app dropped without closing does not keep its breaker (and its
    store client) alive, pinging a store no one asks any more. A forked gunicorn worker starts its own."""

    IDLE_CHECK_S = 10.0  # how often an idle thread looks whether its breaker is still there

    def __init__(self, step: Callable[[], bool], interval_s: float) -> None:
        self._step = weakref.WeakMethod(step)  # a bound method: its breaker's probe_once
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._thread: tuple[int, threading.Thread] | None = None  # (pid, thread)
        self._wake = threading.Event()
        self._stopped = threading.Event()

    def wake(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return  # closed: the breaker still opens (callers fail open), but nothing pings any more
            if self._thread is None or self._thread[0] != os.getpid():
                thread = threading.Thread(target=self._loop, name="store-breaker-probe", daemon=True)
                self._thread = (os.getpid(), thread)
                thread.start()
        self._wake.set()

    def stop(self, timeout_s: float) -> None:
        """End the thread (after the ping in flight, if any) and wait up to `timeout_s` for it; none starts again."""
        with self._lock:
            self._stopped.set()
            started = self._thread
        self._wake.set()  # an idle thread waits on this one
        if started is not None and started[0] == os.getpid() and started[1] is not threading.current_thread():
            started[1].join(timeout_s)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            if not self._wake.wait(self.IDLE_CHECK_S):
                if self._step() is None:  # idle, and the breaker is gone: no one can wake this thread again
                    return
                continue
            self._wake.clear()
            while not self._stopped.wait(self.interval_s):  # sleeps the interval, or ends at once when stopped
                step = self._step()  # held only for the call: the breaker may be dropped while this thread waits
                if step is None:  # the breaker is gone: nothing left to close
                    return
                closed = step()
                del step
                if closed:
                    break


class StoreBreaker:
    def __init__(self, ping: Callable[[], object], *, failures_to_open: int = 3, probe_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, background: bool = True,
                 on_open: Callable[[], None] | None = None, name: str = "store") -> None:
        """`on_open`: called when it opens, for a prober that is not its own (VenueBreakers' one per process);
        without it, a `background` breaker wakes its own prober (its thread starts at the first opening).
        `name`: what the log calls it."""
        self._ping = ping
        self.name = name
        self.failures_to_open = failures_to_open
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._prober = _Prober(self.probe_once, probe_interval_s) if background and on_open is None else None
        self._on_open = on_open or (self._prober.wake if self._prober is not None else None)

    @classmethod
    def for_client(cls, db: redis.Redis, **kwargs) -> StoreBreaker:
        return cls(db.ping, **kwargs)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop its background prober (its app is closing, before its store client is): waits up to `timeout_s`
        for a ping in flight. The breaker still counts failures and opens after this; nothing probes any more."""
        if self._prober is not None:
            self._prober.stop(timeout_s)

    def for_venue(self, venue: str) -> StoreBreaker:
        """The breaker of `venue`'s store calls: this one for every venue (on one store, every venue shares
        its fate; VenueBreakers answers the same question on a cluster)."""
        return self

    # -- state ----------------------------------------------------------------------------------

    @property
    def opened_at(self) -> float | None:
        """When the breaker opened (on its clock), None while closed: for logs and the health view."""
        return self._opened_at

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def check(self) -> None:
        """Raise StoreUnavailable while open: the caller fails open without waiting for the store."""
        if self._opened_at is not None:
            raise StoreUnavailable("the store is unavailable (circuit open)")

    def record_success(self) -> None:
        if self._failures or self._opened_at is not None:
            with self._lock:
                self._failures = 0
                if self._opened_at is not None:
                    log.warning("%s reachable again: circuit closed", self.name)
                self._opened_at = None

    def record_failure(self, exc: BaseException | None = None) -> None:
        if isinstance(exc, StoreUnavailable):
            return  # refused by this breaker, not a new failure of the store
        with self._lock:
            self._failures += 1
            if self._opened_at is None and self._failures >= self.failures_to_open:
                self._opened_at = self._clock()
                log.error("%s failed %d times in a row (%s): circuit open, failing open", self.name,
                          self._failures, type(exc).__name__ if exc else "unknown")
                opened = True
            else:
                opened = False
        if opened and self._on_open is not None:
            self._on_open()

    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """fn(*args, **kwargs) through the breaker: refused at once while open, its outcome recorded."""
        result = self.attempt(fn, *args, **kwargs)
        self.record_success()
        return result

    def attempt(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """`call` for a read that may not reach the store (a memo's hit): refused while open and its store
        errors counted, but its success not, since a hit says nothing of the store's health; counted as one,
        every probe answered from a memo reset the count and a hung store never opened the breaker."""
        self.check()
        try:
            return fn(*args, **kwargs)
        except STORE_ERRORS as exc:
            self.record_failure(exc)
            raise

    # -- the background probe -------------------------------------------------------------------

    def probe_once(self) -> bool:
        """One ping of the store (when open): closes the breaker if it answers. True if closed now."""
        if self._opened_at is None:
            return True
        try:
            self._ping()
        except STORE_ERRORS:
            return False
        self.record_success()
        return True


class VenueBreakers:
    """A store breaker per venue, for a Valkey Cluster: a venue's keys live in its `{venue}` slot, so its
    failures say that its shard is down, and they open only its own breaker; the venues on the other shards
    keep being answered from the store. Each venue's breaker recovers by `ping(venue)`, which must ask that
    venue's slot (EXISTS on a key with its hash tag): a node-wide PING is answered by any live shard.

    The map is bounded (a venue id comes from a query string: anyone may make one up); past `max_venues` the
    oldest venue's breaker is dropped, and that venue starts again closed. One prober per process pings the
    open ones (`probe_once()` is its step), not a thread per venue: a round pings them one after another, so
    while a hung shard makes each of its venues' pings wait out the store's timeout, the venues of another
    shard that was down too close that much later (their shard answers; they fail open meanwhile)."""

    def __init__(self, ping: Callable[[str], object], *, max_venues: int = 4096, failures_to_open: int = 3,
                 probe_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 background: bool = True) -> None:
        self._ping = ping
        self.max_venues = max_venues
        self.failures_to_open = failures_to_open
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, StoreBreaker] = {}  # insertion order: the oldest is dropped first
        # What a venue's breaker calls as it opens: the one prober's wake (its thread starts then), or nothing
        self._prober = _Prober(self.probe_once, probe_interval_s) if background else None
        self._wake_prober = self._prober.wake if self._prober is not None else None

    def for_venue(self, venue: str) -> StoreBreaker:
        """`venue`'s breaker, made closed on its first use. A lookup takes no lock (every probe asks)."""
        breaker = self._breakers.get(venue)
        if breaker is not None:
            return breaker
        with self._lock:
            breaker = self._breakers.get(venue)
            if breaker is None:
                breaker = StoreBreaker(functools.partial(self._ping, venue), failures_to_open=self.failures_to_open,
                                       probe_interval_s=self.probe_interval_s, clock=self._clock,
                                       background=False, on_open=self._wake_prober, name=f"store of venue {venue}")
                self._breakers[venue] = breaker
                if len(self._breakers) > self.max_venues:
                    del self._breakers[next(iter(self._breakers))]
            return breaker

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the prober, as StoreBreaker.close does (the venues' breakers share it)."""
        if self._prober is not None:
            self._prober.stop(timeout_s)

    def open_venues(self) -> list[str]:
        """The venues whose breaker is open now (tests, a health check)."""
        return [venue for venue, breaker in self._snapshot() if breaker.is_open]

    def probe_once(self) -> bool:
        """One round of the prober: ping each open venue's slot, closing the breakers that answer. True when
        none is open any more."""
        # every open one pinged (a list, not all() over a generator); a closed one answers at once, no ping
        return all([breaker.probe_once() for _, breaker in self._snapshot()])

    def _snapshot(self) -> list[tuple[str, StoreBreaker]]:
        with self._lock:
            return list(self._breakers.items())
