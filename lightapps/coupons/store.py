"""E-coupons in Redis: zone owners publish coupons with a stock and a validity window; shoppers claim
one each; the issuing shop redeems a claimed code exactly once.

Claim and redeem are each ONE Lua script (check and write in one step; every key passed in KEYS and
carrying the venue's hash tag, so the scripts stay legal on Redis Cluster).

Keys (venue `v`):
  mp:{v}:coupons:seq                      INCR source of coupon ids
  mp:{v}:coupons:zone:<zone>              ZSET coupon id -> created_at
  mp:{v}:coupons:c:<id>                   HASH the coupon (stock, left, claimed, redeemed, window, titles)
  mp:{v}:coupons:c:<id>:holders           HASH shopper client -> code (one per shopper)
  mp:{v}:coupons:code:<CODE>              HASH an issued code (coupon, zone, client, state, times)
  mp:{v}:coupons:wallet:<client>          ZSET code -> issued_at (the shopper's "my coupons")
  mp:{v}:coupons:hold:<ref>               STRING the code another app holds for `ref` (an order being paid)
  mp:{v}:coupons:once:till:<CODE>:<nonce> STRING when a till's redeem form redeemed the code, ONCE_TTL_S
  mp:{v}:coupons:once:new:<zone>:<nonce>.<digest> STRING the coupon an owner's publish form (its token and content:
                                          portal.apps.once.read_form_once) made, 10 min

Expiry, set by the claim script itself (never a separate call that could be lost): a code and the coupon's
holder list live `KEEP_AFTER_END_S` (30 days) past the coupon's validity (the till answers "expired" in
that time, "unknown code" after it); the wallet, reached only through the shopper's token, lives at least
the token's lifetime (`SHOPPER_TOKEN_TTL_S`) after the latest claim and at least as long as each of its
codes. A claim only ever moves an expiry later. The coupon itself (the owner's record, with its counts)
does not expire.

A coupon with a parking value (`parking_fen` > 0) may also be taken off the car park's fee through the
platform's "vouchers" capability (lightapps/coupons/vouchers.py): held while the fee's order is paid
(state `held`: the shop cannot redeem it meanwhile), then redeemed (paid) or released (closed unpaid).

A till's redeem form carries a one-time nonce: the redeem script records the redemption under it (in the same
step), so the same form sent again (a double press, a reload) answers that redemption, not "already redeemed".
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

import redis

from core.errors import N_, CatalogInputError
from core.replication import confirm
from core.settings import Settings
from core.storage import LUA_KEEP, VenueKeys
from lightapps.coupons.codes import new_code
from portal.apps.bilingual import Localized, pick, read_catalog_pair
from portal.apps.erasure import blank_field
from portal.apps.locale import day_start
from portal.apps.once import CREATE_ONCE_LUA, create_once
from portal.payments.money import AmountError, read_amount

COUPON_ID = re.compile(r"^[0-9]{1,12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_STOCK = 1_000_000
MAX_SPAN_DAYS = 366
MAX_AHEAD_DAYS = 366  # a coupon's first day is within a year (a year 9999 overflowed the day arithmetic: 500)
TITLE_MAX = 80
MAX_PARKING_FEN = 50_000  # ¥500.00 off a parking fee at most
HOLD_KEEP_S = 7 * 86400  # a hold outlives any order it waits for (the payment sweep closes those)
# A code (and the holder list) outlives the coupon's validity this long: a dispute at the till, a parking
# order held on the last day and paid within HOLD_KEEP_S still finds it.
KEEP_AFTER_END_S = 30 * 86400
DESCRIPTION_MAX = 500
ONCE_TTL_S = 600  # a till form's redemption is answered again this long: a double press, a reload, a slow network


class CouponKeys(VenueKeys):
    def seq(self) -> str:
        return self.key("coupons", "seq")

    def zone_coupons(self, zone: str) -> str:
        return self.key("coupons", "zone", zone)

    def coupon(self, coupon_id: str) -> str:
        return self.key("coupons", "c", coupon_id)

    def holders(self, coupon_id: str) -> str:
        return self.key("coupons", "c", coupon_id, "holders")

    def code(self, code: str) -> str:
        return self.key("coupons", "code", code)

    def wallet(self, client: str) -> str:
        return self.key("coupons", "wallet", client)

    def seeded(self, zone: str) -> str:
        return self.key("coupons", "seeded", zone)

    def hold(self, ref: str) -> str:
        return self.key("coupons", "hold", ref)

    def till_once(self, code: str, nonce: str) -> str:
        return self.key("coupons", "once", "till", code, nonce)

    def new_once(self, zone: str, nonce: str) -> str:
        return self.key("coupons", "once", "new", zone, nonce)



# KEYS: coupon, holders, code, wallet.  ARGV: client, code, now, zone, coupon id, keep after the validity
# ends (s), the shopper token's lifetime (s), '1' to check only (answer NEW where it would claim, write nothing).
CLAIM_LUA = LUA_KEEP + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'NO_COUPON'} end
local f = redis.call('HMGET', KEYS[1], 'zone', 'left', 'valid_from', 'valid_until', 'status')
if f[1] ~= ARGV[4] then return {'NO_COUPON'} end
local have = redis.call('HGET', KEYS[2], ARGV[1])
if have then return {'ALREADY', have} end
local now = tonumber(ARGV[3])
if f[5] ~= 'live' then return {'ENDED'} end
if now < tonumber(f[3]) then return {'NOT_STARTED'} end
if now >= tonumber(f[4]) then return {'ENDED'} end
if tonumber(f[2]) <= 0 then return {'SOLD_OUT'} end
if ARGV[8] == '1' then return {'NEW'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'COLLISION'} end
redis.call('HINCRBY', KEYS[1], 'left', -1)
redis.call('HINCRBY', KEYS[1], 'claimed', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'coupon', ARGV[5], 'zone', ARGV[4], 'client', ARGV[1], 'state', 'issued',
           'issued_at', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
local lasts = keep_record(KEYS[2], KEYS[4], now, f[4], ARGV[6], ARGV[7])  -- the holders, and the wallet
keep(KEYS[3], lasts)  -- the code, as long as its holders
return {'OK', ARGV[2]}
"""

