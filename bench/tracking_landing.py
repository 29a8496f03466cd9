"""Landing accuracy of the tracking path, before and after the motion model, cold start and groups.

    python bench/tracking_landing.py [--shoppers 40] [--seed 3] [--phone-offset-db 4] [--ap-off 0.05] [--stalls 8]

Simulated shoppers walk into the demo mall (from a door or the car park, along the walkway graph, at
1.2 m/s) to a zone and dwell there. Their phone joins the WiFi somewhere in the last 20 s of the walk
and probes 1.5 s later (before any RSSI report: the gateway names the AP it associated with, the AP
with the strongest signal at that moment), then again 5 s (a phone that just walked in), 30 s and 120 s
after arriving. Every AP reports
the phone every 4 s (random phase) with the radio simulator's RSSI plus a per-phone offset; a share of
APs is off for the live phase. After each report the tracker positions the phone; a probe gets the
last position (or, with none yet, positions the phone then).

"before": the previous Locator steps (flat 60 s window median, WKNN, ZoneMap.zone_for, TemporalSmoother,
zone if its confidence >= 0.5, no cold start, every AP in the model). "after": portal/tracking/locator.py
`position_of` (readings weighted by age, the zone HMM, the associated AP's coverage, groups; silent APs
masked as ModelCache does once they have been silent for AP_SILENT_AFTER_S). Both run in this process
on the same simulated readings; the store round trips are not part of it (the decisions are).
Prints the share of probes landing on the right zone's page (or its group's: counted apart), on the
mall home, and on a wrong page, the floor rate and the mean position error, at each probe."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fingerprints.demo_mall import build_demo_mall  # noqa: E402
from fingerprints.geometry import zone_map  # noqa: E402
from fingerprints.model import Zone  # noqa: E402
from fingerprints.routes import build_graph, shortest_route  # noqa: E402
from fingerprints.simulator import RadioSimulator  # noqa: E402
from portal.tracking.estimate import on_group_page  # noqa: E402
from portal.tracking.locator import position_of  # noqa: E402
from portal.tracking.models import build_venue_model  # noqa: E402
from positioning import TemporalSmoother, build_vector  # noqa: E402

REPORT_EVERY_S = 4.0
WALK_M_S = 1.2
PROBES = ("first probe", "5 s", "30 s", "120 s")


def walk_path(route_points, speed=WALK_M_S):
    """(t, floor, x, y) waypoints along a route, t in seconds from its start."""
    out, t = [(0.0, *route_points[0])], 0.0
    for (fa, xa, ya), (fb, xb, yb) in zip(route_points, route_points[1:], strict=False):
        t += math.hypot(xb - xa, yb - ya) / speed + (8.0 if fa != fb else 0.0)
        out.append((t, fb, xb, yb))
    return out


def where(path, t):
    """Position at time t along waypoints (the last one after the end)."""
    if t >= path[-1][0]:
        return path[-1][1:]
    for (ta, fa, xa, ya), (tb, fb, xb, yb) in zip(path, path[1:], strict=False):
        if ta <= t <= tb:
            a = 0.0 if tb == ta else (t - ta) / (tb - ta)
            return (fb if a > 0.5 else fa), xa + a * (xb - xa), ya + a * (yb - ya)
    return path[0][1:]


class Before:
    """The previous Locator's steps, for the same-run comparison."""

    def __init__(self, model, window_s=60.0):
        self.model, self.window_s, self.smoother = model, window_s, TemporalSmoother()

    def step(self, readings, state, now):
        try:
            vector = build_vector({ap: [(ts, r) for ts, r, _ in items] for ap, items in readings.items()},
                                  self.model.ap_ids, now=now, window_s=self.window_s)
        except ValueError:
            return state, None
        est = self.model.positioner.locate(vector)
        zone, conf = self.model.zones.zone_for(est, [self.model.sample_zones[i] for i in est.neighbours])
        state, smoothed, zone = self.smoother.update(state, est, zone, conf, now)
        landing = zone if zone and conf >= 0.5 else None
        return state, (smoothed.floor, smoothed.x, smoothed.y, landing)


def after_landing(position):
    return position.landing_zone(0.5, 0.5)


