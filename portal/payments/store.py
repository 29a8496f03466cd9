"""Payment orders, refunds and the ledger: every state change is one Lua script on the venue's slot.

Keys (all under the venue's `{venue}` hash tag):

    pay:order:<id>         HASH    the order: amount (fen), currency, items (JSON), shopper, merchant (zone),
                                   purpose + ref (what it pays for), provider, method, status, txn, refunded...
    pay:idem:<key>         STRING  idempotency key -> order id (the same key never makes a second order)
    pay:open               ZSET    order id -> expiry ms, the unpaid orders the sweeper closes on timeout
    pay:refund:<no>        HASH    one refund: order, amount, status pending|processing|done|failed, provider
                                   refund id, attempts; `problem` (the provider's code) while it is stuck at the
                                   provider (refused for now, ABNORMAL) and once it failed, with `stuck` (how often)
    pay:refunds:open       ZSET    refund no -> asked-at ms: refunds not yet final (pending: the provider did not
                                   answer, or refused it for now; processing: it accepted, the result comes by
                                   callback or query); a stuck one is pushed later each time (back-off)
    pay:refunds:failed     ZSET    refund no -> ended ms: refunds the provider refused for good (for operators)
    pay:ledger             STREAM  append-only: one entry per money movement (paid, refund) of the venue, kept
                                   LEDGER_KEEP_MS (400 days) by its id, older ones dropped as entries are added and
                                   by the sweep once a day (`trim_ledgers`; `pay:ledger-trimmed` marks the day)
    pay:ledger:m:<zone>    STREAM  the same entries, for one merchant (written in the same script)
    pay:ledger-book:<zone> HASH    the merchant's running total: `total` (fen paid minus refunded, every entry counted
                                   once, in stream order, so trimming leaves it alone), `n` (the entries counted: more
                                   than the ledger holds once some were trimmed), `last` (the newest entry counted),
                                   `from_ms` (the oldest booking counted: what the balance is "since"), `lost` (the
                                   entries its ledger had already lost, uncounted, when the book began: if any, the
                                   balance before from_ms is unknown). The script that appends an entry counts it when
                                   the book has counted all before it; a reader counts the rest (a ledger the previous
                                   release wrote, entries its processes appended during a rolling deploy) in steps,
                                   oldest first
    pay:ledger-days:<zone> HASH    the merchant's day checkpoints: UTC day of stream ids (ms // 86400000) -> "<total>
                                   <n>", the book before that day's first entry; written once by the step that
                                   counts it, kept LEDGER_KEEP_MS: any day's balance is one of these plus a day of
                                   entries (`PaymentStore.merchant_snapshot`)
    pay:ledger-gaps        HASH    `lo`, `hi`: the least and greatest gap (ms) between an entry's stream id (the
                                   store's clock) and its `ms` (the booking's) ever written: reads by `ms` are bounded
                                   by id (`PaymentStore.ledger`)
    pay:untold             ZSET    order id -> ms: orders whose money listeners have not all heard of a payment or a
                                   refund done (the order's `tell` lists them in order, `told`/`told_part` how far
                                   the telling got); written by the script that booked the money, left by the one
                                   that records the last listener told, retried by the sweep
    pay:closing            ZSET    order id -> closed ms: orders closed unpaid whose purpose was not yet told
                                   (on_closed: release the hold, give the points back); written by the close
                                   script, left once the purpose was told, retried by the sweep (and a second cancel)
    pay:asked:<id>         STRING  set for a few seconds after the shopper's pages asked the provider about the order
                                   (reloads in between show what is stored; the sweep's queries ignore it)

States: created -> paid -> partially_refunded -> refunded; created -> closed (timeout, decline, cancel).
A paid order's `delivery` says what became of what it pays for: done (delivered) or refunded (could not
be delivered); absent while not known (a replayed callback delivers only then). A payment the provider
reports for an order that is closed or past its expiry is still booked as paid (the money moved) with
`late=1` and its full refund (number `<order id>L`) is reserved in the same script: the service asks the
provider for it at once, and the sweep again if that was cut short. Only money the provider confirmed is in
the ledger: a refund enters it when the provider reports it done (its answer, its refund callback or a refund
query), not when it was asked for. The order lists its refund numbers (`refund_nos`).

Retention: an order is kept ORDER_KEEP_MS (400 days: bills, disputes) from the moment a provider may know it
(bound to one, `_BIND`) or money moves (`_SETTLE`); before that it holds no money and nothing for the books, so
it is kept only UNBOUND_KEEP_MS past its expiry (and at least that long after its close), for the sweep to close
it and tell its purpose, and its idempotency key no longer than the order. `return_url` is kept without the
shopper's `c` token (the service strips it, the views add the asking shopper's back)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from core.replication import confirm
from core.storage import LUA_STORE_CLOCK, VenueKeys, scan_slot

ORDER_KEEP_MS = 400 * 86400 * 1000  # orders and refunds are kept 400 days (bills, disputes)
LEDGER_KEEP_MS = ORDER_KEEP_MS  # the ledger's entries as long as the orders they name
# An order no provider knows (never bound, never paid) past its expiry: only the sweep (cron, every minute)
# still touches it, to close it and tell its purpose (release a hold, give points back), and no callback can
# come (a provider hears of an order only after `bind`). A week outlasts a sweep that is down over a weekend
# (a parking fee's reserved points come back only when the sweep tells that order closed).
UNBOUND_KEEP_MS = 7 * 86400 * 1000
IDEM_KEEP_MS = 2 * 86400 * 1000
# A refund stuck at the provider (its balance too low, ABNORMAL) is asked about again 5 min later, then 10, 20...
# at most an hour apart (WeChat Pay suggests a decaying poll; the sweep adds its minute): never dropped.
REFUND_BACKOFF_MS = 5 * 60_000
REFUND_BACKOFF_MAX_MS = 3600_000
# A read of the ledger by booking time (`ms`) takes the stream ids this much wider each side than the gaps ever
# written (`pay:ledger-gaps`): both clocks are the store's in production, but an entry written before the gaps were
# kept (the previous release) or across a failover to a primary whose clock runs behind may be a little off.
LEDGER_ID_MARGIN_MS = 3600 * 1000
# Entries a reader counts per step into a merchant's book (a ledger the previous release wrote, or entries its
# processes appended during a rolling deploy), and reads per XRANGE page outside any script
LEDGER_CATCH_UP = 500
LEDGER_PAGE = 1000
STATES = ("created", "paid", "partially_refunded", "refunded", "closed")


class PaymentKeys(VenueKeys):
    def order(self, order_id: str) -> str:
        return self.key("pay", "order", order_id)

    def idem(self, key: str) -> str:
        return self.key("pay", "idem", key)

    def open_orders(self) -> str:
        return self.key("pay", "open")

    def refund(self, refund_no: str) -> str:
        return self.key("pay", "refund", refund_no)

    def open_refunds(self) -> str:
        return self.key("pay", "refunds", "open")

    def failed_refunds(self) -> str:
        return self.key("pay", "refunds", "failed")

    def ledger(self) -> str:
        return self.key("pay", "ledger")

    def merchant_ledger(self, merchant: str) -> str:
        return self.key("pay", "ledger", "m", merchant)

    def merchant_book(self, merchant: str) -> str:
        """Hash of the merchant's running total (outside `pay:ledger:m:*`, which `trim_ledgers` trims as streams)."""
        return self.key("pay", "ledger-book", merchant)

    def merchant_days(self, merchant: str) -> str:
        """Hash of the merchant's day checkpoints (outside `pay:ledger:m:*` too): a day's balance without its past."""
        return self.key("pay", "ledger-days", merchant)

    def ledger_gaps(self) -> str:
        return self.key("pay", "ledger-gaps")

    def ledgers_trimmed(self) -> str:
        """String for a day after the sweep trimmed every ledger of the venue (`PaymentStore.trim_ledgers`)."""
        return self.key("pay", "ledger-trimmed")

    def untold(self) -> str:
        return self.key("pay", "untold")

    def closing(self) -> str:
        return self.key("pay", "closing")

    def telling(self, order_id: str) -> str:
        return self.key("pay", "telling", order_id)

    def asked(self, order_id: str) -> str:
        return self.key("pay", "asked", order_id)


