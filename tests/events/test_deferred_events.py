"""Events appended off the request's path (EventLog.emit_later, the probe's `landing`): written in batches by
a background thread, seen at once by this process's own reads, kept while the store is down (bounded, the
rest counted), written at exit. Every check flushes by hand: no timer is raced."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from portal.events import EventKeys, EventLog
from portal.events.log import DeferredAppends
from portal.tools.net import free_port

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0


@pytest.fixture(autouse=True)
def writers_end_with_the_test():
    """Every queue a test here made has its writer stopped after it: tests that flush by hand set every_s to an
    hour, and their writer thread would otherwise sleep on through the rest of the run (then retry a store that
    may be gone)."""
    from portal.events.log import _queues

    before = set(_queues)
    yield
    for queue in set(_queues) - before:
        queue.stop(60)


def landing(log: EventLog, i: int, venue: str = "v1") -> None:
    log.emit_later(venue, "landing", at=T0 + i, device=f"d{i}", shopper=f"s-{i}", zone="kopi", app="coupons")


def test_deferred_events_are_read_back_at_once_in_order(db):
    log = EventLog(db)
    for i in range(3):
        landing(log, i)
    landing(log, 9, venue="v2")
    assert [(e.kind, e.shopper, e.at, e.data) for e in log.read("v1")] == [
        ("landing", f"s-{i}", T0 + i, {"app": "coupons"}) for i in range(3)]
    assert log.length("v2") == 1  # another venue, another stream: its own script


def test_many_events_go_in_batches(db):
    log = EventLog(db)
    for i in range(1234):
        landing(log, i)
    log.flush()
    assert db.xlen(EventKeys("v1").stream()) == 1234


@pytest.fixture
def gone(settings):
    """A client of the test store whose server goes away (a closed port) until `back()`."""
    if settings.redis_cluster:
        pytest.skip("moves a single node's connection pool")
    client = redis.Redis.from_url(settings.redis_url)
    real = client.connection_pool.connection_kwargs["port"]
    client.connection_pool.connection_kwargs.update(port=free_port())

    def back() -> None:
        client.connection_pool.reset()
        client.connection_pool.connection_kwargs.update(port=real)

    client.back = back
    return client


def test_store_down_keeps_events_bounded_then_writes_them(db, gone, caplog):
    log = EventLog(gone)
    log.deferred.limit, log.deferred.every_s = 5, 3600  # only the flushes below write
    for i in range(7):
        landing(log, i)  # never waits for the store, never raises
    assert log.deferred.flush() == 0 and log.deferred.dropped == 2
    landing(log, 7)  # still full
    assert log.deferred.dropped == 3 and "kept to retry" in caplog.text
    gone.back()
    assert log.deferred.flush() == 5
    assert [e.shopper for e in EventLog(db).read("v1")] == [f"s-{i}" for i in range(5)]
    assert "3 dropped" in caplog.text


def test_a_process_that_exits_writes_its_queue(settings, db):
    """A child process that queues an event and exits (as a gunicorn worker does on SIGTERM): atexit writes
    it. The child loads portal/events/log.py on its own (the whole app would take seconds to import)."""
    if settings.redis_cluster:
        pytest.skip("a plain client in the child")
    code = ("import importlib.util, sys, redis\n"
            "spec = importlib.util.spec_from_file_location('eventlog', 'portal/events/log.py')\n"
            "events = sys.modules['eventlog'] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(events)\n"
            "log = events.EventLog(redis.Redis.from_url(sys.argv[1])); log.deferred.every_s = 3600\n"
            "log.emit_later('v1', 'landing', at=1, shopper='s-exit')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, settings.redis_url], check=True, env=env, cwd=ROOT, timeout=120)
    assert [e.shopper for e in EventLog(db).read("v1")] == ["s-exit"]


def test_the_background_writer_needs_no_reader(db):
    appends = DeferredAppends(db, every_s=0.01)
    appends.add(EventLog(db).entry("v1", "landing", at=T0, shopper="s-bg"))
    deadline = time.monotonic() + 60  # generous: only waits for the thread to be scheduled at all
    while (appends._thread is not None or db.xlen(EventKeys("v1").stream()) == 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.xlen(EventKeys("v1").stream()) == 1 and appends._thread is None  # written; the thread ended


def test_a_writer_stopped_by_an_unexpected_error_is_started_again_by_the_next_event(db, caplog):
    appends = DeferredAppends(db, every_s=0.01)

    def broken():  # a failure no store error class names (a bug in the maker, a cluster client's own class)
        raise RuntimeError("unexpected")

    appends.add(broken)
    deadline = time.monotonic() + 60  # generous: only waits for the thread to be scheduled at all
    while appends._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert appends._thread is None and "event writer stopped" in caplog.text
    appends.add(EventLog(db).entry("v1", "landing", at=T0, shopper="s-after"))
    while db.xlen(EventKeys("v1").stream()) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.shopper for e in EventLog(db).read("v1")] == ["s-after"]


def test_the_time_is_taken_when_emitted_and_bad_data_costs_only_its_event(db, caplog):
    log = EventLog(db)
    log.deferred.every_s = 3600  # only the read below writes
    log.clock = lambda: T0 + 5
    log.emit_later("v1", "landing", shopper="s-early")
    log.emit_later("v1", "txn", shopper="s-bad", thing=object())  # not JSON: dropped when its entry is made
    log.clock = lambda: T0 + 99
    assert [(e.shopper, e.at) for e in log.read("v1")] == [("s-early", T0 + 5)]
    assert "event not logged" in caplog.text
    with pytest.raises(ValueError):
        log.emit_later("v1", "no such kind")  # a caller's typo fails where it is made


# Refusals that pass by themselves, as a store setting makes them and takes them back: memory full (noeviction:
# until keys expire or memory is added) and too few replicas in sync (a replica lagging).
PASSING_REFUSALS = {
    "out of memory": {"maxmemory-policy": "noeviction", "maxmemory": "1"},
    "too few replicas": {"min-replicas-to-write": "1"},
}


@pytest.mark.parametrize("refusal", sorted(PASSING_REFUSALS))
def test_events_refused_for_now_are_kept_and_written_once_the_store_takes_them(db, settings, refusal):
    """A refusal that passes (OOM, NOREPLICAS) keeps the batch like one the store did not answer, not dropped as
    a refusal every retry would meet again."""
    if settings.redis_cluster:
        pytest.skip("sets one node's configuration")
    refuse = PASSING_REFUSALS[refusal]
    before = {name: db.config_get(name)[name] for name in refuse}
    log = EventLog(db)
    for name, value in refuse.items():
        db.config_set(name, value)
    try:
        for i in range(5):
            landing(log, i)
        assert log.deferred.flush() == 0
    finally:  # the store as it was
        for name, value in before.items():
            db.config_set(name, value)
    assert log.deferred.flush() == 5
    assert [e.shopper for e in log.read("v1")] == [f"s-{i}" for i in range(5)]
