"""Is the store up? A circuit breaker instead of a per-call guillotine.

A fixed short socket timeout on every call (the portal used 80 ms) answers the wrong question: on a
busy host a healthy store misses it and a shopper gets the "services busy" page. Instead every call
gets the one generous timeout of the store connection (core.storage.connect), and this breaker
decides when the store is down: after `failures_to_open` consecutive failures (errors or timeouts) it
opens, and while it is open callers fail open at once, without touching the store. A background
thread pings the store every `probe_interval_s` and closes the breaker when a ping succeeds.

The clock and the ping are injectable, and `probe_once()` runs one background probe in the caller's
thread, so tests drive the breaker step by step instead of racing timers."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger(__name__)

STORE_ERRORS = (redis.RedisError, OSError)
T = TypeVar("T")


class StoreUnavailable(redis.ConnectionError):
    """Raised instead of calling the store while the breaker is open (a redis error, so every
    `except STORE_ERRORS` fail-open path handles it)."""


class StoreBreaker:
    def __init__(self, ping: Callable[[], object], *, failures_to_open: int = 3, probe_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, background: bool = True) -> None:
        self._ping = ping
        self.failures_to_open = failures_to_open
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._background = background
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._prober: tuple[int, threading.Thread] | None = None  # (pid, thread): a forked worker starts its own
        self._wake = threading.Event()

    @classmethod
    def for_client(cls, db: redis.Redis, **kwargs) -> StoreBreaker:
        return cls(db.ping, **kwargs)

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
                    log.warning("store reachable again: circuit closed")
                self._opened_at = None

    def record_failure(self, exc: BaseException | None = None) -> None:
        if isinstance(exc, StoreUnavailable):
            return  # refused by this breaker, not a new failure of the store
        with self._lock:
            self._failures += 1
            if self._opened_at is None and self._failures >= self.failures_to_open:
                self._opened_at = self._clock()
                log.error("store failed %d times in a row (%s): circuit open, failing open", self._failures,
                          type(exc).__name__ if exc else "unknown")
                opened = True
            else:
                opened = False
        if opened and self._background:
            self._start_prober()

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

    def _start_prober(self) -> None:
        """Wake the prober, starting it first in this process (a forked gunicorn worker starts its own)."""
        with self._lock:
            if self._prober is None or self._prober[0] != os.getpid():
                thread = threading.Thread(target=self._probe_loop, name="store-breaker-probe", daemon=True)
                self._prober = (os.getpid(), thread)
                thread.start()
        self._wake.set()

    def _probe_loop(self) -> None:
        """Lives as long as the process: sleeps until the breaker opens, then pings until it closes."""
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._opened_at is not None:
                time.sleep(self.probe_interval_s)
                self.probe_once()
