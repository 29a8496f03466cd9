"""What the consoles show of the insights: the figures of a day for a venue or a zone owner's zones, read
from the event log (portal/events/insights.py), with every count passed through k_safe; server-rendered
SVG charts (no JavaScript); CSV and Parquet exports of the same k-safe figures.

Two rules say when there are no figures to show, each with a notice (`notice`) and a refused export (409):
- a zone owner, and the insights API at every scope (`settled_only`), sees a period once it is over and settled
  (`shown_from`): the operator sees today's figures as they fill up, but anyone else refreshing them would see one
  shopper's visit as the difference (a visitor more, her dwell, her path, her purchase, the hour she came), which
  no k-check of either figure prevents; until `shown_from` the operator's figures are "so far" (`Insights.as_of`),
  never final;
- a period whose events the log no longer wholly holds (trimmed at EVENTS_MAXLEN: EventLog.kept_since)
  shows nothing rather than too few; when only the 30 days new-vs-repeat looks back over are cut, those two.

Times are in the venue's time zone (portal/apps/locale.py)."""

from __future__ import annotations

import contextlib
import json
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from time import time as time_now
from zoneinfo import ZoneInfo

import redis
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.exceptions import Conflict

from core.storage import name_digest
from portal.apps.locale import format_time, read_venue_locale
from portal.events.insights import (
    DWELL_BINS,
    K_MIN,
    Funnel,
    Insights,
    Prepared,
    figure,
    flow_key,
    funnel_key,
    heatmap_counts,
    k_safe,
    path_key,
    prepare,
    withhold,
)
from portal.events.log import EventKeys
from portal.events.presence import STAFF_DETECTION_DAYS, staff_phones
from portal.services import Services
from portal.tracking.models import venue_groups

LOOKBACK_DAYS = 30  # new vs repeat and staff detection look back this far


def venue_staff(svc, venue: str, events: list, since: float, tz) -> set[str]:
    """The devices the figures leave out as staff: presence.staff_phones (detected over the week before
    `since` in `events`, read from LOOKBACK_DAYS before it, and those on the operator's list). One rule for
    the insights, the moments preview and live occupancy (presence.StaffPhones)."""
    return staff_phones(events, svc.privacy.staff(venue), since, tz)
CACHE_TTL_S = 60  # figures of a range still filling up: at most a minute old
PAST_TTL_S = 900  # a range over for good (late events and retention aside)
# Part of every cache key: figures cached by an older computation (without Insights.phones, which would
# read as "no phone behind any figure"; 3: without Insights.anonymised, stays with no exit never ending; 4: periods
# withheld without the funnel pairs' rule, no `as_of` on a period still under way; 5: none on a period over but not
# settled, which read as final) are not read back.
FIGURES_FORMAT = 5
# After a period's end, before a zone owner sees it: the tracker's sweep (every 30 s) closes a stay
# LEAVE_AFTER_S after its last sighting, with a `leave` dated then; this much more lets it run.
SETTLE_S = 300
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # the exports' keys (stable); pages: day_name


def venue_tz(svc: Services, venue_map) -> str:
    """The venue's time zone (its portal config's `time_zone`, else the TIME_ZONE setting)."""
    return read_venue_locale(svc, venue_map.id).time_zone.key


def day_bounds(day: date, tz: str) -> tuple[float, float]:
    start = datetime.combine(day, time(0), ZoneInfo(tz))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def period_bounds(day: date, days: int, tz: str) -> tuple[float, float]:
    """The `days` days ending with `day`, as [since, until)."""
    return day_bounds(day - timedelta(days=days - 1), tz)[0], day_bounds(day, tz)[1]


def day_insights(svc: Services, venue_map, day: date, zones: list[str] | None = None, days: int = 1,
                 now: float | None = None, *, settled_only: bool = False) -> Insights:
    """The figures of `days` days ending with `day` (the venue's zone) for the whole venue or for `zones`
    (a zone owner's, and with `settled_only` any, the insights API's: only once the period has settled,
    `shown_from`; before, `hidden_until` says when); none of a period the event log no longer wholly holds
    (`Insights.incomplete`). From a short cache (CACHE_TTL_S; a range that is over for good:
    PAST_TTL_S) shared by every worker: a console view does not read and recompute a month of events each
    time. An erasure or a retention run starts a new cache generation. A longer period withholds what one of
    its days has too few of (insights.withhold)."""
    return scopes_insights(svc, venue_map, day, [zones], days, now, settled_only=settled_only)[0]