# KEYS: code, coupon[, the till form's nonce record].  ARGV: zone of the redeeming shop, now, who, how long the
# nonce's answer is kept. The same form again (its nonce's record is there): {'OK', at, 'REPLAY'}, the first time.
REDEEM_LUA = """
local f = redis.call('HMGET', KEYS[1], 'zone', 'state', 'redeemed_at')
if not f[1] then return {'NO_CODE'} end
if f[1] ~= ARGV[1] then return {'WRONG_ZONE'} end  -- before any replay: another shop's till learns nothing
if KEYS[3] then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {'OK', seen, 'REPLAY'} end
end
if f[2] == 'redeemed' then return {'ALREADY', f[3]} end
if f[2] == 'held' then return {'HELD'} end
local ends = tonumber(redis.call('HGET', KEYS[2], 'valid_until'))
if ends and tonumber(ARGV[2]) >= ends then return {'EXPIRED', tostring(ends)} end
redis.call('HSET', KEYS[1], 'state', 'redeemed', 'redeemed_at', ARGV[2], 'redeemed_by', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'redeemed', 1)
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[4]) end
return {'OK', ARGV[2]}
"""


# Another app takes a parking coupon. KEYS: code, coupon, hold(ref). ARGV: client, ref, now, hold keep s,
# code, coupon id.
# Returns {'OK', value fen} (held now, or held for this ref before) | {'NO'} (not the shopper's, not a
# parking coupon, used, held for something else, expired).
HOLD_LUA = """
local f = redis.call('HMGET', KEYS[1], 'client', 'state', 'held_ref')
local value = tonumber(redis.call('HGET', KEYS[2], 'parking_fen') or '0')
if not f[1] or f[1] ~= ARGV[1] or value <= 0 then return {'NO'} end
if f[2] == 'held' and f[3] == ARGV[2] then return {'OK', value} end
if f[2] ~= 'issued' or redis.call('EXISTS', KEYS[3]) == 1 then return {'NO'} end
if tonumber(ARGV[3]) >= tonumber(redis.call('HGET', KEYS[2], 'valid_until')) then return {'NO'} end
redis.call('HSET', KEYS[1], 'state', 'held', 'held_ref', ARGV[2])
redis.call('SET', KEYS[3], cjson.encode({code=ARGV[5], coupon=ARGV[6]}), 'EX', tonumber(ARGV[4]))
return {'OK', value}
"""

