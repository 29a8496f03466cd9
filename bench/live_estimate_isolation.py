"""Probe latency in a web worker while the quality report's live estimate runs: in a thread of the worker
(as until 2026-12-04) and in a child process (`live_jobs.in_a_process`, as now), beside no estimate at all.

    python bench/live_estimate_isolation.py [--seed 4242] [--visits 120] [--seconds 8] [--rounds 2]

A gthread web worker serves captive probes on its other threads while an operator's quality page has it compute
the estimate (a minute or more on a large mall). The bench is one such worker: the demo mall's app on an embedded
Valkey with 200 tracked phones (as bench/probe_cpu.py prepares them), one thread calling the app's
`GET /generate_204` one probe after another for `--seconds` and timing each call, while the estimate of the
generated mall of `--seed` (`--visits` simulated visits) runs (1) nowhere, (2) in a thread of this process,
(3) through in_a_process. Printed: probes answered and latency p50 / p95 / p99 per case, each case's ratio to (1)
in the same run. On a machine with a single free core the child competes with the probes for the CPU, not for
the interpreter's lock.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.portal import BENCH_MAC_KEY, BENCH_SECRET_KEY, prepare_store  # noqa: E402
from bench.positioning import percentile  # noqa: E402
from bench.probe_cpu import _call, _environ  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import start_embedded_valkey  # noqa: E402
from fingerprints.mallgen import generate_mall  # noqa: E402
from portal import create_app  # noqa: E402
from portal.operator.live_jobs import in_a_process  # noqa: E402
from portal.tracking.estimate import live_estimate  # noqa: E402

VISITS = 120


def mall_estimate(venue_map, assumptions=None, progress=None, visits: int = VISITS):
    """The estimate the bench runs (module level: the child process imports it by name)."""
    return live_estimate(venue_map, assumptions, max_points=visits, progress=progress)


def probe_latencies(app, queries: list[str], seconds: float, busy: threading.Thread | None) -> list[float]:
    """Seconds per probe, calling one after another for `seconds` (or until `busy` ends, when given)."""
    out: list[float] = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and (busy is None or busy.is_alive()):
        started = time.perf_counter()
        _call(app, _environ("/generate_204", queries[i % len(queries)]))
        out.append(time.perf_counter() - started)
        i += 1
    return out


def while_estimating(app, queries: list[str], seconds: float, compute, venue_map) -> list[float]:
    """Probe latencies while `compute(venue_map)` runs in a thread of this process (started, and its first
    visit done, before the clock starts)."""
    first_visit = threading.Event()
    worker = threading.Thread(target=compute, args=(venue_map,),
                              kwargs={"progress": lambda done, total: first_visit.set()}, daemon=True)
    worker.start()
    first_visit.wait(600)
    latencies = probe_latencies(app, queries, seconds, worker)
    worker.join()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--visits", type=int, default=VISITS)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    estimate = functools.partial(mall_estimate, visits=args.visits)

    venue_map = generate_mall(args.seed).venue
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        valkey = start_embedded_valkey(data_dir / "valkey")
        try:
            url = valkey.connection_url + "/0"
            long = {"position_cache_s": 3600.0, "rssi_window_s": 3600.0}
            heard = prepare_store(url, data_dir, 200, **long)
            app = create_app(Settings(redis_url=url, secret_key=BENCH_SECRET_KEY, mac_hash_key=BENCH_MAC_KEY,
                                      data_dir=data_dir, load_demo=False, **long)).wsgi_app
            rng = random.Random(7)
            queries = [f"client_mac={rng.choice(heard)[0]}" for _ in range(2000)]
            probe_latencies(app, queries, 1.0, None)  # warm: memos, scripts, connections
            cases: dict[str, list[float]] = {"no estimate": [], "estimate in a thread": [],
                                             "estimate in a child process": []}
            for r in range(args.rounds):  # interleaved, so a noisy neighbour's seconds hit all alike
                print(f"round {r + 1} of {args.rounds} ...", flush=True)
                cases["no estimate"] += probe_latencies(app, queries, args.seconds, None)
                cases["estimate in a thread"] += while_estimating(app, queries, args.seconds, estimate, venue_map)
                cases["estimate in a child process"] += while_estimating(
                    app, queries, args.seconds, in_a_process(estimate), venue_map)
        finally:
            valkey.stop()
    base = {q: percentile(cases["no estimate"], q) for q in (50, 95, 99)}
    print(f"generated mall {args.seed}, {args.visits} visits; probes one after another, {args.seconds:g} s x "
          f"{args.rounds} rounds per case")
    for name, values in cases.items():
        p = {q: percentile(values, q) for q in (50, 95, 99)}
        print(f"{name:<28} {len(values):>6} probes  p50 {p[50] * 1e3:6.2f} ms  p95 {p[95] * 1e3:6.2f} ms  "
              f"p99 {p[99] * 1e3:6.2f} ms  (x{p[50] / base[50]:.2f} / x{p[95] / base[95]:.2f} / "
              f"x{p[99] / base[99]:.2f} of no estimate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
