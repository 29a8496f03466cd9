"""Cinema storage: showtimes, seat holds and bookings, each change one atomic Lua script.

Keys (all under the venue's `{venue}` hash tag, so every script stays legal on Redis Cluster):

    cinema:show:<show>            HASH   the showtime (zone, film_en/zh, auditorium, starts_at, price_cents...;
                                         status "cancelled" once the cinema cancelled it, moved_ms when it last
                                         moved its start while it had tickets, moved_from the start its holders
                                         last knew)
    cinema:cancelling             ZSET   show id -> when it was cancelled: cancellations not finished (tickets to
                                         cancel, orders to close, refunds to ask for, holders to tell); put on by
                                         the script that marks the show cancelled, taken off only when nothing is
                                         left (lightapps/cinema/cancellation.py; the payments sweep finishes them)
    cinema:moving                 ZSET   show id -> moved_ms: moves whose holders are still to be told (same)
    cinema:cancel-refunds         ZSET   booking code -> when it was cancelled (or its refund last failed to be
                                         asked for): paid tickets cancelled alone, by their shopper or at the
                                         cinema's counter, whose refund's outcome is not yet kept on them; put on
                                         by the script that cancels the booking, taken off by the one that settles
                                         it (same)
    cinema:cancelled-holds:<show> SET    the hold tokens a cancellation released (their open orders to close),
                                         kept until the cancellation is finished
    cinema:shows:<zone>           ZSET   show id -> start time (epoch s), for listing a zone's showtimes
    cinema:ext:<zone>             HASH   the cinema system's showtime id -> our show id (pushes are upserts)
    cinema:once:add:<zone>:<nonce>.<digest> STRING the show ids an owner's add form (its one-time token and content:
                                         portal.apps.once.read_form_once) stored, ONCE_TTL_S: the same form sent
                                         again (a double tap) is answered with them
    cinema:seats:<show>           HASH   seat id -> "H|<hold token>|<expires ms>" or "B|<booking code>";
                                         a seat with no field, or with a hold past its expiry, is free
    cinema:hold:<token>           HASH   a hold: show, client, seats, expires_ms, status, code, refund_cutoff_s,
                                         extended ("1" once it was given more time; a re-pick keeps it)
    cinema:myhold:<show>:<client> STRING the shopper's live hold token on this show (one hold each)
    cinema:booking:<code>         HASH   a booking: show, zone, client, seats, created_ms, held_ms (when its hold
                                         was made), status, refund_cutoff_s (the zone's refund cut-off when its
                                         seats were held: the ticket's own), cancelled_by ("cinema": cancelled
                                         with its showtime; "counter": alone, at the cinema's counter),
                                         refund_outcome (set once a cancelled ticket's refund was asked for
                                         and, the cinema's with its showtime, its holder told: "none", or the
                                         refund's state)
    cinema:bookings:<show>        ZSET   booking code -> created ms, for the owner's list
    cinema:tickets:<client>       ZSET   booking code -> created ms, for the shopper's "your tickets"
    cinema:orders-backfilled      STRING when the payments sweep copied the paying order onto the bookings made
                                         before bookings kept it (once per venue: lightapps/cinema/payment.py)

Expiry is decided from the stored expiry time compared with "now" inside the script, never from key
expiry events: a lapsed hold simply stops counting as taken. "Now" is the Redis server's clock (TIME), so
all app servers agree; tests may pass `now_ms` to replay time deterministically.

Records naming a shopper expire, each given its expiry by the script that writes it: a hold record a day
after the hold's end (or its confirmation), the live-hold pointer with the hold; a booking
`KEEP_AFTER_SHOW_S` (30 days) after its showtime starts (the ticket, then the record for a dispute or a
refund); "your tickets", reached only through the shopper's token, at least the token's lifetime
(`SHOPPER_TOKEN_TTL_S`) after the latest booking and at least as long as each booking it lists. A booking
only ever moves an expiry later. The showtimes, seat maps and per-show booking lists are the cinema's and do
not expire."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from core.replication import confirm as replicated
from core.settings import Settings
from core.storage import LUA_KEEP, LUA_STORE_CLOCK, VenueKeys
from lightapps.cinema.layouts import AUDITORIUMS, Layout
from portal.apps.erasure import blank_field, glob_escape, keys_matching
from portal.media.store import text_ref

POSTER_PAST_S = 24 * 3600  # a poster may go on a film shown from a day ago on (the console lists those)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the counter
CODE_LENGTH = 8
HOLD_RECORD_KEEP_MS = 24 * 3600 * 1000  # a hold record outlives its expiry a day (for "your hold expired")
# The most time one extension adds to a hold (CinemaStore.extend_hold; once per hold): seats are scarce, and a
# shopper who needs more time (WCAG 2.2.1) gets it once, never a hold that lasts.
HOLD_EXTRA_MAX_S = 5 * 60
KEEP_AFTER_SHOW_S = 30 * 86400  # a booking is kept this long after its showtime starts (disputes, refunds)
ONCE_TTL_S = 600  # an add form's answer is given again this long: a double tap, a resend after a slow network
# Who cancelled a booking (Booking.cancelled_by; "" its shopper, or not cancelled): the cinema with its showtime, or
# the cinema at its counter, one ticket alone (each keeps its refund's outcome).
BY_CINEMA = "cinema"
AT_COUNTER = "counter"
# What became of the refund of a ticket the cinema cancelled (Booking.refund_outcome): nothing was paid online...
NO_REFUND = "none"
# ...the money is on its way back (done, or asked again by the payments sweep until the provider answers)...
REFUND_UNDER_WAY = ("done", "processing", "pending")
# ...or anything else: it could not be made online (the provider refused it for good, "refused"; the order was no
# longer refundable, "state", or not for that much, "exceeds"): the cinema arranges it with the holder.
# A refund the order could not take then may be asked for again (another refund of the order that fails frees what it
# held); one the provider refused is refused again under the same refund number: by hand only.
REFUND_TO_RETRY = ("state", "exceeds")
# An outcome no later word replaces (a slower caller's "pending" read before it was made, say).
REFUND_FINAL = (NO_REFUND, "done", "refused")


def refund_to_arrange(outcome: str) -> bool:
    """A cancelled ticket's settled refund outcome that the cinema must arrange with its holder itself."""
    return outcome not in ("", NO_REFUND, *REFUND_UNDER_WAY)


class CinemaKeys(VenueKeys):
    def show(self, show_id: str) -> str:
        return self.key("cinema", "show", show_id)

    def shows(self, zone: str) -> str:
        return self.key("cinema", "shows", zone)

    def external_ids(self, zone: str) -> str:
        return self.key("cinema", "ext", zone)

    def add_once(self, zone: str, nonce: str) -> str:
        return self.key("cinema", "once", "add", zone, nonce)

    def seats(self, show_id: str) -> str:
        return self.key("cinema", "seats", show_id)

    def hold(self, token: str) -> str:
        return self.key("cinema", "hold", token)

    def client_hold(self, show_id: str, client: str) -> str:
        return self.key("cinema", "myhold", show_id, client)

    def booking(self, code: str) -> str:
        return self.key("cinema", "booking", code)

    def show_bookings(self, show_id: str) -> str:
        return self.key("cinema", "bookings", show_id)

    def client_tickets(self, client: str) -> str:
        return self.key("cinema", "tickets", client)

    def cancelling(self) -> str:
        return self.key("cinema", "cancelling")

    def cancel_refunds(self) -> str:
        return self.key("cinema", "cancel-refunds")

    def moving(self) -> str:
        return self.key("cinema", "moving")

    def cancelled_holds(self, show_id: str) -> str:
        return self.key("cinema", "cancelled-holds", show_id)

    def orders_backfilled(self) -> str:
        return self.key("cinema", "orders-backfilled")


# ---- Lua -------------------------------------------------------------------------------------------

_NOW = LUA_STORE_CLOCK + """
local function split(s)
  local out = {}
  for part in string.gmatch(s or '', '[^,]+') do out[#out + 1] = part end
  return out
end
"""

# The first item of an upsert that would start less than `gap` s from another live show in its hall (shows carry no
# running time: the gap stands for one). Checked: the items that are new or move (another start or hall) and stay
# live; each against the batch's other live items where the batch puts them (an item checked too only when it comes
# first: the later of two is the one refused) and against the stored shows in its window that the batch does not
# name. Those are read from the zone's zset here, their hashes through `cands` (id -> KEYS index: Python read the
# same windows); one Python did not pass (added since) is {'RETRY', i}. A show not moved is not checked: a schedule
# pushed again is not refused for an overlap it had before the check existed.
_FIND_CLASH = """
local function find_clash(items, gap, cands)
  local live, checked, in_batch = {}, {}, {}
  for i, entry in ipairs(items) do
    local item, old_aud, old_start, kept = entry[1], entry[3], entry[5], entry[6]
    in_batch[item.id] = true
    live[i] = not kept and item.status ~= 'cancelled'
    checked[i] = live[i] and (old_aud ~= item.auditorium or old_start ~= item.starts_at)
  end
  for i, entry in ipairs(items) do
    if checked[i] then
      local item = entry[1]
      local at = tonumber(item.starts_at)
      for j, other in ipairs(items) do
        local o = other[1]
        if j ~= i and live[j] and (j < i or not checked[j]) and o.auditorium == item.auditorium
           and math.abs(tonumber(o.starts_at) - at) < gap then
          return {'CLASH', i, o.id, j}
        end
      end
      local near = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%d', at - gap), string.format('(%d', at + gap))
      for _, id in ipairs(near) do
        if not in_batch[id] then
          if not cands[id] then return {'RETRY', i} end
          local s = redis.call('HMGET', KEYS[cands[id]], 'auditorium', 'status')
          if s[1] == item.auditorium and s[2] ~= 'cancelled' then return {'CLASH', i, id, 0} end
        end
      end
    end
  end
  return nil
end
"""

