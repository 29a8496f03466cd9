"""The cinema system's API: push showtimes (upserts by its own ids), read them back with occupancy.

    POST /api/v1/venues/<venue>/cinema/showtimes      Authorization: Bearer <venue API token, scope cinema>

    SHOW="$(date -d '+3 days' +%F)T19:30"   # the mall's time; GNU date (macOS: date -v+3d +%F)
    curl -s -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \\
      http://127.0.0.1:8000/api/v1/venues/demo/cinema/showtimes -d '{"zone": "cinema", "showtimes": [
      {"id": "pos-1234", "film_en": "Orbit Nine", "film_zh": "九号轨道", "auditorium": "1",
       "starts_at": "'$SHOW'", "price": 45.5}]}'

    {"zone": "cinema",                                # optional when one zone runs the cinema app
     "showtimes": [{"id": "pos-1234",                 # the cinema system's id (optional, recommended; repeat =
                                                      # update)
                    "film_en": "Orbit Nine", "film_zh": "九号轨道",  # one of the two at least
                    "auditorium": "1",
                    "starts_at": "YYYY-MM-DDT19:30",  # ISO 8601 date and time, from a day ago to 120 days ahead:
                                                      # with an offset ("+08:00", "Z") as written, without one the
                                                      # mall's local time (the venue's time zone); a date alone 422
                    "price": 45.5,                    # yuan: 45.5, "45.50", "¥45.50" (the platform's amount rule)
                    "status": "scheduled",            # optional; "cancelled" cancels the show (needs "id" only)
                    "confirm_time_change": false}]}   # optional; see below
    -> 201 {"created": n, "updated": n, "duplicates": n, "tickets_cancelled": n, "holders_told_of_new_times": n,
            "showtimes": [{"id": ..., "external_id": ...}]}   (one per item, in order; "duplicate": true on an
            item that was a stored show again, below)
    -> 4xx {"error": "...", "field": "showtimes[0].starts_at"}; nothing is stored unless all items are valid
       and none is refused (409: a new auditorium, or an unconfirmed new start, for a show with tickets; a
       cancelled show pushed as "scheduled"; a show new or moved that starts less than MIN_SHOW_GAP_S, an hour,
       from another live show in its hall, stored or in the same push, field `starts_at`, the message naming that
       show. 422, field `id`: "cancelled" for an id never pushed).

An item with an id updates the show first pushed under it (pushing it again unchanged is fine: "updated"). An item
without one is a new show, unless it is a live show stored before again, the same film names, auditorium,
starts_at and price (the same push retried after its answer was lost): that show, 201 as any push, counted in
"duplicates" and marked "duplicate": true, nothing stored. Send the id: without it a show cannot be updated,
moved or cancelled through this API, and a show pushed again with any change (another price) is a second show,
refused as a clash in its hall.

A cancellation is {"id": "pos-1234", "status": "cancelled"}: the show is named by its id alone; other fields, if
sent, are ignored. A cancelled show stays cancelled: no new holds; its holds and bookings are cancelled, paid
tickets refunded in full (or, where the payment provider cannot refund, the holder told that the cinema arranges
it) and their holders told (lightapps/cinema/cancellation.py). Its other fields stay as sold: a later item for it
("status" left out, or "cancelled" again) is accepted and ignored (counted in "updated", nothing changed, nothing
refunded or told again). It cannot be scheduled again (409): the cinema system pushes a new showtime, under a new
id. A new start time for a show that has a booking or a live hold is refused (409, field `starts_at`) unless the
item says "confirm_time_change": true: then the ticket holders are told the new time (also those paying for a hold
at that moment, once it is paid), and may cancel until the show starts, refunded in full if paid. (A show's time
is what its tickets were sold for: the cinema system, not the portal, decides to move it, and says so.)

The cancellation or move is stored with the push; its tickets, refunds and notices follow at once, and whatever
a failure cuts short is finished by the next push of the show or by the payments sweep within a minute or so
("tickets_cancelled" and "holders_told_of_new_times" count what this push did).

    GET /api/v1/venues/<venue>/cinema/showtimes?zone=cinema&from=2026-12-24&to=2026-12-25&limit=100   (same token)
    -> 200 {"zone": "cinema",
            "showtimes": [{"id": "s0a1b2c3d4",                    # the portal's show id
                           "external_id": "pos-1234",             # the cinema system's id (null: none)
                           "film_en": "Orbit Nine", "film_zh": "九号轨道", "auditorium": "1",
                           "starts_at": 1798111800,               # Unix seconds
                           "starts_at_iso": "2026-12-24T19:30:00+08:00",   # the same, the mall's time and offset
                           "price": "45.50",                      # yuan, as text
                           "price_fen": 4550,                     # the same, in fen
                           "status": "scheduled",                 # or "cancelled"
                           "occupancy": {"booked": 3, "held": 2, "free": 95, "capacity": 100}}],
            "next": "/api/v1/venues/demo/cinema/showtimes?zone=cinema&to=2026-12-25&limit=100&cursor=..."}
    The shows starting from `from` to `to` (both optional, inclusive: an ISO 8601 date, the mall's whole day, or a
    date and time read as starts_at is), earliest first; `from` left out: from a day ago; `to` left out: no end.
    `limit`: 1 to 500, at most that many shows (default 500). "next": null when this is all; else the path that
    lists the shows after these (its `cursor` continues after the last show listed, `from` no longer counts).
    A client sending no parameter gets what it always got, the shows from a day ago on, while they are 500 at
    most; past that, the first 500 and "next". A bad zone, from, to (also one before from), limit or cursor:
    422 naming it."""

