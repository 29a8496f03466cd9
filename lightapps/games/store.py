"""Games in Redis: a zone's current game (a lucky draw, a scratch card or a shake), its prize stock, each
shopper's plays, and the vouchers prizes are issued as.

A draw is ONE Lua script on the venue's slot: the game's state and dates, the shopper's per-game and
per-day counters (and the member's, when the shopper is a member: "per person" is per membership card too, on
every device and sign-in window she draws from, not only per shopper id), the roll (drawn by the caller from
`secrets`, never by the script), the prize's stock, the game's hard total, the voucher and the shopper's
wallet, checked and written in one step: never oversold, never over a limit, never a voucher without its
stock. Redeeming a voucher is a second script.

Keys (venue `v`):
  mp:{v}:games:seq                       INCR source of game ids
  mp:{v}:games:zone:<zone>               STRING the zone's current game id
  mp:{v}:games:zone:<zone>:all           ZSET game id -> published at (the console's history)
  mp:{v}:games:g:<id>                    HASH the game (spec, status, dates, total_left, plays, wins; run,
                                         follows, carried, replaced_by: see "Changing a running game")
  mp:{v}:games:g:<id>:left               HASH prize id -> stock left
  mp:{v}:games:g:<id>:wins               ZSET voucher code -> won at (bounded by the game's total)
  mp:{v}:games:g:<run>:counts            HASH each person's plays in the run: field p:<client> (a shopper) or
                                         m:<member key> (a member, on all her shopper ids: the "points"
                                         capability's member_key, a keyed hash, no member number) -> "all day today"
                                         (`count_field`); expires a day after the run's last game ends
  mp:{v}:games:g:<id>:p:<client>         HASH a shopper's plays (all, day, today) as the previous release kept them,
  mp:{v}:games:g:<id>:m:<member key>     and a member's: read where the run's hash has no field for the person
  mp:{v}:games:v:<CODE>                  HASH a voucher: game, prize, zone, client, state, times
  mp:{v}:games:wallet:<client>           ZSET voucher code -> won at (the shopper's prizes, for Me)
  mp:{v}:games:once:draw:<client>:<nonce> STRING a draw form's answer ("WON p1 CODE"), ONCE_TTL_S
  mp:{v}:games:once:desk:<CODE>:<nonce>  STRING when a hand-out form gave the prize out, ONCE_TTL_S
  mp:{v}:games:once:new:<zone>:<nonce>   STRING the game a publish form published, ONCE_TTL_S

Changing a running game: its texts (titles, prize titles) are edited in place (`edit_texts`: the same game,
its counts untouched). Anything else is a new game (`publish`), which continues the one it replaces when that
one is running (live, before its end): the new game's `run` is the old one's, and the plays are counted per run
(the first game's id), so each person's draws today and in all count on; the old game's prizes won count
toward the hard total (`carried`: total_left = total - carried) and, row by row (prize id p1..p5), toward each
prize's stock (left = stock - won on that row). So `total - total_left` and `stock - left` are always the
prizes won in the run (stored as they come, below zero when a change set a limit under what was already won;
read as 0). A game published when none is running (stopped, ended) starts a new run with fresh counts.

The run's counts are one hash, not a key per person, so that publishing (one script) can keep them all as long as
the run: a count refused at its limit is never written again, and a key per person set to expire with the game it
was drawn in would go a day after that game's end, while the game carrying it on still runs. The previous release
kept a key per game and person (its game's id is its run); a draw reads it where the hash has no field for the
person yet (in the same script: its keys are named too), and publishing over such a game keeps those keys as long
as the new game (`_keep_old_counts`).

A form carries a one-time nonce: the script that answers it records the answer under the nonce (in the same
step), and a repeat of the form (a double tap) gets that answer again instead of a refusal hiding it; the owner's
publish form, the game it published (not a second game carrying the first on).

Expiry, set by the draw script itself (never a separate call that could be lost): a voucher lives
`KEEP_AFTER_REDEEM_S` (30 days) past its game's collection deadline (`redeem_until`: the venue's midnight
ending the day REDEEM_DAYS after the last day, `collect_by_deadline`; the desk answers "expired" in that time,
"unknown code" after it); the wallet, reached only through the shopper's token, at least the token's lifetime
(`SHOPPER_TOKEN_TTL_S`) after the latest prize and at least as long as each of its vouchers; the run's play counts
a day after its latest game ends (set by the draw, and by publishing a game that carries the run on). A draw only
ever moves a voucher's or wallet's expiry later. The game, its stock and its list of wins are the owner's and do
not expire.
"""

from __future__ import annotations

import functools
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import redis

