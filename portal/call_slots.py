"""Calls in flight: how many calls of one kind one holder (a machine API's token) may have running at once, counted in
the store so that every web worker and host sees the same count. An abuse budget on a scarce thing, the web workers:
the insights API computes a period's figures in the worker that answers (up to seconds each), and one partner's burst
of parallel calls held every worker the captive portal answers phones with.

A call takes a slot before its work and gives it back after (`CallSlots.held`); a slot lapses `ttl_s` after it was
taken, so a worker killed mid-call holds it no longer than that. One ZSET per holder in the venue's slot (call id ->
when its slot lapses, the store's clock), checked and taken in one Lua step."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import redis

from core.storage import LUA_STORE_CLOCK, VenueKeys, name_digest

# KEYS: the holder's slots. ARGV: now ('' the store's clock: hosts' clocks differ), most, ttl (s), call id. 1 when
# taken; 0 when `most` slots are held (lapsed ones dropped first).
_TAKE = LUA_STORE_CLOCK + """
local now, ttl = store_now(ARGV[1]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.6f', now + ttl), ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ttl))
return 1
"""


class SlotKeys(VenueKeys):
    def held(self, kind: str, holder: str) -> str:
        """ZSET call id -> when its slot lapses (epoch s). The holder (a token's label, any text) by its digest."""
        return self.key("slots", kind, name_digest(holder))


class CallsInFlight(Exception):
    """`most` calls of this kind and holder are running: the caller answers 429."""


class CallSlots:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._take = db.register_script(_TAKE)

    def take(self, venue: str, kind: str, holder: str, most: int, ttl_s: float, now: float | None = None) -> str | None:
        """A slot for one call (its id), or None when `most` are held. `now`: a test's clock, else the store's."""
        call = secrets.token_hex(8)
        taken = self._take(keys=[SlotKeys(venue).held(kind, holder)],
                           args=["" if now is None else repr(now), most, ttl_s, call])
        return call if taken else None

    def give_back(self, venue: str, kind: str, holder: str, call: str) -> None:
        self.db.zrem(SlotKeys(venue).held(kind, holder), call)

    def in_flight(self, venue: str, kind: str, holder: str) -> int:
        """How many slots are held, lapsed ones included until the next `take` drops them."""
        return int(self.db.zcard(SlotKeys(venue).held(kind, holder)))

    @contextlib.contextmanager
    def held(self, venue: str, kind: str, holder: str, most: int, ttl_s: float) -> Iterator[str]:
        """A slot while the block runs (its call id), given back however it ends; CallsInFlight when none is free."""
        call = self.take(venue, kind, holder, most, ttl_s)
        if call is None:
            raise CallsInFlight(f"{most} calls of {kind} already in flight")
        try:
            yield call
        finally:
            with contextlib.suppress(redis.RedisError):  # not given back: it lapses after ttl_s
                self.give_back(venue, kind, holder, call)
