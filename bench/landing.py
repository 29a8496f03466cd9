"""Landing accuracy in a mall the product was never tuned on: simulated shoppers through the real HTTP paths.

    python bench/landing.py [--seed 4242] [--shape linear|ring] [--shoppers 40] [--zones 2-4]
                            [--ap-off 0.05] [--meraki-share 0.2] [--survey-step 3] [--json]

1. Builds the mall of `--seed` (fingerprints/mallgen.py; the shape follows the seed unless --shape), with
   its survey taken by one survey phone, and loads it through the product's own store (VenueStore, zone
   apps by zone kind, an API token, a Meraki network), as an operator's set-up would: the map and zone apps
   through portal/seed.py's load_generated_mall, the loader of the demo's Galleria.
2. Starts an embedded Valkey and a real gunicorn serving wsgi:app. Shoppers (each with a phone model from
   simulator.PHONE_MODELS, so its own RSSI offset, and a body that blocks the APs behind her) arrive from
   the street or the car park, visit 2-4 zones and dwell there. Their phones join the WiFi on arrival or
   on entering the first zone; from then on the APs hear them: most APs POST native batches every 3-6 s
   (/api/v1/venues/<v>/reports), a share of them report once a minute as a Meraki network (v2
   DevicesSeen, /api/v1/venues/<v>/meraki/<net>); 5% of the APs are off. The tracker (portal.tracking.
   Tracker, the code `python -m portal track` runs) positions the heard phones every `--tick` (2) seconds,
   after that second's reports. Each phone sends the OS probe (GET /generate_204 with the gateway's
   client_mac and ap_mac) 2 s after joining, and after 30 s and 120 s of dwell in every zone it visits.
3. Prints, per probe moment: the share of probes redirected to the true zone's app page, to the mall home,
   the floor rate and position error of the kept position, and beside them what the product's quality
   report claims for the same map.

Simulated time: the bench and every process it starts run on one settable clock (libfaketime preloaded,
FAKETIME_TIMESTAMP_FILE, monotonic clocks left real): the bench sets the wall clock to each second of the
simulation in turn, posts that second's reports, lets the tracker catch up (every `--tick` seconds, its
period), sends that second's probes, then moves the clock on. So a 15-minute visit takes as long as its work,
the results do not depend on the machine's speed, and the server checks timestamps (skew, window, cache age)
against the simulated time.
Valkey runs on the real clock (its key TTLs are then only longer in simulated time).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import networkx as nx  # noqa: E402

from core.settings import Settings  # noqa: E402
from core.storage import start_embedded_valkey  # noqa: E402
from fingerprints import quality  # noqa: E402
from fingerprints.geometry import zone_map  # noqa: E402
from fingerprints.mallgen import RADIO, generate_mall, parse_radio  # noqa: E402
from fingerprints.quality import MIN_MEASURED_PHONES, LiveAssumptions  # noqa: E402
from fingerprints.simulator import PHONE_MODELS, ap_outage, report_schedule  # noqa: E402
from portal import create_app  # noqa: E402
from portal.ingest.meraki import MerakiStore  # noqa: E402
from portal.seed import load_generated_mall  # noqa: E402
from portal.tools.net import free_port, wait_for_port  # noqa: E402
from portal.tracking import KeptPosition, Tracker, TrackKeys  # noqa: E402
from portal.tracking.estimate import live_estimate, on_group_page, spot_in_zone  # noqa: E402
from portal.tracking.models import venue_groups  # noqa: E402
from portal.tracking.phone_mix import venue_phones  # noqa: E402
from positioning.coldstart import CoarseEstimate  # noqa: E402

CLOCK_ENV = "FAKETIME_TIMESTAMP_FILE"
START_EPOCH = 1_798_000_000  # the simulation's first second (any fixed time: results do not depend on it)
WALK_MPS = 1.2
RIDE_S = {"elevator": 25.0, "escalator": 20.0, "stairs": 15.0}
PROBE_HOST = "connectivitycheck.gstatic.com"
MERAKI_NETWORK = "bench"
ZONE_KINDS_VISITED = ("shop", "anchor", "stall", "food", "kiosk", "restaurant", "cinema", "atrium")


# -- the clock -------------------------------------------------------------------------------------------


def faketime_library() -> str:
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or spec.origin is None:
        sys.exit("bench/landing.py needs libfaketime (pip install libfaketime==3.0.1, pinned in pyproject.toml)")
    return str(Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1")


def run_on_settable_clock() -> None:
    """Re-execute this script with libfaketime preloaded, reading the time from a file we write."""
    if os.environ.get(CLOCK_ENV):
        return
    clock = Path(tempfile.mkdtemp(prefix="landing-clock-")) / "now"
    write_clock(clock, START_EPOCH)
    env = {**os.environ, CLOCK_ENV: str(clock), "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "TZ": "UTC", "LD_PRELOAD": faketime_library()}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def write_clock(path: Path, epoch: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + "\n")
    os.replace(tmp, path)  # atomic: a process never reads half a time


def set_clock(epoch: int) -> None:
    write_clock(Path(os.environ[CLOCK_ENV]), epoch)
    if abs(time.time() - epoch) > 0.5:
        raise RuntimeError("the settable clock is not in effect (libfaketime not preloaded?)")


# -- shoppers --------------------------------------------------------------------------------------------


@dataclass
class Shopper:
    mac: str
    model: str
    offset_db: float
    waypoints: list[tuple[float, int, float, float]]  # (t, floor, x, y), t in simulation seconds
    joins_at: float
    probes: list[tuple[float, str]]  # (t, "first" | "30s" | "120s")
    leaves_at: float
    headings: dict[int, float] = field(default_factory=dict)  # per dwell waypoint index: the way she faces
    associated: str | None = None

    def at(self, t: float) -> tuple[int, float, float, float]:
        """(floor, x, y, heading) at time t: linear between waypoints; a floor change happens halfway."""
        w = self.waypoints
        if t <= w[0][0]:
            return w[0][1], w[0][2], w[0][3], 0.0
        for i in range(1, len(w)):
            t1, f1, x1, y1 = w[i]
            if t <= t1:
                t0, f0, x0, y0 = w[i - 1]
                u = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                floor = f0 if u < 0.5 else f1
                still = (x0, y0) == (x1, y1)
                heading = self.headings.get(i, 0.0) if still else float(np.arctan2(y1 - y0, x1 - x0))
                return floor, x0 + u * (x1 - x0), y0 + u * (y1 - y0), heading
        return w[-1][1], w[-1][2], w[-1][3], self.headings.get(len(w) - 1, 0.0)


def _route_graph(venue):
    nodes = {n.id: n for n in venue.nodes}
    g = nx.DiGraph()
    for e in venue.edges:
        a, b = nodes[e.a], nodes[e.b]
        cost = RIDE_S.get(e.kind, float(np.hypot(a.x - b.x, a.y - b.y)) / WALK_MPS)
        g.add_edge(e.a, e.b, weight=cost, kind=e.kind)
        if not e.oneway:
            g.add_edge(e.b, e.a, weight=cost, kind=e.kind)
    return g, nodes


def make_shoppers(mall, n: int, zones_range: tuple[int, int], rng: np.random.Generator,
                  arrive_within_s: float = 60.0) -> list[Shopper]:
    """Each shopper: arrives from the street or the car park, visits 2-4 zones, dwells 125-170 s in each."""
    venue = mall.venue
    g, nodes = _route_graph(venue)
    zones_map = zone_map(venue)
    candidates = [z for z in venue.zones if z.kind in ZONE_KINDS_VISITED and f"in-{z.id}" in nodes]
    models = sorted(PHONE_MODELS)
    shoppers = []
    for i in range(n):
        model = str(rng.choice(models))
        mac = ":".join(["02", *(f"{int(v):02x}" for v in rng.integers(0, 256, 5))])
        start = mall.entrances[i % 2] if rng.random() < 0.5 else str(rng.choice(mall.parking_nodes))
        t = float(rng.uniform(0, arrive_within_s))
        here = nodes[start]
        waypoints = [(t, here.floor, here.x, here.y)]
        headings: dict[int, float] = {}
        visits = rng.choice(len(candidates), size=int(rng.integers(zones_range[0], zones_range[1] + 1)),
                            replace=False)
        joins_on_arrival = rng.random() < 0.5
        joins_at = t if joins_on_arrival else None
        probes: list[tuple[float, str]] = []
        current = start
        for v in visits:
            zone = candidates[int(v)]
            path = nx.shortest_path(g, current, f"in-{zone.id}", weight="weight")
            for a, b in zip(path, path[1:], strict=False):
                t += g[a][b]["weight"]
                nb = nodes[b]
                waypoints.append((t, nb.floor, nb.x, nb.y))
            entered = t
            sx, sy = spot_in_zone(zone, zones_map, rng)
            t += float(np.hypot(sx - nodes[path[-1]].x, sy - nodes[path[-1]].y)) / WALK_MPS
            waypoints.append((t, zone.floor, sx, sy))
            headings[len(waypoints)] = float(rng.uniform(0, 2 * np.pi))
            t += float(rng.uniform(125, 170))
            waypoints.append((t, zone.floor, sx, sy))
            if joins_at is None:
                joins_at = entered
            probes += [(entered + 30.0, "30s"), (entered + 120.0, "120s")]
            current = f"in-{zone.id}"
        probes.insert(0, (joins_at + 2.0, "first"))
        shoppers.append(Shopper(mac=mac, model=model, offset_db=mall.phone_offset_db(model), waypoints=waypoints,
                                joins_at=joins_at, probes=sorted(probes), leaves_at=t, headings=headings))
    return shoppers


# -- the servers -----------------------------------------------------------------------------------------


def load_mall(core, mall, meraki_secret: str) -> str:
    """The generated mall into the product's store, as an operator's set-up leaves it (the same loader as
    the demo's Galleria: portal/seed.py), a Meraki network; returns an API token."""
    load_generated_mall(core, mall)
    MerakiStore(core.db).configure(mall.venue.id, MERAKI_NETWORK, "bench-validator", meraki_secret)
    return core.tokens.issue(mall.venue.id, "landing-bench")


def drain(tracker, venue_id: str) -> None:
    """The tracker's pass over the marked phones; a store stall on a loaded machine is waited out, as
    `portal track` does."""
    for attempt in range(5):
        try:
            tracker.drain(venue_id)
            return
        except redis.RedisError:
            if attempt == 4:
                raise
            time.sleep(1.0)


class Http:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, Location, body); a 503 (the store stalled on a loaded machine) is retried a few times, and
        so is a report refused as "in the future": a worker's background thread racing libfaketime's clock
        read can hand one request the real time (libfaketime issue #151, see `main`), and a report sent
        again stores nothing twice."""
        for attempt in range(5):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 4:
                    raise
                continue
            clock_race = resp.status == 422 and b"in the future" in data
            if (resp.status != 503 and not clock_race) or attempt == 4:
                return resp.status, resp.getheader("Location"), data
            time.sleep(1.0)
        raise AssertionError("unreachable")


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class ProbeResult:
    kind: str
    true_zone: str | None
    true_floor: int
    landed_zone: str | None  # the zone the redirect names; None: the mall home
    est_floor: int | None
    error_m: float  # nan when nothing placed the phone (`answered_at`)
    zone_kind: str
    after_joining_s: float  # when the probe was sent, since the phone joined the WiFi


def answered_at(kept: KeptPosition | None, coarse: CoarseEstimate | None) -> tuple[int, float, float] | None:
    """(floor, x, y) of the position a probe was answered with: the kept position it wrote, or, with none kept,
    its AP's coverage (`locator.coarse_position`: a phone not heard yet is placed by the AP the gateway names, and
    such a position is not kept, no reading dates it); None when neither placed the phone. Read from the kept
    position alone, a probe answered from the AP counted as not positioned and its floor as wrong."""
    if kept is not None:
        return kept.position.floor, kept.position.x, kept.position.y
    return None if coarse is None else (coarse.floor, coarse.x, coarse.y)


def landed_zone(location: str, zone_ids: set[str]) -> str | None:
    """The zone a landing page is for (a path segment or the `zone` parameter); None: the mall home."""
    parts = urlsplit(location)
    query = dict(parse_qsl(parts.query))
    if query.get("zone") in zone_ids:
        return query["zone"]
    return next((s for s in parts.path.split("/") if s in zone_ids), None)


def simulate(args, mall, shoppers: list[Shopper], port: int, token: str, meraki_secret: str, core,
             log=print) -> list[ProbeResult]:
    venue = mall.venue
    feed_up = int(getattr(args, "feed_up", 0))
    zero = START_EPOCH + feed_up  # the clock at the first shopper's second 0 (it starts at START_EPOCH)
    sim = mall.simulator()
    rng = np.random.default_rng(args.seed + 2)
    off = ap_outage(venue, args.ap_off, args.seed + 3)
    schedule = [s for s in report_schedule(venue, args.seed + 4, args.meraki_share) if s.bssid not in off]
    index = {b: i for i, b in enumerate(venue.ap_ids())}
    zones = zone_map(venue)
    kinds = {z.id: z.kind for z in venue.zones}
    zone_ids = set(kinds)
    tracker = Tracker(core.db, core.venues, core.locator)
    keys = TrackKeys(venue.id)
    server = Http(port)
    scans: dict[tuple[int, int], np.ndarray] = {}  # (shopper, second) -> what every AP hears that second

    def scan(k: int, t: int) -> np.ndarray | None:
        """The phone's frame in second t, as every AP hears it (NaN: not heard); None: no frame sent."""
        if (k, t) not in scans:
            s = shoppers[k]
            if not s.joins_at <= t <= s.leaves_at or rng.random() > args.frame_rate:
                scans[(k, t)] = None
            else:
                floor, x, y, heading = s.at(t)
                scans[(k, t)] = sim.scan_vector(floor, x, y, rng, phone_offset_db=s.offset_db, heading=heading)
        return scans[(k, t)]

    def associated_ap(s: Shopper, t: float) -> str:
        floor, x, y, _ = s.at(t)
        mean = sim.mean_vector(floor, x, y) + s.offset_db
        for i in np.argsort(-mean):
            if venue.aps[int(i)].bssid not in off:
                return venue.aps[int(i)].bssid
        return venue.aps[0].bssid

    def ap_observations(rep, t: int) -> list[dict]:
        """What one AP reports at second t: its frames of each phone since its last report (native),
        or the latest reading per phone (Meraki, once a minute)."""
        col = index[rep.bssid]
        observations = []
        for k, s in enumerate(shoppers):
            if not (s.joins_at <= t and t - rep.period_s <= s.leaves_at):
                continue
            heard = []
            for tau in range(t - rep.period_s + 1, t + 1):
                v = scan(k, tau)
                if v is not None and v[col] == v[col]:
                    heard.append((tau, int(v[col])))
            if rep.kind == "meraki" and heard:
                tau, rssi = heard[-1]
                observations.append({"clientMac": s.mac, "rssi": rssi + 95, "seenEpoch": zero + tau,
                                     "seenTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(zero + tau))})
            elif rep.kind != "meraki":
                observations += [{"client": s.mac, "rssi": rssi, "ts": zero + tau,
                                  **({"associated": True} if s.associated == rep.bssid else {})}
                                 for tau, rssi in heard]
        return observations

    def post_meraki(bssid: str, observations: list[dict]) -> None:
        body = {"version": "2.0", "secret": meraki_secret, "type": "DevicesSeen",
                "data": {"apMac": bssid, "apFloors": [], "apTags": [], "observations": observations}}
        status, _, data = server.request("POST", f"/api/v1/venues/{venue.id}/meraki/{MERAKI_NETWORK}",
                                         json.dumps(body).encode(), {"Content-Type": "application/json"})
        if status >= 300:
            raise RuntimeError(f"Meraki post refused ({status}): {data[:300]!r}")

    end = int(max(s.leaves_at for s in shoppers)) + 2
    probes = sorted((int(np.ceil(t)), k, kind) for k, s in enumerate(shoppers) for t, kind in s.probes)
    results: list[ProbeResult] = []
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    p = 0
    started = time.perf_counter()
    tick = args.tick
    # Second by second: that second's reports, the tracker every `tick` seconds, then the probes due by that
    # second (never held back to the tracker's next pass: the first probe, 2 s after joining, would then see up
    # to 2 s more readings than a phone gives it).
    # From `--feed-up` seconds before the first shopper every AP that is on reports, as in a mall in business
    # (some phone is always heard), so the live model has left out those off by the time shoppers come. The
    # reports hold no other phones: they keep the APs alive (`ap_last_seen`) but move no report's reach.
    for t in range(-feed_up, end + 1):
        now = zero + t
        set_clock(now)
        for s in shoppers:  # roaming: a phone re-associates when it reaches a zone or joins
            if s.joins_at <= t <= s.leaves_at and (s.associated is None or t % 30 == 0):
                s.associated = associated_ap(s, t)
        native = []
        for rep in schedule:
            if rep.due(t):
                observations = ap_observations(rep, t)
                if rep.kind == "meraki":
                    post_meraki(rep.bssid, observations)
                else:
                    native.append({"ap": rep.bssid, "observations": observations})
        if native:  # the native APs due this second, in one batch (the format's "reports" list)
            status, _, data = server.request("POST", f"/api/v1/venues/{venue.id}/reports",
                                             json.dumps({"reports": native}).encode(), auth)
            if status >= 300:
                raise RuntimeError(f"report refused ({status}): {data[:300]!r}")
        if t % tick == 0 and t >= 0:
            drain(tracker, venue.id)
        for old in [key for key in scans if key[1] < t - 70]:
            del scans[old]
        while p < len(probes) and probes[p][0] <= t:
            _, k, kind = probes[p]
            p += 1
            s = shoppers[k]
            floor, x, y, _ = s.at(t)
            ap = s.associated or associated_ap(s, t)
            status, location, _ = server.request(
                "GET", f"/generate_204?client_mac={s.mac}&ap_mac={ap}", headers={"Host": PROBE_HOST})
            if status != 302 or not location:
                raise RuntimeError(f"probe answered {status}")
            kept = KeptPosition.decode(core.db.get(keys.last_position(core.hasher.client_id(s.mac))))
            true_zone = zones.zone_at(floor, x, y)
            est_floor, error = None, float("nan")
            where = answered_at(kept, core.models.get(venue.id).coverage.estimate(ap))
            if where is not None:
                est_floor, error = where[0], float(np.hypot(where[1] - x, where[2] - y))
            if os.environ.get("LANDING_DEBUG"):
                got = kept.position if kept else None
                log(f"    {kind} t={t} true {true_zone} f{floor} ({x:.0f},{y:.0f}) -> {location.split('?')[0]} "
                    + (f"kept {got.zone} f{got.floor} ({got.x:.0f},{got.y:.0f}) zconf {got.zone_confidence}"
                       if got else "nothing kept"))
            results.append(ProbeResult(kind, true_zone, floor, landed_zone(location, zone_ids), est_floor, error,
                                       kinds.get(true_zone or "", "-"), t - s.joins_at))
        if t % 60 == 0 and t:
            log(f"  simulated {t} s of {end} ({time.perf_counter() - started:.0f} s), {len(results)} probes")
    return results


def summarise(results: list[ProbeResult], groups: dict[str, str] | None = None) -> dict:
    """Per probe kind: "zone" the right zone's own page (what the targets are for); "group" the page of the
    group the true zone belongs to (`groups`: zone -> the zone standing for its group), a miss counted apart."""
    groups = groups or {}
    out = {}
    for kind in ("first", "30s", "120s"):
        rs = [r for r in results if r.kind == kind]
        if not rs:
            continue
        errors = np.array([r.error_m for r in rs if r.error_m == r.error_m])
        by_kind = {}
        for zk in sorted({r.zone_kind for r in rs}):
            sub = [r for r in rs if r.zone_kind == zk]
            by_kind[zk] = (len(sub), float(np.mean([r.landed_zone == r.true_zone for r in sub])))
        out[kind] = {
            "n": len(rs),
            "zone": float(np.mean([r.landed_zone == r.true_zone for r in rs])),
            "home": float(np.mean([r.landed_zone is None for r in rs])),
            "group": float(np.mean([on_group_page(r.landed_zone, r.true_zone, groups) for r in rs])),
            "floor": float(np.mean([r.est_floor == r.true_floor for r in rs])),
            "positioned": float(np.mean([r.est_floor is not None for r in rs])),
            "error_mean": float(errors.mean()) if errors.size else float("nan"),
            "error_median": float(np.median(errors)) if errors.size else float("nan"),
            "error_p95": float(np.percentile(errors, 95)) if errors.size else float("nan"),
            "by_zone_kind": by_kind,
            "after_joining_s": (min(r.after_joining_s for r in rs), max(r.after_joining_s for r in rs)),
        }
    return out


def quality_claims(venue, live_points: int | None, assumptions: LiveAssumptions | None = None) -> dict:
    """What the product's quality report tells the operator for this map (fingerprints/quality.py), its live
    estimate under `assumptions` (the page's: the venue's phones once the tracker has counted enough)."""
    out = {}
    t = time.perf_counter()
    survey = quality.quality_report(venue)
    out["survey"] = {"zone": survey.zone_hit_rate, "floor": survey.floor_hit_rate, "error_mean": survey.mean_error_m,
                     "seconds": time.perf_counter() - t}
    t = time.perf_counter()
    live = live_estimate(venue, assumptions, max_points=live_points)
    out["live"] = {**live.headline(), "seconds": time.perf_counter() - t}
    out["phones"] = dataclasses.asdict(live.assumptions)
    return out


def radio_option(text: str) -> dict[str, float]:
    """--radio's value (`name=value,...`, fingerprints.mallgen.parse_radio), its error as argparse shows it."""
    try:
        return parse_radio(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_radio_option(parser: argparse.ArgumentParser) -> None:
    """Both landing benches' --radio: the generated mall's radio world changed, e.g. a harsher one."""
    defaults = ",".join(f"{k}={v:g}" for k, v in RADIO.items())
    parser.add_argument("--radio", type=radio_option, default={}, metavar="NAME=VALUE,...",
                        help=f"RadioSimulator parameters over the generated malls' ({defaults}), e.g. "
                             "path_loss_exponent=3,shadowing_db=6,fading_db=4,body_db=6")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=4242, help="the mall, shoppers and radio (never used to tune)")
    parser.add_argument("--shape", choices=("linear", "ring"), default=None, help="default: by seed")
    parser.add_argument("--shoppers", type=int, default=30)
    parser.add_argument("--zones", default="2-2", help="zones each shopper visits, e.g. 2-4")
    parser.add_argument("--ap-off", type=float, default=0.05, help="share of APs off in the live phase")
    parser.add_argument("--meraki-share", type=float, default=0.2, help="share of APs reporting as Meraki")
    parser.add_argument("--frame-rate", type=float, default=0.6, help="chance a phone sends a frame in a second")
    parser.add_argument("--tick", type=int, default=2,
                        help="the tracker's period in simulated seconds (reports and probes go second by second)")
    parser.add_argument("--survey-step", type=float, default=3.0)
    parser.add_argument("--scans", type=int, default=5)
    parser.add_argument("--phone-spread", type=float, default=1.0,
                        help="phone models (and the survey phone) differ this many times as much as the simulator's")
    add_radio_option(parser)
    parser.add_argument("--live-points", type=int, default=None,
                        help="visits the live estimate simulates (default: as the report, estimate.VISITS)")
    parser.add_argument("--no-quality", action="store_true", help="skip the quality report (faster)")
    parser.add_argument("--feed-up", type=int, default=600,
                        help="seconds the APs report before the first shopper (the live model leaves out APs "
                             "silent for AP_SILENT_AFTER_S, 300 s)")
    parser.add_argument("--workers", type=int, default=4,
                        help="gunicorn's sync workers (each imports the app and builds its model)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    run_on_settable_clock()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    lo, _, hi = args.zones.partition("-")
    zones_range = (int(lo), int(hi or lo))

    t0 = time.perf_counter()
    mall = generate_mall(args.seed, args.shape, survey_step_m=args.survey_step, scans=args.scans,
                         phone_spread=args.phone_spread, radio=args.radio)
    v = mall.venue
    log(f"seed {args.seed}: {mall.shape} mall, {len(v.floors)} levels, {len(v.zones)} zones, {len(v.aps)} APs, "
        f"{len(v.samples)} reference points x {args.scans} scans (survey phone {mall.survey_phone_offset_db:+.1f} dB),"
        f" built in {time.perf_counter() - t0:.0f} s")
    rng = np.random.default_rng(args.seed + 1)
    shoppers = make_shoppers(mall, args.shoppers, zones_range, rng)

    work = Path(tempfile.mkdtemp(prefix="landing-bench-"))
    preload = os.environ.pop("LD_PRELOAD", None)  # Valkey keeps the real clock
    valkey = start_embedded_valkey(work / "valkey")
    if preload:
        os.environ["LD_PRELOAD"] = preload
    gunicorn = None
    try:
        url = valkey.connection_url + "/0"
        settings = Settings(redis_url=url, secret_key="landing-bench-secret-" + "x" * 16,
                            mac_hash_key="landing-bench-mac-" + "y" * 16, data_dir=work / "var",
                            default_venue=v.id, load_demo=False)
        app = create_app(settings)
        core = app.extensions["mallportal"]
        meraki_secret = "bench-meraki-secret"
        with app.app_context():
            token = load_mall(core, mall, meraki_secret)
        stored = core.venues.get_map(v.id)
        port = free_port()
        env = {**os.environ, "REDIS_URL": url, "SECRET_KEY": settings.secret_key,
               "MAC_HASH_KEY": settings.mac_hash_key, "DATA_DIR": str(work / "var"), "LOAD_DEMO": "0",
               "VENUE": v.id}
        # Sync workers, one thread each: the pip package ships only the single-threaded libfaketime, which
        # now and then reads the clock file wrongly when threads race in it and hands out the real time
        # (libfaketime issue #151); under the suite's load that showed as a report "1939788 s in the future".
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--worker-class", "sync", "--log-level", "warning", "--timeout", "120"],
            cwd=ROOT, env=env)
        wait_for_port(port)
        t1 = time.perf_counter()
        results = simulate(args, mall, shoppers, port, token, meraki_secret, core, log)
        elapsed = time.perf_counter() - t1
        left_out = sorted(core.models.get(v.id).masked)  # the APs the live model left out by the end
        # The claim as the quality page makes it once these shoppers have been: with the phones the tracker counted
        phones, counted = venue_phones(core.db, v.id, time.time())
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        valkey.stop()
    summary = summarise(results, venue_groups(v))
    claims = {} if args.no_quality else {**quality_claims(stored, args.live_points, phones), "counted": counted}
    report = {"seed": args.seed, "shape": mall.shape, "levels": len(v.floors), "zones": len(v.zones),
              "aps": len(v.aps), "reference_points": len(v.samples), "shoppers": args.shoppers,
              "ap_off": args.ap_off, "meraki_share": args.meraki_share, "feed_up_s": args.feed_up,
              "aps_off": sorted(ap_outage(v, args.ap_off, args.seed + 3)), "aps_left_out": left_out,
              "landing": summary,
              "quality_report": claims, "simulation_s": elapsed}
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def print_report(r: dict) -> None:
    print(f"\nlanding bench, seed {r['seed']} ({r['shape']}): {r['shoppers']} shoppers, {r['aps']} APs "
          f"({r['ap_off']:.0%} off, {r['meraki_share']:.0%} Meraki), simulated in {r['simulation_s']:.0f} s; "
          f"the feed up {r['feed_up_s']} s before the first shopper; left out of the live model by the end: "
          f"{', '.join(r['aps_left_out']) or 'none'} (off: {', '.join(r['aps_off']) or 'none'})")
    print(f"{'probe':<8}{'n':>5}{'right zone':>12}{'home':>8}{'floor':>8}{'err mean':>10}{'median':>8}{'p95':>8}")
    for kind, s in r["landing"].items():
        print(f"{kind:<8}{s['n']:>5}{s['zone']:>12.1%}{s['home']:>8.1%}{s['floor']:>8.1%}"
              f"{s['error_mean']:>9.1f}m{s['error_median']:>7.1f}m{s['error_p95']:>7.1f}m")
    last = r["landing"].get("120s")
    if last:
        print("right zone at 120 s by zone kind: " + ", ".join(
            f"{k} {rate:.0%} ({n})" for k, (n, rate) in last["by_zone_kind"].items()))
    q = r["quality_report"]
    if "survey" in q:
        print(f"quality report, survey self-consistency (leave-one-point-out): zone {q['survey']['zone']:.1%}, "
              f"floor {q['survey']['floor']:.1%}, mean {q['survey']['error_mean']:.1f} m")
    if "live" in q:
        for line in claim_lines(q["live"], r["landing"]):
            print(line)
        print(phones_line(LiveAssumptions(**q["phones"]), q["counted"]))


def phones_line(a: LiveAssumptions, counted: int, by_choice: bool = False) -> str:
    """Which phones the claim assumed: those the tracker counted (`fingerprints.quality.measured_phones`) or the
    defaults, for want of enough counted or `by_choice` (landing_replay.py --assumed-phones: however many were)."""
    if a.phones_measured:
        return (f"  the claim's phones: measured on {a.phones_measured} phones the tracker counted, {a.phones_text()} "
                "against the survey phone")
    if by_choice:
        return f"  the claim's phones: assumed by choice (--assumed-phones), {a.phones_text()} ({counted} counted)"
    return f"  the claim's phones: assumed {a.phones_text()} ({counted} counted, fewer than {MIN_MEASURED_PHONES})"


def claim_lines(live: dict, landing: dict) -> list[str]:
    """The quality report's live estimate beside the measured landing, probe by probe (also
    bench/landing_replay.py's)."""
    lines = ["quality report's live estimate (right zone, each dwell zone alike) beside the measured landing "
             "(+ on the zone's group page instead):"]
    for kind, key, group in (("first", "zone_first", "group_first"), ("30s", "zone_early", "group_early"),
                             ("120s", "zone_settled", "group_settled")):
        if kind in landing:
            claim, measured = live[key], landing[kind]["zone"]
            lines.append(f"  {kind:<6} claims {claim:6.1%} (+{live.get(group, float('nan')):5.1%})  measured "
                         f"{measured:6.1%} (+{landing[kind].get('group', float('nan')):5.1%})  "
                         f"({100 * (claim - measured):+.1f} points)")
    lines.append(f"  floor at the first probe: claims {live['floor_first']:.1%}; error mean at 120 s "
                 f"{live['error_mean_m']:.1f} m")
    return lines


if __name__ == "__main__":
    sys.exit(main())
