"""Queue state in Redis: numbers, calls, seatings, pauses, reservations, menu and pre-orders.

Every change that checks state before writing runs as one Lua script (Redis runs a script atomically),
every key a script touches is passed in KEYS, and all keys of a zone carry the venue's `{venue}` hash
tag, so the scripts stay legal on a Redis Cluster.

Keys (prefix ``mp:{venue}:queue:<zone>``), per service day ``<day>`` = local ``YYYYMMDD``, kept 2 days:
- ``:<day>:seq:<cls>``    STRING  last number given in the class (INCR inside the take script; it starts
                                  after the previous day's last while that day still has a live number)
- ``:<day>:wait:<cls>``   ZSET    ticket id -> number (waiting parties; position = ZRANK + 1)
- ``:<day>:called:<cls>`` ZSET    ticket id -> called-at (called, not yet seated / no-show)
- ``:<day>:seats:<cls>``  LIST    "<seated at> <number taken at> [<called at>]" per seating, epoch seconds (last
                                  50; the wait estimator's data, estimate.py; no called-at: seated without a call;
                                  older entries hold the seated time only)
- ``:<day>:tickets``      HASH    ticket id -> JSON {id, cls, number, party, client, state, times...}
- ``:<day>:mine``         HASH    shopper client -> their latest ticket id (one active ticket each)
- ``:<day>:calls``        LIST    ticket ids in the order they were called (an audit trail)
- ``:paused``             SET     paused class labels; ``*`` pauses every class
- ``:once:call:<cls>:<nonce>.<digest>`` STRING "<ticket id> <its day>" a console's call-next form (its token and
                                  content: portal.apps.once.read_form_once) called, ONCE_TTL_S: the same form
                                  again calls nobody
- ``:menu`` / ``:menuseq`` HASH item id -> JSON {id, name_en, name_zh, price (cents), available}; a row saved from
                                  a stale page is merged and written only over the version it was merged with
                                  (portal/apps/edits.py)
- ``:resv:<date>`` HASH rid -> JSON; ``:resvcount:<date>`` HASH slot -> booked parties;
  ``:resvmine:<date>`` HASH client -> rid; ``:resvseq`` STRING. Date keys expire 2 days after the date.
- ``mp:{venue}:queuepaid`` ZSET  payment order id of a paid pre-order -> when the sweep looks at it next (s):
                                  every paid pre-order until the sweep settled it (kept with a meal served,
                                  refunded with a number that lapsed, was missed or given up; payment.py)
- ``mp:{venue}:queuepaid:backfilled`` STRING  when the sweep put the pre-orders paid before that list existed on it
                                  (from the payments ledger, once per venue; no TTL)

Ticket states follow Google's waitlist API names: WAITING, SERVICE_READY (called), SEATED, NO_SHOW,
CANCELED. Reservation states: BOOKED, ARRIVED, NO_SHOW, CANCELED.

The venue's midnight does not end a number: the line is the previous service day's live numbers, then
today's. A number is live while WAITING or SERVICE_READY; one of the previous day also only while it was taken
or last called less than CARRY_OVER_S ago (so a party left waiting, or a called one never seated, at closing
is not called or shown again the next morning). Every script that finds a ticket is given both days' keys:
the take script refuses a second number while the shopper's previous-day number is live and starts the day's
numbers after the previous day's last while that day has a live number in the class (never two live A001s),
call-next serves the previous day's first, a transition finds a live previous-day number before today's."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import redis

from core.replication import confirm
from core.settings import DEFAULT_TIME_ZONE
from core.storage import VenueKeys
from lightapps.queue.estimate import Seating
from portal.apps import edits
from portal.apps.erasure import blank_json, keys_matching
from portal.apps.locale import venue_time_zone
from portal.apps.once import ONCE_TTL_S

DAY_TTL_S = 2 * 86400
CARRY_OVER_S = 6 * 3600  # a previous day's number stays live this long after it was taken or last called
ACTIVE_STATES = ("WAITING", "SERVICE_READY")
MAX_MENU_ITEMS = 100
_RID_RE = re.compile(r"^(\d{8})-R(\d{1,9})$")


class QueueKeys(VenueKeys):
    def zone(self, zone: str, *parts: str) -> str:
        return self.key("queue", zone, *parts)

    def seq(self, zone: str, day: str, cls: str) -> str:
        return self.zone(zone, day, "seq", cls)

    def wait(self, zone: str, day: str, cls: str) -> str:
        return self.zone(zone, day, "wait", cls)

    def called(self, zone: str, day: str, cls: str) -> str:
        return self.zone(zone, day, "called", cls)

    def seats(self, zone: str, day: str, cls: str) -> str:
        return self.zone(zone, day, "seats", cls)

    def tickets(self, zone: str, day: str) -> str:
        return self.zone(zone, day, "tickets")

    def mine(self, zone: str, day: str) -> str:
        return self.zone(zone, day, "mine")

    def calls(self, zone: str, day: str) -> str:
        return self.zone(zone, day, "calls")

    def paused(self, zone: str) -> str:
        return self.zone(zone, "paused")

    def call_once(self, zone: str, cls: str, nonce: str) -> str:
        """The number a console's call-next form (its one-time token, portal.apps.once) called."""
        return self.zone(zone, "once", "call", cls, nonce)

    def menu(self, zone: str) -> str:
        return self.zone(zone, "menu")

    def menu_seq(self, zone: str) -> str:
        return self.zone(zone, "menuseq")

    def reservations(self, zone: str, day: str) -> str:
        return self.zone(zone, "resv", day)

    def reservation_counts(self, zone: str, day: str) -> str:
        return self.zone(zone, "resvcount", day)

    def reservation_mine(self, zone: str, day: str) -> str:
        return self.zone(zone, "resvmine", day)

    def reservation_seq(self, zone: str) -> str:
        return self.zone(zone, "resvseq")

    def paid_preorders(self) -> str:
        """The venue's paid pre-orders the sweep still has to settle (outside `zone`: no zone can be named so)."""
        return self.key("queuepaid")

    def paid_preorders_backfilled(self) -> str:
        """Set (for good) once the sweep put the pre-orders paid before its list existed on it."""
        return self.key("queuepaid", "backfilled")


