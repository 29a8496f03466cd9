"""Fingerprint survey pages: register survey devices (their MAC kept only as the keyed hash), then on
the survey page tap a reference point on the plan: the server collects that device's RSSI readings for
the set time (15 s by default) and stores the averaged sample as a new map version
(fingerprints.survey.SurveyStore does the collecting and averaging).

After each point the page says how this phone's readings compare with the map's reference points near
the points it marked (fingerprints.survey.phone_offset: the median dB difference over the walk) and warns
when the phone is off by a constant offset of OFFSET_WARN_DB or more: its fingerprints would be shifted
against the rest of the map.

The page polls with a meta refresh (no JavaScript needed). When the time is up the point is finished by
a timer thread in the process that started it, or, if that process is gone, by the next poll of the
page; both go through SurveyStore.finish, which finishes a point once (under the map lock). The outcome
per device is kept in `mp:{venue}:ops:survey:result:<client>` for the page."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time

import redis
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import N_, CatalogInputError
from fingerprints.model import VenueMap
from fingerprints.survey import (
    DEFAULT_DURATION_S,
    MAX_DURATION_S,
    MIN_DURATION_S,
    OFFSET_WARN_DB,
    SurveyStore,
    phone_offset,
)
from portal.auth import audit, current_account
from portal.errors import input_error_text
from portal.operator.blueprint import bp
from portal.operator.mapedit import OpsKeys, form_float, form_level, form_point, load_map, plan_size, px_per_m
from portal.services import services

log = logging.getLogger(__name__)
RESULT_TTL_S = 86400
CLIENT_RE = re.compile(r"^[0-9a-f]{24}$")


def imported_offset_warning(venue_map: VenueMap, samples) -> str | None:
    """For a survey CSV (a phone-side survey): the warning when its readings are off the map's by a
    constant offset at the points it shares with it (nothing to say when they agree or nothing is near)."""
    offset = phone_offset(venue_map, [(s.floor, s.x, s.y, s.rssi) for s in samples])
    if offset is None or not offset.warn:
        return None
    return _("These samples read %(db)s dB %(way)s than the map's reference points near them (median over "
             "%(p)s readings at %(n)s points; warning from %(t)s dB): the phone that surveyed them differs from "
             "the map's. Check before applying.", db=f"{abs(offset.median_db):.1f}",
             way=_("weaker") if offset.median_db < 0 else _("stronger"), p=offset.pairs, n=offset.points,
             t=f"{OFFSET_WARN_DB:g}")


def survey_store() -> SurveyStore:
    svc = services()
    return SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher)


def _device(venue: str, raw: str | None) -> str:
    client = (raw or "").strip()
    if not CLIENT_RE.match(client) or client not in survey_store().devices(venue):
        raise ValueError(_("Choose a registered survey device."))
    return client


def last_result(venue: str, client: str) -> dict | None:
    raw = services().db.get(OpsKeys(venue).survey_result(client))
    return json.loads(raw) if raw else None


def result_message(result: dict) -> str:
    """Why a point was not stored, in the page's language where the outcome kept its catalog message."""
    msgid = result.get("template")
    return _(msgid, **result.get("params", {})) if isinstance(msgid, str) else result["message"]


