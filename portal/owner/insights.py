"""Insights for a zone owner: the same figures as the operator's, over one of the owner's zones at a time.

    GET /console/owner/<venue>/insights?day=YYYY-MM-DD&period=day|week|month&zone=<zone>   figures, charts
    GET /console/owner/<venue>/insights/export.csv?day=...&zone=...       the figures as rows (CSV | .parquet)

No zone given: the first zone the account manages (in map order); a zone it does not manage: 403. Never
the union of several zones: an owner of two could subtract the figures of either zone from those of both
and learn how many shoppers visited both (kopi 6, books 6, both 11: one shopper, below k), and no k-check
on the union alone holds for every such difference (new vs repeat, top paths alike); per-zone figures
give no such difference."""

from __future__ import annotations

import time
from datetime import date

from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from portal.auth import current_account, login_required, require_zone
from portal.events.report import day_insights, latest_shown_day, occupancy, page_context, rows, to_csv, to_parquet
from portal.operator.footfall import _day
from portal.operator.insights import EXPORTS, PERIODS, export_headers, period, period_span
from portal.operator.mapedit import zone_names
from portal.owner.views import _venue_map_for, bp, managed_zones
from portal.services import services


def _scope(venue: str):
    """(account, map, the zone asked for ("" for none; checked), every zone the account manages here)."""
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    wanted = request.args.get("zone", "")[:64]
    if wanted:
        require_zone(venue, wanted)
        if venue_map.zone(wanted) is None:
            abort(404, _("Unknown zone."))
    managed = [z.id for z in managed_zones(account, venue_map)]  # holds `wanted`: the same check
    if not managed:
        abort(403, _("You do not manage this zone."))
    return account, venue_map, wanted, managed


def _owner_day(venue: str, venue_map) -> date:
    """The day asked for (`?day=`); none: the latest an owner may see (report.py `latest_shown_day`: yesterday,
    or the day before in the first minutes after the venue's midnight), for the page and its export alike (an
    export without a day answered today's 409, and yesterday's 409 just after midnight)."""
    asked = request.args.get("day")
    return _day(asked, venue) if asked else latest_shown_day(services(), venue_map)


@bp.get("/<venue>/insights")
@login_required()
def insights(venue: str):
    account, venue_map, wanted, managed = _scope(venue)
    zone = wanted or managed[0]  # one zone at a time (module docstring)
    day = _owner_day(venue, venue_map)
    names = zone_names(venue_map)
    name, last, days = period(day)
    figures = day_insights(services(), venue_map, last, zones=[zone], days=days)
    return render_template("owner/insights.html", venue=venue_map, account=account, day=day.isoformat(),
                           period=name, periods=PERIODS, zone=zone, zone_name=names.get(zone, zone),
                           zones=[(z, names.get(z, z)) for z in managed], f=page_context(figures, names),
                           occupancy=occupancy(services(), venue_map, managed, names, time.time()))


@bp.get("/<venue>/insights/export.<fmt>")
@login_required()
def insights_export(venue: str, fmt: str):
    if fmt not in EXPORTS:
        abort(404)
    account, venue_map, wanted, managed = _scope(venue)
    zone = wanted or managed[0]
    name, last, days = period(_owner_day(venue, venue_map))
    span = period_span(name, last, days)  # a week's or month's export names its first and last day
    data = rows(day_insights(services(), venue_map, last, zones=[zone], days=days), zone_names(venue_map))
    services().privacy.audit_export(venue, account.username, f"insights.{fmt}", f"{span} {zone}")
    body = to_csv(data) if fmt == "csv" else to_parquet(data)
    return Response(body, mimetype=EXPORTS[fmt], headers=export_headers(venue, span, fmt))
