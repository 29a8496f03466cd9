"""The landing bench without HTTP: the same mall, shoppers and radio as bench/landing.py, replayed in process.

    python bench/landing_replay.py [--seed 4242] [--shape linear|ring] [--shoppers 30] [--zones 2-2] [--json]
                                    [--live-points N] [--no-claim] [--ap-miss 0.3] [--no-reach] [--tick 2]
                                    [--frames alike|own-ap] [--feed-up 600] [--assumed-phones] [--claim-unmarked]

What bench/landing.py drives through gunicorn and the store, this replays in memory, step for step: the phones'
frames (60% of seconds), the APs' report schedule (native batches every 3-6 s, a Meraki share once a minute with
the latest reading per phone, 5% of APs off; the feed up `--feed-up` seconds before the first shopper, so the live
model has left out the APs silent for 5 minutes, as `ModelCache` does), the associated AP (re-chosen every 30 s),
the store's 60 s window and "newest reading", the tracker positioning every phone with new readings every `--tick`
seconds (`portal.tracking.locator.position_of`, the code the Locator runs), the kept position answering a probe
while no newer reading arrived (30 s at most), else the probe positioning the phone itself with the AP the gateway
named: each phone is the quality report's `estimate.PhoneReplay`. The landing decision is
`positions.landing_zone`. In the simulator's world every AP in range hears the phone's frames alike; `--ap-miss P`
makes each AP miss each frame with probability P (a frame on another channel, a collision), to see what the rules
resting on the APs' report reach do there (`--no-reach`: without them); `--frames own-ap` gives the phone's own AP
its data frames alone, every AP in range its probe sweeps.

It exists to find where landing errors come from, fast (about a minute per seed against 12-20 minutes
for the HTTP bench): per probe it records the true zone and kind, the landed zone, the estimate's best
zone and its mass, the raw WKNN estimate's zone, the floor and the error; `--breakdown` prints them by
zone kind and by cause. Figures agree with bench/landing.py within its sampling error, not exactly (the
store's ordering of equal timestamps and the random streams differ); confirm a change with the HTTP bench.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.landing import add_radio_option, claim_lines, make_shoppers, phones_line  # noqa: E402
from core.settings import Settings  # noqa: E402
from fingerprints.geometry import zone_map  # noqa: E402
from fingerprints.mallgen import generate_mall  # noqa: E402
from fingerprints.model import VenueMap  # noqa: E402
from fingerprints.quality import LiveAssumptions  # noqa: E402
from fingerprints.simulator import ap_outage, report_schedule  # noqa: E402
from portal.tracking.estimate import PhoneReplay, live_estimate, on_group_page  # noqa: E402
from portal.tracking.locator import position_of  # noqa: E402
from portal.tracking.models import VenueModel, build_venue_model, silent_aps  # noqa: E402
from portal.tracking.phone_mix import phones_from_counts  # noqa: E402
from portal.tracking.positions import landing_zone  # noqa: E402

WINDOW_S = 60.0  # RSSI_WINDOW_S
CACHE_S = 30.0  # POSITION_CACHE_S
SILENT_AFTER_S = Settings.ap_silent_after_s  # the live model leaves out an AP silent this long (ModelCache)
FEED_UP_S = 600.0  # the APs' feed ran this long before the first shopper: a mall open for ten minutes


@dataclass
class Outcome:
    kind: str  # "first" | "30s" | "120s"
    true_zone: str | None
    zone_kind: str
    true_floor: int
    landed: str | None  # the zone whose page the phone lands on (None: the mall home)
    best: str | None  # the position's best zone
    best_mass: float
    group: str | None
    group_mass: float
    floor: int | None
    error_m: float
    source: str  # "readings" | "partial" | "ap" | "none"
    aps_heard: int
    seconds_in: float  # since joining the WiFi


SWEEP_EVERY_S = (4, 12)  # --frames own-ap: how often a phone sweeps the channels with probe requests


def replay(seed: int, shape: str | None, n_shoppers: int, zones_range=(2, 2), ap_off: float = 0.05,
           meraki_share: float = 0.2, frame_rate: float = 0.6, tick: int = 2, mall=None, model=None,
           step=position_of, hook=None, ap_miss: float = 0.0, reach: bool = True, frames: str = "alike",
           feed_up_s: float | None = FEED_UP_S, phone_mix: dict[int, int] | None = None) -> list[Outcome]:
    """Every probe's outcome. `step`: the positioning step (position_of's signature) under test;
    `hook(outcome, shopper, phone, t)`: called for every probe (diagnostics). `frames`: "alike", every AP in
    range hears each frame; "own-ap", a frame reaches only the phone's own AP (data on its channel), while
    every AP in range hears the phone's probe sweeps: on joining, then every 4-12 s. `feed_up_s`: how long
    the APs had reported before the first shopper came (the live model leaves out APs silent for
    SILENT_AFTER_S, those off among them; `models.ModelCache`); None: `model` throughout, nothing left out.
    `phone_mix`: filled with the phones' offsets as the tracker counts them (`PhoneReplay`)."""
    mall = mall or generate_mall(seed, shape)
    venue = mall.venue
    model = model or build_venue_model(venue)
    shoppers = make_shoppers(mall, n_shoppers, zones_range, np.random.default_rng(seed + 1))
    sim = mall.simulator()
    rng = np.random.default_rng(seed + 2)
    misses = np.random.default_rng(seed + 5)  # its own stream: the frames and fading stay those of --ap-miss 0
    off = ap_outage(venue, ap_off, seed + 3)
    schedule = [s for s in report_schedule(venue, seed + 4, meraki_share) if s.bssid not in off]
    index = {b: i for i, b in enumerate(venue.ap_ids())}
    zones = zone_map(venue)
    kinds = {z.id: z.kind for z in venue.zones}
    reported: dict[str, float] = {}  # the store's ap_reach: per AP the newest reading of its last report
    phones = [PhoneReplay(model, window_s=WINDOW_S, cache_s=CACHE_S, step=step, reported=reported if reach else None,
                          phone_mix=phone_mix) for _ in shoppers]
    scans: dict[tuple[int, int], np.ndarray | None] = {}

    sweeps = np.random.default_rng(seed + 6)
    sweep_every = [int(sweeps.integers(SWEEP_EVERY_S[0], SWEEP_EVERY_S[1] + 1)) for _ in shoppers]
    sweep_phase = [int(sweeps.integers(0, n)) for n in sweep_every]
    own_ap: dict[tuple[int, int], str | None] = {}  # (shopper, second) -> the AP it was associated with

    def scan(k: int, t: int):
        if (k, t) not in scans:
            s = shoppers[k]
            # A phone sweeps the channels before it joins (to find the network), then every few seconds
            sweep = frames == "own-ap" and ((t + sweep_phase[k]) % sweep_every[k] == 0 or t == int(np.ceil(s.joins_at)))
            if not s.joins_at <= t <= s.leaves_at or (not sweep and rng.random() > frame_rate):
                scans[(k, t)] = None
            else:
                floor, x, y, heading = s.at(t)
                v = sim.scan_vector(floor, x, y, rng, phone_offset_db=s.offset_db, heading=heading)
                if ap_miss:
                    v[misses.random(v.size) < ap_miss] = np.nan
                if frames == "own-ap" and not sweep:  # a data frame: its own AP's channel only
                    mine = index.get(own_ap.get((k, t)) or "")
                    v = np.where(np.arange(v.size) == mine, v, np.nan)
                scans[(k, t)] = v
        return scans[(k, t)]

    def associated_ap(s, t):
        floor, x, y, _ = s.at(t)
        mean = sim.mean_vector(floor, x, y) + s.offset_db
        for i in np.argsort(-mean):
            if venue.aps[int(i)].bssid not in off:
                return venue.aps[int(i)].bssid
        return venue.aps[0].bssid

    live = LiveModel(model, venue.ap_ids(), feed_up_s, schedule)

    end = int(max(s.leaves_at for s in shoppers)) + 2
    probes = sorted((int(np.ceil(t)), k, kind) for k, s in enumerate(shoppers) for t, kind in s.probes)
    out: list[Outcome] = []
    p = 0
    # Second by second, as bench/landing.py: each second's reports, the tracker every `tick` seconds, then the
    # probes due by that second (a probe is never held back to the tracker's next pass: the first one, 2 s
    # after joining, would then see up to 2 s more readings than a phone gives it).
    for t in range(0, end + 1):
        for s in shoppers:
            if s.joins_at <= t <= s.leaves_at and (s.associated is None or t % 30 == 0):
                s.associated = associated_ap(s, t)
        for k, s in enumerate(shoppers):
            own_ap[(k, t)] = s.associated
        for rep in schedule:
            if not rep.due(t):
                continue
            col = index[rep.bssid]
            reach = None
            for k, s in enumerate(shoppers):
                if not (s.joins_at <= t and t - rep.period_s <= s.leaves_at):
                    continue
                heard = []
                for tau in range(t - rep.period_s + 1, t + 1):
                    v = scan(k, tau)
                    if v is not None and v[col] == v[col]:
                        heard.append((float(tau), float(v[col]), s.associated == rep.bssid))
                if rep.kind == "meraki" and heard:
                    heard = [(heard[-1][0], heard[-1][1], False)]
                phones[k].hear(rep.bssid, heard)
                if heard:
                    reach = heard[-1][0] if reach is None else max(reach, heard[-1][0])
            if reach is not None:
                reported[rep.bssid] = reach
            live.reported(rep.bssid, t)
        if t % tick == 0:
            if live.refresh(t):
                for ph in phones:
                    ph.model = live.model
            for ph in phones:  # the tracker
                ph.track(float(t))
            for key in [key for key in scans if key[1] < t - 70]:
                del scans[key]
            for key in [key for key in own_ap if key[1] < t - 70]:
                del own_ap[key]
        while p < len(probes) and probes[p][0] <= t:
            _, k, kind = probes[p]
            p += 1
            s = shoppers[k]
            floor, x, y, _ = s.at(t)
            ap = s.associated or associated_ap(s, t)
            ph = phones[k]
            pos = ph.probe(float(t), ap)  # the kept position when it still answers, else anew with the AP
            true_zone = zones.zone_at(floor, x, y)
            heard = sum(1 for items in ph.readings.values() if any(r[0] >= t - WINDOW_S for r in items))
            out.append(Outcome(
                kind=kind, true_zone=true_zone, zone_kind=kinds.get(true_zone or "", "-"), true_floor=floor,
                landed=landing_zone(pos), best=pos.zone if pos else None,
                best_mass=pos.zone_confidence if pos else 0.0, group=pos.group if pos else None,
                group_mass=pos.group_confidence if pos else 0.0, floor=pos.floor if pos else None,
                error_m=float(np.hypot(pos.x - x, pos.y - y)) if pos else float("nan"),
                source=pos.source if pos else "none", aps_heard=heard, seconds_in=t - s.joins_at))
            if hook is not None:
                hook(out[-1], s, ph, t)
    return out


