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
from concurrent.futures import Future, ThreadPoolExecutor

import redis

from core.store_health import worker_breakers
from fingerprints.store import VenueStore
from portal.ingest.store import RssiKeys
from portal.leases import Breakers, VenueLeases, serve_venues
from portal.tracking.locator import BatchReads, Locator, Pipeline

log = logging.getLogger(__name__)

# KEYS: new_readings, being_positioned (the lane taken into), being_positioned (the other lane); ARGV: batch size, 1
# while the other lane holds this tracker's batch in flight (else 0). A batch left taken (its tracker was killed
# mid-batch) goes back first, so no phone's mark is lost with a tracker: this lane's always, the other's unless it is
# in flight. A phone of the batch in flight that has new readings again stays marked for a later batch: its motion
# state and kept position are written only once that batch is done, and reading them before would step the motion
# model from the state before (its batch deletes its lane after its writes).
_TAKE = """
local lanes = ARGV[2] == '1' and 2 or 3
for lane = 2, lanes do
  if redis.call('EXISTS', KEYS[lane]) == 1 then
    redis.call('SUNIONSTORE', KEYS[1], KEYS[1], KEYS[lane])
    redis.call('DEL', KEYS[lane])
  end
end
local popped = redis.call('SPOP', KEYS[1], ARGV[1])
local taken, busy = {}, {}
for _, client in ipairs(popped) do
  if lanes == 2 and redis.call('SISMEMBER', KEYS[3], client) == 1 then busy[#busy + 1] = client
  else taken[#taken + 1] = client end
end
if #busy > 0 then redis.call('SADD', KEYS[1], unpack(busy)) end
if #taken > 0 then redis.call('SADD', KEYS[2], unpack(taken)) end
return taken
"""


