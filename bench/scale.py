"""Scale on a Valkey Cluster: memory per heard phone and per venue, and operations/s per primary.

    python bench/scale.py [--venues 10] [--phones 200] [--heard-by 8] [--rounds 12] [--primaries 3]
                          [--buckets 1]

Starts a local cluster (`--primaries` primaries, no replicas: a replica doubles memory, not ops) and
loads `--venues` simulated venues with `--phones` heard phones each, through the product's own write
paths: the ingest stream (RssiStore.write_batch: `--heard-by` readings per phone per round, `--rounds`
rounds 5 s apart: 12 fill the 60 s window, as a phone heard every 5 s keeps it),
then per phone what the tracker keeps (smoothing state, kept position: the key builders of
portal/tracking/) and one footfall record (FootfallStore.record, its Lua script). Reports:
  * memory per phone and per venue: used_memory (all primaries) after minus before, divided;
  * operations/s per primary during the ingest: commands the primary processed / wall time (bound by
    this one Python client), and the primary's own CPU per command (INFO cpu), which gives what one
    primary can take: 1 / CPU per command, per core the primary runs on;
  * the arithmetic for 100 malls x 20,000 phones (README "Scale-out").
`--buckets N` spreads each venue's phones over N hash-tag buckets (PHONE_BUCKETS, core/storage.py): with
`--venues 1` the per-primary lines show one mall's load over the primaries.
The default is small (the shared 2-CPU machine); the issue's figure is --venues 100 --phones 2000 (about
15 minutes on the 2-core VM). The primaries' active expiry is paused for the run (DEBUG SET-ACTIVE-EXPIRE 0,
local connections only), so a load longer than the 60 s window measures every phone's full window.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from core.storage import connect, set_phone_buckets  # noqa: E402
from portal.ingest.observation import Batch  # noqa: E402
from portal.ingest.store import RssiStore  # noqa: E402
from portal.tools.valkey_cluster import start_local_cluster  # noqa: E402
from portal.tracking import KeptPosition, Position, TrackKeys  # noqa: E402
from portal.tracking.footfall import FootfallStore  # noqa: E402

REPORT_EVERY_S = 5.0  # the arithmetic's assumptions: a phone heard every 5 s through 8 APs
MALLS, PHONES_PER_MALL = 100, 20_000


def primaries(db) -> list:
    return db.get_primaries()


def node_stat(db, node, section: str, field: str) -> int:
    return int(db.get_redis_connection(node).info(section)[field])


def load_readings(store: RssiStore, venues: list[str], phones: int, heard_by: int, rounds: int, now: float) -> int:
    readings = 0
    progress = tqdm(total=rounds * len(venues), desc="ingest (venues x rounds)", unit="round", file=sys.stderr)
    # Venue by venue, its rounds back to back: a key's TTL (2 windows) restarts with each round, and rounds
    # of one venue minutes apart (round-major order on a slow machine) let Valkey drop a phone's key on
    # access between them (lazy expiry), which the 100 x 2,000 run did to half the readings.
    for v, venue in enumerate(venues):
        for r in range(rounds):
            ts = now - (rounds - 1 - r) * REPORT_EVERY_S
            progress.update()
            batch = Batch()
            for p in range(phones):
                client = f"{v:04x}{p:020x}"
                for a in range(heard_by):
                    batch.add(client, f"f0:9f:c2:{v % 256:02x}:{(p + a) % 64:02x}:{a:02x}", -45.0 - (p + a + r) % 40,
                              ts - (a % 5) / 10, associated=bool(a == 0))
            readings += store.write_batch(venue, batch, now)
    progress.close()
    return readings


def pause_expiry(db, nodes: list) -> None:
    """Stop the primaries' active expiry for the run. A big load takes longer than the readings' 60 s window
    and the kept positions' 30 s: without this the first venues' keys expire while the last are written
    (the 100 x 2,000 run lost most of them), whereas a live mall keeps every heard phone's window full."""
    for node in nodes:
        db.get_redis_connection(node).execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)


