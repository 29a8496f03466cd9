"""The positioning model's background rebuild: the one place that reacts to a new map version.

`portal.maps.init_app` makes `start_rebuild` a listener of the VenueStore, so every change made through
`VenueStore.edit` (console, CLI, imports, surveys, drafts, the demo seed) and every roll back starts one.
A thread builds the model of the current version (portal.tracking.models.build_venue_model) and records its
state in Redis (`mp:{venue}:ops:model`, a hash: version, state building|ready|failed, step, fit_s,
error), so every console process shows the same status. The portal itself swaps models whole
(ModelCache picks up the new current version on its next lookup); the finished model is handed to this
process's cache so the first shopper after a change does not pay for the fit.

A record that says "building" holds a lease (`lease`, a time) that the building process renews every
HEARTBEAT_S: a process that dies mid-build (a CLI command killed while fitting) leaves a record whose lease
runs out within LEASE_S, and the next page that shows the model (`restart_if_lost`: the checklist; the
versions page) restarts the build. A process that exits normally first waits for its builds
(`finish_builds`, at exit, and before the store a command started for itself stops: portal/__main__.py
embedded_store), so a CLI command leaves the model built."""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
import time
from dataclasses import dataclass

import redis
from flask import Flask

from core.storage import VenueKeys
from fingerprints.store import MapChanged
from portal.tracking.models import build_venue_model

# A build's record is kept alive by its process: the lease is renewed every HEARTBEAT_S and lasts LEASE_S, so
# a build lost with its process (killed mid-fit) is restarted within seconds rather than STALE_BUILD_S.
LEASE_S = 15.0
HEARTBEAT_S = 3.0
# A "building" record with no lease (written before leases existed) is judged by its age, as it was then.
STALE_BUILD_S = 600.0
# How long an exiting process waits for its builds (a CLI command that changed a map exits right away).
EXIT_WAIT_S = 120.0

SEED_ACTION = "demo.load"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Build:
    thread: threading.Thread
    db: redis.Redis


_threads: dict[str, _Build] = {}
_threads_lock = threading.Lock()

# KEYS[1] the model state; ARGV: version, now, lease until, STALE_BUILD_S. The rule of `needs_rebuild`, and the
# building record written when it holds (1): the check and the claim in one step, so that of two pages
# opened at once only one restarts a lost build.
_CLAIM = """
local f = redis.call('HMGET', KEYS[1], 'version', 'state', 'started', 'lease')
local now = tonumber(ARGV[2])
if f[2] == 'building' then
  local lease = tonumber(f[4])
  if lease then
    if lease >= now then return 0 end
  elseif now - (tonumber(f[3]) or 0) <= tonumber(ARGV[4]) then
    return 0
  end
elseif f[1] == ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'state', 'building', 'step', 'queued', 'progress', '0',
           'started', ARGV[2], 'lease', ARGV[3], 'error', '')
return 1
"""
# KEYS[1] the model state; ARGV: lease until. Renewed only while the record says "building".
_RENEW = """
if redis.call('HGET', KEYS[1], 'state') == 'building' then
  redis.call('HSET', KEYS[1], 'lease', ARGV[1])
  return 1
end
return 0
"""


class BuildKeys(VenueKeys):
    def model_state(self) -> str:
        return self.key("ops", "model")


class BuildLeases:
    """The lease of a venue's "building" record: claimed when the build was lost, renewed while it runs."""

    def __init__(self, db: redis.Redis) -> None:
        self._claim = db.register_script(_CLAIM)
        self._renew = db.register_script(_RENEW)

    def claim(self, venue: str, version: int, now: float) -> bool:
        """Record a build of `version` as starting now when `needs_rebuild` says so; whether it did."""
        args = [version, repr(now), repr(now + LEASE_S), repr(STALE_BUILD_S)]
        return bool(self._claim(keys=[BuildKeys(venue).model_state()], args=args))

    def renew(self, venue: str, now: float) -> bool:
        return bool(self._renew(keys=[BuildKeys(venue).model_state()], args=[repr(now + LEASE_S)]))