class Tracker:
    def __init__(self, db: redis.Redis, venues: VenueStore, locator: Locator, batch: int = 256,
                 leases: VenueLeases | None = None, sweeps: Sequence[Callable[[str, float], object]] = (),
                 sweep_every_s: float = 30.0, batches_per_step: int = 4, breakers: Breakers | None = None) -> None:
        self.db = db
        self.venues = venues
        self.locator = locator
        self.batch = batch  # 256: two whole blocks of the positioner's batch path (WKNNPositioner.BATCH)
        # At most this many batches a step on one venue, shared between its phone buckets (one each at least); after
        # a full batch the bucket's next one is taken, read and prepared in the reads thread while this one is
        # positioned (the store's work, the wait for it and the readings' weighing off the tracker's path: README
        # *Tracking*). 4 x 256 phones keeps a step on one venue under a second or so, so that the venues a tracker
        # serves take turns (`round`) and its leases (renewed once a round, portal/leases.py) do not lapse; a venue
        # spread over 8 buckets (a cluster) takes one batch from each, as before the reads thread, without reading
        # ahead.
        self.batches_per_step = batches_per_step
        self.leases = leases  # None: this tracker serves every venue (one tracker per store)
        # A venue whose store fails is skipped while its breaker is open (`round`): one hung shard's venues cost a
        # round their store timeout once, not every round, and the leases of the others do not lapse meanwhile
        self.breakers = breakers if breakers is not None else worker_breakers(db)
        # Called with (venue, now) every sweep_every_s per venue: what must happen without new readings
        # (the presence listener's "unseen for 20 min: left", footfall's visits idle for 10 min closed:
        # FootfallStore.close_idle). They run inside round(), between venues' positioning: none may wait
        # on the network (MomentsEngine.tick hands its webhooks to its own thread).
        self.sweeps = tuple(sweeps)
        self.sweep_every_s = sweep_every_s
        self._swept: dict[str, float] = {}
        self._take = db.register_script(_TAKE)
        self._reads: ThreadPoolExecutor | None = None  # the reads thread, started by the first batch read ahead

    def step(self, venue: str, now: float | None = None) -> int:
        """Position the clients with new readings from each of the venue's phone buckets (core/storage.py; one
        unless the venue spreads its phones), up to `batches_per_step` batches of `batch` each; returns how many
        were taken. A batch stays marked as taken in the store (its lane) until it is done, so a tracker killed
        mid-batch loses no phone: the next step on the venue (this tracker's or the next lease holder's) puts it
        back first (tests/faults/test_faults_gunicorn.py kills one with SIGKILL). `now`: the time every batch is
        read and positioned for (None: the clock's when each is read)."""
        keys = RssiKeys(venue)
        taken, fault = 0, None
        per_bucket = max(1, self.batches_per_step // len(keys.buckets()))
        for bucket in keys.buckets():
            try:
                taken += self._step_bucket(venue, keys, bucket, now, per_bucket)
            except redis.RedisError as exc:  # one bucket's shard down: the venue's other buckets go on
                fault = exc
        if fault is not None:
            raise fault
        return taken

    def _step_bucket(self, venue: str, keys: RssiKeys, bucket: int, now: float | None, batches: int) -> int:
        """Up to `batches` of the bucket's batches, each in two round trips (reads, then writes), not two per phone.
        After a full batch the next is taken, into the other lane, read and prepared (`Locator.read_many`) in the reads
        thread while this one is positioned, and this one's writes go there after it (in the thread's order: before
        the take of the batch after next into this lane). A batch's lane is deleted after its writes, so that a phone
        heard again while its batch is in flight is taken only once its motion state is written (`_TAKE`). The step's
        last batch is written here."""
        lanes = (keys.being_positioned(bucket), keys.being_positioned(bucket, lane=1))
        new = keys.new_readings(bucket)
        batch = self._take_and_read(venue, new, lanes, 0, now, other_in_flight=False)
        done = 0
        following: Future | None = None  # the next batch, being taken and read (into following_lane)
        following_lane = lanes[1]
        writing: Future | None = None  # the batch before's writes
        try:
            for n in range(batches):
                if batch is None:
                    break
                lane = lanes[n % 2]
                if len(batch.clients) == self.batch and n + 1 < batches:
                    following_lane = lanes[(n + 1) % 2]
                    following = self._reads_thread().submit(self._take_and_read, venue, new, lanes, (n + 1) % 2, now,
                                                            other_in_flight=True)
                try:
                    _, writes = self.locator.position_batch(batch)
                    if writing is not None:
                        writing.result()  # a store error there (that batch put itself back) stops the step
                except redis.RedisError:
                    self._put_back(new, lane, batch.clients)
                    raise
                if following is not None:
                    writing = self._reads_thread().submit(self._write, writes, new, lane, batch.clients)
                else:  # nothing to position meanwhile
                    writing = None
                    self._write(writes, new, lane, batch.clients)
                done += len(batch.clients)
                batch, following = (following.result() if following is not None else None), None
            if writing is not None:
                writing.result()
        except BaseException:
            self._abandon(following, following_lane, writing, new)
            raise
        return done

    def _take_and_read(self, venue: str, new: str, lanes: tuple[str, str], lane: int, now: float | None,
                       other_in_flight: bool) -> BatchReads | None:
        """Take up to `batch` marked clients into `lanes[lane]`, read and prepare them (`Locator.read_many`); None when
        none is marked. A read that fails puts the batch back."""
        clients = [raw.decode() for raw in self._take(keys=[new, lanes[lane], lanes[1 - lane]],
                                                       args=[self.batch, int(other_in_flight)]) or []]
        if not clients:
            return None
        try:
            return self.locator.read_many(venue, clients, now)
        except redis.RedisError:
            self._put_back(new, lanes[lane], clients)
            raise

    def _write(self, writes: Pipeline | None, new: str, lane: str, clients: list[str]) -> None:
        """A batch's writes, then its lane gone (a take may now have its phones again); after a store error the batch
        goes back to the marked ones (positioned again: its writes may have been made in part)."""
        try:
            if writes is not None:
                writes.execute()
            self.db.delete(lane)
        except redis.RedisError:
            self._put_back(new, lane, clients)
            raise

    def _abandon(self, following: Future | None, lane: str, writing: Future | None, new: str) -> None:
        """After a failure in the step: what runs in the reads thread waited for, so that none of it runs beside the
        next step's takes, and the batch being read, once read, back to the marked ones (a failed read or write put its
        own batch back; a batch that failed otherwise stays in its lane, which the next step's first take puts back)."""
        with contextlib.suppress(Exception):
            if writing is not None:
                writing.result()
        with contextlib.suppress(Exception):
            if following is not None and (read := following.result()) is not None:
                self._put_back(new, lane, read.clients)

    def _reads_thread(self) -> ThreadPoolExecutor:
        if self._reads is None:
            self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-reads")
        return self._reads

    def close(self) -> None:
        """Stop the reads thread (a later step starts it again)."""
        if self._reads is not None:
            self._reads.shutdown(wait=True)
            self._reads = None

    def _put_back(self, new: str, taken: str, clients: list[str]) -> None:
        """Best effort after a store error: the next round retries them (their next reading would too);
        if this fails too, the taken batch is still in the store and the next step puts all of it back."""
        with contextlib.suppress(redis.RedisError), self.db.pipeline(transaction=True) as pipe:
            pipe.sadd(new, *clients)
            pipe.delete(taken)
            pipe.execute()

    def pending(self, venue: str) -> int:
        keys = RssiKeys(venue)
        return sum(int(self.db.scard(keys.new_readings(bucket))) for bucket in keys.buckets())

    def drain(self, venue: str, now: float | None = None) -> int:
        """Position every client with new readings now (the CLI's --once); returns how many. `now`: as `step`'s."""
        total = 0
        while taken := self.step(venue, now):
            total += taken
        return total

    def round(self) -> tuple[int, int]:
        """One pass over the venues this tracker serves (its leases); (positioned, venues that failed).
        One venue's store fault (its shard down, failing over) does not stop the others; a venue whose breaker is
        open is skipped (portal/leases.py serve_venues)."""
        return serve_venues(self.venues.venue_ids(), self.leases, self._step_and_sweep, "tracker",
                            breakers=self.breakers)

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
            self.close()
            if self.leases is not None:
                self.leases.release_all()  # a clean stop hands its venues over at once
