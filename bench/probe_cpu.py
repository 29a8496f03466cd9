"""CPU time per OS probe, in process: the portal's probe lane beside a bare Flask 302, in the same run.

    python bench/probe_cpu.py [--phones 500] [--probes 5000] [--profile 25] [--floor]

bench/portal.py measures requests per second through gunicorn, which on a shared machine moves with
everyone else's load. This counts CPU seconds instead (time.process_time of this process, and the
store's own used_cpu from INFO), which load barely moves: the demo mall in an embedded Valkey,
`--phones` phones heard and positioned by the tracker (as bench/portal.py prepares them), then
`--probes` WSGI calls of `GET /generate_204?client_mac=<a random one of them>` straight into the app
(the whole WSGI stack: query guard, probe lane, landing decision, store round trips), then as many into a
bare Flask app whose route returns a fixed 302 (bench/bare_app.py). Printed: microseconds of CPU per
probe in the app and in the store, beside the bare route's, and their ratio; `--profile N` also prints
cProfile's N costliest functions of the probe (by own CPU time of the probing thread); `--floor` also the
probe with its shopper token and landing event taken out (one round trip, no writes, as on 2026-11-25).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bare_app import app as bare_app  # noqa: E402
from bench.portal import BENCH_MAC_KEY, BENCH_SECRET_KEY, prepare_store  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import start_embedded_valkey  # noqa: E402
from portal import create_app  # noqa: E402


def _environ(path: str, query: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "connectivitycheck.gstatic.com", "REMOTE_ADDR": "10.0.0.9",
            "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False}


def _call(app, environ: dict) -> str:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
    assert body is not None
    return status[0]


def _store_cpu(db) -> float:
    info = db.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measure(app, queries: list[str], db=None, flush=None) -> tuple[float, float, str]:
    """(app CPU s per call, store CPU s per call, the last status) over one call per query. `flush`: write
    what the calls deferred (the landing events) before the clock stops, so their cost is counted."""
    store_before = _store_cpu(db) if db is not None else 0.0
    started = time.process_time()  # every thread of the process: the event writer's too
    status = ""
    for query in queries:
        status = _call(app, _environ("/generate_204", query))
    if flush is not None:
        flush()
    app_cpu = (time.process_time() - started) / len(queries)
    store_cpu = (_store_cpu(db) - store_before) / len(queries) if db is not None else 0.0
    return app_cpu, store_cpu, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--probes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's N costliest functions")
    parser.add_argument("--floor", action="store_true",
                        help="also the probe without its token and landing event (what the 2026-11-25 probe did)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        valkey = start_embedded_valkey(data_dir / "valkey")
        try:
            url = valkey.connection_url + "/0"
            print(f"preparing: demo mall + {args.phones} phones heard and positioned ...", flush=True)
            # Windows longer than the run, so every probe finds its phone's kept position (as under the
            # tracker); bench/portal.py measures the share that positions inline under a live feed.
            long = {"position_cache_s": 3600.0, "rssi_window_s": 3600.0}
            heard = prepare_store(url, data_dir, args.phones, **long)
            settings = Settings(redis_url=url, secret_key=BENCH_SECRET_KEY, mac_hash_key=BENCH_MAC_KEY,
                                data_dir=data_dir, load_demo=False, **long)
            app = create_app(settings)
            db, flush = app.extensions["mallportal"].db, app.extensions["mallportal"].events.flush
            rng = random.Random(7)
            queries = [f"client_mac={rng.choice(heard)[0]}" for _ in range(args.probes)]
            measure(app.wsgi_app, queries[:200], db, flush)  # warm: memos, scripts loaded, connections open
            measure(bare_app.wsgi_app, [""] * 200)
            floor = floor_app(settings) if args.floor else None
            if floor is not None:
                measure(floor.wsgi_app, queries[:200], db)
            portal, bare, floors = [], [], []
            for _ in range(args.rounds):  # interleaved, so a noisy neighbour's second hits all alike
                portal.append(measure(app.wsgi_app, queries, db, flush))
                bare.append(measure(bare_app.wsgi_app, [""] * args.probes))
                if floor is not None:
                    floors.append(measure(floor.wsgi_app, queries, db))
            if args.profile:
                profile = cProfile.Profile(time.thread_time)  # CPU of the probes' thread, not wall time
                profile.runcall(measure, app.wsgi_app, queries[: args.probes // 5], db, flush)
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.profile)
                print(out.getvalue())
        finally:
            valkey.stop()
    app_us = sorted(p[0] * 1e6 for p in portal)[len(portal) // 2]
    store_us = sorted(p[1] * 1e6 for p in portal)[len(portal) // 2]
    bare_us = sorted(b[0] * 1e6 for b in bare)[len(bare) // 2]
    print(f"last probe answered: {portal[-1][2]}; {args.probes} probes x {args.rounds} rounds, medians")
    print(f"tracked probe: {app_us:,.0f} us CPU in the app + {store_us:,.0f} us in the store")
    print(f"bare Flask 302: {bare_us:,.0f} us CPU")
    print(f"bare / probe, app CPU: {bare_us / app_us:.2f}; with the store's: {bare_us / (app_us + store_us):.2f}")
    if floors:
        floor_us = sorted(f[0] * 1e6 for f in floors)[len(floors) // 2]
        floor_store_us = sorted(f[1] * 1e6 for f in floors)[len(floors) // 2]
        print(f"probe without token and event: {floor_us:,.0f} us CPU in the app + {floor_store_us:,.0f} us in the "
              f"store; bare / it, app CPU: {bare_us / floor_us:.2f}")
    return 0


def floor_app(settings: Settings):
    """The app with the probe's token and landing event taken out (a fixed token, no event): what the
    2026-11-25 probe did (one round trip, no writes), for comparison only; never served."""
    app = create_app(settings)
    landing = app.extensions["captive"].landing
    landing.tokens = SimpleNamespace(mint=lambda shopper, handout=False: f"{shopper.venue}.{'t' * 43}")
    landing.events = None
    return app


if __name__ == "__main__":
    raise SystemExit(main())
