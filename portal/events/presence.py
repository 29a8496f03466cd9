"""Presence events from live positions: a Locator listener (Locator.on_positions) that turns each new
position of a phone into arrive / zone_enter / zone_leave (with its dwell) / leave (unseen for
`leave_after_s`, 20 min by default) events in the venue's event log.

Per phone present only "zone|zone since|last seen|arrived" is kept (EventKeys.presence) with its last
seen time in a sorted set; one Lua script per position (per batch of positions, for the tracker) reads
and changes that state and appends the events, so two workers positioning the same phone cannot both
emit its arrival. Phones that went quiet are closed a few per call (like footfall's visits) and by
`sweep` (the tracker calls it every round), with the time they were last seen. Live occupancy per zone
is read from the same state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain

import redis

from core.storage import is_cluster
from portal.events.log import MAXLEN, EventKeys

LEAVE_AFTER_S = 1200.0

_PRESENCE = """
local here, seen, stream, marks_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local at, leave_after, maxlen, max_close = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local function emit(kind, at, who, z, data)
  local f = {'k', kind, 'at', string.format('%.3f', at), 'dev', who}
  if z ~= '' then table.insert(f, 'z'); table.insert(f, z) end
  if data then table.insert(f, 'd'); table.insert(f, data) end
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(f))
end

local function parse(v)
  local z, since, last, arrived = string.match(v, "^(.*)|([^|]+)|([^|]+)|([^|]+)$")
  return z, tonumber(since), tonumber(last), tonumber(arrived)
end

local function close(who, v)
  local z, since, last, arrived = parse(v)
  if z == nil then return end
  if z ~= '' then emit('zone_leave', last, who, z, string.format('{"dwell_s":%.1f}', last - since)) end
  emit('leave', last, who, '', string.format('{"dwell_s":%.1f}', last - arrived))
end

-- A `dwell` event for each mark (minutes) the stay passed between two sightings: once per stay, while
-- the phone is still in the zone (or as it leaves, when the stay reached the mark only then).
local marks = nil
local function crossed(who, z, since, from_t, to_t)
  if z == '' then return end
  if marks == nil then
    marks = redis.call('SMEMBERS', marks_key)
    table.sort(marks, function(a, b) return tonumber(a) < tonumber(b) end)
  end
  for _, m in ipairs(marks) do
    local mark = tonumber(m) * 60 - 0.001
    if from_t - since < mark and to_t - since >= mark then
      emit('dwell', to_t, who, z, string.format('{"dwell_s":%.1f,"min":%d}', to_t - since, tonumber(m)))
    end
  end
end

-- One phone after the other, as many calls of one would (device, zone each from ARGV[5]); device '':
-- only close the phones gone quiet (the sweep).
local closed = 0
for i = 5, #ARGV, 2 do
  local dev, zone, now = ARGV[i], ARGV[i + 1], at
  local stale = redis.call('ZRANGEBYSCORE', seen, '-inf', now - leave_after, 'LIMIT', 0, max_close)
  for _, c in ipairs(stale) do
    if c ~= dev then
      local v = redis.call('HGET', here, c)
      if v then close(c, v) end
      redis.call('HDEL', here, c)
      redis.call('ZREM', seen, c)
      closed = closed + 1
    end
  end
  if dev ~= '' then
    local v = redis.call('HGET', here, dev)
    local cur, since, last, arrived = '', now, now, now
    if v then
      cur, since, last, arrived = parse(v)
      if cur == nil or now - last > leave_after then
        close(dev, v)
        v = nil
      elseif now < last then
        now = last
      end
    end
    if not v then
      cur, since, arrived = '', now, now
      emit('arrive', now, dev, '', nil)
    end
    now = tonumber(string.format('%.3f', now))
    if v then crossed(dev, cur, since, last, now) end
    if zone ~= cur then
      if cur ~= '' then emit('zone_leave', now, dev, cur, string.format('{"dwell_s":%.1f}', now - since)) end
      if zone ~= '' then emit('zone_enter', now, dev, zone, nil) end
      since = now
    end
    redis.call('HSET', here, dev, zone .. '|' .. string.format('%.3f', since) .. '|' .. string.format('%.3f', now)
      .. '|' .. string.format('%.3f', arrived))
    redis.call('ZADD', seen, now, dev)
  end
