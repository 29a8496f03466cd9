"""Insights for the operator: the whole venue's figures of a day, read from the event log
(portal/events), k-anonymous, with charts; exports; live occupancy with alert thresholds; staff phones.

    GET  /console/ops/<venue>/insights?day=YYYY-MM-DD&period=day|week|month    figures and charts (HTML)
    GET  /console/ops/<venue>/insights/export.csv?day=...    the same figures as rows (CSV | .parquet)
    POST /console/ops/<venue>/insights/limit                 zone, limit: the zone's occupancy alert
    POST /console/ops/<venue>/insights/alerts                alert_url: where occupancy alerts are POSTed
    POST /console/ops/<venue>/insights/staff                 mac (add) or remove=<client id>: staff phones
    POST /console/ops/<venue>/insights/retention             days per data kind (the daily job applies them)

An export (this console's and a zone owner's, portal/owner/insights.py: `export_response`; the insights API's JSON,
portal/insights_api.py; `flask insights export`'s file of several venues and periods, portal/events/cli.py: each
made by `build_export`) holds what the page shows: every count, the mean dwell and the rates, each row with a
status (a figure held back is "suppressed", its value empty: never read as 0) and with the venue, the period and
the zone's name (`COLUMNS`: rows of several files put together still say which mall, period and zone they are
about), and says what it is: venue, scope, period (a period not settled yet: `partial`, up to when), time zone, k,
the definitions and limits the page gives (`figure_definitions`). CSV: those as "# key: text" lines above the
header (pandas: read_csv(path, comment="#"); a spreadsheet shows them as the first rows), UTF-8 with a byte-order
mark so that a spreadsheet reads the Chinese right; Parquet: the same in the file's key-value metadata. Every export
is written to the venue's audit log (who, format, scope, period) and to the export list the insights page shows
(`audit_insights_export`); the insights API's calls, to the audit log only, one roll-up per token and hour
(`audit_api_export`)."""

from __future__ import annotations

import calendar
import csv
import io
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import N_, CatalogInputError, InputError
from portal.apps.views import is_zh
from portal.auth import AuditLog, audit, current_account
from portal.errors import input_error_text
from portal.events.insights import K_MIN, VISITOR_MIN_S, Insights
from portal.events.moments import RuleError
from portal.events.privacy import RETENTION, retention_problems
from portal.events.report import Row, day_insights, mean_dwell_shown, occupancy, page_context, rows, venue_tz
from portal.operator.blueprint import bp
from portal.operator.footfall import _day
from portal.operator.mapedit import load_map, zone_names
from portal.services import services

# Werkzeug adds "; charset=utf-8" to a text/* mimetype itself (named here too, it was sent twice).
EXPORTS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
# An export's columns: since 2026-12-07 the venue, the period and the zone's name lead or join the first five.
COLUMNS = ("venue", "period_from", "period_until", "metric", "zone", "zone_name", "key", "value", "status")
EXPORTS_LISTED = 20  # the insights page lists the latest exports; the audit log keeps every one
MAX_LIMIT = 100_000


PERIODS = ("day", "week", "month")


def whole_number(raw: str, digits: int = 9) -> int | None:
    """A form's or query's whole number, ASCII digits only: str.isdigit() also passes "²" or "①", which
    int() refuses (a 500); the digit bound keeps int() well inside its own limit."""
    return int(raw) if re.fullmatch(rf"[0-9]{{1,{digits}}}", raw) else None


def period(day: date) -> tuple[str, date, int]:
    """?period=day|week|month (the older ?days=1|7 read as day|week), as `period_of` reads it; refused: 400."""
    raw = request.args.get("period") or {"1": "day", "7": "week"}.get(request.args.get("days", "1"), "")
    try:
        return period_of(raw, day)
    except CatalogInputError as exc:
        abort(400, input_error_text(exc))


