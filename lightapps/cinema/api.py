"""The cinema system's API: push showtimes (upserts by its own ids), read them back with occupancy.

    POST /api/v1/venues/<venue>/cinema/showtimes      Authorization: Bearer <venue API token, scope cinema>
    {"zone": "cinema",                                # optional when one zone runs the cinema app
     "showtimes": [{"id": "pos-1234",                 # the cinema system's id (optional; repeat = update)
                    "film_en": "Orbit Nine", "film_zh": "九号轨道",
                    "auditorium": "1", "starts_at": "2025-05-01T19:30",   # ISO 8601; no offset = local
                    "price": 45.5,
                    "status": "scheduled",            # optional; "cancelled" cancels the show (needs "id")
                    "confirm_time_change": false}]}   # optional; see below
    -> 201 {"created": n, "updated": n, "tickets_cancelled": n, "holders_told_of_new_times": n,
            "showtimes": [{"id": ..., "external_id": ...}]}
    -> 4xx {"error": "...", "field": "showtimes[0].starts_at"}; nothing is stored unless all items are valid
       and none is refused (409: a new auditorium, or an unconfirmed new start, for a show with tickets; a
       cancelled show pushed as "scheduled"; a show new or moved that starts less than MIN_SHOW_GAP_S, an hour,
       from another live show in its hall, stored or in the same push, field `starts_at`, the message naming that
       show. 422, field `id`: "cancelled" for an id never pushed).

A cancelled show stays cancelled: no new holds; its holds and bookings are cancelled, paid tickets refunded in
full (or, where the payment provider cannot refund, the holder told that the cinema arranges it) and their holders
told (lightapps/cinema/cancellation.py). Its other fields stay as sold: a later item for it ("status" left out,
or "cancelled" again) is accepted and ignored (counted in "updated", nothing changed, nothing refunded or told
again). It cannot be scheduled again (409): the cinema system pushes a new showtime, under a new id. A new start
time for a show that has a booking or a live hold is refused (409, field `starts_at`) unless the item says
"confirm_time_change": true: then the ticket holders are told the new time (also those paying for a hold at that
moment, once it is paid), and may cancel until the show starts, refunded in full if paid. (A show's time is what
its tickets were sold for: the cinema system, not the portal, decides to move it, and says so.)

The cancellation or move is stored with the push; its tickets, refunds and notices follow at once, and whatever
a failure cuts short is finished by the next push of the show or by the payments sweep within a minute or so
("tickets_cancelled" and "holders_told_of_new_times" count what this push did).

    GET /api/v1/venues/<venue>/cinema/showtimes?zone=cinema   (same token)"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from lightapps.cinema.cancellation import finish_pending
from lightapps.cinema.common import APP_NAME, cinema_store
from lightapps.cinema.layouts import AUDITORIUMS
from lightapps.cinema.store import (
    ShowtimeClash,
    ShowtimeConflict,
    ShowtimeInput,
    ShowtimeMoved,
    ShowtimeReopened,
    ShowtimeUnknown,
)
from lightapps.cinema.validation import MIN_SHOW_GAP_S, FieldError, clash_error, parse_showtime_batch
from portal.api import api_scope, json_body, require_venue_source
from portal.errors import ApiError
from portal.services import services

api_bp = Blueprint("cinema_api", __name__, url_prefix="/api/v1/venues/<venue>/cinema")
SCOPE = api_scope("cinema")  # tokens for this API: issue-token ... --scope cinema


def _cinema_zone(venue: str, raw) -> str:
    """The zone named (it must run the cinema app), or the venue's only cinema zone."""
    zones = sorted(z for z, (app, _config) in services().zone_apps.all(venue).items() if app == APP_NAME)
    if raw is None or raw == "":
        if len(zones) == 1:
            return zones[0]
        raise ApiError(422, f"zone is required: the venue has {len(zones)} zones running the cinema app"
                            + ("" if zones else " (a zone owner picks it in the owner console)"), "zone")
    if not isinstance(raw, str) or raw not in zones:
        raise ApiError(422, f"zone must be a zone running the cinema app: {', '.join(zones) or 'none'}", "zone")
    return raw


