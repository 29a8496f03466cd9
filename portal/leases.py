"""Venue leases: how several trackers (or any per-venue background worker) divide the venues between
them through the store. Each worker says it is alive (a heartbeat), takes at most its fair share of
the venues (venues / live workers, rounded up) and renews what it holds; a venue whose holder stops
renewing is free again after `ttl_s`, so adding a worker adds capacity and losing one loses nothing.

A lease is one key in the venue's own slot (`{venue}`), taken and renewed in one Lua call; the list of
live workers is in the `{_global}` slot, read once per round, and when it cannot be read the worker
keeps the leases it holds (and takes free ones) instead of stopping."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
from collections.abc import Callable

import redis

from core.storage import GLOBAL_TAG, LUA_STORE_CLOCK, Store, VenueKeys
from core.store_health import StoreBreaker, VenueBreakers, is_store_fault

# KEYS[1] lease; ARGV: owner, ttl in ms. 1 when the caller holds it afterwards.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
# KEYS[1] the live workers (scored with their last heartbeat, epoch s by the store's clock); ARGV: owner, ttl in ms.
# Returns how many are alive. The store's clock, not the caller's: each host's own clock would score its heartbeat
# ahead or behind the others' (a host running 2 min fast would stay "alive" 2 min after it stopped).
_HEARTBEAT = LUA_STORE_CLOCK + """
local now = store_now(nil)
redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - tonumber(ARGV[2]) / 1000))
return redis.call('ZCARD', KEYS[1])
"""
# KEYS[1] lease; ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


log = logging.getLogger(__name__)

Breakers = StoreBreaker | VenueBreakers  # `.for_venue(venue)`: the one store's breaker, or the venue's own


def serve_venues(venue_ids: list[str], leases: VenueLeases | None, step: Callable[[str], int], worker: str,
                 errors: tuple[type[Exception], ...] = (redis.RedisError,),
                 breakers: Breakers | None = None) -> tuple[int, int]:
    """One round of a per-venue worker: `step` on each venue its leases give it (all without leases); returns
    (what the steps did, venues that failed). One venue's fault (its shard down, failing over) is logged and
    the others go on. `breakers` (the worker's, core/store_health.py worker_breakers): a venue whose breaker is
    open is neither leased nor stepped, and not counted as failed, so the healthy venues keep their round time (a
    call to a hung shard waits out the store's timeout); a timeout opens it at once (`count_fault`), and its
    background ping closes it when the venue's slot answers again, for the next round to serve it. A breaker
    opened during the round skips its venues for the rest of it too."""
    if breakers is not None:
        venue_ids = [venue for venue in venue_ids if not breakers.for_venue(venue).is_open]
    venues = leases.assign(venue_ids, breakers) if leases is not None else venue_ids
    done = failed = 0
    for venue in venues:
        breaker = breakers.for_venue(venue) if breakers is not None else None
        if breaker is not None and breaker.is_open:
            continue  # opened in this round (on one store, every venue's breaker is the store's): skip, not wait
        try:
            done += step(venue)
        except errors as exc:
            failed += 1
            count_fault(breakers, venue, exc)
            log.warning("%s: venue %s unavailable: %s", worker, venue, exc.__class__.__name__)
        else:
            if breaker is not None:
                breaker.record_success()
    return done, failed


def count_fault(breakers: Breakers | None, venue: str, exc: BaseException) -> None:
    """A worker's failed call about `venue`, counted toward its breaker when it says the store is down
    (`is_store_fault`); a timeout opens it at once: the venue's shard hangs, and each call waits the timeout out."""
    if breakers is not None and is_store_fault(exc):
        breakers.for_venue(venue).record_failure(exc, at_once=isinstance(exc, redis.TimeoutError))


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class VenueLeases:
    def __init__(self, db: Store, kind: str = "tracker", owner: str | None = None, ttl_s: float = 10.0) -> None:
        self.db = db
        self.kind = kind
        self.owner = owner or default_owner()
        self.ttl_ms = int(ttl_s * 1000)
        self.members_key = VenueKeys(GLOBAL_TAG).key(kind, "alive")
        self._heartbeat = db.register_script(_HEARTBEAT)
        self._hold = db.register_script(_HOLD)
        self._release = db.register_script(_RELEASE)
        self._live = 1
        self.held: set[str] = set()

    def lease_key(self, venue: str) -> str:
        return VenueKeys(venue).key(self.kind, "lease")

    def live_workers(self) -> int:
        """Say this worker is alive; how many are (the last count when the registry cannot be read). Timed by the
        store's clock (`_HEARTBEAT`): the hosts' own clocks may differ."""
        with contextlib.suppress(redis.RedisError):
            self._live = max(1, int(self._heartbeat(keys=[self.members_key], args=[self.owner, self.ttl_ms])))
        return self._live

    def assign(self, venues: list[str], breakers: Breakers | None = None) -> list[str]:
        """Renew what this worker holds, give back what is over its share, take free venues up to it;
        returns the venues to serve this round. A venue whose shard fails is skipped, not fatal (its fault counted
        toward its breaker in `breakers`). A venue held but not among `venues` (its breaker open) is dropped
        unreleased: its lease lapses, and whoever reaches its shard next takes it (this worker too: a lease it
        still holds in the store is renewed, `_HOLD`)."""
        share = math.ceil(len(venues) / self.live_workers()) if venues else 0
        # Start where this worker's name points, so workers starting together try different venues.
        start = hash(self.owner) % len(venues) if venues else 0
        order = sorted(self.held & set(venues)) + [v for v in venues[start:] + venues[:start] if v not in self.held]
        serving: list[str] = []
        for venue in order:
            try:
                if len(serving) >= share:
                    if venue in self.held:
                        self._release(keys=[self.lease_key(venue)], args=[self.owner])
                        self.held.discard(venue)
                    continue
                if self._hold(keys=[self.lease_key(venue)], args=[self.owner, self.ttl_ms]):
                    self.held.add(venue)
                    serving.append(venue)
                else:
                    self.held.discard(venue)
            except redis.RedisError as exc:
                self.held.discard(venue)  # its shard is down: its lease lapses, whoever reaches it next takes it
                count_fault(breakers, venue, exc)
        self.held &= set(serving)
        return serving

    def renew(self, venue: str) -> bool:
        """Renew this worker's lease on `venue` in the middle of a long round (a batch of slow sends); False when
        it is lost (another worker took the venue after it lapsed) or cannot be renewed: stop serving it."""
        try:
            if self._hold(keys=[self.lease_key(venue)], args=[self.owner, self.ttl_ms]):
                return True
        except redis.RedisError:
            pass
        self.held.discard(venue)
        return False

    def release_all(self) -> None:
        for venue in list(self.held):
            with contextlib.suppress(redis.RedisError):
                self._release(keys=[self.lease_key(venue)], args=[self.owner])
        self.held.clear()
        with contextlib.suppress(redis.RedisError):
            self.db.zrem(self.members_key, self.owner)
