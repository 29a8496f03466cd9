"""Parking state in Redis: bays, their status, where each plate is parked, lookups (their limits are the
platform's "parking.lookup" and "parking.verify" budgets, portal/apps/budgets.py).

Keys (all under the venue's ``{venue}`` hash tag, so every script stays legal on Redis Cluster):

  parking:bays                  HASH bay id -> JSON {zone, level, x, y, area}   (the garage's bays)
  parking:state                 HASH bay id -> "free" | "occupied"   (absent = unknown, nothing reported)
  parking:state_ts              HASH bay id -> ms timestamp of the status event applied last
  parking:free:<zone>:<level>   SET  free bays      } changed in the same script as `state`,
  parking:occ:<zone>:<level>    SET  occupied bays  } so the counts never drift
  parking:plate:<h>             HASH {bay, ts, text}; PEXPIREAT ts + 24 h; deleted on the exit event
  parking:at                    HASH bay id -> h (the plate seen last at that bay)
  parking:at_exp                ZSET bay id -> when that link expires (ts + 24 h)
  parking:live                  ZSET h -> expiry: the plates parked now (the partial-match index)
  parking:gone:<h>              STRING exit ts; PX 15 min (a late plate-at-bay event cannot revive a car)
  parking:lookups               LIST of lookup log entries (newest first, last 5,000)
  parking:result:<id>           STRING JSON: one lookup's answer for its result page; EX 10 min
  parking:stay:<h>              HASH the plate's stay (entry, exit, money; `plate` only between its exit and
                                the exit's settlement, `shopper` who verified it on the fee page,
                                `open_order` the order made last to pay it on foot); 30 days
  parking:exiting               ZSET "<h>:<exit ms>" -> exit ms: exits not settled yet (the sweeper's list)
  parking:debt:<stay id>        HASH an exit that left money owed (or being charged to an agreement): h, zone,
                                entry/exit ms, total and paid fen, status owed | charging | cleared, order,
                                client (the shopper it is shown to), plate (for the office, until cleared)
  parking:owed                  ZSET stay id -> exit ms: the open debts (owed or charging)
  parking:debts_of:<client>     ZSET stay id -> exit ms: debts shown to this shopper in Me

``h`` is the keyed hash of the folded plate (``plates.PlateHasher``). **Personal data**: the plate text
is kept only in ``parking:plate:<h>`` (it is needed for partial matching), which expires 24 h after the
plate was seen and is deleted when the plate exits. ``at``, ``at_exp`` and ``live`` hold keyed hashes,
never plates; every event batch drops their entries older than 24 h, and each of them expires as a whole
24 h after the last plate was seen. Nothing lists plates; the lookup log holds hashes, not plates. The
one exception is money owed: the plate the exit barrier read is kept on the stay until the exit is settled
(seconds), and on the debt (`parking:debt:<id>`, the office's list) only while the fee is unpaid.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

import redis

from core.storage import VenueKeys
from lightapps.parking import plates
from portal.apps.erasure import blank_field, keys_matching

DAY_MS = 24 * 3600 * 1000
TOMBSTONE_MS = 15 * 60 * 1000
LOG_KEEP = 5000
RESULT_TTL_S = 600
STAY_KEEP_MS = 30 * DAY_MS  # a stay (keyed hash, times, money) is kept 30 days after its last change


class ParkingKeys(VenueKeys):
    def bays(self) -> str:
        return self.key("parking", "bays")

    def state(self) -> str:
        return self.key("parking", "state")

    def state_ts(self) -> str:
        return self.key("parking", "state_ts")

    def free(self, zone: str, level: int) -> str:
        return self.key("parking", "free", zone, str(level))

    def occupied(self, zone: str, level: int) -> str:
        return self.key("parking", "occ", zone, str(level))

    def plate(self, h: str) -> str:
        return self.key("parking", "plate", h)

    def at(self) -> str:
        return self.key("parking", "at")

    def at_exp(self) -> str:
        return self.key("parking", "at_exp")

    def live(self) -> str:
        return self.key("parking", "live")

    def gone(self, h: str) -> str:
        return self.key("parking", "gone", h)

    def lookups(self) -> str:
        return self.key("parking", "lookups")

    def result(self, result_id: str) -> str:
        return self.key("parking", "result", result_id)

    def last_result(self, client: str) -> str:
        return self.key("parking", "last", client)

    def stay(self, h: str) -> str:
        """HASH the plate's stay: entry_ms, zone, status, exit_ms, paid_fen, paid_until_ms, outcome..."""
        return self.key("parking", "stay", h)

    def fee_session(self, session_id: str) -> str:
        return self.key("parking", "fee", session_id)

    def autopay(self, h: str) -> str:
        """STRING the shopper (client id) whose payment agreement pays this plate's fees after it leaves."""
        return self.key("parking", "autopay", h)

    def owed(self) -> str:
        """ZSET stay id -> exit ms: open debts, exits without payment (the office collects them) or being
        charged to an agreement."""
        return self.key("parking", "owed")

    def exiting(self) -> str:
        return self.key("parking", "exiting")

    def debt(self, stay_id: str) -> str:
        return self.key("parking", "debt", stay_id)

    def debts_of(self, client: str) -> str:
        return self.key("parking", "debts_of", client)