def period_of(name: str, day: date, field: str = "period") -> tuple[str, date, int]:
    """The day, the ISO week (Monday to Sunday) or the calendar month that holds `day` (`name`: day, week or
    month), as (name, its last day, its days); another name: a CatalogInputError naming `field`. Only these
    fixed periods (the consoles', the insights API's, `flask insights export`'s), so that no two windows of
    different lengths end on any day (their figures subtracted would give a day's figure below k); and a longer
    period shows a figure only when each of its days would (insights.withhold)."""
    if name == "day":
        return name, day, 1
    if name == "week":
        return name, day + timedelta(days=6 - day.weekday()), 7
    if name == "month":
        days = calendar.monthrange(day.year, day.month)[1]
        return name, day.replace(day=days), days
    raise CatalogInputError(field, N_("The period must be a day, a week or a month."))


def not_after_today(venue: str, day: date, field: str = "day") -> date:
    """`day`, unless it is after the venue's today (its time zone): an InputError naming `field` then. For the
    machine exports (the insights API, `flask insights export`): a period not begun would be rows of zeros marked
    partial, which a program would store as figures."""
    today = services().footfall.today(venue)
    if day > today:
        raise InputError(field, f"{day.isoformat()} is after the venue's today ({venue}: {today.isoformat()}): "
                                "it has no figures yet")
    return day


def period_span(name: str, last: date, days: int) -> str:
    """A period as an export's audit entry and file name keep it: the day, else the period and its first
    and last day ("month 2026-03-01..2026-03-31"), so that a month's export never reads as one day's."""
    if days == 1:
        return last.isoformat()
    return f"{name} {(last - timedelta(days=days - 1)).isoformat()}..{last.isoformat()}"


def retention_labels() -> dict[str, str]:
    """The retention kinds (privacy.RETENTION) in the page's language."""
    return {"events_anonymise": _("event log: phone and shopper ids replaced by unlinkable ones"),
            "events_delete": _("event log: deleted"),
            "deliveries_delete": _("moments delivery log and undelivered notifications: deleted")}


def _span_text(scope: str) -> str:
    """"week 2026-03-02..2026-03-08 <rest>" in the page's language; anything else as it is."""
    if spanned := re.fullmatch(r"(week|month) (\S+)\.\.(\S+)(.*)", scope):
        word = {"week": _("week"), "month": _("month")}[spanned.group(1)]
        return f"{word} {spanned.group(2)} – {spanned.group(3)}{spanned.group(4)}"
    return scope


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
        elif scope.endswith(" venue"):  # what export_insights writes: "<day or span> venue"
            scope = _("%(span)s whole venue", span=_span_text(scope[:-6]))
        else:
            scope = _span_text(scope)
        out.append({**entry, "who": words.get(entry.get("who"), entry.get("who")),
                    "what": words.get(entry.get("what"), entry.get("what")), "scope": words.get(scope, scope)})
    return out


@bp.get("/<venue>/insights")
def insights(venue: str):
    return _page(venue, request.args.get("day"))


def _page(venue: str, day_raw: str | None, retention_typed: dict[str, str] | None = None,
          retention_errors: dict[str, str] | None = None, limit_error: dict[str, str] | None = None) -> str:
    """The insights page; a refused form shows again with what was typed and the reason by its field."""
    venue_map = load_map(venue)
    day = _day(day_raw, venue)
    names = zone_names(venue_map)
    name, last, days = period(day)
    figures = day_insights(services(), venue_map, last, days=days)
    return render_template(
        "operator/insights.html", venue=venue, map=venue_map, day=day.isoformat(), period=name, periods=PERIODS,
        f=page_context(figures, names), definitions=figure_definitions(),
        occupancy=occupancy(services(), venue_map, [z.id for z in venue_map.zones], names, time.time()),
        staff=sorted(services().privacy.staff(venue)), staff_excluded=figures.excluded_staff,
        retention=retention_typed or services().privacy.retention(venue), retention_kinds=RETENTION,
        retention_labels=retention_labels(), retention_errors=retention_errors or {}, limit_error=limit_error,
        alert_url=services().moments.alert_url(venue),
        exports=audit_rows(services().privacy.exports(venue, EXPORTS_LISTED)), exports_shown=EXPORTS_LISTED)


