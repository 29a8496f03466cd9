"""Map quality report pages: cross-validated accuracy (fingerprints.quality), the zone confusion matrix
and the expected-error heatmap per floor, per-AP RSSI heatmaps, and the weak spots.

    /console/ops/<venue>/quality?floor=<level>                           (none or "all": all floors)
    /console/ops/<venue>/quality/<level>/confusion.png | heatmap.png     (?v=<map version>)
    /console/ops/<venue>/quality/<level>/live-heatmap.png                (the set-up checklist's error heatmap)
    /console/ops/<venue>/aps/<bssid>/heatmap.png

Reports and figures are cached in this process per (venue, map version, ...): a version never
changes, so a cached result never goes stale; a new version simply gets its own entry."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import redis
from flask import Flask, Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from core.memo import BoundedMemo
from fingerprints import quality as charts  # its chart functions, named as this module's views are
from fingerprints.geometry import nearest_ap_m
from fingerprints.model import VenueMap, normalise_bssid
from fingerprints.quality import MIN_MEASURED_PHONES, CannotEstimate, LiveAssumptions, quality_report
from portal.apps.views import is_zh
from portal.errors import input_error_text
from portal.maps.quality_text import chart_words
from portal.operator.blueprint import bp
from portal.operator.live_jobs import Computing, Failed, LiveEstimates, basis, in_a_process
from portal.operator.mapedit import load_map, zone_names
from portal.services import services
from portal.tracking.estimate import live_estimate
from portal.tracking.phone_mix import DAYS as PHONE_MIX_DAYS
from portal.tracking.phone_mix import venue_phones

if TYPE_CHECKING:
    from fingerprints.quality import LiveEstimate

reports = BoundedMemo(16)  # quality reports per (venue, map version, floor)
figures = BoundedMemo(96)  # PNG figures per (venue, map version, floor, kind)
FIGURE_WAIT_S = 10.0  # an <img> cannot show progress: its request waits this long for the live estimate
_plot_lock = threading.Lock()  # matplotlib's Agg canvas is not meant to draw from many threads at once


def map_version_arg() -> int | None:
    """?v=<map version>: None when not given; 400 unless ASCII digits (str.isdigit() also passes "²",
    which int() refuses: a 500)."""
    raw = request.args.get("v", "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        abort(400, _("The map version must be a whole number."))
    return int(raw)


def _map_version(venue: str) -> VenueMap:
    version = map_version_arg()
    if version is None:
        return load_map(venue)
    venue_map = services().venues.get_map(venue, version)
    if venue_map is None:
        abort(404, _("No such map version."))
    return venue_map


def quality_for(venue_map: VenueMap, level: int | None):
    return reports.get((venue_map.id, venue_map.version, level), lambda: quality_report(venue_map, floor=level))


def _live_estimate(venue_map: VenueMap, assumptions: LiveAssumptions | None = None, progress=None):
    return live_estimate(venue_map, assumptions, progress=progress)


def live_assumptions(venue: str) -> LiveAssumptions:
    """The live estimate's assumptions for the venue (`phone_mix.venue_phones`)."""
    return venue_phones(services().db, venue, time.time())[0]


def live_estimates() -> LiveEstimates:
    """The app's (one per process: its computing threads and its copies of the estimates)."""
    return current_app.extensions["live_estimates"]


def init_live_estimates(app: Flask, db: redis.Redis, wait_s: float) -> None:
    app.extensions["live_estimates"] = LiveEstimates(db, in_a_process(_live_estimate), wait_s=wait_s)


def live_for(venue_map: VenueMap, assumptions: LiveAssumptions, wait_s: float | None = None
             ) -> LiveEstimate | Computing | Failed:
    """The estimated live landing accuracy (whole venue), with the probe's own landing rule, under `assumptions`
    (`live_assumptions`); `Computing` while it is under way after waiting `wait_s` (default QUALITY_WAIT_S) for
    it, `Failed` after a failure (logged). CannotEstimate: it cannot be made."""
    return live_estimates().get(venue_map, wait_s, assumptions)


def _png(data: bytes, versioned: bool) -> Response:
    cache = "private, max-age=86400" if versioned else "private, no-cache"
    return Response(data, mimetype="image/png", headers={"Cache-Control": cache})


def _level(venue_map: VenueMap, raw: str | None) -> int | None:
    if raw in (None, "", "all"):
        return None
    try:
        level = int(raw)
        venue_map.floor(level)
    except (KeyError, ValueError):
        abort(404, _("This venue has no floor %(level)s.", level=str(raw)[:12]))
    return level


