"""Presence events from live positions: a Locator listener (Locator.on_positions) that turns each new
position of a phone into arrive / zone_enter / zone_leave (with its dwell) / leave (unseen for
`leave_after_s`, 20 min by default) events in the venue's event log. A phone whose shopper declined
location-based services (`EventKeys.untracked`, kept by portal/consent.py) gets no event and no state: the
script reads that set itself, once per call (footfall's aggregate counts still count the phone).

Per phone present only "zone|zone since|last seen|arrived" is kept (EventKeys.presence) with its last
seen time in a sorted set; one Lua script per position (per batch of positions, for the tracker) reads
and changes that state and appends the events, so two workers positioning the same phone cannot both
emit its arrival. Phones that went quiet are closed a few per call (like footfall's visits) and by
`sweep` (the tracker calls it every round), with the time they were last seen. Live occupancy per zone
is read from the same state: the phones heard within `present_within_s` (PRESENT_WITHIN_S), not every phone
whose visit is still open, staff phones left out as the insights leave them out (`StaffPhones`), and an
alert limit is 0 (none) or at least k (K_MIN): a zone "over its limit" never tells a count below k."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, time
from itertools import chain
from zoneinfo import ZoneInfo

import redis

from core.memo import BoundedMemo
from core.storage import LUA_BATCHED, is_cluster
from portal.events.insights import K_MIN, staff_devices
from portal.events.log import MAXLEN, Event, EventKeys, EventLog
from portal.events.privacy import PrivacyStore

LEAVE_AFTER_S = 1200.0  # unseen this long: the visit is closed (a `leave`), the rule of the insights' stays
# Unseen this long: no longer counted as in the zone now (live occupancy and its alerts). A phone that
# transmits is positioned every few seconds (the APs report every few seconds, the readings window is 60 s);
# one idle in a pocket still scans every minute or two. Five minutes keeps such a phone through two or three
# missed scans, where LEAVE_AFTER_S kept a phone that had gone for up to 20 minutes.
PRESENT_WITHIN_S = 300.0
STAFF_DETECTION_DAYS = 7  # staff phones are detected over the week before the day (and the day so far)
DETECTED_MAX_AGE_S = 300.0  # live counts reuse a venue's detected staff this long (a week of the log is read)

# The one owner of how an open visit is closed, for every script that closes one (this tracker's, and the
# decline of location, portal/consent.py `_DECLINE`): the state format "zone|zone since|last seen|arrived"
# (`parse_visit`), and the events (`close_visit`: a zone_leave with the stay's dwell, when in a zone, and a leave
# with the visit's, both at the last sighting). `trim`: the stream's MAXLEN (approximate), or nil for no trimming
# (a script that does not know the stream's configured bound must not trim it to another: it leaves the trimming to
# the stream's next write). Scripts start with it, after LUA_BATCHED: `LUA_BATCHED + LUA_CLOSE_VISIT + """..."""`.
LUA_CLOSE_VISIT = """
local function visit_event(stream, trim, kind, at, who, z, data)
  local f = {'k', kind, 'at', string.format('%.3f', at), 'dev', who}
  if z ~= '' then table.insert(f, 'z'); table.insert(f, z) end
  if data then table.insert(f, 'd'); table.insert(f, data) end
  if trim then
    redis.call('XADD', stream, 'MAXLEN', '~', trim, '*', unpack(f))
  else
    redis.call('XADD', stream, '*', unpack(f))
  end
end

local function parse_visit(v)
  local z, since, last, arrived = string.match(v, "^(.*)|([^|]+)|([^|]+)|([^|]+)$")
  return z, tonumber(since), tonumber(last), tonumber(arrived)
end

local function close_visit(stream, trim, who, v)
  local z, since, last, arrived = parse_visit(v)
  if z == nil then return end
  if z ~= '' then
    visit_event(stream, trim, 'zone_leave', last, who, z, string.format('{"dwell_s":%.1f}', last - since))
  end
  visit_event(stream, trim, 'leave', last, who, '', string.format('{"dwell_s":%.1f}', last - arrived))
end
"""

_PRESENCE = LUA_BATCHED + LUA_CLOSE_VISIT + """
local here_key, seen_key, stream, marks_key, untracked_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local at, leave_after, maxlen, max_close = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