# Upsert a batch of showtimes, all or nothing.
# KEYS[1] zone shows zset, KEYS[2] external-id hash, KEYS[3] the venue's cancelling zset, KEYS[4] its moving zset,
# KEYS[5] the add form's one-time record (KEYS[1] again when there is none), then per item: show hash, seats hash;
# then the hashes of the stored shows named in ARGV[1]'s cands.
# ARGV[1] = JSON {"gap": minimum seconds between two starts in one hall (0: not checked), "once": '1' when KEYS[5]
# is the form's record, "ttl": how long that record is kept (s), "cands": [show id, ...] (see _FIND_CLASH; also
# the stored shows starting when an item without ext does, for "same"), "same": '1' when an item without ext that
# is a live stored show again (the same films, hall, start and price) is that show (a push retried: a duplicate)};
# ARGV[1 + i] = JSON of item i (all values strings): id, ext, mapped (the show id Python found for ext, or ''),
# status ('' keep the show's, 'scheduled', 'cancelled'), confirm ('1': a new start time for a show with tickets is
# meant).
# Returns {'OK', created, updated, duplicates, i, old starts_at, ...} (duplicates: "i:show id,..." the items that
#         were a stored show again, "same"; then the items that moved a show with tickets, and from when)
#       | {'REPLAY', ids} (the same form again: the comma-joined show ids it stored the first time)
#       | {'RETRY', i} (the ext mapping moved since Python read it, or a show was added in an item's window or at
#         its start)
#       | {'CLASH', i, show id, j} (item i starts too close to that live show in its hall: item j of the batch, or
#         j = 0, a stored one)
#       | {'CONFLICT', i} (auditorium change on a show that already has holds or bookings)
#       | {'MOVED', i} (a new start time for a show with a booking or a live hold, not confirmed)
#       | {'REOPEN', i} ('scheduled' for a show that was cancelled: its tickets were cancelled and refunded)
#       | {'UNKNOWN', i} ('cancelled' for a show not stored: nothing to cancel).
# An item for a show already cancelled (no status, or 'cancelled' again) changes nothing of it: the show its ticket
# holders were told about is the one they were sold. An item cancelling a stored show changes nothing else of it
# either, and puts it on the cancelling set in the same step (its tickets, orders, refunds and notices are
# lightapps/cinema/cancellation.py's, finished whatever fails after this script); a confirmed move of a show with
# tickets puts it on the moving set (its holders to be told), keeping in moved_from the start they last knew.
_UPSERT = _NOW + _FIND_CLASH + """
local now = now_ms('')
local opts = cjson.decode(ARGV[1])
if opts.once == '1' then
  local seen = redis.call('GET', KEYS[5])
  if seen then return {'REPLAY', seen} end
end
local function has_tickets(seats_key)
  local flat = redis.call('HGETALL', seats_key)
  for k = 2, #flat, 2 do
    local v = flat[k]
    if string.sub(v, 1, 2) == 'B|' then return true end
    local exp = string.match(v, '^H|[^|]+|(%d+)$')
    if exp and tonumber(exp) > now then return true end
  end
  return false
end
local cands = {}
for k, id in ipairs(opts.cands) do cands[id] = 5 + 2 * (#ARGV - 1) + k end
-- the live stored show this item without ext is again (nil: none; false: one Python did not pass, read again)
local function same_show(item)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], item.starts_at, item.starts_at)) do
    if not cands[id] then return false end
    local s = redis.call('HMGET', KEYS[cands[id]], 'status', 'auditorium', 'film_en', 'film_zh', 'price_cents')
    if s[1] ~= 'cancelled' and s[2] == item.auditorium and s[3] == item.film_en and (s[4] or '') == item.film_zh
       and s[5] == item.price_cents then return id end
  end
  return nil
end
local items = {}
for i = 1, #ARGV - 1 do
  local item = cjson.decode(ARGV[1 + i])
  local show_key, seats_key = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  if item.ext ~= '' then
    local mapped = redis.call('HGET', KEYS[2], item.ext)
    if (mapped or '') ~= item.mapped then return {'RETRY', i} end
  elseif opts.same == '1' then
    local same = same_show(item)
    if same == false then return {'RETRY', i} end
    item.same = same
  end
  local old = redis.call('HMGET', show_key, 'auditorium', 'status', 'starts_at')
  local old_aud, moved, kept = old[1], false, false
  if old_aud and old[2] == 'cancelled' then
    if item.status == 'scheduled' then return {'REOPEN', i} end
    kept = true
  elseif not old_aud and item.status == 'cancelled' then
    return {'UNKNOWN', i}
  elseif old_aud and item.status ~= 'cancelled' then
    if old_aud ~= item.auditorium and redis.call('HLEN', seats_key) > 0 then return {'CONFLICT', i} end
    if old[3] ~= item.starts_at and has_tickets(seats_key) then
      if item.confirm ~= '1' then return {'MOVED', i} end
      moved = true
    end
  end
  items[i] = {item, show_key, old_aud, moved, old[3], kept or item.same ~= nil}
end
if opts.gap > 0 then
  local clash = find_clash(items, opts.gap, cands)
  if clash then return clash end
end
local created, updated, out, ids, same = 0, 0, {}, {}, {}
for i = 1, #items do
  local item, show_key, old_aud, moved, kept = items[i][1], items[i][2], items[i][3], items[i][4], items[i][6]
  if item.same then
    same[#same + 1] = i .. ':' .. item.same
  elseif old_aud then updated = updated + 1 else created = created + 1 end
  if not kept then
    if not old_aud or item.status ~= 'cancelled' then
      redis.call('HSET', show_key, 'id', item.id, 'zone', item.zone, 'film_en', item.film_en,
                 'film_zh', item.film_zh, 'auditorium', item.auditorium, 'starts_at', item.starts_at,
                 'price_cents', item.price_cents, 'ext', item.ext, 'source', item.source, 'updated', item.updated)
      redis.call('ZADD', KEYS[1], item.starts_at, item.id)
    end
    if item.status == 'cancelled' then
      redis.call('HSET', show_key, 'status', 'cancelled', 'cancelled_ms', now)
      redis.call('ZADD', KEYS[3], now, item.id)
    end
    if moved then
      if not redis.call('ZSCORE', KEYS[4], item.id) then
        redis.call('HSET', show_key, 'moved_from', items[i][5])  -- holders told of an earlier move keep its "was"
      end
      redis.call('HSET', show_key, 'moved_ms', now)
      redis.call('ZADD', KEYS[4], now, item.id)
      out[#out + 1] = i
      out[#out + 1] = items[i][5]
    end
  end
  if item.ext ~= '' then redis.call('HSET', KEYS[2], item.ext, item.id) end
  ids[i] = item.same or item.id
end
if opts.once == '1' then redis.call('SET', KEYS[5], table.concat(ids, ','), 'EX', opts.ttl) end
return {'OK', created, updated, table.concat(same, ','), unpack(out)}
"""

# Hold seats. KEYS[1] seats hash, KEYS[2] new hold record, KEYS[3] the shopper's hold pointer,
# KEYS[4] the shopper's previous hold record (= KEYS[2] when none), KEYS[5] show hash.
# ARGV[1] token, ARGV[2] now ms ('' = server clock), ARGV[3] ttl ms, ARGV[4] client, ARGV[5] show id,
# ARGV[6] previous token expected in the pointer ('' = none), ARGV[7] auditorium the layout is for,
# ARGV[8] JSON {"seats": [...], "runs": [[...], ...]} (runs: the orphan-rule runs touching the seats),
# ARGV[9] '1' = only check: every refusal as below, but nothing written ({'FREE', new} when it would hold),
# ARGV[10] the zone's refund cut-off (s before the show) now, kept with the hold and its booking ('' = none).
# Returns {'OK', expires_ms, new} | {'FREE', new} | {'TAKEN', seat} | {'ORPHAN', seat} | {'CLOSED'} (the show was
# cancelled) | {'RETRY'} (pointer or show changed); `new`: the chosen seats the shopper's previous live hold does
# not already hold (what the seat budget counts). A hold replacing a live one keeps its expiry when that is sooner
# than now + ttl: re-picking may not buy time, or a shopper could hold seats for ever at no cost (a lapsed previous
# hold counts for nothing). For the same reason it keeps the live previous hold's `extended` mark: a re-pick is no
# second extension.
_HOLD = _NOW + """
local now = now_ms(ARGV[2])
local token, old = ARGV[1], ARGV[6]
local own = 'H|' .. old .. '|'
if (redis.call('GET', KEYS[3]) or '') ~= old then return {'RETRY'} end
if redis.call('HGET', KEYS[5], 'auditorium') ~= ARGV[7] then return {'RETRY'} end
if redis.call('HGET', KEYS[5], 'status') == 'cancelled' then return {'CLOSED'} end
local prev_exp, extended = nil, ''  -- the previous hold's expiry and extension while it is still live
if old ~= '' then
  local p = redis.call('HMGET', KEYS[4], 'status', 'expires_ms', 'extended')
  local e = tonumber(p[2])
  if p[1] == 'held' and e and e > now then prev_exp, extended = e, p[3] or '' end
end
local data = cjson.decode(ARGV[8])
local chosen = {}
for _, s in ipairs(data.seats) do chosen[s] = true end
local function taken(v)
  if not v then return false end
  if string.sub(v, 1, 2) == 'B|' then return true end
  local t, exp = string.match(v, '^H|([^|]+)|(%d+)$')
  if not t then return true end
  if old ~= '' and t == old then return false end  -- the shopper's own previous hold gives way
  return tonumber(exp) > now
end
local new = 0
for _, s in ipairs(data.seats) do
  local v = redis.call('HGET', KEYS[1], s)
  if taken(v) then return {'TAKEN', s} end
  if not prev_exp or not v or string.sub(v, 1, #own) ~= own then new = new + 1 end
end
-- No orphan single seat: see CinemaStore.hold for the rule in words.
for _, run in ipairs(data.runs) do
  local vals = redis.call('HMGET', KEYS[1], unpack(run))
  local st = {}
  for i, s in ipairs(run) do
    if chosen[s] then st[i] = 2 elseif taken(vals[i]) then st[i] = 1 else st[i] = 0 end
  end
  local n, i = #run, 1
  while i <= n do
    if st[i] == 1 then
      i = i + 1
    else
      local j = i
      while j < n and st[j + 1] ~= 1 do j = j + 1 end
      local k = 0
      for x = i, j do if st[x] == 2 then k = k + 1 end end
      if k > 0 and (j - i + 1) - k ~= 1 then
        local piece = 0
        for x = i, j + 1 do
          if x <= j and st[x] == 0 then
            piece = piece + 1
          else
            if piece == 1 then return {'ORPHAN', run[x - 1]} end
            piece = 0
          end
        end
      end
      i = j + 1
    end
  end
end
if ARGV[9] == '1' then return {'FREE', new} end
local exp = now + tonumber(ARGV[3])
if prev_exp and prev_exp < exp then exp = prev_exp end
exp = string.format('%.0f', exp)
local value = 'H|' .. token .. '|' .. exp
for _, s in ipairs(data.seats) do redis.call('HSET', KEYS[1], s, value) end
if old ~= '' then
  local prefix = 'H|' .. old .. '|'
  for _, s in ipairs(split(redis.call('HGET', KEYS[4], 'seats'))) do
    if not chosen[s] then
      local v = redis.call('HGET', KEYS[1], s)
      if v and string.sub(v, 1, #prefix) == prefix then redis.call('HDEL', KEYS[1], s) end
    end
  end
  if redis.call('HGET', KEYS[4], 'status') == 'held' then redis.call('HSET', KEYS[4], 'status', 'replaced') end
end
redis.call('HSET', KEYS[2], 'token', token, 'show', ARGV[5], 'client', ARGV[4],
           'seats', table.concat(data.seats, ','), 'expires_ms', exp, 'created_ms', now, 'status', 'held',
           'refund_cutoff_s', ARGV[10], 'extended', extended)
redis.call('PEXPIREAT', KEYS[2], exp + KEEP_MS)
redis.call('SET', KEYS[3], token, 'PXAT', exp)
return {'OK', exp, new}
""".replace("KEEP_MS", str(HOLD_RECORD_KEEP_MS))


