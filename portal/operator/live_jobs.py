"""The quality report's live estimate, computed in the background and shared by every web worker.

`live_estimate` replays ~150 simulated visits through the live path: a few seconds on the demo mall, 20-40 s on
a generated mall of 4,000-9,000 reference points (measured 2026-12-03 on this 2-core VM, 18.7 s and 41.4 s, the
second at a load average near 4). Computed inside the request, the operator's first look at the quality page
waited that long with nothing on screen, and each gunicorn worker computed it again. Now the first request
starts it in a thread of its process (one process at a time per map version: a lease in the store), waits up to
`wait_s` for it, and otherwise answers with how far it has got; the page refreshes itself until the result is
in the store, where every worker finds it (JSON; a map version never changes, so neither does its estimate).

A worker that dies mid-computation lets its lease lapse (LEASE_S, renewed as visits are done), and the next
request starts it again. An estimate that cannot be made (a map without a survey) is kept as its reason."""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from core.memo import BoundedMemo
from core.storage import VenueKeys
from fingerprints.model import VenueMap

if TYPE_CHECKING:
    from fingerprints.quality import LiveEstimate

log = logging.getLogger(__name__)

LEASE_S = 60  # the computing worker renews it with every few visits; a dead one's lapses this long after
KEEP_S = 30 * 86400  # a version's estimate (a venue's map versions are kept; a re-computation costs half a minute)
RENEW_EVERY_S = 5.0
# Decoded estimates per (venue, map version), for the whole process: a version never changes (the JSON of a
# large mall is ~1 MB: decoded once, not on every page)
ESTIMATES = BoundedMemo(16)


@dataclass(frozen=True)
class Computing:
    """The estimate is under way: `done` of `total` simulated visits (0 of 0 while it is setting up)."""

    done: int
    total: int


class EstimateKeys(VenueKeys):
    def result(self, version: int) -> str:
        """STRING: the map version's live estimate as JSON, or {"error": reason} (KEEP_S)."""
        return self.key("live-estimate", str(version))

    def lease(self, version: int) -> str:
        """HASH owner, done, total: the worker computing it (LEASE_S, renewed as it goes)."""
        return self.key("live-estimate", str(version), "lease")


def encode(estimate: LiveEstimate) -> str:
    return json.dumps(dataclasses.asdict(estimate), allow_nan=True)


def decode(raw: bytes | str) -> LiveEstimate:
    """From `encode`'s JSON: the dataclasses back, tuples where the estimate keeps tuples."""
    from fingerprints.quality import LiveAssumptions, LiveEstimate  # lazy: the report's libraries when asked for

    fields = json.loads(raw)
    fields["assumptions"] = LiveAssumptions(**fields["assumptions"])
    for name in ("by_kind", "by_zone"):
        fields[name] = {k: tuple(v) for k, v in fields[name].items()}
    fields["shop_rates"] = tuple(fields["shop_rates"])
    fields["errors_at"] = [tuple(row) for row in fields["errors_at"]]
    return LiveEstimate(**fields)


