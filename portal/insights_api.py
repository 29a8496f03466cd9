"""The insights as a machine API, for whoever the mall hands its aggregate figures to (a brand, a research firm, a
tenant's head office, the group's own BI) without a console account, which could also change a zone's app and
message its shoppers.

    GET /api/v1/venues/<venue>/insights?day=YYYY-MM-DD[&period=day|week|month][&zone=<id>]
        Authorization: Bearer <a token of the venue with the `insights` scope>

    200 {"partial": bool, "columns": [the export's columns, in order], "metadata": {key: text},
         "rows": [{column: value}]}

`rows` and `metadata` are the console export's rows (`COLUMNS`) and metadata lines for the same period, made by the
same function (portal/operator/insights.py `build_export`): the same k-safe figures (a held-back one has the
status `suppressed` and a null value), the same fixed periods (`period_of`), each in the venue's time zone. Without
`zone`, the whole venue's figures as the operator's export gives them, a period still under way included
(`partial`: true, its figures counted up to `metadata.until`); with `zone`, that zone's as a zone owner's export
counts them (the token is the venue's: no owner's tenancy limits), once the period is over (report.shown_from:
before, 409 saying when).

401 without a valid token of this venue (checked before the venue: `require_venue_source`), 403 for a token without
the scope, 422 naming the parameter (`day`, `period`, `zone`), 409 when the period has no figures to give
(report.notice), 429 past the token's budget (`insights.api.token`, core/settings.py DEFAULT_BUDGETS, per token
label, spent by every call that got past the token). Every answered call is an export in the venue's audit log
under the token's label (`audit_insights_export`: format json, via api), as the consoles' are under the account."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request

from core.errors import InputError
from portal.api import api_over_budget, api_scope, require_venue_source
from portal.apps.budgets import OverBudget, spend_budget
from portal.errors import ApiError
from portal.events.report import FiguresNotShown, day_insights
from portal.operator.footfall import read_day
from portal.operator.insights import (
    COLUMNS,
    audit_insights_export,
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


@bp.get("/venues/<venue>/insights")
def insights(venue: str):
    label = require_venue_source(venue, INSIGHTS)
    _spend(venue, label)
    venue_map = services().venues.get_map(venue)
    try:
        (name, last, days), zone = _period(venue), _zone(venue_map)
    except InputError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    figures = day_insights(services(), venue_map, last, zones=None if zone is None else [zone], days=days)
    span, (audited, scope) = period_span(name, last, days), export_scope(venue_map, zone)
    try:
        export = build_export(venue_map, figures, span, scope)
    except FiguresNotShown as exc:
        raise ApiError(409, str(exc.description), "day") from None
    audit_insights_export(venue, label, "json", audited, span, export.until, via="api")
    return jsonify({"partial": export.partial, "columns": COLUMNS, "metadata": dict(export.meta),
                    "rows": export.records()})


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