# The held code's end. KEYS: code, coupon, hold(ref). ARGV: ref, 'redeem' | 'release', now, by.
# Returns 1 when this call ended the hold (or it was redeemed for this ref before), 0 otherwise.
END_HOLD_LUA = """
local f = redis.call('HMGET', KEYS[1], 'state', 'held_ref')
if f[2] ~= ARGV[1] then return 0 end
if f[1] == 'redeemed' then return ARGV[2] == 'redeem' and 1 or 0 end
if f[1] ~= 'held' then return 0 end
if ARGV[2] == 'redeem' then
  redis.call('HSET', KEYS[1], 'state', 'redeemed', 'redeemed_at', ARGV[3], 'redeemed_by', ARGV[4])
  redis.call('HINCRBY', KEYS[2], 'redeemed', 1)
else
  redis.call('HSET', KEYS[1], 'state', 'issued')
  redis.call('HDEL', KEYS[1], 'held_ref')
  redis.call('DEL', KEYS[3])
end
return 1
"""


# Stop a coupon's claims. KEYS: coupon. ARGV: the zone it must belong to.
# Returns 0 (no such coupon in this zone), 1 (stopped now) or 2 (stopped already: nothing written).
STOP_LUA = """
local f = redis.call('HMGET', KEYS[1], 'zone', 'status')
if not f[1] or f[1] ~= ARGV[1] then return 0 end
if f[2] == 'stopped' then return 2 end
redis.call('HSET', KEYS[1], 'status', 'stopped')
return 1
"""


class CouponInputError(CatalogInputError):
    """A bad field in a new coupon: `field` names it. `template` is the catalog message (%(label)s stands for
    the field) and `params` its values: the console shows `_(template, label=<the field's label>, **params)`;
    `message` is the English text, naming the field as sent."""


def _pair(form: Any, name: str, max_length: int, required: str = "") -> dict[str, str]:
    """`read_pair` (one language is enough) with catalog messages; `required`: the message when both are empty."""
    return read_catalog_pair(form, name, max_length, CouponInputError, required)


def parse_new_coupon(form: Any, today: date | None = None) -> dict[str, Any]:
    """Owner form -> the fields of a new coupon; CouponInputError naming the first bad field."""
    today = today or date.today()

    titles = _pair(form, "title", TITLE_MAX, required=N_("A title is required, in Chinese or English (or both)."))
    descriptions = _pair(form, "description", DESCRIPTION_MAX)
    raw_stock = str(form.get("stock") or "").strip()
    if not raw_stock:
        raise CouponInputError("stock", N_("%(label)s is required."))
    if not re.fullmatch(r"\d{1,9}", raw_stock):
        raise CouponInputError("stock", N_("%(label)s must be a whole number."))
    stock = int(raw_stock)
    if not 1 <= stock <= MAX_STOCK:
        raise CouponInputError("stock", N_("%(label)s must be between %(low)s and %(high)s."), low=1, high=MAX_STOCK)

    def day(name: str) -> date:
        raw = str(form.get(name) or "").strip()
        if not raw:
            raise CouponInputError(name, N_("%(label)s is required."))
        try:
            if not DATE.match(raw):
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            raise CouponInputError(name, N_("%(label)s must be a date (YYYY-MM-DD).")) from None

    parking_fen = parking_value(str(form.get("parking_yuan") or "").strip())
    valid_from = day("valid_from")
    valid_until = day("valid_until")
    if valid_until < valid_from:
        raise CouponInputError("valid_until", N_("%(label)s must not be before the first valid day."))
    if valid_until < today:
        raise CouponInputError("valid_until", N_("%(label)s is in the past."))
    if (valid_from - today).days > MAX_AHEAD_DAYS:
        raise CouponInputError("valid_from", N_("%(label)s may be at most %(n)s days ahead."), n=MAX_AHEAD_DAYS)
    if (valid_until - valid_from).days > MAX_SPAN_DAYS:
        raise CouponInputError("valid_until", N_("A coupon may be valid for at most %(n)s days."), n=MAX_SPAN_DAYS)
    return {
        **titles, **descriptions, "stock": stock, "valid_from": valid_from, "valid_until": valid_until,
        "parking_fen": parking_fen,
    }


