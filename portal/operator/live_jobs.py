"""The quality report's live estimate, computed in the background and shared by every web worker.

`live_estimate` replays up to 300 simulated visits through the live path: a few seconds on the demo mall, 80-100 s
on a generated mall of 4,000-9,000 reference points (measured 2026-12-04 on this 2-core VM at a load average of
2-3: 79 s and 97 s; 150 visits took 20-40 s). Computed inside the request, the operator's first look at the quality page
waited that long with nothing on screen, and each gunicorn worker computed it again. Now the first request
starts it in a thread of its process (one process at a time per map version: a lease in the store), waits up to
`wait_s` for it, and otherwise answers with how far it has got; the page refreshes itself until the result is
in the store, where every worker finds it (JSON; a map version never changes, so neither does its estimate).

The computation runs in a child process of its own (`in_a_process`: spawned, so it shares no lock or thread state
of the worker), the worker's thread only waiting on a pipe for its progress and result. Run in the thread itself,
it held the worker's interpreter lock for its whole minute and more: a gthread worker's other threads, serving
shoppers' captive probes, each waited for the lock again after every store round trip.

A worker that dies mid-computation lets its lease lapse (LEASE_S, renewed as visits are done), and the next
request starts it again. An estimate that cannot be made (a map without a survey: CannotEstimate) is kept as its
reason; one that failed (a bug, logged) is kept as failed for FAILED_S, so no page polls it into a loop of
half-minute computations. The stored form is keyed by FORMAT (the estimate's fields and ESTIMATOR_REVISION) and
kept KEEP_S: a release that changes either computes anew instead of showing (or failing to read) the old one;
anything unreadable is dropped and computed again."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import redis

from core.memo import BoundedMemo
from core.storage import VenueKeys
from fingerprints.model import VenueMap
from fingerprints.quality import CannotEstimate, LiveAssumptions, LiveEstimate

log = logging.getLogger(__name__)

LEASE_S = 120  # the computing worker renews it every RENEW_EVERY_S; a dead one's lapses this long after
KEEP_S = 7 * 86400  # a version's estimate (a re-computation costs a minute or two of one worker)
FAILED_S = 600  # a failed computation is tried again after this
RENEW_EVERY_S = 5.0
# Bump when the estimate's numbers change for the same map (the live path or the simulation changed), so the
# stored ones are not shown for KEEP_S after a release. The fields' names are in FORMAT by themselves.
# 2: the report schedule drawn per visit, 300 visits (2026-12-03); 3: partial matches near the phone's AP (2026-12-04);
# 4: "near" is where that AP is among the 2 strongest, not 4 (2026-12-04); 5: a partial match near its AP searched
# ±5 dB for the phone's offset (2026-12-04); 6: the APs a fingerprint does not list heard now and then, from each
# AP's fall-off fitted to the survey (2026-12-05); 7: a phone's offset measured against those APs estimated below
# the survey's hearing (2026-12-05); 8: once the phones are the venue's counted ones, what it cannot know says they read
# less varied than they are (2026-12-08)
ESTIMATOR_REVISION = 8
# Decoded estimates per (venue, map version, assumptions), for the whole process: a version never changes (the JSON of a
# large mall is ~1 MB: decoded once, not on every page)
ESTIMATES = BoundedMemo(16)


@functools.cache
def _fields_digest() -> str:
    names = [f.name for cls in (LiveEstimate, LiveAssumptions) for f in dataclasses.fields(cls)]
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:8]


def _format() -> str:
    return f"r{ESTIMATOR_REVISION}-{_fields_digest()}"


@dataclass(frozen=True)
class Computing:
    """The estimate is under way: `done` of `total` simulated visits (0 of 0 while it is setting up)."""

    done: int
    total: int


@dataclass(frozen=True)
class Failed:
    """The last computation failed (the log says why); tried again `retry_in_s` from now."""

    retry_in_s: int


def in_a_process(compute: Callable[..., LiveEstimate]) -> Callable[..., LiveEstimate]:
    """`compute(venue_map, assumptions=..., progress=...)` run in a spawned child process (compute: a module-level
    function, as the child imports it by name), its progress and its outcome sent back over a pipe: the same
    result, the same CannotEstimate, and any other failure as a RuntimeError carrying the child's traceback."""

    def run(venue_map: VenueMap, assumptions: LiveAssumptions | None = None,
            progress: Callable[[int, int], None] | None = None) -> LiveEstimate:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_compute_and_send, args=(compute, venue_map, assumptions, send), daemon=True,
                                name=f"live-estimate-{venue_map.id}-{venue_map.version}")
        child.start()
        send.close()  # the child holds the only sending end: its exit ends `recv` (EOFError)
        try:
            return _outcome(receive, child, progress)
        finally:
            receive.close()
            child.join(timeout=10.0)
            if child.is_alive():  # it sent its outcome and hangs on exit: nothing of it is needed any more
                child.kill()
                child.join()

    run.__wrapped__ = compute  # what it runs (as functools.wraps names it)
    return run