# Shared by the scripts that find tickets: is this record (raw JSON or nil) a live number? A previous day's
# number is live only if taken or last called at or after `cutoff` (0 for today's: always).
_LIVE = """
local function live(raw, cutoff)
  if not raw then return false end
  local t = cjson.decode(raw)
  if t.state ~= 'WAITING' and t.state ~= 'SERVICE_READY' then return false end
  return (t.called or t.created or 0) >= cutoff
end
"""

_TAKE = _LIVE + """
-- KEYS: 1 mine, 2 tickets, 3 paused, 4 seq, 5 wait; the previous day's 6 mine, 7 tickets, 8 seq, 9 wait, 10 called
-- ARGV: 1 client, 2 cls, 3 party, 4 now, 5 ttl, 6 check only ('1': answer NEW where a number would be taken,
--       and write nothing), 7 cutoff (a previous day's number taken or called before it is over)
local cutoff = tonumber(ARGV[7])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and live(redis.call('HGET', KEYS[2], cur), 0) then return {0, 'ACTIVE', cur} end
local prev = redis.call('HGET', KEYS[6], ARGV[1])
if prev and live(redis.call('HGET', KEYS[7], prev), cutoff) then return {0, 'ACTIVE', prev} end
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 or redis.call('SISMEMBER', KEYS[3], '*') == 1 then
  return {0, 'PAUSED', ARGV[2]}
end
if ARGV[6] == '1' then return {0, 'NEW'} end
local function any_live(zset)
  for _, other in ipairs(redis.call('ZRANGE', zset, 0, -1)) do
    if live(redis.call('HGET', KEYS[7], other), cutoff) then return true end
  end
  return false
end
-- the day's first number: after the previous day's last while one of those is still live (never two live A001s)
if redis.call('EXISTS', KEYS[4]) == 0 and (any_live(KEYS[9]) or any_live(KEYS[10])) then
  redis.call('SET', KEYS[4], redis.call('GET', KEYS[8]) or '0')
end
local n = redis.call('INCR', KEYS[4])
local id = ARGV[2] .. string.format('%03d', n)
local t = {id = id, cls = ARGV[2], number = n, party = tonumber(ARGV[3]), client = ARGV[1],
           state = 'WAITING', created = tonumber(ARGV[4])}
redis.call('HSET', KEYS[2], id, cjson.encode(t))
redis.call('ZADD', KEYS[5], n, id)
redis.call('HSET', KEYS[1], ARGV[1], id)
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[4], KEYS[5]}) do redis.call('EXPIRE', k, tonumber(ARGV[5])) end
return {1, 'OK', id}
"""

_CALL_NEXT = _LIVE + """
-- KEYS: the previous day's 1 wait, 2 called, 3 tickets; today's 4 wait, 5 called, 6 tickets; 7 today's calls
--       [, 8 the form's one-time record]
-- ARGV: 1 now, 2 ttl, 3 cutoff, 4 previous day, 5 day, 6 how long the one-time record is kept (s)
-- The previous day's waiting parties first; one of theirs past the cutoff is dropped from the line, not called.
-- The same form again (its one-time record is there) calls nobody: {1, 'REPLAY', the number it called, its day}.
if KEYS[8] then
  local first = redis.call('GET', KEYS[8])
  if first then
    local id, day = string.match(first, '(%S+) (%S+)')
    return {1, 'REPLAY', id, day}
  end
end
local function call_from(wait, called, tickets, cutoff, day)
  while true do
    local popped = redis.call('ZPOPMIN', wait)
    if #popped == 0 then return nil end
    local id = popped[1]
    local raw = redis.call('HGET', tickets, id)
    if live(raw, cutoff) then
      local t = cjson.decode(raw)
      if t.state == 'WAITING' then
        t.state = 'SERVICE_READY'
        t.called = tonumber(ARGV[1])
        redis.call('HSET', tickets, id, cjson.encode(t))
        redis.call('ZADD', called, ARGV[1], id)
        redis.call('RPUSH', KEYS[7], id)
        for _, k in ipairs({called, tickets, KEYS[7]}) do redis.call('EXPIRE', k, tonumber(ARGV[2])) end
        return {1, 'OK', id, day}
      end
    end
  end
end
local answer = call_from(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[3]), ARGV[4])
  or call_from(KEYS[4], KEYS[5], KEYS[6], 0, ARGV[5])
if not answer then return {0, 'EMPTY'} end
if KEYS[8] then redis.call('SET', KEYS[8], answer[3] .. ' ' .. answer[4], 'EX', tonumber(ARGV[6])) end
return answer
"""