@dataclass(frozen=True)
class Bay:
    id: str
    zone: str
    level: int
    x: float
    y: float
    area: str

    def to_json(self) -> str:
        return json.dumps({"zone": self.zone, "level": self.level, "x": self.x, "y": self.y, "area": self.area})

    @classmethod
    def from_json(cls, bay_id: str, raw: bytes | str) -> Bay:
        data = json.loads(raw)
        return cls(bay_id, data["zone"], int(data["level"]), float(data["x"]), float(data["y"]), data["area"])


@dataclass(frozen=True)
class Event:
    """One validated event. kind: "bay" (status), "plate" (plate seen at bay) or "exit"."""

    kind: str
    ts_ms: int
    bay: Bay | None = None
    status: str = ""
    plate_hash: str = ""
    plate_text: str = ""


@dataclass(frozen=True)
class Stay:
    """One visit of a plate: from its entry (or first sighting at a bay) to its exit, and what was paid."""

    plate_hash: str
    entry_ms: int
    zone: str
    status: str  # in | exited | cleared | owed | charging
    exit_ms: int = 0
    paid_fen: int = 0
    paid_until_ms: int = 0
    total_fen: int = 0  # what the stay cost, decided at the exit
    outcome: str = ""
    order: str = ""
    shopper: str = ""  # who verified this stay on the fee page (shown a debt it leaves in Me)
    open_order: str = ""  # the order made last to pay it on foot (perhaps paid or closed since)

    @property
    def id(self) -> str:
        return stay_id(self.plate_hash, self.entry_ms)

    @property
    def owed_fen(self) -> int:
        return max(0, self.total_fen - self.paid_fen) if self.status in ("owed", "charging") else 0


def stay_id(h: str, entry_ms: int) -> str:
    return f"{h[:20]}.{entry_ms}"


@dataclass(frozen=True)
class Debt:
    """An exit that left money owed: what the office collects, and the shopper may pay later."""

    id: str  # the stay's id
    plate_hash: str
    zone: str
    entry_ms: int
    exit_ms: int
    total_fen: int
    paid_fen: int
    status: str  # owed | charging | cleared
    order: str = ""
    client: str = ""
    plate: str = ""

    @property
    def due_fen(self) -> int:
        return max(0, self.total_fen - self.paid_fen)

    @classmethod
    def from_hash(cls, debt_id: str, raw: dict) -> Debt:
        s = {_text(k): _text(v) for k, v in raw.items()}
        return cls(debt_id, s["h"], s.get("zone", ""), int(s["entry_ms"]), int(s["exit_ms"]), int(s["total_fen"]),
                   int(s.get("paid_fen") or 0), s["status"], s.get("order", ""), s.get("client", ""),
                   s.get("plate", ""))


@dataclass(frozen=True)
class Match:
    bay: str
    zone: str
    level: int
    area: str
    seen_ms: int


@dataclass
class FindResult:
    kind: str  # exact | partial | too_many | none
    matches: list[Match] = field(default_factory=list)
    verified: bool = False  # a whole-plate answer: the shopper named the hour the car came in
    plate_hash: str = ""  # an exact answer's stored plate's keyed hash: what guesses at the hour are counted per

    @property
    def count(self) -> int:
        return len(self.matches)


@dataclass(frozen=True)
class LevelCount:
    level: int
    total: int
    free: int
    occupied: int

    @property
    def unknown(self) -> int:
        return self.total - self.free - self.occupied


