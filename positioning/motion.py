"""A motion model over places: a hidden Markov model whose states are the venue's zones plus one
"outside any zone" state per floor (corridors), filtered forward one estimate at a time.

Why zones and not x/y: landing is a question about zones, and the posterior over zones says how sure
the estimate is (two small stalls side by side share the mass; see positioning/groups.py). The
transition model encodes how people move: a phone stays where it is or walks to a neighbouring place
(zones that touch, a zone and its floor's corridors), and changes floor only through the places where a
walkway edge joins two floors (stairs, lifts, escalators), plus a small "anything" term that lets the
filter recover from a wrong start. So one noisy estimate on another floor does not move the phone, two
agreeing ones near the escalator do, and a phone that walked from the corridor into a shop is placed in
the shop after one or two reports. While a phone's own readings say it stood still (the still span its
vector was taken over: positioning/readings.py), it does not walk on at all, only the "anything" term
applies: the estimates of a dwell add up rather than each standing nearly alone.

Pure: the state is a small JSON-serialisable dict the caller keeps (the tracker keeps it in the store)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from shapely.geometry import Polygon

from positioning.sums import row_sums
from positioning.wknn import Estimate


def off_zone(floor: int) -> str:
    """The state of a phone on `floor` outside every zone (a corridor, a void)."""
    return f"~{floor}"


ZoneSpec = tuple[str, int, Sequence[tuple[float, float]]]  # (zone id, floor, polygon)
HINT_FLOOR = 0.1  # the weight of a floor the floor hint (MotionFilter.update) gives no mass
Connector = tuple[str, str]  # two states a walkway edge between floors joins


class _Columns(dict):
    """A state's index (ZoneGraph.columns); -1 for one it does not know."""

    def __missing__(self, state: object) -> int:
        return -1


class ZoneGraph:
    """The states and who neighbours whom. `connectors` are pairs of states on different floors
    (from the walkway graph's stairs, lifts and escalators); zones closer than `touch_m` neighbour."""

    def __init__(self, zones: Sequence[ZoneSpec], floors: Sequence[int], connectors: Sequence[Connector] = (),
                 touch_m: float = 2.0) -> None:
        floors = sorted(set(floors) | {int(f) for _, f, _ in zones})
        self.states: list[str] = [z for z, _, _ in zones] + [off_zone(f) for f in floors]
        self.floors = floors
        self.floor_of = np.array([int(f) for _, f, _ in zones] + floors, dtype=int)
        self.index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        adjacency = np.zeros((n, n), dtype=bool)
        polygons = [Polygon(coords) for _, _, coords in zones]
        for i, (_, floor_i, _) in enumerate(zones):
            adjacency[i, self.index[off_zone(int(floor_i))]] = True
            for j in range(i + 1, len(zones)):
                if zones[j][1] == floor_i and polygons[i].distance(polygons[j]) <= touch_m:
                    adjacency[i, j] = True
        for a, b in connectors:
            if a in self.index and b in self.index and a != b:
                adjacency[self.index[a], self.index[b]] = True
        adjacency |= adjacency.T
        np.fill_diagonal(adjacency, False)
        degree = adjacency.sum(axis=1, keepdims=True)
        # Row-stochastic "walk to a neighbour" matrix; a state without neighbours keeps its mass.
        self.walk = np.where(degree > 0, adjacency / np.maximum(degree, 1), np.eye(n))
        self.same_floor = {f: self.floor_of == f for f in floors}
        self._columns: dict[int | None, _Columns] = {}

    def __len__(self) -> int:
        return len(self.states)

    def columns(self, floor: int | None = None) -> dict[str | None, int]:
        """State -> its index, -1 for a state the graph does not know (made once per floor, for the batch's
        lookups by `map`: no Python call per state); with `floor`, None -> that floor's off-zone state."""
        made = self._columns.get(floor)
        if made is None:
            made = self._columns[floor] = _Columns(self.index)
            if floor is not None and off_zone(floor) in self.index:
                made[None] = self.index[off_zone(floor)]
        return made

    def distribution(self, probs: Mapping[str, float]) -> np.ndarray:
        """A dense, normalised vector from {state: probability} (unknown states are dropped)."""
        p = np.zeros(len(self.states))
        for state, value in probs.items():
            i = self.index.get(state)
            if i is not None and value > 0:
                p[i] += value
        total = p.sum()
        return p / total if total > 0 else np.full(len(self.states), 1 / len(self.states))