# More time for a live hold, once: its expiry, its seats' and its live-hold pointer's move on by ARGV[3] ms (at most
# HOLD_EXTRA_MAX_S, whatever the caller asks). KEYS[1] seats hash, KEYS[2] hold record, KEYS[3] the shopper's hold
# pointer, KEYS[4] show hash. ARGV[1] token, ARGV[2] now ms ('' = server clock), ARGV[3] ms to add, ARGV[4] client.
# Returns {'OK', expires_ms} | {'ONCE', expires_ms} (given more time before, or a re-pick of one that was) |
# {'NOHOLD'} | {'GONE'} (expired, confirmed, cancelled, replaced, or its show cancelled).
_EXTEND = _NOW + """
local now = now_ms(ARGV[2])
local h = redis.call('HMGET', KEYS[2], 'status', 'expires_ms', 'client', 'seats', 'extended')
if not h[1] or h[3] ~= ARGV[4] then return {'NOHOLD'} end
local exp = tonumber(h[2])
if h[1] ~= 'held' or not exp or exp <= now or redis.call('HGET', KEYS[4], 'status') == 'cancelled' then
  return {'GONE'}
end
if h[5] == '1' then return {'ONCE', h[2]} end
local new = string.format('%.0f', exp + math.min(math.max(tonumber(ARGV[3]) or 0, 0), MAX_MS))
local prefix = 'H|' .. ARGV[1] .. '|'
for _, s in ipairs(split(h[4])) do
  local v = redis.call('HGET', KEYS[1], s)
  if v and string.sub(v, 1, #prefix) == prefix then redis.call('HSET', KEYS[1], s, prefix .. new) end
end
redis.call('HSET', KEYS[2], 'expires_ms', new, 'extended', '1')
redis.call('PEXPIREAT', KEYS[2], new + KEEP_MS)
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('SET', KEYS[3], ARGV[1], 'PXAT', new) end
return {'OK', new}
""".replace("KEEP_MS", str(HOLD_RECORD_KEEP_MS)).replace("MAX_MS", str(HOLD_EXTRA_MAX_S * 1000))


# Release the seats of a hold this token still holds (shared by confirm-after-expiry and cancel).
_RELEASE_FN = """
local function release(seats_key, token, seats)
  local prefix = 'H|' .. token .. '|'
  for _, s in ipairs(seats) do
    local v = redis.call('HGET', seats_key, s)
    if v and string.sub(v, 1, #prefix) == prefix then redis.call('HDEL', seats_key, s) end
  end
end
"""

# Confirm a hold into a booking. KEYS[1] seats hash, KEYS[2] hold record, KEYS[3] booking (new code),
# KEYS[4] show bookings zset, KEYS[5] client tickets zset, KEYS[6] the shopper's hold pointer, KEYS[7] show hash.
# ARGV[1] token, ARGV[2] now ms, ARGV[3] code, ARGV[4] client, ARGV[5] zone, ARGV[6] keep the booking after
# the show starts (s), ARGV[7] the shopper token's lifetime (s).
# Returns {'OK', code} (also for a repeated confirm of the same hold) | {'NOHOLD'} | {'GONE', status} (status
# 'cancelled' also when the show was cancelled: nothing is booked, a paid order is refunded)
#       | {'EXPIRED'} (the seats are released in the same step) | {'CODE_TAKEN'} (pick another code).
# The order that paid for a booking, on the booking, only while it exists: never a stray hash without the booking's
# expiry (one erased or gone between a check and a write). KEYS[1] booking. ARGV[1] order id. Returns 1 | 0.
_RECORD_ORDER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'order', ARGV[1])
return 1
"""

_CONFIRM = _NOW + LUA_KEEP + _RELEASE_FN + """
local now = now_ms(ARGV[2])
local token = ARGV[1]
local h = redis.call('HMGET', KEYS[2], 'status', 'seats', 'expires_ms', 'client', 'code', 'show', 'refund_cutoff_s',
                     'created_ms')
if not h[1] or h[4] == '' or h[4] ~= ARGV[4] then return {'NOHOLD'} end  -- '': its shopper was erased
if h[1] == 'confirmed' then return {'OK', h[5], 'AGAIN'} end
if h[1] ~= 'held' then return {'GONE', h[1]} end
local seats = split(h[2])
local function drop_pointer()
  if redis.call('GET', KEYS[6]) == token then redis.call('DEL', KEYS[6]) end
end
if redis.call('HGET', KEYS[7], 'status') == 'cancelled' then  -- the seats were released with the show
  release(KEYS[1], token, seats)
  redis.call('HSET', KEYS[2], 'status', 'cancelled')
  drop_pointer()
  return {'GONE', 'cancelled'}
end
if tonumber(h[3]) <= now then
  release(KEYS[1], token, seats)
  redis.call('HSET', KEYS[2], 'status', 'expired')
  drop_pointer()
  return {'EXPIRED'}
end
local mine = 'H|' .. token .. '|' .. h[3]
for _, s in ipairs(seats) do
  if redis.call('HGET', KEYS[1], s) ~= mine then  -- cannot happen while holds are only written here
    release(KEYS[1], token, seats)
    redis.call('HSET', KEYS[2], 'status', 'lost')
    drop_pointer()
    return {'GONE', 'lost'}
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'CODE_TAKEN'} end
local code = ARGV[3]
for _, s in ipairs(seats) do redis.call('HSET', KEYS[1], s, 'B|' .. code) end
redis.call('HSET', KEYS[3], 'code', code, 'show', h[6], 'zone', ARGV[5], 'client', ARGV[4], 'seats', h[2],
           'created_ms', now, 'token', token, 'status', 'booked')
if h[7] and h[7] ~= '' then redis.call('HSET', KEYS[3], 'refund_cutoff_s', h[7]) end  -- the cut-off promised
if h[8] then redis.call('HSET', KEYS[3], 'held_ms', h[8]) end  -- what the shopper chose at: a move since is news
redis.call('ZADD', KEYS[4], now, code)
redis.call('ZADD', KEYS[5], now, code)
local starts = tonumber(redis.call('HGET', KEYS[7], 'starts_at') or '0') or 0
keep_record(KEYS[3], KEYS[5], now / 1000, starts, ARGV[6], ARGV[7])  -- the booking, and "your tickets"
redis.call('HSET', KEYS[2], 'status', 'confirmed', 'code', code)
redis.call('PERSIST', KEYS[2])
redis.call('PEXPIREAT', KEYS[2], now + KEEP_MS)
drop_pointer()
return {'OK', code}
""".replace("KEEP_MS", str(HOLD_RECORD_KEEP_MS))

# Erasure keeps a paid ticket for her under a keeper id (CinemaStore.hand_over). KEYS[1] booking, KEYS[2] the
# shopper's tickets, KEYS[3] the keeper's. ARGV code, shopper, keeper. 1 if the booking named the shopper.
_HAND_OVER = """
local b = redis.call('HMGET', KEYS[1], 'client', 'created_ms')
if b[1] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'client', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(b[2]) or 0, ARGV[1])
local lasts = redis.call('TTL', KEYS[1])
if lasts > 0 and redis.call('TTL', KEYS[3]) < lasts then redis.call('EXPIRE', KEYS[3], lasts) end
return 1
"""

# Cancel a live hold. KEYS[1] seats hash, KEYS[2] hold record, KEYS[3] pointer. ARGV[1] token, ARGV[2] client.
# Returns {'OK'} | {'NOHOLD'} | {'GONE', status}.
_CANCEL_HOLD = _NOW + _RELEASE_FN + """
local h = redis.call('HMGET', KEYS[2], 'status', 'seats', 'client')
if not h[1] or h[3] ~= ARGV[2] then return {'NOHOLD'} end
if h[1] ~= 'held' then return {'GONE', h[1]} end
release(KEYS[1], ARGV[1], split(h[2]))
redis.call('HSET', KEYS[2], 'status', 'cancelled')
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return {'OK'}
"""

# Erasure: unlink a hold from its shopper. KEYS[1] seats hash, KEYS[2] hold record, KEYS[3] the shopper's hold
# pointer on its show. ARGV[1] token, ARGV[2] client. A hold still held is cancelled and its seats released: its
# order now names nobody, so nobody may be issued the ticket (paid after all, it is refunded). Returns 1 if the
# hold named the shopper.
_FORGET_HOLD = _NOW + _RELEASE_FN + """
local h = redis.call('HMGET', KEYS[2], 'status', 'seats', 'client')
if not h[3] or h[3] ~= ARGV[2] then return 0 end
if h[1] == 'held' then
  release(KEYS[1], ARGV[1], split(h[2]))
  redis.call('HSET', KEYS[2], 'status', 'cancelled')
end
redis.call('HSET', KEYS[2], 'client', '')
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""