class LiveModel:
    """The model the tracker and the probes use, as `ModelCache` picks it: the map's, less the APs that have not
    reported for SILENT_AFTER_S while the feed is alive. Every AP that is on reports on its schedule (a mall
    in business: some phone is always heard), from `feed_up_s` before the first shopper."""

    def __init__(self, model: VenueModel, ap_ids: list[str], feed_up_s: float | None, schedule) -> None:
        self.model = model
        self.ap_ids = ap_ids
        self.feed_since = None if feed_up_s is None else -float(feed_up_s)
        self.last_seen: dict[str, float] = {}
        self._built = {model.masked: model}
        if self.feed_since is not None:
            for rep in schedule:  # each AP's last report before the first shopper came
                last = max((t for t in range(-rep.period_s, 0) if rep.due(t)), default=None)
                if last is not None and last >= self.feed_since:
                    self.last_seen[rep.bssid] = float(last)

    def reported(self, ap: str, t: int) -> None:
        if self.feed_since is not None:
            self.last_seen[ap] = float(t)

    def refresh(self, t: int) -> bool:
        """Swap in the model for the APs silent at `t`; True when it changed."""
        if self.feed_since is None:
            return False
        masked = silent_aps(self.last_seen, self.ap_ids, float(t), SILENT_AFTER_S, feed_since=self.feed_since)
        if masked == self.model.masked:
            return False
        if masked not in self._built:
            self._built[masked] = build_venue_model(self.model.venue, masked, self.model.falloff)
        self.model = self._built[masked]
        return True