# KEYS: the lease. ARGV: owner, ttl s. Take it when free (done=0, total=0), renew it when ours; 1 when ours.
_TAKE = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
if not owner then redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'done', 0, 'total', 0) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: the lease, the result. ARGV: owner, result, keep s. The result written, the lease given back, if ours.
_FINISH = """
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class LiveEstimates:
    """Per venue map version: its live estimate, or how far the computation has got (`Computing`)."""

    def __init__(self, db: redis.Redis, compute: Callable[..., LiveEstimate], wait_s: float = 5.0) -> None:
        self.db = db
        self.compute = compute  # live_estimate(venue_map, progress=...)
        self.wait_s = wait_s
        self.owner = secrets.token_hex(8)  # this process
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self._failed: dict[tuple[str, int], float] = {}  # a computation that failed (a bug): not again before
        #                                                   its lease lapses, so a page's wait is no retry loop
        self._lock = threading.Lock()
        self._take = db.register_script(_TAKE)
        self._finish = db.register_script(_FINISH)

    def get(self, venue_map: VenueMap, wait_s: float | None = None) -> LiveEstimate | Computing:
        """The estimate (ValueError when it cannot be made: its reason), else how far it has got after waiting
        up to `wait_s` (default: this instance's) for it; starts it when no worker is computing it."""
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        while True:
            found = self._found(venue_map)
            if found is not None:
                return found
            self._start_unless_running(venue_map)
            left = deadline - time.monotonic()
            if left <= 0:
                return self._progress(venue_map)
            thread = self._threads.get((venue_map.id, venue_map.version))
            if thread is not None:
                thread.join(timeout=min(left, 1.0))
            else:  # another process computes it: look again soon
                time.sleep(min(left, 0.5))

    def _found(self, venue_map: VenueMap) -> LiveEstimate | None:
        """The estimate when made (this process's copy, else the store's); ValueError: why it cannot be made."""
        key = (venue_map.id, venue_map.version)
        if (kept := ESTIMATES.peek(key)) is not None:
            return kept
        raw = self.db.get(EstimateKeys(venue_map.id).result(venue_map.version))
        if raw is None:
            return None
        fields = json.loads(raw)
        if set(fields) == {"error"}:
            raise ValueError(fields["error"])
        estimate = decode(raw)
        ESTIMATES.put(key, estimate)
        return estimate

    def _progress(self, venue_map: VenueMap) -> Computing:
        done, total = self.db.hmget(EstimateKeys(venue_map.id).lease(venue_map.version), "done", "total")
        return Computing(int(done or 0), int(total or 0))

    def _start_unless_running(self, venue_map: VenueMap) -> None:
        key = (venue_map.id, venue_map.version)
        with self._lock:
            running = self._threads.get(key)
            if running is not None and running.is_alive():
                return
            now = time.monotonic()
            self._failed = {k: t for k, t in self._failed.items() if now - t < LEASE_S}
            if key in self._failed:
                return
            keys = EstimateKeys(venue_map.id)
            if not self._take(keys=[keys.lease(venue_map.version)], args=[self.owner, LEASE_S]):
                return  # another worker computes it
            thread = threading.Thread(target=self._run, args=(venue_map,), daemon=True,
                                      name=f"live-estimate-{venue_map.id}-{venue_map.version}")
            self._threads[key] = thread
            thread.start()

    def _run(self, venue_map: VenueMap) -> None:
        keys = EstimateKeys(venue_map.id)
        lease, renewed = keys.lease(venue_map.version), [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - renewed[0] >= RENEW_EVERY_S or done == total:
                renewed[0] = now
                try:  # progress is for the page only: a store fault here must not lose the computation
                    with self.db.pipeline(transaction=True) as pipe:
                        pipe.hset(lease, mapping={"done": done, "total": total})
                        pipe.expire(lease, LEASE_S)
                        pipe.execute()
                except redis.RedisError:
                    pass

        try:
            result = encode(self.compute(venue_map, progress=progress))
        except ValueError as exc:  # the map cannot be estimated (no survey, no surveyed dwell zone): say why
            result = json.dumps({"error": str(exc)})
        except Exception:  # noqa: BLE001 - a bug: logged; once the lease lapses a request tries again
            log.exception("live estimate of venue %s map v%s failed", venue_map.id, venue_map.version)
            with self._lock:
                self._failed[(venue_map.id, venue_map.version)] = time.monotonic()
            return
        finally:
            with self._lock:
                self._threads.pop((venue_map.id, venue_map.version), None)
        try:
            self._finish(keys=[lease, keys.result(venue_map.version)], args=[self.owner, result, KEEP_S])
        except redis.RedisError as exc:
            log.warning("live estimate of venue %s map v%s not kept: %s", venue_map.id, venue_map.version,
                        exc.__class__.__name__)
