"""Captive-portal speed: OS probe -> 302 latency and throughput under concurrent load.

    python bench/portal.py [--clients 200] [--seconds 10] [--phones 500] [--workers 2] [--threads 8]

Starts an embedded Valkey, loads the demo mall, posts RSSI reports for `--phones` phones at random
spots, then serves the real app with gunicorn (gthread, same settings as `make run`) and drives
`GET /generate_204?client_mac=...` (each request a random known phone: session lookup, positioning,
zone app lookup, 302) from `--clients` concurrent keep-alive connections. In the same run, the same
gunicorn settings serve a bare Flask route returning a fixed 302 (bench/bare_app.py), driven the same
way; the ratio of the two is printed. The load generator shares the machine with the server: on a small
machine both rates are bounded by it (say so when reporting).
Targets (issue 4): p99 <= 20 ms at 200 concurrent clients, >= 70% of the bare route's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from portal.tools.net import free_port  # noqa: E402
from portal.tools.net import wait_for_port as wait_for  # noqa: E402


def prepare_store(redis_url: str, data_dir: Path, phones: int) -> list[str]:
    """Demo mall loaded, `phones` phones heard at random walkable spots; returns their MACs."""
    from portal import create_app
    from portal.demo import simulated_reports
    from portal.seed import ensure_demo_mall
    from portal.services import services
    from portal.settings import Settings

    settings = Settings(redis_url=redis_url, secret_key="bench-secret", mac_hash_key="bench-mac", data_dir=data_dir,
                        load_demo=False)
    app = create_app(settings)
    with app.app_context():
        ensure_demo_mall(services(), "demo")
        venue = services().venues.get_map("demo")
    token = (data_dir / "secrets" / "demo_api_token").read_text()
    client = app.test_client()
    rng = random.Random(5)
    macs = []
    for i in range(phones):
        mac = f"02:00:5e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        floor = rng.choice([f.level for f in venue.floors])
        body = simulated_reports(venue, floor, rng.uniform(2, 118), rng.uniform(2, 58), mac, time.time())
        resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body),
                           headers={"Authorization": f"Bearer {token}"}, content_type="application/json")
        assert resp.status_code == 202, resp.data
        macs.append(mac)
    return macs


def serve(app_spec: str, port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app_spec, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--worker-class", "gthread", "--log-level", "warning", "--backlog", "2048"],
        cwd=ROOT, env=env)
    wait_for(port)
    return proc


async def _connection(port: int, paths: list[str], stop_at: float, latencies: list[float], errors: list[str]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            path = random.choice(paths)
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 302"):
                errors.append(head.split(b"\r\n")[0].decode())
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _drive(port: int, paths: list[str], clients: int, seconds: float):
    latencies: list[float] = []
    errors: list[str] = []
    warm_until = time.perf_counter() + 1.0
    await asyncio.gather(*[_connection(port, paths, warm_until, [], []) for _ in range(min(clients, 20))])
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*[_connection(port, paths, stop_at, latencies, errors) for _ in range(clients)])
    elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    latencies, errors, elapsed = asyncio.run(_drive(port, paths, clients, seconds))
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "rps": len(ms) / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "errors": len(errors), "first_error": errors[:1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")))
    args = parser.parse_args()

    from portal.storage import start_embedded_valkey

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        valkey = start_embedded_valkey(data_dir / "valkey")
        procs = []
        try:
            url = valkey.connection_url + "/0"
            print(f"preparing: demo mall + {args.phones} phones heard by the APs ...", flush=True)
            macs = prepare_store(url, data_dir, args.phones)
            env = {**os.environ, "REDIS_URL": url, "SECRET_KEY": "bench-secret", "MAC_HASH_KEY": "bench-mac",
                   "DATA_DIR": str(data_dir), "LOAD_DEMO": "0", "VENUE": "demo"}
            portal_port, bare_port = free_port(), free_port()
            procs.append(serve("wsgi:app", portal_port, env, args.workers, args.threads))
            procs.append(serve("bench.bare_app:app", bare_port, env, args.workers, args.threads))
            probe_paths = [f"/generate_204?client_mac={mac}" for mac in macs]
            print(f"load: {args.clients} concurrent keep-alive clients, {args.seconds:g} s each; gunicorn gthread "
                  f"{args.workers} workers x {args.threads} threads; {os.cpu_count()} CPUs shared with the load "
                  "generator", flush=True)
            portal = load(portal_port, probe_paths, args.clients, args.seconds)
            bare = load(bare_port, ["/generate_204"], args.clients, args.seconds)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
            valkey.stop()

    print(f"{'':34} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in (("probe -> zone 302 (MallPortal)", portal), ("bare Flask fixed 302", bare)):
        print(f"{name:34} {r['requests']:9d} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d}")
        if r["first_error"]:
            print(f"  first unexpected answer: {r['first_error'][0]}")
    ratio = portal["rps"] / bare["rps"]
    print(f"ratio MallPortal/bare: throughput x{ratio:.2f}, p99 latency x{portal['p99_ms'] / bare['p99_ms']:.2f}")
    print(f"targets: p99 {portal['p99_ms']:.1f} ms {'<=' if portal['p99_ms'] <= 20 else '>'} 20 ms; "
          f"throughput {ratio:.0%} of bare {'>=' if ratio >= 0.7 else '<'} 70%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