@dataclass(frozen=True)
class Motion:
    floor: int
    x: float
    y: float
    posterior: dict[str, float]  # state -> probability (pruned, sums to ~1)


class MotionFilter:
    """Forward filter over a ZoneGraph, with x/y smoothed on the chosen floor.

    move_tau_s: mean time before a phone walks on to a neighbouring place; jump_tau_s: of the "anything"
    term; obs_tau_s: successive estimates share readings, so an estimate that comes sooner than this
    after the last one counts as partial evidence (likelihood ** (dt / obs_tau_s)); xy_tau_s: the x/y
    smoothing time; reset_after_s: a phone silent this long starts afresh."""

    def __init__(self, graph: ZoneGraph, *, move_tau_s: float = 6.0, jump_tau_s: float = 600.0,
                 min_jump: float = 0.002, obs_tau_s: float = 2.0, xy_tau_s: float = 2.0,
                 reset_after_s: float = 300.0, floor_confidence: tuple[float, float] = (0.6, 0.95),
                 zone_floor: float = 0.05, prune: float = 1e-4) -> None:
        self.graph = graph
        self.move_tau_s = move_tau_s
        self.jump_tau_s = jump_tau_s
        self.min_jump = min_jump
        self.obs_tau_s = obs_tau_s
        self.xy_tau_s = xy_tau_s
        self.reset_after_s = reset_after_s
        self.floor_confidence = floor_confidence
        self.zone_floor = zone_floor
        self.prune = prune

    # -- the model -------------------------------------------------------------------------------

    def predict(self, prior: np.ndarray, dt: float, still: bool = False) -> np.ndarray:
        """Where the phone may be `dt` seconds after the distribution `prior`. `still`: its readings say it
        stood still over those seconds (`stood_still`), so it did not walk on; the "anything" term stays."""
        stay, move, jump = self._moves(dt, still)
        return stay * prior + move * (prior @ self.graph.walk) + jump / len(self.graph)

    def _moves(self, dt: float, still: bool) -> tuple[float, float, float]:
        """`predict`'s shares: staying, walking to a neighbouring place, the "anything" term."""
        dt = max(0.0, dt)
        move = 0.0 if still else 1 - math.exp(-dt / self.move_tau_s)
        jump = max(self.min_jump, 1 - math.exp(-dt / self.jump_tau_s))
        return max(0.0, 1 - move - jump), move, jump

    @staticmethod
    def stood_still(still_s: float, dt: float) -> bool:
        """Whether a phone whose readings say it has stood still for `still_s` seconds (the still span its
        vector was taken over, positioning/readings.py; 0: it moved, or too little is known) stood still
        over the `dt` seconds since its last estimate. Then the filter does not walk it to a neighbouring
        place between the two: each estimate of a phone standing in a shop adds to the evidence of the
        ones before (one odd estimate does not move it next door, or across the floor through the
        corridor), where a phone that may have walked keeps only a few seconds of them."""
        return still_s > 0 and dt <= still_s

    def likelihood(self, estimate: Estimate, scores: Mapping[str | None, float]) -> np.ndarray:
        """How well each state explains one fingerprint estimate. `scores`: zone -> evidence (None: outside
        every zone) on the estimate's floor (ZoneMap.zone_scores). The floor is trusted as far as the
        neighbours agreed on it; within it, every state keeps a small floor of evidence."""
        g = self.graph
        lo, hi = self.floor_confidence
        c = min(hi, max(lo, estimate.confidence))
        on_floor = g.same_floor.get(estimate.floor)
        q = np.zeros(len(g))
        other_floors = [f for f in g.floors if f != estimate.floor]
        for f in other_floors:
            mask = g.same_floor[f]
            q[mask] = (1 - c) / len(other_floors) / mask.sum()
        if on_floor is None:  # a floor the graph does not know: no zone evidence at all
            return np.where(q > 0, q, 1e-6) if other_floors else np.ones(len(g))
        s = np.zeros(len(g))
        for zone, score in scores.items():
            i = g.index.get(zone if zone is not None else off_zone(estimate.floor))
            if i is not None and on_floor[i]:
                s[i] += max(0.0, score)
        total = s.sum()
        n_floor = on_floor.sum()
        share = s / total if total > 0 else np.where(on_floor, 1 / n_floor, 0)
        weight = c if other_floors else 1.0
        q[on_floor] = weight * ((1 - self.zone_floor) * share[on_floor] + self.zone_floor / n_floor)
        return q

    # -- one step --------------------------------------------------------------------------------

    def start(self, seed: Mapping[str, float] | None = None) -> np.ndarray:
        """The distribution before any estimate: a cold-start guess (half its weight) or uniform."""
        uniform = np.full(len(self.graph), 1 / len(self.graph))
        return uniform if not seed else 0.5 * self.graph.distribution(seed) + 0.5 * uniform

    def update(self, state: dict | None, estimate: Estimate, scores: Mapping[str | None, float], now: float,
               seed: Mapping[str, float] | None = None, floor_hint: Mapping[str, float] | None = None,
               still_s: float = 0.0) -> tuple[dict, Motion]:
        """One estimate in; the new state and where the phone is. `seed`: a cold-start guess used when
        the phone has no state yet (e.g. its associated AP's coverage). `floor_hint`: places (state ->
        share) whose floors weigh this estimate's evidence (`floor_weights`), for an estimate too weak to
        tell floors apart alone (a phone heard for a second or two, by a few APs). `still_s`: how long the
        phone's readings say it has stood still (`stood_still`)."""
        fresh = state is None or not 0 <= now - state["ts"] <= self.reset_after_s
        if fresh:
            prior, dt = self.start(seed), self.obs_tau_s
        else:
            dt = now - state["ts"]
            prior = self.predict(self.graph.distribution(state["p"]), dt, self.stood_still(still_s, dt))
        evidence = self.likelihood(estimate, scores)
        if floor_hint:
            evidence = evidence * self.floor_weights(floor_hint)
        # The hint is part of this estimate's evidence: an estimate repeated soon after (the probe positioning
        # the phone again with the same readings) counts partly, its hint too (else the hint alone adds up).
        evidence = evidence ** min(1.0, max(dt, 0.5) / self.obs_tau_s)
        posterior = prior * evidence
        posterior = posterior / posterior.sum() if posterior.sum() > 0 else prior
        floor = self._floor(posterior)
        return self._stepped(state, fresh, estimate, floor, dt, now, self._sparse(posterior))

    def _stepped(self, state: dict | None, fresh: bool, estimate: Estimate, floor: int, dt: float, now: float,
                 probs: dict[str, float]) -> tuple[dict, Motion]:
        """The new state and the Motion, once the floor and the posterior are known: x/y follow the estimate
        on the phone's floor (smoothed over xy_tau_s), jump to it when the phone is new or changed floor."""
        if fresh or floor != state["floor"]:
            x, y = estimate.x, estimate.y
        elif estimate.floor == floor:
            a = 1 - math.exp(-max(dt, 0.0) / self.xy_tau_s)
            x, y = a * estimate.x + (1 - a) * state["x"], a * estimate.y + (1 - a) * state["y"]
        else:  # the estimate is on another floor than the phone: it does not move the phone's x/y
            x, y = state["x"], state["y"]
        new_state = {"ts": now, "p": probs, "floor": floor, "x": x, "y": y}
        return new_state, Motion(floor=floor, x=float(x), y=float(y), posterior=probs)

    def floor_weights(self, hint: Mapping[str, float]) -> np.ndarray:
        """Per state: how well its floor agrees with the hint's places (their mass on that floor), never
        below `HINT_FLOOR` (the hint is the associated AP's coverage: a phone can associate across a void)."""
        mass = {f: 0.0 for f in self.graph.floors}
        for state, share in hint.items():
            i = self.graph.index.get(state)
            if i is not None:
                mass[int(self.graph.floor_of[i])] += max(0.0, share)
        total = sum(mass.values())
        if total <= 0:
            return np.ones(len(self.graph))
        per_floor = np.array([mass[int(f)] / total for f in self.graph.floor_of])
        return HINT_FLOOR + (1 - HINT_FLOOR) * per_floor

    def _floor(self, posterior: np.ndarray) -> int:
        masses = [(posterior[self.graph.same_floor[f]].sum(), f) for f in self.graph.floors]
        return max(masses)[1]

    def _sparse(self, posterior: np.ndarray) -> dict[str, float]:
        keep = np.flatnonzero(posterior >= self.prune)
        total = posterior[keep].sum()
        # np.round over the array, as `_sparse_rows` rounds a batch's (Python's round per state cost ~1 us each,
        # 50-60 states a phone)
        values = np.round(posterior[keep] / total, 6).tolist()
        states = self.graph.states
        return {states[i]: v for i, v in zip(keep.tolist(), values, strict=True)}

    # -- many phones at once (the tracker's batch) ------------------------------------------------

    def update_many(self, states: Sequence[dict | None], estimates: Sequence[Estimate],
                    scores: Sequence[Mapping[str | None, float]], now: float,
                    seeds: Sequence[Mapping[str, float] | None] | None = None,
                    floor_hints: Sequence[Mapping[str, float] | None] | None = None,
                    stills: Sequence[float] | None = None) -> list[tuple[dict, Motion]]:
        """`update` for many phones at one time, bit for bit (tests/positioning_tests/test_motion_batch.py):
        the same operations on the phones' rows of (phones x states) arrays, so each numpy call is made once
        per batch rather than once per phone. A sum over a row adds as numpy's sum of that row alone does
        (`row_sums`); the product with the walk matrix and Python's rounding stay one phone at a time."""
        g, n = self.graph, len(estimates)
        seeds, hints, stills = seeds or [None] * n, floor_hints or [None] * n, stills or [0.0] * n
        fresh = [state is None or not 0 <= now - state["ts"] <= self.reset_after_s for state in states]
        dts = [self.obs_tau_s if f else now - state["ts"] for f, state in zip(fresh, states, strict=True)]
        still = [self.stood_still(s, dt) for s, dt in zip(stills, dts, strict=True)]
        prior = self._priors([seeds[i] if fresh[i] else states[i]["p"] for i in range(n)], fresh, dts, still)
        evidence = self._likelihoods(estimates, scores)
        for i, hint in enumerate(hints):  # the hint before the power, as in `update`
            if hint:
                evidence[i] = evidence[i] * self.floor_weights(hint)
        powers = [min(1.0, max(dt, 0.5) / self.obs_tau_s) for dt in dts]
        for power in set(powers):  # a scalar power, as `update` raises one phone's row (numpy's fast paths)
            rows = [i for i in range(n) if powers[i] == power]
            evidence[rows] = evidence[rows] ** power
        posterior = prior * evidence
        totals = row_sums(posterior)
        positive = totals > 0
        posterior = np.where(positive[:, None], posterior / np.where(positive, totals, 1.0)[:, None], prior)
        masses = np.column_stack([row_sums(posterior[:, g.same_floor[f]]) for f in g.floors]).tolist()
        return [self._stepped(state, fresh[i], estimate, max(zip(masses[i], g.floors, strict=True))[1], dt, now,
                              probs)
                for i, (state, estimate, dt, probs) in enumerate(zip(states, estimates, dts,
                                                                     self._sparse_rows(posterior), strict=True))]

    def _priors(self, dists: Sequence[Mapping[str, float] | None], fresh: Sequence[bool], dts: Sequence[float],
                still: Sequence[bool]) -> np.ndarray:
        """Per phone, `start(seed)` (fresh) or `predict(distribution(state's p), dt, still)`, as rows."""
        g, n = self.graph, len(dists)
        # `distribution`: each known state's positive value added into a row of zeros, in the state's order
        column = g.columns().__getitem__
        cols = np.fromiter(chain.from_iterable(map(column, probs) for probs in dists if probs), dtype=np.int64)
        values = _numbers(list(chain.from_iterable(probs.values() for probs in dists if probs)))
        rows = np.repeat(np.arange(n), [len(probs) if probs else 0 for probs in dists])
        take = (cols >= 0) & (values > 0)
        dense = _added(n, len(g), rows[take], cols[take], values[take])
        totals = row_sums(dense)
        uniform = np.full(len(g), 1 / len(g))
        positive = totals > 0
        dense = np.where(positive[:, None], dense / np.where(positive, totals, 1.0)[:, None], uniform)
        seeded = np.array([bool(d) for d in dists])[:, None]
        started = np.where(seeded, 0.5 * dense + 0.5 * uniform, uniform)
        moved = [i for i in range(n) if not fresh[i]]
        if not moved:
            return started
        coefficients = []
        for i in moved:  # `predict`'s scalars
            stay, move, jump = self._moves(dts[i], still[i])
            coefficients.append((stay, move, jump / len(g)))
        stay, move, jump = (np.array(c)[:, None] for c in zip(*coefficients, strict=True))
        walked = np.vstack([dense[i] @ g.walk for i in moved])  # one phone's product, as `predict` makes it
        started[moved] = stay * dense[moved] + move * walked + jump
        return started

    def _likelihoods(self, estimates: Sequence[Estimate], scores: Sequence[Mapping[str | None, float]]) -> np.ndarray:
        """`likelihood` of each estimate, as rows."""
        g, n = self.graph, len(estimates)
        lo, hi = self.floor_confidence
        c = np.array([min(hi, max(lo, e.confidence)) for e in estimates])
        floor_of = [e.floor for e in estimates]
        q = np.zeros((n, len(g)))
        # `likelihood`'s evidence: each zone of the estimate's floor (None: its off-zone state) adds max(0, score)
        rows, cols, values = [], [], []
        for i, (estimate, zone_scores) in enumerate(zip(estimates, scores, strict=True)):
            if zone_scores and estimate.floor in g.same_floor:
                rows += [i] * len(zone_scores)
                cols += map(g.columns(estimate.floor).__getitem__, zone_scores)
                values += zone_scores.values()
        rows, cols = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
        on_floor = np.zeros(cols.size, dtype=bool)
        known = cols >= 0
        on_floor[known] = g.floor_of[cols[known]] == np.array(floor_of)[rows[known]]
        values = _numbers(values)[on_floor] if on_floor.size else np.zeros(0)
        # max(0.0, v): v where v > 0.0, else 0.0 (NaN included)
        evidence = _added(n, len(g), rows[on_floor], cols[on_floor], np.where(values > 0.0, values, 0.0))
        for floor in set(floor_of):
            rows = np.array([i for i in range(n) if floor_of[i] == floor])
            other_floors = [f for f in g.floors if f != floor]
            for f in other_floors:
                mask = g.same_floor[f]
                q[np.ix_(rows, mask)] = ((1 - c[rows]) / len(other_floors) / mask.sum())[:, None]
            if floor not in g.same_floor:  # a floor the graph does not know: no zone evidence at all
                q[rows] = np.where(q[rows] > 0, q[rows], 1e-6) if other_floors else 1.0
                continue
            on = g.same_floor[floor]
            n_floor = on.sum()
            totals = row_sums(evidence[rows])
            share = np.where((totals > 0)[:, None], evidence[rows] / np.where(totals > 0, totals, 1.0)[:, None],
                             np.where(on, 1 / n_floor, 0))
            weight = c[rows] if other_floors else np.ones(rows.size)
            q[np.ix_(rows, on)] = weight[:, None] * ((1 - self.zone_floor) * share[:, on] + self.zone_floor / n_floor)
        return q

    def _sparse_rows(self, posterior: np.ndarray) -> list[dict[str, float]]:
        """`_sparse` of each row: the states kept, their probabilities over the kept ones' sum, rounded."""
        keep = posterior >= self.prune
        counts = keep.sum(axis=1)
        totals = np.empty(len(posterior))
        for count in set(counts.tolist()):  # rows keeping as many states: their kept values side by side
            rows = np.flatnonzero(counts == count)
            totals[rows] = row_sums(posterior[rows][keep[rows]].reshape(rows.size, count))
        shares = np.round(posterior / totals[:, None], 6)
        states, names = self.graph.states, np.array(self.graph.states, dtype=object)
        # a row keeping every state (most do) zips whole; the others keep their states in order
        return [dict(zip(states, row.tolist(), strict=True)) if count == len(states)
                else dict(zip(names[kept].tolist(), row[kept].tolist(), strict=True))
                for row, kept, count in zip(shares, keep, counts.tolist(), strict=True)]


def _added(n_rows: int, n_cols: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows of zeros with values[j] added at (rows[j], cols[j]) in order, as the one-phone loops add into theirs."""
    dense = np.zeros((n_rows, n_cols))
    np.add.at(dense, (rows, cols), values.astype(np.float64))
    return dense


def _numbers(values: list) -> np.ndarray:
    """The values as an array of numbers; TypeError for anything else (as the one-phone loop's comparison raises)."""
    array = np.array(values)
    if array.dtype.kind not in "fi":
        raise TypeError("motion probabilities and zone scores must be numbers")
    return array