def scopes_insights(svc: Services, venue_map, day: date, scopes: list[list[str] | None], days: int = 1,
                    now: float | None = None, *, settled_only: bool = False) -> list[Insights]:
    """`day_insights` of each scope (None: the whole venue; else its zones), each what a call for it alone gives,
    with one clock reading and, for the scopes not cached, the venue's events read and prepared once for all (the
    insights API's several zones: each zone's own figures, never added up)."""
    tz = venue_tz(svc, venue_map)
    since, until = period_bounds(day, days, tz)
    now = time_now() if now is None else now
    shown_at = shown_from(svc, until)
    hidden = [(zones is not None or settled_only) and now < shown_at for zones in scopes]
    kept = None if all(hidden) else svc.events.kept_since(venue_map.id)
    history = _History(svc, venue_map, since, until, tz)
    out = []
    for zones, hide in zip(scopes, hidden, strict=True):
        if hide:
            out.append(Insights(venue_map.id, since, until, _scope(zones), hidden_until=shown_at))
        elif kept is not None and since < kept:  # nothing read: every figure would count too few
            out.append(Insights(venue_map.id, since, until, _scope(zones), kept_since=kept, incomplete=["period"]))
        else:
            figures = _cached_figures(svc, venue_map, day, days, zones, tz, now, history)
            if kept is not None and since - LOOKBACK_DAYS * 86400 < kept:
                figures.kept_since, figures.incomplete = kept, ["new_vs_repeat"]
            out.append(figures)
    return out


def shown_from(svc: Services, until: float) -> float:
    """When the figures of a period ending at `until` are final, and a zone owner and the insights API see them:
    once it is over and its last stays are closed (a visit is written when it ends, dated back). Figures of a
    period still filling up, read twice, differ by whoever came in between."""
    return until + svc.presence.leave_after_s + SETTLE_S


def latest_shown_day(svc: Services, venue_map, now: float | None = None) -> date:
    """The latest day a zone owner may see at `now`: the venue's yesterday once its last stays are closed
    (`shown_from`), else the day before, for the first minutes after the venue's midnight. One clock reading and
    the time zone `day_insights` bounds the days with, so the day chosen is one it shows."""
    now = time_now() if now is None else now
    tz = venue_tz(svc, venue_map)
    yesterday = datetime.fromtimestamp(now, ZoneInfo(tz)).date() - timedelta(days=1)
    _, until = day_bounds(yesterday, tz)
    return yesterday if now >= shown_from(svc, until) else yesterday - timedelta(days=1)