from core.settings import Settings
from core.storage import LUA_KEEP, VenueKeys
from lightapps.games.rules import (
    ODDS_SCALE,
    REDEEM_DAYS,
    GameSpec,
    Prize,
    new_code,
    prizes_from_json,
    prizes_to_json,
)
from portal.apps.bilingual import Localized, pick
from portal.apps.erasure import glob_escape, keys_matching
from portal.apps.locale import day_start, venue_time_zone

GAME_ID_DIGITS = 12
WALLET_MAX = 200
PAST_LISTED = 20  # earlier games the console lists
KEEP_AFTER_REDEEM_S = 30 * 86400  # a voucher is kept this long after its collection deadline (disputes)
ONCE_TTL_S = 600  # a form's answer is replayed this long: a double tap, a resend after a slow network


class GameKeys(VenueKeys):
    def seq(self) -> str:
        return self.key("games", "seq")

    def current(self, zone: str) -> str:
        return self.key("games", "zone", zone)

    def history(self, zone: str) -> str:
        return self.key("games", "zone", zone, "all")

    def game(self, game_id: str) -> str:
        return self.key("games", "g", game_id)

    def left(self, game_id: str) -> str:
        return self.key("games", "g", game_id, "left")

    def wins(self, game_id: str) -> str:
        return self.key("games", "g", game_id, "wins")

    def counts(self, run: str) -> str:
        return self.key("games", "g", run, "counts")

    def old_player(self, game_id: str, client: str) -> str:
        """A shopper's counts as the previous release kept them (read where `counts` has none)."""
        return self.key("games", "g", game_id, "p", client)

    def old_member_plays(self, game_id: str, member: str) -> str:
        """A member's counts as the previous release kept them (read where `counts` has none)."""
        return self.key("games", "g", game_id, "m", member)

    def voucher(self, code: str) -> str:
        return self.key("games", "v", code)

    def wallet(self, client: str) -> str:
        return self.key("games", "wallet", client)

    def seeded(self, zone: str) -> str:
        return self.key("games", "seeded", zone)

    def draw_once(self, client: str, nonce: str) -> str:
        return self.key("games", "once", "draw", client, nonce)

    def desk_once(self, code: str, nonce: str) -> str:
        return self.key("games", "once", "desk", code, nonce)

    def publish_once(self, zone: str, nonce: str) -> str:
        return self.key("games", "once", "new", zone, nonce)


def count_field(client: str, member: str | None = None) -> str:
    """A person's field in the run's counts: the member's when `member` is given, else the shopper's."""
    return f"m:{member}" if member else f"p:{client}"


def counted(keys: GameKeys, run: str, client: str, member: str | None) -> list[tuple[str, str]]:
    """Whose plays a draw counts, each as (its field in the run's counts, its previous release's key): the
    shopper's, and the member's when she draws as one."""
    shopper = [(count_field(client), keys.old_player(run, client))]
    return shopper + ([(count_field(client, member), keys.old_member_plays(run, member))] if member else [])