# Cancel a booking. KEYS[1] seats hash, KEYS[2] booking, KEYS[3] the venue's cancel-refunds zset. ARGV[1] code,
# ARGV[2] client, ARGV[3] now ms, ARGV[4] '' (its shopper) | 'counter' (the cinema's counter), ARGV[5] the paying
# order's id ('' nothing paid online). A paid booking is put on the cancel-refunds set with its order kept on it in
# the same step, whoever cancels: a failure before its refund is asked for leaves it there for the payments sweep,
# never a freed seat with the money kept. At the counter it is marked so, and an unpaid one settled at once.
# Returns {'OK'} | {'NOBOOKING'} | {'GONE', status}.
_CANCEL_BOOKING = _NOW + """
local b = redis.call('HMGET', KEYS[2], 'status', 'seats', 'client', 'order')
if not b[1] or b[3] ~= ARGV[2] then return {'NOBOOKING'} end
if b[1] ~= 'booked' then return {'GONE', b[1]} end
local mine = 'B|' .. ARGV[1]
for _, s in ipairs(split(b[2])) do
  if redis.call('HGET', KEYS[1], s) == mine then redis.call('HDEL', KEYS[1], s) end
end
local now = now_ms(ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'cancelled', 'cancelled_ms', now)
if ARGV[4] == 'counter' then redis.call('HSET', KEYS[2], 'cancelled_by', 'counter') end
if ARGV[5] ~= '' then
  if not b[4] or b[4] == '' then redis.call('HSET', KEYS[2], 'order', ARGV[5]) end
  redis.call('ZADD', KEYS[3], now, ARGV[1])
elseif ARGV[4] == 'counter' then
  redis.call('HSET', KEYS[2], 'refund_outcome', 'none')
end
return {'OK'}
"""

# Cancel a showtime (the cinema's decision): no new holds, every hold and booking on it cancelled, its seats
# released. KEYS[1] show hash, KEYS[2] seats hash, KEYS[3] the venue's cancelling zset, KEYS[4] the show's
# cancelled-holds set, then the hold records, then the bookings, of every hold token and booking code Python found
# in the seats hash. ARGV[1] now ms ('' = server clock), ARGV[2] JSON {"tokens": [...], "codes": [...]} in KEYS'
# order, ARGV[3] how many hold records follow KEYS[4], ARGV[4] the show id.
# Returns {'OK', bookings cancelled now} | {'NOSHOW'} | {'RETRY'} (the seats hash names a hold or booking Python
# did not pass: read again). The show is marked cancelled first, also on RETRY, and put on the cancelling set in the
# same step: from then on no hold or confirmation writes its seats, so the next attempt finds what this one saw, and
# what is left is finished by whoever comes next (lightapps/cinema/cancellation.py). The hold tokens released are
# kept on the cancelled-holds set (their open payment orders are closed after). Idempotent: a show cancelled
# before is cancelled again at no cost (what a hold cancelled meanwhile left is released).
_CANCEL_SHOW = _NOW + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NOSHOW'} end
local now = now_ms(ARGV[1])
if redis.call('HGET', KEYS[1], 'status') ~= 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_ms', now)
  redis.call('ZADD', KEYS[3], now, ARGV[4])
end
local passed = cjson.decode(ARGV[2])
local known = {}
for _, t in ipairs(passed.tokens) do known['H|' .. t] = true end
for _, c in ipairs(passed.codes) do known['B|' .. c] = true end
local flat = redis.call('HGETALL', KEYS[2])
for k = 2, #flat, 2 do
  local kind, ref = string.match(flat[k], '^([HB])|([^|]+)')
  if not kind or not known[kind .. '|' .. ref] then return {'RETRY'} end
end
local n_holds = tonumber(ARGV[3])
for k = 5, 4 + n_holds do
  if redis.call('HGET', KEYS[k], 'status') == 'held' then redis.call('HSET', KEYS[k], 'status', 'cancelled') end
end
if n_holds > 0 then redis.call('SADD', KEYS[4], unpack(passed.tokens)) end
local cancelled = 0
for k = 5 + n_holds, #KEYS do
  if redis.call('HGET', KEYS[k], 'status') == 'booked' then
    redis.call('HSET', KEYS[k], 'status', 'cancelled', 'cancelled_ms', now, 'cancelled_by', 'cinema')
    cancelled = cancelled + 1
  end
end
redis.call('DEL', KEYS[2])
return {'OK', cancelled}
"""

# A cancelled ticket's refund asked for (and, the cinema's with its showtime, its holder told): the outcome kept on
# the booking (only one cancelled by ARGV[2], and only while it exists), off the cancel-refunds set. An outcome kept
# before that is final (FINAL) stays: a caller that read the refund while it was still pending (the sweep, beside the
# console's press waiting on the provider) answers after the one that saw it made or refused. KEYS[1] booking,
# KEYS[2] the venue's cancel-refunds zset. ARGV[1] outcome, ARGV[2] 'cinema' | 'counter' | '' (its shopper),
# ARGV[3] code. Returns 1 (kept) | 0.
_SETTLE_CANCELLED = """
local b = redis.call('HMGET', KEYS[1], 'status', 'cancelled_by', 'refund_outcome')
if not b[1] then  -- lapsed with its show: nothing left to refund it for
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
if b[1] ~= 'cancelled' or (b[2] or '') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[3])
local final = {FINAL}
if final[b[3] or ''] then return 0 end
redis.call('HSET', KEYS[1], 'refund_outcome', ARGV[1])
return 1
""".replace("{FINAL}", "{" + ", ".join(f"['{o}'] = true" for o in REFUND_FINAL) + "}")

# A cancellation is finished when nothing of it is left: off the cancelling set, its cancelled-holds set dropped.
# KEYS[1] cancelling zset, KEYS[2] seats hash, KEYS[3] the show's bookings zset, KEYS[4] cancelled-holds set, then
# every booking of the show. ARGV[1] show id, ARGV[2] how many bookings Python passed. Returns 1 (finished, or not
# on the set) | 0 (a seat still taken, a booking still booked or not settled, or a booking Python did not pass).
# The payment orders of its holds are the caller's to check (an order closed or paid never opens again).
_FINISH_CANCEL = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
if redis.call('ZCARD', KEYS[3]) ~= tonumber(ARGV[2]) then return 0 end
for k = 5, #KEYS do
  local b = redis.call('HMGET', KEYS[k], 'status', 'cancelled_by', 'refund_outcome')
  if b[1] == 'booked' or (b[1] == 'cancelled' and b[2] == 'cinema' and not b[3]) then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
"""

# A move's holders told: off the moving set, unless the show moved again since (a newer moved_ms: told again).
# KEYS[1] moving zset. ARGV[1] show id, ARGV[2] the moved_ms that was told ('' = whatever: the show is gone or
# cancelled). Returns 1 (off the set) | 0 (moved again meanwhile).
_FINISH_MOVE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 1 end
if ARGV[2] ~= '' and tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


# ---- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Showtime:
    id: str
    zone: str
    film_en: str
    film_zh: str
    auditorium: str
    starts_at: int  # epoch seconds
    price_cents: int
    external_id: str = ""
    source: str = ""
    status: str = "scheduled"  # scheduled | cancelled (by the cinema: its holds and bookings cancelled with it)
    moved_ms: int = 0  # when the cinema last moved the start of this show while it had tickets (0: never)
    moved_from: int = 0  # the start (epoch s) its holders knew before that move (0: never moved)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def poster_ref(self) -> str:
        """Where the film's poster is kept (portal/media: a place named by a text): its English title, else its
        Chinese one, as posters were first uploaded under."""
        return text_ref(self.film_en or self.film_zh)

    @property
    def film_key(self) -> tuple[str, str]:
        """The film this is a showing of: both its names (either may be empty, not both), so that films
        with only a Chinese title, or sharing an English one, are told apart."""
        return self.film_en, self.film_zh

    @property
    def layout(self) -> Layout:
        return AUDITORIUMS[self.auditorium].layout

    @property
    def hall(self):
        return AUDITORIUMS[self.auditorium]

    @property
    def price(self) -> str:
        return f"{self.price_cents // 100}.{self.price_cents % 100:02d}"


@dataclass(frozen=True)
class ShowtimeInput:
    """A validated showtime to store (from the console form or the cinema system's push). A cancellation
    (status "cancelled") carries only the cinema system's id: its other fields are empty and never stored."""

    film_en: str
    film_zh: str
    auditorium: str
    starts_at: int
    price_cents: int
    external_id: str = ""
    status: str = ""  # "" keeps a stored show's status (a new one is scheduled) | scheduled | cancelled
    confirm_time_change: bool = False  # a new start for a show with tickets is meant (its holders are told)