def parking_value(raw: str) -> int:
    """The form's "off the parking fee" in yuan (empty = not a parking coupon) -> fen, by the platform's amount
    rule (portal/payments/money.py)."""
    if not raw:
        return 0
    try:
        return read_amount(raw, high=MAX_PARKING_FEN)
    except AmountError as exc:
        raise CouponInputError("parking_yuan", exc.template, **exc.params) from None


@dataclass(frozen=True)
class Coupon:
    id: str
    zone: str
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    stock: int
    left: int
    claimed: int
    redeemed: int
    valid_from: float  # epoch seconds, inclusive
    valid_until: float  # epoch seconds, exclusive (midnight after the last valid day)
    status: str  # live | stopped
    created_at: float
    created_by: str
    parking_fen: int = 0  # what it takes off a parking fee (0: not a parking coupon)

    def title(self, zh: bool) -> Localized:
        return pick(self.title_zh, self.title_en, zh)

    def description(self, zh: bool) -> Localized:
        return pick(self.description_zh, self.description_en, zh)

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.valid_from).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.valid_until - 1).date()

    def is_live(self, now: float) -> bool:
        """Claimable now (stock aside)."""
        return self.status == "live" and self.valid_from <= now < self.valid_until

    def is_over(self, now: float) -> bool:
        return self.status != "live" or now >= self.valid_until

    @classmethod
    def from_hash(cls, coupon_id: str, data: dict[bytes, bytes]) -> Coupon:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(
            id=coupon_id, zone=s["zone"], title_en=s.get("title_en", ""), title_zh=s.get("title_zh", ""),
            description_en=s.get("description_en", s.get("description", "")),  # before both languages: English
            description_zh=s.get("description_zh", ""), stock=int(s["stock"]), left=int(s["left"]),
            claimed=int(s.get("claimed", 0)), redeemed=int(s.get("redeemed", 0)),
            valid_from=float(s["valid_from"]), valid_until=float(s["valid_until"]), status=s.get("status", "live"),
            created_at=float(s.get("created_at", 0)), created_by=s.get("created_by", ""),
            parking_fen=int(s.get("parking_fen") or 0),
        )


@dataclass(frozen=True)
class Issued:
    """One claimed code."""

    code: str
    coupon_id: str
    zone: str
    client: str
    state: str  # issued | held (another app is taking it: a parking fee being paid) | redeemed
    issued_at: float
    redeemed_at: float | None = None
    redeemed_by: str = ""

    @classmethod
    def from_hash(cls, code: str, data: dict[bytes, bytes]) -> Issued:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(
            code=code, coupon_id=s["coupon"], zone=s["zone"], client=s["client"], state=s["state"],
            issued_at=float(s["issued_at"]),
            redeemed_at=float(s["redeemed_at"]) if s.get("redeemed_at") else None,
            redeemed_by=s.get("redeemed_by", ""),
        )


@dataclass(frozen=True)
class ClaimResult:
    status: str  # OK | ALREADY | NO_COUPON | NOT_STARTED | ENDED | SOLD_OUT; NEW (check_only: it would claim)
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class RedeemResult:
    status: str  # OK | ALREADY | NO_CODE | WRONG_ZONE | EXPIRED
    issued: Issued | None = None
    coupon: Coupon | None = None
    at: float | None = None  # redeemed at (OK, ALREADY) or expired at (EXPIRED)
    replayed: bool = False  # OK again for the same till form (its nonce): its first press redeemed the code

    @property
    def ok(self) -> bool:
        return self.status == "OK"