def _scope(zones: list[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted(set(zones))) if zones is not None else None


def _cached_figures(svc: Services, venue_map, day: date, days: int, zones: list[str] | None, tz: str,
                    now: float, history: _History) -> Insights:
    since, until = period_bounds(day, days, tz)
    keys = EventKeys(venue_map.id)
    zones_part = name_digest(",".join(sorted(zones))) if zones is not None else "*"  # zone ids hold no comma
    scope = f"{FIGURES_FORMAT}.{venue_map.version}.{zones_part}"  # a new map may group zones anew
    try:
        generation = int(svc.db.get(keys.insights_generation()) or 0)
        cache_key = keys.insights_cache(generation, scope, since, until)
        cached = svc.db.get(cache_key)
    except redis.RedisError:
        cache_key, cached = None, None  # fail open: compute
    settled = now >= shown_from(svc, until)
    if cached:
        figures = insights_from_json(cached)
        if not settled or figures.as_of is None:  # one made before the period settled is made again once it has
            return figures
    figures = _figures(svc, venue_map, day, days, zones, tz, history)
    # Not settled (under way, or its last visits still landing, dated back): its figures count it up to now, and
    # say so (`so_far`, an export's `partial`), never final.
    figures.as_of = None if settled else now
    if cache_key is not None:
        with contextlib.suppress(redis.RedisError):
            svc.db.set(cache_key, insights_to_json(figures), ex=PAST_TTL_S if settled else CACHE_TTL_S)
    return figures


class _History:
    """The venue's events of a period prepared for figuring (read from LOOKBACK_DAYS before it; before the staff
    window only what identifies someone: new vs repeat's look-back), read on the first ask and kept for the
    request's other scopes."""

    def __init__(self, svc: Services, venue_map, since: float, until: float, tz: str) -> None:
        self._svc, self._venue, self._span, self._tz = svc, venue_map.id, (since, until), tz
        self._prepared = None

    def prepared(self) -> Prepared:
        if self._prepared is None:
            svc, venue, (since, until) = self._svc, self._venue, self._span
            events = list(svc.events.read(venue, since=since - LOOKBACK_DAYS * 86400, until=until,
                                          sparse_until=since - STAFF_DETECTION_DAYS * 86400))
            staff = venue_staff(svc, venue, events, since, self._tz)
            self._prepared = prepare(events, staff=staff, allowed=svc.privacy.allowed(venue),
                                     leave_after_s=svc.presence.leave_after_s,
                                     paid_since=svc.events.paid_transactions_since(venue))
        return self._prepared


def _figures(svc: Services, venue_map, day: date, days: int, zones: list[str] | None, tz: str,
             history: _History | None = None) -> Insights:
    """Computed from the period's prepared history (`history`: the one the call's other scopes share, else its own):
    the period, then each of its days figured from it."""
    venue, groups = venue_map.id, venue_groups(venue_map)
    since, until = period_bounds(day, days, tz)
    prepared = (history or _History(svc, venue_map, since, until, tz)).prepared()
    period = figure(prepared, venue, since, until, tz=tz, zones=zones, groups=groups)
    if days > 1:
        withhold(period, [figure(prepared, venue, *day_bounds(day - timedelta(days=n), tz), tz=tz, zones=zones,
                                 top=None, groups=groups) for n in range(days)])
    return period


def insights_to_json(ins: Insights) -> str:
    return json.dumps(asdict(ins), separators=(",", ":"))


def insights_from_json(raw: bytes | str) -> Insights:
    data = json.loads(raw)
    data["zones"] = tuple(data["zones"]) if data["zones"] is not None else None
    data["transitions"] = [tuple(t) for t in data["transitions"]]
    data["paths"] = [(tuple(p), n) for p, n in data["paths"]]
    data["funnels"] = [Funnel(**f) for f in data["funnels"]]
    return Insights(**data)


class FiguresNotShown(Conflict):
    """An export of a period that has no figures to give (`notice` says why): a 409 with the reason rather
    than a file whose blanks would read as zeros."""


def notice(ins: Insights) -> str | None:
    """Why the period shows no figures, in the page's language (times in the venue's); None: it shows them."""
    if ins.hidden_until is not None:
        if ins.since <= time_now() < ins.until and ins.until - ins.since <= 25 * 3600:
            return _("Today's figures appear once the day is over, so that no refresh can single out one shopper.")
        return _("These figures appear at %(when)s, once the period is over, so that no refresh can single out "
                 "one shopper.", when=format_time(ins.hidden_until))
    if "period" in ins.incomplete:
        return _("This period's figures would be incomplete, so they are not shown: the event log keeps only "
                 "its latest events, those written from %(when)s on.", when=format_time(ins.kept_since))
    return None


def lookback_notice(ins: Insights) -> str | None:
    """Why new and repeat shoppers are not shown while the rest is; None: they are."""
    if "new_vs_repeat" not in ins.incomplete:
        return None
    if ins.managed_since is not None:
        return _("New and repeat shoppers are not shown: they look back %(days)d days, and you have managed this "
                 "zone only since %(when)s (whether a shopper came back would count the previous tenant's).",
                 days=LOOKBACK_DAYS, when=format_time(ins.managed_since))
    return _("New and repeat shoppers are not shown: they look back %(days)d days, and that history is "
             "incomplete (the event log keeps only the events written from %(when)s on).", days=LOOKBACK_DAYS,
             when=format_time(ins.kept_since))


def anonymised_notices(ins: Insights) -> list[str]:
    """Why some figures show "—" rather than a count (`Insights.anonymised`); empty: none do."""
    out = []
    if "visitors" in ins.anonymised:
        out.append(_("Part of this period is anonymised: each of its days has pseudonyms of its own, so a count of "
                     "distinct phones over several days would count one phone once a day. Visitors, passers-by and "
                     "the funnels are therefore shown for single days only."))
    if "new" in ins.anonymised:
        out.append(_("New and repeat shoppers are not shown: they look back %(days)d days, and part of that history "
                     "is anonymised, so a returning shopper would look new.", days=LOOKBACK_DAYS))
    return out


def shown(n: int | None, phones: int | None = None) -> str:
    """A count as a page shows it: "<5" below k, or when fewer than k phones or people stand behind it
    (`phones`; None: `n` counts distinct people itself)."""
    return label(k_safe(n, phones=phones))


def label(safe: int | None, n: int | None = None) -> str:
    """A count already made safe (k_safe, Insights.safe) as a page shows it. Held back (None): "<5" when its count
    `n` is 1..k-1 (or not given), else "withheld" (`withheld_note` says why): a count of k or more, or 0, held back
    because it would give a smaller one away by subtraction (a day of the period, the funnel's step before, the total
    beside it) or because fewer than k phones stand behind it. "<5" beside a count of dozens read as a small count."""
    if safe is not None:
        return str(safe)
    return f"<{K_MIN}" if n is None or 0 < n < K_MIN else _("withheld")


def withheld_note() -> str:
    """What "<5" and "withheld" (`label`) mean: the note above the pages' figures."""
    return _("“<%(k)d”: a count of 1 to %(below)d. “withheld”: a count of 0 or of %(k)d or more, held back because "
             "fewer than %(k)d phones stand behind it, or because with another figure (a day of the period, the "
             "funnel’s step before, the total beside it) it would give away a count below %(k)d.",
             k=K_MIN, below=K_MIN - 1)


def day_name(weekday: int) -> str:
    """Monday (0) .. Sunday (6), short, in the page's language."""
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))[weekday]


