"""Tracker capacity: phones positioned per second by one tracker process, end to end, beside positioning alone.

    python bench/tracking.py [--seed 4242] [--phones 2000] [--rounds 3] [--warmup 1] [--demo] [--phases]

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
the positioner alone is measured after the tracker in each round, so it is warm too. `--phases` also prints, per
counted round, the seconds of each step of the tracker's batches (`PhaseTimer`) and its own work (all but the
positioner): where a tracked phone's time goes, and per phone the drain's wall time beside the CPU time of the
tracker's process (both its threads, and the draining thread's alone: the rest is its reads thread's) and of the store
server (INFO cpu): whether the store or the tracker bounds it. The phase timers' own cost is in the tracker's figures
(a perf_counter pair per step and batch: microseconds a batch of 256 phones).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.settings import Settings  # noqa: E402
from core.storage import PackedPipeline, start_embedded_valkey  # noqa: E402
from fingerprints.demo_mall import build_demo_mall  # noqa: E402
from fingerprints.mallgen import generate_mall  # noqa: E402
from fingerprints.simulator import RadioSimulator  # noqa: E402
from portal import create_app  # noqa: E402
from portal.ingest.observation import Observation  # noqa: E402
from portal.ingest.store import RssiKeys  # noqa: E402
from portal.tracking import Tracker, locator  # noqa: E402
from positioning import build_vector  # noqa: E402
from positioning.motion import MotionFilter  # noqa: E402
from positioning.wknn import WKNNPositioner  # noqa: E402
from positioning.zones import ZoneMap  # noqa: E402

# The steps of the tracker's batch that `--phases` times, each called once or twice per batch of 256 phones (so
# the timers cost nothing measurable): (label, owner, attribute). "preparing" holds the windows' parse, the motion
# states' decoding, the weighing ("weighing", inside it) and each phone's offset; the phones heard under 8 s (partial
# matches, one at a time) and the per-phone decisions are in the tracker's own work, not in a phase of their own.
# "reads", "preparing" and "weighing" hold every batch's, also those of the batches read and prepared ahead in the
# tracker's reads thread while the batch before was positioned (Tracker.batches_per_step): those overlap the other
# phases, so the phases can add up to more than the drain's time, and "the tracker's own work" (the drain's time less
# the positioner's) is what the tracker's thread did besides positioning and waiting for the reads thread.
PHASES = (("reads", locator.Locator, "_read_batch"), ("preparing", locator.Locator, "_prepared_batch"),
          ("weighing", locator, "_hear"), ("positioner", WKNNPositioner, "locate_many"),
          ("zones", ZoneMap, "zone_scores_many"), ("motion", MotionFilter, "update_many"),
          ("queueing writes", locator.Locator, "_queue_keep"), ("writes", PackedPipeline, "execute"))


class PhaseTimer:
    """Seconds per phase (`PHASES`) while `active`: each step's function replaced by a timed one until `remove`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.active = False
        self._originals = [(owner, name, getattr(owner, name)) for _, owner, name in PHASES]
        for (label, owner, name), (_, _, original) in zip(PHASES, self._originals, strict=True):
            setattr(owner, name, self._timed(label, original))

    def _timed(self, label: str, original: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active:
                    self.seconds[label] += time.perf_counter() - started
        return timed

    def remove(self) -> None:
        for owner, name, original in self._originals:
            setattr(owner, name, original)

    def line(self, total_s: float) -> str:
        """The round's phases and the tracker's own work (`total_s`, the drain's time, less the positioner's)."""
        parts = ", ".join(f"{label} {self.seconds[label]:.3f} s" for label, _, _ in PHASES)
        own = total_s - self.seconds["positioner"]
        return f"  phases: {parts}; the tracker's own work {own:.3f} s of {total_s:.3f} s"


def store_cpu_s(db) -> float:
    """The store server's CPU seconds so far (user and system, INFO cpu): its share of a drain, beside the tracker's."""
    info = db.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


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
    parser.add_argument("--phases", action="store_true",
                        help="also the seconds of each step of the tracker's batches, per counted round")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")

    venue = build_demo_mall("bench") if args.demo else generate_mall(args.seed, venue_id="bench").venue
    rng = np.random.default_rng(args.seed)
    phones = heard_phones(venue, args.phones, rng)
    work = Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    valkey = start_embedded_valkey(work / "valkey")
    timer = PhaseTimer() if args.phases else None
    tracker = None
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
            if timer is not None:
                timer.seconds.clear()
                timer.active = counted
            cpu = (time.process_time(), time.thread_time(), store_cpu_s(core.db))
            started = time.perf_counter()
            done = tracker.drain("bench")
            drained_s = time.perf_counter() - started
            cpu = (time.process_time() - cpu[0], time.thread_time() - cpu[1], store_cpu_s(core.db) - cpu[2])
            rate = done / drained_s
            if timer is not None:
                timer.active = False
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
            if timer is not None:
                print(timer.line(drained_s), flush=True)
                wall_us, tracker_us, drain_us, store_us = (1e6 * t / done for t in (drained_s, *cpu))
                print(f"  per phone: {wall_us:.0f} us of wall time, the tracker's CPU {tracker_us:.0f} us "
                      f"(its threads; the draining thread's {drain_us:.0f} us), the store's {store_us:.0f} us",
                      flush=True)
    finally:
        if timer is not None:
            timer.remove()
        if tracker is not None:
            tracker.close()
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
