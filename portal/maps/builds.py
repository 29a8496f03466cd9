"""The positioning model's background rebuild: the one place that reacts to a new map version.

`portal.maps.init_app` makes `start_rebuild` a listener of the VenueStore, so every change made through
`VenueStore.edit` (console, CLI, imports, surveys, drafts, the demo seed) and every roll back starts one.
A thread builds the model of the current version (portal.tracking.models.build_venue_model) and records its
state in Redis (`mp:{venue}:ops:model`, a hash: version, state building|ready|failed, step, fit_s,
error), so every console process shows the same status. The portal itself swaps models whole
(ModelCache picks up the new current version on its next lookup); the finished model is handed to this
process's cache so the first shopper after a change does not pay for the fit."""

from __future__ import annotations

import threading
import time

import redis
from flask import Flask

from core.storage import VenueKeys
from fingerprints.store import MapChanged
from portal.tracking.models import build_venue_model

# A build recorded as running for longer than this was lost with its process (e.g. a CLI command that
# exited while fitting): the versions page starts another.
STALE_BUILD_S = 600.0

SEED_ACTION = "demo.load"

_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


class BuildKeys(VenueKeys):
    def model_state(self) -> str:
        return self.key("ops", "model")


def model_state(venue: str, db: redis.Redis) -> dict:
    raw = db.hgetall(BuildKeys(venue).model_state())
    state = {k.decode(): v.decode() for k, v in raw.items()}
    if "version" in state:
        state["version"] = int(state["version"])
    for name in ("fit_s", "started", "finished", "progress"):
        if name in state:
            state[name] = float(state[name])
    return state


def needs_rebuild(state: dict, current: int, now: float | None = None) -> bool:
    """The recorded state is not about the current version, or a build of it was lost."""
    now = time.time() if now is None else now
    if not current:
        return False
    if state.get("version") != current:
        return state.get("state") != "building" or now - state.get("started", 0.0) > STALE_BUILD_S
    return state.get("state") == "building" and now - state.get("started", 0.0) > STALE_BUILD_S


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
    svc.db.hset(BuildKeys(venue).model_state(), mapping={
        "version": version, "state": "building", "step": "queued", "progress": 0, "started": time.time(),
        "error": ""})
    with _threads_lock:
        if venue in _threads:  # the running thread re-reads the current version before it ends
            return False
        thread = threading.Thread(target=_rebuild_thread, args=(app, venue), name=f"model-rebuild-{venue}",
                                  daemon=True)
        _threads[venue] = thread
        thread.start()
    return True


def _forget_thread(venue: str, locked: bool = False) -> None:
    if not locked:
        with _threads_lock:
            return _forget_thread(venue, locked=True)
    if _threads.get(venue) is threading.current_thread():
        del _threads[venue]


def _rebuild_thread(app: Flask, venue: str) -> None:
    try:
        _rebuild_loop(app, venue)
    finally:
        _forget_thread(venue)


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
        svc.db.hset(key, mapping={"version": version, "state": "building", "step": "loading map",
                                  "progress": 0.1})
        try:
            venue_map = svc.venues.get_map(venue, version)
            svc.db.hset(key, mapping={"step": "fitting", "progress": 0.4})
            started = time.perf_counter()
            model = build_venue_model(venue_map)
            fit_s = time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - recorded for the page, never raised in a thread
            svc.db.hset(key, mapping={"version": version, "state": "failed", "step": "", "progress": 1,
                                      "error": str(exc)[:300], "finished": time.time()})
            built = version
            continue
        if svc.venues.current_version(venue) == version:
            svc.models.install(venue, model)  # swapped whole, as ModelCache does itself
        svc.db.hset(key, mapping={"version": version, "state": "ready", "step": "", "progress": 1,
                                  "fit_s": round(fit_s, 3), "samples": len(venue_map.samples),
                                  "aps": len(model.ap_ids), "finished": time.time(), "error": ""})
        built = version


def wait_for_model(venue: str, version: int, db: redis.Redis, timeout_s: float = 30.0) -> dict:
    """For tests and the CLI: poll until the model of `version` is ready or failed."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = model_state(venue, db)
        if state.get("version") == version and state.get("state") in ("ready", "failed"):
            return state
        time.sleep(0.05)
    return model_state(venue, db)
