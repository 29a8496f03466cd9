"""An app's background threads end when it is closed (Services.close): a gunicorn worker at exit, and every app
the suite builds, after what built it (conftest.py close_built_apps). Before, nothing stopped them: a test's
store-breaker probe kept pinging the Valkey that test had shut down, for the rest of the worker's run, and
redis-py's retry backoff drew its jitter from the global `random` while later tests' hypothesis strategies were
drawing (hypothesis's "Do not use the `random` module inside strategies" warning, in a different file each run).

Every wait here is on the thread itself with a generous bound: nothing depends on how fast the machine is."""

from __future__ import annotations

import gc
import importlib.util
import socket
import threading
from types import SimpleNamespace

import pytest
import redis

from core.settings import PROJECT_ROOT
from core.store_health import StoreBreaker
from portal import create_app
from portal.auth import AuditLog, _backlog

BACKGROUND = {"store-breaker-probe", "event-appends", "moments-webhooks", "audit-backlog"}
BOUND_S = 60.0  # generous: a store call in flight to a closed port is refused at once


@pytest.fixture
def closed_port():
    """A port bound for the test and never listened on: a connection to it is refused at once, and no other process
    can take it meanwhile (a port merely found free could be)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.name in BACKGROUND]


def test_closing_an_app_ends_every_background_thread_it_started(settings, closed_port):
    """An app on a store that is gone (a closed port), each of its workers set going as a request would: the
    breaker opened (its probe pings on and on), an event queued (the writer retries), an audit entry kept (the
    backlog retries), a venue's webhooks asked for (the sender tries). close() ends them all."""
    before = set(threading.enumerate())
    app = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{closed_port}/0", store_timeout_s=1.0))
    svc = app.extensions["mallportal"]
    for _ in range(svc.breaker.failures_to_open):
        svc.breaker.record_failure(redis.ConnectionError("refused"))
    assert svc.breaker.is_open
    svc.events.emit_later("demo", "arrive", device="d1")
    AuditLog(svc.db).record("demo", "ops", "insights.retention", events_delete=30)  # the store fails: kept
    svc.moments.sender.request("demo")
    started = started_since(before)
    names = {t.name for t in started}  # each was started (none can have ended: the store is gone)...
    # ...but the audit backlog's writer is the process's one: another test's may still be on its last round
    assert names == BACKGROUND or (names == BACKGROUND - {"audit-backlog"} and _backlog._writer in before)

    svc.close(timeout_s=BOUND_S)

    assert [t.name for t in started if t.is_alive()] == []
    assert not [item for item in _backlog._entries if item[0] is svc.db]  # its audit entries are not retried
    svc.breaker.record_failure(redis.ConnectionError("refused"))  # a late failure after closing...
    svc.events.emit_later("demo", "arrive", device="d2")  # ...and a late event start nothing again
    svc.moments.sender.request("demo")
    assert started_since(before) == []
    svc.close(timeout_s=BOUND_S)  # closing twice is harmless (the suite's `app` fixture and its hook both do)


def test_a_gunicorn_worker_closes_its_app_as_it_exits(settings, closed_port):
    spec = importlib.util.spec_from_file_location("gunicorn_conf_close", PROJECT_ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    before = set(threading.enumerate())
    app = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{closed_port}/0", store_timeout_s=1.0))
    svc = app.extensions["mallportal"]
    for _ in range(svc.breaker.failures_to_open):
        svc.breaker.record_failure(redis.ConnectionError("refused"))
    svc.events.emit_later("demo", "arrive", device="d1")
    started = started_since(before)
    assert {t.name for t in started} == {"store-breaker-probe", "event-appends"}
    conf.worker_exit(None, SimpleNamespace(wsgi=app, log=SimpleNamespace(exception=lambda *a, **k: None)))
    for thread in started:
        thread.join(BOUND_S)  # the hook waits WORKER_EXIT_WAIT_S at most: a busy machine may need longer here
    assert [t.name for t in started if t.is_alive()] == []


def test_a_breaker_dropped_without_closing_stops_probing():
    """Independently of close(): the probe holds its breaker weakly, so a breaker no one holds any more (an app
    dropped without closing) is not kept alive by its own thread, and the thread ends."""
    def dead_store():
        raise redis.ConnectionError("refused")

    before = set(threading.enumerate())
    breaker = StoreBreaker(dead_store, failures_to_open=1, probe_interval_s=0.01)
    breaker.record_failure(redis.ConnectionError("refused"))
    [probe] = started_since(before)
    del breaker
    gc.collect()
    probe.join(BOUND_S)
    assert not probe.is_alive()


def test_a_closed_breaker_still_fails_open_but_probes_no_more():
    before = set(threading.enumerate())
    breaker = StoreBreaker(lambda: True, failures_to_open=1, probe_interval_s=0.01)
    breaker.close(BOUND_S)
    breaker.record_failure(redis.ConnectionError("refused"))
    assert breaker.is_open  # callers still fail open at once
    assert started_since(before) == []
    assert breaker.probe_once() is True  # and a probe run by hand (the tests' way) still closes it


def test_closing_an_app_tries_its_waiting_audit_entries_once_more(settings, db, monkeypatch, closed_port):
    """A gunicorn worker recycled after its store came back: the audit entries its store refused a moment ago are
    written as its app closes, not dropped (the backlog's writer, which would have written them on its next round,
    is held off here: its retry interval an hour)."""
    if settings.redis_cluster:
        pytest.skip("moves a single node's connection pool")
    monkeypatch.setattr(type(_backlog), "RETRY_S", 3600.0)
    svc = create_app(settings).extensions["mallportal"]
    pool = svc.db.connection_pool
    real = pool.connection_kwargs["port"]
    pool.connection_kwargs.update(port=closed_port)  # a closed port: the store is gone
    AuditLog(svc.db).record("demo", "ops", "insights.retention", events_delete=30)  # kept
    assert [item for item in _backlog._entries if item[0] is svc.db]
    pool.reset()
    pool.connection_kwargs.update(port=real)  # and back
    svc.close(timeout_s=BOUND_S)
    assert not [item for item in _backlog._entries if item[0] is svc.db]
    [entry] = AuditLog(db).recent("demo", 1)
    assert (entry["user"], entry["action"], entry["detail"]) == ("ops", "insights.retention", {"events_delete": 30})


def test_close_tells_every_worker_to_stop_before_waiting_for_any(settings, db):
    """A thread held in a call to a stalled store uses up the wait: the others must have been told to stop
    before it (each stop is called first with no time to wait, then with what is left), and a second close
    returns at once (the suite's `app` fixture and its hook both close)."""
    svc = create_app(settings).extensions["mallportal"]
    calls: list[tuple[str, float]] = []
    svc.on_close(lambda timeout_s: calls.append(("first", timeout_s)))
    svc.on_close(lambda timeout_s: calls.append(("second", timeout_s)))
    svc.close(timeout_s=BOUND_S)
    assert [name for name, _ in calls] == ["first", "second", "first", "second"]
    assert [t for _, t in calls[:2]] == [0.0, 0.0] and all(t > 0 for _, t in calls[2:])
    svc.close(timeout_s=BOUND_S)
    assert len(calls) == 4