def dwell_label(lo: int, hi: int | None) -> str:
    """A dwell histogram bin, in the page's language (the exports keep insights.bin_label)."""
    return _("%(lo)d-%(hi)d min", lo=lo, hi=hi) if hi is not None else _("%(lo)d+ min", lo=lo)


def heatmap_title(ins: Insights) -> str:
    """The hour-of-week chart's title, naming what it counts (insights.heatmap_counts)."""
    if heatmap_counts(ins.zones) == "arrivals":
        return _("Arrivals by hour of the week")
    return _("Zone entries by hour of the week")


def heatmap_shade(ins: Insights) -> str:
    """The hour-of-week chart's legend for its shades (insights.heatmap_counts)."""
    if heatmap_counts(ins.zones) == "arrivals":
        return _("Shade: arrivals (darker: more)")
    return _("Shade: zone entries (darker: more)")


def dwell_title(ins: Insights) -> str:
    """The dwell chart's title, naming what its bars count: completed visits (the venue) or stays (a zone's)."""
    if ins.zones is None:
        return _("Dwell time (number of visits)")
    return _("Dwell time (number of stays)")


def rate(part: int | None, whole: int | None) -> str:
    """A percentage of two counts as `Insights.safe` gives them, shown only when both may be: one decimal, and never
    rounded to 0% while some phones did it nor to 100% while some did not (5 of 1,300 is "<0.1%", not "0%")."""
    if not whole or part is None:
        return "—"
    percent = 100 * part / whole
    if 0 < percent < 0.1:
        return "<0.1%"
    if 99.9 < percent < 100:
        return ">99.9%"
    return f"{percent:.1f}%"


@dataclass(frozen=True)
class Row:
    metric: str
    zone: str
    key: str
    value: int | None  # None: fewer than k (suppressed)


def rows(ins: Insights, names: dict[str, str]) -> list[Row]:
    """Every figure of the page as k-safe rows (what the exports hold). FiguresNotShown when the page shows
    none (`notice`); without new and repeat shoppers (`lookback_notice`), a row `incomplete` says so; a count
    the anonymisation broke (`anonymised_notices`) has the key `anonymised` and no value."""
    if (why := notice(ins)) is not None:
        raise FiguresNotShown(why)
    scope, safe = ",".join(ins.zones) if ins.zones else "*", ins.shown().safe  # decided once for all rows
    gone = set(ins.anonymised)

    def count(metric: str, zone: str, key: str, n: int) -> Row:
        return Row(metric, zone, "anonymised", None) if key in gone else Row(metric, zone, "", safe(key, n))

    out = [count("visitors", scope, "visitors", ins.visitors), count("passers_by", scope, "passers_by", ins.passers_by)]
    if "new_vs_repeat" in ins.incomplete:
        out.append(Row("incomplete", scope, "new_vs_repeat", None))
    else:
        out += [count("new_shoppers", scope, "new", ins.new), count("repeat_shoppers", scope, "repeat", ins.repeat)]
    out += [Row("dwell_visits", scope, key, safe(f"dwell:{key}", n)) for key, n in ins.dwell_histogram()]
    heat = f"{heatmap_counts(ins.zones)}_hour_of_week"
    for d, hours in enumerate(ins.heatmap):
        out += [Row(heat, scope, f"{DAYS[d]} {h:02d}", safe(f"heat:{d}:{h}", n)) for h, n in enumerate(hours) if n]
    out += [Row("flow", a, b, safe(flow_key(a, b), n)) for a, b, n in ins.transitions if safe(flow_key(a, b), n)]
    out += [Row("path", " > ".join(p), "", safe(path_key(p), n)) for p, n in ins.paths if safe(path_key(p), n)]
    for f in ins.funnels:
        out += [count(f"funnel_{step}", f.zone, f"funnel:{f.zone}:{step}", n) for step, n in (
            ("in_zone", f.in_zone), ("landed", f.landed), ("transacted", f.transacted), ("referred", f.referred))]
    return out