_TRANSITION = _LIVE + """
-- KEYS: today's 1 tickets, 2 wait, 3 called, 4 seats; the previous day's 5 tickets, 6 wait, 7 called
-- ARGV: 1 id, 2 new state, 3 now, 4 allowed states ",A,B,", 5 client ('' = anyone), 6 ttl, 7 cutoff, 8 day,
--       9 previous day
-- The number is the previous day's while that one is live (the take script never gives a live number twice),
-- else today's. A seating counts in today's seat times (the wait estimator's samples) either way.
local tickets, wait, called, day = KEYS[1], KEYS[2], KEYS[3], ARGV[8]
local raw = redis.call('HGET', KEYS[5], ARGV[1])
if live(raw, tonumber(ARGV[7])) then
  tickets, wait, called, day = KEYS[5], KEYS[6], KEYS[7], ARGV[9]
else
  raw = redis.call('HGET', KEYS[1], ARGV[1])
end
if not raw then return {0, 'NOT_FOUND'} end
local t = cjson.decode(raw)
if ARGV[5] ~= '' and t.client ~= ARGV[5] then return {0, 'NOT_YOURS'} end
if not string.find(ARGV[4], ',' .. t.state .. ',', 1, true) then return {0, 'STATE', t.state} end
t.state = ARGV[2]
t.ended = tonumber(ARGV[3])
redis.call('HSET', tickets, ARGV[1], cjson.encode(t))
redis.call('ZREM', wait, ARGV[1])
redis.call('ZREM', called, ARGV[1])
if ARGV[2] == 'SEATED' then
  -- "<seated at> <number taken at> <called at>": the estimator needs them all (was the party waiting before?
  -- when was it given its table? a called party's walk back from the shops is no table's turn)
  local entry = ARGV[3] .. ' ' .. (t.created and string.format('%.3f', t.created) or '-')
  if t.called then entry = entry .. ' ' .. string.format('%.3f', t.called) end
  redis.call('RPUSH', KEYS[4], entry)
  redis.call('LTRIM', KEYS[4], -50, -1)
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[6]))
end
return {1, 'OK', ARGV[2], day}
"""

_PREORDER = """
-- KEYS: 1 hash of records     ARGV: 1 id, 2 client, 3 preorder JSON ('' clears), 4 allowed states ",A,"
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, 'NOT_FOUND'} end
local t = cjson.decode(raw)
if t.client ~= ARGV[2] then return {0, 'NOT_YOURS'} end
if not string.find(ARGV[4], ',' .. t.state .. ',', 1, true) then return {0, 'STATE', t.state} end
if t.preorder and string.find(t.preorder, '"paid":%s*true') then return {0, 'PAID'} end
if ARGV[3] == '' then t.preorder = nil else t.preorder = ARGV[3] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(t))
return {1, 'OK'}
"""

_PREORDER_PAID = """
-- The pre-order's payment arrived. KEYS: 1 hash of records, 2 the venue's paid pre-orders
-- ARGV: 1 id, 2 order id, 3 allowed states ",A,"
-- Paid only if the record still holds the pre-order this order was made for (a changed or removed
-- pre-order, or a number no longer active, refuses: the payment is refunded). A paid one goes on the sweep's
-- list in the same step (due at once: score 0), so no paid pre-order is ever left off it (payment.py).
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, 'NOT_FOUND'} end
local t = cjson.decode(raw)
if not t.preorder then return {0, 'CHANGED'} end
local po = cjson.decode(t.preorder)
if po.order ~= ARGV[2] then return {0, 'CHANGED'} end
if po.paid then return {1, 'OK'} end
if not string.find(ARGV[3], ',' .. t.state .. ',', 1, true) then return {0, 'STATE', t.state} end
po.paid = true
t.preorder = cjson.encode(po)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(t))
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return {1, 'OK'}
"""

_RESERVE = """
-- KEYS: 1 resv, 2 counts, 3 mine, 4 seq
-- ARGV: 1 client, 2 date (YYYYMMDD), 3 slot, 4 party, 5 capacity, 6 now, 7 expire-at, 8 cls, 9 guest name,
--       10 note for the restaurant, 11 check only ('1': answer NEW where it would book, and write nothing)
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if cur then
  local raw = redis.call('HGET', KEYS[1], cur)
  if raw and cjson.decode(raw).state == 'BOOKED' then return {0, 'ACTIVE', cur} end
end
local used = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
if used >= tonumber(ARGV[5]) then return {0, 'FULL'} end
if ARGV[11] == '1' then return {0, 'NEW'} end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local rid = ARGV[2] .. '-R' .. redis.call('INCR', KEYS[4])
local r = {id = rid, slot = ARGV[3], party = tonumber(ARGV[4]), cls = ARGV[8], client = ARGV[1],
           state = 'BOOKED', created = tonumber(ARGV[6])}
if ARGV[9] and ARGV[9] ~= '' then r.name = ARGV[9] end
if ARGV[10] and ARGV[10] ~= '' then r.note = ARGV[10] end
redis.call('HSET', KEYS[1], rid, cjson.encode(r))
redis.call('HSET', KEYS[3], ARGV[1], rid)
for i = 1, 3 do redis.call('EXPIREAT', KEYS[i], tonumber(ARGV[7])) end
return {1, 'OK', rid}
"""

_RESV_END = """
-- KEYS: 1 resv, 2 counts     ARGV: 1 rid, 2 client ('' = anyone), 3 now, 4 new state
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, 'NOT_FOUND'} end
local r = cjson.decode(raw)
if ARGV[2] ~= '' and r.client ~= ARGV[2] then return {0, 'NOT_YOURS'} end
if r.state ~= 'BOOKED' then return {0, 'STATE', r.state} end
r.state = ARGV[4]
r.ended = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
if ARGV[4] == 'CANCELED' then redis.call('HINCRBY', KEYS[2], r.slot, -1) end
return {1, 'OK', ARGV[4]}
"""