# KEYS[1] an order's telling mark; ARGV[1] its holder. Ends the mark only while it is still this holder's.
_END_TELLING = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_NOW = f"""
local LEDGER_KEEP_MS = {LEDGER_KEEP_MS}
""" + LUA_STORE_CLOCK + """
local DAY_MS = 86400000
local function ms_text(ms) return string.format('%.0f', ms) end
local function id_ms(id) return tonumber(string.match(id, '^(%d+)')) end
-- An entry's id is the store's clock, its `ms` the booking's (`now`, which a caller may set): readers by `ms` bound
-- their XRANGE by id, widened by the gaps ever written (_READ_LEDGER). `...`: the ids booked at `ms`, noted in one
-- read of the gaps
local function note_gap(gaps, ms, ...)
  local lo, hi
  for _, id in ipairs({...}) do
    local gap = id_ms(id) - ms
    lo, hi = math.min(lo or gap, gap), math.max(hi or gap, gap)
  end
  local g = redis.call('HMGET', gaps, 'lo', 'hi')
  if not g[1] or lo < tonumber(g[1]) then redis.call('HSET', gaps, 'lo', ms_text(lo)) end
  if not g[2] or hi > tonumber(g[2]) then redis.call('HSET', gaps, 'hi', ms_text(hi)) end
end
-- How many entries the stream has lost (trimmed) since it began: XINFO's entries ever added less those it holds
local function lost(stream)
  if redis.call('EXISTS', stream) == 0 then return 0 end
  local info, f = redis.call('XINFO', 'STREAM', stream), {}
  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
  return math.max(tonumber(f['entries-added'] or 0) - tonumber(f['length']), 0)
end
-- A merchant's book counts its ledger's entries once each, in stream order, up to `last` (the newest counted; '0-0'
-- none yet). `lost`: the entries its ledger had lost when it opened, which nobody counted (a ledger the previous
-- release wrote and trimmed): nothing is known of the balance before its `from_ms`. Opening one drops a book without
-- `last` (the release before it kept none) with its days: it is counted afresh.
local function open_book(stream, book, days)
  redis.call('DEL', book, days)
  redis.call('HSET', book, 'total', 0, 'n', 0, 'last', '0-0', 'lost', lost(stream))
end
-- Whether an entry appended now may count itself: only when its book has counted every entry before it (a process of
-- the previous release appends without counting; a reader counts those first, then this one, in order)
local function caught_up(stream, book)
  local last = redis.call('HGET', book, 'last')
  return last ~= false and #redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1) == 0
end
-- The day checkpoints (`days`): per UTC day of stream ids, the book's total and count before its first entry, kept
-- once (HSETNX) and for LEDGER_KEEP_MS like the entries: a balance at any moment is a checkpoint plus a day of entries
local function forget_days(days)
  local horizon = math.floor((now_ms(nil) - LEDGER_KEEP_MS) / DAY_MS)
  for _, day in ipairs(redis.call('HKEYS', days)) do
    if tonumber(day) < horizon then redis.call('HDEL', days, day) end
  end
end
local function tally(book, days, id, fen, ms)
  local b = redis.call('HMGET', book, 'total', 'n', 'from_ms')
  local total, n = tonumber(b[1]), tonumber(b[2])
  if redis.call('HSETNX', days, ms_text(math.floor(id_ms(id) / DAY_MS)), ms_text(total) .. ' ' .. ms_text(n)) == 1 then
    forget_days(days)
  end
  redis.call('HSET', book, 'total', ms_text(total + fen), 'n', ms_text(n + 1), 'last', id)
  if ms and (not b[3] or ms < tonumber(b[3])) then redis.call('HSET', book, 'from_ms', ms_text(ms)) end
end
-- KEYS[3] the venue's ledger, KEYS[4] the merchant's; `book`, `days` the merchant's, `gaps` the venue's.
local function ledger(kind, order, amount, txn, ref_no, now, book, gaps, days)
  local m = redis.call('HMGET', order, 'id', 'merchant', 'provider', 'purpose')
  local entry = {'kind', kind, 'order', m[1], 'merchant', m[2], 'provider', m[3] or '', 'purpose', m[4] or '',
                 'amount', amount, 'txn', txn, 'refund_no', ref_no, 'ms', ms_text(now)}
  -- kept as long as the orders (LEDGER_KEEP_MS), by the store's clock that names the entries (not `now`, which a
  -- caller may set); exact, each entry added drops the few that came of age since the last
  local keep_from = ms_text(now_ms(nil) - LEDGER_KEEP_MS)
  -- a new merchant's book opens with its first entry; a ledger the previous release wrote waits for a reader's count
  if redis.call('EXISTS', book) == 0 and redis.call('XLEN', KEYS[4]) == 0 then open_book(KEYS[4], book, days) end
  local counts = caught_up(KEYS[4], book)
  local venue_id = redis.call('XADD', KEYS[3], 'MINID', keep_from, '*', unpack(entry))
  local id = redis.call('XADD', KEYS[4], 'MINID', keep_from, '*', unpack(entry))
  -- both ids come from this script's clock (one differs only after a stream's newest id ran ahead of it): one note
  note_gap(gaps, now, venue_id, id)
  if counts then tally(book, days, id, kind == 'paid' and tonumber(amount) or -tonumber(amount), now) end
end
local function append(key, field, item)
  local items = redis.call('HGET', key, field) or ''
  redis.call('HSET', key, field, items == '' and item or (items .. ',' .. item))
end
"""

# KEYS[1] order, KEYS[2] idem, KEYS[3] open zset. ARGV[1] id, ARGV[2] now, ARGV[3] ttl ms, ARGV[4] JSON fields.
# Kept UNBOUND_MS past its expiry until bound or paid; the idempotency key never outlives it (a key naming an
# order that is gone would make `create` answer an order nobody can read).
# Returns {'OK', id} | {'EXISTS', id} (the idempotency key already made an order).
_CREATE = _NOW + """
local existing = redis.call('GET', KEYS[2])
if existing then return {'EXISTS', existing} end
local now = now_ms(ARGV[2])
local exp = string.format('%.0f', now + tonumber(ARGV[3]))
local f = cjson.decode(ARGV[4])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'created', 'created_ms', string.format('%.0f', now),
           'expires_ms', exp, 'refunded', 0, 'refund_pending', 0, 'provider', '', 'method', '', 'txn', '')
for k, v in pairs(f) do redis.call('HSET', KEYS[1], k, v) end
local keep = tonumber(ARGV[3]) + UNBOUND_MS
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', keep))
redis.call('SET', KEYS[2], ARGV[1], 'PX', string.format('%.0f', math.min(keep, IDEM_MS)))
redis.call('ZADD', KEYS[3], exp, ARGV[1])
return {'OK', ARGV[1]}
""".replace("UNBOUND_MS", str(UNBOUND_KEEP_MS)).replace("IDEM_MS", str(IDEM_KEEP_MS))

