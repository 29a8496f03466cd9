"""Map versions: list them, roll back, and the positioning model's background rebuild.

Every change of the map is a new version. After one (and after a roll back), a thread builds the
positioning model of that version (portal.locate.build_venue_model) and records its state in Redis
(`mp:{venue}:ops:model`, a hash: version, state building|ready|failed, step, fit_s, error), so every
console process shows the same status. The portal itself swaps models whole (ModelCache picks up the
new current version on its next lookup); the finished model is handed to this process's cache so the
first shopper after a change does not pay for the fit."""

from __future__ import annotations

import json
import threading
import time

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from fingerprints.store import VenueKeysMap
from portal.auth import audit
from portal.locate import build_venue_model
from portal.operator.blueprint import bp
from portal.operator.keys import OpsKeys
from portal.services import services

_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


def model_state(venue: str, db=None) -> dict:
    raw = (db or services().db).hgetall(OpsKeys(venue).model_state())
    state = {k.decode(): v.decode() for k, v in raw.items()}
    for name in ("version",):
        if name in state:
            state[name] = int(state[name])
    for name in ("fit_s", "started", "finished", "progress"):
        if name in state:
            state[name] = float(state[name])
    return state


def start_rebuild(venue: str, version: int | None = None) -> bool:
    """Build the model of `version` (default: current) in a background thread of this process.
    Returns False if a build of this venue is already running here (it re-checks the version when done)."""
    app = current_app._get_current_object()
    svc = services()
    version = version or svc.venues.current_version(venue)
    if not version:
        return False
    key = OpsKeys(venue).model_state()
    svc.db.hset(key, mapping={"version": version, "state": "building", "step": "queued", "progress": 0,
                              "started": time.time(), "error": ""})
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


def _rebuild_thread(app, venue: str) -> None:
    try:
        _rebuild_loop(app, venue)
    finally:
        _forget_thread(venue)


def _rebuild_loop(app, venue: str) -> None:
    """Build until the built version is the current one (changes may land while fitting)."""
    with app.app_context():
        svc = services()
        key = OpsKeys(venue).model_state()
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
                # hand it to this process's cache: swapped whole, as ModelCache does itself
                svc.models.install(venue, model)
            svc.db.hset(key, mapping={"version": version, "state": "ready", "step": "", "progress": 1,
                                      "fit_s": round(fit_s, 3), "samples": len(venue_map.samples),
                                      "aps": len(model.ap_ids), "finished": time.time(), "error": ""})
            built = version


def wait_for_model(venue: str, version: int, timeout_s: float = 30.0, db=None) -> dict:
    """For tests and the CLI: poll until the model of `version` is ready or failed."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = model_state(venue, db)
        if state.get("version") == version and state.get("state") in ("ready", "failed"):
            return state
        time.sleep(0.05)
    return model_state(venue, db)


_summaries: dict[tuple[str, int], dict] = {}


def _summary(venue: str, version: int) -> dict | None:
    """Counts of one stored version (immutable, so cached here; read raw so that the VenueStore's
    small cache of parsed maps keeps the current one)."""
    raw = services().db.get(VenueKeysMap(venue).map_version(version))
    if raw is None:
        return None
    data = json.loads(raw)
    summary = {name: len(data.get(name, [])) for name in ("floors", "aps", "zones", "samples")}
    if len(_summaries) > 5000:
        _summaries.clear()
    _summaries[(venue, version)] = summary
    return summary


@bp.get("/<venue>/versions")
def versions(venue: str):
    svc = services()
    current = svc.venues.current_version(venue)
    state = model_state(venue)
    if current and state.get("version") != current and state.get("state") != "building":
        start_rebuild(venue, current)  # e.g. changed by the CLI: bring the model status up to date
        state = model_state(venue)
    rows, parsed = [], 0
    for v in sorted(set(svc.venues.versions(venue)), reverse=True)[:200]:
        summary = _summaries.get((venue, v))
        if summary is None and parsed < 12:  # a few new ones per view: each is a whole map to parse
            summary = _summary(venue, v)
            parsed += 1
        rows.append({"version": v, "map": summary})
    return render_template("operator/versions.html", venue=venue, current=current, rows=rows, state=state)


@bp.post("/<venue>/versions/rollback")
def rollback(venue: str):
    svc = services()
    raw = request.form.get("version", "")
    try:
        version = int(raw)
        svc.venues.set_current(venue, version)
    except (ValueError, KeyError):
        flash(_("There is no map version %(v)s.", v=raw[:12]), "error")
        return versions(venue), 400
    audit("map.rollback", venue, version=version)
    start_rebuild(venue, version)
    flash(_("Map version %(v)s is current again; the model is being rebuilt.", v=version))
    return redirect(url_for("operator.versions", venue=venue), code=303)


@bp.post("/<venue>/versions/rebuild")
def rebuild(venue: str):
    start_rebuild(venue)
    audit("model.rebuild", venue, version=services().venues.current_version(venue))
    return redirect(url_for("operator.versions", venue=venue), code=303)