def summary(outcomes: list[Outcome], groups: dict | None = None) -> dict:
    """Per probe kind: "zone" is the right zone's own page only (the figure the targets are for); a landing
    on the page of the group the true zone belongs to (the food hall for its stall) is a miss there and
    is counted apart as "group" (`groups`: zone -> the zone standing for its group)."""
    groups = groups or {}
    out = {}
    for kind in ("first", "30s", "120s"):
        rs = [o for o in outcomes if o.kind == kind]
        if not rs:
            continue
        err = np.array([o.error_m for o in rs if o.error_m == o.error_m])
        out[kind] = {"n": len(rs), "zone": float(np.mean([o.landed == o.true_zone for o in rs])),
                     "home": float(np.mean([o.landed is None for o in rs])),
                     "group": float(np.mean([on_group_page(o.landed, o.true_zone, groups) for o in rs])),
                     "floor": float(np.mean([o.floor == o.true_floor for o in rs])),
                     "error_mean": float(err.mean()) if err.size else float("nan"),
                     "error_median": float(np.median(err)) if err.size else float("nan")}
    return out


def cause(o: Outcome, groups: dict) -> str:
    """Why a probe missed: no position, wrong floor, its zone's group page (counted as a miss, as `summary`
    counts it), the best zone right but too unsure (home) or another zone kept (on a border), or elsewhere."""
    if o.landed == o.true_zone:
        return "right"
    if o.floor is None:
        return "no position"
    if o.floor != o.true_floor:
        return "wrong floor"
    if on_group_page(o.landed, o.true_zone, groups):
        return "own group page"
    if o.best == o.true_zone:
        return "right zone, unsure (home)" if o.landed is None else "right zone best, another kept"
    if o.landed is None:
        return "other zone, unsure (home)"
    return "wrong zone"


