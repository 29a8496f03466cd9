"""Insights for a zone owner: the same figures as the operator's, over one of the owner's zones at a time.

    GET /console/owner/<venue>/insights?day=YYYY-MM-DD&period=day|week|month&zone=<zone>   figures, charts
    GET /console/owner/<venue>/insights/export.csv?day=...&zone=...       the figures as rows (CSV | .parquet)

No zone given: the first zone the account manages (in map order); a zone it does not manage: 403. Never
the union of several zones: an owner of two could subtract the figures of either zone from those of both
and learn how many shoppers visited both (kopi 6, books 6, both 11: one shopper, below k), and no k-check
on the union alone holds for every such difference (new vs repeat, top paths alike); per-zone figures
give no such difference.

Only the time the account held the zone (portal/auth.py `AccountStore.held_spans`): a period that starts before
the account gained it, or ends after it lost it, holds another tenant's shoppers (their funnel, their new
shoppers), so the page shows a notice instead of figures and its exports answer 409. An operator sees every
period."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, render_template, request
from flask_babel import gettext as _

from portal.apps.locale import format_time
from portal.auth import Account, accounts, current_account, login_required, require_zone
from portal.events.insights import K_MIN, Insights
from portal.events.report import (
    LOOKBACK_DAYS,
    FiguresNotShown,
    day_bounds,
    day_insights,
    latest_shown_day,
    occupancy,
    page_context,
    period_bounds,
    venue_tz,
)
from portal.operator.footfall import _day
from portal.operator.insights import (
    EXPORTS,
    PERIODS,
    export_response,
    export_scope,
    figure_definitions,
    period,
    period_span,
    venue_iso,
)
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


def _not_held(account: Account, venue_map, zone: str, last: date, days: int) -> str | None:
    """Why the account sees no figures of the period for `zone`: it did not hold the zone all through it (module
    docstring); None: it did, or it is an operator."""
    tz = venue_tz(services(), venue_map)
    since, until = period_bounds(last, days, tz)
    if accounts().held_during(account, zone, since, until):
        return None
    start = _held_since(account, zone) or until
    first = datetime.fromtimestamp(start, ZoneInfo(tz)).date()
    if day_bounds(first, tz)[0] < start:  # that day began under the tenant before
        first += timedelta(days=1)
    return _("You have managed this zone since %(when)s. The figures of a period that begins earlier include "
             "the shoppers of whoever managed it before, so they are not shown: days from %(day)s on are.",
             when=format_time(start), day=first.isoformat())


def _within_tenancy(figures: Insights, account: Account, zone: str) -> Insights:
    """The figures with new and repeat shoppers withheld (as a look-back the event log cut, report.lookback_notice)
    while their LOOKBACK_DAYS reach back before the account held the zone: a shopper who bought from the previous
    tenant would count as this one's repeat shopper."""
    held = _held_since(account, zone)
    if held is None or held <= figures.since - LOOKBACK_DAYS * 86400 or "new_vs_repeat" in figures.incomplete:
        return figures
    return replace(figures, incomplete=[*figures.incomplete, "new_vs_repeat"], managed_since=held)


def _held_since(account: Account, zone: str) -> float | None:
    """Since when the account holds `zone` this time (None: an operator, no tenant of it)."""
    if account.role != "owner":
        return None
    spans = accounts().held_spans(account.username).get(zone, [])
    return max((start for start, end in spans if end is None), default=None)


@bp.get("/<venue>/insights")
@login_required()
def insights(venue: str):
    account, venue_map, wanted, managed = _scope(venue)
    zone = wanted or managed[0]  # one zone at a time (module docstring)
    day = _owner_day(venue, venue_map)
    names = zone_names(venue_map)
    name, last, days = period(day)
    if (why := _not_held(account, venue_map, zone, last, days)) is not None:
        shown = {"notice": why, "k": K_MIN}
    else:
        figures = _within_tenancy(day_insights(services(), venue_map, last, zones=[zone], days=days), account, zone)
        shown = page_context(figures, names)
    return render_template("owner/insights.html", venue=venue_map, account=account, day=day.isoformat(),
                           period=name, periods=PERIODS, zone=zone, zone_name=names.get(zone, zone),
                           zones=[(z, names.get(z, z)) for z in managed], f=shown,
                           definitions=figure_definitions(),
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
    if (why := _not_held(account, venue_map, zone, last, days)) is not None:
        raise FiguresNotShown(why)
    figures = _within_tenancy(day_insights(services(), venue_map, last, zones=[zone], days=days), account, zone)
    held = _held_since(account, zone)
    return export_response(fmt, venue_map, figures, span, *export_scope(venue_map, zone),
                           (("managed_since", venue_iso(venue_tz(services(), venue_map), held)),) if held else ())