def finish_point(venue: str, client: str, username: str, *, force: bool = False) -> dict:
    """Finish the device's pending point now (or raise ValueError while still collecting). Records and
    returns the outcome; a point heard too little stays pending and the outcome says why."""
    svc = services()
    store = survey_store()
    point = store.pending(venue, client)
    # Catalog messages, not _(): the timer calls this outside any request (a point gone meanwhile raised
    # RuntimeError in its thread); the views say them with input_error_text.
    if point is None:
        raise CatalogInputError("", N_("No survey point in progress for this device."))
    if not force and time.time() < point.ends:
        raise CatalogInputError("", N_("Still collecting: %(s)s s left."), s=f"{point.ends - time.time():.0f}")
    base = {"floor": point.floor, "x": point.x, "y": point.y, "started": point.started, "at": time.time()}
    try:
        sample, version = store.finish(venue, client, force=force, by=username)
    except ValueError as exc:
        # Another finisher (a second tab, the timer, a poll) took the point between the check above and the
        # store's: no outcome of ours to record. A catalog message, which the view says in the page's language
        # (not _() here: the timer finishes points outside any request); the store's words are the CLI's.
        if "finished elsewhere" in str(exc):
            raise CatalogInputError("", N_("This survey point was just finished elsewhere (another tab, or its "
                                           "timer); its outcome is the one shown.")) from None
        if "no survey point" in str(exc):
            raise CatalogInputError("", N_("No survey point in progress for this device.")) from None
        # kept as the English text and, where it has one, its catalog message: the page says it in the
        # language of whoever looks (the point may be finished by a timer, outside any request)
        result = {**base, "ok": False, "message": str(exc), "template": getattr(exc, "template", None),
                  "params": getattr(exc, "params", {})}
    else:
        offset = store.walk_offset(venue, client)
        result = {**base, "ok": True, "version": version, "n": sample.n, "aps": len(sample.rssi),
                  "zone": sample.zone, "offset": offset.to_dict() if offset else None}
    svc.db.set(OpsKeys(venue).survey_result(client), json.dumps(result), ex=RESULT_TTL_S)
    return result


def _finish_later(app, venue: str, client: str, started: float, delay: float, username: str) -> threading.Timer:
    def run():
        with app.app_context():
            try:
                point = survey_store().pending(venue, client)
                if point is None or point.started != started:
                    return  # finished by a poll, cancelled, or replaced by a new point
                with contextlib.suppress(ValueError):  # finished elsewhere meanwhile
                    finish_point(venue, client, username)
            except redis.RedisError as exc:  # the store away: the page's next poll finishes it (`_maybe_finish`)
                log.warning("survey point timer for venue %s: store unavailable (%s); left to the next poll",
                            venue, type(exc).__name__)

    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()
    return timer


def _maybe_finish(venue: str, client: str) -> None:
    """The poll's fallback: a point whose time is up and has no outcome yet is finished now."""
    store = survey_store()
    point = store.pending(venue, client)
    if point is None or time.time() < point.ends + 1.0:
        return
    result = last_result(venue, client)
    if result and result.get("started") == point.started:
        return  # already tried: it failed, the page says why
    with contextlib.suppress(ValueError):
        finish_point(venue, client, current_account().username)


@bp.get("/<venue>/survey")
def survey(venue: str):
    load_map(venue)  # 404 before anything else when there is no map
    store = survey_store()
    devices = store.devices(venue)
    client = request.args.get("device") or (next(iter(devices)) if len(devices) == 1 else "")
    if client not in devices:
        client = ""
    status, result, collecting = {"pending": None}, None, False
    if client:
        _maybe_finish(venue, client)
        status = store.status(venue, client)
        result = last_result(venue, client)
        if result and not result.get("ok"):
            result = {**result, "message": result_message(result)}
        pending = status["pending"]
        collecting = bool(pending) and status["seconds_left"] > 0
        waiting = bool(pending) and not collecting and not (result and result.get("started") == pending["started"])
        collecting = collecting or waiting
    venue_map = load_map(venue)  # after finishing: the plan shows the point just stored
    raw_floor = request.args.get("floor", "")
    levels = [f.level for f in venue_map.floors]
    level = int(raw_floor) if re.fullmatch(r"-?\d{1,3}", raw_floor) and int(raw_floor) in levels else levels[0]
    if status.get("pending") and "floor" not in request.args:
        level = status["pending"]["floor"]
    fl = venue_map.floor(level)
    w, h = plan_size(fl)
    marker = status["pending"] if status.get("pending") and status["pending"]["floor"] == level else None
    return render_template(
        "operator/survey.html", venue=venue, map=venue_map, devices=devices, client=client, status=status,
        result=result, collecting=collecting, floor=fl, width=w, height=h, px_per_m=px_per_m(fl), marker=marker,
        progress=store.progress(venue), recent=store.recent(venue, 10), default_duration=DEFAULT_DURATION_S,
        min_duration=MIN_DURATION_S, max_duration=min(MAX_DURATION_S, services().rssi.window_s),
        image=fl.plan_image,
    )