@dataclass(frozen=True)
class Hold:
    token: str
    show_id: str
    client: str
    seats: tuple[str, ...]
    expires_ms: int
    status: str  # held | confirmed | expired | cancelled | replaced | lost
    code: str = ""
    extended: bool = False  # given more time once (CinemaStore.extend_hold)

    def remaining_s(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return max(0, int((self.expires_ms - now * 1000) // 1000))

    def is_live(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.status == "held" and self.expires_ms > now * 1000


@dataclass(frozen=True)
class Booking:
    code: str
    show_id: str
    zone: str
    client: str
    seats: tuple[str, ...]
    created_ms: int
    status: str  # booked | cancelled
    token: str = ""  # the hold it was confirmed from (its payment order's key)
    refund_cutoff_s: int | None = None  # the zone's refund cut-off when the seats were held (None: booked before)
    # the payment order that paid for it ("" unpaid, or booked before orders were kept here until the payments sweep
    # copies it: lightapps/cinema/payment.py, `keep_orders_of_old_bookings`)
    order_id: str = ""
    cancelled_by: str = ""  # BY_CINEMA with its showtime, AT_COUNTER alone ("" the shopper, or not cancelled)
    cancelled_ms: int = 0
    held_ms: int = 0  # when the hold it was confirmed from was made (0: booked before this was kept)
    # Cancelled by the cinema (with its showtime or at its counter), or paid and cancelled by its shopper: "" its
    # refund not yet asked for (or its holder not yet told); "none" nothing was paid online; "done" | "processing" |
    # "pending" the refund is under way; "refused" | "state" | "exceeds" it could not be made online (the cinema
    # arranges it). As asked for: a page reads a refund under way afresh (payment.py, `with_live_refunds`).
    refund_outcome: str = ""

    @property
    def chosen_ms(self) -> int:
        """When the shopper chose this ticket (its hold), for what the show was then: a move after it is news."""
        return self.held_ms or self.created_ms

    @property
    def refund_to_arrange(self) -> bool:
        """Cancelled (by the cinema, at its counter or by its shopper) and its refund could not be made online: the
        cinema arranges it. A shopper's own cancel keeps its outcome since the cancel-refunds set: one refused is
        shown to her and the owner like the cinema's own."""
        return self.status == "cancelled" and refund_to_arrange(self.refund_outcome)

    @property
    def refund_under_way(self) -> bool:
        return self.refund_outcome in REFUND_UNDER_WAY

    @property
    def refund_left(self) -> bool:
        """Cancelled at the counter, paid, and its refund not yet asked for (a failure cut it short): on the
        cancel-refunds set, for the payments sweep or the console's Finish refund."""
        return self.cancelled_by == AT_COUNTER and self.status == "cancelled" and not self.refund_outcome

    @property
    def refund_to_finish(self) -> bool:
        """Cancelled at the counter with its paid refund not made and worth asking for again (Finish refund): not
        yet asked for, or one the order could not take then (REFUND_TO_RETRY). Not one the provider refused: asked
        again under its one refund number it is refused again, so it is arranged by hand."""
        return self.cancelled_by == AT_COUNTER and (self.refund_left or self.refund_outcome in REFUND_TO_RETRY)


@dataclass(frozen=True)
class Outcome:
    """What a hold/confirm/cancel did: `status` "ok", or the reason it did nothing."""

    status: str  # ok | taken | orphan | expired | gone | nohold | closed
    seat: str | None = None
    token: str | None = None
    expires_ms: int | None = None
    code: str | None = None
    new_seats: int = 0  # a hold (or a check) that holds: the seats it takes that the shopper did not hold
    again: bool = False  # a confirm of a hold confirmed before: its booking, nothing new

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class ShowCancelled:
    """What cancelling a showtime did: how many bookings it cancelled, the holds whose seats it released (live
    or lapsed: a payment order may still be open for one)."""

    bookings: int
    holds: tuple[str, ...]


class ShowtimeConflict(Exception):
    """An upsert would move a show with holds or bookings to another auditorium."""

    def __init__(self, index: int) -> None:
        super().__init__(f"showtime {index} changes the auditorium of a show that already has bookings")
        self.index = index


class ShowtimeMoved(ShowtimeConflict):
    """An upsert would change the start time of a show with a booking or a live hold, unconfirmed."""

    def __init__(self, index: int) -> None:
        Exception.__init__(self, f"showtime {index} changes the start time of a show that already has tickets")
        self.index = index


class ShowtimeUnknown(ShowtimeConflict):
    """An upsert would cancel a show that was never stored (nothing to cancel: no phantom cancelled show)."""

    def __init__(self, index: int) -> None:
        Exception.__init__(self, f"showtime {index} cancels a show that is not stored")
        self.index = index


class ShowtimeClash(ShowtimeConflict):
    """An upsert would start a show too close to another live show in the same hall (both would sell its seats):
    `other` is that show's id, `other_index` its item in the same upsert (None: a stored show)."""

    def __init__(self, index: int, other: str, other_index: int | None) -> None:
        Exception.__init__(self, f"showtime {index} starts too close to show {other} in the same hall")
        self.index, self.other, self.other_index = index, other, other_index


class ShowtimeReopened(ShowtimeConflict):
    """An upsert would schedule again a show that was cancelled (its tickets cancelled and refunded)."""

    def __init__(self, index: int) -> None:
        Exception.__init__(self, f"showtime {index} was cancelled and cannot be scheduled again")
        self.index = index


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def occupancy_of(show: Showtime, states: dict[str, tuple[str, str]]) -> dict[str, int]:
    """The show's seats booked, held, free and in all, from its `seat_states`."""
    booked = sum(1 for kind, _ in states.values() if kind == "booked")
    held = len(states) - booked
    return {"booked": booked, "held": held, "free": show.layout.capacity - booked - held,
            "capacity": show.layout.capacity}


def _taken_seats(raw: dict, now: float | None) -> dict[str, tuple[str, str]]:
    """A show's seat hash as read -> seat id -> ("held", token) or ("booked", code), the seats not free at `now`
    (epoch s; None: now)."""
    now_ms = _ms(now)
    taken = ((_s(seat), _seat_taken(_s(value), now_ms)) for seat, value in raw.items())
    return {seat: state for seat, state in taken if state is not None}


def _seat_taken(value: str, now_ms: float) -> tuple[str, str] | None:
    """One seat's stored value ("B|code", "H|token|expiry ms") -> ("booked", code) or ("held", token), None while it
    is free at `now_ms`: a hold past its expiry frees its seat whether or not it was released yet."""
    if value.startswith("B|"):
        return "booked", value[2:]
    if value.startswith("H|"):
        _h, token, exp = value.split("|")
        return ("held", token) if int(exp) > now_ms else None
    return None


def _ms(now: float | None) -> float:
    """`now` (epoch s; None: the clock's) in ms, as the seat values' expiries are written."""
    return (time.time() if now is None else now) * 1000


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class CinemaStore:
    @classmethod
    def from_services(cls, svc: Any) -> CinemaStore:
        """The platform builds the app's store with this (portal/apps/platform.py)."""
        return cls(svc.db, shopper_ttl_s=svc.settings.shopper_token_ttl_s)

    def __init__(self, db: redis.Redis, shopper_ttl_s: int = Settings.shopper_token_ttl_s) -> None:
        """`shopper_ttl_s`: how long a shopper token lives after its last use (SHOPPER_TOKEN_TTL_S): "your
        tickets", reached only through that token, is kept at least this long after each booking."""
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self._upsert = db.register_script(_UPSERT)
        self._hold = db.register_script(_HOLD)
        self._extend = db.register_script(_EXTEND)
        self._confirm = db.register_script(_CONFIRM)
        self._record_order = db.register_script(_RECORD_ORDER)
        self._cancel_hold = db.register_script(_CANCEL_HOLD)
        self._cancel_booking = db.register_script(_CANCEL_BOOKING)
        self._forget_hold = db.register_script(_FORGET_HOLD)
        self._cancel_show = db.register_script(_CANCEL_SHOW)
        self._settle_cancelled = db.register_script(_SETTLE_CANCELLED)
        self._finish_cancel = db.register_script(_FINISH_CANCEL)
        self._finish_move = db.register_script(_FINISH_MOVE)

    # ---- showtimes ----

    def upsert_showtimes(self, venue: str, zone: str, items: list[ShowtimeInput], source: str, min_gap_s: int = 0,
                         once: str | None = None, same_is_duplicate: bool = False) -> dict:
        """Store showtimes, all or none. An item with an external id updates the show that id was stored
        as before (the cinema system may push the same schedule again); one without is always new.
        External ids must be unique within one call (the validator checks).
        Raises ShowtimeConflict when an item would move a show that has holds or bookings to another
        auditorium, ShowtimeMoved when it would change the start of a show with a booking or a live hold
        without `confirm_time_change`, ShowtimeReopened when it would schedule a cancelled show again,
        ShowtimeUnknown when it would cancel a show that is not stored, ShowtimeClash when an item new or moved
        would start less than `min_gap_s` from another live show in its hall (0: not checked, as for the demo's
        own schedule; see _FIND_CLASH). An item with status "cancelled" marks the show cancelled, changes nothing
        else of it and puts it on the cancelling set (`cancelling`: its holds and bookings are
        lightapps/cinema/cancellation.py's); an item for a show cancelled before changes nothing of it (it is
        counted as updated). A confirmed move puts the show on the moving set (`moving`). Returns
        {"created": n, "updated": n, "ids": [show id per item], "moved": {item index: the start (epoch s) it
        had}, "duplicates": [item index, ...], "replayed": bool} ("moved": the confirmed new starts of shows with
        tickets, whose holders are to be told). `once`: an owner's add form's one-time record name
        (portal.apps.once.read_form_once: its token and content): the same form sent again stores nothing and gets
        the ids the first one stored ("replayed": True). `same_is_duplicate`: an item without an external id that
        is a live stored show again (the same film names, hall, start and price: a push retried after a lost
        answer) is that show, listed in "duplicates" (neither created nor updated; nothing stored), where it would
        otherwise clash with itself."""
        keys = CinemaKeys(venue)
        for _attempt in range(5):
            ids, script_keys, args = self._upsert_call(keys, zone, items, source, min_gap_s, once, same_is_duplicate)
            result = self._upsert(keys=script_keys, args=args)
            status = _s(result[0])
            if status == "OK":
                moved = {int(result[k]) - 1: int(result[k + 1]) for k in range(4, len(result), 2)}
                same = dict(pair.split(":", 1) for pair in _s(result[3]).split(",") if pair)
                for index, show_id in same.items():
                    ids[int(index) - 1] = show_id
                return {"created": int(result[1]), "updated": int(result[2]), "ids": ids, "moved": moved,
                        "duplicates": sorted(int(index) - 1 for index in same), "replayed": False}
            if status == "REPLAY":
                return {"created": 0, "updated": 0, "ids": _s(result[1]).split(","), "moved": {}, "duplicates": [],
                        "replayed": True}
            if status == "CLASH":
                other_index = int(result[3]) - 1
                raise ShowtimeClash(int(result[1]) - 1, _s(result[2]), other_index if other_index >= 0 else None)
            refusal = {"CONFLICT": ShowtimeConflict, "MOVED": ShowtimeMoved, "REOPEN": ShowtimeReopened,
                       "UNKNOWN": ShowtimeUnknown}.get(status)
            if refusal is not None:
                raise refusal(int(result[1]) - 1)
            # RETRY: a concurrent push mapped an external id, or added a show near an item, since we read; read again
        raise RuntimeError("showtime upsert kept racing; try again")

    def _upsert_call(self, keys: CinemaKeys, zone: str, items: list[ShowtimeInput], source: str, min_gap_s: int,
                     once: str | None, same: bool) -> tuple[list[str], list[str], list[str]]:
        """The show id of each item, and the upsert script's keys and arguments, as the store is now."""
        ext_ids = [i.external_id for i in items if i.external_id]
        known_ids = self.db.hmget(keys.external_ids(zone), ext_ids) if ext_ids else []
        mapped = {ext: _s(v) for ext, v in zip(ext_ids, known_ids, strict=True) if v}
        ids = [mapped.get(item.external_id) or "s" + secrets.token_hex(5) for item in items]
        # an item's own start is within any gap, so a window of 1 s finds the shows it may be again
        near = self._shows_near(keys, zone, items, max(min_gap_s, 1 if same else 0))
        script_keys = [keys.shows(zone), keys.external_ids(zone), keys.cancelling(), keys.moving(),
                       keys.add_once(zone, once) if once else keys.shows(zone)]
        args = [json.dumps({"gap": min_gap_s, "once": "1" if once else "", "ttl": ONCE_TTL_S, "cands": near,
                            "same": "1" if same else ""})]
        for show_id, item in zip(ids, items, strict=True):
            script_keys += [keys.show(show_id), keys.seats(show_id)]
            args.append(json.dumps({
                "id": show_id, "zone": zone, "ext": item.external_id,
                "mapped": mapped.get(item.external_id, ""), "film_en": item.film_en,
                "film_zh": item.film_zh, "auditorium": item.auditorium, "starts_at": str(item.starts_at),
                "price_cents": str(item.price_cents), "source": source, "updated": str(int(time.time())),
                "status": item.status, "confirm": "1" if item.confirm_time_change else "",
            }))
        return ids, script_keys + [keys.show(show_id) for show_id in near], args

    def _shows_near(self, keys: CinemaKeys, zone: str, items: list[ShowtimeInput], gap_s: int) -> list[str]:
        """The stored shows starting less than `gap_s` from an item: the ones the upsert script may check."""
        if gap_s <= 0 or not items:
            return []
        pipe = self.db.pipeline(transaction=False)
        for item in items:
            pipe.zrangebyscore(keys.shows(zone), f"({item.starts_at - gap_s}", f"({item.starts_at + gap_s}")
        return sorted({_s(show_id) for near in pipe.execute() for show_id in near})

    def showtime(self, venue: str, show_id: str) -> Showtime | None:
        data = self.db.hgetall(CinemaKeys(venue).show(show_id))
        return self._showtime(data) if data else None

    def showtimes_by_id(self, venue: str, show_ids: list[str]) -> dict[str, Showtime]:
        """show id -> its showtime, in the ids' order, for the ids still stored, in one round trip (a listing's
        shows, a shopper's tickets' shows)."""
        keys, ids = CinemaKeys(venue), list(dict.fromkeys(show_ids))
        pipe = self.db.pipeline(transaction=False)
        for show_id in ids:
            pipe.hgetall(keys.show(show_id))
        return {show_id: self._showtime(data) for show_id, data in zip(ids, pipe.execute() if ids else [], strict=True)
                if data}

    @staticmethod
    def _showtime(data: dict) -> Showtime:
        d = {_s(k): _s(v) for k, v in data.items()}
        return Showtime(id=d["id"], zone=d["zone"], film_en=d["film_en"], film_zh=d.get("film_zh", ""),
                        auditorium=d["auditorium"], starts_at=int(d["starts_at"]),
                        price_cents=int(d["price_cents"]), external_id=d.get("ext", ""),
                        source=d.get("source", ""), status=d.get("status") or "scheduled",
                        moved_ms=int(d.get("moved_ms") or 0), moved_from=int(d.get("moved_from") or 0))

    def showtimes(self, venue: str, zone: str, start: float | None = None, end: float | None = None) -> list[Showtime]:
        """The zone's showtimes starting in [start, end] (epoch s; None: unbounded), earliest first."""
        keys = CinemaKeys(venue)
        ids = self.db.zrangebyscore(keys.shows(zone), "-inf" if start is None else start,
                                    "+inf" if end is None else end)
        return list(self.showtimes_by_id(venue, [_s(show_id) for show_id in ids]).values())

    def showtimes_page(self, venue: str, zone: str, start: float, end: float | None, limit: int,
                       after: tuple[int, str] | None = None) -> tuple[list[Showtime], tuple[int, str] | None]:
        """At most `limit` of the zone's showtimes starting in [start, end] (epoch s; end None: unbounded), in the
        index's order (start, then show id), and where the next page begins: after (start, id) of this page's
        last show, None when there is no more. `after` (a previous page's): the shows after it, `start` unused."""
        key = CinemaKeys(venue).shows(zone)
        high = "+inf" if end is None else end
        if after is None:
            ids = [_s(i) for i in self.db.zrangebyscore(key, start, high, start=0, num=limit + 1)]
        else:  # the shows starting with the last one listed and after it in the index, then the later ones
            at, last = after
            pipe = self.db.pipeline(transaction=False)
            pipe.zrangebyscore(key, at, at)
            pipe.zrangebyscore(key, f"({at}", high, start=0, num=limit + 1)
            tied, later = pipe.execute()
            ids = [i for i in map(_s, tied) if i > last and (end is None or at <= end)] + [_s(i) for i in later]
        shows = list(self.showtimes_by_id(venue, ids[:limit]).values())
        more = len(ids) > limit and shows
        return shows, (shows[-1].starts_at, shows[-1].id) if more else None

    def show_starts(self, venue: str, zone: str, start: float, end: float) -> list[float]:
        """When the zone's showtimes starting in [start, end] start (epoch s), earliest first: the index alone."""
        found = self.db.zrangebyscore(CinemaKeys(venue).shows(zone), start, end, withscores=True)
        return [score for _show_id, score in found]

    def has_showtimes(self, venue: str, zone: str) -> bool:
        return self.db.zcard(CinemaKeys(venue).shows(zone)) > 0

    def has_media_place(self, venue: str, zone: str, kind: str, ref: str) -> bool:
        """A poster's place (portal/media/places.py): a film with a showtime in the zone from a day ago on (what
        the console lists), named as its image form names it (`text_ref` of the title)."""
        return kind == "film" and any(s.poster_ref == ref
                                      for s in self.showtimes(venue, zone, time.time() - POSTER_PAST_S))

    # ---- seat states ----

    def seat_states(self, venue: str, show_id: str, now: float | None = None) -> dict[str, tuple[str, str]]:
        """seat id -> ("held", token) or ("booked", code), for the seats not free now."""
        return _taken_seats(self.db.hgetall(CinemaKeys(venue).seats(show_id)), now)

    def seats_open(self, venue: str, shows: list[Showtime], client: str = "", now: float | None = None
                   ) -> dict[str, int]:
        """show id -> how many of its seats the shopper `client` could pick now: the free ones and those their own
        live hold has (they may pick those again). 0: sold out, for them. One round trip for all the shows."""
        if not shows:
            return {}
        keys = CinemaKeys(venue)
        now_ms = _ms(now)
        pipe = self.db.pipeline(transaction=False)
        for show in shows:
            pipe.hvals(keys.seats(show.id))
            pipe.get(keys.client_hold(show.id, client or "-"))
        replies = pipe.execute()
        out = {}
        for show, values, mine in zip(shows, replies[::2], replies[1::2], strict=True):
            own = ("held", _s(mine)) if mine and client else None
            taken = [state for state in (_seat_taken(_s(value), now_ms) for value in values) if state is not None]
            out[show.id] = max(0, show.layout.capacity - sum(state != own for state in taken))
        return out

    def occupancy(self, venue: str, show: Showtime, now: float | None = None) -> dict[str, int]:
        return self.occupancies(venue, [show], now)[show.id]

    def occupancies(self, venue: str, shows: list[Showtime], now: float | None = None) -> dict[str, dict[str, int]]:
        """show id -> its seats booked, held, free and in all, for a list of shows in one round trip (the console's
        and the API's listings: a show read at a time cost a round trip each)."""
        if not shows:
            return {}
        keys = CinemaKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for show in shows:
            pipe.hgetall(keys.seats(show.id))
        seats = pipe.execute()
        return {show.id: occupancy_of(show, _taken_seats(raw, now)) for show, raw in zip(shows, seats, strict=True)}

    # ---- holds ----

    def hold(self, venue: str, show: Showtime, client: str, seats: list[str], ttl_s: float,
             now_ms: int | None = None, check_only: bool = False, refund_cutoff_s: int | None = None) -> Outcome:
        """Hold `seats` (already checked by layouts.parse_selection) for `ttl_s` seconds, all or none.

        The shopper's previous live hold on this show, if any, is replaced: its seats count as free for
        this selection, and those not re-selected are released in the same step. The new hold keeps the
        previous one's expiry when that comes before now + `ttl_s`, so a chain of re-picks never outlives
        its first hold (re-posting the same seats would otherwise hold them for ever, each time for free).
        `new_seats` of an "ok" outcome counts the seats that hold did not have (what the seat budget
        charges: a re-hold of the same seats is 0). A previous hold that has lapsed counts for nothing: the
        next hold is a new one, with a full `ttl_s` and every seat new. `check_only`: the same checks against
        the same state, nothing written: "ok" (no token) with `new_seats`, or the refusal the hold would meet
        now. `refund_cutoff_s`: the zone's refund cut-off now, kept with the hold and the booking it becomes
        (the ticket's refund deadline: a later change of the zone's config does not take it away).

        The no-orphan-single-seat rule, checked in the same atomic script against the seat states of that
        moment: take each run of adjacent standard seats (a run ends at an aisle, the row end, or a seat
        of another kind), and within it each stretch of seats that are free (not booked, not held by
        anyone else) before this selection. If the selection takes k seats of a stretch of n, the seats
        of the stretch it leaves free may not include a single free seat on its own (with a selected
        seat on one side and a selected or taken seat, aisle or row end on the other), unless
        n - k == 1, when one seat is left over whatever the choice and the selection is allowed.
        Couple, wheelchair and companion seats are outside the rule (couple seats go in pairs).
        A seat left alone before the selection by other shoppers does not block it."""
        keys = CinemaKeys(venue)
        token = secrets.token_urlsafe(12)
        runs = show.layout.runs_touching(seats)
        payload = json.dumps({"seats": seats, "runs": runs})
        for _attempt in range(5):
            old = self.db.get(keys.client_hold(show.id, client))
            old = _s(old) if old else ""
            result = self._hold(
                keys=[keys.seats(show.id), keys.hold(token), keys.client_hold(show.id, client),
                      keys.hold(old) if old else keys.hold(token), keys.show(show.id)],
                args=[token, "" if now_ms is None else now_ms, int(ttl_s * 1000), client, show.id, old,
                      show.auditorium, payload, "1" if check_only else "",
                      "" if refund_cutoff_s is None else int(refund_cutoff_s)],
            )
            status = _s(result[0])
            if status == "CLOSED":
                return Outcome("closed")
            if status == "FREE":
                return Outcome("ok", new_seats=int(result[1]))
            if status == "OK":  # a hold lost in a failover would let the next shopper take the same seats
                replicated(self.db, keys.seats(show.id))
                return Outcome("ok", token=token, expires_ms=int(result[1]), new_seats=int(result[2]))
            if status == "TAKEN":
                return Outcome("taken", seat=_s(result[1]))
            if status == "ORPHAN":
                return Outcome("orphan", seat=_s(result[1]))
            current = self.showtime(venue, show.id)
            if current is None or current.auditorium != show.auditorium or current.cancelled:
                return Outcome("closed")
        return Outcome("taken")

    def get_hold(self, venue: str, token: str) -> Hold | None:
        data = self.db.hgetall(CinemaKeys(venue).hold(token))
        if not data or b"status" not in data:
            return None
        d = {_s(k): _s(v) for k, v in data.items()}
        return Hold(token=token, show_id=d["show"], client=d["client"], seats=tuple(d["seats"].split(",")),
                    expires_ms=int(d["expires_ms"]), status=d["status"], code=d.get("code", ""),
                    extended=d.get("extended") == "1")

    def extend_hold(self, venue: str, token: str, client: str, extra_s: float, now_ms: int | None = None) -> Outcome:
        """Give a live hold `extra_s` more seconds (at most HOLD_EXTRA_MAX_S), once in its life, re-picks included:
        "ok" with the new `expires_ms`; "once" (more time was given before; `expires_ms` as it stands), "nohold",
        "gone" (no longer live). Its seats, record and pointer move on in one step, so the seats are never free
        while the hold says they are held."""
        keys = CinemaKeys(venue)
        hold = self.get_hold(venue, token)
        if hold is None or hold.client != client:
            return Outcome("nohold")
        result = self._extend(keys=[keys.seats(hold.show_id), keys.hold(token), keys.client_hold(hold.show_id, client),
                                    keys.show(hold.show_id)],
                              args=[token, "" if now_ms is None else now_ms, int(extra_s * 1000), client])
        status = _s(result[0]).lower()
        if status == "ok":
            replicated(self.db, keys.seats(hold.show_id))
        return Outcome(status, token=token, expires_ms=int(result[1]) if len(result) > 1 else None)

    def live_hold_token(self, venue: str, show_id: str, client: str) -> str | None:
        token = self.db.get(CinemaKeys(venue).client_hold(show_id, client))
        return _s(token) if token else None

    def live_hold_tokens(self, venue: str, show_ids: list[str], client: str) -> dict[str, str]:
        """`live_hold_token` for many shows in one round trip (one MGET: the keys share the venue's slot), for the
        shows that have one: Me lists a shopper's holds over every show of two days, some thirty of them."""
        if not show_ids:
            return {}
        keys = CinemaKeys(venue)
        tokens = self.db.mget([keys.client_hold(show_id, client) for show_id in show_ids])
        return {show_id: _s(token) for show_id, token in zip(show_ids, tokens, strict=True) if token}

    def confirm(self, venue: str, token: str, client: str, zone: str, now_ms: int | None = None) -> Outcome:
        """Turn a live hold into a booking. A hold past its expiry is released in the same step and
        "expired" returned; confirming a confirmed hold again returns its booking code. "nohold" for no
        shopper (`client` ""): an erased shopper's order, whose ticket nobody could reach (the payment
        service refunds it)."""
        keys = CinemaKeys(venue)
        hold = self.get_hold(venue, token)
        if not client or hold is None or hold.client != client:
            return Outcome("nohold")
        for _attempt in range(10):
            code = new_code()
            result = self._confirm(
                keys=[keys.seats(hold.show_id), keys.hold(token), keys.booking(code),
                      keys.show_bookings(hold.show_id), keys.client_tickets(client),
                      keys.client_hold(hold.show_id, client), keys.show(hold.show_id)],
                args=[token, "" if now_ms is None else now_ms, code, client, zone, KEEP_AFTER_SHOW_S,
                      self.shopper_ttl_s],
            )
            status = _s(result[0])
            if status == "CODE_TAKEN":
                continue
            if status == "OK":  # a paid booking lost in a failover would free its seats again
                replicated(self.db, keys.seats(hold.show_id))
                return Outcome("ok", code=_s(result[1]), token=token, again=len(result) > 2)
            return Outcome(status.lower(), code=_s(result[1]) if len(result) > 1 else None, token=token)
        raise RuntimeError("could not find a free booking code")

    def cancel_hold(self, venue: str, token: str, client: str) -> Outcome:
        keys = CinemaKeys(venue)
        hold = self.get_hold(venue, token)
        if hold is None or hold.client != client:
            return Outcome("nohold")
        result = self._cancel_hold(keys=[keys.seats(hold.show_id), keys.hold(token),
                                         keys.client_hold(hold.show_id, client)], args=[token, client])
        status = _s(result[0]).lower()
        return Outcome(status, code=_s(result[1]) if len(result) > 1 else None, token=token)

    # ---- bookings ----

    def booking(self, venue: str, code: str) -> Booking | None:
        data = self.db.hgetall(CinemaKeys(venue).booking(code))
        if not data or b"status" not in data:
            return None
        return self._booking(data)

    @staticmethod
    def _booking(data: dict) -> Booking:
        d = {_s(k): _s(v) for k, v in data.items()}
        cutoff = d.get("refund_cutoff_s", "")
        return Booking(code=d["code"], show_id=d["show"], zone=d.get("zone", ""), client=d["client"],
                       seats=tuple(d["seats"].split(",")), created_ms=int(d["created_ms"]), status=d["status"],
                       token=d.get("token", ""), refund_cutoff_s=int(cutoff) if cutoff.isdigit() else None,
                       order_id=d.get("order", ""), cancelled_by=d.get("cancelled_by", ""),
                       cancelled_ms=int(d.get("cancelled_ms") or 0), held_ms=int(d.get("held_ms") or 0),
                       refund_outcome=d.get("refund_outcome", ""))

    def record_order(self, venue: str, code: str, order_id: str) -> None:
        """The order that paid for a booking, kept with it for as long as the booking: the order's key by hold
        ("cinema:<hold>") lasts two days, and a ticket found unpaid after that was cancelled without a refund."""
        self._record_order(keys=[CinemaKeys(venue).booking(code)], args=[order_id])

    def bookings_without_order(self, venue: str) -> list[Booking]:
        """Every booking of the venue from a hold that keeps no order (unpaid, or booked before orders were kept
        with bookings). Bookings have no venue-wide index, so they are scanned: the one-time upgrade step only."""
        prefix = len(CinemaKeys(venue).booking(""))
        codes = [key[prefix:] for key in keys_matching(self.db, CinemaKeys(venue).booking("*"))]
        return [b for b in self._bookings_by_codes(venue, codes) if b.token and not b.order_id]

    def orders_backfilled(self, venue: str) -> bool:
        return bool(self.db.exists(CinemaKeys(venue).orders_backfilled()))

    def mark_orders_backfilled(self, venue: str, now: float) -> None:
        self.db.set(CinemaKeys(venue).orders_backfilled(), repr(now))

    def _bookings_by_codes(self, venue: str, codes) -> list[Booking]:
        keys = CinemaKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for code in codes:
            pipe.hgetall(keys.booking(_s(code)))
        return [self._booking(d) for d in pipe.execute() if d]

    def show_bookings(self, venue: str, show_id: str) -> list[Booking]:
        return self._bookings_by_codes(venue, self.db.zrange(CinemaKeys(venue).show_bookings(show_id), 0, -1))

    def client_bookings(self, venue: str, client: str, limit: int = 20) -> list[Booking]:
        codes = self.db.zrevrange(CinemaKeys(venue).client_tickets(client), 0, limit - 1)
        return self._bookings_by_codes(venue, codes)

    def booked_shows(self, venue: str, client: str, limit: int = 20) -> list[tuple[Booking, Showtime]]:
        """The shopper's bookings still booked among her latest `limit`, newest first, each with its show (one whose
        show is gone left out): Me's tickets, the privacy page's paid ones, the cinema page's own."""
        booked = [booking for booking in self.client_bookings(venue, client, limit) if booking.status == "booked"]
        shows = self.showtimes_by_id(venue, [booking.show_id for booking in booked])
        return [(booking, shows[booking.show_id]) for booking in booked if booking.show_id in shows]

    def tickets_to_come(self, venue: str, zone: str, since: float, now: float | None = None) -> int:
        """Bookings still booked, and live holds (a payment may confirm one), for the zone's showtimes starting
        at or after `since` (epoch s): what shoppers hold there."""
        keys = CinemaKeys(venue)
        now_ms = _ms(now)
        pipe = self.db.pipeline(transaction=False)
        for show_id in self.db.zrangebyscore(keys.shows(zone), since, "+inf"):
            pipe.hvals(keys.seats(_s(show_id)))
        # ("booked", code), ("held", token): one per booking or hold, however many seats
        held = {_seat_taken(_s(value), now_ms) for seats in pipe.execute() for value in seats}
        return len(held - {None})

    def cancel_booking(self, venue: str, code: str, client: str, now_ms: int | None = None, by: str = "",
                       owed_order: str = "") -> Outcome:
        """Cancel a booking, its seats freed: by its shopper (`by` "") or at the cinema's counter (AT_COUNTER: marked
        so). In the same step, paid (`owed_order` its paying order) it is put on the cancel-refunds set with that
        order kept on it, until `settle_cancelled`; unpaid at the counter, settled as "none"."""
        keys = CinemaKeys(venue)
        booking = self.booking(venue, code)
        if booking is None or booking.client != client:
            return Outcome("nobooking")
        result = self._cancel_booking(keys=[keys.seats(booking.show_id), keys.booking(code), keys.cancel_refunds()],
                                      args=[code, client, "" if now_ms is None else now_ms, by, owed_order])
        status = _s(result[0]).lower()
        return Outcome(status, code=code)

    def keep_bookings(self, venue: str, show: Showtime, now: float | None = None) -> None:
        """After the cinema moved the show: each booking of it (and its holder's "your tickets") kept
        `KEEP_AFTER_SHOW_S` after the new start, as a booking made now would be. Only ever later (EXPIRE GT): a
        show moved sooner keeps what its bookings had."""
        keys = CinemaKeys(venue)
        lasts = max(0, int(show.starts_at - (time.time() if now is None else now))) + KEEP_AFTER_SHOW_S
        pipe = self.db.pipeline(transaction=False)
        for booking in self.show_bookings(venue, show.id):
            pipe.expire(keys.booking(booking.code), lasts, gt=True)
            if booking.client:
                pipe.expire(keys.client_tickets(booking.client), max(lasts, self.shopper_ttl_s), gt=True)
        pipe.execute()

    def cancel_showtime(self, venue: str, show_id: str, now_ms: int | None = None) -> ShowCancelled | None:
        """The cinema cancels a showtime: no new holds or confirmations; every live hold on it cancelled and
        every booking cancelled (`cancelled_by` "cinema"), its seats released, in one step; the show goes on the
        cancelling set as it is marked cancelled, and the holds it released on its cancelled-holds set. Idempotent
        (again: nothing more to cancel). None when there is no such show. Refunds, notices and closing the holds'
        orders are the caller's (lightapps/cinema/cancellation.py): the bookings it cancelled are found again by
        `cancelled_by`, the holds by `cancelled_holds`."""
        keys = CinemaKeys(venue)
        for _attempt in range(5):
            tokens, codes = set(), set()
            for value in map(_s, self.db.hvals(keys.seats(show_id))):
                kind, ref = value.split("|")[:2]
                (tokens if kind == "H" else codes).add(ref)
            tokens, codes = sorted(tokens), sorted(codes)
            result = self._cancel_show(
                keys=[keys.show(show_id), keys.seats(show_id), keys.cancelling(), keys.cancelled_holds(show_id),
                      *map(keys.hold, tokens), *map(keys.booking, codes)],
                args=["" if now_ms is None else now_ms, json.dumps({"tokens": tokens, "codes": codes}), len(tokens),
                      show_id])
            status = _s(result[0])
            if status == "NOSHOW":
                return None
            if status == "OK":
                return ShowCancelled(bookings=int(result[1]), holds=tuple(tokens))
            # RETRY: a hold was made (or confirmed) between the read and the script; the show is closed now
        raise RuntimeError("showtime cancellation kept racing; try again")

    # ---- what a cancellation or a move leaves to finish (lightapps/cinema/cancellation.py) ----

    def cancelling(self, venue: str, limit: int = 1000) -> list[str]:
        """The shows whose cancellation is not finished, longest waiting first."""
        return [_s(v) for v in self.db.zrange(CinemaKeys(venue).cancelling(), 0, limit - 1)]

    def is_cancelling(self, venue: str, show_id: str) -> bool:
        return self.db.zscore(CinemaKeys(venue).cancelling(), show_id) is not None

    def cancelled_holds(self, venue: str, show_id: str) -> list[str]:
        """The hold tokens the show's cancellation released (while it is not finished): their orders to close."""
        return sorted(_s(v) for v in self.db.smembers(CinemaKeys(venue).cancelled_holds(show_id)))

    def settle_cancelled(self, venue: str, code: str, outcome: str, by: str = BY_CINEMA) -> bool:
        """A ticket cancelled by `by` (the cinema with its showtime, AT_COUNTER, or "" its shopper) has had its refund
        asked for and, with its showtime, its holder told: `outcome` kept on it (see Booking.refund_outcome) unless
        a final one is (REFUND_FINAL), and it is off the cancel-refunds set. False: nothing kept (no such booking,
        not one cancelled so, or settled for good before)."""
        keys = CinemaKeys(venue)
        return bool(self._settle_cancelled(keys=[keys.booking(code), keys.cancel_refunds()], args=[outcome, by, code]))

    def cancel_refunds(self, venue: str, limit: int = 1000, before_ms: int | None = None) -> list[str]:
        """The codes of the paid tickets cancelled alone whose refund's outcome is not yet kept, oldest first; with
        `before_ms`, only those put on (or sent to the back: `later_cancel_refund`) before it."""
        top = "+inf" if before_ms is None else int(before_ms)
        return [_s(v) for v in self.db.zrangebyscore(CinemaKeys(venue).cancel_refunds(), "-inf", top, 0, limit)]

    def later_cancel_refund(self, venue: str, code: str, now_ms: int) -> None:
        """A refund still not finished after this try: to the back of the line (its time now), so the ones that
        keep failing never fill the sweep's limit ahead of newer ones; nothing when it left the set meanwhile."""
        self.db.zadd(CinemaKeys(venue).cancel_refunds(), {code: int(now_ms)}, xx=True)

    def finish_cancelling(self, venue: str, show_id: str) -> bool:
        """Take the show off the cancelling set if nothing of its cancellation is left in this store (no seat
        taken, every booking cancelled and each the cinema cancelled settled); True when it is off. The caller
        checks the payment orders of its holds first."""
        keys = CinemaKeys(venue)
        codes = [_s(c) for c in self.db.zrange(keys.show_bookings(show_id), 0, -1)]
        return bool(self._finish_cancel(
            keys=[keys.cancelling(), keys.seats(show_id), keys.show_bookings(show_id), keys.cancelled_holds(show_id),
                  *map(keys.booking, codes)], args=[show_id, len(codes)]))

    def moving(self, venue: str, limit: int = 1000) -> list[tuple[str, int]]:
        """(show id, moved_ms) of the moves whose holders are still to be told, oldest first."""
        return [(_s(v), int(score)) for v, score in
                self.db.zrange(CinemaKeys(venue).moving(), 0, limit - 1, withscores=True)]

    def finish_moving(self, venue: str, show_id: str, moved_ms: int | None) -> bool:
        """Take the show off the moving set once its holders were told of the move at `moved_ms` (None: whatever
        the move, for a show gone or cancelled). False: it moved again meanwhile (still to tell)."""
        return bool(self._finish_move(keys=[CinemaKeys(venue).moving()],
                                      args=[show_id, "" if moved_ms is None else moved_ms]))

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def export_shopper(self, venue: str, client: str) -> dict:
        """The shopper's bookings (show, zone, seats, status, when) and every hold record naming them (the
        ones erasure unlinks): show, seats, status, times, the booking it became. Not the hold token: it is
        the handle of the hold's pages and payment, and an export is a file that travels."""
        bookings = [{"code": b.code, "show": b.show_id, "zone": b.zone, "seats": list(b.seats), "status": b.status,
                     "created_ms": b.created_ms} for b in self.client_bookings(venue, client, 1000)]
        holds = [_exported_hold(fields) for _key, fields in self._holds_naming(venue, client)]
        holds.sort(key=lambda hold: hold["created_ms"] or 0)
        return {name: rows for name, rows in (("bookings", bookings), ("holds", holds)) if rows}

    def _holds_naming(self, venue: str, client: str) -> list[tuple[str, dict[str, str]]]:
        """(key, fields) of every hold record naming the shopper. Holds have no per-shopper index, so the
        venue's hold records are scanned (export and erasure are rare)."""
        if not client:  # "" is what erasure leaves: it names nobody
            return []
        hold_keys = keys_matching(self.db, CinemaKeys(venue).hold("*"))
        pipe = self.db.pipeline(transaction=False)
        for key in hold_keys:
            pipe.hgetall(key)
        records = ((key, {_s(k): _s(v) for k, v in data.items()}) for key, data in
                   zip(hold_keys, pipe.execute(), strict=True))
        return [(key, d) for key, d in records if "show" in d and d.get("client") == client]

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the seats stay sold (the show's record) but the bookings and holds no longer name the
        shopper; "your tickets" and the live-hold pointers go. A hold still held is cancelled and its seats
        are free at once: its payment order names nobody now, and is refunded if paid after all. Holds
        first, then bookings: a payment confirming a hold meanwhile either finds it erased (and is refunded)
        or has already listed its booking in "your tickets", read after."""
        if not client:  # "" would match every record erased before
            return 0
        keys = CinemaKeys(venue)
        changed = self._forget_holds(venue, client)
        for booking in self.client_bookings(venue, client, 100_000):
            changed += blank_field(self.db, keys.booking(booking.code), "client", client)
        for pointer in keys_matching(self.db, keys.client_hold("*", glob_escape(client))):
            changed += int(self.db.delete(pointer))  # a pointer whose hold record is gone
        return changed + int(self.db.delete(keys.client_tickets(client)))

    def _forget_holds(self, venue: str, client: str) -> int:
        """Every hold record naming the shopper (live, confirmed, replaced by a re-pick, lapsed: a record
        outlives its hold by a day) is unlinked, a live one cancelled (the script checks the owner again)."""
        keys = CinemaKeys(venue)
        changed, prefix = 0, len(keys.hold(""))
        for key, fields in self._holds_naming(venue, client):
            show = fields["show"]
            changed += int(self._forget_hold(keys=[keys.seats(show), key, keys.client_hold(show, client)],
                                             args=[key[prefix:], client]))
        return changed

    def hand_over(self, venue: str, client: str, keeper: str, codes: list[str]) -> int:
        """Erasure keeps these paid tickets for her (portal/apps/paid.py): each booking (still hers) names `keeper`
        instead and moves to the keeper's "your tickets", kept as long as the booking; the rest of her goes with
        `forget_shopper`. Returns how many were handed over."""
        if not client or not keeper:  # "" names nobody (and every record erased before)
            return 0
        keys, script = CinemaKeys(venue), self.db.register_script(_HAND_OVER)
        return sum(int(script(keys=[keys.booking(code), keys.client_tickets(client), keys.client_tickets(keeper)],
                              args=[code, client, keeper])) for code in codes)

    def ref_titles(self, venue: str, key: str, ids: set[str]) -> dict[str, tuple[str, str]]:
        """What the privacy centre's page shows for a showtime id its data holds (`show`): the film's names
        (Chinese, English)."""
        if key != "show":
            return {}
        shows = self.showtimes_by_id(venue, sorted(show_id for show_id in ids if show_id))  # one round trip
        return {show.id: (show.film_zh, show.film_en) for show in shows.values()}


def _exported_hold(d: dict[str, str]) -> dict[str, Any]:
    """A hold record as the shopper's export shows it (no token: see export_shopper)."""
    def ms(name: str) -> int | None:
        return int(d[name]) if d.get(name, "").isdigit() else None

    return {"show": d["show"], "seats": [s for s in d.get("seats", "").split(",") if s], "status": d.get("status"),
            "created_ms": ms("created_ms"), "expires_ms": ms("expires_ms"), "cancelled_ms": ms("cancelled_ms"),
            "booking": d.get("code") or None}