# KEYS: game, left, the run's counts, voucher, wallet, wins, the previous release's key of each person counted
# (`counted`: the shopper's[, the member's])[, the form's nonce record].  ARGV: client, roll (0..9999), now, venue
# day, code, zone, keep a voucher after the collection deadline (s), the shopper token's lifetime (s), how long
# the nonce's answer is kept (s), '1' when KEYS has the nonce record, the member key ('' for none: kept on a
# voucher won, the desk's check), then each person's field in the run's counts (in the order of their keys).
# A play is counted (and the limits spent) whatever it wins, for the shopper and for the member: the limits hold
# for whichever of the two has drawn more. The counts are kept a day past the game's end (the run's: a draw is
# only ever in a run's latest game; publishing extends them). A prize whose stock is gone, or any prize once the
# game's total is given out, is "no prize" ({'GONE', prize}). A form already answered gets {'REPLAY', its answer}:
# no second play.
DRAW_LUA = LUA_KEEP + """
local once = nil
if ARGV[10] == '1' then once = KEYS[#KEYS] end
local people = {}
for i = 12, #ARGV do people[#people + 1] = {field = ARGV[i], old = KEYS[i - 5]} end
local function played(answer)
  if once then redis.call('SET', once, table.concat(answer, ' '), 'EX', ARGV[9]) end
  return answer
end
local function plays(person)  -- (in all, today): the run's field "all day today", else the previous release's key
  local all, day, today
  local f = redis.call('HGET', KEYS[3], person.field)
  if f then all, day, today = string.match(f, '^(%d+) (%S+) (%d+)$')
  else all, day, today = unpack(redis.call('HMGET', person.old, 'all', 'day', 'today')) end
  if day ~= ARGV[4] then today = 0 end
  return tonumber(all or 0) or 0, tonumber(today or 0) or 0
end
if once then
  local seen = redis.call('GET', once)
  if seen then return {'REPLAY', seen} end
end
local g = redis.call('HMGET', KEYS[1], 'zone', 'status', 'per_shopper', 'per_day', 'total_left', 'odds',
                     'starts_at', 'ends_at', 'redeem_until')
if g[1] ~= ARGV[6] then return {'NO_GAME'} end
local now = tonumber(ARGV[3])
if g[2] ~= 'live' or now >= tonumber(g[8]) then return {'ENDED'} end
if now < tonumber(g[7]) then return {'NOT_STARTED'} end
if tonumber(g[5]) <= 0 then return {'SOLD_OUT'} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'COLLISION'} end
local all, today = 0, 0
for _, person in ipairs(people) do
  local a, t = plays(person)
  all, today = math.max(all, a), math.max(today, t)
end
if all >= tonumber(g[3]) then return {'LIMIT_GAME'} end
if today >= tonumber(g[4]) then return {'LIMIT_DAY'} end
for _, person in ipairs(people) do
  local a, t = plays(person)
  redis.call('HSET', KEYS[3], person.field, string.format('%d %s %d', a + 1, ARGV[4], t + 1))
end
redis.call('EXPIREAT', KEYS[3], math.ceil(tonumber(g[8])) + 86400)
redis.call('HINCRBY', KEYS[1], 'plays', 1)
local roll = tonumber(ARGV[2])
local acc = 0
local won = nil
for id, odds in string.gmatch(g[6], '(%w+)=(%d+)') do
  acc = acc + tonumber(odds)
  if roll < acc then won = id break end
end
if not won then return played({'NO_PRIZE'}) end
if tonumber(redis.call('HGET', KEYS[2], won) or '0') <= 0 then return played({'GONE', won}) end
redis.call('HINCRBY', KEYS[2], won, -1)
redis.call('HINCRBY', KEYS[1], 'total_left', -1)
redis.call('HINCRBY', KEYS[1], 'wins', 1)
redis.call('HSET', KEYS[4], 'game', redis.call('HGET', KEYS[1], 'id'), 'prize', won, 'zone', ARGV[6],
           'client', ARGV[1], 'state', 'issued', 'won_at', ARGV[3])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[4], 'member', ARGV[11]) end  -- the winner's card: the desk's check
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[5])
keep_record(KEYS[4], KEYS[5], now, g[9] or g[8], ARGV[7], ARGV[8])  -- the voucher, and the wallet
return played({'WON', won, ARGV[5]})
"""

# KEYS: voucher, game[, the form's nonce record].  ARGV: zone of the desk, now, who, the new state (redeemed:
# handed out at the desk; credited: points put on the membership card), how long the nonce's answer is kept,
# the game's deadline as read (GameStore._at_day_end; '': the stored one).
# The same form again (the nonce's record is there) answers OK with the first time: {'OK', at, 'REPLAY'}.
REDEEM_LUA = """
if KEYS[3] then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {'OK', seen, 'REPLAY'} end
end
local v = redis.call('HMGET', KEYS[1], 'zone', 'state', 'redeemed_at')
if not v[1] then return {'NO_CODE'} end
if v[1] ~= ARGV[1] then return {'WRONG_ZONE'} end
if v[2] ~= 'issued' then return {'ALREADY', v[3]} end
local until_ = tonumber(ARGV[6] ~= '' and ARGV[6] or redis.call('HGET', KEYS[2], 'redeem_until') or '0')
if tonumber(ARGV[2]) >= until_ then return {'EXPIRED', tostring(until_)} end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'redeemed_at', ARGV[2], 'redeemed_by', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'redeemed', 1)
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[5]) end
return {'OK', ARGV[2]}
"""