def breakdown(outcomes: list[Outcome], groups: dict) -> str:
    lines = []
    for kind in ("first", "30s", "120s"):
        rs = [o for o in outcomes if o.kind == kind]
        by_kind = defaultdict(list)
        for o in rs:
            by_kind[o.zone_kind].append(o)
        lines.append(f"{kind}: " + ", ".join(
            f"{zk} {np.mean([o.landed == o.true_zone for o in sub]):.0%} ({len(sub)})"
            for zk, sub in sorted(by_kind.items())))
        causes = defaultdict(int)
        for o in rs:
            causes[cause(o, groups)] += 1
        lines.append("    causes: " + ", ".join(f"{c} {n}" for c, n in sorted(causes.items(), key=lambda kv: -kv[1])))
        src = defaultdict(int)
        for o in rs:
            src[o.source] += 1
        err = [o.error_m for o in rs if o.error_m == o.error_m]
        lines.append(f"    sources {dict(src)}; error median {np.median(err) if err else float('nan'):.1f} m")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--shape", choices=("linear", "ring"), default=None)
    parser.add_argument("--shoppers", type=int, default=30)
    parser.add_argument("--zones", default="2-2")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--live-points", type=int, default=None,
                        help="visits the quality report's estimate simulates (default: as the report, estimate.VISITS)")
    parser.add_argument("--ap-miss", type=float, default=0.0,
                        help="each AP misses each of a phone's frames with this probability (0: APs hear alike)")
    parser.add_argument("--frames", choices=("alike", "own-ap"), default="alike",
                        help="alike: every AP in range hears each frame; own-ap: a frame reaches only the phone's "
                             "own AP, every AP hears its probe sweeps (on joining, then every 4-12 s)")
    parser.add_argument("--no-reach", action="store_true",
                        help="without the APs' report reach (no silent APs, no stale readings dropped)")
    parser.add_argument("--phone-spread", type=float, default=1.0,
                        help="phone models (and the survey phone) differ this many times as much as the simulator's")
    add_radio_option(parser)
    parser.add_argument("--no-claim", action="store_true", help="skip the quality report's live estimate")
    parser.add_argument("--assumed-phones", action="store_true",
                        help="the claim with the assumed phones, not those the replay's tracker counted")
    parser.add_argument("--feed-up", type=float, default=FEED_UP_S,
                        help="seconds the APs had reported before the first shopper came (APs silent for "
                             f"{SILENT_AFTER_S:.0f} s are left out of the live model; -1: never)")
    parser.add_argument("--claim-unmarked", action="store_true",
                        help="the claim on the mall's map without its entrances marked, as a venue whose operator "
                             "marked none (its shoppers on foot then join along the lobbies and corridors, not at "
                             "the street doors where the replay's come in)")
    parser.add_argument("--tick", type=int, default=2,
                        help="the tracker's period in simulated seconds (reports and probes go second by second)")
    args = parser.parse_args(argv)
    lo, _, hi = args.zones.partition("-")
    t0 = time.perf_counter()
    mall = generate_mall(args.seed, args.shape, phone_spread=args.phone_spread, radio=args.radio)
    model = build_venue_model(mall.venue)
    counted: dict[int, int] = {}
    outcomes = replay(args.seed, args.shape, args.shoppers, (int(lo), int(hi or lo)), mall=mall, model=model,
                      ap_miss=args.ap_miss, reach=not args.no_reach, tick=args.tick, frames=args.frames,
                      feed_up_s=None if args.feed_up < 0 else args.feed_up, phone_mix=counted)
    s = summary(outcomes, model.groups)
    replayed_s = time.perf_counter() - t0
    # The claim as the quality page makes it after these shoppers: with their phones once enough were counted
    assumptions = LiveAssumptions() if args.assumed_phones else phones_from_counts(counted)[0]
    claimed = without_entrances(mall.venue) if args.claim_unmarked else mall.venue
    doors = claimed.entrance_spots()
    claim = None if args.no_claim else live_estimate(claimed, assumptions, max_points=args.live_points)
    if args.json:
        print(json.dumps({"seed": args.seed, "shape": mall.shape, "landing": s,
                          "claim": claim.headline() if claim else None, "phones_counted": sum(counted.values()),
                          "claim_assumptions": asdict(claim.assumptions) if claim else None,
                          "claim_entrances": len(doors),
                          "outcomes": [asdict(o) for o in outcomes]}))
        return 0
    print(f"replay seed {args.seed} ({mall.shape}), {args.shoppers} shoppers, {replayed_s:.0f} s")
    for kind, v in s.items():
        print(f"{kind:<6}{v['n']:>4} right {v['zone']:6.1%} (+ own group page {v['group']:5.1%}) home {v['home']:6.1%} "
              f"floor {v['floor']:6.1%} "
              f"err {v['error_mean']:5.1f} m (median {v['error_median']:.1f})")
    if args.breakdown:
        print(breakdown(outcomes, model.groups))
    if claim is not None:
        print("\n".join(claim_lines(claim.headline(), s)) + f"  ({claim.n_points} visits, {claim.seconds:.0f} s)")
        print(phones_line(claim.assumptions, sum(counted.values()), by_choice=args.assumed_phones))
        print(f"  the claim's arrivals on foot: at the {len(doors)} entrances the map marks" if doors else
              "  the claim's arrivals on foot: along the lobbies and corridors (the map marks no entrance)")
    return 0


def without_entrances(venue: VenueMap) -> VenueMap:
    """A copy of `venue` whose walkway nodes mark no entrance."""
    plain = venue.copy()
    for node in plain.nodes:
        node.entrance = False
    return plain


if __name__ == "__main__":
    sys.exit(main())