# ---- charts: small server-rendered SVGs ----------------------------------------------------------
# Each SVG is hidden from screen readers and followed by its numbers as a table behind "Show ... as a table": the
# heatmap's counts were only shades of blue and tooltips on unfocusable cells. It scales down to the page (a 520 px
# chart made a 320 px phone scroll sideways), so each is drawn about as wide as a 360 px phone's page (328 px): its
# text stays as large as it is written there (a 520-unit chart drawn at 328 px made 12-unit text 8 px tall).
BAR_CHART_WIDTH = 320  # drawn 1:1 on a 360 px phone
BAR_FONT = 13
HEAT_CELL, HEAT_LEFT, HEAT_FONT = 14, 40, 14  # 24 hours: 380 units, drawn at 0.87 on that phone (text ~12 px)
TITLE_FONT, TITLE_BOTTOM = 15, 28
COUNT_ROOM = 70  # right of the longest bar: its count ("withheld")


def _svg_open(chart_id: str, title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" aria-hidden="true" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'style="max-width:100%;height:auto"><title>{escape(title)}</title>'
            f'<text x="0" y="16" font-size="{TITLE_FONT}" font-weight="bold">{escape(title)}</text>')


def _text_width(text: str, size: int) -> float:
    """About how wide `text` is drawn at `size`: a Chinese character takes a full em, a Latin one about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * size for ch in text)


def _chart_table(chart_id: str, title: str, heads: list[str], rows: list[list[str]]) -> str:
    """A chart's numbers: `heads` over the columns, each row's first cell heading its row. Focusable: on a narrow
    phone the table scrolls sideways (portal.css), which a keyboard can do only in a focused table."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    body = "".join(f'<tr><th scope="row">{escape(first)}</th>{"".join(f"<td>{escape(c)}</td>" for c in rest)}</tr>'
                   for first, *rest in rows)
    summary = _("Show %(chart)s as a table", chart=title)  # not inside the f-string: the extractor would miss it
    return (f'<details class="chart-table" id="{escape(chart_id)}-table">'
            f'<summary>{escape(summary)}</summary>'
            f'<table class="compact" tabindex="0"><caption>{escape(title)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></details>')


# A count a chart draws: (its safe value, None when held back; its text, `label`).
Cell = tuple[int | None, str]


def bar_chart(items: list[tuple[str, Cell]], title: str, chart_id: str,
              columns: tuple[str, str] | None = None, width: int = BAR_CHART_WIDTH) -> Markup:
    """Horizontal bars, one per (label, count); a count held back is drawn as an empty bar with its text ("<5",
    "withheld"). Labels that leave a bar under half the width (a funnel's "zone: step") go on a line of their own
    above each bar. With `columns` (the headings of the labels and of the counts) the numbers follow as a table;
    without, the page shows them in a table of its own (the funnels', right under the chart)."""
    label_w = max([0.0, *(_text_width(text, BAR_FONT) for text, _cell in items)]) + 8
    stacked = label_w > width / 2
    bar_x, row_h = (0, 40) if stacked else (round(label_w), 24)
    top = max([1, *(n for _, (n, _text) in items if n)])
    parts = ['<div class="chart-box">', _svg_open(chart_id, title, width, TITLE_BOTTOM + row_h * len(items) + 6)]
    for i, (text, (n, shown_as)) in enumerate(items):
        y = TITLE_BOTTOM + i * row_h
        bar_y = y + (20 if stacked else 4)
        bar = 0 if not n else max(2, int((width - bar_x - COUNT_ROOM) * n / top))
        parts.append(f'<text x="0" y="{y + 15}" font-size="{BAR_FONT}">{escape(text)}</text>')
        parts.append(f'<rect class="bar" x="{bar_x}" y="{bar_y}" width="{bar}" height="16" fill="#0b57d0"/>')
        parts.append(f'<text x="{bar_x + bar + 6}" y="{bar_y + 13}" font-size="{BAR_FONT}">{escape(shown_as)}</text>')
    parts.append("</svg>")
    if columns:
        parts.append(_chart_table(chart_id, title, list(columns), [[text, shown_as] for text, (_n, shown_as) in items]))
    parts.append("</div>")
    return Markup("".join(parts))