# KEYS: the zone's current game id, the zone's history, the new game, its left[, the game it replaces, its left,
# its run's counts][, the form's nonce record].  ARGV: the current game id as read ('' none), the new id, now, the
# new hard total, the replaced game's stocks ("p1=5;p2=3", as published: never changed), the new game's stocks,
# when the counts of a run it continues expire (its end + a day), how long the nonce's answer is kept ('' no nonce
# record), then the new game's fields (name, value...).
# {'CHANGED'}: another game was published since the caller read the current one (it reads again). A replaced game
# stops; one still running is continued (the store's docstring): its run, its counts (kept as long as the new game)
# and the prizes won in all and per row. {'OK', id}; {'REPLAY', id}: the form already published that game.
PUBLISH_LUA = """
local once = nil
if ARGV[8] ~= '' then once = KEYS[#KEYS] end
if once then
  local first = redis.call('GET', once)
  if first then return {'REPLAY', first} end
end
local previous = ARGV[1]
if (redis.call('GET', KEYS[1]) or '') ~= previous then return {'CHANGED'} end
local run, follows, carried, won = ARGV[2], '', 0, {}
if previous ~= '' then
  local p = redis.call('HMGET', KEYS[5], 'status', 'ends_at', 'total', 'total_left', 'run')
  if p[1] == 'live' and tonumber(ARGV[3]) < tonumber(p[2]) then
    run, follows, carried = p[5] or previous, previous, tonumber(p[3]) - tonumber(p[4])
    for id, stock in string.gmatch(ARGV[5], '(%w+)=(%d+)') do
      won[id] = tonumber(stock) - tonumber(redis.call('HGET', KEYS[6], id) or stock)
    end
    redis.call('HSET', KEYS[5], 'replaced_by', ARGV[2])
    redis.call('EXPIREAT', KEYS[7], ARGV[7])
  end
  redis.call('HSET', KEYS[5], 'status', 'stopped')
end
redis.call('HSET', KEYS[3], unpack(ARGV, 9))
redis.call('HSET', KEYS[3], 'run', run, 'follows', follows, 'carried', carried,
           'total_left', tonumber(ARGV[4]) - carried)
for id, stock in string.gmatch(ARGV[6], '(%w+)=(%d+)') do
  redis.call('HSET', KEYS[4], id, tonumber(stock) - (won[id] or 0))
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
if once then redis.call('SET', once, ARGV[2], 'EX', ARGV[8]) end
return {'OK', ARGV[2]}
"""

# KEYS: the zone's current game id, the game.  ARGV: the game id, title_en, title_zh, the prizes (JSON, with their
# new titles: odds and stocks as they were). Only the zone's current live game: 1, else 0 (nothing written).
EDIT_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('HGET', KEYS[2], 'status') ~= 'live' then return 0 end
redis.call('HSET', KEYS[2], 'title_en', ARGV[2], 'title_zh', ARGV[3], 'prizes', ARGV[4])
return 1
"""


def stocks_field(prizes: tuple[Prize, ...]) -> str:
    """The prizes' stocks as the publishing script reads them: "p1=5;p2=3"."""
    return ";".join(f"{p.id}={p.stock}" for p in prizes)


def collect_by_deadline(day: date, tz: tzinfo | None) -> float:
    """The end of the day a prize is to be collected by ("Collect by <day>", the page's
    `(redeem_until - 1)|spoken_day`): the venue's next midnight, so the desk takes it to the last minute of the
    printed day whatever DST did in between (REDEEM_DAYS x 24 h from the game's end would land an hour off across a
    change)."""
    return day_start(day + timedelta(days=1), tz)


def printed_day(deadline: float, tz: tzinfo | None) -> date:
    """The day a deadline is printed as (its last second's venue day): `collect_by_deadline`'s inverse."""
    return datetime.fromtimestamp(deadline - 1, tz).date()


@dataclass(frozen=True)
class Game:
    id: str
    zone: str
    title_en: str
    title_zh: str
    style: str
    per_shopper: int
    per_day: int
    total: int
    total_left: int
    prizes: tuple[Prize, ...]
    left: dict[str, int]
    status: str  # live | stopped
    starts_at: float
    ends_at: float  # exclusive: the midnight after the last day
    redeem_until: float
    plays: int
    wins: int
    redeemed: int
    created_by: str
    run: str = ""  # the game this one continues the counts of (its own id when it started afresh)
    follows: str = ""  # the running game it replaced ('' when it started afresh)
    carried: int = 0  # prizes won in the run before this game: they count toward its hard total
    replaced_by: str = ""  # the game that replaced this one while it ran

    def title(self, zh: bool) -> Localized:
        return pick(self.title_zh, self.title_en, zh)

    @property
    def no_prize_odds(self) -> int:
        return ODDS_SCALE - sum(p.odds for p in self.prizes)

    def prize(self, prize_id: str) -> Prize | None:
        return next((p for p in self.prizes if p.id == prize_id), None)

    def is_gone(self, prize: Prize) -> bool:
        """This prize can no longer be won: its stock or the game's total is given out."""
        return self.left.get(prize.id, 0) <= 0 or self.total_left <= 0

    def prize_left(self, prize: Prize) -> int:
        """How many of this prize shoppers can still win: its stock left, but never more than the game's hard
        total left (a figure shown must be one a shopper can get)."""
        return max(0, min(self.left.get(prize.id, 0), self.total_left))

    @property
    def capped_by_total(self) -> bool:
        """The game's hard total left is below what the prizes' stocks add up to: the stocks alone would
        promise more prizes than will be given out."""
        return 0 < self.total_left < sum(max(0, self.left.get(p.id, 0)) for p in self.prizes)

    def gone_odds(self) -> int:
        """The share of draws that now wins nothing because its prize is gone (added to "no prize")."""
        return sum(p.odds for p in self.prizes if self.is_gone(p))

    def is_open(self, now: float) -> bool:
        return self.status == "live" and self.starts_at <= now < self.ends_at and self.total_left > 0

    def is_running(self, now: float) -> bool:
        """Live and not yet past its last day (sold out or not): a game published now continues it."""
        return self.status == "live" and now < self.ends_at

    @property
    def uncollected(self) -> int:
        """Prizes won in this game and neither handed out nor credited (yet, or ever: past the deadline)."""
        return max(0, self.wins - self.redeemed)

    @classmethod
    def from_hash(cls, data: dict[bytes, bytes], left: dict[bytes, bytes]) -> Game:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(
            id=s["id"], zone=s["zone"], title_en=s["title_en"], title_zh=s.get("title_zh", ""), style=s["style"],
            per_shopper=int(s["per_shopper"]), per_day=int(s["per_day"]), total=int(s["total"]),
            total_left=max(0, int(s["total_left"])), prizes=prizes_from_json(s["prizes"]),
            left={k.decode(): max(0, int(v)) for k, v in left.items()}, status=s["status"],
            starts_at=float(s["starts_at"]), ends_at=float(s["ends_at"]), redeem_until=float(s["redeem_until"]),
            plays=int(s.get("plays", 0)), wins=int(s.get("wins", 0)), redeemed=int(s.get("redeemed", 0)),
            created_by=s.get("created_by", ""), run=s.get("run") or s["id"], follows=s.get("follows", ""),
            carried=int(s.get("carried", 0)), replaced_by=s.get("replaced_by", ""),
        )