# One batch of events, atomically. KEYS[1] state, [2] state_ts, [3] at, [4] at_exp, [5] live, [6] exiting, then five
# keys per event: free set and occupied set of its bay's level (an exit: of the bay the plate was seen at),
# the plate hash, the plate's tombstone, the plate's stay (KEYS[1] stands in where an event has no such
# key; it is not touched then).
# ARGV: now_ms, day_ms, tombstone_ms, events JSON [{k, b, s, h, x, t, z}], stay keep ms. Returns one
# result per event: applied | duplicate | stale | unknown. Nothing here can fail half-way: the input is
# validated first. Stays (what the fee is computed from): an entry event starts one; a plate seen at a
# bay starts one when the car park reports no entries; the exit ends it ("exited": the fee is settled
# next, by ParkingStore.settle_exit; until then it is listed in `exiting` for the sweeper, and the stay keeps
# the plate as the barrier read it) and frees the bay the car was seen at.
EVENTS_LUA = """
local now, day, tomb_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local stay_keep = tonumber(ARGV[5])
local events = cjson.decode(ARGV[4])
local state, state_ts, at, at_exp, live = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

for _, b in ipairs(redis.call('ZRANGEBYSCORE', at_exp, '-inf', now)) do redis.call('HDEL', at, b) end
redis.call('ZREMRANGEBYSCORE', at_exp, '-inf', now)
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)

local function unlink(bay, h)
  if h == nil or redis.call('HGET', at, bay) == h then
    redis.call('HDEL', at, bay)
    redis.call('ZREM', at_exp, bay)
  end
end

local function set_status(base, bay, status, t)
  local last = tonumber(redis.call('HGET', state_ts, bay) or '-1')
  if t < last then return 'stale' end
  local current = redis.call('HGET', state, bay)
  if t == last and current == status then return 'duplicate' end
  redis.call('HSET', state, bay, status)
  redis.call('HSET', state_ts, bay, t)
  local free, occ = KEYS[base + 1], KEYS[base + 2]
  if status == 'free' then
    redis.call('SREM', occ, bay)
    redis.call('SADD', free, bay)
    -- the car seen at this bay before it was freed has left it
    local linked = tonumber(redis.call('ZSCORE', at_exp, bay) or '-1')
    if linked >= 0 and linked - day <= t then unlink(bay, nil) end
  else
    redis.call('SREM', free, bay)
    redis.call('SADD', occ, bay)
  end
  return 'applied'
end

local function new_stay(stay, t, zone)
  redis.call('DEL', stay)
  redis.call('HSET', stay, 'entry_ms', t, 'status', 'in', 'paid_fen', 0, 'paid_until_ms', 0, 'zone', zone)
  redis.call('PEXPIRE', stay, stay_keep)
end

local max_exp = 0
local results = {}
for i, e in ipairs(events) do
  local base = 6 + (i - 1) * 5
  local plate, gone, stay = KEYS[base + 3], KEYS[base + 4], KEYS[base + 5]
  local t = e.t
  local result
  if e.k == 'bay' then
    result = set_status(base, e.b, e.s, t)
  elseif e.k == 'entry' then
    local s = redis.call('HMGET', stay, 'entry_ms', 'status', 'exit_ms')
    if s[1] and tonumber(s[1]) == t then
      result = 'duplicate'
    elseif (s[2] == 'in' and t < tonumber(s[1])) or (s[3] and t <= tonumber(s[3])) then
      result = 'stale'
    else
      new_stay(stay, t, '')
      result = 'applied'
    end
  elseif e.k == 'plate' then
    local tomb = tonumber(redis.call('GET', gone) or '-1')
    local cur = redis.call('HMGET', plate, 'bay', 'ts')
    local cur_ts = tonumber(cur[2] or '-1')
    local linked = tonumber(redis.call('ZSCORE', at_exp, e.b) or '-1')
    local freed_after = redis.call('HGET', state, e.b) == 'free'
                        and tonumber(redis.call('HGET', state_ts, e.b) or '-1') > t
    if t <= tomb or t < cur_ts or (linked >= 0 and linked - day > t) or freed_after then
      result = 'stale'
    elseif t == cur_ts and cur[1] == e.b then
      result = 'duplicate'
    else
      if cur[1] and cur[1] ~= e.b then unlink(cur[1], e.h) end
      local exp = t + day
      redis.call('HSET', plate, 'bay', e.b, 'ts', t, 'text', e.x)
      redis.call('PEXPIREAT', plate, exp)
      redis.call('HSET', at, e.b, e.h)
      redis.call('ZADD', at_exp, exp, e.b)
      redis.call('ZADD', live, exp, e.h)
      if exp > max_exp then max_exp = exp end
      set_status(base, e.b, 'occupied', t)
      local s = redis.call('HMGET', stay, 'status', 'exit_ms')
      if not s[1] or (s[1] ~= 'in' and tonumber(s[2] or '0') < t) then
        new_stay(stay, t, e.z)
      elseif s[1] == 'in' then
        redis.call('HSET', stay, 'zone', e.z)
      end
      result = 'applied'
    end
  else -- exit
    local tomb = tonumber(redis.call('GET', gone) or '-1')
    local cur = redis.call('HMGET', plate, 'bay', 'ts')
    if cur[2] and t < tonumber(cur[2]) then
      result = 'stale'
    elseif t <= tomb then
      result = 'duplicate'
    else
      if cur[1] then unlink(cur[1], e.h) end
      if cur[1] and cur[1] == e.b then set_status(base, e.b, 'free', t) end  -- the car has left its bay
      redis.call('DEL', plate)
      redis.call('ZREM', live, e.h)
      redis.call('SET', gone, t, 'PX', tomb_ms)
      if cur[1] then result = 'applied' else result = 'unknown' end
      local s = redis.call('HMGET', stay, 'status', 'entry_ms')
      if s[1] == 'in' and tonumber(s[2]) <= t then
        redis.call('HSET', stay, 'status', 'exited', 'exit_ms', t, 'plate', e.x)
        redis.call('PEXPIRE', stay, stay_keep)
        redis.call('ZADD', KEYS[6], t, e.h .. ':' .. t)
        result = 'applied'
      end
    end
  end
  results[i] = result
end

if max_exp > 0 then
  for _, key in ipairs({at, at_exp, live}) do
    local expires = redis.call('PEXPIRETIME', key)
    if expires == -1 or (expires >= 0 and expires < max_exp) then redis.call('PEXPIREAT', key, max_exp) end
  end
end
return results
"""