def _survey_failed(venue: str, message: str):
    flash(message, "error")
    return survey(venue), 400


def _back(venue: str, client: str = "", level: int | None = None):
    return redirect(url_for("operator.survey", venue=venue, device=client or None, floor=level), code=303)


@bp.get("/<venue>/survey/status.json")
def survey_status(venue: str):
    try:
        client = _device(venue, request.args.get("device"))
    except ValueError as exc:
        abort(400, str(exc))
    _maybe_finish(venue, client)
    return jsonify({**survey_store().status(venue, client), "result": last_result(venue, client)})


@bp.post("/<venue>/survey/devices")
def add_device(venue: str):
    try:
        label = (request.form.get("label") or "").strip()
        if len(label) > 60:
            raise ValueError(_("The label is too long (at most 60 characters)."))
        try:
            client = survey_store().register_device(venue, (request.form.get("mac") or "").strip(), label)
        except ValueError:
            raise ValueError(_("%(m)s is not a MAC address (six hex pairs, e.g. 02:00:5e:00:53:01).",
                               m=repr((request.form.get("mac") or "")[:40]))) from None
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    audit("survey.device_add", venue, device=client, label=label)
    flash(_("Survey device registered (only a keyed hash of its MAC is stored)."))
    return _back(venue, client)


@bp.post("/<venue>/survey/devices/delete")
def delete_device(venue: str):
    try:
        client = _device(venue, request.form.get("device"))
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    survey_store().remove_device(venue, client)
    audit("survey.device_remove", venue, device=client)
    return _back(venue)


@bp.post("/<venue>/survey/new-walk")
def new_walk(venue: str):
    """Forget the device's earlier points for the offset check (another phone behind the same MAC, or a
    new walk after the offset was dealt with)."""
    try:
        client = _device(venue, request.form.get("device"))
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    survey_store().new_walk(venue, client)
    services().db.delete(OpsKeys(venue).survey_result(client))
    audit("survey.new_walk", venue, device=client)
    return _back(venue, client)


@bp.post("/<venue>/survey/start")
def start_point(venue: str):
    venue_map = load_map(venue)
    try:
        client = _device(venue, request.form.get("device"))
        fl = form_level(venue_map)
        x, y = form_point(fl)
        max_duration = min(MAX_DURATION_S, services().rssi.window_s)
        duration = (form_float("duration", _("Duration (s)"), MIN_DURATION_S, max_duration)
                    if request.form.get("duration") else DEFAULT_DURATION_S)
        point = survey_store().start(venue, client, fl.level, x, y, duration)
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    services().db.delete(OpsKeys(venue).survey_result(client))
    audit("survey.start", venue, device=client, floor=fl.level, x=x, y=y, duration_s=duration)
    _finish_later(current_app._get_current_object(), venue, client, point.started, duration + 0.5,
                  current_account().username)
    return _back(venue, client, fl.level)


@bp.post("/<venue>/survey/finish")
def finish_now(venue: str):
    """Finish the pending point now with what was heard so far."""
    try:
        client = _device(venue, request.form.get("device"))
        result = finish_point(venue, client, current_account().username, force=True)
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    if not result["ok"]:
        flash(result_message(result), "error")
    return _back(venue, client, result["floor"])


@bp.post("/<venue>/survey/cancel")
def cancel_point(venue: str):
    try:
        client = _device(venue, request.form.get("device"))
    except ValueError as exc:
        return _survey_failed(venue, input_error_text(exc))
    survey_store().cancel(venue, client)
    services().db.delete(OpsKeys(venue).survey_result(client))
    audit("survey.cancel", venue, device=client)
    return _back(venue, client)