def heatmap_chart(grid: list[list[Cell]], title: str, chart_id: str, shade: str) -> Markup:
    """Hour of week: 7 rows (Monday first) x 24 columns of counts, shaded by the count (`shade` says of what); a
    count held back is hatched, never drawn like a 0, and a legend says which is which. The table turns it round,
    an hour a row and a day a column, to fit a phone."""
    cell, left, top_y = HEAT_CELL, HEAT_LEFT, TITLE_BOTTOM + HEAT_FONT + 2
    width, legend_y = left + 24 * cell + 4, top_y + 7 * cell + 10
    peak = max([1, *(n for row in grid for n, _text in row if n)])
    hatch = f"{chart_id}-hatch"
    parts = ['<div class="chart-box">', _svg_open(chart_id, title, width, legend_y + 2 * (cell + 4) + 6),
             f'<defs><pattern id="{escape(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>']
    for h in range(0, 24, 3):
        parts.append(f'<text x="{left + h * cell}" y="{top_y - 4}" font-size="{HEAT_FONT}">{h:02d}</text>')
    for d, row in enumerate(grid):
        y = top_y + d * cell
        parts.append(f'<text x="0" y="{y + cell - 2}" font-size="{HEAT_FONT}">{escape(day_name(d))}</text>')
        for h, (n, shown_as) in enumerate(row):
            when = _("%(day)s %(hour)02dh", day=day_name(d), hour=h)
            parts.append(f'<rect class="{"held" if n is None else "count"}" x="{left + h * cell}" y="{y}" '
                         f'width="{cell - 1}" height="{cell - 1}" {_cell_fill(n, peak, hatch)} stroke="#ddd">'
                         f'<title>{escape(when)}: {escape(shown_as)}</title></rect>')
    parts += _heat_legend(legend_y, peak, hatch, shade)
    parts.append("</svg>")
    rows = [[f"{h:02d}:00", *(row[h][1] for row in grid)] for h in range(24)]
    parts.append(_chart_table(chart_id, title, [_("Hour"), *map(day_name, range(len(grid)))], rows))
    parts.append("</div>")
    return Markup("".join(parts))


def _heat_legend(top: int, peak: int, hatch: str, shade: str) -> list[str]:
    """The heatmap's two legend lines: what its shades count, and that a hatched cell is held back."""
    parts, cell = [], HEAT_CELL
    for i, (fill, text) in enumerate(((_cell_fill(peak, peak, hatch), shade),
                                      (_cell_fill(None, peak, hatch), _("Hatched: not shown (“<%(k)d” or “withheld”)",
                                                                        k=K_MIN)))):
        y = top + i * (cell + 4)
        parts.append(f'<rect class="legend" x="0" y="{y}" width="{cell - 1}" height="{cell - 1}" {fill} stroke="#ddd"/>'
                     f'<text x="{cell + 6}" y="{y + cell - 2}" font-size="{HEAT_FONT}">{escape(text)}</text>')
    return parts


def _cell_fill(n: int | None, peak: int, hatch: str) -> str:
    """A heatmap cell's fill: hatched when held back (None), blank for 0, else shaded by the count."""
    if n is None:
        return f'fill="url(#{escape(hatch)})"'
    return f'fill="#0b57d0" fill-opacity="{0.0 if not n else 0.15 + 0.85 * n / peak:.2f}"'


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
    """What the insights templates show: k-safe figures and the charts, or the notice of why there are none."""
    if (why := notice(ins)) is not None:
        return {"notice": why, "k": K_MIN, "withheld_note": withheld_note()}
    return {"notice": None, "withheld_note": withheld_note(), **_figures_context(ins, names)}