_MENU_PUT = """
-- KEYS: 1 menu, 2 menuseq     ARGV: 1 item id ('' = new), 2 item JSON, 3 max items, 4 the item's expected version
-- ('' = any; portal/apps/edits.py: a row saved from a stale page was merged with that version: CHANGED since)
local id = ARGV[1]
if id == '' then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {0, 'FULL'} end
  id = 'm' .. redis.call('INCR', KEYS[2])
else
  local stored = redis.call('HGET', KEYS[1], id)
  if not stored then return {0, 'NOT_FOUND'} end
  if ARGV[4] ~= '' and redis.sha1hex(stored) ~= ARGV[4] then return {0, 'CHANGED'} end
end
local item = cjson.decode(ARGV[2])
item.id = id
redis.call('HSET', KEYS[1], id, cjson.encode(item))
return {1, 'OK', id}
"""


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: str  # OK, ACTIVE, PAUSED, EMPTY, NOT_FOUND, NOT_YOURS, STATE, FULL, CHANGED; NEW (check_only: it would);
    # REPLAY (ok: a form's one-time token answered before)
    value: str | None = None  # ticket / reservation / item id, or the current state for STATE
    day: str | None = None  # a called or changed ticket's service day (YYYYMMDD): the previous day's or today's


def _result(raw: list) -> Result:
    values = [v.decode() if isinstance(v, bytes) else v for v in raw]
    return Result(bool(values[0]), str(values[1]), str(values[2]) if len(values) > 2 else None,
                  str(values[3]) if len(values) > 3 else None)


_DEFAULT_TZ = ZoneInfo(DEFAULT_TIME_ZONE)


def service_day(now: float | None = None, tz: tzinfo | None = None) -> str:
    """The mall's calendar day (time zone `tz`; None: the default venue time zone) a timestamp falls on,
    ``YYYYMMDD`` (numbers restart each day at the mall's midnight, never at the host's)."""
    return datetime.fromtimestamp(time.time() if now is None else now, tz or _DEFAULT_TZ).strftime("%Y%m%d")


def is_live(ticket: dict[str, Any] | None, cutoff: float = 0) -> bool:
    """The ticket is a live number (as the scripts' `live`): waiting or called, and, for a previous day's
    number, taken or last called at or after `cutoff`."""
    if not ticket or ticket.get("state") not in ACTIVE_STATES:
        return False
    return float(ticket.get("called") or ticket.get("created") or 0) >= cutoff


def compact_date(iso: str) -> str:
    return iso.replace("-", "")


def iso_date(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:8]}"


def reservation_date(rid: str) -> str | None:
    """``"20240612-R7"`` -> ``"20240612"``; None if not a reservation id."""
    match = _RID_RE.match(rid or "")
    return match.group(1) if match else None


def _seatings(entries: list[bytes]) -> list[Seating]:
    """A seats list's entries -> Seating(seated at, number taken at, called at), None where not recorded."""
    out = []
    for entry in entries:
        at, *rest = entry.split()
        took, called = (None if i >= len(rest) or rest[i] == b"-" else float(rest[i]) for i in (0, 1))
        out.append(Seating(float(at), took, called))
    return out


def _decode_map(raw: dict) -> dict[str, dict[str, Any]]:
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def _exported(key: str, value: Any) -> Any:
    """A record's field as the export holds it: a pre-order's JSON text as its document (as it is if unreadable)."""
    if key != "preorder" or not isinstance(value, str):
        return value
    document = _parsed_preorder(value)
    return value if document is None else document