end
return closed
"""


class PresenceTracker:
    def __init__(self, db: redis.Redis, *, leave_after_s: float = LEAVE_AFTER_S, maxlen: int = MAXLEN,
                 close_per_call: int = 20) -> None:
        if leave_after_s <= 0:
            raise ValueError("leave_after_s must be positive")
        self.db = db
        self.leave_after_s = float(leave_after_s)
        self.maxlen = max(1000, int(maxlen))
        self.close_per_call = close_per_call
        self._script = db.register_script(_PRESENCE)

    def _run(self, venue: str, phones: Sequence[tuple[str, str]], now: float, limit: int, pipe=None):
        keys = EventKeys(venue)
        return self._script(
            keys=[keys.presence(), keys.present_by_time(), keys.stream(), keys.dwell_marks()],
            args=[repr(float(now)), repr(self.leave_after_s), self.maxlen, limit, *chain.from_iterable(phones)],
            # A cluster pipeline cannot queue a script (no EVALSHA, no reload on NOSCRIPT): sent now.
            client=None if pipe is None or is_cluster(pipe) else pipe)

    def record(self, venue: str, device: str, zone: str | None, now: float, pipe=None) -> None:
        """One position of a phone (zone None: in the venue, in no zone)."""
        self.record_many(venue, [(device, zone)], now, pipe)

    def record_many(self, venue: str, phones: Sequence[tuple[str, str | None]], now: float, pipe=None) -> None:
        """Many phones' positions at one time, (device, zone) each, in order, in one script call: what as
        many `record` calls would do (tests/tracking/test_batch_listeners.py). A bad id raises before
        anything is sent."""
        for device, zone in phones:
            if not device or "|" in device or (zone and "|" in zone):
                raise ValueError("device and zone ids must be non-empty strings without '|'")
        self._run(venue, [(device, zone or "") for device, zone in phones], now, self.close_per_call, pipe)

    def on_positions(self, pipe, venue: str, positions: Sequence[tuple[str, object]], now: float) -> None:
        """A Locator listener (Locator.on_positions): its writes ride on the locator's round trip;
        (client, position) each, one script call for all of them."""
        self.record_many(venue, [(client, p.zone) for client, p in positions], now, pipe)

    def sweep(self, venue: str, now: float, limit: int = 10_000) -> int:
        """Close the phones unseen for leave_after_s (zone_leave + leave at their last sighting)."""
        return int(self._run(venue, [("", "")], now, limit))

    def occupancy(self, venue: str, now: float) -> Counter:
        """Phones present now per zone (seen within leave_after_s); "" counts those in no zone."""
        counts: Counter = Counter()
        for raw in self.db.hvals(EventKeys(venue).presence()):
            zone, _since, last, _arrived = raw.decode().rsplit("|", 3)
            if now - float(last) <= self.leave_after_s:
                counts[zone] += 1
        return counts

    def set_limit(self, venue: str, zone: str, limit: int | None) -> None:
        """The occupancy alert threshold of a zone (None or 0: none)."""
        key = EventKeys(venue).occupancy_limits()
        if limit:
            self.db.hset(key, zone, int(limit))
        else:
            self.db.hdel(key, zone)

    def limits(self, venue: str) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.db.hgetall(EventKeys(venue).occupancy_limits()).items()}

    def forget(self, venue: str, device: str) -> None:
        """Drop a phone's presence state (an erasure), emitting nothing."""
        keys = EventKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.hdel(keys.presence(), device)
        pipe.zrem(keys.present_by_time(), device)
        pipe.execute()