def model_state(venue: str, db: redis.Redis) -> dict:
    raw = db.hgetall(BuildKeys(venue).model_state())
    state = {k.decode(): v.decode() for k, v in raw.items()}
    if "version" in state:
        state["version"] = int(state["version"])
    for name in ("fit_s", "started", "finished", "progress", "lease"):
        if name in state:
            state[name] = float(state[name])
    return state


def build_lost(state: dict, now: float) -> bool:
    """A "building" record whose process is gone: its lease ran out (no lease: older than STALE_BUILD_S)."""
    if "lease" in state:
        return state["lease"] < now
    return now - state.get("started", 0.0) > STALE_BUILD_S


def needs_rebuild(state: dict, current: int, now: float | None = None) -> bool:
    """The recorded state is not about the current version, or a build was lost. A live build of another
    version is left alone: it builds the current version once done (`_rebuild_loop`)."""
    now = time.time() if now is None else now
    if not current:
        return False
    if state.get("state") == "building":
        return build_lost(state, now)
    return state.get("version") != current


def restart_if_lost(app: Flask, venue: str, current: int, state: dict) -> dict:
    """The model state to show for the `current` map version: `state`, or, when `needs_rebuild` says so, that
    of a build claimed (BuildLeases.claim: one process restarts it) and started in this process."""
    if not needs_rebuild(state, current):
        return state
    db = app.extensions["mallportal"].db
    if BuildLeases(db).claim(venue, current, time.time()):
        _start_thread(app, venue)
    return model_state(venue, db)


def on_map_changed(app: Flask, event: MapChanged) -> None:
    """The listener: rebuild after every change, except the demo seed's first load (every serving process
    fits the demo model at start, gunicorn.conf.py's warm_up; the versions page builds it on demand)."""
    if event.action != SEED_ACTION:
        start_rebuild(app, event.venue, event.version)


def start_rebuild(app: Flask, venue: str, version: int | None = None) -> bool:
    """Build the model of `version` (default: current) in a background thread of this process.
    Returns False if a build of this venue is already running here (it re-checks the version when done)."""
    svc = app.extensions["mallportal"]
    version = version or svc.venues.current_version(venue)
    if not version:
        return False
    now = time.time()
    svc.db.hset(BuildKeys(venue).model_state(), mapping={
        **_building(version, "queued", 0, now), "started": now, "error": ""})
    return _start_thread(app, venue)


def _building(version: int, step: str, progress: float, now: float | None = None) -> dict:
    """The fields of a "building" record: every write of one renews its lease."""
    now = time.time() if now is None else now
    return {"version": version, "state": "building", "step": step, "progress": progress, "lease": now + LEASE_S}


def _start_thread(app: Flask, venue: str) -> bool:
    with _threads_lock:
        if venue in _threads:  # the running thread re-reads the current version before it ends
            return False
        thread = threading.Thread(target=_rebuild_thread, args=(app, venue), name=f"model-rebuild-{venue}",
                                  daemon=True)
        _threads[venue] = _Build(thread, app.extensions["mallportal"].db)
        thread.start()
    return True


def _forget_thread(venue: str, locked: bool = False) -> None:
    if not locked:
        with _threads_lock:
            return _forget_thread(venue, locked=True)
    build = _threads.get(venue)
    if build is not None and build.thread is threading.current_thread():
        del _threads[venue]


def _rebuild_thread(app: Flask, venue: str) -> None:
    stop = threading.Event()
    beat = threading.Thread(target=_keep_alive, args=(app.extensions["mallportal"].db, venue, stop),
                            name=f"model-lease-{venue}", daemon=True)
    beat.start()
    try:
        _rebuild_loop(app, venue)
    except redis.RedisError as exc:  # the store went away: the record's lease runs out, a page restarts it
        log.warning("model rebuild of %s stopped: %s", venue, exc)
    finally:
        stop.set()
        _forget_thread(venue)


