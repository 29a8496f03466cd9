"""Footfall from live positions, kept aggregated: visitors per zone per hour, dwell time, and a heatmap
of presence over the plan, per day. No per-device history is kept:

- visitors: a HyperLogLog per zone per hour (plus one for the whole venue), so a client id is counted
  but not stored retrievably; the day's unique visitors are the union (PFCOUNT over the day's hours). The members
  are sha1(the day's salt .. client id): a HyperLogLog answers "was this counted?" to whoever adds a member, and
  the salt, gone two days later (SALT_TTL_S), keeps anyone from asking it of a phone after that. A day whose
  salt changed while it had counts (the day an install upgraded to salted counts, or a salt the store lost)
  counts a phone seen before and after twice: its report says so (`salt_changed_at`), and the footfall page
  calls that day's unique counts estimates;
- dwell: per client only its current zone, entry time and last-seen time, in one hash of open visits
  with an idle timeout (`gap_s`, default 10 min). When the client shows up in another zone, or has not been
  seen for gap_s, the visit is closed: its length (last seen - entry) is added to a per zone-hour sum and
  count, and the client's entry is deleted. A visit counts in the day and hour (venue time) of its last
  sighting, kept with it, whenever it is closed: an evening's last visits closed the next morning are the
  evening's. Stale visits are closed by the next `record` call of the venue (a few per call) and by
  `close_idle`, which the tracker's sweep runs every 30 s (and the footfall page before it reads);
- presence: a coarse grid per floor per day (cells of `cell_m`, 2 m by default), HINCRBY per position fix
  (a cell's count is the number of fixes there: a density of presence, weighted by how often positions
  are computed).
Roll-up: every visitor also goes into a per-day HyperLogLog (per zone and venue-wide), kept longer than
the hourly ones (`days_kept`, 400 days by default, against `ttl_days`, 35, for the hours, the dwell and the
heatmap), so a day's unique visitors stay known after its hours expire. Every key carries a TTL (the
open-visit hash lives only while there is traffic).
One `record` is one Lua script over keys of one venue (hash tag), all passed as KEYS: cluster-legal; the
tracker's batch records all its positions in one call of the same script (`record_many`).
Staff phones are the insights' (portal/events/presence.py `staff_phones`, the one rule), counted nowhere: those on
the operator's list (portal/events/privacy.py) and those detected as staff (present 6 hours a day on most days).
The script reads both sets once per call (no round trip of its own, none per phone): the list, and the detected
ones `close_idle` keeps for it (`FootfallKeys.detected_staff`: the tracker's sweep, every 30 s, asks `staff`, to
which the composition root passes `StaffPhones.detected`; a week of the event log is read there, every few
minutes, never on a position's path). A HyperLogLog cannot take a phone back out, so a phone counted before it was
found (its first days at the venue, the minutes before the next sweep) stays counted on that day, while the insights
leave it out of the whole day. A visit a staff phone had open is dropped uncounted.
A zone standing for a group (a food hall for its stalls, portal/tracking/models.py `venue_groups`) counts its
members' phones, visits and dwell in, as the insights count a stay at a stall as one in the hall (`report`'s
`groups`, `counted_in`); a move from one stall to the next is a new visit here, one stay there.
What the pages show of the counts goes through k_safe ("<5").
Hours and days are in the venue's time zone (`tz_of`: the venue's portal config, through a per-process
cache, portal/captive/config.py VenueTimeZones); a store built without one counts in `tz` (UTC unless given).
A phone seen at 23:30 UTC in a Shanghai mall counts in the next day's hour 07, as the mall's staff see it.
An hour is a wall-clock hour of the venue's day (`hour_key`): the day the clocks go forward has 23 (the one they
skip is not shown), the day they go back 25 (the hour they repeat counts its two passes apart, each labelled
with its UTC offset).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import redis

from core.storage import LUA_BATCHED, VenueKeys, is_cluster, scan_slot
from core.wallclock import day_hours, offsets_where_repeated
from fingerprints.model import name_in
from fingerprints.quality import ENGLISH, ChartWords, draw_plan, drawable_words, figure_png, plan_figure
from portal.events.privacy import PrivacyKeys

# (client, zone or None, floor, x, y): one position as `record` takes it (None floor/x/y: no heatmap cell)
Located = tuple[str, str | None, int | None, float | None, float | None]
TTL_DAYS = 35
DAYS_KEPT = 400
ALL = "_all"

SALT_TTL_S = 2 * 86400  # a day's visitor-count salt outlives the day (time zones, a late sweep), then is gone
# The detected staff kept for the script outlive a stopped tracker's sweep this long (the staff change slowly), then
# the phones are counted again rather than by a list nobody renews.
DETECTED_STAFF_TTL_S = 86400
_RECORD = LUA_BATCHED + f"""
local SALT_TTL_S, DETECTED_STAFF_TTL_S = {SALT_TTL_S}, {DETECTED_STAFF_TTL_S}
""" + """
local cur_key, open_key, hall, dall = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local at, gap, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local hh, max_close, only_close, day_ttl = ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])