# Money paid towards a stay (on foot, charged after it left, or its debt paid later): once per order.
# KEYS[1] stay, KEYS[2] owed zset, KEYS[3] the stay's debt. ARGV: entry ms the order was for, order id, fen,
# paid-until ms, stay keep ms, stay id, what had been paid towards the stay (its debt, once there is one)
# when the order was priced ('' = not checked). Returns 'OK' | 'DUP' (this order was credited before) |
# 'GONE' (no such stay or debt any more, or the debt was paid already: refund it) | 'OVER' (another payment
# was credited since this order was priced: it would pay the same fee again, refund it). Nothing is
# credited unless 'OK': two orders priced for one fee never both count.
CREDIT_LUA = """
local s = redis.call('HMGET', KEYS[1], 'entry_ms', 'status', 'total_fen')
local same = s[1] and s[1] == ARGV[1]
local debt = redis.call('HMGET', KEYS[3], 'status', 'total_fen')
if not same and not debt[1] then return 'GONE' end
local mark = debt[1] and KEYS[3] or KEYS[1]
local field = 'o:' .. ARGV[2]
if redis.call('HEXISTS', mark, field) == 1 then return 'DUP' end
if debt[1] == 'cleared' then return 'GONE' end
if ARGV[7] ~= '' and tonumber(redis.call('HGET', mark, 'paid_fen') or '0') ~= tonumber(ARGV[7]) then
  return 'OVER'
end
redis.call('HSET', mark, field, ARGV[3])
if same then
  local paid = redis.call('HINCRBY', KEYS[1], 'paid_fen', tonumber(ARGV[3]))
  local until_ms = tonumber(redis.call('HGET', KEYS[1], 'paid_until_ms') or '0')
  if tonumber(ARGV[4]) > until_ms then redis.call('HSET', KEYS[1], 'paid_until_ms', ARGV[4]) end
  if (s[2] == 'owed' or s[2] == 'charging') and paid >= tonumber(s[3] or '0') then
    redis.call('HSET', KEYS[1], 'status', 'cleared', 'outcome', s[2] == 'owed' and 'paid_later' or 'charged')
  end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
end
if debt[1] then
  local paid = redis.call('HINCRBY', KEYS[3], 'paid_fen', tonumber(ARGV[3]))
  if paid >= tonumber(debt[2]) then
    redis.call('HSET', KEYS[3], 'status', 'cleared', 'outcome', debt[1] == 'owed' and 'paid_later' or 'charged')
    redis.call('HDEL', KEYS[3], 'plate')
    redis.call('ZREM', KEYS[2], ARGV[6])
  end
end
return 'OK'
"""

# The fee of a stay that has exited, decided once. KEYS[1] stay, [2] owed zset, [3] exiting zset, [4] the
# stay's debt, [5] the shopper's debts (KEYS[2] stands in when no shopper is known). ARGV: exit ms, outcome
# (cleared | owed | charging), total fen the stay cost, order id ('' = none), the stay's id, the exiting
# member, the shopper ('' = none), debt keep ms. Returns 1 when this call decided it, 0 when it was decided
# before (or the stay is another one now). The plate read at the exit moves to the debt, or is dropped.
SETTLE_EXIT_LUA = """
local s = redis.call('HMGET', KEYS[1], 'status', 'exit_ms', 'entry_ms', 'zone', 'paid_fen', 'plate')
if s[1] ~= 'exited' or s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'total_fen', ARGV[3], 'order', ARGV[4], 'outcome', ARGV[2])
redis.call('HDEL', KEYS[1], 'plate')
redis.call('ZREM', KEYS[3], ARGV[6])
if ARGV[2] ~= 'cleared' then
  local h = string.match(ARGV[6], '^(.*):')
  redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[5])
  redis.call('HSET', KEYS[4], 'h', h, 'zone', s[4] or '', 'entry_ms', s[3], 'exit_ms', ARGV[1],
             'total_fen', ARGV[3], 'paid_fen', s[5] or '0', 'status', ARGV[2], 'order', ARGV[4],
             'client', ARGV[7], 'plate', s[6] or '')
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[8]))
  if ARGV[7] ~= '' then
    redis.call('ZADD', KEYS[5], tonumber(ARGV[1]), ARGV[5])
    redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[8]))
  end
end
return 1
"""

# A charge to an agreement that did not go through: the debt (and the stay, while it is that stay) is owed
# now. KEYS[1] stay, [2] debt. ARGV: the stay's entry ms. Returns 1 when it changed something.
MARK_OWED_LUA = """
local changed = 0
if redis.call('HGET', KEYS[2], 'status') == 'charging' then
  redis.call('HSET', KEYS[2], 'status', 'owed', 'order', '')
  changed = 1
end
local s = redis.call('HMGET', KEYS[1], 'entry_ms', 'status')
if s[1] == ARGV[1] and s[2] == 'charging' then
  redis.call('HSET', KEYS[1], 'status', 'owed', 'outcome', 'owed')
  changed = 1
end
return changed
"""

# A shopper verified this stay on the fee page (plate and hour): a debt it leaves is shown to them.
# KEYS[1] stay. ARGV: entry ms, the shopper.
NOTE_SHOPPER_LUA = """
if redis.call('HGET', KEYS[1], 'entry_ms') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'shopper', ARGV[2])
return 1
"""

# An order made to pay the stay on foot: kept as the stay's open order. KEYS[1] stay. ARGV: entry ms, order.
NOTE_ORDER_LUA = """
if redis.call('HGET', KEYS[1], 'entry_ms') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'open_order', ARGV[2])
return 1
"""

# A shopper proved they are the driver of a plate that owes (the fee page): its debts are shown to them too.
# KEYS[1] the shopper's debts, then the debts. ARGV: keep ms, then the debts' ids.
CLAIM_DEBTS_LUA = """
local n = 0
for i = 2, #KEYS do
  local d = redis.call('HMGET', KEYS[i], 'status', 'exit_ms')
  if d[1] == 'owed' then
    redis.call('ZADD', KEYS[1], tonumber(d[2]), ARGV[i])
    n = n + 1
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n
"""

DEBT_KEEP_MS = 400 * DAY_MS  # an unpaid parking fee is kept for the office over a year