def _outcome(receive, child, progress: Callable[[int, int], None] | None) -> LiveEstimate:
    """The child's messages until its outcome: ("progress", done, total), then ("done", estimate), ("cannot",
    reason) or ("failed", traceback)."""
    while True:
        try:
            message = receive.recv()
        except EOFError:
            child.join(timeout=10.0)
            raise RuntimeError(f"the live estimate's process ended without a result (exit code {child.exitcode})"
                               ) from None
        kind = message[0]
        if kind == "progress":
            if progress is not None:
                progress(*message[1:])
        elif kind == "done":
            return message[1]
        elif kind == "cannot":
            raise CannotEstimate(message[1])
        else:
            raise RuntimeError(f"the live estimate's process failed:\n{message[1]}")


def _compute_and_send(compute: Callable[..., LiveEstimate], venue_map: VenueMap,
                      assumptions: LiveAssumptions | None, send) -> None:
    """The child process: compute, telling the parent each visit done, then the outcome. A parent gone (its pipe
    broken) ends the child with the error."""
    try:
        outcome = ("done", compute(venue_map, assumptions=assumptions,
                                   progress=lambda done, total: send.send(("progress", done, total))))
    except CannotEstimate as exc:
        outcome = ("cannot", str(exc))
    except Exception:  # noqa: BLE001 - any failure goes to the parent, which logs it and keeps it as failed
        outcome = ("failed", traceback.format_exc())
    send.send(outcome)
    send.close()


def basis(assumptions: LiveAssumptions | None) -> str:
    """What an estimate rests on besides its map version: "" for the default assumptions, else a digest of the
    assumed figures (how many phones measured them left out: more phones with the same rounded mix change
    nothing to compute)."""
    if assumptions is None or assumptions == LiveAssumptions():
        return ""
    figures = dataclasses.asdict(dataclasses.replace(assumptions, phones_measured=0))
    return hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:10]


class EstimateKeys(VenueKeys):
    def result(self, version: int, on: str = "") -> str:
        """STRING: the outcome for the map version under the assumptions `on` (`basis`) as JSON: {"estimate":
        ...} or {"error": reason} (KEEP_S), or {"failed": true} (FAILED_S)."""
        return self.key("live-estimate", _format(), str(version), *([on] if on else []))

    def lease(self, version: int, on: str = "") -> str:
        """HASH owner, done, total: the worker computing it (LEASE_S, renewed as it goes)."""
        return self.result(version, on) + ":lease"


def encode(estimate: LiveEstimate) -> str:
    return json.dumps({"estimate": dataclasses.asdict(estimate)}, allow_nan=True)


def decode(raw: bytes | str) -> LiveEstimate:
    """From `encode`'s JSON: the dataclasses back, tuples where the estimate keeps tuples. KeyError, TypeError or
    ValueError when it is not one."""
    return _estimate(json.loads(raw))


def _estimate(stored: dict) -> LiveEstimate:
    """`decode` of the JSON already parsed."""
    fields = dict(stored["estimate"])
    fields["assumptions"] = LiveAssumptions(**fields["assumptions"])
    for name in ("by_kind", "by_zone"):
        fields[name] = {k: tuple(v) for k, v in fields[name].items()}
    fields["shop_rates"] = tuple(fields["shop_rates"])
    fields["group_rates"] = tuple(fields["group_rates"])
    fields["errors_at"] = [tuple(row) for row in fields["errors_at"]]
    return LiveEstimate(**fields)