@dataclass(frozen=True)
class Voucher:
    code: str
    game_id: str
    prize_id: str
    zone: str
    client: str
    state: str  # issued | redeemed (handed out at the desk) | credited (points put on the membership card)
    won_at: float
    redeemed_at: float | None = None
    member: str = ""  # the winner's member key (the points capability's), when she drew as a member

    @classmethod
    def from_hash(cls, code: str, data: dict[bytes, bytes]) -> Voucher:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(code=code, game_id=s["game"], prize_id=s["prize"], zone=s["zone"], client=s["client"],
                   state=s["state"], won_at=float(s["won_at"]),
                   redeemed_at=float(s["redeemed_at"]) if s.get("redeemed_at") else None, member=s.get("member", ""))


@dataclass(frozen=True)
class DrawResult:
    # WON | NO_PRIZE | GONE (the prize drawn is out of stock) | LIMIT_GAME | LIMIT_DAY | NO_GAME | ENDED |
    # NOT_STARTED | SOLD_OUT (the whole game is given out)
    status: str
    prize_id: str | None = None
    code: str | None = None
    replayed: bool = False  # the answer a form with the same nonce got before: no new play

    @classmethod
    def parse(cls, answer: list[str], replayed: bool = False) -> DrawResult:
        """From the script's answer ("WON", "p1", "CODE")."""
        return cls(answer[0], answer[1] if len(answer) > 1 else None, answer[2] if len(answer) > 2 else None,
                   replayed)

    @property
    def played(self) -> bool:
        return self.status in ("WON", "NO_PRIZE", "GONE")


@dataclass(frozen=True)
class RedeemResult:
    status: str  # OK | ALREADY | NO_CODE | WRONG_ZONE | EXPIRED
    voucher: Voucher | None = None
    game: Game | None = None
    at: float | None = None
    replayed: bool = False  # OK again for the same form (its nonce): the first press gave the prize out