# Fixed-window lookup limits. KEYS[1] the shopper's counter, KEYS[2] the client IP's.
# ARGV: shopper limit, IP limit, window ms. Returns {allowed 1/0, ms until the window ends}.
class ParkingStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._events = db.register_script(EVENTS_LUA)
        self._credit = db.register_script(CREDIT_LUA)
        self._settle_exit = db.register_script(SETTLE_EXIT_LUA)
        self._mark_owed = db.register_script(MARK_OWED_LUA)
        self._note_shopper = db.register_script(NOTE_SHOPPER_LUA)
        self._note_order = db.register_script(NOTE_ORDER_LUA)
        self._claim_debts = db.register_script(CLAIM_DEBTS_LUA)

    # ---- bays ---------------------------------------------------------------------------------

    def put_bays(self, venue: str, bays: list[Bay]) -> None:
        """Define the venue's bays (all of them: bays not listed are removed with their status)."""
        keys = ParkingKeys(venue)
        new = {bay.id: bay for bay in bays}
        with self.db.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(keys.bays())
                    old = self._read_bays(pipe, venue)
                    pipe.multi()
                    pipe.delete(keys.bays())
                    if new:
                        pipe.hset(keys.bays(), mapping={b.id: b.to_json() for b in new.values()})
                    for bay in old.values():
                        if bay.id not in new or new[bay.id].zone != bay.zone or new[bay.id].level != bay.level:
                            pipe.hdel(keys.state(), bay.id)
                            pipe.hdel(keys.state_ts(), bay.id)
                            pipe.srem(keys.free(bay.zone, bay.level), bay.id)
                            pipe.srem(keys.occupied(bay.zone, bay.level), bay.id)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _read_bays(self, conn, venue: str) -> dict[str, Bay]:
        raw = conn.hgetall(ParkingKeys(venue).bays())
        bays = {k.decode(): Bay.from_json(k.decode(), v) for k, v in raw.items()}
        return dict(sorted(bays.items()))

    def bays(self, venue: str, zone: str | None = None) -> dict[str, Bay]:
        bays = self._read_bays(self.db, venue)
        return bays if zone is None else {k: b for k, b in bays.items() if b.zone == zone}

    def states(self, venue: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.db.hgetall(ParkingKeys(venue).state()).items()}

    def level_counts(self, venue: str, zone: str, bays: dict[str, Bay] | None = None) -> list[LevelCount]:
        """Free and occupied bays per level of the zone (bays nothing reported on are unknown)."""
        keys = ParkingKeys(venue)
        bays = self.bays(venue, zone) if bays is None else bays
        totals = Counter(b.level for b in bays.values() if b.zone == zone)
        levels = sorted(totals)
        pipe = self.db.pipeline(transaction=False)
        for level in levels:
            pipe.scard(keys.free(zone, level))
            pipe.scard(keys.occupied(zone, level))
        counts = pipe.execute()
        return [LevelCount(level, totals[level], counts[2 * i], counts[2 * i + 1]) for i, level in enumerate(levels)]

    def area_counts(self, venue: str, zone: str) -> list[dict]:
        """Per level and area: total, free, occupied, unknown (the owner console's table)."""
        states = self.states(venue)
        rows: dict[tuple[int, str], Counter] = {}
        for bay in self.bays(venue, zone).values():
            row = rows.setdefault((bay.level, bay.area), Counter())
            row["total"] += 1
            row[states.get(bay.id, "unknown")] += 1
        return [{"level": level, "area": area, "total": c["total"], "free": c["free"],
                 "occupied": c["occupied"], "unknown": c["unknown"]} for (level, area), c in sorted(rows.items())]

    # ---- events ---------------------------------------------------------------------------------

    def apply_events(self, venue: str, events: list[Event], now: float | None = None) -> list[str]:
        """Apply a validated batch in one atomic script; per event: applied | duplicate | stale | unknown."""
        if not events:
            return []
        keys = ParkingKeys(venue)
        now_ms = int((time.time() if now is None else now) * 1000)
        key_list = [keys.state(), keys.state_ts(), keys.at(), keys.at_exp(), keys.live(), keys.exiting()]
        exits = [e.plate_hash for e in events if e.kind == "exit"]
        bays = self.bays(venue) if exits else {}
        pipe = self.db.pipeline(transaction=False)
        for h in exits:
            pipe.hget(keys.plate(h), "bay")
        # The bay each exiting car was seen at (the script frees it only if the plate is still linked there).
        seen_at = dict(zip(exits, [bays.get(_text(b)) for b in pipe.execute()], strict=True)) if exits else {}
        payload = []
        for event in events:
            spare = keys.state()
            if event.kind == "plate" and event.bay is not None:
                seen_at[event.plate_hash] = event.bay  # seen in this batch, before its exit
            bay = event.bay if event.kind != "exit" else seen_at.get(event.plate_hash)
            if bay is not None:
                key_list += [keys.free(bay.zone, bay.level), keys.occupied(bay.zone, bay.level)]
            else:
                key_list += [spare, spare]
            if event.plate_hash:
                key_list += [keys.plate(event.plate_hash), keys.gone(event.plate_hash), keys.stay(event.plate_hash)]
            else:
                key_list += [spare, spare, spare]
            payload.append({"k": event.kind, "t": event.ts_ms, "b": bay.id if bay else "", "z": bay.zone if bay else "",
                            "s": event.status, "h": event.plate_hash, "x": event.plate_text})
        results = self._events(keys=key_list, args=[now_ms, DAY_MS, TOMBSTONE_MS, json.dumps(payload), STAY_KEEP_MS])
        return [_text(r) for r in results]

    # ---- stays and fees -------------------------------------------------------------------------

    def stay(self, venue: str, h: str) -> Stay | None:
        raw = {_text(k): _text(v) for k, v in self.db.hgetall(ParkingKeys(venue).stay(h)).items()}
        if "entry_ms" not in raw:
            return None
        return Stay(h, int(raw["entry_ms"]), raw.get("zone", ""), raw.get("status", "in"),
                    int(raw.get("exit_ms") or 0), int(raw.get("paid_fen") or 0), int(raw.get("paid_until_ms") or 0),
                    int(raw.get("total_fen") or 0), raw.get("outcome", ""), raw.get("order", ""),
                    raw.get("shopper", ""), raw.get("open_order", ""))

    def credit(self, venue: str, h: str, entry_ms: int, order_id: str, fen: int, paid_until_ms: int,
               paid_before: int | None = None) -> str:
        """Book `fen` paid for the stay that began at `entry_ms` (and its debt): "ok", "dup", "gone" or
        "over" (see CREDIT_LUA). `paid_before`: what had been paid towards the stay when the order was
        priced; given, the order is credited only while that is still so (else "over": refund it)."""
        keys = ParkingKeys(venue)
        sid = stay_id(h, entry_ms)
        return _text(self._credit(keys=[keys.stay(h), keys.owed(), keys.debt(sid)],
                                  args=[entry_ms, order_id, int(fen), int(paid_until_ms), STAY_KEEP_MS,
                                        sid, "" if paid_before is None else int(paid_before)])).lower()

    def note_order(self, venue: str, h: str, entry_ms: int, order_id: str) -> bool:
        """The order just made to pay the stay on foot (the fee page sends the shopper back to it while it is
        open, rather than making another)."""
        return bool(self._note_order(keys=[ParkingKeys(venue).stay(h)], args=[entry_ms, order_id]))

    def settle_exit(self, venue: str, stay: Stay, outcome: str, total_fen: int, order_id: str = "",
                    client: str = "") -> bool:
        """Record once what an exited stay came to (a debt when it is not cleared, shown to `client`);
        False if it was settled before."""
        keys = ParkingKeys(venue)
        return bool(self._settle_exit(
            keys=[keys.stay(stay.plate_hash), keys.owed(), keys.exiting(), keys.debt(stay.id),
                  keys.debts_of(client) if client else keys.owed()],
            args=[stay.exit_ms, outcome, int(total_fen), order_id, stay.id, f"{stay.plate_hash}:{stay.exit_ms}",
                  client, DEBT_KEEP_MS]))

    def mark_owed(self, venue: str, h: str, entry_ms: int) -> bool:
        """The agreement's charge did not go through: the debt is owed (see MARK_OWED_LUA)."""
        keys = ParkingKeys(venue)
        return bool(self._mark_owed(keys=[keys.stay(h), keys.debt(stay_id(h, entry_ms))], args=[entry_ms]))

    def exiting(self, venue: str, before_ms: int, limit: int = 200) -> list[tuple[str, int]]:
        """(h, exit ms) of exits not settled, that happened before `before_ms`, oldest first."""
        rows = self.db.zrangebyscore(ParkingKeys(venue).exiting(), "-inf", before_ms, start=0, num=limit)
        return [(h, int(ms)) for h, _sep, ms in (_text(m).rpartition(":") for m in rows)]

    def drop_exiting(self, venue: str, h: str, exit_ms: int) -> None:
        """An exit the sweeper found settled or replaced (another stay began): off its list."""
        self.db.zrem(ParkingKeys(venue).exiting(), f"{h}:{exit_ms}")

    def note_shopper(self, venue: str, h: str, entry_ms: int, client: str) -> bool:
        return bool(self._note_shopper(keys=[ParkingKeys(venue).stay(h)], args=[entry_ms, client]))

    def debt(self, venue: str, debt_id: str) -> Debt | None:
        raw = self.db.hgetall(ParkingKeys(venue).debt(debt_id)) if len(debt_id) <= 40 else {}
        return Debt.from_hash(debt_id, raw) if raw else None

    def _debts(self, venue: str, ids: list[str]) -> list[Debt]:
        keys = ParkingKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for debt_id in ids:
            pipe.hgetall(keys.debt(debt_id))
        return [Debt.from_hash(i, raw) for i, raw in zip(ids, pipe.execute(), strict=True) if raw]

    def open_debts(self, venue: str, limit: int = 500) -> list[Debt]:
        """The open debts (owed or being charged), newest exit first."""
        ids = [_text(m) for m in self.db.zrevrange(ParkingKeys(venue).owed(), 0, limit - 1)]
        return self._debts(venue, ids) if ids else []

    def debts_of(self, venue: str, client: str, limit: int = 20) -> list[Debt]:
        """The debts shown to this shopper (all states; the caller picks the open ones), newest first."""
        ids = [_text(m) for m in self.db.zrevrange(ParkingKeys(venue).debts_of(client), 0, limit - 1)]
        return self._debts(venue, ids) if ids else []

    def plate_debts(self, venue: str, h: str, limit: int = 500) -> list[Debt]:
        """The open debts of one plate (its keyed hash)."""
        return [d for d in self.open_debts(venue, limit) if d.plate_hash == h]

    def claim_debts(self, venue: str, client: str, debts: list[Debt]) -> int:
        """Show these debts (of a plate the shopper proved theirs) to the shopper too."""
        if not debts:
            return 0
        keys = ParkingKeys(venue)
        return int(self._claim_debts(keys=[keys.debts_of(client), *(keys.debt(d.id) for d in debts)],
                                     args=[DEBT_KEEP_MS, *(d.id for d in debts)]))

    def owed(self, venue: str, limit: int = 100) -> list[tuple[str, int]]:
        """(stay id, exit ms) of exits still owed, newest first."""
        rows = self.db.zrevrange(ParkingKeys(venue).owed(), 0, limit - 1, withscores=True)
        return [(_text(member), int(score)) for member, score in rows]

    def save_fee_session(self, venue: str, client: str, zone: str, h: str, entry_ms: int) -> str:
        """A plate typed on the fee page, kept 10 minutes for the page the POST redirects to (the plate's
        keyed hash and the stay's entry, never the plate)."""
        session_id = secrets.token_urlsafe(12)
        data = {"client": client, "zone": zone, "h": h, "entry_ms": entry_ms, "verified": False}
        self.db.set(ParkingKeys(venue).fee_session(session_id), json.dumps(data), ex=RESULT_TTL_S)
        return session_id

    def load_fee_session(self, venue: str, client: str, session_id: str) -> dict | None:
        raw = self.db.get(ParkingKeys(venue).fee_session(session_id))
        data = json.loads(raw) if raw else None
        return data if data and data["client"] == client else None

    def verify_fee_session(self, venue: str, session_id: str) -> None:
        self._mark_verified(ParkingKeys(venue).fee_session(session_id))

    def _mark_verified(self, key: str) -> None:
        """A kept page's record (`save_result`, `save_fee_session`) marked verified, only while it is still
        there: XX, for a record that expired or was erased (`forget_shopper`) since the read would be written
        back by KEEPTTL with no expiry, the shopper's client id and plate hash kept for ever."""
        raw = self.db.get(key)
        if raw is not None:
            self.db.set(key, json.dumps({**json.loads(raw), "verified": True}), keepttl=True, xx=True)

    def set_autopay(self, venue: str, h: str, client: str, ttl_s: int = 365 * 86400) -> None:
        """This plate's fees are charged after it leaves to the agreement of this shopper (a member)."""
        self.db.set(ParkingKeys(venue).autopay(h), client, ex=ttl_s)

    def autopay_client(self, venue: str, h: str) -> str | None:
        raw = self.db.get(ParkingKeys(venue).autopay(h))
        return _text(raw) if raw else None

    # ---- lookups --------------------------------------------------------------------------------

    def find(self, venue: str, query_hash: str, query: str, now: float | None = None) -> FindResult:
        """Where the plate is parked (see the rule in `plates`). Reads only; the caller logs the lookup."""
        keys = ParkingKeys(venue)
        now_ms = int((time.time() if now is None else now) * 1000)
        bays = self.bays(venue)
        exact = self._current(venue, query_hash, bays, now_ms)
        if exact is not None:
            return FindResult("exact", [exact], plate_hash=query_hash)
        live = [m.decode() for m in self.db.zrangebyscore(keys.live(), now_ms, "+inf")]
        pipe = self.db.pipeline(transaction=False)
        for h in live:
            pipe.hmget(keys.plate(h), "bay", "ts", "text")
        records = pipe.execute() if live else []
        # (folded again: a plate stored before the fold learned a character, e.g. 粵, is still compared alike)
        candidates = [(h, rec) for h, rec in zip(live, records, strict=True)
                      if rec[2] is not None and plates.is_candidate(query, plates.fold(rec[2].decode()))]
        if candidates:
            links = self.db.hmget(keys.at(), [rec[0].decode() for _h, rec in candidates])
            candidates = [(h, rec) for (h, rec), link in zip(candidates, links, strict=True)
                          if link is not None and link.decode() == h]
        found = []
        for h, (bay_id, ts, text) in candidates:
            bay = bays.get(bay_id.decode())
            if bay is not None and int(ts) + DAY_MS > now_ms:
                found.append((plates.is_exact(query, plates.fold(text.decode())),
                              Match(bay.id, bay.zone, bay.level, bay.area, int(ts)), h))
        whole = [(m, h) for is_whole, m, h in found if is_whole]
        # A Chinese plate typed without its province character, or read without it and typed with it: exact when
        # it names one plate only, with the stored plate's hash (guesses at the hour count on that one plate).
        # More than one (粤BD8888 and 湘BD8888 for "BD8888") is answered as a partial match, by the same cap.
        if len(whole) == 1:
            return FindResult("exact", [whole[0][0]], plate_hash=whole[0][1])
        if not found:
            return FindResult("none")
        if len(found) > plates.MAX_MATCHES:
            return FindResult("too_many")
        found.sort(key=lambda item: -item[1].seen_ms)
        return FindResult("partial", [m for _w, m, _h in found])

    def _current(self, venue: str, h: str, bays: dict[str, Bay], now_ms: int) -> Match | None:
        keys = ParkingKeys(venue)
        bay_id, ts = self.db.hmget(keys.plate(h), "bay", "ts")
        if bay_id is None or ts is None or int(ts) + DAY_MS <= now_ms:
            return None
        bay_id = bay_id.decode()
        if (self.db.hget(keys.at(), bay_id) or b"").decode() != h or bay_id not in bays:
            return None  # another car was seen at that bay since, or the bay was freed
        bay = bays[bay_id]
        return Match(bay.id, bay.zone, bay.level, bay.area, int(ts))

    def log_lookup(self, venue: str, zone: str, client: str, plate_hash: str, kind: str, results: int,
                   now: float | None = None) -> None:
        """The operator's record of every lookup: keyed hash of the plate, never the plate."""
        entry = json.dumps({"ts": round(time.time() if now is None else now, 3), "zone": zone,
                            "plate": plate_hash[:16], "shopper": client, "kind": kind, "results": results})
        pipe = self.db.pipeline(transaction=True)
        pipe.lpush(ParkingKeys(venue).lookups(), entry)
        pipe.ltrim(ParkingKeys(venue).lookups(), 0, LOG_KEEP - 1)
        pipe.execute()

    def lookups(self, venue: str, limit: int = 50) -> list[dict]:
        return [json.loads(e) for e in self.db.lrange(ParkingKeys(venue).lookups(), 0, limit - 1)]

    # ---- result pages -------------------------------------------------------------------------

    def save_result(self, venue: str, client: str, zone: str, result: FindResult, plate_hash: str = "") -> str:
        """Keep one lookup's answer (bays and areas, and the plate's keyed hash, never the plate) for the
        page the POST redirects to; a whole-plate answer starts unverified (see `verify_result`)."""
        result_id = secrets.token_urlsafe(12)
        data = {"client": client, "zone": zone, "kind": result.kind, "plate": result.plate_hash or plate_hash[:16],
                "matches": [m.__dict__ for m in result.matches]}
        keys = ParkingKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.set(keys.result(result_id), json.dumps(data), ex=RESULT_TTL_S)
        pipe.set(keys.last_result(client), result_id, ex=RESULT_TTL_S)  # "my car" in Me
        pipe.execute()
        return result_id

    def last_result_id(self, venue: str, client: str) -> str | None:
        """The shopper's latest lookup still kept (for Me's "my car")."""
        raw = self.db.get(ParkingKeys(venue).last_result(client))
        return raw.decode() if raw else None

    def load_result(self, venue: str, client: str, result_id: str) -> tuple[str, FindResult] | None:
        raw = self.db.get(ParkingKeys(venue).result(result_id))
        if raw is None:
            return None
        data = json.loads(raw)
        if data["client"] != client:
            return None
        return data["zone"], FindResult(data["kind"], [Match(**m) for m in data["matches"]],
                                        verified=bool(data.get("verified")), plate_hash=data.get("plate", ""))

    def verify_result(self, venue: str, result_id: str) -> None:
        """The shopper showed something only the car's owner knows: the page may show the bay and route."""
        self._mark_verified(ParkingKeys(venue).result(result_id))

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def _lookups_of(self, venue: str, client: str) -> list[bytes]:
        return [raw for raw in self.db.lrange(ParkingKeys(venue).lookups(), 0, -1)
                if json.loads(raw).get("shopper") == client]

    def export_shopper(self, venue: str, client: str) -> dict:
        """The shopper's lookups in the operator's log (plate as its keyed hash) and the answer kept for Me."""
        lookups = [json.loads(raw) for raw in self._lookups_of(venue, client)]
        result_id = self.last_result_id(venue, client)
        kept = self.load_result(venue, client, result_id) if result_id else None
        out: dict = {"lookups": lookups} if lookups else {}
        if kept is not None:
            out["last_result"] = {"zone": kept[0], "kind": kept[1].kind, "bays": [m.bay for m in kept[1].matches]}
        debts = self.debts_of(venue, client)
        if debts:
            out["parking_fees_owed"] = [{"visit": d.id, "left_ms": d.exit_ms, "due_fen": d.due_fen,
                                         "status": d.status} for d in debts]
        autopay = self._autopay_of(venue, client)
        if autopay:
            out["leave_first_pay_after_plates"] = [_text(key).rsplit(":", 1)[1] for key in autopay]  # keyed hashes
        return out

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the shopper's lookups leave the log; the answers kept for their pages go."""
        keys = ParkingKeys(venue)
        removed = sum(int(self.db.lrem(keys.lookups(), 0, raw)) for raw in self._lookups_of(venue, client))
        for pattern in (keys.result("*"), keys.fee_session("*")):
            for key in keys_matching(self.db, pattern):
                raw = self.db.get(key)
                if raw is not None and json.loads(raw).get("client") == client:
                    removed += int(self.db.delete(key))
        removed += sum(int(self.db.delete(key)) for key in self._autopay_of(venue, client))
        # a debt stays the car park's record (money owed), but no longer names the shopper
        removed += sum(blank_field(self.db, keys.debt(d.id), "client", client) for d in self.debts_of(venue, client))
        removed += sum(blank_field(self.db, key, "shopper", client) for key in keys_matching(self.db, keys.stay("*")))
        return removed + int(self.db.delete(keys.last_result(client), keys.debts_of(client)))

    def _autopay_of(self, venue: str, client: str) -> list[str]:
        """The plates (keys of their keyed hashes) whose fees this shopper's agreement pays."""
        return [key for key in keys_matching(self.db, ParkingKeys(venue).autopay("*"))
                if _text(self.db.get(key)) == client]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))
