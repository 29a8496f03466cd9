"""Insights for the operator: the whole venue's figures of a day, read from the event log
(portal/events), k-anonymous, with charts; exports; live occupancy with alert thresholds; staff phones.

    GET  /console/ops/<venue>/insights?day=YYYY-MM-DD&period=day|week|month    figures and charts (HTML)
    GET  /console/ops/<venue>/insights/export.csv?day=...    the same figures as rows (CSV | .parquet)
    POST /console/ops/<venue>/insights/limit                 zone, limit: the zone's occupancy alert
    POST /console/ops/<venue>/insights/alerts                alert_url: where occupancy alerts are POSTed
    POST /console/ops/<venue>/insights/staff                 mac (add) or remove=<client id>: staff phones
    POST /console/ops/<venue>/insights/retention             days per data kind (the daily job applies them)"""

from __future__ import annotations

import calendar
import re
import time
from datetime import date, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.auth import audit, current_account
from portal.events.moments import RuleError
from portal.events.privacy import RETENTION
from portal.events.report import day_insights, occupancy, page_context, rows, to_csv, to_parquet
from portal.operator.blueprint import bp
from portal.operator.footfall import _day
from portal.operator.mapedit import load_map
from portal.services import services

EXPORTS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
MAX_LIMIT = 100_000


PERIODS = ("day", "week", "month")


def period(day: date) -> tuple[str, date, int]:
    """?period=day|week|month (the older ?days=1|7 read as day|week): the day, the ISO week (Monday to
    Sunday) or the calendar month that holds it, as (name, its last day, its days). Only these fixed
    periods, so that no two windows of different lengths end on any day (their figures subtracted would
    give a day's figure below k); and a longer period shows a figure only when each of its days would
    (insights.withhold)."""
    raw = request.args.get("period") or {"1": "day", "7": "week"}.get(request.args.get("days", "1"), "")
    if raw == "day":
        return raw, day, 1
    if raw == "week":
        return raw, day + timedelta(days=6 - day.weekday()), 7
    if raw == "month":
        days = calendar.monthrange(day.year, day.month)[1]
        return raw, day.replace(day=days), days
    abort(400, _("The period must be a day, a week or a month."))


def retention_labels() -> dict[str, str]:
    """The retention kinds (privacy.RETENTION) in the page's language."""
    return {"events_anonymise": _("event log: phone and shopper ids replaced by unlinkable ones"),
            "events_delete": _("event log: deleted"), "deliveries_delete": _("moments delivery log: deleted")}


def audit_rows(entries: list[dict]) -> list[dict]:
    """The export audit as the page shows it: what the shoppers' own exports and erasures wrote (in English,
    as stored) in the page's language; accounts, files and days as they are."""
    words = {"shopper (self)": _("the shopper (self)"), "erasure": _("erasure"),
             "my-data.json": _("their own data (JSON)"), "own data": _("own data")}
    out = []
    for entry in entries:
        scope = str(entry.get("scope", ""))
        if counted := re.fullmatch(r"(\d+) records", scope):
            scope = _("%(n)s records", n=counted.group(1))
        elif scope.endswith(" venue"):
            scope = f"{scope[:-6]} {_('whole venue')}"
        out.append({**entry, "who": words.get(entry.get("who"), entry.get("who")),
                    "what": words.get(entry.get("what"), entry.get("what")), "scope": words.get(scope, scope)})
    return out


def zone_names(venue_map) -> dict[str, str]:
    """Zone id -> its name in the page's language (the ?lang= choice, its cookie or the browser's)."""
    zh = str(get_locale()) == "zh"
    return {z.id: (z.name_zh or z.name if zh else z.name) for z in venue_map.zones}


@bp.get("/<venue>/insights")
def insights(venue: str):
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    names = zone_names(venue_map)
    name, last, days = period(day)
    figures = day_insights(services(), venue_map, last, days=days)
    return render_template(
        "operator/insights.html", venue=venue, map=venue_map, day=day.isoformat(), period=name, periods=PERIODS,
        f=page_context(figures, names),
        occupancy=occupancy(services(), venue_map, [z.id for z in venue_map.zones], names, time.time()),
        staff=sorted(services().privacy.staff(venue)), staff_excluded=figures.excluded_staff,
        retention=services().privacy.retention(venue), retention_kinds=RETENTION, retention_labels=retention_labels(),
        alert_url=services().moments.alert_url(venue),
        exports=audit_rows(services().privacy.exports(venue, 20)))


@bp.get("/<venue>/insights/export.<fmt>")
def insights_export(venue: str, fmt: str):
    if fmt not in EXPORTS:
        abort(404)
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    _name, last, days = period(day)
    data = rows(day_insights(services(), venue_map, last, days=days), zone_names(venue_map))
    services().privacy.audit_export(venue, current_account().username, f"insights.{fmt}", f"{day} venue")
    body = to_csv(data) if fmt == "csv" else to_parquet(data)
    return Response(body, mimetype=EXPORTS[fmt], headers={
        "Content-Disposition": f'attachment; filename="insights-{venue}-{day}.{fmt}"'})


@bp.post("/<venue>/insights/limit")
def insights_limit(venue: str):
    venue_map = load_map(venue)
    zone = request.form.get("zone", "")
    raw = request.form.get("limit", "").strip()
    if venue_map.zone(zone) is None:
        abort(400, _("Unknown zone."))
    if raw and not (raw.isdigit() and 0 <= int(raw) <= MAX_LIMIT):
        abort(400, _("The limit must be a whole number from 0 to %(n)d.", n=MAX_LIMIT))
    services().presence.set_limit(venue, zone, int(raw) if raw else None)
    audit("insights.limit", venue, zone=zone, limit=raw)
    return redirect(url_for("operator.insights", venue=venue, day=request.form.get("day") or None), code=303)


@bp.post("/<venue>/insights/alerts")
def insights_alerts(venue: str):
    load_map(venue)
    try:
        services().moments.set_alert_url(venue, request.form.get("alert_url", "")[:600])
    except RuleError:
        abort(400, _("The alert address must be an http(s) URL."))
    audit("insights.alert_url", venue)
    return redirect(url_for("operator.insights", venue=venue), code=303)


@bp.post("/<venue>/insights/staff")
def insights_staff(venue: str):
    load_map(venue)
    privacy = services().privacy
    removed = request.form.get("remove", "")
    if removed:
        privacy.remove_staff(venue, removed[:64])
        audit("insights.staff_remove", venue)
    else:
        try:
            privacy.add_staff_mac(venue, request.form.get("mac", "")[:40])
        except ValueError:
            abort(400, _("That is not a MAC address (like aa:bb:cc:dd:ee:ff)."))
        audit("insights.staff_add", venue)
        flash(_("Staff phone added: it is left out of every figure."))
    return redirect(url_for("operator.insights", venue=venue), code=303)


@bp.post("/<venue>/insights/retention")
def insights_retention(venue: str):
    load_map(venue)
    privacy = services().privacy
    changes = {}
    for kind in RETENTION:
        raw = request.form.get(kind, "").strip()
        if not raw.isdigit():
            abort(400, _("Days must be whole numbers."))
        changes[kind] = int(raw)
    if changes["events_anonymise"] > changes["events_delete"]:
        abort(400, _("Events must be anonymised before they are deleted."))
    try:
        for kind, days in changes.items():
            privacy.set_retention(venue, kind, days)
    except ValueError as exc:
        abort(400, str(exc))
    audit("insights.retention", venue, **{k: str(v) for k, v in changes.items()})
    flash(_("Retention saved: the daily job applies it."))
    return redirect(url_for("operator.insights", venue=venue), code=303)
