"""Is the store up? A circuit breaker instead of a per-call guillotine.

A fixed short socket timeout on every call (the portal used 80 ms) answers the wrong question: on a
busy host a healthy store misses it and a shopper gets the "services busy" page. Instead every call
gets the one generous timeout of the store connection (core.storage.connect), and this breaker
decides when the store is down: after `failures_to_open` consecutive failures (errors or timeouts) it
opens, and while it is open callers fail open at once, without touching the store. It also opens when most
of its recent calls were slow (SLOW_CALL_S): a store that answers, but slowly, must fail fast too. A background
thread pings the store every `probe_interval_s` and closes the breaker when a ping succeeds.

On a Valkey Cluster the store is not up or down as a whole: a shard is. There `VenueBreakers` keeps one
breaker per venue (a venue's keys live in its `{venue}` slot, so its failures say that its shard is down), and
one shard down fails open only its own venues. The per-venue background workers (tracker, notifications, payments
sweep: portal/leases.py serve_venues) skip a venue whose breaker is open (`worker_breakers`).

The clock and the ping are injectable, and `probe_once()` runs one background probe in the caller's
thread, so tests drive the breaker step by step instead of racing timers."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import redis

from core.storage import Store, StoreBudgetSpent, VenueKeys, is_cluster

log = logging.getLogger(__name__)

STORE_ERRORS = (redis.RedisError, OSError)
T = TypeVar("T")
# The slow-call rule: a store that answers, but slowly, holds a worker thread per call as surely as one that does not
# answer, and never fails a call. A breaker opens when more than half of its last SLOW_WINDOW calls took SLOW_CALL_S
# or longer (a healthy call takes well under a millisecond; the line sits at half STORE_TIMEOUT_S so that a busy
# host, where calls wait tens of milliseconds for a core, never reads as a slow store).
SLOW_CALL_S = 1.0
SLOW_WINDOW = 20


class StoreUnavailable(redis.ConnectionError):
    """Raised instead of calling the store while the breaker is open (a redis error, so every
    `except STORE_ERRORS` fail-open path handles it)."""


def is_store_fault(exc: BaseException) -> bool:
    """Whether a failed store call says the store is down, for a breaker to count: a connection error, a timeout,
    or a write a replica refused (READONLY: a failover behind a fixed endpoint left the connection on the old
    primary, core/storage.py drops it). A script or type error is a bug, not an outage, and a request's spent store
    budget (StoreBudgetSpent, a timeout) says that request waited long, not that the store is down: the slow-call
    rule weighs the waits themselves."""
    return (isinstance(exc, redis.ConnectionError | redis.TimeoutError | redis.ReadOnlyError)
            and not isinstance(exc, StoreBudgetSpent))


def primary_ping(db: redis.Redis) -> Callable[[], None]:
    """The breaker's recovery check of a single store: its node answers, and as a primary (ROLE). Behind a fixed
    endpoint a failover leaves the old primary answering PING as a replica at the same address; a connection
    found on a replica is dropped, so the next check goes through the endpoint to the new primary. A store that
    refuses ROLE (an ACL user without it, a managed service that hides it) is asked PING instead, as before."""
    def ping() -> None:
        pool = db.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command("ROLE")
            try:
                role = conn.read_response()
            except redis.ResponseError:  # NOPERM, unknown command: it answered, which is all PING would tell
                log.info("the store refuses ROLE: its breaker asks PING (a failover behind one endpoint is "
                         "then found by the first write a replica refuses)")
                return
            if role[0] not in (b"master", "master"):
                conn.disconnect()
                raise redis.ReadOnlyError("the store answers as a replica")
        finally:
            pool.release(conn)
    return ping


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
                 on_open: Callable[[], None] | None = None, name: str = "store", slow_call_s: float = SLOW_CALL_S,
                 slow_window: int = SLOW_WINDOW) -> None:
        """`on_open`: called when it opens, for a prober that is not its own (VenueBreakers' one per process);
        without it, a `background` breaker wakes its own prober (its thread starts at the first opening).
        `name`: what the log calls it. `slow_call_s`, `slow_window`: the slow-call rule (SLOW_CALL_S)."""
        self._ping = ping
        self.name = name
        self.failures_to_open = failures_to_open
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self.slow_call_s = slow_call_s
        self._recent: deque[bool] = deque(maxlen=slow_window)  # the last calls: slow or not
        self._opened_at: float | None = None
        self.used = 0  # VenueBreakers' tick of its last lookup: the least recently used closed one is dropped first
        self._prober = _Prober(self.probe_once, probe_interval_s) if background and on_open is None else None
        self._on_open = on_open or (self._prober.wake if self._prober is not None else None)

    @classmethod
    def for_client(cls, db: redis.Redis | redis.RedisCluster, **kwargs) -> StoreBreaker:
        """The breaker of a store client: recovered by `primary_ping` on a single store, by PING on a cluster
        (whose venues' own breakers, VenueBreakers, ask their slots)."""
        return cls(db.ping if isinstance(db, redis.RedisCluster) else primary_ping(db), **kwargs)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop its background prober (its app is closing, before its store client is): waits up to `timeout_s`
        for a ping in flight. The breaker still counts failures and opens after this; nothing probes any more."""
        if self._prober is not None:
            self._prober.stop(timeout_s)

    def for_venue(self, venue: str) -> StoreBreaker:
        """The breaker of `venue`'s store calls: this one for every venue (on one store, every venue shares
        its fate; VenueBreakers answers the same question on a cluster)."""
        return self

    def remember(self, venue: str) -> None:
        """Nothing to keep: on one store every venue's breaker is this one (VenueBreakers.remember keeps a
        cluster venue's)."""

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

    def record_failure(self, exc: BaseException | None = None, *, at_once: bool = False) -> None:
        """`at_once`: the failure held its caller for the store's whole timeout (a worker's step on a hung shard):
        it opens the breaker now, whatever the count, so the next call is skipped instead of waiting as long."""
        if isinstance(exc, StoreUnavailable):
            return  # refused by this breaker, not a new failure of the store
        with self._lock:
            self._failures += 1
            if self._opened_at is None and (at_once or self._failures >= self.failures_to_open):
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
        start = self._clock()
        result = self.attempt(fn, *args, **kwargs)
        self.record_success()
        self.record_duration(self._clock() - start)
        return result

    def record_duration(self, seconds: float) -> None:
        """A store call that answered after `seconds` (the slow-call rule, SLOW_CALL_S): opens the breaker when
        most of the last calls were slow, so callers fail at once instead of each waiting on the store."""
        with self._lock:
            recent = self._recent
            recent.append(seconds >= self.slow_call_s)
            slow = sum(recent)
            if self._opened_at is not None or len(recent) < (recent.maxlen or 0) or 2 * slow <= len(recent):
                return
            self._opened_at = self._clock()
            recent.clear()  # closed again, it judges the calls made after that
        log.error("%s answered %d of its last %d calls in %.2f s or more: circuit open, failing open", self.name,
                  slow, recent.maxlen, self.slow_call_s)
        if self._on_open is not None:
            self._on_open()

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
        """One ping of the store (when open): closes the breaker if it answers in under `slow_call_s`. True if
        closed now."""
        if self._opened_at is None:
            return True
        start = self._clock()
        try:
            self._ping()
        except STORE_ERRORS:
            return False
        if self._clock() - start >= self.slow_call_s:
            return False  # it answers, but slowly (the slow-call rule): still open
        self.record_success()
        return True


class VenueBreakers:
    """A store breaker per venue, for a Valkey Cluster: a venue's keys live in its `{venue}` slot, so its
    failures say that its shard is down, and they open only its own breaker; the venues on the other shards
    keep being answered from the store. Each venue's breaker recovers by `ping(venue)`, which must ask that
    venue's slot (EXISTS on a key with its hash tag, `venue_slot_ping`): a node-wide PING is answered by any live
    shard.

    Breakers are kept only for venues known to exist: `known(venue)` (without a round trip: this process's copy of
    the registry) or `remember(venue)` (found at its slot: portal/captive/landing.py VenueCheck). A venue id comes
    from a query string, anyone may make one up: a venue not known gets a breaker of its own for the one call, kept
    nowhere, so made-up names take no place from a mall's breaker and never reset an open one. The map is bounded
    all the same: past `max_venues` the least recently used closed breaker is dropped, never an open one (that venue
    would start again closed, and its probes wait out the store's timeout once more).

    One prober per process pings the open ones (`probe_once()` is its step), not a thread per venue: a round pings
    them one after another, so while a hung shard makes each of its venues' pings wait out the store's timeout,
    the venues of another shard that was down too close that much later (their shard answers; they fail open
    meanwhile)."""

    def __init__(self, ping: Callable[[str], object], *, known: Callable[[str], bool] | None = None,
                 max_venues: int = 4096, failures_to_open: int = 3, probe_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, background: bool = True) -> None:
        """`known`: None where every venue asked about exists (a worker's, from the registry)."""
        self._ping = ping
        self._known = known
        self.max_venues = max_venues
        self.failures_to_open = failures_to_open
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, StoreBreaker] = {}
        self._ticks = itertools.count(1)  # the lookups' order (StoreBreaker.used): next() is atomic
        # What a venue's breaker calls as it opens: the one prober's wake (its thread starts then), or nothing
        self._prober = _Prober(self.probe_once, probe_interval_s) if background else None
        self._wake_prober = self._prober.wake if self._prober is not None else None

    def for_venue(self, venue: str) -> StoreBreaker:
        """`venue`'s breaker, made closed on its first use; one kept nowhere for a venue not known to exist. A
        lookup takes no lock (every probe asks)."""
        breaker = self._breakers.get(venue)
        if breaker is None:
            if self._known is not None and not self._known(venue):
                return self._made(venue, kept=False)
            breaker = self._keep(venue)
        breaker.used = next(self._ticks)
        return breaker

    def remember(self, venue: str) -> None:
        """`venue` was found to exist (at its slot): its breaker is kept from now on."""
        if venue not in self._breakers:
            self._keep(venue).used = next(self._ticks)

    def _keep(self, venue: str) -> StoreBreaker:
        with self._lock:
            breaker = self._breakers.get(venue)
            if breaker is not None:
                return breaker
            if len(self._breakers) >= self.max_venues and not self._drop_least_used():
                return self._made(venue, kept=False)  # every kept one is open: none is dropped for it
            breaker = self._breakers[venue] = self._made(venue, kept=True)
            return breaker

    def _drop_least_used(self) -> bool:
        """Drop the least recently used closed breaker (under the lock); False when every one is open."""
        closed = [(breaker.used, venue) for venue, breaker in self._breakers.items() if not breaker.is_open]
        if not closed:
            return False
        del self._breakers[min(closed)[1]]
        return True

    def _made(self, venue: str, kept: bool) -> StoreBreaker:
        """A closed breaker for `venue`; one kept nowhere wakes no prober (none would ping it)."""
        return StoreBreaker(functools.partial(self._ping, venue), failures_to_open=self.failures_to_open,
                            probe_interval_s=self.probe_interval_s, clock=self._clock, background=False,
                            on_open=self._wake_prober if kept else None, name=f"store of venue {venue}")

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


class BreakerKeys(VenueKeys):
    def ping(self) -> str:
        """A key no one writes, in the venue's slot: EXISTS on it asks exactly the shard the venue lives on."""
        return self.key("breaker", "ping")


def venue_slot_ping(db: Store) -> Callable[[str], object]:
    """VenueBreakers' recovery check: `venue`'s own slot answers."""
    return lambda venue: db.exists(BreakerKeys(venue).ping())


def worker_breakers(db: Store, store_breaker: StoreBreaker | None = None) -> StoreBreaker | VenueBreakers:
    """The breaker(s) of a per-venue background worker (portal/leases.py serve_venues), which skips a venue whose
    breaker is open: on a cluster one per venue (one shard down skips only its own venues), on one store the
    store's one (every venue fails with it): `store_breaker`, the process's own (Services.breaker) when it has one,
    so a worker does not keep a second prober pinging the same store. Each closes again once its ping answers."""
    if is_cluster(db):
        return VenueBreakers(venue_slot_ping(db))
    return store_breaker if store_breaker is not None else StoreBreaker.for_client(db)