@bp.get("/<venue>/quality")
def quality(venue: str):
    venue_map = _map_version(venue)
    level = _level(venue_map, request.args.get("floor"))  # none asked: all floors, as the live estimate is
    try:
        report, error = quality_for(venue_map, level), None
    except ValueError as exc:
        report, error = None, input_error_text(exc)
    live, live_error = None, None
    assumptions, phones_counted = venue_phones(services().db, venue, time.time())
    if report is not None:  # the survey's own report first: no estimate of a map whose survey cannot be scored
        try:
            live = live_for(venue_map, assumptions)
        except CannotEstimate as exc:
            live_error = input_error_text(exc)
    aps = [ap for ap in venue_map.aps if level is None or ap.floor == level]
    ready = live if not isinstance(live, (Computing, Failed)) else None
    # The live estimate is the whole venue's: a floor's survey figures are no yardstick for it (cached per version).
    overall = quality_for(venue_map, None) if ready is not None and level is not None else report
    return render_template("operator/quality.html", venue=venue, map=venue_map, level=level, report=report,
                           overall=overall,
                           weak_zones=weakest_zone_rows(venue_map, ready) if ready is not None else [], live=ready,
                           computing=live if isinstance(live, Computing) else None,
                           failed=live if isinstance(live, Failed) else None, live_error=live_error, error=error,
                           aps=aps, phones_counted=phones_counted,
                           phone_mix_days=PHONE_MIX_DAYS, min_measured_phones=MIN_MEASURED_PHONES)


def weakest_zone_rows(venue_map: VenueMap, live: LiveEstimate, limit: int = 8) -> list[dict]:
    """The dwell zones the live estimate lands worst (`LiveEstimate.weakest_zones`), for the page: each with its name
    in the page's language, its floor's name, its visits and rates, and how far the nearest AP of its floor lies."""
    zones, names, zh = {z.id: z for z in venue_map.zones}, zone_names(venue_map), is_zh()
    rows = []
    for zone_id, visits, settled, early in live.weakest_zones({z: zone.kind for z, zone in zones.items()}, limit):
        zone = zones[zone_id]
        rows.append({"id": zone_id, "name": names[zone_id] or zone_id, "floor": venue_map.floor_name(zone.floor, zh),
                     "visits": visits, "early": early, "settled": settled,
                     "nearest_ap_m": nearest_ap_m(venue_map, zone)})
    return rows


def _floor_figure(venue: str, level: int, kind: str, draw, source=None, fixed_by_version: bool = True):
    """A quality-report PNG for one floor, drawn once per map version and language. `draw(venue_map, report,
    words)`; the report is `source(venue_map, level)` (default: the leave-one-point-out report of the floor).
    `fixed_by_version`: the map version (?v=) fixes the figure, so the browser may keep it a day; not so for the
    live estimate's, which is drawn anew when the venue's counted phones move."""
    venue_map = _map_version(venue)
    _level(venue_map, str(level))
    words = chart_words()

    def compute():
        report = (source or quality_for)(venue_map, level)
        with _plot_lock:
            return draw(venue_map, report, words)

    try:
        data = figures.get((venue, venue_map.version, kind, level, words), compute)
    except ValueError as exc:
        abort(404, input_error_text(exc))
    return _png(data, fixed_by_version and "v" in request.args)


@bp.get("/<venue>/quality/<int(signed=True):level>/confusion.png")
def confusion_png(venue: str, level: int):
    return _floor_figure(venue, level, "confusion",
                         lambda venue_map, report, words: charts.confusion_png(report, words=words))


@bp.get("/<venue>/quality/<int(signed=True):level>/heatmap.png")
def error_heatmap_png(venue: str, level: int):
    return _floor_figure(venue, level, "error", lambda venue_map, report, words: charts.error_heatmap_png(
        venue_map, report, level, words=words))


@bp.get("/<venue>/quality/<int(signed=True):level>/live-heatmap.png")
def live_error_heatmap_png(venue: str, level: int):
    """Expected live error over the floor: the honest live estimate's per-point errors, interpolated."""
    assumptions = live_assumptions(venue)  # the figure is drawn once per estimate: once per set of assumptions
    return _floor_figure(venue, level, f"live-error{basis(assumptions)}",
                         lambda venue_map, estimate, words: charts.live_error_heatmap_png(
                             venue_map, estimate, level, words=words),
                         source=lambda venue_map, _level: _live_or_503(venue_map, assumptions), fixed_by_version=False)


def _live_or_503(venue_map: VenueMap, assumptions: LiveAssumptions) -> LiveEstimate:
    """For a figure (an <img>, which cannot show progress): the estimate, waited for a while longer than the
    page waits; still under way: 503 with Retry-After (the browser shows the alt text; a reload shows it)."""
    live = live_for(venue_map, assumptions, wait_s=max(FIGURE_WAIT_S, live_estimates().wait_s))
    if isinstance(live, Computing):
        abort(Response(_("The live estimate is still being computed."), 503, {"Retry-After": "10"}))
    if isinstance(live, Failed):
        abort(Response(_("The live estimate could not be computed."), 503, {"Retry-After": str(live.retry_in_s)}))
    return live


@bp.get("/<venue>/aps/<bssid>/heatmap.png")
def ap_heatmap(venue: str, bssid: str):
    try:
        bssid = normalise_bssid(bssid)
    except ValueError:
        abort(400, _("%(b)s is not a BSSID.", b=repr(bssid[:40])))
    venue_map = _map_version(venue)
    if bssid not in venue_map.ap_ids():
        abort(404, _("This venue has no AP %(b)s.", b=bssid))

    words = chart_words()

    def compute():
        with _plot_lock:
            return charts.ap_heatmap_png(venue_map, bssid, words=words)

    data = figures.get((venue, venue_map.version, "ap", bssid, words), compute)
    return _png(data, "v" in request.args)
