"""The tracker: positions every phone the APs hear, as its readings arrive.

Ingestion marks each client it stores readings for (RssiKeys.new_readings); the tracker takes those
marks in batches and positions each client (Locator.locate). That keeps the phone's position for the
portal, so a probe is one lookup (portal/captive/probe_state.py), and it feeds the footfall counts
with every phone heard, not only the phones that open the portal. `make run` runs it beside the web
server (`python -m portal track`); when it lags or is stopped, a probe positions its phone itself."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

import redis

from fingerprints.store import VenueStore
from portal.ingest.store import RssiKeys
from portal.leases import VenueLeases, serve_venues
from portal.tracking.locator import Locator

log = logging.getLogger(__name__)

# KEYS: new_readings, being_positioned; ARGV: batch size. A batch left taken (its tracker was killed
# mid-batch) goes back first, so no phone's mark is lost with a tracker; then the next batch is taken.
_TAKE = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SUNIONSTORE', KEYS[1], KEYS[1], KEYS[2])
  redis.call('DEL', KEYS[2])
end
local taken = redis.call('SPOP', KEYS[1], ARGV[1])
if #taken > 0 then redis.call('SADD', KEYS[2], unpack(taken)) end
return taken
"""


class Tracker:
    def __init__(self, db: redis.Redis, venues: VenueStore, locator: Locator, batch: int = 256,
                 leases: VenueLeases | None = None, sweeps: Sequence[Callable[[str, float], object]] = (),
                 sweep_every_s: float = 30.0) -> None:
        self.db = db
        self.venues = venues
        self.locator = locator
        self.batch = batch  # 256: two whole blocks of the positioner's batch path (WKNNPositioner.BATCH)
        self.leases = leases  # None: this tracker serves every venue (one tracker per store)
        # Called with (venue, now) every sweep_every_s per venue: what must happen without new readings
        # (the presence listener's "unseen for 20 min: left", footfall's visits idle for 10 min closed:
        # FootfallStore.close_idle). They run inside round(), between venues' positioning: none may wait
        # on the network (MomentsEngine.tick hands its webhooks to its own thread).
        self.sweeps = tuple(sweeps)
        self.sweep_every_s = sweep_every_s
        self._swept: dict[str, float] = {}
        self._take = db.register_script(_TAKE)

    def step(self, venue: str, now: float | None = None) -> int:
        """Position up to `batch` clients with new readings from each of the venue's phone buckets
        (core/storage.py; one unless the venue spreads its phones); returns how many were taken. A
        bucket's batch stays marked as taken in the store until it is done, so a tracker killed mid-batch
        loses no phone: the next step on the venue (this tracker's or the next lease holder's) puts the
        batch back first (tests/faults/test_faults_gunicorn.py kills one with SIGKILL)."""
        keys = RssiKeys(venue)
        taken, fault = 0, None
        for bucket in keys.buckets():
            try:
                taken += self._step_bucket(venue, keys, bucket, now)
            except redis.RedisError as exc:  # one bucket's shard down: the venue's other buckets go on
                fault = exc
        if fault is not None:
            raise fault
        return taken

    def _step_bucket(self, venue: str, keys: RssiKeys, bucket: int, now: float | None) -> int:
        new, taken = keys.new_readings(bucket), keys.being_positioned(bucket)
        clients = self._take(keys=[new, taken], args=[self.batch]) or []
        try:  # the whole batch in two round trips (reads, then writes), not two per phone
            self.locator.locate_many(venue, [raw.decode() for raw in clients], now)
        except redis.RedisError:
            self._put_back(new, taken, clients)
            raise
        if clients:
            self.db.delete(taken)
        return len(clients)

    def _put_back(self, new: str, taken: str, clients: list[bytes]) -> None:
        """Best effort after a store error: the next round retries them (their next reading would too);
        if this fails too, the taken batch is still in the store and the next step puts all of it back."""
        with contextlib.suppress(redis.RedisError), self.db.pipeline(transaction=True) as pipe:
            pipe.sadd(new, *clients)
            pipe.delete(taken)
            pipe.execute()

    def pending(self, venue: str) -> int:
        keys = RssiKeys(venue)
        return sum(int(self.db.scard(keys.new_readings(bucket))) for bucket in keys.buckets())

    def drain(self, venue: str) -> int:
        """Position every client with new readings now (the CLI's --once); returns how many."""
        total = 0
        while taken := self.step(venue):
            total += taken
        return total

    def round(self) -> tuple[int, int]:
        """One pass over the venues this tracker serves (its leases); (positioned, venues that failed).
        One venue's store fault (its shard down, failing over) does not stop the others."""
        return serve_venues(self.venues.venue_ids(), self.leases, self._step_and_sweep, "tracker")

    def _step_and_sweep(self, venue: str) -> int:
        taken = self.step(venue)
        self._sweep(venue)
        return taken

    def _sweep(self, venue: str) -> None:
        now = time.time()
        if self.sweeps and now - self._swept.get(venue, 0.0) >= self.sweep_every_s:
            self._swept[venue] = now
            for sweep in self.sweeps:
                sweep(venue, now)

    def run(self, stop: threading.Event, idle_s: float = 0.2, report_every_s: float = 60.0) -> None:
        """Until `stop` is set: every venue it serves, round after round; a store outage is waited out."""
        log.info("tracker: positioning phones as their readings arrive")
        done, reported = 0, time.monotonic()
        try:
            while not stop.is_set():
                try:
                    taken, failed = self.round()
                except redis.RedisError as exc:  # no venue list at all (none read yet)
                    log.error("tracker: store unavailable, retrying in 1 s: %s", exc)
                    stop.wait(1.0)
                    continue
                done += taken
                if time.monotonic() - reported >= report_every_s:
                    log.info("tracker: %d positions in the last %.0f s", done, time.monotonic() - reported)
                    done, reported = 0, time.monotonic()
                if not taken:
                    stop.wait(1.0 if failed else idle_s)
        finally:
            if self.leases is not None:
                self.leases.release_all()  # a clean stop hands its venues over at once
