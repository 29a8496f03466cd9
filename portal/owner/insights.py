"""Insights for a zone owner: the same figures as the operator's, over the owner's zones only.

    GET /console/owner/<venue>/insights?day=YYYY-MM-DD&period=day|week|month&zone=<zone>   figures, charts
    GET /console/owner/<venue>/insights/export.csv?day=...&zone=...       the figures as rows (CSV | .parquet)

No zone given: every zone the account manages; a zone it does not manage: 403."""

from __future__ import annotations

import time

from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from portal.auth import current_account, login_required, require_zone
from portal.events.report import day_insights, occupancy, page_context, rows, to_csv, to_parquet
from portal.operator.footfall import _day
from portal.operator.insights import EXPORTS, PERIODS, period, zone_names
from portal.owner.views import _venue_map_for, bp, managed_zones
from portal.services import services


def _scope(venue: str):
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    wanted = request.args.get("zone", "")[:64]
    if wanted:
        require_zone(venue, wanted)
        if venue_map.zone(wanted) is None:
            abort(404, _("Unknown zone."))
        zones = [wanted]
    else:
        zones = [z.id for z in managed_zones(account, venue_map)]
        if not zones:
            abort(403, _("You do not manage this zone."))
    return account, venue_map, zones, wanted


@bp.get("/<venue>/insights")
@login_required()
def insights(venue: str):
    account, venue_map, zones, wanted = _scope(venue)
    day = _day(request.args.get("day"), venue)
    names = zone_names(venue_map)
    name, last, days = period(day)
    figures = day_insights(services(), venue_map, last, zones=zones, days=days)
    return render_template("owner/insights.html", venue=venue_map, account=account, day=day.isoformat(),
                           period=name, periods=PERIODS,
                           zone=wanted, zones=[(z, names.get(z, z)) for z in zones], f=page_context(figures, names),
                           occupancy=occupancy(services(), venue_map, zones, names, time.time()))


@bp.get("/<venue>/insights/export.<fmt>")
@login_required()
def insights_export(venue: str, fmt: str):
    if fmt not in EXPORTS:
        abort(404)
    account, venue_map, zones, _wanted = _scope(venue)
    day = _day(request.args.get("day"), venue)
    _name, last, days = period(day)
    data = rows(day_insights(services(), venue_map, last, zones=zones, days=days), zone_names(venue_map))
    services().privacy.audit_export(venue, account.username, f"insights.{fmt}", f"{day} {','.join(zones)}")
    body = to_csv(data) if fmt == "csv" else to_parquet(data)
    return Response(body, mimetype=EXPORTS[fmt], headers={
        "Content-Disposition": f'attachment; filename="insights-{venue}-{day}.{fmt}"'})