class GameStore:
    @classmethod
    def from_services(cls, svc: Any) -> GameStore:
        """The platform builds the app's store with this (portal/apps/platform.py)."""
        return cls(svc.db, shopper_ttl_s=svc.settings.shopper_token_ttl_s,
                   time_zone_of=functools.partial(venue_time_zone, svc=svc))

    def __init__(self, db: redis.Redis, randbelow: Callable[[int], int] = secrets.randbelow,
                 shopper_ttl_s: int = Settings.shopper_token_ttl_s,
                 time_zone_of: Callable[[str], tzinfo] | None = None) -> None:
        """`shopper_ttl_s`: how long a shopper token lives after its last use (SHOPPER_TOKEN_TTL_S): the
        wallet, reached only through that token, is kept at least this long after each prize. `time_zone_of`:
        venue -> its zone, to read a game's collection deadline as the end of the day it is printed as (None:
        as stored, in store-only tests)."""
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self.time_zone_of = time_zone_of
        self.randbelow = randbelow  # the draw's randomness (tests pass a seeded one)
        self._draw = db.register_script(DRAW_LUA)
        self._redeem = db.register_script(REDEEM_LUA)
        self._publish = db.register_script(PUBLISH_LUA)
        self._edit = db.register_script(EDIT_LUA)

    # ---- owners -------------------------------------------------------------------------------

    def publish(self, venue: str, zone: str, spec: GameSpec, created_by: str = "", now: float | None = None,
                tz: tzinfo | None = None) -> Game:
        """A new live game for the zone from `parse_game`'s spec, replacing (stopping) the current one, and
        continuing its counts when it is still running (the module's docstring); vouchers already won stay valid.
        The game runs from now to the end of its last day (venue time)."""
        return self.publish_by_form(venue, zone, spec, None, created_by, now, tz)[0]

    def publish_by_form(self, venue: str, zone: str, spec: GameSpec, once: str | None, created_by: str = "",
                        now: float | None = None, tz: tzinfo | None = None) -> tuple[Game, bool]:
        """`publish` for the form whose one-time token is `once` (portal.apps.once): the same form sent again (a
        double tap) publishes nothing and gets the game its first sending published, with True."""
        keys = GameKeys(venue)
        now = time.time() if now is None else now
        game_id = str(self.db.incr(keys.seq()))
        fields = {
            "id": game_id, "zone": zone, "title_en": spec.title_en, "title_zh": spec.title_zh, "style": spec.style,
            "per_shopper": spec.per_shopper, "per_day": spec.per_day, "total": spec.total,
            "odds": spec.odds_field(), "prizes": spec.prizes_json(), "status": "live", "starts_at": repr(now),
            "ends_at": repr(day_start(spec.last_day + timedelta(days=1), tz)),
            "redeem_until": repr(collect_by_deadline(spec.last_day + timedelta(days=REDEEM_DAYS), tz)),
            "plays": 0, "wins": 0, "redeemed": 0, "created_at": repr(now), "created_by": created_by,
        }
        counts_until = math.ceil(float(fields["ends_at"])) + 86400  # as the draw script keeps them
        once_key = [keys.publish_once(zone, once)] if once else []
        for _ in range(5):  # another game published between the read and the script: read it again
            previous_id = (self.db.get(keys.current(zone)) or b"").decode()
            previous = self.get(venue, previous_id) if previous_id else None
            run = previous.run if previous else previous_id
            replaced = [keys.game(previous_id), keys.left(previous_id), keys.counts(run)] if previous_id else []
            if previous is not None and previous.is_running(now):
                self._keep_old_counts(venue, run, counts_until)  # before: kept too long at worst, never lost
            status, *published = self._publish(
                keys=[keys.current(zone), keys.history(zone), keys.game(game_id), keys.left(game_id), *replaced,
                      *once_key],
                args=[previous_id, game_id, repr(now), spec.total,
                      stocks_field(previous.prizes) if previous else "", stocks_field(spec.prizes), counts_until,
                      ONCE_TTL_S if once else "", *(str(part) for pair in fields.items() for part in pair)])
            if status != b"CHANGED":
                return self.get(venue, published[0].decode()), status == b"REPLAY"
        raise RuntimeError("the zone's game kept changing while publishing")

    def _keep_old_counts(self, venue: str, run: str, until: int) -> None:
        """A run the previous release started (its first game has no run stored) keeps its counts per person in
        keys of their own (GameKeys.old_player): kept until `until` too, as the publishing script keeps the run's
        hash. One scan of the venue's slot, only while such a run is carried on."""
        keys = GameKeys(venue)
        if self.db.hexists(keys.game(run), "run"):
            return
        pipe = self.db.pipeline(transaction=False)
        for key in [*keys_matching(self.db, keys.old_player(run, "*")),
                    *keys_matching(self.db, keys.old_member_plays(run, "*"))]:
            pipe.expireat(key, until)
        pipe.execute()

    def edit_texts(self, venue: str, zone: str, game_id: str, titles: dict[str, str],
                   prizes: tuple[Prize, ...]) -> bool:
        """Change the titles of the zone's current live game and of its prizes (`parse_texts`), in place: the
        same game, its odds, stocks, limits and counts as they are. False when it is no longer that game (another
        was published, it was stopped): nothing changed."""
        keys = GameKeys(venue)
        return bool(self._edit(keys=[keys.current(zone), keys.game(game_id)],
                               args=[game_id, titles["title_en"], titles["title_zh"], prizes_to_json(prizes)]))

    def stop(self, venue: str, zone: str) -> bool:
        """Stop the zone's current game (no more draws; vouchers stay valid). False when there is none."""
        game = self.current(venue, zone)
        if game is None or game.status != "live":
            return False
        self.db.hset(GameKeys(venue).game(game.id), "status", "stopped")
        return True

    # ---- reading ------------------------------------------------------------------------------

    def get(self, venue: str, game_id: str) -> Game | None:
        if not game_id.isdigit() or len(game_id) > GAME_ID_DIGITS:
            return None
        return self._games(venue, [game_id])[0]

    def _games(self, venue: str, game_ids: list[str]) -> list[Game | None]:
        """These games, read in one round trip (None for one not stored)."""
        if not game_ids:
            return []
        keys = GameKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for game_id in game_ids:
            pipe.hgetall(keys.game(game_id))
            pipe.hgetall(keys.left(game_id))
        read = pipe.execute()
        return [self._at_day_end(venue, Game.from_hash(data, left)) if data else None
                for data, left in zip(read[::2], read[1::2], strict=True)]

    def past(self, venue: str, zone: str, limit: int = PAST_LISTED) -> list[Game]:
        """The zone's earlier games, newest first (the console's list: their draws and prizes outlive them)."""
        keys = GameKeys(venue)
        current = (self.db.get(keys.current(zone)) or b"").decode()
        ids = [i.decode() for i in self.db.zrevrange(keys.history(zone), 0, limit)]
        return [game for game in self._games(venue, [i for i in ids if i != current][:limit]) if game is not None]

    def _at_day_end(self, venue: str, game: Game) -> Game:
        """A game published before deadlines were venue midnights (REDEEM_DAYS x 24 h after its end: an hour
        off the printed day across a DST change) is collectable to the end of the day its page printed; a
        deadline already at a midnight stays as it is."""
        if self.time_zone_of is None:
            return game
        tz = self.time_zone_of(venue)
        return replace(game, redeem_until=collect_by_deadline(printed_day(game.redeem_until, tz), tz))

    def current(self, venue: str, zone: str) -> Game | None:
        game_id = self.db.get(GameKeys(venue).current(zone))
        return self.get(venue, game_id.decode()) if game_id else None

    def draws_left(self, venue: str, game: Game, client: str, day: str, member: str | None = None) -> tuple[int, int]:
        """How many more draws this shopper has: (in the whole game, today); with `member` (the shopper's member
        key), what the member's draws on all her shopper ids leave too (as the draw script counts them)."""
        keys = GameKeys(venue)
        people = counted(keys, game.run, client, member)
        pipe = self.db.pipeline(transaction=False)
        pipe.hmget(keys.counts(game.run), [field for field, _old in people])
        for _field, old in people:
            pipe.hmget(old, "all", "day", "today")
        fields, *olds = pipe.execute()
        played_all = played_today = 0
        for field, old in zip(fields, olds, strict=True):  # the run's field, else the previous release's key
            plays, played_day, today = field.decode().split(" ") if field else [v and v.decode() for v in old]
            played_all = max(played_all, int(plays or 0))
            played_today = max(played_today, int(today or 0) if played_day == day else 0)
        return max(0, game.per_shopper - played_all), max(0, game.per_day - played_today)

    def plays_left(self, venue: str, game: Game, client: str, day: str, member: str | None = None) -> int:
        """How many more draws this shopper (and member) has today (the smaller of the day's and the game's)."""
        return min(self.draws_left(venue, game, client, day, member))

    def voucher(self, venue: str, code: str) -> Voucher | None:
        data = self.db.hgetall(GameKeys(venue).voucher(code))
        return Voucher.from_hash(code, data) if data else None

    def wallet(self, venue: str, client: str) -> list[tuple[Voucher, Game]]:
        """The shopper's prizes with their games, newest first."""
        keys = GameKeys(venue)
        codes = [c.decode() for c in self.db.zrevrange(keys.wallet(client), 0, WALLET_MAX - 1)]
        pipe = self.db.pipeline(transaction=False)
        for code in codes:
            pipe.hgetall(keys.voucher(code))
        vouchers = [Voucher.from_hash(c, d) for c, d in zip(codes, pipe.execute(), strict=True) if d]
        games = {gid: self.get(venue, gid) for gid in {v.game_id for v in vouchers}}
        return [(v, games[v.game_id]) for v in vouchers if games.get(v.game_id) is not None]

    def recent_wins(self, venue: str, game_id: str, limit: int = 50) -> list[Voucher]:
        keys = GameKeys(venue)
        codes = [c.decode() for c in self.db.zrevrange(keys.wins(game_id), 0, limit - 1)]
        pipe = self.db.pipeline(transaction=False)
        for code in codes:
            pipe.hgetall(keys.voucher(code))
        return [Voucher.from_hash(c, d) for c, d in zip(codes, pipe.execute(), strict=True) if d]

    # ---- the two atomic steps -----------------------------------------------------------------

    def draw(self, venue: str, zone: str, game_id: str, client: str, day: str,
             now: float | None = None, nonce: str | None = None, member: str | None = None) -> DrawResult:
        """One play for this shopper: the roll from `secrets` (0..9,999 against the odds in basis points),
        everything else in one Lua script. `day` is the venue's day (YYYY-MM-DD) for the per-day limit.
        `nonce`: the form's; a play's answer is kept under it, and the same form again gets it back.
        `member`: the shopper's member key, when she is a member: the limits count her on every shopper id."""
        keys = GameKeys(venue)
        now = time.time() if now is None else now
        roll = self.randbelow(ODDS_SCALE)
        once = [keys.draw_once(client, nonce)] if nonce else []
        run = (self.db.hget(keys.game(game_id), "run") or game_id.encode()).decode()  # fixed once published
        people = counted(keys, run, client, member)
        for _ in range(5):  # a new random code on the (49-bit) astronomically rare collision
            code = new_code()
            status, *rest = self._draw(
                keys=[keys.game(game_id), keys.left(game_id), keys.counts(run), keys.voucher(code),
                      keys.wallet(client), keys.wins(game_id), *(old for _field, old in people), *once],
                args=[client, roll, repr(now), day, code, zone, KEEP_AFTER_REDEEM_S, self.shopper_ttl_s,
                      ONCE_TTL_S, "1" if once else "0", member or "", *(field for field, _old in people)])
            status = status.decode()
            if status == "REPLAY":
                return DrawResult.parse(rest[0].decode().split(" "), replayed=True)
            if status != "COLLISION":
                return DrawResult.parse([status, *(r.decode() for r in rest)])
        raise RuntimeError("could not find a free voucher code")

    def replayed_draw(self, venue: str, client: str, nonce: str) -> DrawResult | None:
        """The answer this shopper's form (its nonce) already got, or None: read before the view refuses a
        repeat for the limit the first draw spent (the draw script itself also checks it, atomically)."""
        seen = self.db.get(GameKeys(venue).draw_once(client, nonce))
        return DrawResult.parse(seen.decode().split(" "), replayed=True) if seen else None

    def redeem(self, venue: str, zone: str, code: str, by: str, now: float | None = None,
               state: str = "redeemed", nonce: str | None = None) -> RedeemResult:
        """Flip a voucher issued -> redeemed (or credited), exactly once, only for the zone whose game issued
        it, until the game's collection deadline. `nonce`: the desk form's; the same form again answers OK
        (replayed) with the first time, not "already collected"."""
        keys = GameKeys(venue)
        now = time.time() if now is None else now
        game_id = self.db.hget(keys.voucher(code), "game")  # immutable once issued
        if game_id is None:
            return RedeemResult("NO_CODE")
        game_id = game_id.decode()
        game = self.get(venue, game_id)  # its deadline as read (`_at_day_end`): never changed once published
        once = [keys.desk_once(code, nonce)] if nonce else []
        status, *rest = self._redeem(keys=[keys.voucher(code), keys.game(game_id), *once],
                                     args=[zone, repr(now), by, state, ONCE_TTL_S,
                                           repr(game.redeem_until) if game else ""])
        at = float(rest[0]) if rest and rest[0] else None
        return RedeemResult(status.decode(), self.voucher(venue, code), self.get(venue, game_id), at,
                            replayed=len(rest) > 1)

    # ---- privacy hooks (portal/events/mydata.py) -----------------------------------------------

    def export_shopper(self, venue: str, client: str) -> dict:
        wallet = self.wallet(venue, client)
        if not wallet:
            return {}
        return {"prizes": [{"code": v.code, "game": str(g.title(False)),
                            "prize": str((g.prize(v.prize_id) or g.prizes[0]).title(False)),
                            "state": v.state, "won_at": v.won_at} for v, g in wallet]}

    def forget_shopper(self, venue: str, client: str) -> int:
        """The shopper's wallet and play counts go; the vouchers stay for the owners' counts, with no shopper
        in them."""
        keys = GameKeys(venue)
        codes = [c.decode() for c in self.db.zrange(keys.wallet(client), 0, -1)]
        pipe = self.db.pipeline(transaction=True)
        for code in codes:
            pipe.hset(keys.voucher(code), "client", "")
        pipe.delete(keys.wallet(client))
        pipe.execute()
        for counts in keys_matching(self.db, keys.counts("*")):  # the runs' play counts
            self.db.hdel(counts, count_field(client))
        for plays in keys_matching(self.db, keys.old_player("*", glob_escape(client))):  # the previous release's
            self.db.delete(plays)
        for answer in keys_matching(self.db, keys.draw_once(glob_escape(client), "*")):  # forms' answers (codes)
            self.db.delete(answer)
        return len(codes)

    # ---- demo ---------------------------------------------------------------------------------

    def claim_seed_slot(self, venue: str, zone: str) -> bool:
        """True once per zone: lets the demo seed stay idempotent even when two processes seed at once."""
        keys = GameKeys(venue)
        if self.db.exists(keys.current(zone)):
            return False
        return bool(self.db.set(keys.seeded(zone), "1", nx=True))