# Bind the provider the shopper chose (one provider per order: never two ways to pay one order). From here the
# provider may know the order (its callback, a bill line, a dispute): kept KEEP_MS.
# KEYS[1] order. ARGV[1] provider, ARGV[2] method, ARGV[3] now.
# Returns {'OK'} | {'STATE', status} | {'EXPIRED'} | {'OTHER', provider}.
_BIND = _NOW + """
local o = redis.call('HMGET', KEYS[1], 'status', 'provider', 'expires_ms')
if not o[1] then return {'STATE', 'unknown'} end
if o[1] ~= 'created' then return {'STATE', o[1]} end
if tonumber(o[3]) <= now_ms(ARGV[3]) then return {'EXPIRED'} end
if o[2] ~= '' and o[2] ~= ARGV[1] then return {'OTHER', o[2]} end
redis.call('HSET', KEYS[1], 'provider', ARGV[1], 'method', ARGV[2])
redis.call('PEXPIRE', KEYS[1], KEEP_MS)
return {'OK'}
""".replace("KEEP_MS", str(ORDER_KEEP_MS))

# The code a QR payment shows (Native / precreate), kept on the order so that its page, which reloads itself
# while it waits, shows the same code again. Only on an unpaid order that is still there: never a key without
# its expiry. KEYS[1] order. ARGV[1] the code's URL ('' after a method without one). Returns 1 | 0.
_KEEP_QR = """
if redis.call('HGET', KEYS[1], 'status') ~= 'created' then return 0 end
redis.call('HSET', KEYS[1], 'qr_url', ARGV[1])
return 1
"""

# The provider says the order was paid. KEYS[1] order, KEYS[2] open zset, KEYS[3] ledger, KEYS[4] merchant
# ledger, KEYS[5] the late refund, KEYS[6] open refunds, KEYS[7] untold zset, KEYS[8] closing zset, KEYS[9] the
# merchant's book, KEYS[10] the ledger's gaps, KEYS[11] the merchant's day checkpoints. ARGV[1] amount
# fen, ARGV[2] provider txn id, ARGV[3] provider, ARGV[4] now, ARGV[5] currency, ARGV[6] the late refund's number,
# ARGV[7] its reason, ARGV[8] when the provider says it was paid ('' not stated). Late is judged by that time (never
# later than now): a payment made before the expiry whose callback or query comes after it is on time.
# The payment goes on the order's `tell` list (its listeners are told, see _TOLD). A late one's full refund is
# reserved here, in the same step: were it reserved by a second call, a store error between the two would
# leave the money booked, the callback acknowledged on its replay ("dup") and no refund anywhere. A late payment
# of an order not closed yet (past its expiry, before the sweep) goes on the closing set too: its purpose is told
# it closed (what it held, redeemed points, a coupon, is released), as the close script would have.
# Returns {'PAID'} | {'LATE'} (paid, but closed or expired: its refund is reserved; 'LATE_OPEN' where this call put
#       the order on the closing set) | {'DUP'} (already booked)
#       | {'UNKNOWN'} | {'MISMATCH'} (amount, currency or provider differ: nothing changed).
_SETTLE = _NOW + """
local o = redis.call('HMGET', KEYS[1], 'status', 'amount', 'txn', 'expires_ms', 'provider', 'currency')
if not o[1] then return {'UNKNOWN'} end
if o[2] ~= ARGV[1] or (o[6] or 'CNY') ~= ARGV[5] or (o[5] ~= '' and o[5] ~= ARGV[3]) then return {'MISMATCH'} end
if o[1] ~= 'created' and o[1] ~= 'closed' then
  if o[3] == ARGV[2] then return {'DUP'} end
  return {'MISMATCH'}
end
local now = now_ms(ARGV[4])
local paid_at = tonumber(ARGV[8] or '')
if paid_at == nil or paid_at <= 0 or paid_at > now then paid_at = now end
local late = o[1] == 'closed' or tonumber(o[4]) <= paid_at
redis.call('HSET', KEYS[1], 'status', 'paid', 'txn', ARGV[2], 'provider', ARGV[3],
           'paid_ms', string.format('%.0f', now), 'late', late and '1' or '0')
redis.call('PEXPIRE', KEYS[1], KEEP_MS)  -- money moved: kept for the books (also one never bound)
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', KEYS[2], id)
ledger('paid', KEYS[1], ARGV[1], ARGV[2], '', now, KEYS[9], KEYS[10], KEYS[11])
append(KEYS[1], 'tell', 'paid')
redis.call('ZADD', KEYS[7], string.format('%.0f', now), id)
if not late then return {'PAID'} end
local answer = 'LATE'
if o[1] == 'created' then
  redis.call('ZADD', KEYS[8], string.format('%.0f', now), id)
  answer = 'LATE_OPEN'  -- this call closed it: its caller tells the purpose (the sweep, if that is cut short)
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('HINCRBY', KEYS[1], 'refund_pending', tonumber(ARGV[1]))
  append(KEYS[1], 'refund_nos', ARGV[6])
  redis.call('HSET', KEYS[5], 'no', ARGV[6], 'order', id, 'amount', ARGV[1], 'status', 'pending', 'reason', ARGV[7],
             'created_ms', string.format('%.0f', now), 'attempts', 1)
  redis.call('PEXPIRE', KEYS[5], KEEP_MS)
  redis.call('ZADD', KEYS[6], string.format('%.0f', now), ARGV[6])
end
return {answer}
""".replace("KEEP_MS", str(ORDER_KEEP_MS))

# Close an unpaid order. KEYS[1] order, KEYS[2] open zset, KEYS[3] closing zset. ARGV[1] now, ARGV[2] '1' = now
# even before its expiry (the shopper declined or cancelled), ARGV[3] reason. The order goes on the closing set in
# the same step (its purpose is still to be told: a store error after the close would otherwise leave the hold,
# the points, the coupon taken for good, as no later call finds the order open to close again). An order closed
# late (the sweep was down) is kept UNBOUND_MS from now, so the sweep's retries of its purpose still read it.
# Returns {'CLOSED'} | {'STATE', status} | {'OPEN'}.
_CLOSE = _NOW + """
local o = redis.call('HMGET', KEYS[1], 'status', 'expires_ms', 'id')
if not o[1] then return {'STATE', 'unknown'} end
if o[1] ~= 'created' then return {'STATE', o[1]} end
local now = now_ms(ARGV[1])
if ARGV[2] ~= '1' and tonumber(o[2]) > now then return {'OPEN'} end
redis.call('HSET', KEYS[1], 'status', 'closed', 'close_reason', ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left >= 0 and left < UNBOUND_MS then redis.call('PEXPIRE', KEYS[1], UNBOUND_MS) end
redis.call('ZREM', KEYS[2], o[3])
redis.call('ZADD', KEYS[3], string.format('%.0f', now), o[3])
return {'CLOSED'}
""".replace("UNBOUND_MS", str(UNBOUND_KEEP_MS))