@api_bp.post("/showtimes")
def push_showtimes(venue: str):
    source = require_venue_source(venue, SCOPE)
    payload = json_body()
    if not isinstance(payload, dict):
        raise ApiError(422, "body must be an object with a showtimes list", "$")
    zone = _cinema_zone(venue, payload.get("zone"))
    try:
        items = parse_showtime_batch(payload.get("showtimes"))
    except FieldError as exc:
        raise ApiError(422, exc.message if exc.names_field else f"{exc.field} {exc.message}", exc.field) from None
    try:
        result = cinema_store().upsert_showtimes(venue, zone, items, source=f"api:{source}", min_gap_s=MIN_SHOW_GAP_S)
    except ShowtimeMoved as exc:
        raise ApiError(409, "this showtime has tickets sold or being paid for; to change its start time, send it "
                            "again with \"confirm_time_change\": true (its ticket holders are told the new time and "
                            "may cancel for a full refund until it starts)",
                       f"showtimes[{exc.index}].starts_at") from None
    except ShowtimeReopened as exc:
        raise ApiError(409, "this showtime was cancelled and its tickets cancelled and refunded; it cannot be "
                            "scheduled again: push a new showtime under a new id",
                       f"showtimes[{exc.index}].status") from None
    except ShowtimeUnknown as exc:
        raise ApiError(422, "no showtime with this id to cancel: push it as scheduled first, or leave it out",
                       f"showtimes[{exc.index}].id") from None
    except ShowtimeClash as exc:
        raise _clash(venue, items, exc) from None
    except ShowtimeConflict as exc:
        raise ApiError(409, "this showtime already has holds or bookings; its auditorium cannot change",
                       f"showtimes[{exc.index}].auditorium") from None
    # The pushed shows' cancellations and moves, at once (also what an earlier push of them left unfinished).
    cancelled, told = finish_pending(venue, result["ids"])
    return jsonify({
        "created": result["created"],
        "updated": result["updated"],
        "tickets_cancelled": cancelled,
        "holders_told_of_new_times": told,
        "showtimes": [{"id": show_id, "external_id": item.external_id or None}
                      for show_id, item in zip(result["ids"], items, strict=True)],
    }), 201


def _clash(venue: str, items: list[ShowtimeInput], clash: ShowtimeClash) -> ApiError:
    """409 naming the show the item clashes with: an item of the same push, or a stored show (never deleted)."""
    if clash.other_index is None:
        other, name = cinema_store().showtime(venue, clash.other), f"showtime {clash.other}"
    else:
        other, name = items[clash.other_index], f"showtimes[{clash.other_index}]"
    error = clash_error(f"showtimes[{clash.index}].starts_at", other.film_en or other.film_zh, other.starts_at,
                        AUDITORIUMS[other.auditorium].name_en)
    ext = f", id {other.external_id}" if other.external_id else ""
    return ApiError(409, f"{error.field} {error.message} ({name}{ext})", error.field)


@api_bp.get("/showtimes")
def list_showtimes(venue: str):
    require_venue_source(venue, SCOPE)
    zone = _cinema_zone(venue, request.args.get("zone"))
    store = cinema_store()
    now = time.time()
    out = []
    for show in store.showtimes(venue, zone, now - 24 * 3600):
        out.append({
            "id": show.id, "external_id": show.external_id or None, "film_en": show.film_en,
            "film_zh": show.film_zh, "auditorium": show.auditorium, "starts_at": show.starts_at,
            "price": show.price, "status": show.status, "occupancy": store.occupancy(venue, show, now),
        })
    return jsonify({"zone": zone, "showtimes": out})
