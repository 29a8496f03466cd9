"""Health checks for load balancers and monitoring, answered in plain WSGI in front of everything else (the outermost
middleware: portal/bootstrap.py).

- `GET /healthz`, liveness: this process answers, "ok". It asks nothing of the store, so a store outage never takes
  every web host out of a load balancer's rotation, nor makes a supervisor restart them.
- `GET /readyz`, readiness: 200 while the store answers a PING within STORE_TIMEOUT_S (all the check's store calls
  together: its own StoreBudget), else 503, the body naming what is wrong (`store: timeout`, `store: unreachable`).
  The body also reports the background workers' heartbeats (portal/leases.py: every tracker, notification worker and
  payments sweeper says it is alive in its kind's registry each round): per kind `fresh` (one did within its lease
  time), `stale` (the newest is older: its workers stopped without a clean exit) or `absent` (none: never started,
  stopped cleanly, or no venue to serve yet), with the newest one's age and the count of fresh ones. A worker kind
  without a fresh heartbeat does not make a web host unready: the web serves without a tracker on its host, and a
  load balancer taking every web host out over a stopped tracker would turn a positioning outage into a total one.
  `/readyz?strict=1` answers 503 for that too: for alerting, not for a load balancer.

In front of the probe lane and Flask: no landing counted, no abuse budget charged, no session, shopper, CSRF or store
breaker asked (an open breaker must not fail liveness), and a load balancer's Host header that is not the portal's is
not taken for a hijacked request. Anyone can call them: they tell states, ages and counts, never a worker's name, a
venue or the store's address."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import redis
from flask import Flask

from core.logredact import LOGGED_PATH_HEADER
from core.settings import Settings
from core.storage import LUA_STORE_CLOCK, Store, StoreBudget, store_budget
from core.store_health import STORE_ERRORS
from portal.errors import raw_json_error
from portal.leases import VenueLeases
from portal.payments.worker import sweeper_leases

HEALTHZ = "/healthz"
READYZ = "/readyz"
READY_CACHE_S = 1.0  # a readiness check is reused this long (per process)
_clock = time.monotonic  # the reuse's clock (a test pins it)
NO_CACHE = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body


@dataclass(frozen=True)
class Heartbeat:
    state: str  # fresh | stale | absent | unknown (the store did not answer)
    age_s: float | None  # of the kind's newest heartbeat
    live: int  # workers with a fresh one


UNKNOWN = Heartbeat("unknown", None, 0)


def worker_registries(db: Store, settings: Settings) -> dict[str, VenueLeases]:
    """Each background worker kind's lease registry: where its heartbeats go and how long one counts as alive. The
    entry points (portal/__main__.py) take theirs from here, so the check reads what the workers write."""
    return {"tracker": VenueLeases(db, ttl_s=settings.tracker_lease_s),
            "notify": VenueLeases(db, kind="notify"),
            "payments": sweeper_leases(db)}


# KEYS: the worker kinds' registries (one slot: `{_global}`); ARGV: each one's lease time in ms. Per kind {the newest
# heartbeat's age in s or nil, how many are fresh}, by the store's clock: the workers score their heartbeats by it
# (portal/leases.py), and this host's clock may differ from the store's.
_HEARTBEATS = LUA_STORE_CLOCK + """
local now = store_now(nil)
local out = {}
for i, key in ipairs(KEYS) do
  local newest = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  local live = redis.call('ZCOUNT', key, string.format('%.6f', now - tonumber(ARGV[i]) / 1000), '+inf')
  out[i] = {newest[2] and string.format('%.1f', now - tonumber(newest[2])) or false, live}
end
return out
"""


class WorkerHeartbeats:
    """The background workers' heartbeats, read (never written) from their lease registries."""

    def __init__(self, db: Store, registries: Mapping[str, VenueLeases]) -> None:
        self.registries = dict(registries)
        self._read = db.register_script(_HEARTBEATS)

    def read(self) -> dict[str, Heartbeat]:
        """Each kind's newest heartbeat and its fresh workers: one round trip."""
        registries = self.registries.values()
        replies = self._read(keys=[r.members_key for r in registries], args=[r.ttl_ms for r in registries])
        return {kind: heartbeat(age, live) for kind, (age, live) in zip(self.registries, replies, strict=True)}


def heartbeat(age: bytes | None, live: int) -> Heartbeat:
    if age is None:
        return Heartbeat("absent", None, 0)
    return Heartbeat("fresh" if live else "stale", max(0.0, float(age)), int(live))


def store_fault(exc: BaseException) -> str:
    """What a failed check says of the store (a spent StoreBudget is a timeout)."""
    if isinstance(exc, redis.TimeoutError):
        return "timeout"
    return "unreachable" if isinstance(exc, redis.ConnectionError | OSError) else "error"


class HealthLane:
    """WSGI middleware: answers /healthz and /readyz, passes everything else on."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        svc = app.extensions["mallportal"]
        self.wsgi_app = wsgi_app
        self.db = svc.db
        self.timeout_s = svc.settings.store_timeout_s
        self.heartbeats = WorkerHeartbeats(svc.db, worker_registries(svc.db, svc.settings))
        # The last check's (when, store, workers): anyone may call /readyz, so a flood of it costs this process at
        # most one check (two store calls) a second, however many arrive.
        self._last: tuple[float, str, dict[str, Heartbeat]] | None = None
        self._checking = threading.Lock()  # one check at a time: the requests that come meanwhile take its answer

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in (HEALTHZ, READYZ):
            return self.wsgi_app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, headers, body = raw_json_error("405 Method Not Allowed", "health checks are GET requests",
                                                   (("Allow", "GET, HEAD"),))
        elif path == HEALTHZ:
            status, headers, body = "200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                               ("Content-Length", "3")], b"ok\n"
        else:
            status, headers, body = self.readiness(strict="strict=1" in environ.get("QUERY_STRING", "").split("&"))
        start_response(status, [*headers, *NO_CACHE, (LOGGED_PATH_HEADER, path)])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def readiness(self, strict: bool) -> Answer:
        """200 while the store answers (and, `strict`, every worker kind has a fresh heartbeat), else 503."""
        store, workers = self._checked()
        problems = [] if store == "ok" else [f"store: {store}"]
        if strict:
            problems += [f"{kind}: {beat.state}" for kind, beat in workers.items() if beat.state in ("stale", "absent")]
        body = json.dumps({"ready": not problems, "problems": problems, "store": store,
                           "workers": {kind: asdict(beat) for kind, beat in workers.items()}}).encode()
        return ("503 Service Unavailable" if problems else "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)

    def _checked(self) -> tuple[str, dict[str, Heartbeat]]:
        """The store's state and the workers' heartbeats, checked at most once every READY_CACHE_S, one check at a
        time (a slow store must not hold every thread in its own check)."""
        if (last := self._fresh()) is not None:
            return last
        with self._checking:
            if (last := self._fresh()) is not None:  # checked by another thread while this one waited
                return last
            store, workers = "ok", dict.fromkeys(self.heartbeats.registries, UNKNOWN)
            try:
                with store_budget(StoreBudget(self.timeout_s)):  # the whole check within STORE_TIMEOUT_S
                    self.db.ping()
                    workers = self.heartbeats.read()
            except STORE_ERRORS as exc:
                store = store_fault(exc)
            self._last = (_clock(), store, workers)
            return store, workers

    def _fresh(self) -> tuple[str, dict[str, Heartbeat]] | None:
        last = self._last  # read once: another thread may replace it
        if last is not None and _clock() - last[0] < READY_CACHE_S:
            return last[1], last[2]
        return None
