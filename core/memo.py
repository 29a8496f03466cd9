"""Memoising computed values: one bounded, thread-safe policy instead of ad hoc module-level dicts."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class BoundedMemo:
    """A bounded LRU of computed values, safe across threads, computing each key once at a time (others
    wait for it rather than compute it again). The house's one memo policy for shared mutable caches:
    pure functions use functools.lru_cache with a maxsize; nothing grows without a bound.

    With `max_age_s`, a value older than that is computed again on its next `get` (a value read from the
    store, such as a venue's settings: a change is seen within max_age_s in every process)."""

    def __init__(self, size: int, max_age_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.max_age_s = max_age_s
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def _fresh(self, key: Hashable) -> bool:
        """Whether a value is kept for key and young enough (call with self._lock held)."""
        item = self._items.get(key)
        if item is None:
            return False
        if self.max_age_s is not None and self._clock() - item[1] > self.max_age_s:
            del self._items[key]
            return False
        return True

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if self._fresh(key):
                self._items.move_to_end(key)
                return self._items[key][0]
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if self._fresh(key):
                    return self._items[key][0]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:  # kept before the key stops "computing": a caller finds one or the other
                self._keep(key, value)
                self._computing.pop(key, None)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` for `key` as if just computed (a value read elsewhere: the newest one wins)."""
        with self._lock:
            self._keep(key, value)

    def _keep(self, key: Hashable, value: Any) -> None:
        """`value` as the newest for `key`, the oldest dropped past `size` (the caller holds the lock)."""
        self._items[key] = (value, self._clock())
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def peek(self, key: Hashable) -> Any | None:
        """The value if it is already computed (refreshing its place), else None; computes nothing."""
        with self._lock:
            if not self._fresh(key):
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
