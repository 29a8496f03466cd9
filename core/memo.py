"""Memoising computed values: one bounded, thread-safe policy instead of ad hoc module-level dicts."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class BoundedMemo:
    """A bounded LRU of computed values, safe across threads, computing each key once at a time (others
    wait for it rather than compute it again). The house's one memo policy for shared mutable caches:
    pure functions use functools.lru_cache with a maxsize; nothing grows without a bound."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:  # kept before the key stops "computing": a caller finds one or the other
                self._items[key] = value
                self._computing.pop(key, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return value

    def peek(self, key: Hashable) -> Any | None:
        """The value if it is already computed (refreshing its place), else None; computes nothing."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
