"""Activities in Redis: mall events with sign-up and capacity, flash sales with a start time and
limited stock, group buys that succeed when enough shoppers join by a deadline, and outbound links to
partner shops that carry the mall's attribution and count the clicks.

Joining (sign up / buy / join) is ONE Lua script for all three kinds: never over capacity or stock,
one per shopper, never before a sale starts or after sign-up closes. A shopper may give back their place at
a free event before it starts (Activity.leavable, checked and done by LEAVE_LUA, one script too); a sale's unit,
a group buy's place or a priced event's is not given back here.
A group buy's outcome is settled lazily (on the first read after its deadline) by another script that
writes it once; joins check it.
Every key a script touches is in KEYS and carries the venue's hash tag (Redis Cluster safe).

Keys (venue `v`):
  mp:{v}:act:seq                           INCR source of activity ids
  mp:{v}:act:zone:<zone>                   ZSET activity id -> created_at
  mp:{v}:act:i:<id>                        HASH the activity (kind, times, limit, taken, needed, outcome...)
  mp:{v}:act:i:<id>:who                    HASH shopper client -> confirmation code (one per shopper)
  mp:{v}:act:mine:<client>                 ZSET activity id -> joined_at ("my activities")
  mp:{v}:act:link:<link>                   HASH outbound link: url, label_zh/_en, zone, activity, campaign, clicks
  mp:{v}:act:link:<link>:shoppers          HyperLogLog of shoppers who clicked
  mp:{v}:act:link:<link>:days              HASH YYYY-MM-DD -> clicks
  mp:{v}:act:zone:<zone>:links             ZSET link id -> created_at
  mp:{v}:act:i:<id>:pending / :pendexp     a paid sale's open reservations (written by payment.py): a lapsed
                                           one still counts in `taken` until a script gives it back, so reads
                                           subtract them (what the shopper is shown is what they can buy)
  mp:{v}:act:i:<id>:deposits / :orders     a priced group buy's paid deposits and deposit attempts (written
                                           by deposits.py)
  mp:{v}:act:once:new:<zone>:<kind>:<nonce>.<digest>  STRING the activity an owner's create form (its token and
                                           content: portal.apps.once.read_form_once) made, 10 min

Expiry, set by the join script itself (never a separate call that could be lost): an activity's list of who
joined lives `KEEP_AFTER_END_S` (30 days) past the activity's end (an event's end, a sale's close, a group
buy's deadline), long enough for the door, the group's outcome and a dispute; "my activities", reached only
through the shopper's token, lives at least the token's lifetime (`SHOPPER_TOKEN_TTL_S`) after the latest
join and at least as long as each activity it lists. A join only ever moves an expiry later. The activity
itself (the owner's record, with its counts) does not expire.
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import redis

from core.errors import N_, CatalogInputError
from core.settings import Settings
from core.storage import LUA_KEEP, VenueKeys
from lightapps.activities.prices import price_text, read_price
from portal.apps.bilingual import Localized, pick, read_catalog_pair
from portal.apps.erasure import glob_escape, keys_matching
from portal.apps.locale import NoSuchLocalTime, typed_instant
from portal.apps.once import CREATE_ONCE_LUA, create_once
from portal.payments.money import AmountError
from portal.payments.store import PaymentKeys

KINDS = ("event", "sale", "group")
ITEM_ID = re.compile(r"^[0-9]{1,12}$")
LINK_ID = re.compile(r"^[a-z0-9]{10}$")
CAMPAIGN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
TITLE_MAX = 80
TEXT_MAX = 500
SHORT_MAX = 40
URL_MAX = 500
MAX_LIMIT = 100_000
MAX_SPAN_S = 366 * 86400
# A free activity's price as kept: empty, or zero as `parse_activity` keeps it ("0", "¥0.00" -> "¥0"). A price saved
# as free text before prices were checked ("0元") is not among them: not free to leave (Activity.leavable).
FREE_PRICES = ("", price_text(0))
UTM = {"utm_source": "mallportal", "utm_medium": "wifi"}
KEEP_AFTER_END_S = 30 * 86400  # who joined is kept this long after the activity ends (door, outcome, disputes)
SALE_PURPOSE, GROUP_PURPOSE = "sale", "group"  # the payment purposes of payment.py and deposits.py
# A group buy's `deposits` states (deposits.py) while it holds them: taken, not yet refunded (captured: the group
# is full, and its organiser may still cancel it, refunding them; kept for good once it has succeeded)
DEPOSITS_HELD = ("held", "captured", "refunding")
ERASED = "erased:"  # + a paid deposit's order id: the member an erased shopper's deposit stays under


class ActivityKeys(VenueKeys):
    def seq(self) -> str:
        return self.key("act", "seq")

    def zone_items(self, zone: str) -> str:
        return self.key("act", "zone", zone)

    def item(self, item_id: str) -> str:
        return self.key("act", "i", item_id)

    def who(self, item_id: str) -> str:
        return self.key("act", "i", item_id, "who")

    def mine(self, client: str) -> str:
        return self.key("act", "mine", client)

    def link(self, link_id: str) -> str:
        return self.key("act", "link", link_id)

    def link_shoppers(self, link_id: str) -> str:
        return self.key("act", "link", link_id, "shoppers")

    def link_days(self, link_id: str) -> str:
        return self.key("act", "link", link_id, "days")

    def zone_links(self, zone: str) -> str:
        return self.key("act", "zone", zone, "links")

    def pending(self, item_id: str) -> str:
        return self.key("act", "i", item_id, "pending")

    def pending_expiry(self, item_id: str) -> str:
        return self.key("act", "i", item_id, "pendexp")

    def deposits(self, item_id: str) -> str:
        return self.key("act", "i", item_id, "deposits")

    def orders(self, item_id: str) -> str:
        return self.key("act", "i", item_id, "orders")

    def seeded(self, zone: str) -> str:
        return self.key("act", "seeded", zone)

    def new_once(self, zone: str, kind: str, nonce: str) -> str:
        return self.key("act", "once", "new", zone, kind, nonce)


# KEYS: item, who, mine.  ARGV: client, now, item id, confirmation code, keep after the end (s), the shopper
# token's lifetime (s).
JOIN_LUA = LUA_KEEP + """
local f = redis.call('HMGET', KEYS[1], 'kind', 'status', 'starts_at', 'ends_at', 'limit', 'taken', 'needed',
                     'outcome')