# Reserve a refund. KEYS[1] order, KEYS[2] refund, KEYS[3] open refunds. ARGV[1] refund no, ARGV[2] amount,
# ARGV[3] now, ARGV[4] reason.
# Returns {'OK'} | {'DUP', status} | {'STATE', status} | {'EXCEEDS', refundable}.
_REFUND_BEGIN = _NOW + """
local o = redis.call('HMGET', KEYS[1], 'status', 'amount', 'refunded', 'refund_pending', 'id')
if not o[1] then return {'STATE', 'unknown'} end
local r = redis.call('HGET', KEYS[2], 'status')
if r then return {'DUP', r} end
if o[1] ~= 'paid' and o[1] ~= 'partially_refunded' then return {'STATE', o[1]} end
local left = tonumber(o[2]) - tonumber(o[3]) - tonumber(o[4])
local amount = tonumber(ARGV[2])
if amount <= 0 or amount > left then return {'EXCEEDS', left} end
redis.call('HINCRBY', KEYS[1], 'refund_pending', amount)
local nos = redis.call('HGET', KEYS[1], 'refund_nos') or ''
redis.call('HSET', KEYS[1], 'refund_nos', nos == '' and ARGV[1] or (nos .. ',' .. ARGV[1]))
local now = string.format('%.0f', now_ms(ARGV[3]))
redis.call('HSET', KEYS[2], 'no', ARGV[1], 'order', o[5], 'amount', amount, 'status', 'pending',
           'reason', ARGV[4], 'created_ms', now, 'attempts', 1)
redis.call('PEXPIRE', KEYS[2], KEEP_MS)
redis.call('ZADD', KEYS[3], now, ARGV[1])
return {'OK'}
""".replace("KEEP_MS", str(ORDER_KEEP_MS))

# What the provider says of a refund not yet final: done, failed (refused for good, closed), processing
# (accepted, result to come) or pending (refused for now: to be asked again under the same number).
# KEYS[1] order, KEYS[2] refund, KEYS[3] ledger, KEYS[4] merchant ledger, KEYS[5] open refunds, KEYS[6] failed
# refunds, KEYS[7] untold zset, KEYS[8] the merchant's book, KEYS[9] the ledger's gaps, KEYS[10] the merchant's
# day checkpoints. ARGV[1] refund no,
# ARGV[2] provider refund id, ARGV[3] outcome, ARGV[4] now, ARGV[5] order id it must belong to ('' = any), ARGV[6]
# the provider's code for a problem ('' = none): with pending or processing, the refund is stuck at the provider
# (its balance, ABNORMAL) and the sweep comes back later each time. A refund done
# goes on the order's `tell` list (with `refunded_after`, the order's refunded total it made: its listeners hear
# the order as it was then, however late they are told).
# Returns {'OK', order status} | {'DUP', refund status} (already final, or processing again) | {'UNKNOWN'}.
_REFUND_END = _NOW + """
local r = redis.call('HMGET', KEYS[2], 'status', 'amount', 'order')
if not r[1] or (ARGV[5] ~= '' and r[3] ~= ARGV[5]) then return {'UNKNOWN'} end
if r[1] ~= 'pending' and r[1] ~= 'processing' then return {'DUP', r[1]} end
local amount = tonumber(r[2])
local now = now_ms(ARGV[4])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'provider_refund_id', ARGV[2]) end
if ARGV[3] == 'processing' or ARGV[3] == 'pending' then
  if ARGV[6] ~= '' then
    local n = redis.call('HINCRBY', KEYS[2], 'stuck', 1)
    redis.call('HSET', KEYS[2], 'status', ARGV[3], 'problem', ARGV[6])
    local wait = math.min(BACKOFF_MS * 2 ^ math.min(n - 1, 20), BACKOFF_MAX_MS)
    redis.call('ZADD', KEYS[5], string.format('%.0f', now + wait), ARGV[1])
    return {'OK', redis.call('HGET', KEYS[1], 'status')}
  end
  redis.call('HDEL', KEYS[2], 'problem')
  if r[1] == ARGV[3] then return {'DUP', r[1]} end
  redis.call('HSET', KEYS[2], 'status', ARGV[3])
  return {'OK', redis.call('HGET', KEYS[1], 'status')}
end
redis.call('HINCRBY', KEYS[1], 'refund_pending', -amount)
redis.call('HSET', KEYS[2], 'status', ARGV[3], 'ended_ms', string.format('%.0f', now))
redis.call('ZREM', KEYS[5], ARGV[1])
if ARGV[3] ~= 'done' then
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'problem', ARGV[6]) end
  redis.call('ZADD', KEYS[6], string.format('%.0f', now), ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('%.0f', now - KEEP_MS))
  return {'OK', redis.call('HGET', KEYS[1], 'status')}
end
redis.call('HDEL', KEYS[2], 'problem')
local refunded = redis.call('HINCRBY', KEYS[1], 'refunded', amount)
local total = tonumber(redis.call('HGET', KEYS[1], 'amount'))
local status = refunded >= total and 'refunded' or 'partially_refunded'
redis.call('HSET', KEYS[1], 'status', status)
redis.call('HSET', KEYS[2], 'refunded_after', refunded)
ledger('refund', KEYS[1], amount, redis.call('HGET', KEYS[1], 'txn'), ARGV[1], now, KEYS[8],
       KEYS[9], KEYS[10])
append(KEYS[1], 'tell', ARGV[1])
redis.call('ZADD', KEYS[7], string.format('%.0f', now), r[3])
return {'OK', status}
""".replace("KEEP_MS", str(ORDER_KEEP_MS)).replace("BACKOFF_MAX_MS", str(REFUND_BACKOFF_MAX_MS)) \
    .replace("BACKOFF_MS", str(REFUND_BACKOFF_MS))

# What became of a paid order's delivery, written once: done | refunded. KEYS[1] order. ARGV[1] outcome.
# Returns 1 when this call wrote it, 0 when it was written before (or there is no such order).
_DELIVERED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'delivery', ARGV[1])
"""


# How far the money listeners were told of an order's `tell` list: ARGV[1] entries told to every listener,
# ARGV[2] listeners told of the next one (the resumed telling skips them: the event log writes once). Moves
# forward only (a slower, concurrent telling never winds it back). Once all entries are told, the order leaves
# the untold set. KEYS[1] order, KEYS[2] untold zset. ARGV[3] order id. Returns the entries still to tell.
_TOLD = """
local o = redis.call('HMGET', KEYS[1], 'tell', 'told', 'told_part')
local told, part = tonumber(o[2] or '0'), tonumber(o[3] or '0')
local i, j = tonumber(ARGV[1]), tonumber(ARGV[2])
if i > told or (i == told and j > part) then
  redis.call('HSET', KEYS[1], 'told', i, 'told_part', j)
  told = i
