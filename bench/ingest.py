"""RSSI ingestion speed: readings/s through the real HTTP endpoint, beside the raw Redis write rate.

    python bench/ingest.py [--aps 300] [--clients 20000] [--heard-by 8] [--rounds 3]
                           [--aps-per-request 15] [--senders 4] [--threads 4] [--no-cluster] [--buckets 16]

Starts its own embedded Valkey (AOF on, as `make run` does) and a gunicorn with ONE worker (gthread)
serving the app, creates a venue with `--aps` APs, and generates a mall-sized load: `--clients`
phones, each heard by ~`--heard-by` APs (one reading per AP per round). The readings are posted in the
native batch format (`--aps-per-request` APs per POST, ~485 kB: within the default body limit) from
`--senders` client threads over keep-alive connections; the figure is readings/s from the first byte
sent to the last reply. The app runs with its default settings: the same code path as production.

In the same run, on the same (flushed) server, the same writes are done directly, without HTTP,
parsing or hashing (client ids hashed beforehand):
  * raw pipeline: a redis-py pipeline per request batch, with the same commands the store sends
    (ZADD per client, ZREMRANGEBYSCORE + EXPIRE per client, HSET of AP last-seen, health counters);
  * raw stream:  the store's own write path (RssiStore.write_batch) fed the pre-built batches.
Both run from as many threads as there are HTTP senders. The ratios are HTTP / raw.
Then (unless --no-cluster) a local 3-primary Valkey Cluster is started and the same batches go through
the same write path on a cluster client, twice: the venue's phones in one slot (the venue's primary, its
slot checked in the stream), then spread over `--buckets` buckets (PHONE_BUCKETS: one stream per
primary, each slot checked): the cluster ratios are cluster stream / single-node stream.
Targets (issue 3): >= 100,000 readings/s on one worker and >= 50% of the raw pipeline rate;
(issue 15): cluster ingest >= 50% of the single-node stream.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import redis  # noqa: E402

from core.security import MacHasher  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import connect, set_phone_buckets, start_embedded_valkey  # noqa: E402
from fingerprints.model import AccessPoint, Floor, VenueMap  # noqa: E402
from fingerprints.store import VenueStore  # noqa: E402
from portal.ingest.health import IngestHealth  # noqa: E402
from portal.ingest.observation import Batch  # noqa: E402
from portal.ingest.store import RssiKeys, RssiStore, newest_per_ap  # noqa: E402
from portal.ingest.tokens import ApiTokenStore  # noqa: E402
from portal.tools.net import free_port, wait_for_port  # noqa: E402
from portal.tools.valkey_cluster import start_local_cluster  # noqa: E402

VENUE = "bench"
TARGET_PER_S = 100_000
TARGET_RATIO = 0.5
MAC_KEY = "bench-mac-hash-key-" + "k" * 16




def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process (Linux /proc), to show where the time went."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def mac(rnd: random.Random, local: bool = False) -> str:
    octets = [rnd.getrandbits(8) for _ in range(6)]
    if local:
        octets[0] = (octets[0] | 0x02) & 0xFE  # locally administered, unicast: a randomised phone MAC
    return ":".join(f"{o:02x}" for o in octets)


def make_load(n_aps: int, n_clients: int, heard_by: int, seed: int = 7):
    """APs on a grid; each phone is heard by the ~heard_by APs nearest to it, RSSI from distance."""
    rnd = random.Random(seed)
    aps = []
    side = max(1, int(n_aps ** 0.5))
    for i in range(n_aps):
        aps.append((f"f0:9f:c2:{i // 65536:02x}:{i // 256 % 256:02x}:{i % 256:02x}", (i % side) * 15.0,
                    (i // side) * 15.0))
    phones = [mac(rnd, local=rnd.random() < 0.6) for _ in range(n_clients)]
    per_ap: dict[str, list[tuple[str, int]]] = {bssid: [] for bssid, _, _ in aps}
    extent = side * 15.0
    for phone in phones:
        x, y = rnd.uniform(0, extent), rnd.uniform(0, extent)
        k = max(1, heard_by + rnd.choice((-1, 0, 0, 1)))
        near = sorted(aps, key=lambda a: (a[1] - x) ** 2 + (a[2] - y) ** 2)[:k]
        for bssid, ax, ay in near:
            d = max(1.0, ((ax - x) ** 2 + (ay - y) ** 2) ** 0.5)
            per_ap[bssid].append((phone, int(max(-100, min(-30, -40 - 25 * (d / 10) + rnd.gauss(0, 3))))))
    return aps, phones, per_ap


def make_requests(per_ap, aps_per_request: int, now: float, rnd: random.Random):
    """Native batch bodies: (bytes, [(phone, ap, rssi, ts), ...]) per request."""
    requests = []
    bssids = list(per_ap)
    for i in range(0, len(bssids), aps_per_request):
        reports, readings = [], []
        for bssid in bssids[i:i + aps_per_request]:
            observations = []
            for phone, rssi in per_ap[bssid]:
                ts = round(now - rnd.random() * 5, 3)
                observations.append({"client": phone, "rssi": rssi, "ts": ts})
                readings.append((phone, bssid, rssi, ts))
            reports.append({"ap": bssid, "observations": observations})
        requests.append((json.dumps({"reports": reports}, separators=(",", ":")).encode(), readings))
    return requests


def fresh_venue(db: redis.Redis, aps) -> str:
    """An empty store holding only the bench venue (its map: the APs) and a token; returns the token."""
    db.flushdb()
    VenueStore(db).put_map(VenueMap(id=VENUE, name="Bench mall", name_zh="基准商场",
                                    floors=[Floor(0, "G", 300.0, 300.0)],
                                    aps=[AccessPoint(b, 0, x, y, f"AP-{i}") for i, (b, x, y) in enumerate(aps)]))
    return ApiTokenStore(db).issue(VENUE, "bench")


def start_gunicorn(redis_url: str, data_dir: Path, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret-" + "s" * 20,
           "MAC_HASH_KEY": MAC_KEY, "DATA_DIR": str(data_dir), "LOAD_DEMO": "0", "VENUE": VENUE}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
         "--keep-alive", "30"],
        cwd=ROOT, env=env,
    )
    wait_for_port(port)
    deadline = time.time() + 60
    while True:  # the port opens before the worker has loaded the app: wait for an answer
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: the app failed to load (see its log above)")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"/api/v1/venues/{VENUE}/meraki/none")
            conn.getresponse().read()
            conn.close()
            return proc, port
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def worker_pid(master: subprocess.Popen) -> int | None:
    try:
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        return int(children[0]) if children else None
    except OSError:
        return None


def post_all(port: int, token: str, bodies: list[bytes], senders: int) -> tuple[float, list]:
    """Post every body once, from `senders` threads, each on its own keep-alive connection."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    statuses: list = []
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def sender():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            try:
                conn.request("POST", f"/api/v1/venues/{VENUE}/reports", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError as exc:
                status = f"{type(exc).__name__}"
                conn.close()
            with lock:
                statuses.append(status)
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, statuses


def in_threads(work, batches: list[Batch], threads: int) -> float:
    """Run work(batch) over all batches from `threads` threads (as many as the HTTP senders)."""
    queue = list(batches)
    lock = threading.Lock()

    def loop():
        while True:
            with lock:
                if not queue:
                    return
                batch = queue.pop()
            work(batch)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def raw_pipeline(db: redis.Redis, batches: list[Batch], now: float, window_s: float, threads: int) -> float:
    """The same writes with a plain redis-py pipeline per request batch (what RssiStore did before)."""
    keys = RssiKeys(VENUE)
    ttl = int(window_s * 2)

    def write(batch: Batch) -> None:
        by_client: dict[str, dict[str, float]] = {}
        for client, ap, rssi, ts in zip(batch.clients, batch.aps, batch.rssis, batch.tss, strict=True):
            by_client.setdefault(client, {})[f"{ap}|{rssi:g}|{ts:.3f}"] = ts
        pipe = db.pipeline(transaction=False)
        for client, members in by_client.items():
            key = keys.readings(client)
            pipe.zadd(key, members)
            pipe.zremrangebyscore(key, "-inf", now - window_s)
            pipe.expire(key, ttl)
        pipe.hset(keys.ap_last_seen(), mapping=dict.fromkeys(batch.aps, now))
        pipe.hset(keys.ap_reach(), mapping=newest_per_ap(batch))
        for command in IngestHealth.accepted_commands(VENUE, "native:bench", len(batch), now):
            pipe.execute_command(*command)
        pipe.execute()

    return in_threads(write, batches, threads)


def cluster_stream(tmp: Path, batches: list[Batch], now: float, window: float, threads: int,
                   bucket_counts: tuple[int, ...]) -> list[float]:
    """The store's write path on a local 3-primary cluster (no replicas: the same durability as the
    single node above), the venue's phones in each of `bucket_counts` buckets (PHONE_BUCKETS) in turn;
    seconds for all batches, per count."""
    cluster = start_local_cluster(tmp / "cluster", primaries=3, replicas=0)
    try:
        db = connect(Settings(redis_url=cluster.url, redis_cluster=True), timeout_s=10)
        seconds = []
        for buckets in bucket_counts:
            set_phone_buckets({VENUE: buckets})
            raw_stream(RssiStore(db, window), batches[:2], now, 1)  # warm: slot map, connections
            db.flushdb()
            seconds.append(raw_stream(RssiStore(db, window), batches, now, threads))
            db.flushdb()
        return seconds
    finally:
        set_phone_buckets({})
        cluster.stop()


def raw_stream(store: RssiStore, batches: list[Batch], now: float, threads: int) -> float:
    def write(batch: Batch) -> None:
        store.write_batch(VENUE, batch, now, IngestHealth.accepted_commands(VENUE, "native:bench", len(batch), now))

    return in_threads(write, batches, threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aps", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--heard-by", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aps-per-request", type=int, default=15)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads in the one worker")
    parser.add_argument("--no-cluster", action="store_true", help="skip the runs on a local Valkey Cluster")
    parser.add_argument("--buckets", type=int, default=16,
                        help="the cluster's second run spreads the venue's phones over this many buckets")
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mallportal-bench-"))
    valkey = start_embedded_valkey(tmp / "valkey")
    url = valkey.connection_url + "/0"
    db = redis.Redis.from_url(url, max_connections=64)
    db.flushdb()
    gunicorn = None
    try:
        aps, phones, per_ap = make_load(args.aps, args.clients, args.heard_by)
        token = fresh_venue(db, aps)
        gunicorn, port = start_gunicorn(url, tmp / "var", args.threads)
        wpid = worker_pid(gunicorn)

        now = time.time()
        rnd = random.Random(11)
        rounds = [make_requests(per_ap, args.aps_per_request, now, rnd) for _ in range(args.rounds)]
        bodies = [body for requests in rounds for body, _ in requests]
        n_obs = sum(len(readings) for requests in rounds for _, readings in requests)
        print(f"load: {args.aps} APs, {args.clients} clients heard by ~{args.heard_by} APs each; "
              f"{args.rounds} rounds of {len(rounds[0])} requests, {n_obs:,} readings, "
              f"{sum(map(len, bodies)) / len(bodies) / 1024:.0f} kB per request", flush=True)

        # warm up: the worker's imports, connection pools and hash memo (as in steady operation)
        for warm_bodies, senders in (([b for b, _ in rounds[0][:4]], 1), ([b for b, _ in rounds[0]], args.senders)):
            _, statuses = post_all(port, token, warm_bodies, senders)
            if set(statuses) != {202}:
                print(f"ERROR: warm-up requests failed ({sorted(set(map(str, statuses)))})")
                return 1
            token = fresh_venue(db, aps)

        vpid = int(db.info("server")["process_id"])
        cpu0 = (cpu_seconds(wpid) if wpid else float("nan"), cpu_seconds(vpid), time.process_time())
        http_s, statuses = post_all(port, token, bodies, args.senders)
        cpu1 = (cpu_seconds(wpid) if wpid else float("nan"), cpu_seconds(vpid), time.process_time())
        bad = [s for s in statuses if s != 202] + ["missing"] * (len(bodies) - len(statuses))
        stored_keys = sum(1 for _ in db.scan_iter(match=RssiKeys(VENUE).readings("*"), count=10_000))
        if bad:
            print(f"ERROR: {len(bad)} requests failed ({sorted(set(map(str, bad)))})")
            return 1
        http_rate = n_obs / http_s

        # the same writes, directly
        hasher = MacHasher(MAC_KEY)
        ids = {p: hasher.client_id(p) for p in phones}
        batches = []
        for requests in rounds:
            for _, readings in requests:
                batch = Batch()
                for phone, ap, rssi, ts in readings:
                    batch.add(ids[phone], ap, rssi, ts)
                batches.append(batch)
        window = 60.0
        db.flushdb()
        pipe_s = raw_pipeline(db, batches, now, window, args.senders)
        db.flushdb()
        stream_s = raw_stream(RssiStore(db, window), batches, now, args.senders)
        pipe_rate, stream_rate = n_obs / pipe_s, n_obs / stream_s

        print()
        rows = [
            (f"HTTP, gunicorn 1 worker ({args.threads} threads), {args.senders} senders", http_rate, http_s),
            (f"raw redis-py pipeline (same writes), {args.senders} thr", pipe_rate, pipe_s),
            (f"raw stream (store write path), {args.senders} threads", stream_rate, stream_s),
        ]
        print(f"{'path':<52}{'readings/s':>12}{'seconds':>9}")
        for name, rate, seconds in rows:
            print(f"{name:<52}{rate:>12,.0f}{seconds:>9.2f}")
        print()
        print(f"HTTP / raw pipeline: {http_rate / pipe_rate:.0%}   HTTP / raw stream: {http_rate / stream_rate:.0%}")
        names = ("gunicorn worker", "valkey", "bench client")
        spent = ", ".join(f"{n} {b - a:.1f} s" for n, a, b in zip(names, cpu0, cpu1, strict=True) if b == b)
        print(f"CPU during the HTTP run ({http_s:.1f} s wall): {spent}")
        print(f"stored: {stored_keys:,} client keys after the HTTP run (expected {len(phones):,})")
        ok_rate, ok_ratio = http_rate >= TARGET_PER_S, http_rate / pipe_rate >= TARGET_RATIO
        print(f"target >= {TARGET_PER_S:,}/s: {'met' if ok_rate else 'NOT met'}; "
              f"target >= {TARGET_RATIO:.0%} of raw pipeline: {'met' if ok_ratio else 'NOT met'}")
        if not args.no_cluster:
            counts = (1, args.buckets)
            for buckets, seconds in zip(counts, cluster_stream(tmp, batches, now, window, args.senders, counts),
                                        strict=True):
                cluster_rate = n_obs / seconds
                ratio = cluster_rate / stream_rate
                print(f"raw stream on a 3-primary cluster, {args.senders} threads, phones in {buckets} bucket(s): "
                      f"{cluster_rate:,.0f} readings/s; cluster / single-node stream: {ratio:.0%} "
                      f"(target >= {TARGET_RATIO:.0%}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
        return 0
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=15)
        valkey.stop()


if __name__ == "__main__":
    sys.exit(main())
