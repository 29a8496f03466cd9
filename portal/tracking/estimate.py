"""The operator's quality figures through the live path itself: the quality report's estimate of live
landing accuracy (`live_estimate`) and the scoring of a validation walk uploaded as files (`validation_walk`).

Both replay a phone's readings through the code that places shoppers: the tracker's step
(`portal.tracking.locator.position_of`: the still-span median or the age-weighted readings, the partial
match of a phone heard under 8 s, the zone motion filter, the cold start from the associated AP, the group
pages), the store's window and the kept position with its freshness rule (`locator.kept_position`), and the
probe's landing rule (`positions.landing_zone`). Nothing of that is re-implemented here: `PhoneReplay` only
holds in memory what the store holds for a phone.

The live estimate has no shoppers to measure, only the survey. Each simulated visit goes to a zone shoppers dwell in
(each zone alike, as bench/landing.py's shoppers pick them), to a random spot in it. The spot's fingerprint is
interpolated from the nearest reference points (a spot between them, never one of them), and those within `hidden_m`
of the spot may be hidden from the live model's positioner (the cold-start coverage keeps them; the default hides
none: see LiveAssumptions). The phone walks in along the walkway graph (`early_walk_m`) to the zone's own walkway
node (through its door, as the plan leads in), each second heard (at `frame_rate`) at the nearest reference point's
fingerprint as a shopper's phone would be (its own offset, her body's shadow by AP bearing, per-reading noise as
wide as the survey's own scan-to-scan spread, some APs off, the weakest lost; and the APs the fingerprint does not
list at a level below the survey's hearing, from each AP's fall-off fitted to the survey, `fingerprints.falloff`,
so that a phone louder than the survey phone is heard by some of them now and then), reported by the APs on a
native/Meraki schedule drawn for that visit (`_feed`), positioned by the tracker every `tracker_tick_s`, and probed
2 s after joining the WiFi (on entering the zone: heard from its first second inside; or on arriving: then on a
walkway of the car park, at the share `arrive_by_car`, else of a lobby or corridor), 30 s and 120 s after entering
the zone. `hidden_m` was chosen on training malls 101 and 202 only (among 0, 1.5 and 2.2 m, then 0, 0.75 and 1.5 m
once the zone evidence was calibrated to the estimate's spread); what the estimate cannot know is listed with it
(CANNOT_KNOW)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from fingerprints.falloff import ApFalloff
from fingerprints.model import VenueMap
from fingerprints.quality import (
    ASSUMED_NOISE_DB,
    TRANSIT_KINDS,
    CannotEstimate,
    LeaveOutPositioner,
    LiveAssumptions,
    LiveEstimate,
    ValidationWalk,
    WalkIn,
    WalkResult,
    cannot_know,
    error_stats,
    placed_error_m,
    route_point_problem,
)
from fingerprints.simulator import report_schedule
from fingerprints.training import offset_reference, training_set
from portal.tracking.locator import kept_position, position_of
from portal.tracking.models import VenueModel, build_venue_model
from portal.tracking.phone_mix import count_into
from portal.tracking.positions import KeptPosition, Position, landing_zone
from positioning import MISSING_DBM, phone_offset

WALK_MPS = 1.2  # walking speed (bench/landing.py's shoppers walk at it too)
PROBE_AFTER_JOIN_S = 2.0  # the OS probe comes a second or two after joining the WiFi
PROBES_AFTER_ENTRY_S = (30.0, 120.0)  # the probes the figures are for, seconds after entering the zone


class PhoneReplay:
    """One phone through the live steps, in memory: its readings in the store's window, its motion state,
    its kept position and when that still answers (the Locator's rule), `position_of` for a new one.
    `step`: the positioning step (`position_of`'s signature, the default); bench/landing_replay.py passes one
    under test. `reported`: AP -> the newest reading of its last report (the store's `ap_reach`), kept up to date
    by the driver and shared by its phones; None: not known (as for a walk uploaded as files). `phone_mix`:
    whole-dB offset -> phones, counted into as the tracker counts a phone's offset once it is settled
    (portal.tracking.phone_mix), shared by the driver's phones; None: not counted."""

    def __init__(self, model: VenueModel, window_s: float = 60.0, cache_s: float = 30.0,
                 step: Callable[..., tuple[dict | None, Position] | None] | None = None,
                 reported: Mapping[str, float] | None = None, phone_mix: dict[int, int] | None = None) -> None:
        self.model = model
        self.window_s = window_s
        self.cache_s = cache_s
        self.step = step or position_of  # looked up here, not at import: tests swap the module's one
        self.readings: dict[str, list[tuple[float, float, bool]]] = {}
        self.state: dict | None = None
        self.kept: KeptPosition | None = None
        self.marked = False  # new readings since the tracker last positioned it
        self.reported = reported
        self.phone_mix = phone_mix

    def hear(self, ap: str, items: Sequence[tuple[float, float, bool]]) -> None:
        """An AP's report of this phone: (ts, rssi, associated) readings."""
        if items:
            self.readings.setdefault(ap, []).extend(items)
            self.marked = True

    def _newest(self, now: float) -> bytes | None:
        """Drop readings older than the window; the newest reading's identity (the store's newest member)."""
        newest = None
        for ap in list(self.readings):
            items = [r for r in self.readings[ap] if r[0] >= now - self.window_s]
            if not items:
                del self.readings[ap]
                continue
            self.readings[ap] = items
            top = max((r[0], ap) for r in items)
            newest = top if newest is None or top > newest else newest
        return None if newest is None else f"{newest[0]!r}|{newest[1]}".encode()

    def locate(self, now: float, associated_ap: str | None = None) -> Position | None:
        """As Locator.locate: the kept position while it still answers, else a new one (kept)."""
        newest = self._newest(now)
        kept = kept_position(self.kept, newest, now, self.cache_s, associated_ap)
        if kept is not None:
            return kept
        found = self.step(self.model, self.readings, self.state, now, associated_ap, reported=self.reported)
        if found is None:
            return None
        state, position = found
        if state is not None:
            self.state = state
            if self.phone_mix is not None and (offset := phone_offset.newly_settled(state)) is not None:
                count_into(self.phone_mix, [offset])
        if newest is not None:
            self.kept = KeptPosition(position, newest, now)
        return position

    def track(self, now: float) -> None:
        """The tracker's pass: a phone with new readings is positioned."""
        if self.marked:
            self.marked = False
            self.locate(now)

    def probe(self, now: float, associated_ap: str | None) -> Position | None:
        """The probe: the kept position when it still answers, else the phone positioned with its AP."""
        return self.locate(now, associated_ap)


# -- the live estimate -------------------------------------------------------------------------------------


@dataclass
class _Visit:
    """One simulated visit: per second, where the phone is, its fingerprint there (before the phone's own
    effects), the levels of the APs that fingerprint does not list and the way it faces; when it reaches the zone
    and when it joins the WiFi."""
    where: list[tuple[int, float, float]]
    vectors: list[np.ndarray]
    below: list[np.ndarray]  # per second, the levels of the APs the fingerprint does not list (_Survey.below)
    headings: list[float]
    entered: int  # the second it is inside the zone (at its own walkway node when it has one)
    joins: int  # the second it joins the WiFi
    zone: str | None  # the zone it is for (None: an arrival outside every zone, e.g. at a street door)
    first_probe: bool = True  # its first probe counts (a phone that joined on arrival is counted at arrival)


class _Survey:
    """The survey as fingerprints over the plan: the nearest reference point's (walking), an interpolation
    of the nearest ones (a spot between them), the rows near a spot (to hide from the model), and how loud the APs
    a fingerprint does not list may be at a spot (`below`: `falloff`, fitted to the survey; None: never heard)."""

    def __init__(self, venue: VenueMap, X: np.ndarray, falloff: ApFalloff | None = None) -> None:
        self.X = X
        self.falloff = falloff
        self.coords = np.array([(s.floor, s.x, s.y) for s in venue.samples])
        self.trees = {}
        for level in {int(c) for c in self.coords[:, 0]}:
            rows = np.flatnonzero(self.coords[:, 0] == level)
            self.trees[level] = (rows, cKDTree(self.coords[rows, 1:]))

    def nearest(self, floor: int, x: float, y: float) -> np.ndarray:
        rows, tree = self.trees[floor]
        return self.X[rows[int(tree.query((x, y))[1])]]

    def between(self, floor: int, x: float, y: float, k: int = 4) -> np.ndarray:
        """The fingerprint at (x, y) from the `k` nearest reference points (inverse-square distance
        weights; an AP counts as heard when most of the weight hears it)."""
        rows, tree = self.trees[floor]
        d, i = tree.query((x, y), k=min(len(rows), k))
        d, i = np.atleast_1d(d), rows[np.atleast_1d(i)]
        w = 1.0 / np.maximum(d, 0.5) ** 2
        heard = self.X[i] > MISSING_DBM
        weight = (w[:, None] * heard).sum(axis=0)
        mean = (w[:, None] * np.where(heard, self.X[i], 0.0)).sum(axis=0) / np.maximum(weight, 1e-9)
        return np.where(weight >= 0.5 * w.sum(), mean, MISSING_DBM)

    def below(self, floor: int, x: float, y: float, fingerprint: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per AP the fingerprint does not list, a level at the spot below the survey's hearing (ApFalloff); the
        missing level for the APs it lists (and for all of them without a fall-off)."""
        if self.falloff is None:
            return np.full(fingerprint.shape, MISSING_DBM)
        return self.falloff.levels_below(floor, x, y, fingerprint <= MISSING_DBM, rng)

    def near(self, floor: int, x: float, y: float, radius_m: float) -> np.ndarray:
        rows, tree = self.trees[floor]
        return rows[tree.query_ball_point((x, y), radius_m)] if radius_m > 0 else np.array([], dtype=int)


def spot_in_zone(zone, zones, rng: np.random.Generator) -> tuple[float, float]:
    """A random spot inside the zone, away from its walls, as a shopper stands (bench/landing.py's shoppers too)."""
    xs, ys = [p[0] for p in zone.polygon], [p[1] for p in zone.polygon]
    for _ in range(100):
        x, y = rng.uniform(min(xs) + 0.8, max(xs) - 0.8), rng.uniform(min(ys) + 0.8, max(ys) - 0.8)
        if zones.zone_at(zone.floor, float(x), float(y)) == zone.id:
            return float(x), float(y)
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _visit(walk_in: WalkIn, survey: _Survey, zone, spot: tuple[float, float], rng: np.random.Generator,
           a: LiveAssumptions, zones) -> _Visit:
    floor, (x, y) = zone.floor, spot
    path = walk_in.route(floor, x, y, rng, zone.id) + [(x, y)]
    where, vectors, below, headings = [], [], [], []
    entered = 0
    for n, ((x0, y0), (x1, y1)) in enumerate(zip(path, path[1:], strict=False)):
        if n == len(path) - 2:  # the last steps, from the route's last walkway node to the spot
            entered = len(where)
        seconds = max(1, int(round(math.hypot(x1 - x0, y1 - y0) / WALK_MPS)))
        heading = math.atan2(y1 - y0, x1 - x0)
        for s in range(seconds):
            u = s / seconds
            px, py = x0 + u * (x1 - x0), y0 + u * (y1 - y0)
            where.append((floor, px, py))
            vectors.append(survey.nearest(floor, px, py))
            below.append(survey.below(floor, px, py, vectors[-1], rng))
            headings.append(heading)
    dwell = survey.between(floor, x, y)
    dwell_below = survey.below(floor, x, y, dwell, rng)  # one draw: the spot's levels do not change while she stands
    dwell_heading = float(rng.uniform(0, 2 * np.pi))
    entered = _first_second_inside(where, entered, zone.id, zones)
    end = entered + int(max(PROBES_AFTER_ENTRY_S)) + 2
    while len(where) < end:
        where.append((floor, x, y))
        vectors.append(dwell)
        below.append(dwell_below)
        headings.append(dwell_heading)
    joins = 0 if rng.random() < a.join_on_arrival else entered
    return _Visit(where=where, vectors=vectors, below=below, headings=headings, entered=entered, joins=joins,
                  zone=zone.id)


def _first_second_inside(where: list[tuple[int, float, float]], start: int, zone_id: str, zones) -> int:
    """The second the walk is inside the zone, from `start` (the route's last walkway node) on: for a zone
    without a walkway node of its own that node is outside it (a corridor's), and a phone that joins "on
    entering" is heard from inside (len(where): it reaches the zone only at its spot)."""
    for s in range(start, len(where)):
        if zones.zone_at(*where[s]) == zone_id:
            return s
    return len(where)


def walkway_spots(walk_in: WalkIn, zones, step_m: float = 1.0) -> dict[str, list[tuple[float, float]]]:
    """Spots every `step_m` along the walkways (the plan's same-floor walkway edges), by the zone they lie in:
    where a shopper crossing a car park, lobby or corridor walks, as the estimate's walk-in does (a random spot
    of the zone would put her against the shop fronts, where no one comes in)."""
    spots: dict[str, list[tuple[float, float]]] = {}
    for a, b in walk_in.graph.edges:
        na, nb = walk_in.nodes[a], walk_in.nodes[b]
        n = max(1, int(math.hypot(nb.x - na.x, nb.y - na.y) / step_m))
        for u in np.arange(n) / n:
            x, y = na.x + u * (nb.x - na.x), na.y + u * (nb.y - na.y)
            zone = zones.zone_at(na.floor, x, y)
            if zone is not None:
                spots.setdefault(zone, []).append((float(x), float(y)))
    return spots


def arrival_spot(zone, walkways: Mapping[str, list[tuple[float, float]]], zones,
                 rng: np.random.Generator) -> tuple[float, float]:
    """Where a phone joins the WiFi on arriving in `zone`: a spot on its walkways, or anywhere in it when no
    walkway crosses it."""
    on_walkways = walkways.get(zone.id)
    if not on_walkways:
        return spot_in_zone(zone, zones, rng)
    return on_walkways[int(rng.integers(len(on_walkways)))]


def arrival_zone(arrivals: Sequence, by_car: float, rng: np.random.Generator):
    """The zone a phone joining on arrival joins in: a car park's (garage zones) with probability `by_car`, else
    one of the lobbies and corridors; each zone of the kind drawn alike (all alike when the plan lacks a kind)."""
    garages = [z for z in arrivals if z.kind == "garage"]
    on_foot = [z for z in arrivals if z.kind != "garage"]
    pool = garages if (rng.random() < by_car and garages) or not on_foot else on_foot
    return pool[int(rng.integers(len(pool)))]


@dataclass(frozen=True)
class ArrivalPlace:
    """Where a phone joining on arrival joins: a floor, a spot, the zone it lies in (None: in none, e.g. a street door
    outside every zone, where the mall's home page is the right landing: `_replay_visit` scores it so)."""
    floor: int
    x: float
    y: float
    zone: str | None


def arrival_place(arrivals: Sequence, walkways: Mapping[str, list[tuple[float, float]]], zones,
                  entrances: Sequence[tuple[int, float, float]], by_car: float, rng: np.random.Generator
                  ) -> ArrivalPlace:
    """Where a phone joining the WiFi on arrival joins (`arrival_zone`'s draw): in a car park at a spot on its
    walkways; on foot at one of `entrances` (floor, x, y) when the map marks where shoppers come in, else at a
    spot on the walkways of a lobby or corridor (`arrival_spot`). A plan with entrances but no lobby or corridor
    zone (shops straight off the street) still has its arrivals on foot at the entrances, and those by car in one of
    its car parks (drawn as `arrival_zone` would, without its draw of car or foot: made here already)."""
    if entrances and not any(z.kind != "garage" for z in arrivals):
        zone = arrivals[int(rng.integers(len(arrivals)))] if arrivals and rng.random() < by_car else None
    else:
        zone = arrival_zone(arrivals, by_car, rng)
    if zone is None or (zone.kind != "garage" and entrances):
        floor, x, y = entrances[int(rng.integers(len(entrances)))]
        return ArrivalPlace(int(floor), float(x), float(y), zones.zone_at(int(floor), float(x), float(y)))
    x, y = arrival_spot(zone, walkways, zones, rng)
    return ArrivalPlace(zone.floor, x, y, zone.id)


def _arrival(survey: _Survey, place: ArrivalPlace, rng: np.random.Generator) -> _Visit:
    """A phone joining the WiFi where shoppers come in or pass (the car park, a lobby, a corridor, a door): a few
    seconds standing at `place`, for the first probe only."""
    here = (place.floor, place.x, place.y)
    seconds = int(PROBE_AFTER_JOIN_S) + 1
    fingerprint = survey.between(*here)
    return _Visit(where=[here] * seconds, vectors=[fingerprint] * seconds,
                  below=[survey.below(*here, fingerprint, rng)] * seconds,
                  headings=[float(rng.uniform(0, 2 * np.pi))] * seconds, entered=0, joins=0, zone=place.zone)


@dataclass
class _Outcome:
    kind: str
    right: bool
    floor_right: bool
    error_m: float
    where: tuple[int, float, float]
    zone: str | None  # where the phone truly was
    grouped: bool = False  # landed on the page of the group its zone belongs to (the food hall for its stall)


def on_group_page(landed: str | None, truth: str | None, groups: Mapping[str, str]) -> bool:
    """Whether a phone truly in zone `truth` landed on the page of that zone's group (the food hall for one of its
    stalls: the designed answer when the position cannot tell the stalls apart), not on its own page. `groups`:
    zone -> the zone standing for its group (positioning/groups.py). The benches count it the same way."""
    return landed is not None and landed != truth and groups.get(truth or "") == landed


def _tick(s: int, visit: _Visit, tick_s: int) -> int:
    """The tracker's period at second `s` of a visit: `tick_s`, but 4x that while the phone has stood still
    for a while and no probe is near. A cost cut (a visit is ~80 positionings otherwise): fewer, older
    estimates weigh as much in the motion filter (each counts fully after obs_tau_s) and the still-span
    median does not depend on how often it is taken."""
    quiet = visit.entered + 40 <= s <= visit.entered + max(PROBES_AFTER_ENTRY_S) - 12
    return tick_s * 4 if quiet else tick_s


def _replay_visit(model: VenueModel, ap_xy: np.ndarray, visit: _Visit, schedule, rng: np.random.Generator,
                  a: LiveAssumptions, noise_db: float) -> list[_Outcome]:
    """The phone of one visit through the reports, the tracker and its three probes."""
    ap_ids = model.ap_ids
    off = rng.random(len(ap_ids)) < a.ap_off
    offset = rng.normal(a.phone_mean_db, a.phone_spread_db)
    t0 = int(rng.integers(0, 60))  # where in the APs' report cycles the visit falls
    # A mall in business: every AP's report holds some phone heard in its last second (`ap_reach`).
    reported: dict[str, float] = {}
    phone = PhoneReplay(model, reported=reported)
    probes = {visit.entered + int(s): f"{int(s)}s" for s in PROBES_AFTER_ENTRY_S}
    if visit.first_probe:
        probes[visit.joins + int(PROBE_AFTER_JOIN_S)] = "first"
    scans: dict[int, np.ndarray | None] = {}
    associated: str | None = None
    out = []
    for s in range(visit.joins, len(visit.where)):
        floor, px, py = visit.where[s]
        x = visit.vectors[s]
        if rng.random() < a.frame_rate:
            # the APs the fingerprint lists at their level, the others below the survey's hearing (a louder phone
            # is heard by some of them now and then, as in a real mall)
            level = np.where(x > MISSING_DBM, x, visit.below[s])
            bearings = np.arctan2(ap_xy[:, 1] - py, ap_xy[:, 0] - px)
            q = level + offset - a.body_db * (1 - np.cos(bearings - visit.headings[s])) / 2
            q = np.round(q + rng.normal(0.0, noise_db, size=x.shape))
            scans[s] = np.where((level > MISSING_DBM) & (q >= a.sensitivity_dbm) & ~off, q, np.nan)
        if associated is None or (s - visit.joins) % 30 == 0:  # phones roam now and then, to a strong AP
            loud = np.where(off | (x <= MISSING_DBM), -np.inf, x)
            associated = ap_ids[int(np.argmax(loud))] if np.isfinite(loud.max()) else None
        now = float(t0 + s)
        for col, rep in schedule:
            if not rep.due(t0 + s):
                continue
            first = max(visit.joins, s - rep.period_s + 1)
            heard = [(float(t0 + tau), float(v[col]), ap_ids[col] == associated)
                     for tau in range(first, s + 1) if (v := scans.get(tau)) is not None and v[col] == v[col]]
            phone.hear(ap_ids[col], heard[-1:] if rep.kind == "meraki" else heard)
            if not off[col]:
                reported[ap_ids[col]] = now
        if s % _tick(s, visit, a.tracker_tick_s) == 0:
            phone.track(now)
        kind = probes.get(s)
        if kind is None:
            continue
        position = phone.probe(now, associated)
        truth = model.zones.zone_at(floor, px, py)
        error = placed_error_m(position.x - px, position.y - py, position.floor - floor) if position else math.nan
        landed = landing_zone(position)
        out.append(_Outcome(kind, landed == truth, position is not None and position.floor == floor,
                            error, (floor, px, py), truth, grouped=on_group_page(landed, truth, model.groups)))
    return out


def _dwell_zones(venue: VenueMap, n: int, rng: np.random.Generator) -> list:
    """`n` visits' zones among those shoppers dwell in (not corridors, lobbies, the car park): each zone
    alike, every zone once before any twice."""
    zones = [z for z in venue.zones if z.kind not in TRANSIT_KINDS and len(z.polygon) >= 3]
    if not zones:
        raise CannotEstimate(f"venue {venue.id} has no shop or other dwell zone")
    picked = []
    while len(picked) < n:
        picked += [zones[int(i)] for i in rng.permutation(len(zones))[:n - len(picked)]]
    return picked


def survey_noise_db(venue: VenueMap) -> float | None:
    """One reading's spread as the survey saw it: the median scan-to-scan spread per AP (a sample's spread
    is over its n scans, so it is scaled up to the spread of one reading); None when the survey records no
    spread (a CSV import has no spread column: 0 dB would claim noiseless phones)."""
    spreads = [v * math.sqrt(s.n / (s.n - 1)) for s in venue.samples if s.n > 1 for v in s.spread.values()]
    return float(np.median(spreads)) if spreads else None


def _misses(floor: int, spot: tuple[float, float], zone: str | None, first: bool) -> list[_Outcome]:
    """A visit to a zone whose floor has no reference point: the live model cannot place a phone there (it
    would land on a surveyed floor), so every probe counts as a miss, zone and floor; no metre error (there is
    no simulated position to measure it from), so the error figures are over the surveyed floors only."""
    kinds = (["first"] if first else []) + [f"{int(s)}s" for s in PROBES_AFTER_ENTRY_S]
    return [_Outcome(k, False, False, math.nan, (floor, *spot), zone) for k in kinds]


@dataclass
class _EstimateRun:
    """What every visit of one `live_estimate` shares: the model (its positioner hides the reference points near a
    spot), the survey and walk-in built from the map, the APs' places and report schedule draw, where shoppers join
    on arrival, the assumptions and the readings' noise."""
    model: VenueModel
    survey: _Survey
    walk_in: WalkIn
    hiding: LeaveOutPositioner
    ap_xy: np.ndarray
    feed: Callable[[np.random.Generator], list]  # a report schedule per visit (`_feed`)
    arrivals: list  # the transit zones a phone joining on arrival joins in (`arrival_place`)
    walkways: Mapping[str, list[tuple[float, float]]]
    entrances: Sequence[tuple[int, float, float]]
    a: LiveAssumptions
    noise_db: float

    def replay(self, visit: _Visit, schedule, rng: np.random.Generator) -> list[_Outcome]:
        return _replay_visit(self.model, self.ap_xy, visit, schedule, rng, self.a, self.noise_db)

    def hide_near(self, floor: int, x: float, y: float) -> None:
        """The reference points within `hidden_m` of the spot hidden from the model (the spot's fingerprint is made
        of them)."""
        self.hiding.excluded = self.survey.near(floor, x, y, self.a.hidden_m)


def _surveyed_visit(run: _EstimateRun, zone, spot: tuple[float, float], rng: np.random.Generator) -> list[_Outcome]:
    """One visit to a zone on a surveyed floor, through the live path (and its arrival, if it joined there:
    `arrival_place`), meeting one draw of the APs' report schedule (`_feed`)."""
    out: list[_Outcome] = []
    schedule = run.feed(rng)
    run.hide_near(zone.floor, *spot)
    visit = _visit(run.walk_in, run.survey, zone, spot, rng, run.a, run.model.zones)
    if visit.joins == 0 and (run.arrivals or run.entrances):  # joined on arrival: the first probe is where it came in
        visit.first_probe = False
        there = arrival_place(run.arrivals, run.walkways, run.model.zones, run.entrances, run.a.arrive_by_car, rng)
        if there.floor in run.survey.trees:
            run.hide_near(there.floor, there.x, there.y)
            out += run.replay(_arrival(run.survey, there, rng), schedule, rng)
            run.hide_near(zone.floor, *visit.where[-1][1:])
        else:  # came in on a floor with no reference point: that first probe is a miss too
            out += _misses(there.floor, (there.x, there.y), there.zone, first=True)[:1]
    return out + run.replay(visit, schedule, rng)


def _feed(venue: VenueMap, ap_ids: Sequence[str], meraki_share: float
          ) -> Callable[[np.random.Generator], list[tuple[int, object]]]:
    """A draw of the APs' report schedule ((model column, ApReporting)), `meraki_share` of them once a minute.
    One draw per visit, not one for the whole estimate: which APs report once a minute is not known, and one
    draw decides it for every visit alike, so the estimate would hang on where that draw put them (check mall
    7777, 2026-12-03: one draw had all four APs that reach the food hall report natively and claimed its stalls
    at 78% at 30 s; with two of them once a minute, as in that mall's feed, the bench measured 15%). Drawn per
    visit, the estimate is the rate expected over the assumed mix."""
    col = {b: i for i, b in enumerate(ap_ids)}

    def draw(rng: np.random.Generator) -> list[tuple[int, object]]:
        return [(col[r.bssid], r) for r in report_schedule(venue, int(rng.integers(2**31)), meraki_share)
                if r.bssid in col]
    return draw


VISITS = 300  # simulated visits by default: a standard error of about 2.5 points on a rate near 75% (150: 3.5)
VISITS_PER_ZONE = 4  # at most this many per dwell zone by default (a small venue needs fewer)


def live_estimate(venue: VenueMap, assumptions: LiveAssumptions | None = None, *, max_points: int | None = None,
                  seed: int = 0, progress=None) -> LiveEstimate:
    """Estimated live landing accuracy of the venue's map, through the live path (see the module docstring):
    `max_points` simulated visits (default VISITS, at most VISITS_PER_ZONE per dwell zone), to the dwell zones
    alike. `progress(done, total)`. Shoppers on foot come in at the walkway nodes the map marks as entrances
    (`VenueMap.entrance_spots`), or, where it marks none, at spots along its lobbies and corridors (which read the
    first probe about 3 points lower than with the street doors marked, on twelve simulated malls:
    docs/landing-history.md, "Entrances on the plan")."""
    started = time.perf_counter()
    a = assumptions or LiveAssumptions()
    rng = np.random.default_rng(seed)
    if not venue.samples:
        raise CannotEstimate(f"venue {venue.id} has no fingerprint samples")
    if max_points is None:
        dwell = sum(1 for z in venue.zones if z.kind not in TRANSIT_KINDS)
        max_points = max(1, min(VISITS, VISITS_PER_ZONE * dwell))
    visits = _dwell_zones(venue, max_points, rng)
    live = build_venue_model(venue)
    ap_ids, X, y = training_set(venue)  # the survey's rows, in venue.samples order
    falloff = live.falloff  # what the survey did not list at a point was below its hearing (fitted to it)
    # fitted as the live positioner is; the made-up phones read what the survey listed and, below it, the fall-off
    hiding = LeaveOutPositioner(**live.positioner.get_params()).fit(X, y, offset_reference(venue, ap_ids, X, y,
                                                                                            falloff))
    model = replace(live, positioner=hiding)
    ap_by_id = {ap.bssid: ap for ap in venue.aps}
    ap_xy = np.array([(ap_by_id[b].x, ap_by_id[b].y) for b in model.ap_ids], dtype=float).reshape(-1, 2)
    survey = _Survey(venue, X, falloff)
    walk_in = WalkIn(venue, survey.coords, a.early_walk_m)
    feed = _feed(venue, model.ap_ids, a.meraki_share)
    surveyed_noise = survey_noise_db(venue)
    noise_db = a.reading_noise_db if a.reading_noise_db is not None else surveyed_noise
    noise_db = ASSUMED_NOISE_DB if noise_db is None else noise_db
    arrivals = [z for z in venue.zones if z.kind in TRANSIT_KINDS and len(z.polygon) >= 3]
    entrances = venue.entrance_spots()
    run = _EstimateRun(model, survey, walk_in, hiding, ap_xy, feed, arrivals, walkway_spots(walk_in, model.zones),
                       entrances, a, noise_db)
    outcomes: list[_Outcome] = []
    for done, zone in enumerate(visits):
        spot = spot_in_zone(zone, model.zones, rng)
        if zone.floor in survey.trees:
            outcomes += _surveyed_visit(run, zone, spot, rng)
        else:
            outcomes += _misses(zone.floor, spot, zone.id, first=True)
        if progress is not None:
            progress(done + 1, len(visits))
    hiding.excluded = None
    if not any(z.floor in survey.trees for z in visits):
        raise CannotEstimate(f"venue {venue.id} has no surveyed dwell zone")
    estimate = _summarise(venue, outcomes, a, noise_db, time.perf_counter() - started, bool(entrances))
    estimate.noise_assumed = a.reading_noise_db is None and surveyed_noise is None
    dwell = [z for z in venue.zones if z.kind not in TRANSIT_KINDS and len(z.polygon) >= 3]
    estimate.dwell_zones = len(dwell)
    estimate.unsurveyed = {z.id: z.floor for z in dwell if z.floor not in survey.trees}
    return estimate


def _summarise(venue: VenueMap, outcomes: list[_Outcome], a: LiveAssumptions, noise_db: float,
               seconds: float, entrances_marked: bool) -> LiveEstimate:
    kinds = {z.id: z.kind for z in venue.zones}

    def rate(kind: str, what: str = "right") -> float:
        rows = [getattr(o, what) for o in outcomes if o.kind == kind]
        return float(np.mean(rows)) if rows else float("nan")

    settled = [o for o in outcomes if o.kind == "120s"]
    early = [o for o in outcomes if o.kind == "30s"]
    mean, median, p95 = error_stats(np.array([o.error_m for o in settled]))
    by_kind: dict[str, list[bool]] = {}
    by_zone: dict[str, list[tuple[bool, bool]]] = {}
    for o, e in zip(settled, early, strict=False):
        by_kind.setdefault(kinds.get(o.zone, "-"), []).append(o.right)
        by_zone.setdefault(o.zone, []).append((o.right, e.right))
    estimate = LiveEstimate(
        venue=venue.id, version=venue.version, n_points=len(settled), settled_zone_rate=rate("120s"),
        early_zone_rate=rate("30s"), floor_rate=rate("120s", "floor_right"), mean_error_m=mean,
        median_error_m=median, p95_error_m=p95,
        by_kind={k: (len(v), float(np.mean(v))) for k, v in sorted(by_kind.items())},
        by_zone={z: (len(v), float(np.mean([r for r, _ in v])), float(np.mean([e for _, e in v])))
                 for z, v in by_zone.items()},
        assumptions=a, cannot_know=cannot_know(a, entrances_marked), first_zone_rate=rate("first"),
        first_floor_rate=rate("first", "floor_right"), reading_noise_db=noise_db,
        group_rates=(rate("first", "grouped"), rate("30s", "grouped"), rate("120s", "grouped")),
        errors_at=[(*o.where, o.error_m) for o in settled if not math.isnan(o.error_m)])
    estimate.shop_rates = estimate.per_zone(kinds)
    estimate.seconds = seconds
    return estimate


# -- a validation walk uploaded as files -------------------------------------------------------------------


def validation_walk(venue: VenueMap, route: Sequence[tuple[float, int, float, float]],
                    readings: Sequence[tuple[float, str, float]], *, window_s: float = 60.0,
                    tick_s: float = 2.0, model: VenueModel | None = None) -> ValidationWalk:
    """An operator walked `route` ((ts, floor, x, y) where she was) with a phone whose readings at the APs
    were `readings` ((ts, AP BSSID, dBm)). The readings are replayed in time order through the tracker's
    step every `tick_s` and, at each route point, the phone's position is what a probe would get then
    (kept position or a new one), landed with the probe's rule and compared with where she was. A point on a
    floor the venue does not have, or off that floor's plan, is a ValueError (read_walk_csv with the venue
    names its line); readings may be empty (the phone never heard: every point is scored not placed)."""
    if not route:
        raise ValueError("the route has no points")
    for n, (ts, floor, x, y) in enumerate(route, start=1):
        problem = route_point_problem(venue, floor, x, y)
        if problem:
            raise ValueError(f"route point {n} (ts {ts:.0f}): {problem}")
    model = model or build_venue_model(venue)
    phone = PhoneReplay(model, window_s=window_s)
    pending = sorted(readings)
    marks = sorted(route)
    start = min([marks[0][0], *(r[0] for r in pending[:1])])
    out: list[WalkResult] = []
    i, t = 0, start
    for ts, floor, x, y in marks:
        while True:
            now = min(t, ts)
            while i < len(pending) and pending[i][0] <= now:
                phone.hear(pending[i][1], [(pending[i][0], pending[i][2], False)])
                i += 1
            if now >= ts:
                break
            phone.track(now)
            t += tick_s
        position = phone.probe(ts, None)
        out.append(score_mark(model, ts, floor, x, y, position))
    return summarise_walk(venue.id, venue.version, out)


def score_mark(model: VenueModel, ts: float, floor: int, x: float, y: float, position: Position | None) -> WalkResult:
    """One route point against the phone's live position: error (a storey per floor off counted in), floor,
    the zone a probe would land on."""
    truth = model.zones.zone_at(floor, x, y)
    if position is None:
        return WalkResult(ts, floor, x, y, truth, None, math.nan, math.nan, None, math.nan)
    return WalkResult(ts, floor, x, y, truth, position.floor, position.x, position.y, landing_zone(position),
                      placed_error_m(position.x - x, position.y - y, position.floor - floor))


def summarise_walk(venue: str, version: int, points: list[WalkResult],
                   route_points: int | None = None) -> ValidationWalk:
    """The walk's figures, one point per route point scored (a live walk: `route_points` on its route, some
    perhaps not visited). The rates are over every point: one the phone was not placed at is never right,
    zone or floor (its est_zone None is "not located", not "no zone here"); the errors over those placed."""
    mean, median, p95 = error_stats(np.array([p.error_m for p in points], dtype=float))

    def rate(right) -> float:
        return float(np.mean([p.est_floor is not None and right(p) for p in points])) if points else math.nan

    return ValidationWalk(venue=venue, version=version, points=points,
                          zone_rate=rate(lambda p: p.est_zone == p.zone),
                          floor_rate=rate(lambda p: p.est_floor == p.floor),
                          mean_error_m=mean, median_error_m=median, p95_error_m=p95, route_points=route_points)