def so_far(ins: Insights) -> str | None:
    """What a page says of a period not settled yet (`Insights.as_of`): under way, its figures count it up to when
    they were made; over, its last visits are still being closed and written (`shown_from`), so they may still
    change; None: its figures are final."""
    if ins.as_of is None:
        return None
    if ins.as_of >= ins.until:
        return _("Not final yet (counted at %(when)s): this period is over, but the visits still open at its end "
                 "are being closed and counted, so the figures below may still change.", when=format_time(ins.as_of))
    return _("So far (to %(when)s): this period is still under way, so every figure below counts it only up to "
             "then.", when=format_time(ins.as_of))


def mean_dwell_shown(ins: Insights, safe: Callable[[str, int], int | None]) -> str:
    """The mean dwell in minutes as the page shows it and the exports read it: to one decimal, or "—" unless it is a
    mean over at least k phones' stays (`safe`: the figures' `Insights.shown().safe`, decided once by the caller)."""
    return f"{ins.mean_dwell_s / 60:.1f}" if safe("stays", len(ins.dwell_s)) else "—"


def _figures_context(ins: Insights, names: dict[str, str]) -> dict:
    name, safe = names.get, ins.shown().safe  # decided once for every figure of the page
    gone = set(ins.anonymised)  # "—": not "<5", which would say they were few (anonymised_notices says why)

    def cell(key: str, n: int) -> Cell:
        held = safe(key, n)
        return held, "—" if key in gone else label(held, n)

    steps = {"in_zone": _("in zone"), "landed": _("landed"), "transacted": _("transacted")}
    funnels, funnel_bars = [], []
    for f in ins.funnels:
        cells = {step: cell(funnel_key(f.zone, step), getattr(f, step)) for step in (*steps, "referred")}
        funnels.append({"zone": f.zone, "name": name(f.zone, f.zone), **{s: text for s, (_n, text) in cells.items()},
                        "landed_rate": rate(cells["landed"][0], cells["in_zone"][0]),
                        "transacted_rate": rate(cells["transacted"][0], cells["in_zone"][0])})
        funnel_bars += [(f"{name(f.zone, f.zone)}: {text}", cells[s]) for s, text in steps.items()
                        if funnel_key(f.zone, s) not in gone]
    visitors, passers_by = cell("visitors", ins.visitors), cell("passers_by", ins.passers_by)
    flows = [(a, b, safe(flow_key(a, b), n)) for a, b, n in ins.transitions]
    paths = [(p, safe(path_key(p), n)) for p, n in ins.paths]
    cut = "new_vs_repeat" in ins.incomplete  # "—": not "<5", which would say they were few
    counted = _("Visits") if ins.zones is None else _("Stays")  # what the dwell bars count
    return {
        "so_far": so_far(ins),
        "visitors": visitors[1], "passers_by": passers_by[1],
        "capture": rate(visitors[0], visitors[0] + passers_by[0]) if None not in (visitors[0], passers_by[0]) else "—",
        "mean_dwell_min": mean_dwell_shown(ins, safe),
        "new": "—" if cut else cell("new", ins.new)[1],
        "repeat": "—" if cut else cell("repeat", ins.repeat)[1],
        "lookback_notice": lookback_notice(ins), "anonymised_notices": anonymised_notices(ins),
        "flows": [(name(a, a), name(b, b), label(n)) for a, b, n in flows if n],
        "paths": [(" → ".join(name(z, z) for z in p), label(n)) for p, n in paths if n],
        "funnels": funnels,
        "dwell_chart": bar_chart([(dwell_label(lo, hi), cell(f"dwell:{key}", n)) for (lo, hi), (key, n)
                                  in zip(DWELL_BINS, ins.dwell_histogram(), strict=True)],
                                 dwell_title(ins), "chart-dwell", (_("Dwell time"), counted)),
        "heatmap_chart": heatmap_chart([[cell(f"heat:{d}:{h}", n) for h, n in enumerate(row)]
                                        for d, row in enumerate(ins.heatmap)], heatmap_title(ins), "chart-heatmap",
                                       heatmap_shade(ins)),
        "funnel_chart": bar_chart(funnel_bars, _("Funnels (phones)"), "chart-funnel") if funnel_bars else "",
        "k": K_MIN,
    }