-- The dwell hashes a closed visit may count in: ARGV[8] days from ARGV[9] (the call's day first), each
-- with its key from KEYS[7] on (FootfallStore._dwell_days: a position's call passes yesterday to tomorrow,
-- close_idle every day whose dwell is still kept). A visit of another day waits in KEYS[6] (`late`) for
-- close_idle, which adds it to its day's dwell.
local late = KEYS[6]
local ndays = tonumber(ARGV[8])
local today, dwell_of = ARGV[9], {}
for k = 1, ndays do dwell_of[ARGV[8 + k]] = KEYS[6 + k] end
local first = 10 + ndays  -- the first position's ARGV

-- The visitor counts hold sha1(the day's salt .. client id), not the client id: a HyperLogLog answers "was this
-- id added?" to anyone who adds it and sees whether a register moved, so with the phone's id (a keyed hash of its
-- MAC) it would tell for 400 days, erasure or not, which zones a phone was in on a day. The salt (KEYS[7 + ndays])
-- lives two days: the day's counts still union over its hours; afterwards nobody can make the ids again. A call
-- that finds none keeps its candidate (ARGV[9 + ndays], random from the caller).
-- The day's counts holding members already then (the venue-wide day count exists), these were added under
-- another salt: unsalted, on the day an install upgraded to salted counts, or a salt the store lost. A phone seen
-- on both sides of this call is counted twice in the day's unique visitors (and this hour's): no HyperLogLog
-- can tell, so the day is marked (KEYS[8 + ndays]: the time of the first change, kept as long as the day's
-- counts) and its report says its unique counts are an estimate. Each change is counted (KEYS[9 + ndays]): a salt
-- lost twice in a day (evicted: it has the shortest TTL of the day's keys) makes a third member of one phone.
local salt_key, changed_key, changes_key, salt = KEYS[7 + ndays], KEYS[8 + ndays], KEYS[9 + ndays], nil
local function salted(client)
  if salt == nil then
    salt = redis.call('GET', salt_key)
    if not salt then
      salt = ARGV[9 + ndays]
      redis.call('SET', salt_key, salt, 'EX', SALT_TTL_S)
      if redis.call('EXISTS', dall) == 1 then
        redis.call('SET', changed_key, ARGV[1], 'NX', 'EX', day_ttl)
        redis.call('INCR', changes_key)
        redis.call('EXPIRE', changes_key, day_ttl)
      end
    end
  end
  return redis.sha1hex(salt .. client)
end

-- A time as a visit keeps it (to the millisecond); the call's own time, most positions' sighting, formatted once.
local at_ms = string.format('%.3f', at)
local function ms(t)
  if t == at and t ~= 0 then return at_ms end
  return string.format('%.3f', t)
end

-- An open visit: "zone|since|last|day|hour", the day and hour (venue time) of its last sighting, where
-- it counts once closed. A value without them (written before they were kept) counts in the call's.
local function parse(value)
  local z, since, last, day, hour = string.match(value, "^(.*)|([^|]+)|([^|]+)|(%d+)|(%d+)$")
  if z == nil then
    z, since, last = string.match(value, "^(.*)|([^|]+)|([^|]+)$")
    day, hour = today, hh
  end
  if z == nil then return nil end
  return z, tonumber(since), tonumber(last), day, hour
end

local touched, touched_keys = {}, {}  -- the dwell hashes written, each given its TTL once at the end
local function touch(key)
  if not touched[key] then touched[key] = true; touched_keys[#touched_keys + 1] = key end
end
local function close(value)
  local z, since, last, day, hour = parse(value)
  if z == nil then return end
  local d = last - since
  if d < 0 then d = 0 end
  local dwell, field = dwell_of[day], z .. '|' .. hour
  if dwell == nil then dwell, field = late, day .. '|' .. field end
  redis.call('HINCRBYFLOAT', dwell, field .. '|s', d)
  redis.call('HINCRBY', dwell, field .. '|n', 1)
  touch(dwell)
end

-- close_idle: each late visit into its day's dwell; one of a day past the dwell's retention counts nowhere.
local function fold_late()
  local fields = redis.call('HGETALL', late)
  for k = 1, #fields, 2 do
    local day, field = string.match(fields[k], "^(%d+)|(.*)$")
    local dwell = day and dwell_of[day]
    if dwell then
      if string.sub(field, -2) == '|n' then
        redis.call('HINCRBY', dwell, field, tonumber(fields[k + 1]))
      else
        redis.call('HINCRBYFLOAT', dwell, field, fields[k + 1])
      end
      touch(dwell)
    end
  end
  redis.call('DEL', late)
end

local function expire_touched()
  for _, key in ipairs(touched_keys) do redis.call('EXPIRE', key, ttl) end
end

-- The open visits and their last sightings, written once at the end of the call (LUA_BATCHED)
local cur, open = batched_hash(cur_key), batched_zset(open_key)

-- close visits that went quiet (other clients than the one recorded), a few per position. Once a look finds
-- fewer than max_close, none is left but the client skipped, whose visit the position moves to `at` (or ends):
-- the next looks would find none until a visit is kept at a time that old again, and are skipped till then.
local drained = false
local function close_stale(client)
  if drained then return 0 end
  open.flush()
  local stale = redis.call('ZRANGEBYSCORE', open_key, '-inf', at - gap, 'LIMIT', 0, max_close)
  for _, c in ipairs(stale) do
    if c ~= client then
      local v = cur.get(c)
      if v then close(v) end
      cur.set(c, false)
      open.set(c, false)
    end
  end
  drained = #stale < max_close
  return #stale
end

-- The phones detected as staff (KEYS[10 + ndays]): close_idle gives them (ARGV[first]: how many, then their ids;
-- none: the set is left as it is) for the positions' calls, which read them with the operator's list.
local detected_key = KEYS[10 + ndays]
if only_close == '1' then
  local n = tonumber(ARGV[first])
  if n then
    redis.call('DEL', detected_key)
    for k = first + 1, first + n, 500 do
      redis.call('SADD', detected_key, unpack(ARGV, k, math.min(k + 499, first + n)))
    end
    if n > 0 then redis.call('EXPIRE', detected_key, DETECTED_STAFF_TTL_S) end
  end
  local closed = close_stale('')
  open.flush()
  cur.flush()
  fold_late()
  expire_touched()
  return closed
end

-- One position after the other, as many calls of one would: six ARGV each from ARGV[first] (client, zone,
-- heatmap cell, and the KEYS index of its zone's hour visitors, its zone's day visitors, its floor's heatmap).
-- What does not depend on the order (visitor counts, heatmap counts, TTLs set at this one time) is written
-- once per key after the loop, with the same result.
local visitors, counted = {}, {}  -- key -> clients; keys in the order first counted, with their TTL
local function count(key, member, ttl)
  if visitors[key] == nil then visitors[key] = {}; counted[#counted + 1] = {key, ttl} end
  table.insert(visitors[key], member)
end
local heats, heat_keys = {}, {}  -- heatmap key -> its cells in the order first hit and their counts
-- Staff phones (the operator's list, KEYS[5], and the detected ones) count nowhere: the sets are read once per
-- call, and a visit such a phone had open from before it was listed or detected is dropped uncounted.
local staff = {}
for _, c in ipairs(redis.call('SMEMBERS', KEYS[5])) do staff[c] = true end
for _, c in ipairs(redis.call('SMEMBERS', detected_key)) do staff[c] = true end
local function place(client, zone, cell, hz, dz, heat)
  close_stale(client)
  local member  -- what the visitor counts hold of this client (salted), made once
  local now, day, hour = at, today, hh
  local v = cur.get(client)
  local since = now
  local z, s, last, last_day, last_hour
  if v then z, s, last, last_day, last_hour = parse(v) end
  if z ~= nil then
    if now < last then now, day, hour = last, last_day, last_hour end  -- an older position: its last stands
    if z == zone and now - last <= gap then
      since = s
    else
      close(v)
    end
  end
  if zone ~= '' then
    cur.set(client, zone .. '|' .. ms(since) .. '|' .. ms(now) .. '|' .. day .. '|' .. hour)
    open.set(client, now)  -- never stale at once: now >= at, gap > 0
    member = member or salted(client)
    count(hz, member, ttl)
    count(dz, member, day_ttl)
  else
    cur.set(client, false)
    open.set(client, false)
  end
  member = member or salted(client)
  count(hall, member, ttl)
  count(dall, member, day_ttl)
  if cell ~= '' then
    local h = heats[heat]
    if h == nil then h = {order = {}, n = {}}; heats[heat] = h; heat_keys[#heat_keys + 1] = heat end
    if h.n[cell] == nil then h.n[cell] = 0; h.order[#h.order + 1] = cell end
    h.n[cell] = h.n[cell] + 1
  end
end
local batch = {}  -- the positions' clients: their open visits read in one HMGET
for i = first, #ARGV, 6 do batch[#batch + 1] = ARGV[i] end
cur.prefetch(batch)
for i = first, #ARGV, 6 do
  local client = ARGV[i]
  if staff[client] then
    cur.set(client, false)
    open.set(client, false)
  else
    place(client, ARGV[i + 1], ARGV[i + 2], KEYS[tonumber(ARGV[i + 3])], KEYS[tonumber(ARGV[i + 4])],
          KEYS[tonumber(ARGV[i + 5])])
  end
end
for _, entry in ipairs(counted) do
  local clients = visitors[entry[1]]
  for k = 1, #clients, 500 do redis.call('PFADD', entry[1], unpack(clients, k, math.min(k + 499, #clients))) end
  redis.call('EXPIRE', entry[1], entry[2])
end
for _, key in ipairs(heat_keys) do
  for _, cell in ipairs(heats[key].order) do redis.call('HINCRBY', key, cell, heats[key].n[cell]) end
  redis.call('EXPIRE', key, ttl)
end
open.flush()
cur.flush()
expire_touched()  -- once, after every close of the batch
if #ARGV >= first then
  redis.call('EXPIRE', cur_key, gap * 3)
  redis.call('EXPIRE', open_key, gap * 3)
end
return 1
"""


class FootfallKeys(VenueKeys):
    def open_visits(self) -> str:
        return self.key("ff", "cur")

    def open_by_time(self) -> str:
        return self.key("ff", "open")

    def dwell(self, day: str) -> str:
        return self.key("ff", "dwell", day)

    def late_dwell(self) -> str:
        """Closed visits of a day a position's call could not name (day|zone|hour|s and |n), until
        close_idle adds them to their day's dwell."""
        return self.key("ff", "dwell-late")

    def visitors(self, day: str, hour: str, zone: str) -> str:
        return self.key("ff", "v", day, hour, zone)

    def day_visitors(self, day: str, zone: str) -> str:
        """The day's roll-up of the hourly visitor counts (kept days_kept days)."""
        return self.key("ff", "vd", day, zone)

    def heat(self, day: str, floor: int) -> str:
        return self.key("ff", "heat", day, str(floor))

    def salt(self, day: str) -> str:
        """The day's salt of the visitor counts' members (SALT_TTL_S; never read outside the script)."""
        return self.key("ff", "salt", day)

    def salt_changed(self, day: str) -> str:
        """When the day's salt was drawn while its counts already held members (another salt's, or unsalted ids
        from before the counts were salted): the day's unique counts are an estimate (kept as long as they are)."""
        return self.key("ff", "salt-changed", day)

    def detected_staff(self) -> str:
        """The phones detected as staff, as the last sweep found them (`FootfallStore.close_idle`; the script reads
        them beside the operator's list; DETECTED_STAFF_TTL_S)."""
        return self.key("ff", "staff")

    def salt_changes(self, day: str) -> str:
        """How many times the day's salt was drawn while its counts held members (INCR, kept as long as they are):
        one phone may be a member of the day's counts once per salt (days marked before it was kept: once)."""
        return self.key("ff", "salt-changes", day)


@dataclass
class ZoneFootfall:
    zone: str
    visitors: int  # unique over the day
    visitors_by_hour: list[int]  # one per hour of the day (FootfallReport.hours)
    visits: int  # closed visits
    mean_dwell_s: float | None
    dwell_by_hour: list[float | None]  # mean dwell of the closed visits last seen in each hour
    members: int = 0  # a zone standing for a group (a food hall): the other zones it counts in (`counted_in`)


@dataclass
class FootfallReport:
    venue: str
    day: str
    visitors: int
    visitors_by_hour: list[int]
    zones: dict[str, ZoneFootfall] = field(default_factory=dict)
    # The label of each hour in visitors_by_hour (`FootfallStore.hours`): 24, or 23 / 25 the days the clocks change
    hours: list[str] = field(default_factory=lambda: [f"{h:02d}" for h in range(24)])
    # When the visitor counts' salt changed during the day (epoch s; None: it did not): a phone seen before and
    # after is counted twice in the day's unique visitors and that hour's, so those are estimates (high)
    salt_changed_at: float | None = None
    salts: int = 1  # the salts the day's unique counts hold: a phone is a member of them at most once per salt

    def phones_at_least(self, n: int) -> int:
        """The fewest distinct phones a unique count `n` of this day vouches for: shared among its salts, rounded
        up (`salts_held`)."""
        return -(-int(n) // self.salts)


def salts_held(changed: bytes | None, changes: bytes | None) -> int:
    """How many salts a day's unique counts hold, from its changed mark and its count of changes (a day marked
    before the changes were counted: one change)."""
    return 1 + max(int(changes or 0), 1 if changed else 0)


def new_salt() -> str:
    """A candidate salt for the day's visitor counts (the script keeps the first one of the day)."""
    return secrets.token_hex(16)


def hour_key(local: datetime) -> str:
    """The key of the hour a venue-time moment counts in: its wall-clock hour "00".."23", and for the hour the
    clocks go back over, its second pass (fold 1) 24 on: "26" for the second 02:00-02:59. A day without a change
    keys its hours as before the second pass had one; the day the clocks go back kept both passes in "02" then
    (data of that day from before this rule reads as the first pass)."""
    return f"{local.hour + 24 * local.fold:02d}"


def _day_str(day: date | str) -> str:
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"day {day!r} is not a date (YYYY-MM-DD)") from None
    return day.strftime("%Y%m%d")


class FootfallStore:
    def __init__(self, db: redis.Redis, *, tz: str = "UTC", tz_of: Callable[[str], ZoneInfo] | None = None,
                 cell_m: float = 2.0, gap_s: float = 600.0, ttl_days: int = TTL_DAYS, days_kept: int = DAYS_KEPT,
                 close_per_call: int = 20, staff: Callable[[str, float], Collection[str]] | None = None) -> None:
        """`tz_of`: venue -> its time zone, called once per position (so a cached resolver, never a store
        read per call); without it every venue counts in `tz`. `staff`: venue, now -> the phones detected as
        staff (`StaffPhones.detected`), which `close_idle` keeps for the script; without it only the operator's
        list is left out."""
        if cell_m <= 0 or gap_s <= 0 or ttl_days < 1 or days_kept < 1:
            raise ValueError("cell_m and gap_s must be positive, ttl_days and days_kept at least 1")
        self.db = db
        fixed = ZoneInfo(tz)
        self.tz_of: Callable[[str], ZoneInfo] = tz_of or (lambda venue: fixed)
        self.cell_m = cell_m
        self.gap_s = gap_s
        self.ttl_days = int(ttl_days)
        self.ttl_s = int(ttl_days * 86400)
        self.day_ttl_s = int(max(days_kept, ttl_days) * 86400)
        self.close_per_call = close_per_call
        self.staff = staff
        self._record = db.register_script(_RECORD)
        self._last_hour: tuple[str, float, str, str] | None = None  # (venue, now, day, hour) of the last record

    def _local(self, venue: str, ts: float) -> datetime:
        """The venue's wall-clock time of an instant: its day and hour name the keys counted into."""
        return datetime.fromtimestamp(ts, self.tz_of(venue))

    def today(self, venue: str, now: float | None = None) -> date:
        """The venue's current day (the day a report of "today" reads)."""
        return datetime.fromtimestamp(time.time() if now is None else now, self.tz_of(venue)).date()

    def _day_hour(self, venue: str, now: float) -> tuple[str, str]:
        """The day and hour of `now` in the venue's zone. The tracker records a whole batch at one `now`:
        the last answer is kept (a time-zone conversion and two strftime per phone were a tenth of its cost)."""
        last = self._last_hour
        if last is not None and last[0] == venue and last[1] == now:
            return last[2], last[3]
        local = self._local(venue, now)
        day, hour = local.strftime("%Y%m%d"), hour_key(local)
        self._last_hour = (venue, now, day, hour)
        return day, hour

    def record(self, venue: str, client: str, zone: str | None, floor: int | None, x: float | None,
               y: float | None, now: float, pipe: redis.client.Pipeline | None = None) -> None:
        """One live position of a client (zone None: in no zone; floor/x/y None: no heatmap cell).
        With `pipe`, the script is queued on that pipeline (the caller's round trip) instead of sent."""
        self.record_many(venue, [(client, zone, floor, x, y)], now, pipe)

    def record_many(self, venue: str, positions: Sequence[Located], now: float,
                    pipe: redis.client.Pipeline | None = None) -> None:
        """Many clients' positions at one time, in order, in one script call: what as many `record` calls
        would store (tests/tracking/test_batch_listeners.py), for the tracker's batch. A bad client, zone or
        position raises ValueError before anything is sent."""
        keys = FootfallKeys(venue)
        day, hour = self._day_hour(venue, now)
        index, args = self._call(venue, now, day, hour, self.close_per_call, only_close=False)

        def at(key: str) -> int:  # the key's place in KEYS (1-based), added once
            return index.setdefault(key, len(index) + 1)

        zone_at: dict[str, tuple[int, int]] = {}  # per zone its two keys' places, per floor its heat's: made once
        heat_at: dict[int, int] = {}
        for client, zone, floor, x, y in positions:
            if not client or "|" in client:
                raise ValueError("client id must be a non-empty string without '|'")
            if zone is not None and (not zone or "|" in zone):
                raise ValueError("zone id must be a non-empty string without '|'")
            cell = ""
            if floor is not None and x is not None and y is not None:
                if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:  # np.isfinite's answer, ~20x faster
                    raise ValueError("position must be finite and on the plan")
                cell = f"{int(x // self.cell_m)}|{int(y // self.cell_m)}"
            z, f = zone or ALL, int(floor) if floor is not None else 0
            places = zone_at.get(z)
            if places is None:  # at() in the order a call per position made them: visitors, the day's, the heat
                places = zone_at[z] = (at(keys.visitors(day, hour, z)), at(keys.day_visitors(day, z)))
            heat = heat_at.get(f)
            if heat is None:
                heat = heat_at[f] = at(keys.heat(day, f))
            args += [client, zone or "", cell, *places, heat]
        # A cluster pipeline cannot queue a script (no EVALSHA, no reload on NOSCRIPT): sent now.
        self._record(keys=list(index), args=args, client=None if is_cluster(pipe) else pipe)

    def on_positions(self, pipe, venue: str, positions: Sequence[tuple[str, object]], now: float) -> None:
        """A Locator listener (Locator.on_positions): every new position of a phone counts, on the locator's
        round trip; (client, position) each, one script call for all of them."""
        self.record_many(venue, [(client, p.zone, p.floor, p.x, p.y) for client, p in positions], now, pipe)

    def close_idle(self, venue: str, now: float, limit: int = 10_000) -> int:
        """Close visits idle for gap_s (record does this a few at a time; the tracker's sweep calls this
        every 30 s, so a visit closes without a later position in the venue) and add the late ones to their
        days; a visit last seen before the hourly retention counts nowhere. Keeps the phones `staff` finds now
        for the positions' calls. Returns how many closed."""
        day, hour = self._day_hour(venue, now)
        index, args = self._call(venue, now, day, hour, limit, only_close=True)
        if self.staff is not None:
            detected = sorted(self.staff(venue, now))
            args += [len(detected), *detected]
        return int(self._record(keys=list(index), args=args))

    def _call(self, venue: str, now: float, day: str, hour: str, max_close: int,
              only_close: bool) -> tuple[dict[str, int], list[object]]:
        """The script's KEYS (key -> its 1-based place) and ARGV before the positions: the venue's open
        visits, the hour's and day's venue-wide visitors, the staff list, the late visits, and the dwell
        hash of each day a visit closed now may count in (its last sighting's), then the day's salt, its
        changed mark, its count of changes and the detected staff. A position's call names yesterday to tomorrow
        (every visit a running tracker closes: its sweep closes them within minutes), close_idle every day kept (a
        few dozen keys, every 30 s, not on every position)."""
        keys = FootfallKeys(venue)
        days = _dwell_days(venue, day, self.ttl_days - 1 if only_close else 1)
        index: dict[str, int] = {}
        for key in (keys.open_visits(), keys.open_by_time(), keys.visitors(day, hour, ALL),
                    keys.day_visitors(day, ALL), PrivacyKeys(venue).staff(), keys.late_dwell(),
                    *(key for _, key in days)):
            index[key] = len(index) + 1
        index[keys.salt(day)] = len(index) + 1
        index[keys.salt_changed(day)] = len(index) + 1
        index[keys.salt_changes(day)] = len(index) + 1
        index[keys.detected_staff()] = len(index) + 1
        args: list[object] = [repr(float(now)), repr(float(self.gap_s)), self.ttl_s, hour, max_close,
                              "1" if only_close else "0", self.day_ttl_s, len(days), *(label for label, _ in days),
                              new_salt()]
        return index, args

    def report(self, venue: str, day: date | str, zones: list[str] | None = None,
               groups: Mapping[str, str] | None = None) -> FootfallReport:
        """Visitors per zone per hour, unique over the day, visits and mean dwell (day and hours: the venue's; one
        column per hour the day has: 23 or 25 the days the clocks change, `day_hours`). `groups`: zone -> the zone
        standing for its group (portal.tracking.models.venue_groups): that zone counts its members in (`counted_in`)."""
        d = _day_str(day)
        keys = FootfallKeys(venue)
        hours, labels = self.hours(venue, d)
        width = len(hours) + 2  # per zone: each hour's count, the hours' union, the day's roll-up
        if zones is None:
            zones = self._zones_seen(venue, d)
        counted = counted_in(zones, groups or {})
        names = [ALL, *zones]
        pipe = self.db.pipeline(transaction=False)
        for z in names:  # execute_command: a cluster pipeline refuses pipe.pfcount by name (one slot here)
            parts = counted.get(z, [z])  # a group's phones: the union of its zones' (one phone in two stalls: once)
            for h in hours:
                pipe.execute_command("PFCOUNT", *[keys.visitors(d, h, p) for p in parts])
            pipe.execute_command("PFCOUNT", *[keys.visitors(d, h, p) for h in hours for p in parts])
            pipe.execute_command("PFCOUNT", *[keys.day_visitors(d, p) for p in parts])
        pipe.hgetall(keys.dwell(d))
        pipe.get(keys.salt_changed(d))
        pipe.get(keys.salt_changes(d))
        *res, dwell, changed, changes = pipe.execute()
        dwell_raw = {k.decode(): float(v) for k, v in dwell.items()}
        per = {}
        for k, z in enumerate(names):
            chunk = res[k * width:(k + 1) * width]
            # The day's roll-up once it exists (it outlives the hours); the union of the hours before it did.
            per[z] = (chunk[:-2], chunk[-1] or chunk[-2])
        report = FootfallReport(venue=venue, day=d, visitors=per[ALL][1], visitors_by_hour=per[ALL][0], hours=labels,
                                salt_changed_at=float(changed) if changed else None, salts=salts_held(changed, changes))
        for z in zones:
            sums = [sum(dwell_raw.get(f"{p}|{h}|s", 0.0) for p in counted[z]) for h in hours]
            counts = [sum(int(dwell_raw.get(f"{p}|{h}|n", 0)) for p in counted[z]) for h in hours]
            visits = sum(counts)
            report.zones[z] = ZoneFootfall(
                zone=z, visitors=per[z][1], visitors_by_hour=per[z][0], visits=visits,
                mean_dwell_s=(sum(sums) / visits) if visits else None,
                dwell_by_hour=[(s / c) if c else None for s, c in zip(sums, counts, strict=True)],
                members=len(counted[z]) - 1,
            )
        return report

    def hours(self, venue: str, day: str) -> tuple[list[str], list[str]]:
        """The hours of a day (YYYYMMDD) in the venue's zone: their keys (`hour_key`) and their labels, "02" or,
        for an hour the clocks repeat, "02 (UTC+02:00)" then "02 (UTC+01:00)"."""
        starts = day_hours(datetime.strptime(day, "%Y%m%d").date(), self.tz_of(venue))
        labels = [f"{start:%H}{offset}" for start, offset in zip(starts, offsets_where_repeated(starts, "%H"),
                                                                   strict=True)]
        return [hour_key(start) for start in starts], labels

    def _zones_seen(self, venue: str, d: str) -> list[str]:
        zones = set()
        keys = FootfallKeys(venue)
        for prefix in (keys.visitors(d, "", "")[:-2], keys.day_visitors(d, "")[:-1]):  # mp:{venue}:ff:v[d]:<day>
            for key in scan_slot(self.db, _glob_escape(prefix) + ":*", count=500):  # the venue's node only
                zone = key.decode().rsplit(":", 1)[-1]
                if zone != ALL:
                    zones.add(zone)
        fields = self.db.hkeys(FootfallKeys(venue).dwell(d))
        zones |= {f.decode().split("|", 1)[0] for f in fields}
        return sorted(zones)

    def phones_at_least(self, venue: str, day: date | str) -> int:
        """The fewest distinct phones the day's venue-wide count vouches for: the count itself, or on a day whose
        salt changed (a phone seen before and after a change is a member under each salt, and no HyperLogLog
        can tell its members apart) the count shared among the salts, rounded up: n members, at most s of
        each phone, are at least ceil(n / s) phones. A k floor applied to it hides what the inflated count
        would have shown of fewer than k phones."""
        keys, d = FootfallKeys(venue), _day_str(day)
        pipe = self.db.pipeline(transaction=False)
        pipe.execute_command("PFCOUNT", keys.day_visitors(d, ALL))  # by name: a cluster pipeline refuses pfcount
        pipe.get(keys.salt_changed(d))
        pipe.get(keys.salt_changes(d))
        members, changed, changes = pipe.execute()
        return -(-int(members) // salts_held(changed, changes))

    def presence(self, venue: str, day: date | str, floor: int) -> dict[tuple[int, int], int]:
        """{(cell column, cell row): fixes} of one floor and day."""
        raw = self.db.hgetall(FootfallKeys(venue).heat(_day_str(day), int(floor)))
        out = {}
        for k, v in raw.items():
            cx, cy = k.decode().split("|")
            out[(int(cx), int(cy))] = int(v)
        return out

    def presence_grid(self, venue: str, day: date | str, floor: int, width_m: float, height_m: float) -> np.ndarray:
        nx = max(1, int(np.ceil(width_m / self.cell_m)))
        ny = max(1, int(np.ceil(height_m / self.cell_m)))
        grid = np.zeros((ny, nx))
        for (cx, cy), n in self.presence(venue, day, floor).items():
            if 0 <= cx < nx and 0 <= cy < ny:
                grid[cy, cx] += n
        return grid


def counted_in(zones: Sequence[str], groups: Mapping[str, str]) -> dict[str, list[str]]:
    """zone -> the zones whose counts it shows: itself, and for a zone standing for a group (a food hall) the group's
    members (its stalls), as the insights count a stay at a stall as one in the hall (insights `_areas`). A phone
    seen at two of them is one phone of the group; each zone's visit is one of the group's visits."""
    out = {z: [z] for z in zones}
    for member, group in groups.items():
        if group in out and member != group:
            out[group].append(member)
    return out


@lru_cache(maxsize=4096)
def _dwell_days(venue: str, day: str, back: int) -> tuple[tuple[str, str], ...]:
    """(day YYYYMMDD, its dwell key) of `day`, the next day (a position timed a little ahead, kept as the
    visit's last) and the `back` days before it: those a visit closed on `day` may count in here. Built
    once per venue and day in a process."""
    d, keys = datetime.strptime(day, "%Y%m%d").date(), FootfallKeys(venue)
    labels = ((d + timedelta(days=k)).strftime("%Y%m%d") for k in (0, 1, *range(-1, -back - 1, -1)))
    return tuple((label, keys.dwell(label)) for label in labels)


def _iso_day(day: date | str) -> str:
    """The day as people read it (2026-12-05), not as the keys spell it (`_day_str`)."""
    return datetime.strptime(_day_str(day), "%Y%m%d").date().isoformat()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def footfall_report(store: FootfallStore, venue: str, day: date | str, zones: list[str] | None = None,
                    now: float | None = None, groups: Mapping[str, str] | None = None) -> FootfallReport:
    """The day's footfall; closes idle visits first when `now` is given. `groups`: as `FootfallStore.report`."""
    if now is not None:
        store.close_idle(venue, now)
    return store.report(venue, day, zones, groups)


def presence_shown(store: FootfallStore, venue: str, day: date | str, floor: int, width_m: float, height_m: float,
                   k: int = 1) -> np.ndarray:
    """The presence grid as the heatmap shows it, NaN where blank: a cell with fewer position fixes than `k`, and
    every cell while fewer than `k` phones were seen in the venue that day (one phone walking through leaves a fix
    or two a cell, so its path does not show; the cells count fixes, not phones: one that stood long in one place
    still can). The phones are those the day's count vouches for (`phones_at_least`): on a day whose salt changed,
    the count holds one phone more than once."""
    grid = store.presence_grid(venue, day, floor, width_m, height_m)
    if k > 1 and store.phones_at_least(venue, day) < k:
        grid[:] = 0
    return np.where(grid >= max(1, k), grid, np.nan)


def presence_heatmap_png(store: FootfallStore, venue_map, day: date | str, level: int,
                         words: ChartWords | None = None, k: int = 1) -> bytes:
    """The day's presence over the plan of one floor (walls and zones drawn), as PNG bytes; `words`: the chart's
    text in the page's language (English by default); `k`: as `presence_shown`."""
    words = drawable_words(words or ENGLISH)

    floor = venue_map.floor(level)
    shown = presence_shown(store, venue_map.id, day, level, floor.width_m, floor.height_m, k)
    fig, ax = plan_figure(venue_map, level)
    ny, nx = shown.shape
    image = ax.imshow(shown, extent=(0, nx * store.cell_m, ny * store.cell_m, 0), origin="upper", cmap="magma_r",
                      vmin=0, vmax=max(1.0, float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0),
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label=words.fixes_per_cell % {"cell": f"{store.cell_m:g}"}, shrink=0.8)
    # The English names, else the only ones there are (a Chinese-only venue's title was blank): the chart keeps
    # English where the machine has no Chinese font (drawable_words).
    ax.set_title(words.presence_title % {"venue": name_in(venue_map.name, venue_map.name_zh, False),
                                         "floor": name_in(floor.name, floor.name_zh, False), "day": _iso_day(day)})
    draw_plan(ax, venue_map, level, words=words)
    return figure_png(fig)


def today(tz: str = "UTC") -> date:
    return datetime.now(ZoneInfo(tz)).date()
