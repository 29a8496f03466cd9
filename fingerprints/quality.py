"""How good is a venue's fingerprint map? Cross-validated accuracy, zone confusion, expected-error
heatmaps, weak spots, and per-AP RSSI heatmaps (PNG, matplotlib's Agg canvas, no pyplot state).

Leave-one-reference-point-out cross-validation with the production estimator: the positioner is built
exactly as portal.tracking.models.build_venue_model builds it (WKNNPositioner(**live_params(venue)), fitted on
every sample, a phone's offset measured against `training.offset_reference`; the zone decided by
ZoneMap.zone_for from the estimate and its neighbours' surveyed zones, as the Locator does), but refitting it
once per left-out point would cost ~1,600 fits on the demo mall. It is fitted ONCE, and each query excludes the
left-out point's own rows from the candidate neighbours (a thin subclass drops them before the building/floor/x-y
decision). Since a kNN model *is* its training rows, this gives the same estimate a refit without those rows
would (but for the APs' fall-off that an offset is measured against, which the left-out rows helped fit: one
point among thousands, four numbers per AP); the query is the left-out point's averaged fingerprint. Temporal
smoothing (live tracks) is not part of a single-shot estimate and is left out.
A reference point is all samples at the same floor and x/y, so repeated surveys of a spot leave together.

Errors are distances on the plan (metres); a point placed on another floor also counts the storeys between
(`placed_error_m`, STOREY_M each), so a spot placed right above the truth never reads ~0 m. Floor misses are
also counted apart.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree
from tqdm import tqdm

from core.errors import N_, CatalogInputError
from fingerprints.geometry import zone_map
from fingerprints.model import VenueMap, name_in, normalise_bssid
from fingerprints.simulator import FADING_DB, FLOOR_HEIGHT_M
from fingerprints.training import live_defaults, live_params, offset_reference, training_set
from positioning import WKNNPositioner
from positioning.phone_offset import OffsetMix

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FEW_SAMPLES_N = 3  # a reference point averaged over fewer scans than this is unreliable
AUDIBLE_DBM = -85.0  # an AP counts as clearly heard at or above this
FEW_APS = 3  # a spot hearing fewer APs than this clearly cannot be told from its neighbours
ALIKE_RATE = 0.05  # zone pairs confused at least this often (either way, of their points) look alike
NO_ZONE = "(none)"


class CsvInputError(CatalogInputError):
    """A validation walk's route or readings CSV refused as a file (`field`: the file's name), told by a catalog
    message so a console can say it in the page's language: `_(template, label=field, **params)`."""

Progress = bool | Callable[[int, int], None]

# The simulator's world, read off its own defaults so there is one figure of each: the storey height (the map
# records none) and one reading's fast fading (the noise assumed for a survey that records no spread).
STOREY_M = FLOOR_HEIGHT_M  # the simulator's storey
ASSUMED_NOISE_DB = FADING_DB  # a survey that records no spread is replayed with the simulator's fast fading


def placed_error_m(dx: float, dy: float, floors_off: int = 0) -> float:
    """How far a placed point is from the truth: on the plan, plus STOREY_M per floor between them."""
    return float(math.hypot(dx, dy, STOREY_M * floors_off))


# -- the production model, fitted once -------------------------------------------------------------