class CouponStore:
    @classmethod
    def from_services(cls, svc: Any) -> CouponStore:
        """The platform builds the app's store with this (portal/apps/platform.py)."""
        return cls(svc.db, shopper_ttl_s=svc.settings.shopper_token_ttl_s)

    def __init__(self, db: redis.Redis, shopper_ttl_s: int = Settings.shopper_token_ttl_s) -> None:
        """`shopper_ttl_s`: how long a shopper token lives after its last use (SHOPPER_TOKEN_TTL_S): the
        wallet, reached only through that token, is kept at least this long after each claim."""
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self._claim = db.register_script(CLAIM_LUA)
        self._redeem = db.register_script(REDEEM_LUA)
        self._hold = db.register_script(HOLD_LUA)
        self._end_hold = db.register_script(END_HOLD_LUA)
        self._stop = db.register_script(STOP_LUA)
        self._create = db.register_script(CREATE_ONCE_LUA)

    # ---- owners -------------------------------------------------------------------------------

    def create(self, venue: str, zone: str, fields: dict[str, Any], created_by: str = "",
               now: float | None = None, tz: tzinfo | None = None) -> Coupon:
        """A new live coupon from parse_new_coupon's fields (days are the mall's, in `tz`)."""
        return self.create_by_form(venue, zone, fields, None, created_by, now, tz)[0]

    def create_by_form(self, venue: str, zone: str, fields: dict[str, Any], once: str | None, created_by: str = "",
                       now: float | None = None, tz: tzinfo | None = None) -> tuple[Coupon, bool]:
        """`create` for the publish form whose one-time record is named `once` (portal.apps.once.read_form_once: its
        token and content): the same form sent again (a double tap) makes nothing and gets the coupon its first
        sending made, with True."""
        keys = CouponKeys(venue)
        now = time.time() if now is None else now
        valid_from = fields["valid_from"]
        valid_until = fields["valid_until"]
        if isinstance(valid_from, date):
            valid_from = day_start(valid_from, tz)
        if isinstance(valid_until, date):
            valid_until = day_start(valid_until + timedelta(days=1), tz)
        coupon_id = str(self.db.incr(keys.seq()))  # after what can refuse: no id spent on a refused coupon
        mapping = {
            "zone": zone, "title_en": fields.get("title_en", ""), "title_zh": fields.get("title_zh", ""),
            "description_en": fields.get("description_en", ""), "description_zh": fields.get("description_zh", ""),
            "stock": int(fields["stock"]),
            "left": int(fields["stock"]), "claimed": 0, "redeemed": 0, "valid_from": repr(float(valid_from)),
            "valid_until": repr(float(valid_until)), "status": "live", "created_at": repr(now),
            "created_by": created_by, "parking_fen": int(fields.get("parking_fen") or 0),
        }
        coupon_id, replayed = create_once(self._create, keys.coupon(coupon_id), keys.zone_coupons(zone),
                                          keys.new_once(zone, once) if once else None, coupon_id, now, mapping)
        return self.get(venue, coupon_id), replayed

    def stop(self, venue: str, zone: str, coupon_id: str) -> Literal["stopped", "already"] | None:
        """Stop new claims (codes already claimed stay redeemable): "stopped" now, "already" when it was (nothing
        changed: the console records no audit entry for it), None if no such coupon in the zone."""
        if not COUPON_ID.match(coupon_id or ""):
            return None
        done = int(self._stop(keys=[CouponKeys(venue).coupon(coupon_id)], args=[zone]))
        return {1: "stopped", 2: "already"}.get(done)

    # ---- reading ------------------------------------------------------------------------------

    def get(self, venue: str, coupon_id: str) -> Coupon | None:
        if not COUPON_ID.match(coupon_id or ""):
            return None
        data = self.db.hgetall(CouponKeys(venue).coupon(coupon_id))
        return Coupon.from_hash(coupon_id, data) if data else None

    def for_zone(self, venue: str, zone: str) -> list[Coupon]:
        """The zone's coupons, newest first."""
        keys = CouponKeys(venue)
        ids = [i.decode() for i in self.db.zrevrange(keys.zone_coupons(zone), 0, 499)]
        pipe = self.db.pipeline(transaction=False)
        for coupon_id in ids:
            pipe.hgetall(keys.coupon(coupon_id))
        return [Coupon.from_hash(i, d) for i, d in zip(ids, pipe.execute(), strict=True) if d]

    def live_for_zone(self, venue: str, zone: str, now: float | None = None) -> list[Coupon]:
        now = time.time() if now is None else now
        return [c for c in self.for_zone(venue, zone) if c.is_live(now)]

    def held_codes(self, venue: str, client: str, coupon_ids: list[str]) -> dict[str, str]:
        """coupon id -> this shopper's code, for the coupons they hold."""
        keys = CouponKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for coupon_id in coupon_ids:
            pipe.hget(keys.holders(coupon_id), client)
        return {i: c.decode() for i, c in zip(coupon_ids, pipe.execute(), strict=True) if c}

    def issued(self, venue: str, code: str) -> Issued | None:
        data = self.db.hgetall(CouponKeys(venue).code(code))
        return Issued.from_hash(code, data) if data else None

    def wallet(self, venue: str, client: str) -> list[tuple[Issued, Coupon]]:
        """The shopper's codes with their coupons, newest first."""
        keys = CouponKeys(venue)
        codes = [c.decode() for c in self.db.zrevrange(keys.wallet(client), 0, 199)]
        pipe = self.db.pipeline(transaction=False)
        for code in codes:
            pipe.hgetall(keys.code(code))
        issued = [Issued.from_hash(code, d) for code, d in zip(codes, pipe.execute(), strict=True) if d]
        coupon_ids = sorted({i.coupon_id for i in issued})
        for coupon_id in coupon_ids:
            pipe.hgetall(keys.coupon(coupon_id))
        coupons = {i: Coupon.from_hash(i, d) for i, d in zip(coupon_ids, pipe.execute(), strict=True) if d}
        return [(i, coupons[i.coupon_id]) for i in issued if i.coupon_id in coupons]

    # ---- the two atomic steps -----------------------------------------------------------------

    def claim(self, venue: str, zone: str, coupon_id: str, client: str, now: float | None = None,
              check_only: bool = False) -> ClaimResult:
        """One code for this shopper, if the coupon is live and in stock: one Lua script, so never
        oversold, never two per shopper, never outside the validity window. `check_only` writes nothing and
        answers what the claim would (ALREADY with the code, a refusal, or NEW where it would claim): the
        view spends its budget only for a NEW one."""
        if not COUPON_ID.match(coupon_id or "") or not client:
            return ClaimResult("NO_COUPON")
        keys = CouponKeys(venue)
        now = time.time() if now is None else now
        for _ in range(5):  # a new random code on the (50-bit) astronomically rare collision
            code = new_code()
            status, *rest = self._claim(
                keys=[keys.coupon(coupon_id), keys.holders(coupon_id), keys.code(code), keys.wallet(client)],
                args=[client, code, repr(now), zone, coupon_id, KEEP_AFTER_END_S, self.shopper_ttl_s,
                      int(check_only)],
            )
            status = status.decode()
            if status != "COLLISION":
                if not check_only:  # a claim lost in a failover frees its stock again: the replica has it first
                    confirm(self.db, keys.coupon(coupon_id))
                return ClaimResult(status, rest[0].decode() if rest else None)
        raise RuntimeError("could not find a free coupon code")

    def redeem(self, venue: str, zone: str, code: str, by: str, now: float | None = None,
               nonce: str | None = None) -> RedeemResult:
        """Flip a code issued -> redeemed, exactly once, only for the zone (shop) that issued it. `nonce`: the till
        form's; the same form again answers OK (replayed) with the first time, not "already redeemed"."""
        keys = CouponKeys(venue)
        now = time.time() if now is None else now
        coupon_id = self.db.hget(keys.code(code), "coupon")  # immutable once issued
        if coupon_id is None:
            return RedeemResult("NO_CODE")
        coupon_id = coupon_id.decode()
        once = [keys.till_once(code, nonce)] if nonce else []
        status, *rest = self._redeem(keys=[keys.code(code), keys.coupon(coupon_id), *once],
                                     args=[zone, repr(now), by, ONCE_TTL_S])
        status = status.decode()
        if status == "OK":  # a redemption lost in a failover could be redeemed again (a refusal wrote nothing)
            confirm(self.db, keys.code(code))
        at = float(rest[0]) if rest and rest[0] else None
        return RedeemResult(status, self.issued(venue, code), self.get(venue, coupon_id), at, replayed=len(rest) > 1)

    # ---- another app takes a parking coupon (the vouchers capability, vouchers.py) -------------------

    def hold(self, venue: str, client: str, code: str, ref: str, now: float | None = None) -> int | None:
        """Set the shopper's parking coupon aside for `ref`: its value in fen, or None (see HOLD_LUA)."""
        keys = CouponKeys(venue)
        coupon_id = self.db.hget(keys.code(code), "coupon")  # immutable once issued
        if coupon_id is None or not client:
            return None
        coupon_id = coupon_id.decode()
        now = time.time() if now is None else now
        status, *rest = self._hold(keys=[keys.code(code), keys.coupon(coupon_id), keys.hold(ref)],
                                   args=[client, ref, repr(now), HOLD_KEEP_S, code, coupon_id])
        return int(rest[0]) if status.decode() == "OK" else None

    def end_hold(self, venue: str, ref: str, redeem: bool, now: float | None = None) -> bool:
        """Redeem (the order was paid) or release (it closed unpaid) the code held for `ref`, once."""
        keys = CouponKeys(venue)
        raw = self.db.get(keys.hold(ref))
        if raw is None:
            return False
        held = json.loads(raw)
        now = time.time() if now is None else now
        return bool(self._end_hold(keys=[keys.code(held["code"]), keys.coupon(held["coupon"]), keys.hold(ref)],
                                   args=[ref, "redeem" if redeem else "release", repr(now), "parking"]))

    # ---- demo ---------------------------------------------------------------------------------

    def claim_seed_slot(self, venue: str, zone: str) -> bool:
        """True once per zone: lets seed_demo stay idempotent even when two processes seed at once."""
        keys = CouponKeys(venue)
        if self.db.exists(keys.zone_coupons(zone)):
            return False
        return bool(self.db.set(keys.seeded(zone), "1", nx=True))

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def export_shopper(self, venue: str, client: str) -> dict:
        """The shopper's codes: coupon, zone, state and times."""
        codes = [{"code": i.code, "coupon": i.coupon_id, "zone": i.zone, "state": i.state, "issued_at": i.issued_at,
                  "redeemed_at": i.redeemed_at} for i, _coupon in self.wallet(venue, client)]
        return {"codes": codes} if codes else {}

    def ref_titles(self, venue: str, key: str, ids: set[str]) -> dict[str, tuple[str, str]]:
        """What the privacy centre's page shows for a coupon id its data holds (`coupon`): the coupon's titles
        (Chinese, English)."""
        if key != "coupon":
            return {}
        coupons = {coupon_id: self.get(venue, coupon_id) for coupon_id in ids}
        return {coupon_id: (c.title_zh, c.title_en) for coupon_id, c in coupons.items() if c is not None}

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the wallet goes; each code stays for the shop (a redemption is the shop's record) but no
        longer names the shopper, and the coupon's holder list forgets them."""
        keys = CouponKeys(venue)
        codes = [c.decode() for c in self.db.zrange(keys.wallet(client), 0, -1)]
        changed = 0
        for code in codes:
            coupon_id = self.db.hget(keys.code(code), "coupon")
            if coupon_id is not None:
                changed += int(self.db.hdel(keys.holders(coupon_id.decode()), client))
            changed += blank_field(self.db, keys.code(code), "client", client)
        return changed + int(self.db.delete(keys.wallet(client)))