def _keep_alive(db: redis.Redis, venue: str, stop: threading.Event) -> None:
    """Renew the building record's lease while this process builds (the fit itself is one long call)."""
    leases = BuildLeases(db)
    while not stop.wait(HEARTBEAT_S):
        # A store error: the next beat tries again; a lease that runs out meanwhile costs one more build.
        with contextlib.suppress(redis.RedisError):
            leases.renew(venue, time.time())


def _rebuild_loop(app: Flask, venue: str) -> None:
    """Build until the built version is the current one (changes may land while fitting)."""
    svc = app.extensions["mallportal"]
    key = BuildKeys(venue).model_state()
    built = None
    while True:
        version = svc.venues.current_version(venue)
        if not version or version == built:
            with _threads_lock:
                version = svc.venues.current_version(venue)
                if not version or version == built:
                    _forget_thread(venue, locked=True)
                    return
        svc.db.hset(key, mapping=_building(version, "loading map", 0.1))
        try:
            venue_map = svc.venues.get_map(venue, version)
            svc.db.hset(key, mapping=_building(version, "fitting", 0.4))
            started = time.perf_counter()
            model = build_venue_model(venue_map)
            fit_s = time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - recorded for the page, never raised in a thread
            _finish(svc.db, key, {"version": version, "state": "failed", "step": "", "progress": 1,
                                  "error": str(exc)[:300], "finished": time.time()})
            built = version
            continue
        if svc.venues.current_version(venue) == version:
            svc.models.install(venue, model)  # swapped whole, as ModelCache does itself
        _finish(svc.db, key, {"version": version, "state": "ready", "step": "", "progress": 1,
                              "fit_s": round(fit_s, 3), "samples": len(venue_map.samples),
                              "aps": len(model.ap_ids), "finished": time.time(), "error": ""})
        built = version


def _finish(db: redis.Redis, key: str, fields: dict) -> None:
    """A finished record holds no lease (one key: the pipeline is one atomic step)."""
    pipe = db.pipeline(transaction=True)
    pipe.hset(key, mapping=fields)
    pipe.hdel(key, "lease")
    pipe.execute()


def wait_for_model(venue: str, version: int, db: redis.Redis, timeout_s: float = 30.0) -> dict:
    """For tests and the CLI: poll until the model of `version` is ready or failed."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = model_state(venue, db)
        if state.get("version") == version and state.get("state") in ("ready", "failed"):
            return state
        time.sleep(0.05)
    return model_state(venue, db)


def join_builds(timeout_s: float) -> None:
    """Wait, up to `timeout_s` in all, for this process's build threads to end (the suite, after each test: a
    build one test started must not still hold its venue's thread when the next test starts one, which
    `start_rebuild` then refuses)."""
    with _threads_lock:
        running = [build.thread for build in _threads.values()]
    deadline = time.monotonic() + timeout_s
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))


def finish_builds(timeout_s: float = EXIT_WAIT_S) -> None:
    """At exit, wait for this process's builds (its threads are daemons: they would die mid-fit), saying so on
    stderr: a CLI command that changed a map exits right after the change, and its build is the only one."""
    with _threads_lock:
        running = dict(_threads)
    deadline = time.monotonic() + timeout_s
    for venue, build in running.items():
        if not build.thread.is_alive():
            continue
        print(f"{venue}: building the positioning model...", file=sys.stderr, flush=True)
        build.thread.join(max(0.0, deadline - time.monotonic()))
        try:
            state = model_state(venue, build.db)
        except redis.RedisError:
            continue
        print(f"{venue}: positioning model of map v{state.get('version', '-')} {_outcome(state)}", file=sys.stderr,
              flush=True)


def _outcome(state: dict) -> str:
    if state.get("state") == "ready":
        return f"ready (fit {state.get('fit_s', 0.0):.1f} s)"
    if state.get("state") == "failed":
        return f"failed: {state.get('error', '')}"
    return "still building: the checklist or the versions page restarts it once its lease runs out"


atexit.register(finish_builds)
