"""The insights as a machine API, for whoever the mall hands its aggregate figures to (a brand, a research firm, a
tenant's head office, the group's own BI) without a console account, which could also change a zone's app and
message its shoppers.

    GET /api/v1/venues/<venue>/insights?day=YYYY-MM-DD[&period=day|week|month][&zone=<id>]
        Authorization: Bearer <a token of the venue with the `insights` scope>

    200 {"partial": false, "columns": [the export's columns, in order], "metadata": {key: text},
         "rows": [{column: value}]}

`rows` and `metadata` are the console export's rows (`COLUMNS`) and metadata lines for the same period, made by the
same function (portal/operator/insights.py `build_export`): the same k-safe figures (a held-back one has the
status `suppressed` and a null value), the same fixed periods (`period_of`), each in the venue's time zone. Without
`zone`, the whole venue's figures as the operator's export gives them; with `zone`, that zone's as a zone owner's
export counts them (the token is the venue's: no owner's tenancy limits). Either only once the period has settled
(report.shown_from, `settled_only`: over, and its last visits closed), so `partial` is always false: a partner polling
a period still filling up would see each shopper who came in between as the difference, venue-wide too (the hour
she arrived, the zone she went to, her dwell).

401 without a valid token of this venue (checked before the venue: `require_venue_source`), 403 for a token without
the scope, 422 naming the parameter (`day`, `period`, `zone`), 409 when the period has no figures to give
(report.notice; one not settled yet also says when it will: `available_at`, ISO 8601 with the venue's offset, and
Retry-After in seconds), 429 past the token's budget (`insights.api.token`, core/settings.py DEFAULT_BUDGETS, per
token label, spent by every call that got past the token) or with CALLS_AT_ONCE calls of the token's label already
in flight (portal/call_slots.py: each computes in a web worker, which the captive portal needs too). Every answered
call is in the venue's audit log under the token's label, rolled up per hour (`audit_api_export`)."""

from __future__ import annotations

import math
from datetime import date, datetime
from time import time
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request

from core.errors import InputError
from portal.api import api_over_budget, api_retry_later, api_scope, require_venue_source
from portal.apps.budgets import OverBudget, spend_budget
from portal.call_slots import CallsInFlight, CallSlots
from portal.errors import ApiError
from portal.events.insights import Insights
from portal.events.report import day_insights, notice, venue_tz
from portal.operator.footfall import read_day
from portal.operator.insights import (
    COLUMNS,
    Export,
    audit_api_export,
    build_export,
    export_scope,
    not_after_today,
    period_of,
    period_span,
)
from portal.services import services

bp = Blueprint("insights_api", __name__, url_prefix="/api/v1")
INSIGHTS = api_scope("insights")
BUDGET = "insights.api"  # insights.api.token: per token label
CALLS_AT_ONCE = 2  # per token label: a month's figures, not cached, hold a web worker for seconds
CALL_SLOT_TTL_S = 120  # a worker killed mid-call holds its slot no longer than this
CALLS_RETRY_S = 5  # a 429's Retry-After when the token's calls are all in flight: each lasts a few seconds


@bp.get("/venues/<venue>/insights")
def insights(venue: str):
    label = require_venue_source(venue, INSIGHTS)
    _spend(venue, label)
    venue_map = services().venues.get_map(venue)
    try:
        (name, last, days), zone = _period(venue), _zone(venue_map)
    except InputError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    try:
        with CallSlots(services().db).held(venue, BUDGET, label, CALLS_AT_ONCE, CALL_SLOT_TTL_S) as call:
            export = _export(venue_map, label, call, (name, last, days), zone)
    except CallsInFlight:
        raise api_retry_later(f"{CALLS_AT_ONCE} calls with this token are still running: wait for one to end",
                              CALLS_RETRY_S) from None
    return jsonify({"partial": export.partial, "columns": COLUMNS, "metadata": dict(export.meta),
                    "rows": export.records()})


def _export(venue_map, label: str, call: str, period: tuple[str, date, int], zone: str | None) -> Export:
    """The period's figures as the export gives them, once settled (else 409: `_refuse_unshown`), audited as the
    call `call` of the token's label."""
    name, last, days = period
    figures = day_insights(services(), venue_map, last, zones=None if zone is None else [zone], days=days,
                           settled_only=True)
    _refuse_unshown(figures, venue_map)
    span, (audited, scope) = period_span(name, last, days), export_scope(venue_map, zone)
    export = build_export(venue_map, figures, span, scope)
    audit_api_export(venue_map.id, label, call, audited, span)
    return export


def _refuse_unshown(figures: Insights, venue_map) -> None:
    """409 for a period with no figures to give (report.notice says why, in the asked language); one not settled yet
    says when it will be: `available_at` (ISO 8601, the venue's offset) and Retry-After (seconds from now)."""
    why = notice(figures)
    if why is None:
        return
    if figures.hidden_until is None:  # the event log no longer holds it whole: never
        raise ApiError(409, why, "day")
    at = datetime.fromtimestamp(math.ceil(figures.hidden_until), ZoneInfo(venue_tz(services(), venue_map)))
    wait = max(1, math.ceil(figures.hidden_until - time()))
    raise ApiError(409, why, "day", headers=[("Retry-After", str(wait))],
                   more={"available_at": at.isoformat(timespec="seconds")})


def _period(venue: str) -> tuple[str, date, int]:
    """`day` (required: a machine says which) and `period` (default day), as the consoles read them."""
    day = not_after_today(venue, read_day(request.args.get("day", "")))
    return period_of(request.args.get("period", "day"), day)


def _zone(venue_map) -> str | None:
    """`zone`: one of the venue's zones; none: the whole venue."""
    zone = request.args.get("zone")
    if zone is not None and venue_map.zone(zone) is None:
        raise InputError("zone", f"no zone {zone[:64]!r} in venue {venue_map.id!r}")
    return zone


def _spend(venue: str, label: str) -> None:
    """One call off the token's budget; past it a 429 worded for the program calling (the budgets' own 429 speaks to
    a shopper)."""
    try:
        spend_budget(BUDGET, venue, token=label)
    except OverBudget as over:
        raise api_over_budget(over, "too many insights calls with this token") from None