end
local n = 0
for _ in string.gmatch(o[1] or '', '[^,]+') do n = n + 1 end
if told >= n then redis.call('ZREM', KEYS[2], ARGV[3]) end
return math.max(n - told, 0)
"""

# One step of a reader's count into a merchant's book: up to ARGV[1] entries after the newest counted (`last`), oldest
# first, each noted (`note_gap`, so reads by `ms` see them) and counted (`tally`, checkpoints too). A ledger the
# previous release wrote (no book) is counted from its oldest entry kept, and entries a process of that release
# appended without counting (a rolling deploy) after the book's `last`: the total heals itself. Entries appended
# meanwhile by this release wait for the count to reach them (`caught_up`), so each is counted once, in order.
# KEYS[1] the merchant's ledger, KEYS[2] its book, KEYS[3] its days, KEYS[4] the ledger's gaps. Returns 1 once every
# entry is counted (or there is no ledger: the first entry opens the book), else 0.
_CATCH_UP_STEP = """
local function catch_up(stream, book, days, gaps, step)
  local b = redis.call('HMGET', book, 'last', 'n', 'lost')
  local last = b[1]
  if not last and redis.call('EXISTS', stream) == 0 then return 1 end
  -- trimming reached past every entry counted and took some not counted yet (a count begun at the trim horizon):
  -- the book starts again from what the ledger holds, as one that lost entries
  if last and #redis.call('XRANGE', stream, '-', last, 'COUNT', 1) == 0
      and lost(stream) > tonumber(b[2]) + tonumber(b[3]) then
    last = false
  end
  if not last then
    open_book(stream, book, days)
    last = '0-0'
  end
  local entries = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', step)
  for _, e in ipairs(entries) do
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    local amount, ms = tonumber(f.amount or '') or 0, tonumber(f.ms or '')
    if ms then note_gap(gaps, ms, e[1]) end
    tally(book, days, e[1], f.kind == 'paid' and amount or -amount, ms)
  end
  return #entries < step and 1 or 0
end
"""

# Where a ledger's entries with `ms` in [ARGV[1], ARGV[2]) lie ('' from the first, to the last): stream ids widened by
# the gaps ever written (at least ARGV[3] ms each side). Never the entries themselves: the caller reads them with
# plain paged XRANGEs (`PaymentStore._entries`), so a long range never holds the store in one script.
# KEYS[1] the ledger, KEYS[2] the gaps. Returns {first id, last id}.
# With a merchant's book (KEYS[3] the book, KEYS[4] its days, ARGV[4] a count step), first a step of its count
# (_CATCH_UP_STEP; {'MORE'} while entries are left), then in the same step the book: its total, from_ms, partial; the
# last id is never past its `last`, so an entry booked meanwhile is in the read and the total or in neither. With
# ARGV[2] also the balance's base for that moment: everything counted below a UTC day start (`base_ms`, a day's
# checkpoint, at or before the ids of entries booked before ARGV[2]), the first id lowered to it; '' where unknown
# (older than the checkpoints kept, or entries counted from there on have been trimmed: the book counted more than
# the ledger holds plus what it counted before `base_ms`). Returns {first, last, total, from_ms, partial, base_ms,
# base} ({first, last, '', '', '0', '', ''} for a merchant with no ledger).
_READ_LEDGER = _NOW + _CATCH_UP_STEP + """
local book, days = KEYS[3], KEYS[4]
if book and catch_up(KEYS[1], book, days, KEYS[2], tonumber(ARGV[4])) == 0 then return {'MORE'} end
local g = redis.call('HMGET', KEYS[2], 'lo', 'hi')
local margin = tonumber(ARGV[3])
local lo = math.min(tonumber(g[1] or '0'), 0) - margin
local hi = math.max(tonumber(g[2] or '0'), 0) + margin
local first, last = '-', '+'
if ARGV[1] ~= '' then first = ms_text(math.max(tonumber(ARGV[1]) + lo, 0)) end
if ARGV[2] ~= '' then last = ms_text(math.max(tonumber(ARGV[2]) + hi, 0)) end
if not book then return {first, last} end
local b = redis.call('HMGET', book, 'total', 'n', 'from_ms', 'lost', 'last')
if not b[5] then return {first, last, '', '', '0', '', ''} end
if last == '+' or id_ms(b[5]) <= tonumber(last) then last = b[5] end
local base_ms, base = '', ''
if ARGV[2] ~= '' then
  local day = math.floor(math.max(tonumber(ARGV[2]) + lo, 0) / DAY_MS)
  base_ms = ms_text(day * DAY_MS)
  if first ~= '-' and tonumber(first) > day * DAY_MS then first = base_ms end
  -- checkpoints and entries go after LEDGER_KEEP_MS: a day past that horizon, which no trim during this read reaches
  if day > math.floor((now_ms(nil) - LEDGER_KEEP_MS) / DAY_MS) then
    local total, n, at = tonumber(b[1]), tonumber(b[2]), nil
    local kept = redis.call('HGETALL', days)
    for i = 1, #kept, 2 do
      local d = tonumber(kept[i])
      if d >= day and (not at or d < at) then
        at = d
        total, n = string.match(kept[i + 1], '^(%S+) (%S+)$')
      end
    end
    if tonumber(b[2]) - redis.call('XLEN', KEYS[1]) <= tonumber(n) then base = ms_text(tonumber(total)) end
  end
end
return {first, last, b[1], b[3] or '', tonumber(b[4] or '0') > 0 and '1' or '0', base_ms, base}
"""


@dataclass(frozen=True)
class TellProgress:
    """An order's money movements its listeners are to hear, in order ("paid", then refund numbers), and how
    far the telling got: `told` entries to every listener, then `part` listeners of the next one."""

    entries: tuple[str, ...]
    told: int
    part: int

    @property
    def pending(self) -> bool:
        return self.told < len(self.entries)


@dataclass(frozen=True)
class Order:
    id: str
    venue: str
    merchant: str
    shopper: str
    amount: int  # fen
    currency: str
    items: tuple[dict, ...]
    purpose: str  # what it pays for: "cinema", "flash", ... (the handler that is told)
    ref: str  # the purpose's own id (a hold token, a reservation)
    description: str
    status: str
    created_ms: int
    expires_ms: int
    provider: str = ""
    method: str = ""
    txn: str = ""
    refunded: int = 0
    refund_pending: int = 0
    late: bool = False
    return_url: str = ""
    close_reason: str = ""
    qr_url: str = ""  # the code a QR payment shows while it waits (`keep_qr`)
    delivery: str = ""  # paid: "done" (delivered), "refunded" (could not be), "" (not known yet)

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded - self.refund_pending

    @property
    def is_paid(self) -> bool:
        return self.status in ("paid", "partially_refunded", "refunded")


@dataclass(frozen=True)
class LedgerEntry:
    id: str  # the stream entry id (append order)
    kind: str  # paid | refund
    order: str
    merchant: str
    provider: str
    purpose: str
    amount: int  # fen, always positive; a refund takes money back
    txn: str
    refund_no: str
    ms: int

    @property
    def fen(self) -> int:
        """What the entry adds to the merchant's balance: a payment its amount, a refund less (as the scripts count)."""
        return self.amount if self.kind == "paid" else -self.amount

    @property
    def id_ms(self) -> int:
        """The store's clock when it was appended (its stream id's time)."""
        return int(self.id.split("-", 1)[0])