def decode_preorder(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record's pre-order document (the store keeps it as JSON text), or None."""
    return _parsed_preorder(record.get("preorder")) if record else None


def _parsed_preorder(text: Any) -> Any:
    """A pre-order's JSON text as its document; None for none or unreadable text (one parse for the payments, Me,
    the consoles and the export)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


class QueueStore:
    def __init__(self, db: redis.Redis, time_zone_of: Callable[[str], tzinfo] | None = None) -> None:
        self.db = db
        self.time_zone_of = time_zone_of  # venue -> its time zone (None: the default, in store-only tests)
        self._take = db.register_script(_TAKE)
        self._call_next = db.register_script(_CALL_NEXT)
        self._transition = db.register_script(_TRANSITION)
        self._preorder = db.register_script(_PREORDER)
        self._preorder_paid = db.register_script(_PREORDER_PAID)
        self._reserve = db.register_script(_RESERVE)
        self._resv_end = db.register_script(_RESV_END)
        self._menu_put = db.register_script(_MENU_PUT)

    @classmethod
    def from_services(cls, svc: Any) -> QueueStore:
        """The platform and the demo seed build the store with this: the venue's zone by the portal's one rule, in
        a request or not (a sweep, the seed)."""
        return cls(svc.db, time_zone_of=functools.partial(venue_time_zone, svc=svc))

    def _zone(self, venue: str) -> tzinfo:
        """The venue's time zone; a store built without `time_zone_of` (store-only tests) is in the default."""
        return self.time_zone_of(venue) if self.time_zone_of else _DEFAULT_TZ

    def _day(self, venue: str, now: float | None = None) -> str:
        return service_day(now, self._zone(venue))

    def _days(self, venue: str, now: float) -> tuple[str, str]:
        """(the service day of `now`, the day before it), both YYYYMMDD."""
        local = datetime.fromtimestamp(now, self._zone(venue))
        return local.strftime("%Y%m%d"), (local.date() - timedelta(days=1)).strftime("%Y%m%d")

    def today(self, venue: str) -> str:
        """The venue's service day (YYYYMMDD) that today's tickets belong to."""
        return self._day(venue)

    # ---- numbers ------------------------------------------------------------------------------

    def take(self, venue: str, zone: str, cls: str, party: int, client: str, now: float | None = None,
             check_only: bool = False) -> Result:
        """A new number in class `cls`, unless the shopper holds a live ticket, today's or the previous day's
        (ACTIVE, with its id) or the class is paused (PAUSED). Numbers are consecutive per class and day, the
        day's starting after the previous day's last while one of those is live. `check_only` writes nothing
        and answers NEW where it would take a number (the view spends its budget first)."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        keys = [k.mine(zone, day), k.tickets(zone, day), k.paused(zone), k.seq(zone, day, cls), k.wait(zone, day, cls),
                k.mine(zone, prev), k.tickets(zone, prev), k.seq(zone, prev, cls), k.wait(zone, prev, cls),
                k.called(zone, prev, cls)]
        args = [client, cls, party, repr(now), DAY_TTL_S, int(check_only), repr(now - CARRY_OVER_S)]
        result = _result(self._take(keys=keys, args=args))
        if not check_only:  # a number lost in a failover would be given again to the next party: the replica has it
            confirm(self.db, keys[0])
        return result

    def call_next(self, venue: str, zone: str, cls: str, now: float | None = None, once: str | None = None) -> Result:
        """Call the lowest waiting number of the class, the previous day's live ones first (each party is
        called once: ZPOPMIN in Lua); `day` of the result is the called number's service day. `once`: the
        console form's one-time token: the same form again calls nobody and answers REPLAY with the number the
        first sending called (a double tap calls one party, not two)."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        keys = [k.wait(zone, prev, cls), k.called(zone, prev, cls), k.tickets(zone, prev),
                k.wait(zone, day, cls), k.called(zone, day, cls), k.tickets(zone, day), k.calls(zone, day),
                *([k.call_once(zone, cls, once)] if once else [])]
        args = [repr(now), DAY_TTL_S, repr(now - CARRY_OVER_S), prev, day, ONCE_TTL_S]
        result = _result(self._call_next(keys=keys, args=args))
        if result.reason == "OK":  # a call lost in a failover would call the same party again: the replica has it
            confirm(self.db, keys[0])
        return result

    def _change(self, venue: str, zone: str, ticket_id: str, cls: str, new_state: str, allowed: tuple[str, ...],
                client: str = "", now: float | None = None) -> Result:
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        keys = [k.tickets(zone, day), k.wait(zone, day, cls), k.called(zone, day, cls), k.seats(zone, day, cls),
                k.tickets(zone, prev), k.wait(zone, prev, cls), k.called(zone, prev, cls)]
        args = [ticket_id, new_state, repr(now), "," + ",".join(allowed) + ",", client, DAY_TTL_S,
                repr(now - CARRY_OVER_S), day, prev]
        return _result(self._transition(keys=keys, args=args))

    def seat(self, venue: str, zone: str, ticket_id: str, cls: str, now: float | None = None) -> Result:
        """Seat a called party (or a waiting one the host seats straight away)."""
        return self._change(venue, zone, ticket_id, cls, "SEATED", ACTIVE_STATES, now=now)

    def no_show(self, venue: str, zone: str, ticket_id: str, cls: str, now: float | None = None) -> Result:
        return self._change(venue, zone, ticket_id, cls, "NO_SHOW", ("SERVICE_READY",), now=now)

    def cancel(self, venue: str, zone: str, ticket_id: str, cls: str, client: str, now: float | None = None) -> Result:
        """The shopper gives up their own ticket (`day` of the result: the ticket's service day)."""
        return self._change(venue, zone, ticket_id, cls, "CANCELED", ACTIVE_STATES, client=client, now=now)

    def ticket(self, venue: str, zone: str, ticket_id: str, day: str | None = None) -> dict[str, Any] | None:
        """The ticket of service day `day` (None: today's), with that day as its "day"."""
        day = day or self._day(venue)
        raw = self.db.hget(QueueKeys(venue).tickets(zone, day), ticket_id)
        return {**json.loads(raw), "day": day} if raw else None

    def my_ticket(self, venue: str, zone: str, client: str, now: float | None = None) -> dict[str, Any] | None:
        """The shopper's ticket, with its service day as "day": their previous-day number while it is live (it
        outlives the venue's midnight), else their latest of today (any state), else their previous-day number
        that ended today (the page says how); None if none."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.hget(k.mine(zone, day), client)
        pipe.hget(k.mine(zone, prev), client)
        current, earlier_id = pipe.execute()
        earlier = self.ticket(venue, zone, earlier_id.decode(), prev) if earlier_id else None
        if is_live(earlier, now - CARRY_OVER_S):
            return earlier
        if current:
            return self.ticket(venue, zone, current.decode(), day)
        if earlier and earlier.get("ended") and self._day(venue, earlier["ended"]) == day:
            return earlier
        return None

    def _carried(self, venue: str, zone: str, cls: str, now: float) -> tuple[list[dict[str, Any]], int]:
        """(the previous day's live waiting tickets of the class, in line order; how many of today's wait)."""
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.zrange(k.wait(zone, prev, cls), 0, -1)
        pipe.zcard(k.wait(zone, day, cls))
        ids, today = pipe.execute()
        carried = self._ids_to_tickets(venue, zone, prev, ids)
        return [t for t in carried if t["state"] == "WAITING" and is_live(t, now - CARRY_OVER_S)], int(today)

    def parties_ahead(self, venue: str, zone: str, ticket: dict[str, Any], now: float | None = None) -> int | None:
        """Waiting parties called before this waiting ticket (the previous day's live ones come first)."""
        now = time.time() if now is None else now
        carried, _today = self._carried(venue, zone, ticket["cls"], now)
        ahead = [t["id"] for t in carried]
        if ticket.get("day") == self._days(venue, now)[1]:
            return ahead.index(ticket["id"]) if ticket["id"] in ahead else None
        rank = self.db.zrank(QueueKeys(venue).wait(zone, self._day(venue, now), ticket["cls"]), ticket["id"])
        return None if rank is None else len(ahead) + int(rank)

    def waiting_count(self, venue: str, zone: str, cls: str, now: float | None = None) -> int:
        """Parties waiting in the class: the previous day's live ones and today's."""
        carried, today = self._carried(venue, zone, cls, time.time() if now is None else now)
        return len(carried) + today

    def _ids_to_tickets(self, venue: str, zone: str, day: str, ids: list[bytes]) -> list[dict[str, Any]]:
        if not ids:
            return []
        raws = self.db.hmget(QueueKeys(venue).tickets(zone, day), [i.decode() for i in ids])
        return [{**json.loads(r), "day": day} for r in raws if r]

    def waiting(self, venue: str, zone: str, cls: str, limit: int = 20, now: float | None = None) -> list[dict]:
        """The first `limit` waiting parties in line order: the previous day's live ones, then today's."""
        now = time.time() if now is None else now
        carried, _today = self._carried(venue, zone, cls, now)
        day = self._day(venue, now)
        ids = self.db.zrange(QueueKeys(venue).wait(zone, day, cls), 0, limit - 1) if len(carried) < limit else []
        return (carried + self._ids_to_tickets(venue, zone, day, ids))[:limit]

    def called(self, venue: str, zone: str, cls: str, limit: int = 50, now: float | None = None) -> list[dict]:
        """Called parties not yet seated or missed: the previous day's live ones, then today's."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        cutoff = now - CARRY_OVER_S
        earlier_ids = self.db.zrangebyscore(k.called(zone, prev, cls), cutoff, "+inf")  # scored by called-at
        earlier = self._ids_to_tickets(venue, zone, prev, earlier_ids)
        today = self._ids_to_tickets(venue, zone, day, self.db.zrange(k.called(zone, day, cls), 0, limit - 1))
        return ([t for t in earlier if is_live(t, cutoff)] + today)[:limit]

    def live_tickets(self, venue: str, zone: str, now: float | None = None) -> list[dict[str, Any]]:
        """Live numbers (waiting or called), in the order they were taken: the previous day's still live, then
        today's. What the zone's shoppers hold whatever the classes are now (a class dropped from the config
        included)."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.hvals(k.tickets(zone, prev))
        pipe.hvals(k.tickets(zone, day))
        earlier, today = pipe.execute()
        return [t for raws, cutoff in ((earlier, now - CARRY_OVER_S), (today, 0.0))
                for t in sorted(map(json.loads, raws), key=lambda t: t.get("created") or 0) if is_live(t, cutoff)]

    def live_by_class(self, venue: str, zone: str, now: float | None = None) -> dict[str, int]:
        """How many live numbers (`live_tickets`) each class label has."""
        counts: dict[str, int] = {}
        for ticket in self.live_tickets(venue, zone, now):
            counts[ticket["cls"]] = counts.get(ticket["cls"], 0) + 1
        return counts

    def bookings_ahead(self, venue: str, zone: str, days: int, now: float | None = None) -> list[dict[str, Any]]:
        """Table bookings still BOOKED from today (the venue's) over `days` days, by date and time, each with
        its "date" (YYYY-MM-DD)."""
        local = datetime.fromtimestamp(time.time() if now is None else now, self._zone(venue)).date()
        dates = [(local + timedelta(days=offset)).isoformat() for offset in range(days)]
        pipe = self.db.pipeline(transaction=False)
        for day_iso in dates:
            pipe.hvals(QueueKeys(venue).reservations(zone, compact_date(day_iso)))
        booked = [{**r, "date": day_iso} for day_iso, raws in zip(dates, pipe.execute(), strict=True)
                  for r in map(json.loads, raws) if r.get("state") == "BOOKED"]
        return sorted(booked, key=lambda r: (r["date"], r["slot"], r["id"]))

    def booked_ahead(self, venue: str, zone: str, days: int, now: float | None = None) -> int:
        """How many table bookings `bookings_ahead` lists."""
        return len(self.bookings_ahead(venue, zone, days, now))

    def call_log(self, venue: str, zone: str, day: str | None = None) -> list[str]:
        return [i.decode() for i in self.db.lrange(QueueKeys(venue).calls(zone, day or self._day(venue)), 0, -1)]

    def seatings(self, venue: str, zone: str, cls: str, now: float | None = None,
                 since: float | None = None) -> list[Seating]:
        """The class's seatings (the wait estimator's data), oldest first: Seating(seated at, when the party took
        its number, when it was called; None where not recorded), epoch seconds. Those of the service day of
        `now`; with `since`, those seated from `since` on, the previous service day's too where `since` lies in
        it (a restaurant open past midnight keeps its evening's pace, rules.service_began)."""
        now = time.time() if now is None else now
        (day, prev), k = self._days(venue, now), QueueKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        if since is not None and self._day(venue, since) < day:
            pipe.lrange(k.seats(zone, prev, cls), 0, -1)
        pipe.lrange(k.seats(zone, day, cls), 0, -1)
        found = [seating for entries in pipe.execute() for seating in _seatings(entries)]
        return sorted((s for s in found if since is None or s.at >= since), key=lambda seating: seating.at)

    def last_number(self, venue: str, zone: str, cls: str, day: str | None = None) -> int:
        return int(self.db.get(QueueKeys(venue).seq(zone, day or self._day(venue), cls)) or 0)

    # ---- pause ----------------------------------------------------------------------------------

    def pause(self, venue: str, zone: str, cls: str = "*") -> None:
        self.db.sadd(QueueKeys(venue).paused(zone), cls)

    def resume(self, venue: str, zone: str, cls: str = "*") -> None:
        """Resume one class; ``*`` resumes everything (the all-classes flag and every class)."""
        key = QueueKeys(venue).paused(zone)
        if cls == "*":
            self.db.delete(key)
        else:
            self.db.srem(key, cls)

    def paused(self, venue: str, zone: str) -> set[str]:
        return {m.decode() for m in self.db.smembers(QueueKeys(venue).paused(zone))}

    # ---- menu -----------------------------------------------------------------------------------

    def menu(self, venue: str, zone: str) -> list[dict[str, Any]]:
        items = _decode_map(self.db.hgetall(QueueKeys(venue).menu(zone))).values()
        return sorted(items, key=lambda i: int(i["id"][1:]) if i["id"][1:].isdigit() else 0)

    def menu_item(self, venue: str, zone: str, item_id: str) -> dict[str, Any] | None:
        return self.menu_item_versioned(venue, zone, item_id)[0]

    def menu_item_versioned(self, venue: str, zone: str, item_id: str) -> tuple[dict[str, Any] | None, str]:
        """The item (None: no such item) and its version, for `put_menu_item(expected=...)`."""
        raw = self.db.hget(QueueKeys(venue).menu(zone), item_id)
        return (json.loads(raw) if raw else None), edits.version(raw)

    def has_media_place(self, venue: str, zone: str, kind: str, ref: str) -> bool:
        """A dish photo's place: an item on the zone's menu (portal/media/places.py)."""
        return kind == "dish" and bool(self.db.hexists(QueueKeys(venue).menu(zone), ref))

    def put_menu_item(self, venue: str, zone: str, name_en: str, name_zh: str, price: int, available: bool = True,
                      item_id: str = "", expected: str = "") -> Result:
        """Add (item_id '') or replace an item; FULL past MAX_MENU_ITEMS, NOT_FOUND for an unknown id; with
        `expected` (a version from `menu_item_versioned`), CHANGED when the item is no longer that one."""
        k = QueueKeys(venue)
        item = {"name_en": name_en, "name_zh": name_zh, "price": int(price), "available": bool(available)}
        return _result(self._menu_put(keys=[k.menu(zone), k.menu_seq(zone)],
                                      args=[item_id, json.dumps(item), MAX_MENU_ITEMS, expected]))

    def delete_menu_item(self, venue: str, zone: str, item_id: str) -> bool:
        return bool(self.db.hdel(QueueKeys(venue).menu(zone), item_id))

    # ---- pre-orders -----------------------------------------------------------------------------

    def attach_preorder_to_ticket(self, venue: str, zone: str, ticket_id: str, client: str,
                                  preorder: dict | None, day: str | None = None) -> Result:
        key = QueueKeys(venue).tickets(zone, day or self._day(venue))
        return _result(self._preorder(keys=[key], args=[ticket_id, client, json.dumps(preorder) if preorder else "",
                                                        "," + ",".join(ACTIVE_STATES) + ","]))

    def attach_preorder_to_reservation(self, venue: str, zone: str, rid: str, client: str,
                                       preorder: dict | None) -> Result:
        day = reservation_date(rid)
        if day is None:
            return Result(False, "NOT_FOUND")
        key = QueueKeys(venue).reservations(zone, day)
        return _result(self._preorder(keys=[key], args=[rid, client, json.dumps(preorder) if preorder else "",
                                                        ",BOOKED,"]))

    def mark_preorder_paid(self, venue: str, zone: str, target: str, day: str, order_id: str) -> Result:
        """The pre-order on ticket `target` (of service day `day`) or reservation `target` is paid by
        `order_id`: OK (also when told again; the first time it goes on the sweep's list), or CHANGED /
        NOT_FOUND / STATE (refund the payment)."""
        k = QueueKeys(venue)
        if target.startswith(day + "-R"):
            key, allowed = k.reservations(zone, day), ",BOOKED,ARRIVED,"
        else:
            key, allowed = k.tickets(zone, day), "," + ",".join((*ACTIVE_STATES, "SEATED")) + ","
        return _result(self._preorder_paid(keys=[key, k.paid_preorders()], args=[target, order_id, allowed]))

    def paid_preorders_due(self, venue: str, now: float, limit: int) -> list[str]:
        """The order ids of paid pre-orders the sweep is to look at by `now` (oldest first, at most `limit`)."""
        ids = self.db.zrangebyscore(QueueKeys(venue).paid_preorders(), "-inf", repr(now), 0, limit)
        return [i.decode() for i in ids]

    def look_again_at(self, venue: str, order_id: str, when: float) -> None:
        """The pre-order still has its number or booking: look at it again at `when`. XX: one that another
        sweep settled meanwhile is not put back."""
        self.db.zadd(QueueKeys(venue).paid_preorders(), {order_id: when}, xx=True)

    def enlist_paid_preorders(self, venue: str, order_ids: Sequence[str]) -> int:
        """Put paid pre-orders on the sweep's list, to look at now; NX: one already on it keeps its time.
        Returns how many were added."""
        if not order_ids:
            return 0
        return int(self.db.zadd(QueueKeys(venue).paid_preorders(), dict.fromkeys(order_ids, 0), nx=True))

    def backfilled(self, venue: str) -> bool:
        return bool(self.db.exists(QueueKeys(venue).paid_preorders_backfilled()))

    def mark_backfilled(self, venue: str, now: float) -> None:
        self.db.set(QueueKeys(venue).paid_preorders_backfilled(), repr(now))

    def settled(self, venue: str, order_id: str) -> None:
        """The pre-order was kept (served) or refunded: the sweep has nothing more to do with it."""
        self.db.zrem(QueueKeys(venue).paid_preorders(), order_id)

    def day_end(self, venue: str, day: str) -> float:
        """The venue's midnight that ends service day `day` (YYYYMMDD), epoch seconds."""
        tz = self._zone(venue)
        following = datetime.strptime(day, "%Y%m%d").date() + timedelta(days=1)
        return datetime.combine(following, datetime.min.time(), tz).timestamp()

    # ---- reservations ---------------------------------------------------------------------------

    def reserve(self, venue: str, zone: str, day_iso: str, slot: str, party: int, cls: str, client: str,
                capacity: int, now: float | None = None, name: str = "", note: str = "",
                check_only: bool = False) -> Result:
        """Book a party into a slot if the slot has room (capacity = parties per slot) and the shopper
        has no other booking that day (ACTIVE). One script: never more than `capacity` per slot.
        `check_only` writes nothing and answers NEW where it would book (the view spends its budget first)."""
        now = time.time() if now is None else now
        day = compact_date(day_iso)
        k = QueueKeys(venue)
        keys = [k.reservations(zone, day), k.reservation_counts(zone, day), k.reservation_mine(zone, day),
                k.reservation_seq(zone)]
        expire_at = int(datetime.combine(date.fromisoformat(day_iso) + timedelta(days=3), datetime.min.time())
                        .timestamp())
        args = [client, day, slot, party, capacity, repr(now), expire_at, cls, name, note, int(check_only)]
        result = _result(self._reserve(keys=keys, args=args))
        if result.ok and not check_only:  # a booking lost in a failover would give its place in the slot again
            confirm(self.db, keys[0])
        return result

    def end_reservation(self, venue: str, zone: str, rid: str, new_state: str, client: str = "",
                        now: float | None = None) -> Result:
        """BOOKED -> CANCELED (frees the place in the slot), ARRIVED or NO_SHOW. `client` limits it
        to the shopper's own booking."""
        day = reservation_date(rid)
        if day is None:
            return Result(False, "NOT_FOUND")
        k = QueueKeys(venue)
        now = time.time() if now is None else now
        keys = [k.reservations(zone, day), k.reservation_counts(zone, day)]
        return _result(self._resv_end(keys=keys, args=[rid, client, repr(now), new_state]))

    def reservation(self, venue: str, zone: str, rid: str) -> dict[str, Any] | None:
        day = reservation_date(rid)
        if day is None:
            return None
        raw = self.db.hget(QueueKeys(venue).reservations(zone, day), rid)
        if not raw:
            return None
        return {**json.loads(raw), "date": iso_date(day)}

    def reservations(self, venue: str, zone: str, day_iso: str) -> list[dict[str, Any]]:
        day = compact_date(day_iso)
        items = _decode_map(self.db.hgetall(QueueKeys(venue).reservations(zone, day))).values()
        return sorted(({**r, "date": day_iso} for r in items), key=lambda r: (r["slot"], r["id"]))

    def slot_counts(self, venue: str, zone: str, day_iso: str) -> dict[str, int]:
        raw = self.db.hgetall(QueueKeys(venue).reservation_counts(zone, compact_date(day_iso)))
        return {k.decode(): int(v) for k, v in raw.items()}

    def my_reservations(self, venue: str, zone: str, client: str, days_iso: list[str]) -> list[dict[str, Any]]:
        """The shopper's bookings (any state) on these days."""
        k = QueueKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for day_iso in days_iso:
            pipe.hget(k.reservation_mine(zone, compact_date(day_iso)), client)
        out = []
        for rid in pipe.execute():
            if rid:
                found = self.reservation(venue, zone, rid.decode())
                if found:
                    out.append(found)
        return out

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def _shopper_records(self, venue: str, client: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(pointer hash, records hash, record id, record) of each ticket and booking the shopper holds."""
        keys, out = QueueKeys(venue), []
        for pointer in keys_matching(self.db, keys.zone("*", "*", "mine")) + keys_matching(
                self.db, keys.reservation_mine("*", "*")):
            record_id = self.db.hget(pointer, client)
            if record_id is None:
                continue
            records = pointer.rsplit(":", 1)[0] + ":tickets" if pointer.endswith(":mine") else pointer.replace(
                ":resvmine:", ":resv:")
            raw = self.db.hget(records, record_id)
            if raw:
                out.append((pointer, records, record_id.decode(), json.loads(raw)))
        return out

    def export_shopper(self, venue: str, client: str) -> dict:
        """The shopper's queue tickets and table bookings (kept two days past their day), a pre-order as its
        document (the record keeps it as JSON text: in the export it is data, not a string to parse again)."""
        records = [{k: _exported(k, v) for k, v in record.items() if k != "client"}
                   for _pointer, _records, _id, record in self._shopper_records(venue, client)]
        return {"tickets": records} if records else {}

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the tickets and bookings keep their place in the line (the others' waits depend on it) but
        no longer name the shopper, nor keep the guest name and note she typed for a booking; the pointers go."""
        changed = 0
        for pointer, records, record_id, _record in self._shopper_records(venue, client):
            changed += blank_json(self.db, records, record_id, "client", client, also=("name", "note"))
            changed += int(self.db.hdel(pointer, client))
        return changed