-- A time as the state keeps it (to the millisecond); the call's own time, most phones' sighting, formatted once
-- (and its millisecond, which the state keeps as the sighting's time).
local at_ms = string.format('%.3f', at)
local at_r = tonumber(at_ms)
local at_r_ms = string.format('%.3f', at_r)
local function ms(t)
  if t ~= 0 then
    if t == at then return at_ms elseif t == at_r then return at_r_ms end
  end
  return string.format('%.3f', t)
end

local function emit(kind, at, who, z, data) visit_event(stream, maxlen, kind, at, who, z, data) end
local function close(who, v) close_visit(stream, maxlen, who, v) end

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

-- The phones' state and last sightings, written once at the end of the call (LUA_BATCHED); the batch's
-- phones' states read in one HMGET.
local here, seen = batched_hash(here_key), batched_zset(seen_key)
local batch = {}
for i = 5, #ARGV, 2 do if ARGV[i] ~= '' then batch[#batch + 1] = ARGV[i] end end
here.prefetch(batch)

-- The batch's phones whose shopper declined location-based services (KEYS[5], until the score): no event and
-- no state for them (the answer dropped the state they had); one ZMSCORE per 500 phones, none while it is empty.
local untracked = {}
if #batch > 0 and redis.call('EXISTS', untracked_key) == 1 then
  for k = 1, #batch, 500 do
    local last = math.min(k + 499, #batch)
    local until_t = redis.call('ZMSCORE', untracked_key, unpack(batch, k, last))
    for j = k, last do
      local u = until_t[j - k + 1]
      if u and tonumber(u) > at then untracked[batch[j]] = true end
    end
  end
end

-- One phone after the other, as many calls of one would (device, zone each from ARGV[5]); device '':
-- only close the phones gone quiet (the sweep). Once a look for them finds fewer than max_close, none is
-- left but the phone skipped, whose sighting moves to `at`: the next looks would find none until a phone is
-- kept at a time that old again, and are skipped till then.
local closed, drained = 0, false
for i = 5, #ARGV, 2 do
  local dev, zone, now = ARGV[i], ARGV[i + 1], at
  if not drained then
    seen.flush()
    local stale = redis.call('ZRANGEBYSCORE', seen_key, '-inf', now - leave_after, 'LIMIT', 0, max_close)
    for _, c in ipairs(stale) do
      if c ~= dev then
        local v = here.get(c)
        if v then close(c, v) end
        here.set(c, false)
        seen.set(c, false)
        closed = closed + 1
      end
    end
    drained = #stale < max_close
  end
  if dev ~= '' and untracked[dev] then
    here.set(dev, false)
    seen.set(dev, false)
  elseif dev ~= '' then
    local v = here.get(dev)
    local cur, since, last, arrived = '', now, now, now
    if v then
      cur, since, last, arrived = parse_visit(v)
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
    now = tonumber(ms(now))
    if v then crossed(dev, cur, since, last, now) end
    if zone ~= cur then
      if cur ~= '' then emit('zone_leave', now, dev, cur, string.format('{"dwell_s":%.1f}', now - since)) end
      if zone ~= '' then emit('zone_enter', now, dev, zone, nil) end
      since = now
    end
    here.set(dev, zone .. '|' .. ms(since) .. '|' .. ms(now) .. '|' .. ms(arrived))
    seen.set(dev, now)
    if now <= at - leave_after then drained = false end  -- stale at once: the next look would find it
  end
end
seen.flush()
here.flush()
return closed
"""


def staff_phones(events: Iterable[Event], listed: Collection[str], since: float, tz: str) -> set[str]:
    """The one rule for which phones the figures leave out as staff, for a period from `since`: those on the
    operator's list, and those present more than 6 hours a day on most days (insights.staff_devices) over
    the STAFF_DETECTION_DAYS before `since` and the period (`events`: the log read from then on)."""
    detected = staff_devices((e for e in events if e.at >= since - STAFF_DETECTION_DAYS * 86400), tz)
    return detected | set(listed)


def day_start(now: float, tz: str) -> float:
    """Midnight of `now`'s day in `tz` (the venue's zone), as an instant."""
    zone = ZoneInfo(tz)
    return datetime.combine(datetime.fromtimestamp(now, zone).date(), time(0), zone).timestamp()


class StaffPhones:
    """The venue's staff phones now, for live counts (occupancy and its alerts), by `staff_phones` over the
    venue's today so far: the operator's list is read on every call (a phone added is left out at once);
    the detected ones need a week of the log, so each process reuses them for `max_age_s`."""

    VENUES = 4096  # a bound, far above the venues one deployment serves

    def __init__(self, db: redis.Redis, events: EventLog, tz_of: Callable[[str], object] | None = None,
                 max_age_s: float = DETECTED_MAX_AGE_S) -> None:
        self.privacy = PrivacyStore(db)
        self.events = events
        self.tz_of = tz_of or (lambda venue: "UTC")  # venue -> its zone (a ZoneInfo or its name)
        self._detected = BoundedMemo(self.VENUES, max_age_s=max_age_s)

    def __call__(self, venue: str, now: float) -> set[str]:
        return self.privacy.staff(venue) | self.detected(venue, now)

    def detected(self, venue: str, now: float) -> frozenset[str]:
        tz = str(self.tz_of(venue))
        since = day_start(now, tz)
        return self._detected.get((venue, since), lambda: frozenset(staff_phones(
            self.events.read(venue, since=since - STAFF_DETECTION_DAYS * 86400, until=now), (), since, tz)))


class PresenceTracker:
    def __init__(self, db: redis.Redis, *, leave_after_s: float = LEAVE_AFTER_S, maxlen: int = MAXLEN,
                 close_per_call: int = 20, staff: Callable[[str, float], Collection[str]] | None = None,
                 present_within_s: float = PRESENT_WITHIN_S) -> None:
        """`staff`: venue, now -> the phones live occupancy leaves out (default: StaffPhones on this store,
        venues' days in UTC; the composition root passes one with the venues' zones). `present_within_s`:
        how recently a phone must have been seen to count in live occupancy (at most leave_after_s: a phone
        whose visit is closed is nowhere)."""
        if leave_after_s <= 0 or present_within_s <= 0:
            raise ValueError("leave_after_s and present_within_s must be positive")
        self.db = db
        self.leave_after_s = float(leave_after_s)
        self.present_within_s = min(float(present_within_s), self.leave_after_s)
        self.maxlen = max(1000, int(maxlen))
        self.close_per_call = close_per_call
        self.staff = staff or StaffPhones(db, EventLog(db, maxlen))
        self._script = db.register_script(_PRESENCE)

    def _run(self, venue: str, phones: Sequence[tuple[str, str]], now: float, limit: int, pipe=None):
        keys = EventKeys(venue)
        return self._script(
            keys=[keys.presence(), keys.present_by_time(), keys.stream(), keys.dwell_marks(), keys.untracked()],
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
        """Phones present now per zone (seen within present_within_s: a visit still open, up to leave_after_s,
        is not "there now"), staff phones left out (`self.staff`, the insights' rule: a staff phone is in no
        figure); "" counts those in no zone."""
        present = []
        for device, raw in self.db.hgetall(EventKeys(venue).presence()).items():
            zone, _since, last, _arrived = raw.decode().rsplit("|", 3)
            if now - float(last) <= self.present_within_s:
                present.append((device.decode(), zone))
        staff = self.staff(venue, now) if present else ()  # nobody here: no week of the log to read
        return Counter(zone for device, zone in present if device not in staff)

    def set_limit(self, venue: str, zone: str, limit: int | None) -> None:
        """The occupancy alert threshold of a zone (None or 0: none). ValueError below K_MIN: "over the limit"
        beside a limit of 1-4 would tell a count below k."""
        key = EventKeys(venue).occupancy_limits()
        if limit and limit < K_MIN:
            raise ValueError(f"an occupancy limit must be 0 (none) or at least {K_MIN}")
        if limit:
            self.db.hset(key, zone, int(limit))
        else:
            self.db.hdel(key, zone)

    def limits(self, venue: str) -> dict[str, int]:
        """zone -> its alert threshold; one below K_MIN (stored before set_limit refused them) counts as none."""
        raw = self.db.hgetall(EventKeys(venue).occupancy_limits())
        return {k.decode(): int(v) for k, v in raw.items() if int(v) >= K_MIN}

    def forget(self, venue: str, device: str) -> None:
        """Drop a phone's presence state (an erasure), emitting nothing."""
        keys = EventKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.hdel(keys.presence(), device)
        pipe.zrem(keys.present_by_time(), device)
        pipe.execute()