def simulate(venue, args):
    rng = np.random.default_rng(args.seed)
    sim = RadioSimulator(venue)  # the surveyed building (same static shadowing); fresh fading below
    zones = zone_map(venue)
    aps = venue.ap_ids()
    off = set(rng.choice(aps, size=int(round(args.ap_off * len(aps))), replace=False)) if args.ap_off else set()
    before_model, after_model = build_venue_model(venue), build_venue_model(venue, frozenset(off))
    graph = build_graph(venue)
    entrances = [(n.floor, n.x, n.y) for n in venue.nodes if n.id.startswith("door")] + [(0, 20.0, 30.0)]
    targets = [z for z in venue.zones if z.id != "garage"]
    group_of = after_model.groups
    tally = {name: defaultdict(lambda: defaultdict(int)) for name in ("before", "after")}
    errors = {name: defaultdict(list) for name in ("before", "after")}
    for _ in range(args.shoppers):
        start = entrances[rng.integers(len(entrances))]
        zone = targets[rng.integers(len(targets))]
        xs, ys = [p[0] for p in zone.polygon], [p[1] for p in zone.polygon]
        goal = (zone.floor, float(rng.uniform(min(xs) + 2, max(xs) - 2)), float(rng.uniform(min(ys) + 2, max(ys) - 2)))
        route = shortest_route(venue, start, goal, graph=graph)
        if route is None:
            continue
        path = walk_path(route.points)
        arrive = path[-1][0]
        join = max(0.0, arrive - float(rng.uniform(0, 20)))
        probes = {"first probe": join + 1.5, "5 s": arrive + 5, "30 s": arrive + 30, "120 s": arrive + 120}
        offset = float(rng.normal(0, args.phone_offset_db))
        phase = {ap: float(rng.uniform(0, REPORT_EVERY_S)) for ap in aps}
        floor_j, x_j, y_j = where(path, join)
        assoc = max(((ap, r) for ap, r in sim.mean_rssi(floor_j, x_j, y_j).items() if ap not in off),
                    key=lambda kv: kv[1])[0]
        readings: dict[str, list] = defaultdict(list)
        states = {"before": None, "after": None}
        last = {"before": None, "after": None}
        before = Before(before_model)
        t = join + 2.0 + float(rng.uniform(0, 4))  # the first report comes after the first probe
        for name, t_probe in sorted(probes.items(), key=lambda kv: kv[1]):
            while t <= t_probe:
                floor, x, y = where(path, t)
                heard = sim.measure(floor, x, y, rng)
                due = [ap for ap in aps if ap not in off and (t - phase[ap]) % REPORT_EVERY_S < 1.0]
                for ap in due:
                    if ap in heard:
                        readings[ap].append((t, heard[ap] + round(offset), False))
                for ap in list(readings):
                    readings[ap] = [r for r in readings[ap] if r[0] >= t - 60.0]
                if due:
                    states["before"], found = before.step(readings, states["before"], t)
                    last["before"] = found or last["before"]
                    got = position_of(after_model, readings, states["after"], t, assoc)
                    if got is not None:
                        states["after"] = got[0] if got[0] is not None else states["after"]
                        last["after"] = got[1]
                t += 1.0
            floor, x, y = where(path, t_probe)
            truth = zones.zone_at(floor, x, y)
            b = last["before"]
            a = last["after"]
            if a is None:  # nothing kept yet: the probe positions the phone itself (cold start)
                a = (position_of(after_model, readings, states["after"], t_probe, assoc) or (None, None))[1]
            score(tally["before"][name], errors["before"][name], truth, group_of, floor, x, y,
                  b and (b[0], b[1], b[2], b[3]))
            score(tally["after"][name], errors["after"][name], truth, group_of, floor, x, y,
                  a and (a.floor, a.x, a.y, after_landing(a)))
    return tally, errors, len(off)


def score(counts, errs, truth, group_of, floor, x, y, found):
    counts["n"] += 1
    if found is None:
        counts["home"] += 1
        return
    f, fx, fy, landing = found
    counts["floor"] += f == floor
    if f == floor:
        errs.append(math.hypot(fx - x, fy - y))
    if landing is None:
        counts["home"] += 1
    elif landing == truth:
        counts["right"] += 1
    elif on_group_page(landing, truth, group_of):
        counts["group"] += 1
    else:
        counts["wrong"] += 1


def with_stalls(venue, n: int):
    """The demo mall with the food court's front strip (8 m deep) split into `n` stalls of one kind: small
    zones narrower than the position error, as in a real food hall. Only the zones change (the radio does
    not), so the survey's samples are re-zoned, not re-surveyed."""
    hall = venue.zone("foodcourt")
    x0, x1 = min(p[0] for p in hall.polygon), max(p[0] for p in hall.polygon)
    width = (x1 - x0) / n
    hall.polygon = [(x0, 8.0), (x1, 8.0), (x1, 60.0), (x0, 60.0)]
    for i in range(n):
        a, b = x0 + i * width, x0 + (i + 1) * width
        venue.zones.append(Zone(id=f"stall{i + 1}", name=f"Stall {i + 1}", name_zh=f"摊位{i + 1}", floor=hall.floor,
                                polygon=[(a, 0.0), (b, 0.0), (b, 8.0), (a, 8.0)], kind="food"))
    zones = zone_map(venue)
    for sample in venue.samples:
        sample.zone = zones.zone_at(sample.floor, sample.x, sample.y)
    return venue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--phone-offset-db", type=float, default=4.0, help="sd of the per-phone RSSI offset")
    parser.add_argument("--ap-off", type=float, default=0.05, help="share of APs off in the live phase")
    parser.add_argument("--stalls", type=int, default=0, help="split the food court's front into N small stalls")
    args = parser.parse_args()
    started = time.perf_counter()
    venue = build_demo_mall()
    if args.stalls:
        venue = with_stalls(venue, args.stalls)
    tally, errors, n_off = simulate(venue, args)
    print(f"demo mall{' with stalls' if args.stalls else ''}: {len(venue.zones)} zones, {len(venue.aps)} APs "
          f"({n_off} off live), {args.shoppers} shoppers, seed {args.seed}, "
          f"phone offset sd {args.phone_offset_db:g} dB; {time.perf_counter() - started:.0f} s")
    print(f"{'probe':<12} {'path':<7} {'right zone':>10} {'group':>6} {'home':>6} {'wrong':>6} {'floor':>6} "
          f"{'mean err':>9}")
    for name in PROBES:
        for path in ("before", "after"):
            c = tally[path][name]
            n = max(1, c["n"])
            errs = errors[path][name]
            mean = f"{np.mean(errs):.1f} m" if errs else "-"
            print(f"{name:<12} {path:<7} {100 * c['right'] / n:>9.0f}% {100 * c['group'] / n:>5.0f}% "
                  f"{100 * c['home'] / n:>5.0f}% {100 * c['wrong'] / n:>5.0f}% {100 * c['floor'] / n:>5.0f}% {mean:>9}")


if __name__ == "__main__":
    main()
