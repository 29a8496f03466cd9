"""The parking system's API: bay status and plate events in, free bays out.

    POST /api/v1/venues/<venue>/parking/events      Authorization: Bearer <venue API token, scope parking>

    NOW=$(date +%s)   # every ts within the last 24 h: Unix seconds, or ISO 8601 with its offset (date -Iseconds)
    curl -s -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \\
      http://127.0.0.1:8000/api/v1/venues/demo/parking/events -d '{"events": [
      {"type": "bay", "bay": "G-A01", "status": "occupied", "ts": '$((NOW - 60))'},
      {"type": "plate", "bay": "G-A01", "plate": "SG 1234-A", "ts": '$((NOW - 55))'},
      {"type": "exit", "plate": "SG1234A", "ts": "'$(date -Iseconds)'"}]}'
    -> 200 {"accepted": 3, "applied": 3, "results": ["applied", "applied", "applied"],
            "exits": [{"index": 2, "outcome": "cleared", "due_fen": 0}]}
    the same batch again
    -> 200 {"accepted": 3, "applied": 0, "results": ["stale", "stale", "duplicate"],
            "exits": [{"index": 2, "outcome": "cleared", "due_fen": 0, "duplicate": true}]}
    -> 4xx {"error": "...", "field": "events[1].plate"}: nothing of the batch is stored.

Events are applied in order, in one atomic step. Idempotent: a repeated event is "duplicate"; an event
older than what is already known for its bay (status) or plate (plate/exit) is "stale" and changes
nothing; an exit for a plate not parked is "unknown". Plate data lasts until the exit event or 24 h.
A `ts` without a UTC offset is refused (422): the barrier's clock says which zone it means.
An entry event (the barrier on the way in) starts the stay the fee is counted from (without one, the
first sighting at a bay does). Each exit that ends a stay is settled once (`exits`, lightapps/parking/
fees.py): "cleared" (paid, within the grace time, or nothing due), "charged" / "charging" (a member's
payment agreement: charged after the car left), or "owed" (recorded for the car park office); `due_fen` is
what is still owed (or being charged); the bay the car was seen at is freed. An exit sent again (the same
plate and ts: a retry after a lost answer, within 15 minutes of the first) is "duplicate" and settles
nothing again, and `exits` still names it, with `"duplicate": true` and its outcome as it stands now: the
same four, or "paid_later" (left owing, paid since).

    GET /api/v1/venues/<venue>/parking/availability   (same token)
    -> {"zones": {"garage": [{"level": 0, "name": "G", "total": 95, "free": 37, "occupied": 58, "unknown": 0}]}}
       per car park zone, per level: `unknown` counts the bays nothing has been reported on yet
       (total = free + occupied + unknown)."""

from __future__ import annotations

import time

import redis
from flask import Blueprint, jsonify

from lightapps.parking.common import level_name, parking_store, plate_hasher
from lightapps.parking.events import EventError, parse_batch
from lightapps.parking.fees import exit_outcome, settle_exit
from portal.api import api_scope, json_body, require_venue_source
from portal.apps.views import venue_or_404
from portal.errors import ROOT, ApiError
from portal.services import services

api_bp = Blueprint("parking_api", __name__, url_prefix="/api/v1/venues/<venue>/parking")
SCOPE = api_scope("parking")  # tokens for this API: issue-token ... --scope parking


@api_bp.post("/events")
def post_events(venue: str):
    require_venue_source(venue, SCOPE)
    payload = json_body()
    store = parking_store()
    now = time.time()
    try:
        events = parse_batch(payload, venue=venue, bays=store.bays(venue), hasher=plate_hasher(), now=now,
                             max_skew_s=services().settings.max_clock_skew_s)
    except EventError as exc:
        raise ApiError(422, exc.message if exc.field == ROOT else f"{exc.field} {exc.message}", exc.field) from None
    try:
        results = store.apply_events(venue, events, now)
        exits = []
        for index, (event, result) in enumerate(zip(events, results, strict=True)):
            if event.kind == "exit" and result == "applied":
                settled = settle_exit(venue, event.plate_hash, event.ts_ms)
                if settled is not None:
                    exits.append({"index": index, "outcome": settled.outcome, "due_fen": settled.due})
            elif event.kind == "exit" and result == "duplicate":
                # a retry: the first answer may be lost, and with it what the car left owing
                settled = exit_outcome(venue, event.plate_hash, event.ts_ms)
                if settled is not None:
                    exits.append({"index": index, "outcome": settled.outcome, "due_fen": settled.due,
                                  "duplicate": True})
    except redis.RedisError:
        raise ApiError(503, "the parking store is unavailable; retry later") from None
    return jsonify({"accepted": len(events), "applied": results.count("applied"), "results": results,
                    "exits": exits})


@api_bp.get("/availability")
def availability(venue: str):
    require_venue_source(venue, SCOPE)
    store = parking_store()
    found = venue_or_404(venue)
    bays = store.bays(venue)
    out = {}
    for zone in sorted({b.zone for b in bays.values()}):
        out[zone] = [{"level": c.level, "name": level_name(found, c.level), "total": c.total, "free": c.free,
                      "occupied": c.occupied, "unknown": c.unknown}
                     for c in store.level_counts(venue, zone, bays)]
    return jsonify({"zones": out})