@dataclass(frozen=True)
class LedgerBook:
    """A merchant's running total as read for one moment (`PaymentStore.merchant_snapshot`'s until_ms): every entry
    counted once, as it was booked (the book of a ledger the previous release wrote: what it held when first read, then
    every entry), so trimming the ledger leaves it alone; and the balance's base for that moment (a day checkpoint)."""

    total: int  # fen paid minus refunded
    since_ms: int | None  # the oldest booking counted (None: nothing booked yet)
    # The book began on a ledger that had already lost entries (trimmed): nothing is known of the balance before
    # since_ms, where a whole book knows it was 0
    partial: bool = False
    base_id_ms: int = 0  # the entries with stream ids from here on were read with the book
    base_total: int | None = None  # fen counted below base_id_ms; None where entries after it are no longer kept

    def balance_at(self, at_ms: int, entries: Iterable[LedgerEntry]) -> int | None:
        """The balance at `at_ms`, the moment the book was read for (everything counted booked before it), from the
        ledger's `entries` read with it: None where that needs entries no longer kept."""
        if self.since_ms is None or at_ms <= self.since_ms:
            return None if self.partial else 0
        if self.base_total is None:
            return None
        return self.base_total + sum(e.fen for e in entries if e.id_ms >= self.base_id_ms and e.ms < at_ms)


def _entry(entry_id, fields: dict) -> LedgerEntry:
    d = {_s(k): _s(v) for k, v in fields.items()}
    return LedgerEntry(id=_s(entry_id), kind=d["kind"], order=d["order"], merchant=d["merchant"],
                       provider=d["provider"], purpose=d["purpose"], amount=int(d["amount"]), txn=d["txn"],
                       refund_no=d["refund_no"], ms=int(d["ms"]))


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


LATE_REFUND_REASON = "paid after the order expired"  # the reason of a late payment's full refund, wherever made


def late_refund_no(order_id: str) -> str:
    """The number of the full refund of a payment that came after its order expired or closed (one per order)."""
    return order_id + "L"


def new_order_id() -> str:
    """32 characters at most and only [0-9A-Za-z] (what WeChat Pay and Alipay both accept as out_trade_no)."""
    return "MP" + secrets.token_hex(12).upper()


class PaymentStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._create = db.register_script(_CREATE)
        self._bind = db.register_script(_BIND)
        self._keep_qr = db.register_script(_KEEP_QR)
        self._settle = db.register_script(_SETTLE)
        self._close = db.register_script(_CLOSE)
        self._refund_begin = db.register_script(_REFUND_BEGIN)
        self._refund_end = db.register_script(_REFUND_END)
        self._delivered = db.register_script(_DELIVERED)
        self._told = db.register_script(_TOLD)
        self._end_telling = db.register_script(_END_TELLING)
        self._read_ledger = db.register_script(_READ_LEDGER)

    def create(self, venue: str, idem: str, ttl_ms: int, fields: dict, now_ms: int | None = None) -> tuple[str, bool]:
        """(order id, created now?): an idempotency key seen before gives its order back."""
        keys = PaymentKeys(venue)
        order_id = new_order_id()
        values = {k: str(v) for k, v in fields.items()}
        result = self._create(keys=[keys.order(order_id), keys.idem(idem), keys.open_orders()],
                              args=[order_id, _arg(now_ms), int(ttl_ms), json.dumps(values)])
        return _s(result[1]), _s(result[0]) == "OK"

    def merchants_of(self, venue: str, order_ids: list[str], chunk: int = 1000) -> dict[str, str]:
        """order id -> its merchant ("" for an order not stored), `chunk` orders a round trip: a day's bill names
        thousands, which a read each made as many round trips."""
        keys, ids = PaymentKeys(venue), list(dict.fromkeys(order_ids))
        read = self._fields([keys.order(order_id) for order_id in ids], ("status", "merchant"), chunk)
        # as `order`: an order without a status is none
        return {order_id: _s(merchant or b"") if status is not None else ""
                for order_id, (status, merchant) in zip(ids, read, strict=True)}

    def _fields(self, keys: list[str], fields: tuple[str, ...], chunk: int) -> list[list]:
        """`fields` of each hash in `keys` (HMGET's replies, in the keys' order), `chunk` hashes a round trip."""
        replies: list[list] = []
        for start in range(0, len(keys), chunk):
            pipe = self.db.pipeline(transaction=False)
            for key in keys[start:start + chunk]:
                pipe.hmget(key, *fields)
            replies += pipe.execute()
        return replies

    def order(self, venue: str, order_id: str) -> Order | None:
        data = self.db.hgetall(PaymentKeys(venue).order(order_id))
        if not data or b"status" not in data:
            return None
        d = {_s(k): _s(v) for k, v in data.items()}
        return Order(id=d["id"], venue=venue, merchant=d.get("merchant", ""), shopper=d.get("shopper", ""),
                     amount=int(d["amount"]), currency=d.get("currency", "CNY"),
                     items=tuple(json.loads(d.get("items") or "[]")), purpose=d.get("purpose", ""),
                     ref=d.get("ref", ""), description=d.get("description", ""), status=d["status"],
                     created_ms=int(d["created_ms"]), expires_ms=int(d["expires_ms"]),
                     provider=d.get("provider", ""), method=d.get("method", ""), txn=d.get("txn", ""),
                     refunded=int(d.get("refunded") or 0), refund_pending=int(d.get("refund_pending") or 0),
                     late=d.get("late") == "1", return_url=d.get("return_url", ""),
                     close_reason=d.get("close_reason", ""), qr_url=d.get("qr_url", ""),
                     delivery=d.get("delivery", ""))

    # ---- the privacy centre (portal/events/mydata.py) ----------------------------------------------

    def _orders_of(self, venue: str, client: str, chunk: int = 1000) -> list[Order]:
        """The shopper's orders (a scan of the venue's orders: an erasure or an export is rare), their shoppers read
        `chunk` orders a round trip (a venue keeps tens of thousands: a read each held her page for seconds)."""
        keys = scan_slot(self.db, PaymentKeys(venue).order("*"))  # the venue's slot's primary only
        out = []
        for key, (shopper,) in zip(keys, self._fields(keys, ("shopper",), chunk), strict=True):
            order = self.order(venue, _s(key).rsplit(":", 1)[1]) if _s(shopper or b"") == client else None
            if order is not None:
                out.append(order)
        return out

    def export_shopper(self, venue: str, client: str) -> dict:
        """The shopper's orders: what, how much, when, what became of them."""
        orders = [{"order": o.id, "purpose": o.purpose, "merchant": o.merchant, "amount_fen": o.amount,
                   "currency": o.currency, "status": o.status, "created_ms": o.created_ms, "refunded": o.refunded}
                  for o in self._orders_of(venue, client)]
        return {"orders": orders} if orders else {}

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: orders and the ledger stay (the books must add up, bills are kept 400 days) but no order
        names the shopper or carries their page's address any more."""
        keys = PaymentKeys(venue)
        for order in (orders := self._orders_of(venue, client)):
            self.db.hset(keys.order(order.id), mapping={"shopper": "", "return_url": ""})
        return len(orders)

    def order_for_key(self, venue: str, idem: str) -> Order | None:
        order_id = self.db.get(PaymentKeys(venue).idem(idem))
        return self.order(venue, _s(order_id)) if order_id else None

    def bind(self, venue: str, order_id: str, provider: str, method: str, now_ms: int | None = None) -> str:
        """"ok", "expired", "other:<provider>" or "state:<status>"."""
        result = self._bind(keys=[PaymentKeys(venue).order(order_id)], args=[provider, method, _arg(now_ms)])
        return ":".join(_s(r) for r in result).lower()

    def keep_qr(self, venue: str, order_id: str, url: str) -> bool:
        """Keep the code the shopper scans to pay (`url`; "" for a method that shows none) with the unpaid order."""
        return bool(self._keep_qr(keys=[PaymentKeys(venue).order(order_id)], args=[url]))

    def settle(self, venue: str, order_id: str, amount: int, txn: str, provider: str,
               now_ms: int | None = None, currency: str = "CNY", paid_ms: int = 0) -> str:
        """"paid", "late" (its full refund, number `late_refund_no(order_id)`, is reserved; "late_open" where the
        order was not closed yet and this booking closed it), "dup", "unknown" or "mismatch" (see _SETTLE).
        `paid_ms`: when the provider says it was paid (0: not stated), what lateness is judged by."""
        keys = PaymentKeys(venue)
        merchant = self.db.hget(keys.order(order_id), "merchant")
        late_no = late_refund_no(order_id)
        result = self._settle(
            keys=[keys.order(order_id), keys.open_orders(), keys.ledger(), keys.merchant_ledger(_s(merchant or "")),
                  keys.refund(late_no), keys.open_refunds(), keys.untold(), keys.closing(),
                  keys.merchant_book(_s(merchant or "")), keys.ledger_gaps(), keys.merchant_days(_s(merchant or ""))],
            args=[int(amount), txn, provider, _arg(now_ms), currency, late_no, LATE_REFUND_REASON,
                  int(paid_ms) if paid_ms else ""])
        # A payment booked and then lost in a failover is money taken for nothing recorded: the notice is answered
        # only once the replica has it (else a store error: the provider sends it again).
        confirm(self.db, keys.order(order_id))
        return _s(result[0]).lower()

    def tell_progress(self, venue: str, order_id: str) -> TellProgress:
        tell, told, part = self.db.hmget(PaymentKeys(venue).order(order_id), "tell", "told", "told_part")
        entries = tuple(e for e in _s(tell or "").split(",") if e)
        return TellProgress(entries, int(told or 0), int(part or 0))

    def mark_told(self, venue: str, order_id: str, told: int, part: int = 0) -> int:
        """The listeners heard `told` entries of the order's list, and `part` of them the next one (forward
        only); the order leaves the untold set once all were told. Returns the entries still to tell."""
        keys = PaymentKeys(venue)
        return int(self._told(keys=[keys.order(order_id), keys.untold()], args=[int(told), int(part), order_id]))

    TELLING_MS = 30_000  # a teller that died holding the mark holds it this long (the sweep then tells)

    def start_telling(self, venue: str, order_id: str, holder: str) -> bool:
        """Whether `holder` may tell the order's listeners now: one teller at a time (a callback and a query
        booking the same payment at once would each tell it, and the event log heard it twice)."""
        return bool(self.db.set(PaymentKeys(venue).telling(order_id), holder, nx=True, px=self.TELLING_MS))

    def end_telling(self, venue: str, order_id: str, holder: str) -> None:
        self._end_telling(keys=[PaymentKeys(venue).telling(order_id)], args=[holder])

    def claim_query(self, venue: str, order_id: str, spacing_s: int, wait_turn: bool = True) -> bool:
        """Whether the shopper's pages may ask the provider about the order now: once per `spacing_s` (SET NX
        EX: one step, so two reloads at once ask once). wait_turn=False: now in any case (the shopper is back
        from the provider's page), and the next reload waits its turn after it."""
        return bool(self.db.set(PaymentKeys(venue).asked(order_id), 1, nx=wait_turn, ex=spacing_s))

    def untold(self, venue: str, before_ms: int, limit: int = 100) -> list[str]:
        """Orders whose listeners have not all heard of a payment or refund booked before `before_ms`."""
        return [_s(v) for v in self.db.zrangebyscore(PaymentKeys(venue).untold(), 0, before_ms, 0, limit)]

    def forget_untold(self, venue: str, order_id: str) -> None:
        """An untold order that is gone (expired after 400 days): nothing left to tell."""
        self.db.zrem(PaymentKeys(venue).untold(), order_id)

    def mark_delivered(self, venue: str, order_id: str, outcome: str) -> bool:
        """Record once what became of a paid order's delivery ("done" or "refunded"); False if it was before."""
        return bool(self._delivered(keys=[PaymentKeys(venue).order(order_id)], args=[outcome]))

    def close(self, venue: str, order_id: str, reason: str, force: bool = False, now_ms: int | None = None) -> str:
        """"closed" (and on the closing set until `closed_told`), "open" (not expired yet) or "state:<status>"."""
        keys = PaymentKeys(venue)
        result = self._close(keys=[keys.order(order_id), keys.open_orders(), keys.closing()],
                             args=[_arg(now_ms), "1" if force else "0", reason])
        return ":".join(_s(r) for r in result).lower()

    def closing(self, venue: str, before_ms: int, limit: int = 100) -> list[str]:
        """Orders closed before `before_ms` whose purpose was not yet told."""
        return [_s(v) for v in self.db.zrangebyscore(PaymentKeys(venue).closing(), 0, before_ms, 0, limit)]

    def is_closing(self, venue: str, order_id: str) -> bool:
        return self.db.zscore(PaymentKeys(venue).closing(), order_id) is not None

    def closed_told(self, venue: str, order_id: str) -> None:
        """The closed order's purpose was told (or there is none, or the order is gone): off the closing set."""
        self.db.zrem(PaymentKeys(venue).closing(), order_id)

    def expired_open(self, venue: str, now_ms: int, limit: int = 200) -> list[str]:
        return [_s(v) for v in self.db.zrangebyscore(PaymentKeys(venue).open_orders(), 0, now_ms, 0, limit)]

    def trim_ledgers(self, venue: str) -> int:
        """Once a day (the payments sweep's duty): every ledger of the venue keeps LEDGER_KEEP_MS of entries, by the
        store's clock that names them. The booking script trims the ledgers it writes to; a merchant's ledger that
        gets no new entry (a zone gone quiet or released) is trimmed only here. Returns the entries dropped."""
        keys = PaymentKeys(venue)
        if not self.db.set(keys.ledgers_trimmed(), "1", nx=True, ex=86400):
            return 0
        keep_from = int(self.db.time()[0]) * 1000 - LEDGER_KEEP_MS
        merchants = [k.decode() if isinstance(k, bytes) else k for k in scan_slot(self.db, keys.merchant_ledger("*"))]
        return sum(int(self.db.xtrim(key, minid=keep_from, approximate=False)) for key in [keys.ledger(), *merchants])

    def forget_open(self, venue: str, order_id: str) -> None:
        """An open order that is gone (never bound, and the sweep was down past UNBOUND_KEEP_MS): off the open
        set, or it would fill the sweep's `limit` for good and no later order would be closed."""
        self.db.zrem(PaymentKeys(venue).open_orders(), order_id)

    def begin_refund(self, venue: str, order_id: str, refund_no: str, amount: int, reason: str,
                     now_ms: int | None = None) -> str:
        """"ok", "dup:<status>", "state:<status>" or "exceeds:<refundable fen>"."""
        keys = PaymentKeys(venue)
        result = self._refund_begin(keys=[keys.order(order_id), keys.refund(refund_no), keys.open_refunds()],
                                    args=[refund_no, int(amount), _arg(now_ms), reason])
        return ":".join(_s(r) for r in result).lower()

    def end_refund(self, venue: str, order_id: str, refund_no: str, provider_refund_id: str, outcome: str,
                   now_ms: int | None = None, problem: str = "") -> str:
        """outcome done | failed | processing | pending -> "ok:<order status>", "dup:<refund status>" or
        "unknown" (no such refund of this order). `problem`: the provider's code, kept for operators (with
        pending or processing: stuck at the provider, asked again later each time)."""
        keys = PaymentKeys(venue)
        merchant = _s(self.db.hget(keys.order(order_id), "merchant") or "")
        result = self._refund_end(
            keys=[keys.order(order_id), keys.refund(refund_no), keys.ledger(), keys.merchant_ledger(merchant),
                  keys.open_refunds(), keys.failed_refunds(), keys.untold(), keys.merchant_book(merchant),
                  keys.ledger_gaps(), keys.merchant_days(merchant)],
            args=[refund_no, provider_refund_id, outcome, _arg(now_ms), order_id, problem[:200]])
        return ":".join(_s(r) for r in result).lower()

    def refund_record(self, venue: str, refund_no: str) -> dict[str, str]:
        return self.refund_records(venue, [refund_no])[0]

    def refund_records(self, venue: str, refund_nos: list[str]) -> list[dict[str, str]]:
        """The refunds' records ({} for none), in one round trip."""
        pipe = self.db.pipeline(transaction=False)
        for no in refund_nos:
            pipe.hgetall(PaymentKeys(venue).refund(no))
        return [{_s(k): _s(v) for k, v in raw.items()} for raw in pipe.execute()] if refund_nos else []

    def refunds_of(self, venue: str, order_id: str) -> list[dict[str, str]]:
        """The order's refunds (no, amount, status, reason...), oldest first."""
        nos = _s(self.db.hget(PaymentKeys(venue).order(order_id), "refund_nos") or "")
        return [r for r in self.refund_records(venue, [no for no in nos.split(",") if no]) if r]

    def open_refunds(self, venue: str, asked_before_ms: int, limit: int = 100) -> list[str]:
        """Refund numbers not yet final, asked for before the given time."""
        key = PaymentKeys(venue).open_refunds()
        return [_s(v) for v in self.db.zrangebyscore(key, 0, asked_before_ms, 0, limit)]

    def count_attempt(self, venue: str, refund_no: str) -> int:
        return int(self.db.hincrby(PaymentKeys(venue).refund(refund_no), "attempts", 1))

    def refund_problems(self, venue: str, merchant: str | None = None, limit: int = 100) -> list[dict[str, str]]:
        """Refunds an operator has to look at (all merchants', or one's): those stuck at the provider (open,
        with the provider's code in `problem`: a balance to top up, an ABNORMAL refund to handle in the merchant
        platform), then those refused for good (status failed), newest first. Each record carries its order's
        `merchant`. The money is the shopper's until one is done."""
        keys = PaymentKeys(venue)
        open_nos = [_s(n) for n in self.db.zrange(keys.open_refunds(), 0, -1)]
        failed_nos = [_s(n) for n in self.db.zrevrange(keys.failed_refunds(), 0, limit - 1)]
        records = self.refund_records(venue, open_nos + failed_nos)
        wanted = [r for i, r in enumerate(records) if r and (i >= len(open_nos) or r.get("problem"))]
        pipe = self.db.pipeline(transaction=False)
        for record in wanted:
            pipe.hget(keys.order(record.get("order", "")), "merchant")
        for record, owner in zip(wanted, pipe.execute(), strict=True):
            record["merchant"] = _s(owner or "")
        return [r for r in wanted if merchant is None or r["merchant"] == merchant][:limit]

    def ledger(self, venue: str, merchant: str | None = None, since_ms: int = 0,
               until_ms: int | None = None) -> list[LedgerEntry]:
        """The ledger entries (in append order) with `ms` in [since_ms, until_ms), read by stream id: a range's cost
        is its own entries (and the margin's), whatever the ledger holds."""
        keys = PaymentKeys(venue)
        stream = keys.ledger() if merchant is None else keys.merchant_ledger(merchant)
        first, last = self._read_ledger(keys=[stream, keys.ledger_gaps()], args=_range_args(since_ms, until_ms))
        return [e for e in self._entries(stream, _s(first), _s(last)) if _within(e, since_ms, until_ms)]

    def merchant_snapshot(self, venue: str, merchant: str, since_ms: int,
                      until_ms: int) -> tuple[LedgerBook, list[LedgerEntry]]:
        """The merchant's book as of `until_ms` and its ledger read around [since_ms, until_ms) in one snapshot (an
        entry booked meanwhile is in both or in neither): the entries booked in the range (filter by `ms`) and those
        the book's `balance_at(until_ms, ...)` adds to its base. Costs about a day's entries and the range's,
        whatever the ledger holds before or after."""
        keys = PaymentKeys(venue)
        stream = keys.merchant_ledger(merchant)
        script_keys = [stream, keys.ledger_gaps(), keys.merchant_book(merchant), keys.merchant_days(merchant)]
        # A count still to do (a ledger the previous release wrote, or entries its processes appended since) goes
        # LEDGER_CATCH_UP entries a step, each step one script: the store serves others in between
        while True:
            reply = self._read_ledger(keys=script_keys, args=[*_range_args(since_ms, until_ms), LEDGER_CATCH_UP])
            if _s(reply[0]) != "MORE":
                break
        first, last, total, from_ms, partial, base_ms, base = (_s(v) for v in reply)
        book = LedgerBook(int(total or 0), int(from_ms) if from_ms else None, partial == "1", int(base_ms or 0),
                          int(base) if base else None)
        return book, self._entries(stream, first, last)

    def _entries(self, stream: str, first: str, last: str) -> list[LedgerEntry]:
        """The stream's entries with ids in [first, last], LEDGER_PAGE at a time (plain XRANGEs, never one script)."""
        entries: list[LedgerEntry] = []
        while True:
            page = self.db.xrange(stream, min=first, max=last, count=LEDGER_PAGE)
            entries += [_entry(entry_id, fields) for entry_id, fields in page]
            if len(page) < LEDGER_PAGE:
                return entries
            first = "(" + _s(page[-1][0])

    def spent_by(self, venue: str, shopper: str, since_ms: int, until_ms: int,
                 exclude_purposes: tuple[str, ...] = ()) -> int:
        """Fen the shopper paid in the venue with `ms` in [since_ms, until_ms), less what was refunded of it
        (any purpose but the excluded ones): e.g. today's spend in the mall, for a parking discount."""
        moves = [e for e in self.ledger(venue, None, since_ms, until_ms) if e.purpose not in exclude_purposes]
        if not moves:
            return 0
        pipe = self.db.pipeline(transaction=False)
        for entry in moves:
            pipe.hget(PaymentKeys(venue).order(entry.order), "shopper")
        owners = pipe.execute()
        total = sum(entry.fen for entry, owner in zip(moves, owners, strict=True)
                    if owner is not None and _s(owner) == shopper)
        return max(0, total)


def _range_args(since_ms: int, until_ms: int | None) -> list[int | str]:
    """_READ_LEDGER's ARGV[1..3]: since and until ms ('' for none), the margin."""
    return [int(since_ms) if since_ms > 0 else "", "" if until_ms is None else int(until_ms), LEDGER_ID_MARGIN_MS]


def _within(entry: LedgerEntry, since_ms: int, until_ms: int | None) -> bool:
    return entry.ms >= since_ms and (until_ms is None or entry.ms < until_ms)


def _arg(now_ms: int | None) -> str | int:
    return "" if now_ms is None else int(now_ms)
