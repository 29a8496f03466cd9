"""The insights as a machine API, for whoever the mall hands its aggregate figures to (a brand, a research firm, a
tenant's head office, the group's own BI) without a console account, which could also change a zone's app and
message its shoppers.

    GET /api/v1/venues/<venue>/insights?day=YYYY-MM-DD[&period=day|week|month][&zone=<id>[,<id>...]]
        Authorization: Bearer <a token of the venue with the `insights` scope>

    200 {"partial": false, "columns": [the export's columns, in order], "metadata": {key: text},
         "rows": [{column: value}]}

`rows` and `metadata` are the console export's rows (`COLUMNS`) and metadata lines for the same period, made by the
same function (portal/operator/insights.py `build_export`): the same k-safe figures (a held-back one has the
status `suppressed` and a null value), the same fixed periods (`period_of`), each in the venue's time zone. Without
`zone`, the whole venue's figures as the operator's export gives them; with `zone`, that zone's as a zone owner's
export counts them (the token is the venue's: no owner's tenancy limits). Several zones (`zone=a,b`, at most
MAX_ZONES, each once) are each zone's figures as a call for it alone gives them, their rows one after the other, never
the zones' figures added up: a sum of zones each k-safe alone is a new figure, which a partner could subtract a zone's
figure from to learn one held back (the scope lists them; each zone is a unit of the token's budget). Either only once
the period has settled (report.shown_from, `settled_only`: over, and its last visits closed), so `partial` is always
false: a partner polling
a period still filling up would see each shopper who came in between as the difference, venue-wide too (the hour
she arrived, the zone she went to, her dwell).

401 without a valid token of this venue (checked before the venue: `require_venue_source`), 403 for a token without the
scope or where the venue set the token's budget to 0, 422 naming the parameter (`day`, `period`, `zone`: more zones
than the budget holds in a window too), 409 when
the period has no figures to give (report.notice; one not settled yet also says when it will: `available_at`, ISO 8601
with the venue's offset, and Retry-After in seconds), 429 past the token's budget (`insights.api.token`,
core/settings.py DEFAULT_BUDGETS, per token label, spent by every call that got past the token but one it refuses) or
with CALLS_AT_ONCE calls of the token's label already in flight (portal/call_slots.py: each computes in a web worker,
which the captive portal needs too). Every answered call is in the venue's audit log under the token's label, rolled up
per hour (`audit_api_export`)."""

from __future__ import annotations

import math
from datetime import date, datetime
from time import time
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request

from core.errors import InputError
from portal.api import api_over_budget, api_retry_later, api_scope, require_venue_source
from portal.apps.budgets import OverBudget, budget_room, give_back_budget, spend_budget
from portal.call_slots import CallsInFlight, CallSlots
from portal.errors import ApiError
from portal.events.insights import Insights
from portal.events.report import notice, scopes_insights, venue_tz
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
OVER_BUDGET = "too many insights calls with this token"  # a 429's words past the budget (first unit or rest)
CALLS_AT_ONCE = 2  # per token label: a month's figures, not cached, hold a web worker for seconds
CALL_SLOT_TTL_S = 120  # a worker killed mid-call holds its slot no longer than this
CALLS_RETRY_S = 5  # a 429's Retry-After when the token's calls are all in flight: each lasts a few seconds
# Zones one call may name: each is figured on its own from the venue's events (read once for the call: a month's call
# reads two months of the log), all in the one web worker and within its call slot's CALL_SLOT_TTL_S: a brand's few
# shops.
MAX_ZONES = 4


@bp.get("/venues/<venue>/insights")
def insights(venue: str):
    label = require_venue_source(venue, INSIGHTS)
    _spend(venue, label)
    venue_map = services().venues.get_map(venue)
    try:
        (name, last, days), zones = _period(venue), _zones(venue_map)
    except InputError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    more = len(zones) - 1  # a unit a zone: the first was spent with the call
    if more:
        _spend_other_zones(venue, label, more)
    try:
        with CallSlots(services().db).held(venue, BUDGET, label, CALLS_AT_ONCE, CALL_SLOT_TTL_S) as call:
            exports = _exports(venue_map, label, call, (name, last, days), zones)
    except CallsInFlight:
        _give_back(venue, label, more)
        raise api_retry_later(f"{CALLS_AT_ONCE} calls with this token are still running: wait for one to end",
                              CALLS_RETRY_S) from None
    except ApiError:  # the period has no figures to give (409): as a call of one zone, one unit spent
        _give_back(venue, label, more)
        raise
    meta = dict(exports[0].meta)
    meta["scope"] = "; ".join(dict(export.meta)["scope"] for export in exports)
    return jsonify({"partial": any(export.partial for export in exports), "columns": COLUMNS, "metadata": meta,
                    "rows": [row for export in exports for row in export.records()]})


