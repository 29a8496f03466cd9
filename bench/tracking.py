"""Tracker capacity: phones positioned per second by one tracker process, end to end, beside positioning alone.

    python bench/tracking.py [--seed 4242] [--phones 2000] [--rounds 3] [--warmup 1] [--demo]

A generated mall (fingerprints/mallgen.py, or the demo mall with --demo) is loaded into an embedded Valkey.
Each round, every phone is heard anew at its spot (about 20 APs x 10 readings in the last minute, written
as the ingest endpoints write them, which marks the phone for the tracker; the last round's readings are
gone, as after a minute), then one Tracker drains the
marks: per phone it reads the window, builds the vector, positions it, decides the zone, steps the smoother
and writes the kept position (portal.tracking.Tracker.drain, the loop `python -m portal track` runs).
In the same run, the same phones' vectors go through the positioner alone (locate per phone, and the
batch `predict`), with no store and no smoothing. Printed: phones/s of each and the tracker's share of
positioning alone (target >= 50%). One process, one core; the store shares the machine (say so). The first
round (`--warmup`) is run and not counted: it is the kernels' first use (numba compiles or loads them) and every
phone's first sighting (no motion state yet), where a tracker runs for days re-positioning phones it has seen;
the positioner alone is measured after the tracker in each round, so it is warm too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.settings import Settings  # noqa: E402
from core.storage import start_embedded_valkey  # noqa: E402
from fingerprints.demo_mall import build_demo_mall  # noqa: E402
from fingerprints.mallgen import generate_mall  # noqa: E402
from fingerprints.simulator import RadioSimulator  # noqa: E402
from portal import create_app  # noqa: E402
from portal.ingest.observation import Observation  # noqa: E402
from portal.ingest.store import RssiKeys  # noqa: E402
from portal.tracking import Tracker  # noqa: E402
from positioning import build_vector  # noqa: E402


def heard_phones(venue, n: int, rng: np.random.Generator) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """(MAC, [(AP, dBm, seconds ago)]) for n phones at random reference points, 10 readings per AP heard."""
    sim = RadioSimulator(venue, seed=11)
    out = []
    for i in range(n):
        s = venue.samples[int(rng.integers(len(venue.samples)))]
        readings = []
        for k in range(10):
            for ap, rssi in sim.measure(s.floor, s.x, s.y, rng).items():
                readings.append((ap, rssi, 55.0 - 6 * k))
        out.append((f"02:00:5f:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}", readings))
    return out


def phone_vectors(phones: list[tuple[str, list[tuple[str, float, float]]]], ap_ids: list[str], now: float
                  ) -> np.ndarray:
    """(len(phones), len(ap_ids)): each phone's vector from its readings (`heard_phones`), as the live window has it."""
    vectors = []
    for _, readings in phones:
        window: dict[str, list[tuple[float, float]]] = {}
        for ap, rssi, age in readings:
            window.setdefault(ap, []).append((now - age, rssi))
        vectors.append(build_vector(window, ap_ids, now=now, window_s=60.0))
    return np.vstack(vectors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--demo", action="store_true", help="the demo mall instead of a generated one")
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1,
                        help="rounds run first and not counted (the kernels' first use and every phone's first "
                             "sighting, which a running tracker is past)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")

    venue = build_demo_mall("bench") if args.demo else generate_mall(args.seed, venue_id="bench").venue
    rng = np.random.default_rng(args.seed)
    phones = heard_phones(venue, args.phones, rng)
    work = Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    valkey = start_embedded_valkey(work / "valkey")
    try:
        settings = Settings(redis_url=valkey.connection_url + "/0", secret_key="tracking-bench-" + "x" * 16,
                            mac_hash_key="tracking-bench-mac-" + "y" * 16, data_dir=work / "var", load_demo=False,
                            default_venue="bench")
        core = create_app(settings).extensions["mallportal"]
        core.venues.put_map(venue)
        model = core.locator.models.get("bench")
        tracker = Tracker(core.db, core.venues, core.locator)
        ids = [(core.hasher.client_id(mac), readings) for mac, readings in phones]
        tracked, single, batch = [], [], []
        for round_ in range(args.warmup + args.rounds):
            counted = round_ >= args.warmup
            now = time.time()
            # The last round's readings leave the window, as a minute passing would: each round every phone
            # has its ~200 readings (until 2026-11-30 rounds 2 and 3 kept the earlier rounds' too: 400, 600)
            pipe = core.db.pipeline(transaction=False)
            for cid, _ in ids:
                pipe.delete(RssiKeys("bench").readings(cid))
            pipe.execute()
            core.rssi.write("bench", [Observation(cid, ap, rssi, now - age + round_ * 1e-3)
                                      for cid, readings in ids for ap, rssi, age in readings], now)
            started = time.perf_counter()
            done = tracker.drain("bench")
            rate = done / (time.perf_counter() - started)
            if not counted:
                print(f"warm-up round: tracker {rate:,.0f} phones/s ({done} phones), not counted", flush=True)
                continue
            tracked.append(rate)
            X = phone_vectors(ids, model.ap_ids, now)
            started = time.perf_counter()
            for row in X:
                model.positioner.locate(row)
            single.append(len(X) / (time.perf_counter() - started))
            started = time.perf_counter()
            model.positioner.predict(X)
            batch.append(len(X) / (time.perf_counter() - started))
            print(f"round {len(tracked)}: tracker {tracked[-1]:,.0f} phones/s ({done} phones), positioner alone "
                  f"{single[-1]:,.0f}/s per phone, {batch[-1]:,.0f}/s batch", flush=True)
    finally:
        valkey.stop()
    best = max(np.median(single), np.median(batch))
    print(f"\n{venue.id}: {len(venue.samples)} reference points x {len(venue.aps)} APs, {args.phones} phones, "
          f"median of {args.rounds} rounds after {args.warmup} warm-up")
    print(f"tracker end to end (read window, position, zone, smooth, write): {np.median(tracked):,.0f} phones/s")
    print(f"positioning alone: {np.median(single):,.0f}/s one at a time, {np.median(batch):,.0f}/s batch")
    print(f"tracker / positioning alone (the faster): {np.median(tracked) / best:.0%} (target >= 50%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