if not f[1] then return {'NO_ITEM'} end
local have = redis.call('HGET', KEYS[2], ARGV[1])
if have then return {'ALREADY', have} end
if f[2] ~= 'live' then return {'CLOSED'} end
local now = tonumber(ARGV[2])
local kind = f[1]
if kind == 'event' then
  if now >= tonumber(f[3]) then return {'ENDED'} end
elseif kind == 'sale' then
  if now < tonumber(f[3]) then return {'NOT_STARTED'} end
  if now >= tonumber(f[4]) then return {'ENDED'} end
else
  if f[8] or now >= tonumber(f[4]) then return {'ENDED'} end
end
local limit = tonumber(f[5])
if limit > 0 and tonumber(f[6]) >= limit then return {'FULL'} end
local taken = redis.call('HINCRBY', KEYS[1], 'taken', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
keep_record(KEYS[2], KEYS[3], now, f[4], ARGV[5], ARGV[6])  -- who joined, and mine
if kind == 'group' and taken == tonumber(f[7]) then redis.call('HSET', KEYS[1], 'reached_at', ARGV[2]) end
return {'OK', ARGV[4]}
"""

# A shopper gives back their place at a free event before it starts: the rule of `Activity.leavable`, checked on
# the item as it is now (one script: an owner pricing the event meanwhile is seen). KEYS: item, who, mine.
# ARGV: client, now, item id, then the prices that are free (FREE_PRICES). Returns {'OK'} | {'NOT_JOINED'}
# (nothing to give back: never joined, or left already) | {'NO_ITEM'} | {'NOT_EVENT'} (a sale's unit or a group
# buy's place is not given back here) | {'PRICED'} (a priced event: paid at the counter) | {'STARTED'} (too late).
LEAVE_LUA = """
local f = redis.call('HMGET', KEYS[1], 'kind', 'starts_at', 'taken', 'price')
if not f[1] then return {'NO_ITEM'} end
if f[1] ~= 'event' then return {'NOT_EVENT'} end
local free = false
for i = 4, #ARGV do
  if (f[4] or '') == ARGV[i] then free = true end
end
if not free then return {'PRICED'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'NOT_JOINED'} end
if tonumber(ARGV[2]) >= tonumber(f[2]) then return {'STARTED'} end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[3])
if tonumber(f[3] or '0') > 0 then redis.call('HINCRBY', KEYS[1], 'taken', -1) end
return {'OK'}
"""

# KEYS: item.  ARGV: now.  Writes a group buy's outcome once, when its deadline has passed.
SETTLE_LUA = """
local f = redis.call('HMGET', KEYS[1], 'kind', 'ends_at', 'taken', 'needed', 'outcome')
if f[1] ~= 'group' then return false end
if f[5] then return f[5] end
if tonumber(ARGV[1]) < tonumber(f[2]) then return false end
local outcome = 'failed'
if tonumber(f[3]) >= tonumber(f[4]) then outcome = 'succeeded' end
redis.call('HSET', KEYS[1], 'outcome', outcome, 'settled_at', ARGV[1])
return outcome
"""

# KEYS: item.  ARGV: zone, now.  Stops joins; an unsettled group buy is cancelled.
STOP_LUA = """
local f = redis.call('HMGET', KEYS[1], 'zone', 'kind', 'outcome')
if f[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'stopped')
if f[2] == 'group' and not f[3] then redis.call('HSET', KEYS[1], 'outcome', 'cancelled', 'settled_at', ARGV[2]) end
return 1
"""


# An erased shopper's part in a paid sale or group buy. KEYS item, pending, pendexp, orders, deposits.
# ARGV client, the erased prefix. Returns the entries changed.
# - An open reservation (not paid) is given back, as an order closed unpaid gives it back (payment.py
#   _RELEASE); its order, if paid later, names nobody and is refunded (SaleStock.capture refuses it).
# - The pointer to the deposit attempt goes (its order, if paid later, cannot join: refunded at once).
# - A paid deposit is money held: it stays a member (the group's count, the refund sweep's list) under
#   `erased:<order id>`, as a sold seat or a paid order stays with its shopper blanked.
ERASE_PAID_LUA = """
local n = 0
if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 then
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'taken', -1) end
  n = n + 1
