"""What the consoles show of the insights: the figures of a day for a venue or a zone owner's zones, read
from the event log (portal/events/insights.py), with every count passed through k_safe; server-rendered
SVG charts (no JavaScript); CSV and Parquet exports of the same k-safe figures.

Times are in the venue's time zone (portal/apps/locale.py)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from time import time as time_now
from zoneinfo import ZoneInfo

import redis
from flask_babel import gettext as _
from markupsafe import Markup

from portal.apps.locale import read_venue_locale
from portal.events.insights import K_MIN, Funnel, Insights, compute, k_safe, staff_devices
from portal.events.log import EventKeys
from portal.services import Services

LOOKBACK_DAYS = 30  # new vs repeat and staff detection look back this far
STAFF_DETECTION_DAYS = 7  # staff phones are detected over the week before the period


def venue_staff(svc, venue: str, events: list, since: float, tz) -> set[str]:
    """The devices the figures leave out as staff: detected over the week before `since` in `events` (read
    from LOOKBACK_DAYS before it), and those on the operator's list. One rule for the insights and the
    moments preview."""
    detected = staff_devices((e for e in events if e.at >= since - STAFF_DETECTION_DAYS * 86400), tz)
    return detected | svc.privacy.staff(venue)
CACHE_TTL_S = 60  # figures of a range still filling up: at most a minute old
PAST_TTL_S = 900  # a range over for good (late events and retention aside)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def venue_tz(svc: Services, venue_map) -> str:
    """The venue's time zone (its portal config's `time_zone`, else the TIME_ZONE setting)."""
    return read_venue_locale(svc, venue_map.id).time_zone.key


def day_bounds(day: date, tz: str) -> tuple[float, float]:
    start = datetime.combine(day, time(0), ZoneInfo(tz))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def day_insights(svc: Services, venue_map, day: date, zones: list[str] | None = None, days: int = 1,
                 now: float | None = None) -> Insights:
    """The figures of `days` days ending with `day` (the venue's zone) for the whole venue or for `zones`,
    from a short cache (CACHE_TTL_S; a range that is over for good: PAST_TTL_S) shared by every worker:
    a console view does not read and recompute a month of events each time. An erasure or a retention
    run starts a new cache generation."""
    tz = venue_tz(svc, venue_map)
    since, until = day_bounds(day - timedelta(days=days - 1), tz)[0], day_bounds(day, tz)[1]
    keys = EventKeys(venue_map.id)
    scope = hashlib.sha256(",".join(sorted(zones)).encode()).hexdigest()[:16] if zones is not None else "*"
    try:
        generation = int(svc.db.get(keys.insights_generation()) or 0)
        cache_key = keys.insights_cache(generation, scope, since, until)
        cached = svc.db.get(cache_key)
    except redis.RedisError:
        cache_key, cached = None, None  # fail open: compute
    if cached:
        return insights_from_json(cached)
    events = list(svc.events.read(venue_map.id, since=since - LOOKBACK_DAYS * 86400, until=until))
    staff = venue_staff(svc, venue_map.id, events, since, tz)
    figures = compute(events, venue_map.id, since, until, tz=tz, zones=zones, staff=staff,
                      allowed=svc.privacy.allowed(venue_map.id))
    if cache_key is not None:
        over = until + svc.presence.leave_after_s < (time_now() if now is None else now)
        with contextlib.suppress(redis.RedisError):
            svc.db.set(cache_key, insights_to_json(figures), ex=PAST_TTL_S if over else CACHE_TTL_S)
    return figures


def insights_to_json(ins: Insights) -> str:
    return json.dumps(asdict(ins), separators=(",", ":"))


def insights_from_json(raw: bytes | str) -> Insights:
    data = json.loads(raw)
    data["zones"] = tuple(data["zones"]) if data["zones"] is not None else None
    data["transitions"] = [tuple(t) for t in data["transitions"]]
    data["paths"] = [(tuple(p), n) for p, n in data["paths"]]
    data["funnels"] = [Funnel(**f) for f in data["funnels"]]
    return Insights(**data)


def shown(n: int | None) -> str:
    """A count as a page shows it: below k, "<5"."""
    safe = k_safe(n)
    return f"<{K_MIN}" if safe is None else str(safe)


def rate(part: int, whole: int) -> str:
    """A percentage, shown only when both counts may be."""
    if whole == 0 or k_safe(part) is None or k_safe(whole) is None:
        return "—"
    return f"{100 * part / whole:.0f}%"


@dataclass(frozen=True)
class Row:
    metric: str
    zone: str
    key: str
    value: int | None  # None: fewer than k (suppressed)


def rows(ins: Insights, names: dict[str, str]) -> list[Row]:
    """Every figure of the page as k-safe rows (what the exports hold)."""
    scope = ",".join(ins.zones) if ins.zones else "*"
    out = [Row("visitors", scope, "", k_safe(ins.visitors)), Row("passers_by", scope, "", k_safe(ins.passers_by)),
           Row("new_shoppers", scope, "", k_safe(ins.new)), Row("repeat_shoppers", scope, "", k_safe(ins.repeat))]
    out += [Row("dwell_visits", scope, label, k_safe(n)) for label, n in ins.dwell_histogram()]
    for d, hours in enumerate(ins.heatmap):
        out += [Row("arrivals_hour_of_week", scope, f"{DAYS[d]} {h:02d}", k_safe(n)) for h, n in enumerate(hours) if n]
    out += [Row("flow", a, b, k_safe(n)) for a, b, n in ins.transitions if k_safe(n)]
    out += [Row("path", " > ".join(p), "", k_safe(n)) for p, n in ins.paths if k_safe(n)]
    for f in ins.funnels:
        out += [Row(f"funnel_{step}", f.zone, "", k_safe(n)) for step, n in (
            ("in_zone", f.in_zone), ("landed", f.landed), ("transacted", f.transacted), ("referred", f.referred))]
    return out


def to_csv(data: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["metric", "zone", "key", "value"])
    for r in data:
        writer.writerow([r.metric, r.zone, r.key, "" if r.value is None else r.value])
    return buffer.getvalue()


def to_parquet(data: list[Row]) -> bytes:
    # lazy: pyarrow only when a Parquet export is asked for
    import pyarrow as pa

    # lazy: pyarrow only when a Parquet export is asked for
    import pyarrow.parquet as pq

    table = pa.table({"metric": [r.metric for r in data], "zone": [r.zone for r in data],
                      "key": [r.key for r in data], "value": pa.array([r.value for r in data], type=pa.int64())})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# ---- charts: small server-rendered SVGs ----------------------------------------------------------


def bar_chart(items: list[tuple[str, int | None]], title: str, chart_id: str, width: int = 520) -> Markup:
    """Horizontal bars, one per (label, count); a suppressed count is drawn as an empty "<5" bar."""
    row_h, label_w = 22, 150
    height = row_h * len(items) + 30
    top = max([1, *(n for _, n in items if n)])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>{escape(title)}</title>',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i, (label, n) in enumerate(items):
        y = 24 + i * row_h
        bar = 0 if not n else max(2, int((width - label_w - 60) * n / top))
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{bar}" height="{row_h - 6}" fill="#0b57d0"/>')
        parts.append(f'<text x="{label_w + bar + 6}" y="{y + 14}" font-size="12">{shown(n) if n is not None else "<5"}'
                     '</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap_chart(grid: list[list[int]], title: str, chart_id: str) -> Markup:
    """Hour of week: 7 rows (Monday first) x 24 columns; cells below k drawn blank."""
    cell, left, top_y = 18, 40, 34
    width, height = left + 24 * cell + 4, top_y + 7 * cell + 4
    peak = max([1, *(n for row in grid for n in row if k_safe(n))])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>{escape(title)}</title>',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    for h in range(0, 24, 3):
        parts.append(f'<text x="{left + h * cell}" y="{top_y - 4}" font-size="10">{h:02d}</text>')
    for d, row in enumerate(grid):
        y = top_y + d * cell
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{DAYS[d]}</text>')
        for h, n in enumerate(row):
            safe = k_safe(n)
            alpha = 0.0 if not safe else 0.15 + 0.85 * safe / peak
            parts.append(f'<rect x="{left + h * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="#0b57d0" fill-opacity="{alpha:.2f}" stroke="#ddd"><title>{DAYS[d]} {h:02d}h: '
                         f'{shown(n)}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Occupancy:
    zone: str
    name: str
    now: int
    limit: int | None

    @property
    def alert(self) -> bool:
        return self.limit is not None and self.now >= self.limit

    @property
    def shown(self) -> str:
        return shown(self.now)


def occupancy(svc: Services, venue_map, zones: list[str], names: dict[str, str], now: float) -> list[Occupancy]:
    """Phones in each zone now, with the zone's alert threshold (an alert at or above it)."""
    counts, limits = svc.presence.occupancy(venue_map.id, now), svc.presence.limits(venue_map.id)
    return [Occupancy(z, names.get(z, z), counts.get(z, 0), limits.get(z)) for z in zones]


def page_context(ins: Insights, names: dict[str, str]) -> dict:
    """What the insights templates show: k-safe figures and the charts."""
    name = names.get
    funnels = [{"zone": f.zone, "name": name(f.zone, f.zone), "in_zone": shown(f.in_zone), "landed": shown(f.landed),
                "transacted": shown(f.transacted), "referred": shown(f.referred),
                "landed_rate": rate(f.landed, f.in_zone), "transacted_rate": rate(f.transacted, f.in_zone)}
               for f in ins.funnels]
    steps = (_("in zone"), _("landed"), _("transacted"))
    funnel_bars = [(f"{name(f.zone, f.zone)}: {step}", k_safe(n)) for f in ins.funnels
                   for step, n in zip(steps, (f.in_zone, f.landed, f.transacted), strict=True)]
    return {
        "visitors": shown(ins.visitors), "passers_by": shown(ins.passers_by),
        "capture": rate(ins.visitors, ins.visitors + ins.passers_by),
        "mean_dwell_min": (f"{ins.mean_dwell_s / 60:.1f}" if ins.mean_dwell_s is not None and len(ins.dwell_s) >= K_MIN
                           else "—"),
        "new": shown(ins.new), "repeat": shown(ins.repeat),
        "flows": [(name(a, a), name(b, b), shown(n)) for a, b, n in ins.transitions if k_safe(n)],
        "paths": [(" → ".join(name(z, z) for z in p), shown(n)) for p, n in ins.paths if k_safe(n)],
        "funnels": funnels,
        "dwell_chart": bar_chart([(label, k_safe(n)) for label, n in ins.dwell_histogram()], _("Dwell time"),
                                 "chart-dwell"),
        "heatmap_chart": heatmap_chart(ins.heatmap, _("Arrivals by hour of the week"), "chart-heatmap"),
        "funnel_chart": bar_chart(funnel_bars, _("Funnels"), "chart-funnel") if funnel_bars else "",
        "k": K_MIN,
    }
