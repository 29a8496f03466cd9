"""Insights for the operator: the whole venue's figures of a day, read from the event log
(portal/events), k-anonymous, with charts; exports; live occupancy with alert thresholds; staff phones.

    GET  /console/ops/<venue>/insights?day=YYYY-MM-DD        figures and charts (HTML)
    GET  /console/ops/<venue>/insights/export.csv?day=...    the same figures as rows (CSV | .parquet)
    POST /console/ops/<venue>/insights/limit                 zone, limit: the zone's occupancy alert
    POST /console/ops/<venue>/insights/alerts                alert_url: where occupancy alerts are POSTed
    POST /console/ops/<venue>/insights/staff                 mac (add) or remove=<client id>: staff phones
    POST /console/ops/<venue>/insights/retention             days per data kind (the daily job applies them)"""

from __future__ import annotations

import time

from flask import Response, abort, flash, redirect, render_template, request, url_for
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


def period_days() -> int:
    """?days=N: the period ends with the day and is N days long (1 to 31; 7 fills the hour-of-week map)."""
    raw = request.args.get("days", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 31:
        abort(400, _("The period must be 1 to 31 days."))
    return int(raw)


def zone_names(venue_map) -> dict[str, str]:
    zh = str(request.args.get("lang")) == "zh"
    return {z.id: (z.name_zh if zh else z.name) for z in venue_map.zones}


@bp.get("/<venue>/insights")
def insights(venue: str):
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    names = zone_names(venue_map)
    figures = day_insights(services(), venue_map, day, days=period_days())
    return render_template(
        "operator/insights.html", venue=venue, map=venue_map, day=day.isoformat(), days=period_days(),
        f=page_context(figures, names),
        occupancy=occupancy(services(), venue_map, [z.id for z in venue_map.zones], names, time.time()),
        staff=sorted(services().privacy.staff(venue)), staff_excluded=figures.excluded_staff,
        retention=services().privacy.retention(venue), retention_kinds=RETENTION,
        alert_url=services().moments.alert_url(venue),
        exports=services().privacy.exports(venue, 20))


@bp.get("/<venue>/insights/export.<fmt>")
def insights_export(venue: str, fmt: str):
    if fmt not in EXPORTS:
        abort(404)
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    data = rows(day_insights(services(), venue_map, day, days=period_days()), zone_names(venue_map))
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