class LeaveOutPositioner(WKNNPositioner):
    """The production positioner, with some training rows hidden from the neighbour search (a blend's second model
    ranks the first's candidates, which hide them already)."""

    excluded: np.ndarray | None = None

    def _candidate_distances(self, q: np.ndarray, partial: bool = False, silent: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
        rows, d = super()._candidate_distances(q, partial, silent)
        if self.excluded is not None and self.excluded.size:
            keep = ~np.isin(rows, self.excluded)
            rows, d = rows[keep], d[keep]
        return rows, d


# -- the report ----------------------------------------------------------------------------------------


@dataclass
class PointResult:
    index: int  # sample index in venue.samples
    floor: int
    x: float
    y: float
    zone: str | None
    est_floor: int | None  # None: the point hears no known AP
    est_x: float
    est_y: float
    est_zone: str | None
    error_m: float  # placed_error_m (on the plan, a storey per floor off); nan when not located


@dataclass
class FloorQuality:
    level: int
    n_points: int
    zone_hit_rate: float
    floor_hit_rate: float
    mean_error_m: float
    median_error_m: float
    p95_error_m: float


@dataclass
class WeakSpots:
    few_samples: list[dict] = field(default_factory=list)  # {floor, x, y, n}
    few_aps: list[dict] = field(default_factory=list)  # {floor, x, y, heard}
    alike_zones: list[dict] = field(default_factory=list)  # {a, b, rate, count}
    silent_aps: list[str] = field(default_factory=list)
    worst_points: list[dict] = field(default_factory=list)  # {floor, x, y, zone, est_zone, error_m}


@dataclass
class QualityReport:
    venue: str
    version: int
    floor: int | None
    n_points: int
    zone_hit_rate: float
    floor_hit_rate: float
    mean_error_m: float
    median_error_m: float
    p95_error_m: float
    floors: list[FloorQuality]
    zone_labels: list[str]
    confusion: list[list[int]]  # [true][predicted] counts over zone_labels
    weak: WeakSpots
    points: list[PointResult]
    seconds: float = 0.0

    def to_dict(self, with_points: bool = False) -> dict:
        out = asdict(self)
        if not with_points:
            out.pop("points")
        return out

    def summary_lines(self) -> list[str]:
        scope = f"floor {self.floor}" if self.floor is not None else "all floors"
        lines = [
            f"venue {self.venue} map v{self.version}, {scope}: {self.n_points} reference points "
            f"(leave-one-point-out, {self.seconds:.1f} s)",
            f"  zone hit rate {self.zone_hit_rate:.1%}, floor hit rate {self.floor_hit_rate:.1%}",
            f"  error mean {self.mean_error_m:.2f} m, median {self.median_error_m:.2f} m, "
            f"p95 {self.p95_error_m:.2f} m",
        ]
        for f in self.floors:
            lines.append(f"  floor {f.level}: {f.n_points} points, zone hits {f.zone_hit_rate:.1%}, floor hits "
                         f"{f.floor_hit_rate:.1%}, error mean {f.mean_error_m:.2f} / median "
                         f"{f.median_error_m:.2f} / p95 {f.p95_error_m:.2f} m")
        w = self.weak
        lines.append(f"  weak spots: {len(w.few_samples)} points with < {FEW_SAMPLES_N} scans, {len(w.few_aps)} "
                     f"hearing < {FEW_APS} APs above {AUDIBLE_DBM:g} dBm, {len(w.silent_aps)} silent APs")
        for pair in w.alike_zones[:10]:
            lines.append(f"  zones that look alike: {pair['a']} / {pair['b']} ({pair['rate']:.1%} of their points, "
                         f"{pair['count']} confusions)")
        if w.silent_aps:
            lines.append(f"  APs heard at no reference point: {', '.join(w.silent_aps)}")
        return lines


def error_stats(errors: np.ndarray) -> tuple[float, float, float]:
    e = errors[np.isfinite(errors)]
    if e.size == 0:
        return float("nan"), float("nan"), float("nan")
    return float(e.mean()), float(np.median(e)), float(np.percentile(e, 95))


def _progress_iter(items: Sequence[int], progress: Progress, desc: str):
    if callable(progress):
        total = len(items)
        for done, item in enumerate(items):
            yield item
            if done % 50 == 0 or done == total - 1:
                progress(done + 1, total)
        return
    yield from tqdm(items, desc=desc, unit="pt", disable=not progress, leave=False)


def quality_report(venue: VenueMap, floor: int | None = None, progress: Progress = False) -> QualityReport:
    """Leave-one-reference-point-out cross-validation of the venue's map (see the module docstring).
    `floor` limits the evaluated points (the model still uses every floor). `progress`: True for a
    tqdm bar on stderr, or a callback(done, total)."""
    started = time.perf_counter()
    if floor is not None and floor not in {f.level for f in venue.floors}:
        raise CatalogInputError("floor", N_("venue %(venue)s has no floor %(floor)s"), venue=venue.id, floor=floor)
    ap_ids, X, y = training_set(venue)
    model = LeaveOutPositioner(**WKNNPositioner(**live_params(venue)).get_params()).fit(  # as the live model is
        X, y, offset_reference(venue, ap_ids, X, y))
    zones = zone_map(venue)
    sample_zones = [s.zone for s in venue.samples]
    groups: dict[tuple[int, float, float], list[int]] = {}
    for i, s in enumerate(venue.samples):
        groups.setdefault((s.floor, round(s.x, 2), round(s.y, 2)), []).append(i)
    group_of = {i: np.asarray(rows) for rows in groups.values() for i in rows}
    evaluate = [i for i, s in enumerate(venue.samples) if floor is None or s.floor == floor]
    if not evaluate:
        raise CatalogInputError("floor", N_("venue %(venue)s has no reference points on floor %(floor)s"),
                                venue=venue.id, floor=floor)
    points: list[PointResult] = []
    for i in _progress_iter(evaluate, progress, "cross-validating"):
        s = venue.samples[i]
        model.excluded = group_of[i]
        try:
            est = model.locate(X[i])
        except ValueError:  # hears no known AP
            points.append(PointResult(i, s.floor, s.x, s.y, s.zone, None, float("nan"), float("nan"), None,
                                      float("nan")))
            continue
        zone, _conf = zones.zone_for(est, [sample_zones[j] for j in est.neighbours])
        points.append(PointResult(i, s.floor, s.x, s.y, s.zone, est.floor, est.x, est.y, zone,
                                  placed_error_m(est.x - s.x, est.y - s.y, est.floor - s.floor)))
    model.excluded = None

    def rates(pts: list[PointResult]) -> tuple[float, float]:
        return (float(np.mean([p.est_zone == p.zone for p in pts])),
                float(np.mean([p.est_floor == p.floor for p in pts])))

    errors = np.array([p.error_m for p in points])
    zone_hit, floor_hit = rates(points)
    mean, median, p95 = error_stats(errors)
    floors = []
    for level in sorted({p.floor for p in points}):
        pts = [p for p in points if p.floor == level]
        zh, fh = rates(pts)
        floors.append(FloorQuality(level, len(pts), zh, fh, *error_stats(np.array([p.error_m for p in pts]))))
    # confusion matrix over the zones that occur (true or predicted), in the venue's order
    present = {p.zone for p in points} | {p.est_zone for p in points}
    labels = [z.id for z in venue.zones if z.id in present] + ([NO_ZONE] if None in present else [])
    pos = {label: k for k, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for p in points:
        confusion[pos[p.zone or NO_ZONE], pos[p.est_zone or NO_ZONE]] += 1
    report = QualityReport(
        venue=venue.id, version=venue.version, floor=floor, n_points=len(points), zone_hit_rate=zone_hit,
        floor_hit_rate=floor_hit, mean_error_m=mean, median_error_m=median, p95_error_m=p95, floors=floors,
        zone_labels=labels, confusion=confusion.tolist(), weak=WeakSpots(), points=points,
    )
    report.weak = weak_spots(venue, report, floor)
    report.seconds = time.perf_counter() - started
    return report


def weak_spots(venue: VenueMap, report: QualityReport, floor: int | None = None) -> WeakSpots:
    samples = [s for s in venue.samples if floor is None or s.floor == floor]
    weak = WeakSpots()
    for s in samples:
        if s.n < FEW_SAMPLES_N:
            weak.few_samples.append({"floor": s.floor, "x": s.x, "y": s.y, "n": s.n})
        heard = sum(1 for v in s.rssi.values() if v >= AUDIBLE_DBM)
        if heard < FEW_APS:
            weak.few_aps.append({"floor": s.floor, "x": s.x, "y": s.y, "heard": heard})
    c = np.asarray(report.confusion)
    totals = c.sum(axis=1)
    labels = report.zone_labels
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):
            count = int(c[a, b] + c[b, a])
            points = int(totals[a] + totals[b])
            if count and points and count / points >= ALIKE_RATE:
                weak.alike_zones.append({"a": labels[a], "b": labels[b], "rate": count / points, "count": count})
    weak.alike_zones.sort(key=lambda p: -p["rate"])
    heard_aps = {ap for s in venue.samples for ap in s.rssi}
    weak.silent_aps = [ap.bssid for ap in venue.aps
                       if ap.bssid not in heard_aps and (floor is None or ap.floor == floor)]
    located = [p for p in report.points if np.isfinite(p.error_m)]
    for p in sorted(located, key=lambda p: -p.error_m)[:10]:
        weak.worst_points.append({"floor": p.floor, "x": p.x, "y": p.y, "zone": p.zone, "est_zone": p.est_zone,
                                  "est_floor": p.est_floor, "error_m": round(p.error_m, 2)})
    return weak


# -- grids and plots -----------------------------------------------------------------------------------


def _grid(venue: VenueMap, level: int, values: list[tuple[float, float, float]], cell_m: float,
          fill: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate (x, y, value) over the floor on a cell_m grid: linear inside the points' hull,
    nearest outside it (or `fill`)."""
    from scipy.interpolate import griddata  # lazy: half a second of every process's start, few ever draw

    floor = venue.floor(level)
    xs = np.arange(cell_m / 2, floor.width_m, cell_m)
    ys = np.arange(cell_m / 2, floor.height_m, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    if not values:
        return xs, ys, np.full(gx.shape, np.nan)
    pts = np.array([(x, y) for x, y, _ in values])
    vals = np.array([v for *_, v in values])
    if len(values) >= 4:
        try:
            z = griddata(pts, vals, (gx, gy), method="linear")
        except Exception:  # noqa: BLE001 - degenerate (collinear) points: fall back to nearest
            z = np.full(gx.shape, np.nan)
    else:
        z = np.full(gx.shape, np.nan)
    holes = np.isnan(z)
    if holes.any():
        near = griddata(pts, vals, (gx, gy), method="nearest")
        z[holes] = near[holes] if fill is None else fill
    return xs, ys, z


def error_grid(venue: VenueMap, report: QualityReport, level: int, cell_m: float = 1.0):
    """(xs, ys, expected error in metres per cell) from the points' cross-validated errors. A point
    whose floor was missed counts with its 2-D error too (it is as lost as that)."""
    values = [(p.x, p.y, p.error_m) for p in report.points if p.floor == level and np.isfinite(p.error_m)]
    return _grid(venue, level, values, cell_m)


@dataclass(frozen=True)
class ChartWords:
    """The words of the quality charts: English here (the CLI's report), in the page's language from a console
    (portal/maps/quality_text.py `chart_words`). %-format templates with named fields; hashable, so a figure
    cache can key on them (one figure per language)."""

    x_m: str = "x (m)"
    y_m: str = "y (m)"
    expected_error_m: str = "expected error (m)"
    error_title: str = "%(venue)s: floor %(floor)s expected error (leave-one-point-out)"
    live_error_title: str = "%(venue)s: floor %(floor)s expected live error (simulated visits, 2 min in)"
    share_of_true_zone: str = "share of the true zone's points"
    estimated_zone: str = "estimated zone"
    true_zone: str = "true zone"
    confusion_title: str = "%(venue)s: zone confusion, %(scope)s (hit rate %(rate)s)"
    floor_scope: str = "floor %(floor)s"
    all_floors: str = "all floors"
    rssi_dbm: str = "RSSI (dBm)"
    ap_title: str = "%(ap)s (%(bssid)s) heard on floor %(floor)s"
    fixes_per_cell: str = "position fixes per %(cell)s m cell"  # the footfall's presence heatmap
    presence_title: str = "%(venue)s: presence on floor %(floor)s, %(day)s"

    def needs_cjk(self) -> bool:
        return any(ord(c) > 0x2E7F for text in vars(self).values() for c in text)


ENGLISH = ChartWords()


def _zh_font_files() -> list[str]:
    """Font files fontconfig says cover Chinese (`fc-list :lang=zh`): matplotlib's font cache is built once and
    misses fonts installed after it, so it is not asked. [] without fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listed = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10,
                                check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.strip().rstrip(":") for line in listed.splitlines() if line.strip()})


@functools.cache
def cjk_font_family() -> str | None:
    """A font family matplotlib can draw Chinese with (Simplified Chinese and sans-serif preferred), added to
    its font list; None when the machine has none (charts then keep their English words, never tofu boxes)."""
    from matplotlib import font_manager  # lazy: matplotlib, drawn on demand only

    files = set(_zh_font_files())
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in sorted(files - known):
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # a font matplotlib cannot read: another may do
            continue
    names = {entry.name for entry in font_manager.fontManager.ttflist if entry.fname in files}

    def preference(name: str) -> tuple:
        return ("SC" not in name.split() and "GB" not in name, "Serif" in name or "Mono" in name, name)

    return min(names, key=preference) if names else None


def drawable_words(words: ChartWords) -> ChartWords:
    """The words to draw: `words` when the machine can draw them (a Chinese font for Chinese), else English."""
    return words if not words.needs_cjk() or cjk_font_family() else ENGLISH


def figure_png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib, drawn on demand only

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def draw_plan(ax, venue: VenueMap, level: int, labels: bool = True, words: ChartWords = ENGLISH) -> None:
    """The floor's walls and zone outlines over what `ax` shows, and (`labels`) each zone's name where it fits
    (`_zone_labels`). Drawn last: the labels are measured against the figure's final layout."""
    from matplotlib.collections import LineCollection  # lazy: matplotlib, drawn on demand only

    floor = venue.floor(level)
    zones = [zone for zone in venue.zones if zone.floor == level]
    outlines = [[*zone.polygon, zone.polygon[0]] for zone in zones]
    ax.add_collection(LineCollection(outlines, colors="#555555", linewidths=0.6, linestyles=":"))
    walls = [[(x1, y1), (x2, y2)] for x1, y1, x2, y2 in floor.walls]
    ax.add_collection(LineCollection(walls, colors="#222222", linewidths=1.4))
    ax.set_xlim(0, floor.width_m)
    ax.set_ylim(floor.height_m, 0)  # plan y points down
    ax.set_aspect("equal")
    ax.set_xlabel(words.x_m)
    ax.set_ylabel(words.y_m)
    if labels:
        _zone_labels(ax, zones)


LABEL_PT = 7
LABEL_MARGIN_PX = 2.0  # a label keeps this far inside its zone's box and from the labels placed before it
MIN_LABEL_CHARS = 3  # a name cut shorter than this (and its "…") says nothing: the zone goes unlabelled


def _zone_labels(ax, zones: Sequence) -> None:
    """Each zone's name inside the zone's box, touching no other label: across, else along a zone taller than wide
    (the narrow shops of a mall's row), else cut short with "…" along its longer side, else none. Small zones first:
    a kiosk keeps its name, the corridor around it gives way."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib, drawn on demand only

    fig = ax.figure
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # the layout (title, colour bar) sets the scale the labels are measured at
    renderer = fig.canvas.get_renderer()
    placed: list = []
    for zone in sorted(zones, key=lambda z: _box_area(z.polygon)):
        box = ax.transData.transform(np.asarray(zone.polygon, dtype=float))
        (x0, y0), (x1, y1) = box.min(axis=0) + LABEL_MARGIN_PX, box.max(axis=0) - LABEL_MARGIN_PX
        centre = np.asarray(zone.polygon, dtype=float).mean(axis=0)
        text = ax.text(*centre, "", ha="center", va="center", fontsize=LABEL_PT, color="#111111", alpha=0.8)
        along = 90 if y1 - y0 > x1 - x0 else 0
        # The English name, else the only one (a Chinese-only zone went unlabelled), as the chart's other words
        for rotation, name in _label_tries(name_in(zone.name, zone.name_zh, False), along):
            text.set_text(name)
            text.set_rotation(rotation)
            extent = text.get_window_extent(renderer)
            if (x0 <= extent.x0 and extent.x1 <= x1 and y0 <= extent.y0 and extent.y1 <= y1
                    and not any(extent.overlaps(other) for other in placed)):
                placed.append(extent.expanded(1.0, 1.0).padded(LABEL_MARGIN_PX))
                break
        else:
            text.remove()


def _label_tries(name: str, along: int) -> list[tuple[int, str]]:
    """(rotation, text) in the order tried: the whole name across and along the zone, then shorter and shorter."""
    whole = [(0, name), (90, name)] if along else [(0, name)]
    return whole + [(along, name[:n].rstrip() + "…") for n in range(len(name) - 1, MIN_LABEL_CHARS - 1, -1)]


def _box_area(polygon: Sequence[tuple[float, float]]) -> float:
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


def new_figure(**options) -> Figure:
    """A matplotlib Figure (no pyplot state), matplotlib imported on the first chart: it is most of a second of
    every process's start (each gunicorn worker, tracker and CLI call), and most of them never draw."""
    from matplotlib import rcParams  # lazy: most of a second of every process's start
    from matplotlib.figure import Figure  # lazy: most of a second of every process's start

    cjk = cjk_font_family()
    if cjk and cjk not in rcParams["font.family"]:
        # a glyph DejaVu Sans lacks (Chinese words, zone names) is drawn from the CJK font instead of a box
        rcParams["font.family"] = ["DejaVu Sans", cjk]
    return Figure(**options)


def plan_figure(venue: VenueMap, level: int) -> tuple[Figure, object]:
    floor = venue.floor(level)
    width = 9.0
    height = max(3.0, width * floor.height_m / max(floor.width_m, 1e-6) + 1.0)
    fig = new_figure(figsize=(width, min(height, 12.0)), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _error_heatmap(venue: VenueMap, level: int, values: list[tuple[float, float, float]], title: str,
                   cell_m: float, words: ChartWords) -> bytes:
    """Errors measured at points (x, y, metres), interpolated over the plan of one floor; the points, walls
    and zones drawn on top."""
    xs, ys, z = _grid(venue, level, values, cell_m)
    fig, ax = plan_figure(venue, level)
    floor = venue.floor(level)
    top = float(np.nanpercentile(z, 98)) if np.isfinite(z).any() else 1.0
    image = ax.imshow(z, extent=(0, floor.width_m, floor.height_m, 0), origin="upper", cmap="RdYlGn_r",
                      vmin=0, vmax=max(top, 1.0), interpolation="nearest")
    fig.colorbar(image, ax=ax, label=words.expected_error_m, shrink=0.8)
    ax.scatter([x for x, _, _ in values], [y for _, y, _ in values], s=2, c="#000000", alpha=0.25, linewidths=0)
    ax.set_title(title % {"venue": venue.name, "floor": floor.name})
    draw_plan(ax, venue, level, words=words)
    return figure_png(fig)


def error_heatmap_png(venue: VenueMap, report: QualityReport, level: int, cell_m: float = 1.0,
                      words: ChartWords = ENGLISH) -> bytes:
    """Expected positioning error over the plan of one floor, walls and zones drawn on top."""
    values = [(p.x, p.y, p.error_m) for p in report.points if p.floor == level and np.isfinite(p.error_m)]
    words = drawable_words(words)
    return _error_heatmap(venue, level, values, words.error_title, cell_m, words)


def live_error_heatmap_png(venue: VenueMap, estimate: LiveEstimate, level: int, cell_m: float = 2.0,
                           words: ChartWords = ENGLISH) -> bytes:
    """The live estimate's error 120 s into each simulated visit (portal/tracking/estimate.py), interpolated
    over one floor: where positioning will be poor."""
    values = [(x, y, e) for f, x, y, e in estimate.errors_at if f == level and np.isfinite(e)]
    words = drawable_words(words)
    return _error_heatmap(venue, level, values, words.live_error_title, cell_m, words)


def confusion_png(report: QualityReport, words: ChartWords = ENGLISH) -> bytes:
    """The zone confusion matrix, rows = true zone, columns = estimated, normalised per row."""
    words = drawable_words(words)
    c = np.asarray(report.confusion, dtype=float)
    n = len(report.zone_labels)
    rows = c.sum(axis=1, keepdims=True)
    share = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    size = max(4.0, 0.55 * n + 2.5)
    fig = new_figure(figsize=(size + 1.2, size), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label=words.share_of_true_zone, shrink=0.8)
    ax.set_xticks(range(n), report.zone_labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), report.zone_labels, fontsize=8)
    ax.set_xlabel(words.estimated_zone)
    ax.set_ylabel(words.true_zone)
    for i in range(n):
        for j in range(n):
            if c[i, j]:
                ax.text(j, i, int(c[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    scope = words.floor_scope % {"floor": report.floor} if report.floor is not None else words.all_floors
    ax.set_title(words.confusion_title % {"venue": report.venue, "scope": scope,
                                          "rate": f"{report.zone_hit_rate:.1%}"})
    return figure_png(fig)


def ap_rssi_grid(venue: VenueMap, bssid: str, level: int, cell_m: float = 1.0):
    """(xs, ys, RSSI dBm per cell) of one AP from the surveyed samples; not heard counts as -100 dBm."""
    values = [(s.x, s.y, s.rssi.get(bssid, -100.0)) for s in venue.samples if s.floor == level]
    return _grid(venue, level, values, cell_m)


def ap_heatmap_png(venue: VenueMap, bssid: str, level: int | None = None, cell_m: float = 1.0,
                   words: ChartWords = ENGLISH) -> bytes:
    """Where one AP is heard, and how strongly, from the fingerprint map (its own floor by default)."""
    words = drawable_words(words)
    bssid = normalise_bssid(bssid)
    ap = next((a for a in venue.aps if a.bssid == bssid), None)
    if ap is None:
        raise CatalogInputError("bssid", N_("venue %(venue)s has no AP %(b)s"), venue=venue.id, b=bssid)
    level = ap.floor if level is None else level
    venue.floor(level)  # KeyError if the floor does not exist
    xs, ys, z = ap_rssi_grid(venue, bssid, level, cell_m)
    fig, ax = plan_figure(venue, level)
    floor = venue.floor(level)
    image = ax.imshow(z, extent=(0, floor.width_m, floor.height_m, 0), origin="upper", cmap="viridis",
                      vmin=-100, vmax=-30, interpolation="bilinear")
    fig.colorbar(image, ax=ax, label=words.rssi_dbm, shrink=0.8)
    if ap.floor == level:
        ax.scatter([ap.x], [ap.y], marker="^", s=90, c="#ff3333", edgecolors="white", zorder=5)
    ax.set_title(words.ap_title % {"ap": ap.name or ap.bssid, "bssid": ap.bssid, "floor": floor.name})
    draw_plan(ax, venue, level, labels=False, words=words)
    return figure_png(fig)


def write_report_pngs(venue: VenueMap, report: QualityReport, out_dir, progress: Progress = False,
                      ap_heatmaps: bool = True) -> list:
    """confusion.png, error-floor<N>.png and (ap_heatmaps) ap-<bssid>.png into out_dir; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    (out / "confusion.png").write_bytes(confusion_png(report))
    written.append(out / "confusion.png")
    for f in report.floors:
        path = out / f"error-floor{f.level}.png"
        path.write_bytes(error_heatmap_png(venue, report, f.level))
        written.append(path)
    aps = [ap for ap in venue.aps if ap_heatmaps and (report.floor is None or ap.floor == report.floor)]
    for k in _progress_iter(list(range(len(aps))), progress, "AP heatmaps"):
        ap = aps[k]
        path = out / f"ap-{ap.bssid.replace(':', '')}.png"
        path.write_bytes(ap_heatmap_png(venue, ap.bssid))
        written.append(path)
    return written


# -- live landing estimate: the data (portal/tracking/estimate.py computes it through the live path) ---------
#
# The leave-one-point-out figures above score the survey against itself: the same phone, the same body,
# every AP on, a fingerprint averaged over several scans, the query at a surveyed spot, no time. A shopper's
# phone differs on each count, and the live path (tracker, motion filter, cold start, kept positions) adds
# time. portal.tracking.estimate.live_estimate replays made-up phones built from the survey (spots between
# surveyed points) through that path, under the assumptions below, and says what
# it cannot know.


TRANSIT_KINDS = frozenset({"corridor", "walkway", "lobby", "garage"})  # passed through more than dwelt in


@dataclass
class LiveAssumptions:
    """What a live phone adds to a surveyed fingerprint, and how shoppers come (defaults: typical published
    figures, and bench/landing.py's visits; chosen on training mall 101 only): the operator can change them
    to match what a validation walk showed."""

    phone_spread_db: float = 4.0  # sd of (shopper's phone - survey phone) RSSI offsets: device models differ
    phone_mean_db: float = 0.0  # their mean: how much louder the shoppers' phones read than the survey phone
    phones_measured: int = 0  # the two above measured on this many of the venue's phones (`measured_phones`); 0:
    #                           assumed
    body_db: float = 4.0  # the shopper's body: 0 dB toward the APs she faces, this much behind her
    reading_noise_db: float | None = None  # one reading's noise; None: the survey's own scan-to-scan spread
    ap_off: float = 0.05  # share of APs off or not reporting at a time
    # Reference points this close to the spot are hidden from the model. Chosen among 0, 0.75 and 1.5 m on training
    # malls 101 and 202 with the calibrated zone evidence (0 read closest to the measured landing, and still below it).
    hidden_m: float = 0.0
    early_walk_m: float = 60.0  # how far a shopper walked along the walkways before reaching the zone
    sensitivity_dbm: float = -95.0  # weaker than this is not heard
    frame_rate: float = 0.6  # chance that a phone on the WiFi sends a frame the APs hear in a given second
    meraki_share: float = 0.2  # share of APs reporting once a minute (the rest: native batches every 3-6 s)
    join_on_arrival: float = 0.5  # share joining the WiFi on arriving, in a car park, lobby or corridor (the rest:
    #                               on entering the zone)
    arrive_by_car: float = 0.5  # of those, the share coming in from the car park (where the plan has garage zones;
    #                             the rest on foot, through its lobbies and corridors): bench/landing.py's shoppers
    tracker_tick_s: int = 2  # the tracker positions phones with new readings this often

    def phones_text(self) -> str:
        """The phones' offsets as a distribution, e.g. "N(0, 4 dB)" or "N(-6, 5 dB)"."""
        mean = f"{self.phone_mean_db:+g}" if self.phone_mean_db else "0"
        return f"N({mean}, {self.phone_spread_db:g} dB)"


# The venue's phones replace the assumed ones once the tracker has come to know this many phones' offsets (in
# portal.tracking.phone_mix's window): the spread of 30 is within about a quarter of the true one (95%).
MIN_MEASURED_PHONES = 30


def measured_phones(mix: OffsetMix | None, assumed: LiveAssumptions | None = None) -> LiveAssumptions:
    """`assumed` (default: LiveAssumptions()) with its phones taken from the venue's own (`mix`: their offsets
    against the survey as the tracker came to know them) once MIN_MEASURED_PHONES were counted, rounded to whole
    dB: the estimate is kept per set of assumptions, so it is made anew when the mix moves by a dB, not for
    every phone counted."""
    assumed = assumed or LiveAssumptions()
    if mix is None or mix.phones < MIN_MEASURED_PHONES:
        return assumed
    return replace(assumed, phone_mean_db=float(round(mix.mean_db)), phone_spread_db=float(round(mix.sd_db)),
                   phones_measured=mix.phones)


class CannotEstimate(ValueError):
    """The venue's map cannot be estimated (no survey, no dwell zone, none surveyed): the reason, for the operator."""


@dataclass
class LiveEstimate:
    venue: str
    version: int
    n_points: int  # simulated visits (one per sampled spot)
    settled_zone_rate: float  # the probe 120 s into a visit (the phone has dwelt)
    early_zone_rate: float  # the probe 30 s into a visit: part of the window still from the walk in
    floor_rate: float  # at 120 s
    mean_error_m: float  # at 120 s
    median_error_m: float
    p95_error_m: float
    by_kind: dict[str, tuple[int, float]]  # zone kind -> (visits, settled zone rate)
    by_zone: dict[str, tuple[int, float, float]]  # zone -> (visits, settled rate, early rate)
    assumptions: LiveAssumptions
    cannot_know: list[str]
    first_zone_rate: float = float("nan")  # the probe 2 s after joining the WiFi (cold start)
    first_floor_rate: float = float("nan")
    reading_noise_db: float = float("nan")  # the per-reading noise used (from the survey unless assumed)
    noise_assumed: bool = False  # the survey records no scan-to-scan spread: ASSUMED_NOISE_DB was used
    dwell_zones: int = 0  # the venue's dwell zones (shops and the like)
    unsurveyed: dict[str, int] = field(default_factory=dict)  # dwell zone -> its floor, for those whose floor has
    #                                                          no reference point (their visits count as misses)
    shop_rates: tuple[float, float] = (float("nan"), float("nan"))  # per_zone() of the dwell zones
    seconds: float = 0.0
    errors_at: list[tuple[int, float, float, float]] = field(default_factory=list)  # (floor, x, y, settled error)
    # At the first probe, 30 s and 120 s: the share landing on the page of their zone's group instead of the zone's
    # own (the food hall's, with its stalls' queues, for a stall the position cannot tell from its neighbours): not
    # in the right-zone rates, and not a wrong zone either.
    group_rates: tuple[float, float, float] = (float("nan"), float("nan"), float("nan"))

    def per_zone(self, kinds: dict[str, str], exclude: frozenset[str] = TRANSIT_KINDS) -> tuple[float, float]:
        """(settled, early) zone rates averaged over zones, each zone once, zones of the `exclude` kinds left
        out: how often a shopper dwelling in a given shop lands on its page. `kinds`: zone id -> kind."""
        rows = [(r, e) for z, (_, r, e) in self.by_zone.items() if kinds.get(z) not in exclude]
        if not rows:
            return float("nan"), float("nan")
        return float(np.mean([r for r, _ in rows])), float(np.mean([e for _, e in rows]))

    def weakest_zones(self, kinds: dict[str, str], limit: int = 8, exclude: frozenset[str] = TRANSIT_KINDS
                      ) -> list[tuple[str, int, float, float]]:
        """The dwell zones it lands worst: (zone, visits, settled rate, early rate), lowest settled rate first (then
        early), at most `limit`, only zones below 100% at either probe, none of the `unsurveyed` (their visits are
        misses for want of a survey, said apart). `kinds`: zone id -> kind."""
        rows = [(z, n, r, e) for z, (n, r, e) in self.by_zone.items()
                if z in kinds and kinds[z] not in exclude and z not in self.unsurveyed and min(r, e) < 1.0]
        return sorted(rows, key=lambda row: (row[2], row[3], row[0]))[:limit]

    def headline(self) -> dict[str, float]:
        return {"zone_first": self.first_zone_rate, "zone_early": self.early_zone_rate,
                "zone_settled": self.settled_zone_rate, "zone_settled_per_shop": self.shop_rates[0],
                "zone_early_per_shop": self.shop_rates[1], "floor_first": self.first_floor_rate,
                "floor": self.floor_rate, "error_mean_m": self.mean_error_m, "group_first": self.group_rates[0],
                "group_early": self.group_rates[1], "group_settled": self.group_rates[2]}

    def summary_lines(self) -> list[str]:
        a = self.assumptions
        lines = [
            f"venue {self.venue} map v{self.version}: estimated LIVE landing accuracy, {self.n_points} simulated "
            f"visits through the live path ({self.seconds:.1f} s)",
            f"  right zone at the first probe (2 s after joining) {self.first_zone_rate:.1%}, 30 s into a visit "
            f"{self.early_zone_rate:.1%}, 120 s {self.settled_zone_rate:.1%}",
            "  on their zone's group page instead (e.g. the food hall's for a stall): "
            + ", ".join(f"{rate:.1%}" if rate == rate else "-" for rate in self.group_rates),
            f"  floor at the first probe {self.first_floor_rate:.1%}, at 120 s {self.floor_rate:.1%}",
            f"  error at 120 s: mean {self.mean_error_m:.2f} m, median {self.median_error_m:.2f} m, "
            f"p95 {self.p95_error_m:.2f} m",
            "  by zone kind (120 s): " + ", ".join(f"{k} {r:.0%} ({n})" for k, (n, r) in self.by_kind.items()),
            (f"  phones: measured on {a.phones_measured} of the venue's phones, they read {a.phones_text()} against "
             "the survey phone; assumed:" if a.phones_measured else
             f"  assumed: phones differ from the survey phone by {a.phones_text()},")
            + f" body loss up to {a.body_db:g} dB, reading noise {self.reading_noise_db:.1f} dB"
            + (" (assumed: the survey records none)" if self.noise_assumed else "") + f", {a.ap_off:.0%} of APs off, "
            + (f"reference points within {a.hidden_m:g} m of the spot hidden from the model" if a.hidden_m > 0 else
               "no reference point hidden from the model (the spot lies between them, never on one)"),
        ]
        if self.unsurveyed:
            floors = ", ".join(str(f) for f in sorted(set(self.unsurveyed.values())))
            lines.append(f"  {len(self.unsurveyed)} of {self.dwell_zones} dwell zones (floor {floors}) have no "
                         "reference points: counted as misses")
        lines += [f"  cannot know: {line}" for line in self.cannot_know]
        lines.append(f"  {checked_for(self.assumptions)}")
        return lines


# How far the estimate was from the measured landing on simulated malls not used to set the live rules' values
# (README, "The quality report's claim, through the live path"; re-measured, landing and claim, 2026-12-08 04:22-04:45
# UTC with the live path as it stands: six of the eight malls' landing no longer read as on 2026-12-06, 7777 and
# 8888 the same to the digit; before that the landing measured 2026-12-05 03:43-03:52 UTC and
# again, number for number, 2026-12-06 08:40-08:55 UTC; the claim 2026-12-06 08:40-08:55 UTC on the malls' maps with
# their street doors marked as entrances, its on-foot arrivals there: a phone's offset measured against the APs the
# survey did not list estimated below its hearing, partial matches bound to and searched ±5 dB where the phone's AP is
# among the 2 strongest, the claim's phones heard by those APs now and then (fingerprints/falloff.py), the report
# schedule drawn per visit, 300 visits, the claim's phones those the replay's tracker counted:
# `measured_phones`): shown with the figures, so the operator knows which way they lean and how much of that is
# chance. Per probe: the probes bench/landing_replay.py measured per mall (100 shoppers with 2 zones each), then its
# right-zone rates (%) on the CHECK_SEEDS malls and the claim's on the same malls, of CHECK_VISITS visits.
CHECK_SEEDS = (5151, 6262, 8181, 9292, 1357, 2468, 7777, 8888)
# Among the malls a rule was compared on, said with the check: 6262 and 7777 for the narrowed search, and all eight
# for the association rank 2 and for the partial match's offset search (paired first probes, after the training malls;
# docs/landing-history.md, sixteenth and eighteenth passes)
CHECK_COMPARED = CHECK_SEEDS
CHECK_VISITS = 300
CHECK_RATES = {
    "120 s": (200, (95.0, 97.0, 93.5, 92.5, 91.0, 98.0, 88.5, 99.5), (96.0, 96.0, 97.7, 94.7, 93.7, 95.3, 93.7, 94.0)),
    "30 s": (200, (89.5, 91.5, 92.0, 88.0, 84.5, 97.5, 85.0, 95.0), (93.7, 93.7, 94.3, 90.3, 90.3, 90.0, 88.7, 89.7)),
    "the first probe": (100, (71.0, 77.0, 77.0, 76.0, 86.0, 84.0, 73.0, 79.0),
                        (79.3, 75.3, 78.0, 79.7, 80.3, 79.7, 84.3, 75.7)),
}
# The same check of the claim made with the assumed phones, N(0, 4 dB) (the same landing and maps, the claim measured
# in the same runs): the check shown beside a venue's claim until its tracker has counted MIN_MEASURED_PHONES phones.
CHECK_RATES_ASSUMED_PHONES = {
    "120 s": (200, CHECK_RATES["120 s"][1], (97.3, 96.0, 94.7, 94.3, 93.0, 96.7, 93.7, 93.3)),
    "30 s": (200, CHECK_RATES["30 s"][1], (94.7, 93.7, 92.7, 89.3, 90.3, 91.0, 89.0, 90.7)),
    "the first probe": (100, CHECK_RATES["the first probe"][1], (78.7, 75.3, 75.7, 75.3, 75.7, 78.0, 83.3, 73.3)),
}


def check_rates(assumptions: LiveAssumptions | None) -> dict[str, tuple[int, tuple[float, ...], tuple[float, ...]]]:
    """The check of the claim made as `assumptions` make it: with the phones the tracker counted, or assumed."""
    return CHECK_RATES if assumptions is not None and assumptions.phones_measured else CHECK_RATES_ASSUMED_PHONES


def check_differences(rates: dict) -> tuple[list[tuple[str, int, int, float]], list[str], bool]:
    """Per probe of `rates` (CHECK_RATES' form): (probe, lowest and highest claim - measured in whole points, the
    sampling error's half-width in points); the probe counts; whether every difference lies within its error."""
    parts, sizes, inside = [], [], True
    for probe, (n, measured, claimed) in rates.items():
        diffs = [c - m for m, c in zip(measured, claimed, strict=True)]
        half = 100 * rate_half_width(float(np.mean(measured)) / 100, n, CHECK_VISITS)
        inside = inside and max(abs(d) for d in diffs) <= half
        parts.append((probe, _whole_points(min(diffs)), _whole_points(max(diffs)), half))
        sizes.append(str(n))
    return parts, sizes, inside


def _whole_points(diff: float) -> int:
    """A difference in whole points, a half away from zero (Python's round() takes -6.5 to -6: the check would read
    half a point better than it is)."""
    return int(math.copysign(math.floor(abs(diff) + 0.5), diff))

def rate_half_width(rate: float, *trials: int, z: float = 1.96) -> float:
    """Half-width of the 95% interval (the binomial's normal approximation) of a rate measured on `trials`
    trials; with several counts, of the difference of independent rates near `rate`, one measured on each."""
    return z * math.sqrt(rate * (1.0 - rate) * sum(1.0 / n for n in trials))


def compared_malls(all_of_them: str = "all of them") -> str:
    """CHECK_COMPARED as the check's sentence names them: `all_of_them` when every checked mall is among them."""
    return all_of_them if set(CHECK_COMPARED) >= set(CHECK_SEEDS) else ", ".join(map(str, CHECK_COMPARED))


def _checked(rates: dict, phones: str) -> str:
    """The CHECKED line from `rates`: per probe, claim - measured over the malls, and its sampling error."""
    parts, sizes, inside = check_differences(rates)
    spans = ", ".join(f"{low:+d} to {high:+d} at {probe} (±{half:.0f})" for probe, low, high, half in parts)
    return (f"checked against bench/landing_replay.py on simulated malls ({', '.join(map(str, CHECK_SEEDS))}; "
            f"{compared_malls()} were among the malls a rule was compared on, so this is not a fully held-out "
            "check): claim minus measured right-zone rate, in points: " + spans
            + f". ± is the sampling error, the 95% binomial interval of such a difference with {'/'.join(sizes)} "
            f"probes measured per mall and {CHECK_VISITS} visits claimed: "
            + ("every difference lies within it." if inside else "not every difference lies within it.") + " " + phones)


CHECKED_PHONES_COUNTED = ("(The claims checked were made with the phones the malls' trackers counted, on maps marking "
                          "their street doors as entrances.)")
CHECKED_PHONES_ASSUMED = ("(The claims checked were made with the assumed phones, on maps marking their street doors "
                          "as entrances.)")
CHECKED = _checked(CHECK_RATES, CHECKED_PHONES_COUNTED)
CHECKED_ASSUMED_PHONES = _checked(CHECK_RATES_ASSUMED_PHONES, CHECKED_PHONES_ASSUMED)


def checked_for(assumptions: LiveAssumptions | None) -> str:
    """The CHECKED line for a claim made as `assumptions` make it."""
    return CHECKED if check_rates(assumptions) is CHECK_RATES else CHECKED_ASSUMED_PHONES


# The parameters that make the representation (its kind, and the exponential and powed ones' shape)
SHAPES_REPRESENTATION = frozenset({"representation", "alpha", "beta"})


def own_configuration(positioner: Mapping[str, object]) -> tuple[str, bool] | None:
    """A venue's stored positioner configuration (`VenueMap.positioner`) where it differs from the live defaults, as
    "name=value, ..." text, and whether it changes the representation: the claim runs the venue's configuration,
    but its check (CHECKED) was made with the live defaults, and with the exponential representation a training
    mall's claim read 6-24 points above its landing at 30 s and 120 s (docs/landing-history.md, twentieth pass).
    None under the live defaults."""
    defaults = {**WKNNPositioner().get_params(), **live_defaults()}  # what the live model runs for any unnamed
    changed = {name: value for name, value in sorted(positioner.items()) if defaults.get(name) != value}
    if not changed:
        return None
    text = ", ".join(f"{name}={value:.10g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in changed.items())
    return text, bool(SHAPES_REPRESENTATION & changed.keys())


def configuration_note(positioner: Mapping[str, object]) -> str | None:
    """The report's line on a venue's own positioner configuration (`own_configuration`), None under the defaults."""
    own = own_configuration(positioner)
    if own is None:
        return None
    text, representation = own
    return (f"this venue's live model runs its own configuration ({text}): the check above was made with the live "
            "defaults" + ("; with another representation than theirs, a training mall's claim read 6-24 points "
                          "above its measured landing at 30 s and 120 s" if representation else ""))


PHONES_UNKNOWN = "the real mix of shoppers' phones and the survey phone's own offset (a validation walk measures it)"
# Said in its place once the phones are the venue's own as the tracker counted them (`measured_phones`): measured on
# five simulated malls (docs/landing-history.md, "The counted phones read narrower than they are"), a phone's counted
# offset followed its true one at 0.59-0.77 of its size on average, and the counted offsets spread 0.69-0.83 as wide as
# the phones' own; on 5309 the estimate with the counted mix, N(+1, 2 dB), read 0.3-1.0 points above the one with the
# true mix rounded, N(+2, 3 dB).
PHONES_COUNTED_NARROW = (
    "how much shoppers' phones really differ in signal strength (the tracker measures them as about 70-80% as varied "
    "as they are; on one simulated mall an estimate with the measured mix read about a point higher than with the "
    "true one; validation walks with shoppers' phones check it)")
# Named: the quality page maps former lines' English to them (portal/maps/quality_text.py, _FORMER_LINES), and an
# estimate says one of the two, as its map marks entrances or not (`cannot_know`)
WHERE_SHOPPERS_ARE = (
    "where shoppers really walk, join the WiFi and stand, and how often their phones transmit (those joining on "
    "arriving on foot are placed at the entrances the map marks, those arriving by car in the car park)")
WHERE_SHOPPERS_ARE_UNMARKED = (
    "where shoppers really walk, join the WiFi and stand, and how often their phones transmit (the map marks no "
    "entrance, so those joining on arriving on foot are placed along the lobbies and corridors, which on "
    "simulated malls read the first probe about 3 points lower than with their street doors marked: mark the "
    "street doors as entrances on the walkways)")
CANNOT_KNOW = [
    PHONES_UNKNOWN,
    PHONES_COUNTED_NARROW,
    "crowds, moved fittings and radio changes since the survey",
    WHERE_SHOPPERS_ARE,
    WHERE_SHOPPERS_ARE_UNMARKED,
    "how the APs really report (the venue's feeds are assumed native every 3-6 s, a fifth once a minute, each "
    "report holding some phone, as in a mall in business: a quiet AP says less about who it does not hear)",
    "the fingerprint between surveyed points (interpolated here from the nearest ones)",
    "how loud the APs the survey did not hear at a spot are there (drawn below its hearing, from each AP's fall-off "
    "fitted to the survey)",
]


def cannot_know(a: LiveAssumptions, entrances_marked: bool) -> list[str]:
    """CANNOT_KNOW for an estimate made under `a` on a map that marks entrances or not: of the two lines on the
    phones, the assumed ones' or (once they were measured) the counted ones', and of the two on where shoppers come
    in, the one that applies."""
    left_out = {WHERE_SHOPPERS_ARE_UNMARKED if entrances_marked else WHERE_SHOPPERS_ARE}
    left_out.add(PHONES_UNKNOWN if a.phones_measured else PHONES_COUNTED_NARROW)
    return [line for line in CANNOT_KNOW if line not in left_out]


class WalkIn:
    """How a shopper came to a spot: along the walkway graph (same floor) from a node about `walk_m` away
    to the zone's own node nearest the spot (through its door, as the plan's walkways lead in), or to the node
    nearest the spot when the zone has none."""

    def __init__(self, venue: VenueMap, coords: np.ndarray, walk_m: float) -> None:
        self.walk_m = walk_m
        self.nodes = {n.id: n for n in venue.nodes}
        self.graph = nx.Graph()
        for e in venue.edges:
            a, b = self.nodes.get(e.a), self.nodes.get(e.b)
            if a is not None and b is not None and a.floor == b.floor:
                self.graph.add_edge(e.a, e.b, weight=float(np.hypot(a.x - b.x, a.y - b.y)))
        self.node_trees = {}
        for level in {int(c) for c in coords[:, 0]}:
            ids = [n.id for n in venue.nodes if n.floor == level and n.id in self.graph]
            if ids:
                self.node_trees[level] = (ids, cKDTree([(self.nodes[i].x, self.nodes[i].y) for i in ids]))
        zones = zone_map(venue)
        self.zone_nodes: dict[str, list[str]] = {}  # zone -> the walkway nodes inside it
        for i in self.graph:
            inside = zones.zone_at(self.nodes[i].floor, self.nodes[i].x, self.nodes[i].y)
            if inside is not None:
                self.zone_nodes.setdefault(inside, []).append(i)

    def route(self, floor: int, x: float, y: float, rng: np.random.Generator,
              zone: str | None = None) -> list[tuple[float, float]]:
        """The (x, y) of the walkway nodes walked, in walking order, ending at the node of `zone` nearest (x, y)
        (any node's when `zone` has none on this floor: the shortcut from there may cross a shop front); empty
        on a floor without walkways."""
        if floor not in self.node_trees:
            return []
        ids, tree = self.node_trees[floor]
        own = [i for i in self.zone_nodes.get(zone or "", []) if self.nodes[i].floor == floor]
        end = (min(own, key=lambda i: math.hypot(self.nodes[i].x - x, self.nodes[i].y - y)) if own
               else ids[int(tree.query((x, y))[1])])
        lengths, paths = nx.single_source_dijkstra(self.graph, end, cutoff=self.walk_m)
        far = [n for n, d in lengths.items() if d >= 0.6 * self.walk_m] or [max(lengths, key=lengths.get)]
        path = paths[far[int(rng.integers(len(far)))]]
        return [(self.nodes[n].x, self.nodes[n].y) for n in reversed(path)]


# -- validation walk -------------------------------------------------------------------------------------


@dataclass
class WalkResult:
    ts: float
    floor: int
    x: float
    y: float
    zone: str | None
    est_floor: int | None
    est_x: float
    est_y: float
    est_zone: str | None  # None: not located, or not sure enough to land on a zone
    error_m: float


@dataclass
class ValidationWalk:
    venue: str
    version: int
    points: list[WalkResult]
    zone_rate: float  # over every point of `points`: one not placed is never right (zone or floor)
    floor_rate: float
    mean_error_m: float  # the error figures are over the points placed
    median_error_m: float
    p95_error_m: float
    route_points: int | None = None  # a live walk's route: its points not in `points` were not visited

    @property
    def not_placed(self) -> int:
        """Route points scored where the phone had no position (counted in the rates as wrong)."""
        return sum(p.est_floor is None for p in self.points)

    @property
    def not_visited(self) -> int:
        """Route points of a live walk never marked (not in the rates); 0 for a walk uploaded as files."""
        return 0 if self.route_points is None else max(0, self.route_points - len(self.points))

    def summary_lines(self) -> list[str]:
        visited = (f"{len(self.points)} route points" if self.route_points is None else
                   f"{len(self.points)} of {self.route_points} route points visited ({self.not_visited} not visited)")
        return [f"validation walk on {self.venue} map v{self.version}: {visited}, {self.not_placed} not placed",
                f"  landed on the right zone {self.zone_rate:.1%}, right floor {self.floor_rate:.1%}",
                f"  live error mean {self.mean_error_m:.2f} m, median {self.median_error_m:.2f} m, "
                f"p95 {self.p95_error_m:.2f} m"]


MAX_WALK_S = 4 * 3600  # a validation walk is minutes long; a longer span is a unit mistake, replayed second by second
PLAN_MARGIN_M = 2.0  # a route point may lie this far outside its floor's plan (a doorway, a plan drawn a little short)


# Why a walked point cannot be on the venue: (the problem alone, the problem at a line of a route CSV).
_ROUTE_POINT_PROBLEMS = {
    "floor": ("floor %(floor)s is not a floor of %(venue)s (its floors: %(floors)s)",
              N_("%(label)s line %(line)s: floor %(floor)s is not a floor of %(venue)s (its floors: %(floors)s)")),
    "plan": ("(%(x)s, %(y)s) is off the plan of floor %(floor)s (x 0 to %(w)s m, y 0 to %(h)s m)",
             N_("%(label)s line %(line)s: (%(x)s, %(y)s) is off the plan of floor %(floor)s (x 0 to %(w)s m, y 0 to "
                "%(h)s m)")),
}


def _route_point_check(venue: VenueMap, floor: int, x: float, y: float) -> tuple[str, dict] | None:
    """(which of _ROUTE_POINT_PROBLEMS, its values) for a walked point that cannot be on `venue` (a floor it
    does not have, off that floor's plan), or None."""
    plans = {f.level: f for f in venue.floors}
    plan = plans.get(floor)
    if plan is None:
        return "floor", {"floor": floor, "venue": venue.id, "floors": ", ".join(str(k) for k in sorted(plans))}
    m = PLAN_MARGIN_M
    if not (-m <= x <= plan.width_m + m and -m <= y <= plan.height_m + m):
        return "plan", {"x": f"{x:g}", "y": f"{y:g}", "floor": floor, "w": f"{plan.width_m:g}",
                        "h": f"{plan.height_m:g}"}
    return None


def route_point_problem(venue: VenueMap, floor: int, x: float, y: float) -> str | None:
    """Why a walked point cannot be on `venue` (a floor it does not have, off that floor's plan), or None."""
    found = _route_point_check(venue, floor, x, y)
    return None if found is None else _ROUTE_POINT_PROBLEMS[found[0]][0] % found[1]


def read_walk_csv(route_csv: str | bytes, readings_csv: str | bytes, venue: VenueMap | None = None,
                  window_s: float = 60.0) -> tuple[list[tuple[float, int, float, float]],
                                                   list[tuple[float, str, float]]]:
    """route.csv: ts,floor,x,y (one row per marked point); readings.csv: ts,ap,rssi (the walking phone's
    readings as the APs reported them). Paths, or the files' bytes (an upload). Headers required; raises
    ValueError naming the bad row. A route needs a point and the readings a reading within the route's time
    (from `window_s`, the live window, before its first point to its last). With `venue`, each route point
    must be on one of its floors, on that floor's plan (PLAN_MARGIN_M), and a reading within the route's
    time must come from one of its APs: a walk that cannot be scored against the venue is not recorded."""
    def rows(source: str | bytes, name: str, fields: tuple[str, ...]) -> list[dict]:
        if isinstance(source, bytes):
            try:
                text = source.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise CsvInputError(name, N_("%(label)s: not UTF-8 text (a CSV)")) from None
        else:
            text = Path(source).read_text(encoding="utf-8-sig")
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            missing = set(fields) - set(reader.fieldnames or ())
            if missing:
                raise CsvInputError(name, N_("%(label)s: missing columns %(columns)s"), columns=sorted(missing))
            return list(reader)
        except csv.Error as exc:
            raise CsvInputError(name, N_("%(label)s: not a readable CSV (%(error)s)"), error=str(exc)) from None

    route_name = route_csv if isinstance(route_csv, str) else "route CSV"
    readings_name = readings_csv if isinstance(readings_csv, str) else "readings CSV"
    route, readings = [], []
    for n, row in enumerate(rows(route_csv, route_name, ("ts", "floor", "x", "y")), start=2):
        try:
            point = (float(row["ts"]), int(row["floor"]), float(row["x"]), float(row["y"]))
        except (TypeError, ValueError):
            raise CsvInputError(route_name, N_("%(label)s line %(line)s: ts, floor, x, y must be numbers"),
                                line=n) from None
        if not all(math.isfinite(v) for v in point) or not -999 <= point[1] <= 999:
            raise CsvInputError(route_name, N_("%(label)s line %(line)s: ts, floor, x, y must be finite (a floor "
                                               "number, metres)"), line=n)
        problem = _route_point_check(venue, *point[1:]) if venue is not None else None
        if problem:
            raise CsvInputError(route_name, _ROUTE_POINT_PROBLEMS[problem[0]][1], line=n, **problem[1])
        route.append(point)
    if not route:
        raise CsvInputError(route_name, N_("%(label)s: the route has no points"))
    for n, row in enumerate(rows(readings_csv, readings_name, ("ts", "ap", "rssi")), start=2):
        try:
            reading = (float(row["ts"]), normalise_bssid(row["ap"]), float(row["rssi"]))
        except (TypeError, ValueError):
            raise CsvInputError(readings_name, N_("%(label)s line %(line)s: ts and rssi must be numbers, ap a BSSID"),
                                line=n) from None
        if not (math.isfinite(reading[0]) and -120 <= reading[2] <= 0):
            raise CsvInputError(readings_name, N_("%(label)s line %(line)s: ts must be finite, rssi dBm between -120 "
                                                  "and 0"), line=n)
        readings.append(reading)
    times = [p[0] for p in route] + [r[0] for r in readings]
    if times and max(times) - min(times) > MAX_WALK_S:  # also: route in ms beside readings in seconds
        raise CsvInputError(route_name, N_("the walk spans %(s)s s; at most %(max)s s (both files in Unix seconds?)"),
                            s=f"{max(times) - min(times):.0f}", max=MAX_WALK_S)
    if not readings:
        raise CsvInputError(readings_name, N_("%(label)s: no reading (the walking phone's readings at the APs: "
                                              "ts,ap,rssi)"))
    first, last = min(p[0] for p in route) - window_s, max(p[0] for p in route)
    during = [r for r in readings if first <= r[0] <= last]
    if not during:
        raise CsvInputError(readings_name, N_("%(label)s: no reading falls within the route's time (%(first)s to "
                                              "%(last)s: %(window)s s before its first point to its last; both files "
                                              "in Unix seconds?)"),
                            first=f"{first:.0f}", last=f"{last:.0f}", window=f"{window_s:g}")
    if venue is not None:
        known = {ap.bssid.lower() for ap in venue.aps}
        if not any(r[1] in known for r in during):
            raise CsvInputError(readings_name, N_("%(label)s: no reading within the route's time is from an AP of "
                                                  "%(venue)s (the BSSIDs of its map)"), venue=venue.id)
    return route, readings