# KEYS: the lease, the result. ARGV: owner, ttl s. Nothing when the result is there (0); else take the lease when
# free (done=0, total=0), renew it when ours: 1 when ours.
_TAKE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
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
    """Per venue map version and set of assumptions: its live estimate, or how far the computation has got
    (`Computing`), or that it failed (`Failed`); CannotEstimate when the map cannot be estimated."""

    def __init__(self, db: redis.Redis, compute: Callable[..., LiveEstimate], wait_s: float = 5.0) -> None:
        self.db = db
        self.compute = compute  # live_estimate(venue_map, assumptions=..., progress=...)
        self.wait_s = wait_s
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"  # this process (forked workers differ by pid)
        self._threads: dict[tuple[str, int, str], threading.Thread] = {}
        self._lock = threading.Lock()
        self._take = db.register_script(_TAKE)
        self._finish = db.register_script(_FINISH)

    def get(self, venue_map: VenueMap, wait_s: float | None = None, assumptions: LiveAssumptions | None = None
            ) -> LiveEstimate | Computing | Failed:
        """The estimate under `assumptions` (default: LiveAssumptions()), else how far it has got after waiting up
        to `wait_s` (default: this instance's) for it, or that it failed; starts it when no worker is computing it.
        CannotEstimate: its reason."""
        job = _Job(venue_map, assumptions)
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        while True:
            found = self._found(job)
            if found is not None:
                return found
            self._start_unless_running(job)
            left = deadline - time.monotonic()
            if left <= 0:
                return self._progress(job)
            thread = self._threads.get(job.key)
            if thread is not None:
                thread.join(timeout=min(left, 1.0))
            else:  # another process computes it: look again soon
                time.sleep(min(left, 0.5))

    def _found(self, job: _Job) -> LiveEstimate | Failed | None:
        """The outcome when there is one (this process's copy of an estimate, else the store's)."""
        venue_map, result = job.venue_map, job.result
        if (kept := ESTIMATES.peek(job.key)) is not None:
            return kept
        raw = self.db.get(result)
        if raw is None:
            return None
        try:
            fields = json.loads(raw)
            if "error" in fields:
                raise CannotEstimate(str(fields["error"]))
            if fields.get("failed"):
                return Failed(max(0, int(self.db.ttl(result))))
            estimate = _estimate(fields)  # parsed once: a large mall's is ~1 MB
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, CannotEstimate):
                raise
            log.warning("live estimate of venue %s map v%s unreadable (%s): computed anew", venue_map.id,
                        venue_map.version, exc.__class__.__name__)
            self.db.delete(result)
            return None
        ESTIMATES.put(job.key, estimate)
        return estimate

    def _progress(self, job: _Job) -> Computing:
        done, total = self.db.hmget(job.lease, "done", "total")
        return Computing(int(done or 0), int(total or 0))

    def _start_unless_running(self, job: _Job) -> None:
        with self._lock:
            running = self._threads.get(job.key)
            if running is not None and running.is_alive():
                return
            if not self._take(keys=[job.lease, job.result], args=[self.owner, LEASE_S]):
                return  # another worker computes it, or it is done
            thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                      name=f"live-estimate-{job.venue_map.id}-{job.venue_map.version}")
            self._threads[job.key] = thread
            thread.start()

    def _run(self, job: _Job) -> None:
        venue_map, lease, result = job.venue_map, job.lease, job.result
        renewed = [0.0]  # the first report renews the lease at once

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
            try:
                estimate = self.compute(venue_map, assumptions=job.assumptions, progress=progress)
                outcome, keep_s = encode(estimate), KEEP_S
            except CannotEstimate as exc:  # the map cannot be estimated (no survey, no surveyed dwell zone): why
                outcome, keep_s = json.dumps({"error": str(exc)}), KEEP_S
            except Exception:  # noqa: BLE001 - a bug: logged, and kept as failed for a while (no retry loop)
                log.exception("live estimate of venue %s map v%s failed", venue_map.id, venue_map.version)
                outcome, keep_s = json.dumps({"failed": True}), FAILED_S
            self._finish(keys=[lease, result], args=[self.owner, outcome, keep_s])
        except redis.RedisError as exc:
            log.warning("live estimate of venue %s map v%s not kept: %s", venue_map.id, venue_map.version,
                        exc.__class__.__name__)
        finally:  # only now: until the outcome is in the store, this thread answers for it (no second run)
            with self._lock:
                self._threads.pop(job.key, None)


class _Job:
    """One estimate to find or make: a map version under a set of assumptions (None: the defaults)."""

    def __init__(self, venue_map: VenueMap, assumptions: LiveAssumptions | None) -> None:
        self.venue_map, self.assumptions = venue_map, assumptions
        on = basis(assumptions)
        self.key = (venue_map.id, venue_map.version, on)
        keys = EstimateKeys(venue_map.id)
        self.result, self.lease = keys.result(venue_map.version, on), keys.lease(venue_map.version, on)