end
n = n + redis.call('ZREM', KEYS[3], ARGV[1]) + redis.call('HDEL', KEYS[4], ARGV[1])
local order = redis.call('HGET', KEYS[5], ARGV[1])
if order then
  redis.call('HDEL', KEYS[5], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[2] .. order, order)
  n = n + 1
end
return n
"""


# Erasure keeps a paid sale's unit or a paid group deposit for her under a keeper id (ActivityStore.hand_over).
# KEYS who, the shopper's "my activities", the keeper's, deposits. ARGV shopper, keeper, item id, now (s).
# Her confirmation code (and her paid deposit, if any) name the keeper instead; 1 if she held a code.
HAND_OVER_LUA = """
local code = redis.call('HGET', KEYS[1], ARGV[1])
if not code then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], code)
local at = redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], at or ARGV[4], ARGV[3])
local lasts = redis.call('TTL', KEYS[1])
if lasts > 0 and redis.call('TTL', KEYS[3]) < lasts then redis.call('EXPIRE', KEYS[3], lasts) end
local order = redis.call('HGET', KEYS[4], ARGV[1])
if order then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[2], order)
end
return 1
"""

NO_SUCH_TIME = N_("%(label)s: %(time)s does not exist on %(day)s in %(zone)s (the clocks go forward).")
NOT_THIS_ZONES = N_("%(label)s must be one of this zone's activities.")  # a link's activity (also the console's)


class ActivityInputError(CatalogInputError):
    """Bad owner input: `field` names it. `template` is the catalog message (%(label)s stands for the field)
    and `params` its values: the console shows `_(template, label=<the field's label>, **params)`; `message`
    is the English text, naming the field as sent."""


def _pair(form: Any, name: str, max_length: int, required: str = "") -> dict[str, str]:
    """`read_pair` (one language is enough) with catalog messages; `required`: the message when both are empty."""
    return read_catalog_pair(form, name, max_length, ActivityInputError, required)


def _text(form: Any, name: str, max_length: int, required: bool = False) -> str:
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise ActivityInputError(name, N_("%(label)s is required."))
    if len(value) > max_length:
        raise ActivityInputError(name, N_("%(label)s must be at most %(n)s characters."), n=max_length)
    return value


def _price(form: Any, name: str) -> str:
    """A price as `price_text` keeps it ("30元", "RMB 30" -> "¥30"), "" when empty: whether joining takes money
    is decided from it (prices.py), so text it cannot read ("30/人") is refused here, not saved as shown."""
    raw = _text(form, name, SHORT_MAX)
    if not raw:
        return ""
    try:
        return price_text(read_price(raw))
    except AmountError as exc:  # the platform's message (portal/payments/money.py), naming this box
        raise ActivityInputError(name, exc.template, **exc.params) from None


def _when(form: Any, name: str, required: bool = True, tz: tzinfo | None = None) -> float | None:
    """A date and time 'YYYY-MM-DDTHH:MM' (what <input type=datetime-local> sends) on the mall's clock (`tz`;
    None: the server's) -> epoch s."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        if required:
            raise ActivityInputError(name, N_("%(label)s is required."))
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?", raw):
        raise ActivityInputError(name, N_("%(label)s must be a date and time (YYYY-MM-DD HH:MM)."))
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T"))
        return typed_instant(moment, tz) if tz else moment.astimezone().timestamp()
    except NoSuchLocalTime as gap:
        raise ActivityInputError(name, NO_SUCH_TIME, **gap.params) from None
    except ValueError:
        raise ActivityInputError(name, N_("%(label)s must be a date and time (YYYY-MM-DD HH:MM).")) from None


def _count(form: Any, name: str, low: int, high: int, required: bool = True) -> int:
    raw = str(form.get(name) or "").strip()
    if not raw:
        if required:
            raise ActivityInputError(name, N_("%(label)s is required."))
        return 0
    if not re.fullmatch(r"\d{1,9}", raw):
        raise ActivityInputError(name, N_("%(label)s must be a whole number."))
    value = int(raw)
    if not low <= value <= high:
        raise ActivityInputError(name, N_("%(label)s must be between %(low)s and %(high)s."), low=low, high=high)
    return value