def _exports(venue_map, label: str, call: str, period: tuple[str, date, int], zones: list[str | None]) -> list[Export]:
    """Each zone's figures of the period (None: the whole venue's) as the export gives them, each made alone, once
    settled (else 409: `_refuse_unshown`), audited together as the call `call` of the token's label."""
    name, last, days = period
    span, exports, audited = period_span(name, last, days), [], []
    every = scopes_insights(services(), venue_map, last, [None if zone is None else [zone] for zone in zones], days,
                            settled_only=True)  # the venue's events read once for all the zones not cached
    for zone, figures in zip(zones, every, strict=True):
        _refuse_unshown(figures, venue_map)
        scope = export_scope(venue_map, zone)
        exports.append(build_export(venue_map, figures, span, scope[1]))
        audited.append(scope[0])
    audit_api_export(venue_map.id, label, call, ",".join(audited), span)
    return exports


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


def _zones(venue_map) -> list[str | None]:
    """`zone`: one of the venue's zones, or several, comma-separated (at most MAX_ZONES, each once); none: the whole
    venue ([None])."""
    raw = request.args.get("zone")
    if raw is None:
        return [None]
    zones = raw.split(",")  # a zone id holds no comma (fingerprints/model.py ID_RE)
    if len(zones) > MAX_ZONES:
        raise InputError("zone", f"at most {MAX_ZONES} zones a call, got {len(zones)}")
    if len(set(zones)) < len(zones):
        raise InputError("zone", "a zone named twice")
    for zone in zones:
        if venue_map.zone(zone) is None:
            raise InputError("zone", f"no zone {zone[:64]!r} in venue {venue_map.id!r}")
    return zones


def _spend_other_zones(venue: str, label: str, more: int) -> None:
    """The units of a call's zones beyond its first. Refused, the call spends none (its first given back, as a call of
    one zone refused spends none), and its Retry-After is when all its units fit: told when the other zones alone
    would, a partner retrying then spent a first unit again and came up one short, every time."""
    try:
        spend_budget(BUDGET, venue, token=label, cost=more)
    except OverBudget as over:
        _give_back(venue, label, 1)
        raise api_over_budget(_whole_call_refusal(venue, label, more + 1) or over, OVER_BUDGET) from None


def _whole_call_refusal(venue: str, label: str, units: int) -> OverBudget | None:
    """What the budget says of a whole call of `units` zones now: None when it fits, else its refusal (the wait for
    all its units). More zones than the budget's whole count (a venue may set it below MAX_ZONES) is a 422 on `zone`:
    a 429 would say to wait for a call that can never be answered."""
    try:
        budget_room(BUDGET, venue, token=label, cost=units)
    except OverBudget as refused:
        if refused.refusal.never and refused.refusal.most:
            raise ApiError(422, f"each zone is a unit of this token's budget, which holds {refused.refusal.most}: "
                                f"name at most {refused.refusal.most} zones a call", "zone") from None
        return refused
    return None


def _give_back(venue: str, label: str, cost: int) -> None:
    """`cost` units of a refused call back to the token's budget: its units beyond its first (refused after they were
    spent, a call of several zones costs what a call of one does, so a partner retrying as Retry-After says is not
    drained the faster), or its first (the budget refused the rest: `_spend_other_zones`)."""
    if cost:
        give_back_budget(BUDGET, venue, token=label, cost=cost)


def _spend(venue: str, label: str) -> None:
    """A call's first unit off the token's budget; past it a 429 worded for the program calling (the budgets' own 429
    speaks to a shopper), its Retry-After the wait for all the units of the zones it names (so a call of more zones
    than the budget holds is the 422 it will be, not a 429 and then that 422)."""
    try:
        spend_budget(BUDGET, venue, token=label)
    except OverBudget as over:
        named = min(len(request.args.get("zone", "").split(",")), MAX_ZONES)  # parsed and checked later (`_zones`)
        whole = _whole_call_refusal(venue, label, named) if named > 1 and not over.refusal.never else None
        raise api_over_budget(whole or over, OVER_BUDGET) from None
