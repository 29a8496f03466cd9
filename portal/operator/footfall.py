"""Footfall pages: phones seen per zone per hour, visits and their dwell time, and a heatmap of presence
over the plan, per day, from live positions (portal.tracking.footfall keeps them aggregated: no per-device
history). Its counts are phones seen, passers-by included, not the insights' visitors (stays of at least
VISITOR_MIN_S): the page names them so and says which is which. A zone's phones seen are its insights' visitors and
passers-by together, counted by the same rules (staff left out, a food hall's stalls counted in the hall:
`venue_groups`), but for what the page states: a phone counted before it was found to be staff, a stay over
midnight (both days here, the day it ended there), a phone whose shopper declined location-based services (here
only), and the HyperLogLog's estimate (tests/tracking/test_footfall_matches_insights.py).

    /console/ops/<venue>/footfall?day=YYYY-MM-DD&floor=<level>
    /console/ops/<venue>/footfall/<YYYY-MM-DD>/<level>.png

`record_position(venue, client, position)` feeds it: call it wherever the portal computes a live
position (the probe / portal-entry path, after Locator.locate returns a Position).

Every count the page shows goes through k_safe as the insights' do ("<5" for 1-4), a mean dwell only over
at least k visits, and a cell is shaded only by a count it may show."""

from __future__ import annotations

import logging
import re
import time
from datetime import date

import redis
from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from core.errors import N_, CatalogInputError
from portal.errors import input_error_text
from portal.events.insights import K_MIN, VISITOR_MIN_S, k_safe
from portal.events.report import label
from portal.maps.quality_text import chart_words
from portal.operator.blueprint import bp
from portal.operator.mapedit import load_map, zone_names
from portal.operator.quality import _plot_lock
from portal.services import services
from portal.tracking.footfall import FootfallStore, footfall_report, presence_heatmap_png
from portal.tracking.models import venue_groups

log = logging.getLogger(__name__)
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def footfall_store() -> FootfallStore:
    """The process's store: it counts and reads each venue's days in the venue's own time zone."""
    return services().footfall


def record_position(venue: str, client: str, position, now: float | None = None) -> None:
    """One live position (portal.tracking.Position, or None when the client is not located) of a client
    id (already the keyed hash, never a raw MAC) into the venue's footfall aggregates. Never raises
    for bad positions: footfall must not break the portal."""
    if position is None or not client:
        return
    try:
        footfall_store().record(venue, client, position.zone, position.floor, position.x, position.y,
                                time.time() if now is None else now)
    except (ValueError, redis.RedisError):
        log.warning("footfall: a position in venue %s was not recorded", venue, exc_info=True)


# The days a report, an export or a bill can be asked for: far beyond them a period's bounds overflow the
# date and time types (a 500, not a clear 400), and no mall's data lies there.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _day(raw: str | None, venue: str) -> date:
    """The day asked for (`read_day`; refused: 400 in the page's language), else the venue's today (its time
    zone, not the server's)."""
    if not raw:
        return footfall_store().today(venue)
    try:
        return read_day(raw)
    except CatalogInputError as exc:
        abort(400, input_error_text(exc))


def read_day(raw: str, field: str = "day") -> date:
    """A day as the consoles, the insights API and `flask insights export` take it: YYYY-MM-DD, a real date,
    between FIRST_DAY and LAST_DAY; else a CatalogInputError naming `field` (English in `message`, for a JSON
    API or a command)."""
    if not DAY_RE.match(raw):
        raise CatalogInputError(field, N_("The day must be written YYYY-MM-DD."))
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise CatalogInputError(field, N_("%(d)s is not a date."), d=raw) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CatalogInputError(field, N_("The day must be between %(first)s and %(last)s."),
                                first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
    return day


@bp.get("/<venue>/footfall")
def footfall(venue: str):
    venue_map = load_map(venue)
    day = _day(request.args.get("day"), venue)
    raw_floor = request.args.get("floor", "")
    levels = [f.level for f in venue_map.floors]
    level = int(raw_floor) if re.fullmatch(r"-?\d{1,3}", raw_floor) and int(raw_floor) in levels else levels[0]
    groups = venue_groups(venue_map)  # a food hall counts its stalls in, as the insights do
    report = footfall_report(footfall_store(), venue, day, zones=[z.id for z in venue_map.zones], now=time.time(),
                             groups=groups)
    names = zone_names(venue_map)
    zones = sorted(report.zones.values(), key=lambda z: (-z.visitors, z.zone))
    # On a day whose salt changed a unique count holds a phone once per salt: the k floor applies to the phones it
    # vouches for (3 phones seen before and after a change count 6, and must still be held back).
    def safe(n: int | None, phones: int | None = None) -> int | None:
        return k_safe(n, phones=report.phones_at_least(n if phones is None else phones) if n else None)

    def shown_safe(n: int | None, phones: int | None = None) -> str:
        return label(safe(n, phones), n)  # 30 visits of 3 phones: "withheld", not "<5" (a small count)

    hours = [*report.visitors_by_hour, *(v for z in zones for v in z.visitors_by_hour)]
    peak = max([1, *(safe(v) or 0 for v in hours)])  # a shade must not tell a hidden count either
    return render_template("operator/footfall.html", venue=venue, map=venue_map, day=day.isoformat(), level=level,
                           report=report, zones=zones, names=names, peak=peak, shown=shown_safe, safe=safe, k=K_MIN,
                           time_zone=str(footfall_store().tz_of(venue)),  # the zone it counts its hours in
                           visitor_min=int(VISITOR_MIN_S // 60))  # the insights' visitor, named beside ours


@bp.get("/<venue>/footfall/<day>/<int(signed=True):level>.png")
def footfall_heatmap(venue: str, day: str, level: int):
    venue_map = load_map(venue)
    when = _day(day, venue)
    try:
        venue_map.floor(level)
    except KeyError:
        abort(404, _("This venue has no floor %(level)s.", level=level))

    with _plot_lock:
        data = presence_heatmap_png(footfall_store(), venue_map, when, level, chart_words(), k=K_MIN)
    return Response(data, mimetype="image/png", headers={"Cache-Control": "private, max-age=60"})