def parse_activity(kind: str, form: Any, now: float | None = None, tz: tzinfo | None = None) -> dict[str, Any]:
    """Owner form -> the fields of a new activity of `kind`; ActivityInputError naming the first bad field.
    Times typed are the mall's wall-clock times (`tz`, the venue's time zone)."""
    now = time.time() if now is None else now
    if kind not in KINDS:
        raise ActivityInputError("kind", N_("%(label)s must be one of: %(choices)s."), choices=", ".join(KINDS))
    fields: dict[str, Any] = {
        "kind": kind,
        **_pair(form, "title", TITLE_MAX, required=N_("A title is required, in Chinese or English (or both).")),
        **_pair(form, "description", TEXT_MAX),
        **_pair(form, "place", TITLE_MAX),
        "price": _price(form, "price"),
        "was_price": _price(form, "was_price"),
        "needed": 0,
    }
    if kind == "group":
        fields["starts_at"] = now
        fields["ends_at"] = _when(form, "ends_at", tz=tz)
        if fields["ends_at"] <= now:
            raise ActivityInputError("ends_at", N_("%(label)s must be in the future."))
        fields["needed"] = _count(form, "needed", 2, 10_000)
        fields["limit"] = _count(form, "limit", 0, MAX_LIMIT, required=False)
        if fields["limit"] and fields["limit"] < fields["needed"]:
            raise ActivityInputError("limit", N_("%(label)s must be at least the number of people needed."))
    else:
        fields["starts_at"] = _when(form, "starts_at", tz=tz)
        fields["ends_at"] = _when(form, "ends_at", tz=tz)
        if fields["ends_at"] <= fields["starts_at"]:
            raise ActivityInputError("ends_at", N_("%(label)s must be after the start."))
        if kind == "event" and fields["starts_at"] <= now:
            raise ActivityInputError("starts_at", N_("%(label)s must be in the future."))
        if fields["ends_at"] <= now:
            raise ActivityInputError("ends_at", N_("%(label)s is in the past."))
        name = "capacity" if kind == "event" else "stock"
        fields["limit"] = _count(form, name, 1, MAX_LIMIT)
    if fields["ends_at"] - now > MAX_SPAN_S:
        raise ActivityInputError("ends_at", N_("%(label)s must be within a year from now."))
    return fields


def parse_link(form: Any) -> dict[str, str]:
    """Owner form -> a new outbound link (label, url, campaign, activity); ActivityInputError if bad."""
    labels = _pair(form, "label", TITLE_MAX, required=N_("A label is required, in Chinese or English (or both)."))
    url = check_target_url(str(form.get("url") or ""))
    campaign = str(form.get("campaign") or "").strip().lower()
    if campaign and not CAMPAIGN.match(campaign):
        raise ActivityInputError("campaign", N_("%(label)s may have lower-case letters, digits, - and _ only "
                                                "(at most 60)."))
    activity = str(form.get("activity") or "").strip()
    if activity and not ITEM_ID.match(activity):
        raise ActivityInputError("activity", NOT_THIS_ZONES)
    return {**labels, "url": url, "campaign": campaign, "activity": activity}


def check_target_url(raw: str) -> str:
    """An absolute http(s) URL with a host, no credentials, no spaces or control characters."""
    url = raw.strip()
    if not url:
        raise ActivityInputError("url", N_("%(label)s is required."))
    if len(url) > URL_MAX:
        raise ActivityInputError("url", N_("%(label)s must be at most %(n)s characters."), n=URL_MAX)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or "\\" in url:
        raise ActivityInputError("url", N_("%(label)s must not contain spaces, backslashes or control characters."))
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ActivityInputError("url", N_("%(label)s is not a valid web address.")) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ActivityInputError("url", N_("%(label)s must start with https:// (or http://) and name a host."))
    if parts.username is not None or parts.password is not None:
        raise ActivityInputError("url", N_("%(label)s must not contain a user name or password."))
    return url


def slug(text: str) -> str:
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out[:40].strip("-")