@bp.get("/<venue>/insights/export.<fmt>")
def insights_export(venue: str, fmt: str):
    if fmt not in EXPORTS:
        abort(404)
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    name, last, days = period(day)
    figures = day_insights(services(), venue_map, last, days=days)
    return export_response(fmt, venue_map, figures, period_span(name, last, days), *export_scope(venue_map))


def export_scope(venue_map, zone: str | None = None) -> tuple[str, str]:
    """What an export is about, as (its audit's scope: "venue" or the zone id, its metadata's `scope` in the
    export's language): the whole venue, or one zone (a zone owner's, the insights API's `zone=`)."""
    if zone is None:
        whole = _("the whole venue")  # outside the f-string: the catalog's extractor reads no call inside one
        return "venue", f"* ({whole})"
    return zone, f"{zone} ({zone_names(venue_map).get(zone, zone)})"


@dataclass(frozen=True)
class Export:
    """One venue's figures of one period as every export holds them: `table`, rows in `COLUMNS` order; `meta`,
    what the export says about itself (`export_meta`); `until`, for a period not settled yet (report.shown_from),
    the end `period_iso` gives it, else None: its figures are final."""

    table: list[tuple]
    meta: list[tuple[str, str]]
    until: str | None

    @property
    def partial(self) -> bool:
        return self.until is not None

    def records(self) -> list[dict]:
        """The rows as objects named by `COLUMNS` (the insights API's JSON)."""
        return [dict(zip(COLUMNS, row, strict=True)) for row in self.table]


def build_export(venue_map, figures: Insights, span: str, scope: str,
                 extra: tuple[tuple[str, str], ...] = ()) -> Export:
    """The one way figures become an export (both consoles' files, the insights API's JSON, `flask insights
    export`): the page's figures as rows (`export_rows`: FiguresNotShown, a 409, when the page shows none), each
    stamped with the venue and the period (`COLUMNS`), and the metadata (`export_meta`: `scope` and `extra`
    there). Audited by the caller (`audit_insights_export`), who knows who asked."""
    data = export_rows(figures, zone_names(venue_map))
    tz = venue_tz(services(), venue_map)  # read once: the store's venue config, for every time the export writes
    since, until = period_iso(tz, figures)
    table = [(venue_map.id, since, until, r.metric, r.zone, r.zone_name, r.key, r.value, r.status) for r in data]
    return Export(table, export_meta(venue_map, figures, span, scope, tz, (since, until), extra),
                  until if figures.as_of is not None else None)


def audit_insights_export(venue: str, who: str, fmt: str, audited: str, span: str, until: str | None = None,
                          **detail: str) -> None:
    """An export handed out (a console's, `flask insights export`'s; the insights API's: `audit_api_export`), in the
    export list the insights page shows and in the venue's audit log, which `flask audit` and the console's audit
    page show: who (an account, "cli"), format, scope ("venue" or the zone), period, `until` for a period not settled
    yet, and `detail` (how it was asked for); no shopper's data."""
    services().privacy.audit_export(venue, who, f"insights.{fmt}", f"{span} {audited}")
    to_date = {"until": until} if until is not None else {}
    AuditLog(services().db).record(venue, who, "insights.export", format=fmt, scope=audited, period=span,
                                   **to_date, **detail)


def audit_api_export(venue: str, label: str, call: str, audited: str, span: str) -> None:
    """A call of the insights API (`call`: its id), in the venue's audit log under the token's label: one entry per
    hour (`AuditLog.record_call`: how many calls, which periods and scopes), apart from the log's other entries and
    from the insights page's export list, which a partner's calls (up to its budget, thousands a day) pushed out;
    counted once however often its write is sent."""
    AuditLog(services().db).record_call(venue, label, "insights.export", call, f"{span} {audited}", format="json",
                                        via="api")