def server_cpu(db, node) -> float:
    info = db.get_redis_connection(node).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def load_tracking(db, footfall: FootfallStore, venues: list[str], phones: int, now: float) -> None:
    """What the tracker writes per phone (portal/tracking/), with representative values."""
    for v, venue in enumerate(tqdm(venues, desc="tracker state", unit="venue", file=sys.stderr)):
        keys = TrackKeys(venue)
        pipe = db.pipeline(transaction=False)
        for p in range(phones):
            client = f"{v:04x}{p:020x}"
            x, y = 5.0 + p % 100, 5.0 + (p * 7) % 60
            state = {"floor": p % 3, "x": x, "y": y, "ts": now, "zone": f"zone{p % 12}", "zone_conf": 0.82,
                     "pending_zone": None, "pending_n": 0, "pending_floor": None}
            pipe.set(keys.track(client), json.dumps(state), ex=300)
            position = Position(floor=p % 3, x=x, y=y, zone=f"zone{p % 12}", confidence=0.9, zone_confidence=0.82)
            kept = KeptPosition(position, b"ap|-50|%.3f|a" % now, now)
            pipe.set(keys.last_position(client), kept.encode(), ex=30)
            footfall.record(venue, client, f"zone{p % 12}", p % 3, x, y, now, pipe=pipe)
        pipe.execute()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venues", type=int, default=10)
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--heard-by", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--primaries", type=int, default=3)
    parser.add_argument("--buckets", type=int, default=1)
    args = parser.parse_args()
    set_phone_buckets({"*": args.buckets})
    tmp = Path(tempfile.mkdtemp(prefix="mallportal-scale-"))
    print(f"starting a local cluster of {args.primaries} primaries ...", file=sys.stderr, flush=True)
    cluster = start_local_cluster(tmp / "cluster", primaries=args.primaries, replicas=0,
                                  extra_args=("--enable-debug-command", "local"))
    try:
        db = connect(Settings(redis_url=cluster.url, redis_cluster=True), timeout_s=30)
        venues = [f"mall{i:03d}" for i in range(args.venues)]
        nodes = primaries(db)
        pause_expiry(db, nodes)
        mem0 = sum(node_stat(db, n, "memory", "used_memory") for n in nodes)
        ops0 = {n.name: node_stat(db, n, "stats", "total_commands_processed") for n in nodes}
        cpu0 = {n.name: server_cpu(db, n) for n in nodes}
        now = time.time()
        start = time.perf_counter()
        readings = load_readings(RssiStore(db, window_s=60, wait_replicas=0), venues, args.phones, args.heard_by,
                                 args.rounds, now)
        ingest_s = time.perf_counter() - start
        ops1 = {n.name: node_stat(db, n, "stats", "total_commands_processed") for n in nodes}
        cpu1 = {n.name: server_cpu(db, n) for n in nodes}
        mem_readings = sum(node_stat(db, n, "memory", "used_memory") for n in nodes) - mem0
        load_tracking(db, FootfallStore(db), venues, args.phones, now)
        mem = sum(node_stat(db, n, "memory", "used_memory") for n in nodes) - mem0
        phones = args.venues * args.phones
        per_phone = mem / phones
        commands = sum(ops1.values()) - sum(ops0.values())
        cpu_per_command = (sum(cpu1.values()) - sum(cpu0.values())) / commands
        print(f"load: {args.venues} venues x {args.phones} phones, {args.heard_by} readings per round, "
              f"{args.rounds} rounds ({readings:,} readings), {args.primaries} primaries, "
              f"{args.buckets} phone bucket(s) per venue")
        print(f"memory: {per_phone:,.0f} B per heard phone ({mem_readings / phones:,.0f} B of it readings), "
              f"{mem / args.venues / 1e6:,.2f} MB per venue of {args.phones} phones (maps not included)")
        capacity = 1 / cpu_per_command
        print(f"ingest: {readings / ingest_s:,.0f} readings/s over {ingest_s:.2f} s (one client), "
              f"{commands / readings:.2f} commands per reading; primary CPU {cpu_per_command * 1e6:.2f} us per "
              f"command: one primary core takes ~{capacity:,.0f} commands/s")
        for node in nodes:
            done = ops1[node.name] - ops0[node.name]
            print(f"  primary {node.name}: {done:,} commands, {done / ingest_s:,.0f} ops/s during the ingest")
        total_phones = MALLS * PHONES_PER_MALL
        rate = total_phones * args.heard_by / REPORT_EVERY_S
        ops = rate * commands / readings
        print(f"arithmetic, {MALLS} malls x {PHONES_PER_MALL:,} phones heard every {REPORT_EVERY_S:g} s by "
              f"{args.heard_by} APs: {total_phones * per_phone / 1e9:,.1f} GB of hot state; {rate:,.0f} readings/s "
              f"= {ops:,.0f} commands/s = {ops / capacity:,.1f} primary cores at full load (plan for 2x headroom)")
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
