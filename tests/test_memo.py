"""core.memo.BoundedMemo: bounded, least recently used out first, one computation per key at a time."""

from __future__ import annotations

import threading
import time

import pytest

from core.memo import BoundedMemo


def test_keeps_at_most_its_size_dropping_the_least_recently_used():
    memo = BoundedMemo(2)
    memo.get("a", lambda: 1)
    memo.get("b", lambda: 2)
    assert memo.get("a", lambda: 0) == 1  # "a" is now the most recent
    memo.get("c", lambda: 3)
    assert memo.get("b", lambda: "again") == "again"  # "b" was dropped
    assert memo.get("c", lambda: 0) == 3


def test_concurrent_callers_share_one_computation():
    memo, calls = BoundedMemo(4), []

    def compute():
        calls.append(1)
        time.sleep(0.01)  # others may arrive meanwhile; the count holds whatever the timing
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("k", compute))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 8
    assert len(calls) == 1


def test_a_failed_computation_is_not_kept():
    memo = BoundedMemo(2)

    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        memo.get("k", boom)
    assert memo.get("k", lambda: 7) == 7


def test_peek_computes_nothing_and_keeps_recent_values():
    memo = BoundedMemo(2)
    assert memo.peek("a") is None
    memo.get("a", lambda: 1)
    memo.get("b", lambda: 2)
    assert memo.peek("a") == 1  # refreshed: "b" is now the oldest
    memo.get("c", lambda: 3)
    assert memo.peek("b") is None
    assert memo.peek("a") == 1


def test_values_older_than_max_age_are_computed_again():
    now = [0.0]
    memo = BoundedMemo(4, max_age_s=60, clock=lambda: now[0])
    assert memo.get("zone", lambda: "UTC") == "UTC"
    now[0] = 60.0
    assert memo.get("zone", lambda: "changed") == "UTC"  # still within its life
    now[0] = 60.5
    assert memo.peek("zone") is None
    assert memo.get("zone", lambda: "Asia/Shanghai") == "Asia/Shanghai"


def test_put_keeps_a_value_read_elsewhere_newest_wins_within_the_bound():
    memo = BoundedMemo(2)
    memo.put("a", 1)
    memo.put("a", 2)
    assert memo.peek("a") == 2 and memo.get("a", lambda: 99) == 2  # kept as if computed
    memo.put("b", 3)
    memo.put("c", 4)  # over the bound: the least recently used goes
    assert memo.peek("a") is None and memo.peek("b") == 3 and memo.peek("c") == 4