def export_response(fmt: str, venue_map, figures: Insights, span: str, audited: str, scope: str,
                    extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """The figures as a download (both consoles'): `build_export` (`scope` and `extra` in its metadata), named by
    venue and period, "to-date" while it is under way, audited under the signed-in account (`audited`: "venue" or
    the zone)."""
    export = build_export(venue_map, figures, span, scope, extra)
    audit_insights_export(venue_map.id, current_account().username, fmt, audited, span, export.until)
    return Response(export_body(fmt, export.table, export.meta), mimetype=EXPORTS[fmt],
                    headers=export_headers(venue_map.id, span, fmt, partial=export.partial))


def figure_definitions() -> list[tuple[str, str, str]]:
    """What the figures mean and where they fall short, as (key, term, text) in the page's language: on the pages
    (templates/insights/_figures.html) and in every export's metadata (`export_meta`). README "Insights and
    moments" has the long form; portal/events/insights.py the rules."""
    minutes = int(VISITOR_MIN_S // 60)
    return [
        ("visitors", _("Visitors"), _("Phones that stayed at least %(min)d minutes on some visit of the period (in "
                                      "a zone’s figures: in that zone).", min=minutes)),
        ("passers_by", _("Passers-by"), _("Phones seen in the period that never stayed %(min)d minutes.",
                                          min=minutes)),
        ("capture_rate", _("Capture rate"), _("Visitors ÷ (visitors + passers-by).")),
        ("completed_visits", _("Completed visits only"), _(
            "Visitors, passers-by, dwell and mean dwell count a visit once it has ended, on the day it ends: a "
            "phone still inside is not counted yet.")),
        # What portal/events/insights.py NOT_TRANSACTIONS leaves counted: free engagement too, as a mall counts it.
        ("transacted", _("Transacted"), _(
            "A purchase (a paid one once paid), a coupon claimed or redeemed, a draw or its prize collected, a queue "
            "ticket, a booking, or a sign-up to an activity or to the membership: free ones count too. Not a seat "
            "hold, a refund (a purchase refunded later still counts), a member’s sign-in, a cancelled sign-up or a "
            "partner-link click (its own column).")),
        ("funnel", _("Funnel"), _(
            "“In zone” counts every phone seen in the zone; “Landed on its page” and “Transacted” count only "
            "shoppers who agreed to location use, so their rates understate how many did.")),
        ("phones", _("Phones, not people"), _(
            "A phone is counted by the MAC the APs hear: one not connected to the WiFi may change it between its "
            "scans (iOS and Android randomise it), and is then counted again, so where many phones pass without "
            "connecting, phones seen and passers-by read high.")),
        ("positioning", _("Positioning"), _(
            "Positions are estimated from WiFi signals and can be several metres off: a phone near a zone’s edge "
            "may be counted in the zone beside it.")),
    ]


@dataclass(frozen=True)
class ExportRow:
    metric: str
    zone: str  # a zone id; "*": the whole venue; a path's zones joined by " > "; an owner scope's by ","
    zone_name: str  # the same in the export's language (`zone_label`)
    key: str
    value: int | float | None  # a count, minutes (mean_dwell_min) or a percentage (*_rate_pct); None: see `status`
    status: str  # shown | suppressed (below k) | anonymised | incomplete | no_data (a mean or rate of nothing)


def export_rows(ins: Insights, names: dict[str, str]) -> list[ExportRow]:
    """What the page shows, as an export's rows: every count (report.rows: k-safe; FiguresNotShown, a 409, when
    the page shows none) and the page's mean dwell and rates, each with its status."""
    counts = rows(ins, names)
    scope = counts[0].zone  # report.rows begins with the scope's visitors
    scope_name = zone_label(scope, names)
    out = [ExportRow(r.metric, r.zone, zone_label(r.zone, names), r.key, r.value, _status(r)) for r in counts]
    got = {(r.metric, r.zone): r for r in out}
    mean = mean_dwell_shown(ins, ins.shown().safe)  # the page's: shown only over k phones' stays
    out.append(ExportRow("mean_dwell_min", scope, scope_name, "", None if mean == "—" else float(mean),
                         "no_data" if not ins.dwell_s else "suppressed" if mean == "—" else "shown"))
    visitors = got[("visitors", scope)]
    out.append(_rate_row("capture_rate_pct", visitors, visitors, [visitors, got[("passers_by", scope)]]))
    for f in ins.funnels:
        in_zone = got[("funnel_in_zone", f.zone)]
        out += [_rate_row(f"funnel_{step}_rate_pct", in_zone, got[(f"funnel_{step}", f.zone)], [in_zone])
                for step in ("landed", "transacted")]
    return out


def zone_label(zone: str, names: dict[str, str]) -> str:
    """An export row's `zone` in the export's language: "*" the whole venue, a path's zones by " > ", a scope's of
    several by ", "."""
    if zone == "*":
        return _("the whole venue")
    if " > " in zone:
        return " > ".join(names.get(z, z) for z in zone.split(" > "))
    return ", ".join(names.get(z, z) for z in zone.split(","))


def _status(row: Row) -> str:
    """Why a count has no value (report.rows marks an anonymised one by its key), or "shown"."""
    if row.metric == "incomplete":
        return "incomplete"
    if row.value is None:
        return "anonymised" if row.key == "anonymised" else "suppressed"
    return "shown"


def _rate_row(metric: str, of: ExportRow, part: ExportRow, whole: list[ExportRow]) -> ExportRow:
    """A percentage of counts already in the export, as the page's `report.rate`: only when all are shown (else
    the status of the first held back), none of no whole; in the zone of the row `of`."""
    held = next((r.status for r in (part, *whole) if r.value is None), None)
    if held is not None:
        return ExportRow(metric, of.zone, of.zone_name, "", None, held)
    total = sum(r.value for r in whole)
    if not total:
        return ExportRow(metric, of.zone, of.zone_name, "", None, "no_data")
    return ExportRow(metric, of.zone, of.zone_name, "", float(f"{100 * part.value / total:.4g}"), "shown")


def export_meta(venue_map, ins: Insights, span: str, scope: str, tz: str, period: tuple[str, str],
                extra: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
    """What an export says about itself, as (key, text): venue (its name in the export's language, the other
    language's where it has none), scope, period (`period`: its start and end as `period_iso` wrote them; partial:
    the period has not settled yet, report.shown_from: under way, `until` is when its figures were made; over, its
    last visits are still being counted), time zone (`tz`, the venue's), k,
    what a row's status means, then `extra` and the definitions the page gives."""
    since, until = period
    return [
        ("export", "MallPortal insights"), ("venue", f"{venue_map.id} ({venue_map.label(is_zh())})"),
        ("scope", scope), ("period", span), ("from", since), ("until", until),
        ("partial", str(ins.as_of is not None).lower()), ("time_zone", tz), ("k", str(K_MIN)),
        ("value", _("counts of phones (of shoppers, for new and repeat), visits or moves as the metric says; "
                    "mean_dwell_min in minutes; *_rate_pct in percent.")),
        ("status", _("shown; suppressed: fewer than %(k)d phones stand behind the figure, or it would give such a "
                     "figure away by subtraction, so its value is left empty (never 0); anonymised: part of the "
                     "period is anonymised, so this count of distinct phones is not made; incomplete: the event log "
                     "no longer holds the history it needs; no_data: a mean or rate of nothing.", k=K_MIN)),
        *extra,
        *((f"definition.{key}", f"{term}: {text}") for key, term, text in figure_definitions()),
        ("exported_at", venue_iso(tz, time.time())),
    ]


def venue_iso(tz: str, ts: float) -> str:
    """An instant as an export writes it: ISO 8601 in the venue's time zone (`tz`: report.venue_tz), with its
    offset."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="minutes")


def period_iso(tz: str, ins: Insights) -> tuple[str, str]:
    """The period's start and end as an export writes them (`venue_iso`); a period still under way ends when its
    figures were made (`Insights.as_of`, to the second), not at its last day's midnight. One that is over ends at
    its end, settled or not (`partial` says whether its figures may still change)."""
    if ins.as_of is None or ins.as_of >= ins.until:
        return venue_iso(tz, ins.since), venue_iso(tz, ins.until)
    return venue_iso(tz, ins.since), datetime.fromtimestamp(ins.as_of, ZoneInfo(tz)).isoformat(timespec="seconds")


def export_body(fmt: str, table: list[tuple], meta: list[tuple[str, str]]) -> str | bytes:
    """The file of `table` (rows in `COLUMNS` order: `Export.table`, or several put together) and `meta`."""
    return _csv(table, meta) if fmt == "csv" else _parquet(table, meta)


def _csv(data: list[tuple], meta: list[tuple[str, str]]) -> str:
    """The metadata as "# key: text" lines (one line each, no double quote: a spreadsheet reads them as text), a
    byte-order mark first (a spreadsheet then reads UTF-8, not the system's code page); then the rows."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    for key, text in meta:
        buffer.write(f"# {key}: {' '.join(text.split())}\r\n".replace('"', "'"))
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(["" if v is None else v for v in row] for row in data)  # only a value may be None
    return buffer.getvalue()


def _parquet(data: list[tuple], meta: list[tuple[str, str]]) -> bytes:
    # lazy: pyarrow only when a Parquet export is asked for
    import pyarrow as pa

    # lazy: pyarrow only when a Parquet export is asked for
    import pyarrow.parquet as pq

    columns = {name: [row[i] for row in data] for i, name in enumerate(COLUMNS)}
    columns["value"] = pa.array(columns["value"], type=pa.float64())
    table = pa.table(columns).replace_schema_metadata(dict(meta))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def export_headers(venue: str, span: str, fmt: str, partial: bool = False) -> dict[str, str]:
    """The download's name: the venue and the period's span (`period_span`), as its audit entry names it; "-to-date"
    after it while the period is still under way (a month's file of its first week is no month's file)."""
    name = f"insights-{venue}-{span.replace(' ', '-').replace('..', '_')}{'-to-date' if partial else ''}.{fmt}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@bp.post("/<venue>/insights/limit")
def insights_limit(venue: str):
    venue_map = load_map(venue)
    zone = request.form.get("zone", "")
    raw = request.form.get("limit", "").strip()[:40]
    if venue_map.zone(zone) is None:
        abort(400, _("Unknown zone."))
    limit = whole_number(raw)
    problem = None
    if raw and (limit is None or limit > MAX_LIMIT):
        problem = _("The limit must be a whole number from 0 to %(n)d.", n=MAX_LIMIT)
    elif limit and limit < K_MIN:  # "over the limit" beside 1-4 would tell a count below k (presence.set_limit)
        problem = _("The limit must be 0 (no alert) or at least %(k)d: an alert below %(k)d would point at a "
                    "few shoppers.", k=K_MIN)
    if problem:
        return _page(venue, request.form.get("day"), limit_error={"zone": zone, "typed": raw, "message": problem}), 400
    services().presence.set_limit(venue, zone, limit)
    audit("insights.limit", venue, zone=zone, limit=raw)
    return redirect(url_for("operator.insights", venue=venue, day=request.form.get("day") or None), code=303)


@bp.post("/<venue>/insights/alerts")
def insights_alerts(venue: str):
    load_map(venue)
    settings = services().settings
    try:
        services().moments.set_alert_url(venue, request.form.get("alert_url", "")[:600],
                                         allow_private=settings.webhook_allow_private)
    except RuleError as exc:
        if "host" in exc.params:  # an internal address: which one, and why not
            abort(400, _(exc.template, label=_("Alert address"), **exc.params))
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
    """Every kind's days checked before any is written, then written at once (privacy.set_retention); a
    refused form shows again with the typed days and each field's reason."""
    load_map(venue)
    typed = {kind: request.form.get(kind, "").strip()[:12] for kind in RETENTION}
    days = {kind: n for kind, raw in typed.items() if (n := whole_number(raw)) is not None}
    errors = {kind: _("Days must be whole numbers.") for kind in RETENTION if kind not in days}
    for kind, problem in retention_problems(days).items():
        errors.setdefault(kind, _(problem.template, **problem.params))
    if errors:
        return _page(venue, None, retention_typed=typed, retention_errors=errors), 400
    before = services().privacy.set_retention(venue, days)
    audit("insights.retention", venue, **{kind: f"{before[kind]} -> {days[kind]}" for kind in RETENTION})
    flash(_("Retention saved: the daily job applies it."))
    return redirect(url_for("operator.insights", venue=venue), code=303)