from __future__ import annotations

import re
import time

from flask import Blueprint, jsonify, request, url_for

from lightapps.cinema.cancellation import finish_pending
from lightapps.cinema.common import APP_NAME, cinema_store, day_bounds
from lightapps.cinema.layouts import AUDITORIUMS
from lightapps.cinema.store import (
    Showtime,
    ShowtimeClash,
    ShowtimeConflict,
    ShowtimeInput,
    ShowtimeMoved,
    ShowtimeReopened,
    ShowtimeUnknown,
)
from lightapps.cinema.validation import MIN_SHOW_GAP_S, FieldError, clash_error, local_moment, parse_showtime_batch
from portal.api import api_scope, json_body, require_venue_source
from portal.apps.locale import local_time
from portal.errors import ROOT, ApiError
from portal.services import services

api_bp = Blueprint("cinema_api", __name__, url_prefix="/api/v1/venues/<venue>/cinema")
SCOPE = api_scope("cinema")  # tokens for this API: issue-token ... --scope cinema
LIST_PAST_S = 24 * 3600  # the listing starts a day ago unless `from` says otherwise (what it always did)
MAX_LIST = 500  # shows per answer, at most and by default (3,600 shows were one answer of 782 kB)
_CURSOR = re.compile(r"(\d{1,12})\.([A-Za-z0-9_-]{1,40})")  # "<start>.<show id>": the last show listed


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
        raise ApiError(422, "body must be an object with a showtimes list", ROOT)
    zone = _cinema_zone(venue, payload.get("zone"))
    try:
        items = parse_showtime_batch(payload.get("showtimes"))
    except FieldError as exc:
        raise _refused(exc) from None
    try:
        # an item without id that is a stored show again is that show: a push retried after a lost answer
        result = cinema_store().upsert_showtimes(venue, zone, items, source=f"api:{source}", min_gap_s=MIN_SHOW_GAP_S,
                                                 same_is_duplicate=True)
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
    duplicates = set(result["duplicates"])
    return jsonify({
        "created": result["created"],
        "updated": result["updated"],
        "duplicates": len(duplicates),
        "tickets_cancelled": cancelled,
        "holders_told_of_new_times": told,
        "showtimes": [_pushed(show_id, item, i in duplicates)
                      for i, (show_id, item) in enumerate(zip(result["ids"], items, strict=True))],
    }), 201


def _pushed(show_id: str, item: ShowtimeInput, duplicate: bool) -> dict:
    """An item's show in the push's answer; "duplicate" only on an item that was a stored show again."""
    return {"id": show_id, "external_id": item.external_id or None, **({"duplicate": True} if duplicate else {})}


def _refused(exc: FieldError) -> ApiError:
    """422 naming the field, in the words that follow its name (or the whole sentence, where it names it)."""
    return ApiError(422, exc.message if exc.names_field else f"{exc.field} {exc.message}", exc.field)


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
    now = time.time()
    start, end = _bound("from", first=True), _bound("to", first=False)
    if start is not None and end is not None and end < start:
        raise ApiError(422, "to is before from", "to")
    store = cinema_store()
    shows, after = store.showtimes_page(venue, zone, now - LIST_PAST_S if start is None else start, end,
                                        _limit(), _cursor())
    occupancies = store.occupancies(venue, shows, now)
    return jsonify({"zone": zone, "showtimes": [_listed(venue, show, occupancies[show.id]) for show in shows],
                    "next": _next_page(venue, after)})


def _listed(venue: str, show: Showtime, occupancy: dict[str, int]) -> dict:
    """A show as the listing gives it: the first fields as ever, then the same start and price in the forms
    the push takes (ISO 8601 with the mall's offset; whole fen)."""
    return {
        "id": show.id, "external_id": show.external_id or None, "film_en": show.film_en,
        "film_zh": show.film_zh, "auditorium": show.auditorium, "starts_at": show.starts_at,
        "starts_at_iso": local_time(show.starts_at, venue).isoformat(), "price": show.price,
        "price_fen": show.price_cents, "status": show.status, "occupancy": occupancy,
    }


def _bound(name: str, first: bool) -> int | None:
    """`from` / `to` (None: not given): a date and time as a push's starts_at reads it, or a date alone, the
    mall's day from its first second (`from`) or to its last (`to`)."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        moment = local_moment(raw, name, date_alone=True)
    except FieldError as exc:
        raise _refused(exc) from None
    if isinstance(moment, int):
        return moment
    try:
        low, high = day_bounds(moment)
    except (OverflowError, ValueError):  # the first or last day a date can name: no day after it to end on
        raise ApiError(422, f"{name} is out of range", name) from None
    return int(low if first else high)


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return MAX_LIST
    if len(raw) > 4 or not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise ApiError(422, f"limit must be a whole number from 1 to {MAX_LIST}", "limit")
    return int(raw)


def _cursor() -> tuple[int, str] | None:
    raw = request.args.get("cursor")
    if raw is None or raw == "":
        return None
    found = _CURSOR.fullmatch(raw)  # the whole of it: $ would let a trailing newline through
    if found is None:
        raise ApiError(422, "cursor must be the one a previous answer's next link carries", "cursor")
    return int(found.group(1)), found.group(2)


def _next_page(venue: str, after: tuple[int, str] | None) -> str | None:
    """The path to the shows after `after` (None: there are none): this request's filters and the cursor."""
    if after is None:
        return None
    kept = {name: request.args[name] for name in ("zone", "to", "limit") if request.args.get(name)}
    return url_for(".list_showtimes", venue=venue, **kept, cursor=f"{after[0]}.{after[1]}")