def attributed_url(url: str, campaign: str) -> str:
    """The partner URL with the mall's attribution (utm_source/medium/campaign) set server side; the
    partner's own query parameters are kept, any utm_source/medium/campaign replaced."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("utm_source", "utm_medium", "utm_campaign")]
    query += [*UTM.items(), ("utm_campaign", campaign)]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(query),
                                    parts.fragment))


def new_confirmation() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class Activity:
    id: str
    kind: str  # event | sale | group
    zone: str
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    place_en: str
    place_zh: str
    price: str
    was_price: str
    starts_at: float
    ends_at: float
    limit: int  # capacity / stock / most members (0: no cap, group buys only)
    taken: int
    needed: int  # group buys: members needed to succeed
    status: str  # live | stopped
    outcome: str  # group buys once settled: succeeded | failed | cancelled
    reached_at: float | None
    created_at: float

    def title(self, zh: bool) -> Localized:
        return pick(self.title_zh, self.title_en, zh)

    def description(self, zh: bool) -> Localized:
        return pick(self.description_zh, self.description_en, zh)

    def place(self, zh: bool) -> Localized:
        return pick(self.place_zh, self.place_en, zh)

    @property
    def left(self) -> int | None:
        return max(self.limit - self.taken, 0) if self.limit else None

    def leavable(self, now: float) -> bool:
        """Whether a shopper who signed up may cancel it here (the one rule: the item page's and "my
        activities"' button, and LEAVE_LUA, which checks it again on the item as it is when the shopper asks): a
        free event (its price as kept is empty or zero, FREE_PRICES) that has not started. A sale's unit, a group
        buy's place and a priced event (paid at the counter) are for the organiser."""
        return self.kind == "event" and self.price in FREE_PRICES and now < self.starts_at

    def state(self, now: float) -> str:
        """What a shopper sees: upcoming | open | full | closed | underway | ended | succeeded | failed | cancelled.
        An event's sign-up closes when it starts: from then until it ends it is `underway` (still listed), and
        `ended` only after its end."""
        if self.kind == "group":
            if self.outcome:
                return self.outcome
            if now >= self.ends_at:
                return "succeeded" if self.taken >= self.needed else "failed"
        if self.status != "live":
            return "closed"
        if self.kind == "event" and now >= self.starts_at:
            return "ended" if now >= self.ends_at else "underway"
        if self.kind == "sale":
            if now < self.starts_at:
                return "upcoming"
            if now >= self.ends_at:
                return "ended"
        if self.limit and self.taken >= self.limit:
            return "full"
        return "open"

    @classmethod
    def from_hash(cls, item_id: str, data: dict[bytes, bytes], lapsed: int = 0) -> Activity:
        """`lapsed`: a paid sale's reservations whose time ran out but that no script has given back yet
        (payment.py purges them on the next Buy now): their units are free, so they are not counted as taken."""
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(
            id=item_id, kind=s["kind"], zone=s["zone"], title_en=s.get("title_en", ""), title_zh=s.get("title_zh", ""),
            # before both languages were kept, description and place were one (English) field
            description_en=s.get("description_en", s.get("description", "")),
            description_zh=s.get("description_zh", ""), place_en=s.get("place_en", s.get("place", "")),
            place_zh=s.get("place_zh", ""), price=s.get("price", ""),
            was_price=s.get("was_price", ""), starts_at=float(s["starts_at"]), ends_at=float(s["ends_at"]),
            limit=int(s.get("limit", 0)), taken=max(int(s.get("taken", 0)) - lapsed, 0), needed=int(s.get("needed", 0)),
            status=s.get("status", "live"), outcome=s.get("outcome", ""),
            reached_at=float(s["reached_at"]) if s.get("reached_at") else None,
            created_at=float(s.get("created_at", 0)),
        )


@dataclass(frozen=True)
class Link:
    id: str
    zone: str
    label_en: str
    label_zh: str
    url: str
    campaign: str
    activity: str
    clicks: int
    shoppers: int = 0

    def label(self, zh: bool) -> Localized:
        return pick(self.label_zh, self.label_en, zh)

    @classmethod
    def from_hash(cls, link_id: str, data: dict[bytes, bytes], shoppers: int = 0) -> Link:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(id=link_id, zone=s["zone"], label_en=s.get("label_en", s.get("label", "")),
                   label_zh=s.get("label_zh", ""), url=s["url"], campaign=s["campaign"],
                   activity=s.get("activity", ""), clicks=int(s.get("clicks", 0)), shoppers=shoppers)


@dataclass(frozen=True)
class JoinResult:
    status: str  # OK | ALREADY | NO_ITEM | CLOSED | NOT_STARTED | ENDED | FULL
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "OK"


class ActivityStore:
    @classmethod
    def from_services(cls, svc: Any) -> ActivityStore:
        """The platform builds the app's store with this (portal/apps/platform.py)."""
        return cls(svc.db, shopper_ttl_s=svc.settings.shopper_token_ttl_s)

    def __init__(self, db: redis.Redis, shopper_ttl_s: int = Settings.shopper_token_ttl_s) -> None:
        """`shopper_ttl_s`: how long a shopper token lives after its last use (SHOPPER_TOKEN_TTL_S): "my
        activities", reached only through that token, is kept at least this long after each join."""
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self._join = db.register_script(JOIN_LUA)
        self._settle = db.register_script(SETTLE_LUA)
        self._stop = db.register_script(STOP_LUA)
        self._erase_paid = db.register_script(ERASE_PAID_LUA)
        self._leave = db.register_script(LEAVE_LUA)
        self._create = db.register_script(CREATE_ONCE_LUA)

    # ---- owners -------------------------------------------------------------------------------

    def create(self, venue: str, zone: str, fields: dict[str, Any], created_by: str = "",
               now: float | None = None) -> Activity:
        return self.create_by_form(venue, zone, fields, None, created_by, now)[0]

    def create_by_form(self, venue: str, zone: str, fields: dict[str, Any], once: str | None, created_by: str = "",
                       now: float | None = None) -> tuple[Activity, bool]:
        """`create` for the create form whose one-time record is named `once` (portal.apps.once.read_form_once: its
        token and content): the same form sent again (a double tap) makes nothing and gets the activity its first
        sending made, with True."""
        keys = ActivityKeys(venue)
        now = time.time() if now is None else now
        item_id = str(self.db.incr(keys.seq()))
        mapping = {
            "kind": fields["kind"], "zone": zone,
            **{f"{name}_{lang}": fields.get(f"{name}_{lang}", "") for name in ("title", "description", "place")
               for lang in ("zh", "en")},
            "price": fields.get("price", ""),
            "was_price": fields.get("was_price", ""),
            "starts_at": repr(float(fields.get("starts_at") or now)), "ends_at": repr(float(fields["ends_at"])),
            "limit": int(fields.get("limit") or 0), "taken": 0, "needed": int(fields.get("needed") or 0),
            "status": "live", "created_at": repr(now), "created_by": created_by,
        }
        once_key = keys.new_once(zone, fields["kind"], once) if once else None
        item_id, replayed = create_once(self._create, keys.item(item_id), keys.zone_items(zone), once_key, item_id, now,
                                        mapping)
        return self.get(venue, item_id), replayed

    def stop(self, venue: str, zone: str, item_id: str, now: float | None = None) -> bool:
        if not ITEM_ID.match(item_id or ""):
            return False
        now = time.time() if now is None else now
        return bool(self._stop(keys=[ActivityKeys(venue).item(item_id)], args=[zone, repr(now)]))

    def create_link(self, venue: str, zone: str, fields: dict[str, str], now: float | None = None) -> Link:
        keys = ActivityKeys(venue)
        now = time.time() if now is None else now
        campaign = fields.get("campaign") or ""
        if not campaign:
            item = self.get(venue, fields["activity"]) if fields.get("activity") else None
            label = fields.get("label_en") or fields.get("label_zh", "")
            campaign = f"{slug(item.title_en) or item.kind}-{item.id}" if item else f"{zone}-{slug(label)}"
            campaign = campaign.strip("-")[:60] or zone
        for _ in range(5):
            link_id = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
            created = self.db.hsetnx(keys.link(link_id), "url", fields["url"])
            if created:
                break
        else:  # pragma: no cover - 50 random bits colliding five times
            raise RuntimeError("could not find a free link id")
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(keys.link(link_id), mapping={
            "zone": zone, "label_en": fields.get("label_en", ""), "label_zh": fields.get("label_zh", ""),
            "campaign": campaign, "activity": fields.get("activity", ""),
            "clicks": 0, "created_at": repr(now),
        })
        pipe.zadd(keys.zone_links(zone), {link_id: now})
        pipe.execute()
        return self.link(venue, link_id)

    # ---- reading ------------------------------------------------------------------------------

    def get(self, venue: str, item_id: str, now: float | None = None) -> Activity | None:
        if not ITEM_ID.match(item_id or ""):
            return None
        now = time.time() if now is None else now
        return next(iter(self._read(venue, [item_id], now)), None)

    def _read(self, venue: str, ids: list[str], now: float) -> list[Activity]:
        """The activities (missing ones left out), each with its lapsed sale reservations counted as free. One
        round trip, not atomic: a reservation made or given back between an item's two reads puts that one
        page's count one off, never what Buy now gets (its script decides)."""
        keys = ActivityKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for item_id in ids:
            pipe.hgetall(keys.item(item_id))
            pipe.zcount(keys.pending_expiry(item_id), "-inf", int(now * 1000))  # as payment.py's purge: <= now
        found = pipe.execute()
        return [self._settled(venue, Activity.from_hash(i, d, lapsed), now)
                for i, d, lapsed in zip(ids, found[::2], found[1::2], strict=True) if d]

    def _settled(self, venue: str, item: Activity, now: float | None) -> Activity:
        """A group buy past its deadline gets its outcome written (once) on the first read."""
        now = time.time() if now is None else now
        if item.kind != "group" or item.outcome or now < item.ends_at:
            return item
        self._settle(keys=[ActivityKeys(venue).item(item.id)], args=[repr(now)])
        return Activity.from_hash(item.id, self.db.hgetall(ActivityKeys(venue).item(item.id)))

    def for_zone(self, venue: str, zone: str, now: float | None = None) -> list[Activity]:
        """The zone's activities, newest first."""
        ids = [i.decode() for i in self.db.zrevrange(ActivityKeys(venue).zone_items(zone), 0, 499)]
        return self._read(venue, ids, time.time() if now is None else now)

    def held_by_shoppers(self, venue: str, zone: str,
                         now: float | None = None) -> dict[str, list[tuple[Activity, int]]]:
        """What the zone's shoppers hold that only its activity pages show them (the app's `in_use` hook), each
        activity with its count: "paying", a sale's units reserved and waiting for their payment; "signed_up", an
        event's sign-ups until it ends; "deposits", a group buy's paid deposits until they are refunded or kept by
        the group going ahead (deposits.py: the item's `deposits` state). One round trip after the zone's read."""
        now = time.time() if now is None else now
        keys = ActivityKeys(venue)
        asked: list[tuple[str, Activity]] = []
        pipe = self.db.pipeline(transaction=False)
        for item in self.for_zone(venue, zone, now):
            if item.kind == "sale":
                asked.append(("paying", item))
                pipe.zcount(keys.pending_expiry(item.id), f"({int(now * 1000)}", "+inf")
            elif item.kind == "event" and now < item.ends_at:
                asked.append(("signed_up", item))
                pipe.hlen(keys.who(item.id))
            elif item.kind == "group" and item.outcome != "succeeded":
                asked.append(("deposits", item))
                pipe.hlen(keys.deposits(item.id))
                pipe.hget(keys.item(item.id), "deposits")
        found = iter(pipe.execute() if asked else [])
        held: dict[str, list[tuple[Activity, int]]] = {"paying": [], "signed_up": [], "deposits": []}
        for what, item in asked:
            count = int(next(found))
            if what == "deposits" and (next(found) or b"").decode() not in DEPOSITS_HELD:
                continue
            if count:
                held[what].append((item, count))
        return held

    def has_media_place(self, venue: str, zone: str, kind: str, ref: str) -> bool:
        """An activity image's place: an activity of the zone (portal/media/places.py)."""
        return kind == "event" and self.db.zscore(ActivityKeys(venue).zone_items(zone), ref) is not None

    def joined(self, venue: str, client: str, item_ids: list[str]) -> dict[str, str]:
        """activity id -> this shopper's confirmation code, for the activities they joined."""
        keys = ActivityKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        for item_id in item_ids:
            pipe.hget(keys.who(item_id), client)
        return {i: c.decode() for i, c in zip(item_ids, pipe.execute(), strict=True) if c}

    def members(self, venue: str, item_id: str) -> list[str]:
        """The shoppers who joined (a group buy's members, to tell them how it went)."""
        return sorted(m.decode() for m in self.db.hkeys(ActivityKeys(venue).who(item_id)))

    def mine(self, venue: str, client: str, now: float | None = None) -> list[tuple[Activity, str]]:
        keys = ActivityKeys(venue)
        ids = [i.decode() for i in self.db.zrevrange(keys.mine(client), 0, 199)]
        codes = self.joined(venue, client, ids)
        items = [self.get(venue, i, now) for i in ids]
        return [(item, codes.get(item.id, "")) for item in items if item is not None]

    def link(self, venue: str, link_id: str) -> Link | None:
        if not LINK_ID.match(link_id or ""):
            return None
        keys = ActivityKeys(venue)
        data = self.db.hgetall(keys.link(link_id))
        if not data or b"zone" not in data:
            return None
        return Link.from_hash(link_id, data, int(self.db.pfcount(keys.link_shoppers(link_id))))

    def links_for_zone(self, venue: str, zone: str) -> list[Link]:
        keys = ActivityKeys(venue)
        ids = [i.decode() for i in self.db.zrevrange(keys.zone_links(zone), 0, 199)]
        return [link for link in (self.link(venue, i) for i in ids) if link is not None]

    # ---- shoppers -----------------------------------------------------------------------------

    def join(self, venue: str, item_id: str, client: str, now: float | None = None) -> JoinResult:
        """Sign up / buy / join for this shopper: one Lua script, so never over the limit, never twice."""
        if not ITEM_ID.match(item_id or "") or not client:
            return JoinResult("NO_ITEM")
        keys = ActivityKeys(venue)
        now = time.time() if now is None else now
        status, *rest = self._join(keys=[keys.item(item_id), keys.who(item_id), keys.mine(client)],
                                   args=[client, repr(now), item_id, new_confirmation(), KEEP_AFTER_END_S,
                                         self.shopper_ttl_s])
        return JoinResult(status.decode(), rest[0].decode() if rest else None)

    def leave(self, venue: str, item_id: str, client: str, now: float | None = None) -> str:
        """The shopper gives back their place at a free event before it starts (`Activity.leavable`, checked
        and done by LEAVE_LUA in one script: off the list of who joined, the place free again, off "my
        activities"): OK, or NOT_JOINED (nothing to give back: asking twice changes nothing), NO_ITEM, NOT_EVENT
        (sales and group buys are not given back here), PRICED (a priced event), STARTED."""
        if not ITEM_ID.match(item_id or "") or not client:
            return "NO_ITEM"
        keys = ActivityKeys(venue)
        now = time.time() if now is None else now
        status, *_rest = self._leave(keys=[keys.item(item_id), keys.who(item_id), keys.mine(client)],
                                     args=[client, repr(now), item_id, *FREE_PRICES])
        return status.decode()

    def click(self, venue: str, link_id: str, client: str | None, now: float | None = None,
              tz: tzinfo | None = None) -> Link | None:
        """Count one click on an outbound link (and the shopper, once, in its unique count); per day in
        the mall's time zone `tz` (None: the server's)."""
        link = self.link(venue, link_id)
        if link is None:
            return None
        keys = ActivityKeys(venue)
        now = time.time() if now is None else now
        pipe = self.db.pipeline(transaction=True)
        pipe.hincrby(keys.link(link_id), "clicks", 1)
        pipe.hincrby(keys.link_days(link_id), datetime.fromtimestamp(now, tz).date().isoformat(), 1)
        if client:
            pipe.pfadd(keys.link_shoppers(link_id), client)
        pipe.execute()
        return link

    # ---- demo ---------------------------------------------------------------------------------

    def claim_seed_slot(self, venue: str, zone: str) -> bool:
        keys = ActivityKeys(venue)
        if self.db.exists(keys.zone_items(zone)):
            return False
        return bool(self.db.set(keys.seeded(zone), "1", nx=True))

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def export_shopper(self, venue: str, client: str) -> dict:
        """The activities the shopper joined, with their confirmation codes."""
        keys = ActivityKeys(venue)
        ids = [i.decode() for i in self.db.zrange(keys.mine(client), 0, -1)]
        codes = self.joined(venue, client, ids)
        joined = [{"activity": i, "code": codes.get(i, "")} for i in ids]
        return {"joined": joined} if joined else {}

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the shopper's places (the activity's head count stays), "my activities", and their part in
        paid sales and group buys (ERASE_PAID_LUA: a paid deposit stays, under a name that is nobody's). A
        partner link's count of distinct shoppers is a HyperLogLog: it holds no id to forget."""
        keys = ActivityKeys(venue)
        ids = [i.decode() for i in self.db.zrange(keys.mine(client), 0, -1)]
        pipe = self.db.pipeline(transaction=False)
        for item_id in ids:
            pipe.hdel(keys.who(item_id), client)
        pipe.delete(keys.mine(client))
        changed = sum(int(n) for n in pipe.execute())
        for item_id in self._paid_items(venue):
            changed += int(self._erase_paid(keys=[keys.item(item_id), keys.pending(item_id),
                                                  keys.pending_expiry(item_id), keys.orders(item_id),
                                                  keys.deposits(item_id)], args=[client, ERASED]))
        return changed + self._forget_order_keys(venue, client)

    def hand_over(self, venue: str, client: str, keeper: str, item_ids: list[str]) -> int:
        """Erasure keeps these paid places for her (portal/apps/paid.py): her confirmation code for each (and her
        paid deposit) names `keeper` instead, in the keeper's "my activities" as long as the code is kept; the rest
        of her goes with `forget_shopper`. Returns how many were handed over."""
        if not client or not keeper:
            return 0
        keys, script = ActivityKeys(venue), self.db.register_script(HAND_OVER_LUA)
        return sum(int(script(keys=[keys.who(item_id), keys.mine(client), keys.mine(keeper), keys.deposits(item_id)],
                              args=[client, keeper, item_id, repr(time.time())]))
                   for item_id in item_ids if ITEM_ID.match(item_id))

    def ref_titles(self, venue: str, key: str, ids: set[str]) -> dict[str, tuple[str, str]]:
        """What the privacy centre's page shows for an activity id its data holds (`activity`, an event's `item`):
        the activity's titles (Chinese, English)."""
        if key not in ("activity", "item"):
            return {}
        items = self._read(venue, sorted(i for i in ids if ITEM_ID.match(i)), time.time())
        return {item.id: (item.title_zh, item.title_en) for item in items}

    def _paid_items(self, venue: str) -> set[str]:
        """The items with reservations, deposit attempts or deposits: found by a scan, not through "my
        activities", which lapses while a deposit never does and a lapsed reservation waits for a purge."""
        keys, found = ActivityKeys(venue), set()
        for key in keys_matching(self.db, keys.item("*") + ":[pdo]*"):
            item_id, _sep, kind = key.removeprefix(keys.item("")).partition(":")
            if ITEM_ID.match(item_id) and kind in ("pending", "pendexp", "orders", "deposits"):
                found.add(item_id)
        return found

    def _forget_order_keys(self, venue: str, client: str) -> int:
        """The idempotency keys of the shopper's sale and deposit orders (`sale:<id>:<client>:<token>`,
        `group:<id>:<client>:<attempt>`) name them: they go (the reservation and the attempt they keyed are
        gone, so nothing asks for them again); the orders stay, the payment service's."""
        idem = PaymentKeys(venue).idem("")
        doomed = []
        for key in keys_matching(self.db, PaymentKeys(venue).idem(f"*:{glob_escape(client)}:*")):
            purpose, item_id, rest = (key.removeprefix(idem).split(":", 2) + ["", ""])[:3]
            if purpose in (SALE_PURPOSE, GROUP_PURPOSE) and ITEM_ID.match(item_id) and rest.startswith(client + ":"):
                doomed.append(key)
        return int(self.db.delete(*doomed)) if doomed else 0
