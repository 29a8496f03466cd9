"""Membership in Redis: members bound to a phone number and to the shoppers (devices) that verified
it; points and tier; a ledger per member; POS purchases and refunds that count exactly once.

Every state change is ONE Lua script (check and write in one step); every key a script touches is
passed in KEYS and carries the venue's hash tag, so the scripts stay legal on Redis Cluster.

A phone number never names a key and is never stored in the clear: `<phone#>` below is its keyed hash
(PHONE_KEY, core.security.PhoneVault), and where the number must come back (to send a code again, to show
it masked on the card) it is sealed with AES-GCM. How many codes a number, a shopper, a client IP and the
whole venue may ask for is the platform's budget "membership.sms" (portal/apps/budgets.py).

Keys (venue `v`; membership is mall-wide):
  mp:{v}:member:seq                        INCR source of member numbers (100001, 100002, ...)
  mp:{v}:member:count                      members signed up
  mp:{v}:member:m:<id>                     HASH phone (sealed), secret, points, lifetime, created_at, last_client
  mp:{v}:member:m:<id>:ledger              LIST of JSON events, newest first (join, earn, reverse; grant,
                                           redeem, restore with the `kind` of the app that asked: the points
                                           history words it in the page's language, views.ledger_text)
  mp:{v}:member:phone:<phone#>             STRING member id
  mp:{v}:member:client:<client>            STRING member id (this shopper/device is that member)
  mp:{v}:member:otp:<phone#>               HASH hash of the sent code, client, sent_at, attempts (TTL 5 min);
                                           done once the code was right (then TTL VERIFIED_KEEP_S)
  mp:{v}:member:pending:<client>           STRING the phone (sealed) this shopper is verifying (TTL 5 min)
  mp:{v}:member:rcpt:<store>:<receipt>     HASH a POS receipt: member, amount, points, state, refunded (fen,
                                           points), whole_points (what a refund of all of it answers once it is
                                           refunded), times (TTL RECEIPT_KEEP_S from the purchase; erasure blanks
                                           its member). A till's store and number are kept folded (`folded`)
  mp:{v}:member:folded-since               STRING when the venue's receipts were first folded (FOLD_WINDOW_S)
  mp:{v}:member:folded-stores              STRING set for FOLD_MARK_S ("done" for good after FOLD_WINDOW_S) once
                                           the receipts an earlier release kept
                                           under a till's store as sent ("Pixel") were moved to the store folded
                                           (fold_receipt_stores; they are looked for again once it lapses)
  mp:{v}:member:idem:<op>:<key>            STRING the receipt key an Idempotency-Key was used for (a refund's:
                                           with the fen asked and the points taken back); op `paid-refund`: a
                                           refund the payment service told (payment.py), keyed by the refund
  mp:{v}:member:remainder:<store>:<rcpt>   STRING the receipt that stands for what remained paid of a payment's
                                           receipt <rcpt> the old scheme refunded part of (it reversed <rcpt>
                                           whole and posted `<rcpt>.<fen refunded>`); TTL RECEIPT_KEEP_S
  mp:{v}:member:codefails:<id>             HASH caller -> wrong member codes that caller (a console account, an
                                           API token) typed/scanned for this member (TTL 10 min, renewed)
  mp:{v}:member:callerfails:<kind>:<name>  HASH member number -> wrong member codes one caller typed/scanned for it
                                           (numbers not in use too; TTL 10 min, renewed)
  mp:{v}:member:wx:<openid>                STRING member id (the member's WeChat identity in the mall's app:
                                           WeChat Pay 智慧商圈 notifications name members by it)
  mp:{v}:member:wxtxn:<transaction id>     HASH refunded (fen) of one 智慧商圈 purchase (old scheme only, read
                                           now: it names the remainder receipt the old scheme posted)
  mp:{v}:member:wxrefund:<refund id>       STRING what that purchase had refunded before this refund (old scheme
                                           only, as wxtxn)
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any, NamedTuple

import redis

from core.errors import N_, CatalogInputError
from core.replication import confirm
from core.security import PhoneVault, keyed_hash
from core.storage import VenueKeys
from lightapps.membership.codes import MEMBER_ID, hash_code, judge_code, new_member_secret, new_verification_code
from portal.apps.capabilities import Granted
from portal.apps.erasure import blank_field, glob_escape, keys_matching
from portal.payments.money import AmountError, read_amount

MEMBER_BASE = 100_000
CODE_TTL_S = 300  # a verification code is valid 5 minutes
MAX_ATTEMPTS = 5  # wrong codes before that code is dead
# A right code stays right this long for the shopper who typed it: a double tap on Verify, or a POST sent again,
# binds her again (the same member) instead of answering "expired".
VERIFIED_KEEP_S = 60
RESEND_COOLDOWN_S = 30
BINDING_TTL_S = 365 * 86400
IDEM_TTL_S = 30 * 86400
# Wrong rotating member codes, counted per caller (`Caller`: a console account, an API token) and member number.
# CALLER_MEMBER_MAX_FAILURES of them for one number stop that caller for that number only (a prankster's fake
# card, a cashier's typos: the till still serves every other member); wrong codes for CALLER_MAX_MEMBERS numbers
# stop it for every other number (a guesser spraying members: at most the product of the two guesses in all).
# Either refusal judges nothing and lasts until 10 minutes after the caller's last counted wrong code. A console
# account types codes at one till; a POS token scans them for every till of its system: it gets more numbers. A
# code the member was shown in the hour before is "expired" (codes.judge_code) and counts for nothing.
CALLER_MEMBER_MAX_FAILURES = 3
CALLER_MAX_MEMBERS = {"account": 5, "token": 15}
# The brake on guessing one member's code from several callers at once: the member is refused to every caller
# for 10 minutes once MAX_CODE_FAILURES wrong codes for it came from at least BRAKE_CALLERS callers. Never one
# caller's doing: a till that types wrong codes must not lock the member's card at every other till.
MAX_CODE_FAILURES = 10
BRAKE_CALLERS = 3
CODE_FAILURE_WINDOW_S = 600
POINTS_PER_UNIT = 1  # one point per whole currency unit spent
MAX_AMOUNT = Decimal("1000000")
# A purchase a till records by hand in the owner console (no POS): at most this much, and the points so
# recorded are counted per account and per zone and day (the "membership.manual" budgets, core/settings.py).
MANUAL_MAX_AMOUNT = Decimal("5000")
# A receipt is kept this long after its purchase, and refunds of it are accepted for as long: a year of
# returns and late refunds, with a margin (as the payment service's orders). After it a refund answers
# NO_RECEIPT, and the same receipt number posted again would count as a new purchase.
RECEIPT_KEEP_S = 400 * 86400
# A refund of all of a receipt refunded before its answer was kept (WHOLE_BEFORE_LUA) looks this far back in its
# member's ledger for the reversal a till's retry repeats: retries come soon after, and the script stays short.
LEDGER_LOOK = 100
RECEIPT_ID = re.compile(r"^[A-Za-z0-9._/-]{1,64}$")
STORE_ID = re.compile(r"^[A-Za-z0-9_-]{1,48}$")  # a zone's or shop's id (fingerprints.model.ID_RE), any case
DEFAULT_STORE = "mall"  # the store of a till's receipt that names none
# How long a venue's mark "receipts are kept under folded stores" holds (fold_receipt_stores). Not for good: during
# an upgrade a process of the release before, still running, keeps a till's receipt under its store as sent
# ("Pixel") after the first fold, and the fold must run again to move it (until then a refund naming "pixel" and a
# retried purchase miss it). Only within FOLD_WINDOW_S of the venue's first fold (an upgrade's window): then the mark
# is kept for good ("done"), and till calls scan nothing again.
FOLD_MARK_S = 3600
FOLD_WINDOW_S = 86400
FOLDS_DONE = b"done"

# (name, English, Chinese, lifetime points from which it applies), lowest first.
TIERS = (
    ("silver", "Silver", "银卡", 0),
    ("gold", "Gold", "金卡", 1000),
    ("platinum", "Platinum", "白金卡", 5000),
)


def event_kind(reference: str) -> str:
    """The app a grant or redemption reference names ("games:<code>", "parking:foot:..."): the ledger keeps it
    so the points history can word the line in the reader's language (an app's own note is English)."""
    kind = reference.split(":", 1)[0]
    return kind if kind.isascii() and kind.isalnum() and len(kind) <= 20 else ""


def tier_for(lifetime: int) -> tuple[str, str, str, int]:
    chosen = TIERS[0]
    for tier in TIERS:
        if lifetime >= tier[3]:
            chosen = tier
    return chosen


def next_tier(lifetime: int) -> tuple[tuple[str, str, str, int], int] | None:
    """(the next tier, points still needed), or None at the top."""
    for tier in TIERS:
        if lifetime < tier[3]:
            return tier, tier[3] - lifetime
    return None


class MemberKeys(VenueKeys):
    def seq(self) -> str:
        return self.key("member", "seq")

    def count(self) -> str:
        return self.key("member", "count")

    def member(self, member_id: str) -> str:
        return self.key("member", "m", member_id)

    def ledger(self, member_id: str) -> str:
        return self.key("member", "m", member_id, "ledger")

    def phone(self, phone_hash: str) -> str:
        return self.key("member", "phone", phone_hash)

    def client(self, client: str) -> str:
        return self.key("member", "client", client)

    def otp(self, phone_hash: str) -> str:
        return self.key("member", "otp", phone_hash)

    def pending(self, client: str) -> str:
        return self.key("member", "pending", client)

    def receipt(self, store: str, receipt_id: str) -> str:
        return self.key("member", "rcpt", store, receipt_id)

    def idem(self, op: str, key: str) -> str:
        return self.key("member", "idem", op, key)

    def code_failures(self, member_id: str) -> str:
        """A hash; a new name, not `codefail` (earlier versions' STRING counter, gone 10 minutes after an upgrade):
        a script meeting the old type would fail."""
        return self.key("member", "codefails", member_id)

    def caller_failures(self, caller_id: str) -> str:
        """A hash; a new name, not `callerfail` (earlier versions' STRING counter, gone 10 minutes after an
        upgrade)."""
        return self.key("member", "callerfails", caller_id)

    def seeded(self) -> str:
        return self.key("member", "seeded")

    def grant(self, reference: str) -> str:
        return self.key("member", "grant", reference)

    def wechat(self, openid: str) -> str:
        return self.key("member", "wx", openid)

    def wechat_txn(self, txn: str) -> str:
        return self.key("member", "wxtxn", txn)

    def wechat_refund(self, refund_id: str) -> str:
        return self.key("member", "wxrefund", refund_id)

    def paid_refund(self, ref: str) -> str:
        """The idempotency record of a refund the payment service told: under its own op, so no till's
        Idempotency-Key (any printable text) can name it."""
        return self.idem("paid-refund", ref)

    def remainder(self, store: str, receipt_id: str) -> str:
        return self.key("member", "remainder", store, receipt_id)

    def folded_stores(self) -> str:
        return self.key("member", "folded-stores")

    def folded_since(self) -> str:
        """When this venue's receipts were first folded (epoch s): the start of the window the folds repeat in."""
        return self.key("member", "folded-since")


# KEYS: otp, pending.  ARGV: code hash, client, now, ttl, cooldown, sealed phone.
START_LUA = """
local now = tonumber(ARGV[3])
local last = redis.call('HGET', KEYS[1], 'sent_at')
if last and now - tonumber(last) < tonumber(ARGV[5]) then
  return {'COOLDOWN', tostring(math.ceil(tonumber(ARGV[5]) - (now - tonumber(last))))}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'client', ARGV[2], 'sent_at', ARGV[3], 'attempts', 0)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('SET', KEYS[2], ARGV[6], 'EX', tonumber(ARGV[4]))
return {'OK'}
"""

# KEYS: otp, pending.  ARGV: code hash, client, max attempts, keep s once right.
# A right code marks the code done and keeps it, and the shopper's pending phone, VERIFIED_KEEP_S: the same code
# again from her is right again (a double tap's second POST may come before the first has bound her).
VERIFY_LUA = """
local f = redis.call('HMGET', KEYS[1], 'hash', 'client', 'attempts', 'locked', 'done')
if not f[1] or f[2] ~= ARGV[2] then return {'EXPIRED'} end
if f[5] then
  if f[1] == ARGV[1] then return {'OK'} end
  return {'EXPIRED'}
end
if f[4] then return {'TOO_MANY'} end
if f[1] ~= ARGV[1] then
  local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  if attempts >= tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'locked', '1')
    return {'TOO_MANY'}
  end
  return {'WRONG', tostring(tonumber(ARGV[3]) - attempts)}
end
redis.call('HSET', KEYS[1], 'done', '1')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
return {'OK'}
"""

# KEYS: phone, member, client, ledger, count.  ARGV: member id, client, phone, secret, now, binding ttl.
BIND_LUA = """
local id = redis.call('GET', KEYS[1])
if id and id == ARGV[1] and redis.call('EXISTS', KEYS[2]) == 0 then
  -- a phone link whose member is gone (an erasure before 2026-12-01 deleted the wrong key): dropped, and
  -- the phone binds as a new member on the retry
  redis.call('DEL', KEYS[1])
  return {'RETRY'}
end
local created = 0
if not id then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'RETRY'} end
  id = ARGV[1]
  redis.call('SET', KEYS[1], id)
  redis.call('HSET', KEYS[2], 'phone', ARGV[3], 'secret', ARGV[4], 'points', 0, 'lifetime', 0,
             'created_at', ARGV[5])
  redis.call('LPUSH', KEYS[4], cjson.encode({type='join', at=tonumber(ARGV[5]), points=0, balance=0}))
  redis.call('INCR', KEYS[5])
  created = 1
elseif id ~= ARGV[1] then
  return {'RETRY'}
end
redis.call('HSET', KEYS[2], 'last_client', ARGV[2], 'last_seen', ARGV[5])
redis.call('SET', KEYS[3], id, 'EX', tonumber(ARGV[6]))
return {'OK', id, tostring(created)}
"""

# The receipt a purchase or refund script works on (`rk`): KEYS[1], the key of the number as the store keeps it
# (folded, kept_receipt_id, when typed at the console or sent by a till's API), unless nothing is kept there and
# KEYS[5], the key of the number as sent, holds a receipt: one posted before receipt numbers were folded, under the
# case it was sent in. Read in the script itself, so a purchase or refund racing it sees one receipt.
RECEIPT_AS_SENT_LUA = """
local rk = KEYS[1]
if KEYS[5] ~= rk and not redis.call('HGET', rk, 'member') and redis.call('HGET', KEYS[5], 'member') then
  rk = KEYS[5]
end
"""

# Whether the receipt key an Idempotency-Key record names is this receipt's (`rk`), whatever its case: a record
# written by an earlier release names the receipt under its store as a till sent it ("Pixel"), which
# MemberStore.fold_receipt_stores moved to the store folded.
IDEM_SAME_LUA = """
local function same_receipt(named) return named ~= nil and string.lower(named) == string.lower(rk) end
"""

# KEYS: receipt, member, ledger, idem (a key never written when no Idempotency-Key was sent), the receipt under
# the number as sent (RECEIPT_AS_SENT_LUA). ARGV: member id, amount cents, points, now, store, receipt id, have idem
# ('1'|'0'), idem ttl, receipt ttl.
PURCHASE_LUA = RECEIPT_AS_SENT_LUA + IDEM_SAME_LUA + """
if ARGV[7] == '1' then
  local used = redis.call('GET', KEYS[4])
  if used and not same_receipt(used) then return {'IDEM_CONFLICT'} end
end
local r = redis.call('HMGET', rk, 'member', 'amount', 'points', 'state')
if r[1] then
  if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then return {'CONFLICT', r[1], r[2]} end
  local m = redis.call('HMGET', KEYS[2], 'points', 'lifetime')
  return {'DUPLICATE', r[1], r[3], r[4], m[1] or '0', m[2] or '0'}
end
-- a member is a hash with its secret: an erased member's number (or a husk an older refund left) earns nothing
if not redis.call('HGET', KEYS[2], 'secret') then return {'NO_MEMBER'} end
local pts = tonumber(ARGV[3])
redis.call('HSET', rk, 'member', ARGV[1], 'amount', ARGV[2], 'points', ARGV[3], 'state', 'earned',
           'at', ARGV[4], 'store', ARGV[5], 'receipt', ARGV[6])
redis.call('EXPIRE', rk, tonumber(ARGV[9]))
local bal = redis.call('HINCRBY', KEYS[2], 'points', pts)
local life = redis.call('HINCRBY', KEYS[2], 'lifetime', pts)
redis.call('LPUSH', KEYS[3], cjson.encode({type='earn', receipt=ARGV[6], store=ARGV[5], amount=tonumber(ARGV[2]),
           points=pts, balance=bal, at=tonumber(ARGV[4])}))
if ARGV[7] == '1' then redis.call('SET', KEYS[4], rk, 'EX', tonumber(ARGV[8])) end
return {'OK', ARGV[1], ARGV[3], 'earned', tostring(bal), tostring(life)}
"""

# What a refund of all of a receipt answers again when the receipt was refunded before REFUND_LUA kept
# `whole_points`: the points of the member's newest reversal of this receipt among her newest LEDGER_LOOK ledger
# entries (the refund that left nothing to refund: the one a till retries), else, with no such entry to go by (an
# erased member, a long ledger since), all the receipt had taken back (`taken`). Where parts had emptied the
# receipt before a refund of all of it was first asked, the last part's points are answered: the ledger does not
# say which kind of refund it was. Defined before REFUND_LUA's body, which calls it as whole_before(r, taken).
WHOLE_BEFORE_LUA = """
local function whole_before(r, taken)
  for _, raw in ipairs(redis.call('LRANGE', KEYS[3], 0, tonumber(ARGV[8]) - 1)) do
    local e = cjson.decode(raw)
    if e.type == 'reverse' and e.receipt == r[6] and e.store == r[5] then return tostring(-tonumber(e.points)) end
  end
  return tostring(taken)
end
"""

# A refund of all of a receipt or of part of it (a returned item): what remains paid keeps the points it would
# earn on its own (1 per whole unit, as points_for), so parts refunded one by one take back, in all, what the
# whole refund would. KEYS: receipt, member, ledger, idem, the receipt under the number as sent
# (RECEIPT_AS_SENT_LUA).  ARGV: member id, now, have idem, idem ttl, fen to
# refund ('' = all that remains), points per unit, receipt keep s, LEDGER_LOOK. The idem key records
# "<receipt key>|<fen asked>|<points>": the same key again answers that refund (DUPLICATE); with another receipt
# or amount, IDEM_CONFLICT. (A key written before parts could be refunded holds the receipt key alone: the
# receipt's state answers it.) A receipt written before receipts expired has no TTL: the refund gives it what
# remains of its keep since the purchase (at least a second: one kept past it goes as a later one would have).
# The refund that leaves nothing to refund keeps, as `whole_points`, what a refund of all of it answers from then
# on: the points it took back when it was that refund (a till's retry reads its first answer), 0 when a part did it
# (a refund of all of it then takes nothing). A receipt refunded before that was kept: WHOLE_BEFORE_LUA.
REFUND_LUA = RECEIPT_AS_SENT_LUA + IDEM_SAME_LUA + WHOLE_BEFORE_LUA + """
if ARGV[3] == '1' then
  local used = redis.call('GET', KEYS[4])
  if used and not same_receipt(used) then
    local receipt, asked, pts = string.match(used, '^(.*)|([^|]*)|(%d+)$')
    if not same_receipt(receipt) or asked ~= ARGV[5] then return {'IDEM_CONFLICT'} end
    local r = redis.call('HMGET', rk, 'member', 'state')
    local m = redis.call('HMGET', KEYS[2], 'points', 'lifetime')
    return {'DUPLICATE', r[1], pts, r[2], m[1] or '0', m[2] or '0'}
  end
end
local r = redis.call('HMGET', rk, 'member', 'points', 'state', 'amount', 'store', 'receipt',
                     'refunded_amount', 'refunded_points', 'at', 'whole_points')
if not r[1] then return {'NO_RECEIPT'} end
if r[1] ~= ARGV[1] then return {'RETRY'} end
local total, earned = tonumber(r[4]), tonumber(r[2])
local done = tonumber(r[7] or (r[3] == 'refunded' and r[4]) or '0')
local taken = tonumber(r[8] or (r[3] == 'refunded' and r[2]) or '0')
if done >= total and ARGV[5] == '' then
  local m = redis.call('HMGET', KEYS[2], 'points', 'lifetime')
  return {'DUPLICATE', r[1], r[10] or whole_before(r, taken), 'refunded', m[1] or '0', m[2] or '0'}
end
local amount = ARGV[5] == '' and (total - done) or tonumber(ARGV[5])
if amount > total - done then return {'TOO_MUCH', tostring(total - done)} end
-- the member erased their data: nothing to take back from (HINCRBY would bring the hash back as a husk)
if not redis.call('HGET', KEYS[2], 'secret') then return {'NO_MEMBER', r[1]} end
local keep = math.floor((total - done - amount) / 100) * tonumber(ARGV[6])
local pts = math.max(0, earned - taken - keep)
local state = (done + amount >= total) and 'refunded' or 'part_refunded'
redis.call('HSET', rk, 'state', state, 'refunded_at', ARGV[2], 'refunded_amount', tostring(done + amount),
           'refunded_points', tostring(taken + pts))
if state == 'refunded' then
  redis.call('HSET', rk, 'whole_points', ARGV[5] == '' and tostring(pts) or '0')
end
if redis.call('TTL', rk) == -1 then
  local left = tonumber(r[9] or ARGV[2]) + tonumber(ARGV[7]) - tonumber(ARGV[2])
  redis.call('EXPIRE', rk, math.max(math.floor(left), 1))
end
local bal = redis.call('HINCRBY', KEYS[2], 'points', -pts)
local life = redis.call('HINCRBY', KEYS[2], 'lifetime', -pts)
redis.call('LPUSH', KEYS[3], cjson.encode({type='reverse', receipt=r[6], store=r[5], amount=amount,
           points=-pts, balance=bal, at=tonumber(ARGV[2])}))
if ARGV[3] == '1' then
  redis.call('SET', KEYS[4], rk .. '|' .. ARGV[5] .. '|' .. pts, 'EX', tonumber(ARGV[4]))
end
return {'OK', r[1], tostring(pts), state, tostring(bal), tostring(life)}
"""


# Points another app gives (a game's prize: the points capability, portal/apps/capabilities.py), once per
# reference; they count for the balance, not for the tier (no money was spent). KEYS: grant record, member, ledger.
# ARGV: member id, points, now, reference, note, kind.
GRANT_LUA = """
local done = redis.call('HGET', KEYS[1], 'member')
if done then return {'ALREADY', redis.call('HGET', KEYS[2], 'points') or '0'} end
if not redis.call('HGET', KEYS[2], 'secret') then return {'NO_ACCOUNT'} end
redis.call('HSET', KEYS[1], 'member', ARGV[1], 'points', ARGV[2], 'at', ARGV[3])
local bal = redis.call('HINCRBY', KEYS[2], 'points', tonumber(ARGV[2]))
redis.call('LPUSH', KEYS[3], cjson.encode({type='grant', kind=ARGV[6], receipt=ARGV[4], note=ARGV[5],
           points=tonumber(ARGV[2]), balance=bal, at=tonumber(ARGV[3])}))
return {'OK', tostring(bal)}
"""


# A rotating member code at a till, judged in Python (`verdict`, codes.judge_code) and answered here, in one step
# with the counts: refused while the caller's wrong codes for this number, or for as many numbers as it may try,
# are spent, or while several callers' wrong codes brake the member; else a wrong code counts for the caller (under
# the number) and for the member. An expired code (STALE) counts for nothing. Guesses sent at once are answered one
# at a time: a right one passes only while the caller's limits were not reached before it.
# A member number that does not exist counts as a caller's wrong code too (else a spent caller could still tell
# numbers in use from the rest; the refusals come before the member is looked at). KEYS: member's codefails,
# caller's callerfails.  ARGV: caller id, verdict (OK | STALE | WRONG), numbers the caller may get wrong, wrong
# codes per number, member max, brake callers, window s, the member exists ('1'|'0'), member number.  Returns
# {status, seconds until a refusal ends (SPENT, SPENT_MEMBER, LOCKED)}.
IDENTIFY_LUA = """
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[9]) or '0')
if mine >= tonumber(ARGV[4]) then return {'SPENT_MEMBER', redis.call('TTL', KEYS[2])} end
if mine == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return {'SPENT', redis.call('TTL', KEYS[2])} end
local function count_for_caller()
  redis.call('HINCRBY', KEYS[2], ARGV[9], 1)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
end
if ARGV[8] == '0' then
  count_for_caller()
  return {'NO_MEMBER', 0}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then
  local total = 0
  for _, n in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(n) end
  if total >= tonumber(ARGV[5]) then return {'LOCKED', redis.call('TTL', KEYS[1])} end
end
if ARGV[2] ~= 'WRONG' then return {ARGV[2], 0} end
count_for_caller()
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return {'WRONG', 0}
"""


# A link (a device's or a WeChat identity's) to a member, dropped only while it names that member (a device
# that has since become another member keeps its new link). KEYS: link.  ARGV: member id.
DROP_LINK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# A receipt an earlier release kept under a till's store as sent ("Pixel") moved to the store folded, unless a
# receipt is kept there already (fold_receipt_stores). KEYS: the old key, the folded one. RENAME keeps its TTL.
MOVE_RECEIPT_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
"""


class FieldError(CatalogInputError):
    """Bad input: `field` names it. `template` is the catalog message (%(label)s stands for the field) and
    `params` its values: the console shows `_(template, label=<the field's label>, **params)`; `message` is
    the English text the API answers, naming the field as sent. What the console's form can get wrong is
    marked N_ for the catalog (the API's store id is not)."""


def parse_amount(raw: Any, field: str = "amount") -> int:
    """A positive amount in yuan (a JSON number too), up to MAX_AMOUNT -> fen, by the platform's amount rule
    (portal/payments/money.py: "128.50", "¥1,280.00"; "30,5" refused)."""
    try:
        return read_amount(raw, low=1, high=int(MAX_AMOUNT * 100), field=field)
    except AmountError as exc:
        raise FieldError(field, exc.template, **exc.params) from None


def points_for(cents: int) -> int:
    return int((Decimal(cents) / 100).to_integral_value(rounding=ROUND_FLOOR)) * POINTS_PER_UNIT


def spend_for(points: int) -> int:
    """Cents to spend to earn `points` purchase points (what the card says a tier still needs: a tier counts
    purchases, not the balance, which prizes raise and redemptions lower)."""
    return -(-int(points) // POINTS_PER_UNIT) * 100


def folded(text: str) -> str:
    """The one case rule of a receipt a person typed or a till sent: its number and its store are kept folded ("R1"
    and "r1", "Pixel" and "pixel" name one receipt), as a payment's own receipt is (payment.py: an order id, a zone
    id). Both are ASCII (RECEIPT_ID, STORE_ID)."""
    return text.lower()


def _receipt_keys(keys: MemberKeys, store: str, receipt_id: str, fold_case: bool) -> tuple[str, str]:
    """(the key the receipt is kept under, the key of the number as sent: RECEIPT_AS_SENT_LUA). `fold_case`: a
    receipt a person typed or a till sent, kept under its store and number `folded`; the store is folded in both
    (receipts an earlier release kept under the store as sent were moved there: fold_receipt_stores)."""
    if fold_case:
        store = folded(store)
        return keys.receipt(store, folded(receipt_id)), keys.receipt(store, receipt_id)
    return keys.receipt(store, receipt_id), keys.receipt(store, receipt_id)


def parse_receipt_id(raw: Any, field: str = "receipt_id") -> str:
    """A receipt number as typed or sent, without the spaces around it and with a Chinese keyboard's full-width
    letters and digits read as ASCII (NFKC); its case stays: the store folds it (`fold_case`)."""
    if isinstance(raw, str):
        raw = unicodedata.normalize("NFKC", raw).strip()
    if raw is None or raw == "":
        raise FieldError(field, N_("%(label)s is required (or send an Idempotency-Key header)."))
    if not isinstance(raw, str) or not RECEIPT_ID.match(raw):
        raise FieldError(field, N_("%(label)s must be 1 to 64 letters, digits or . _ / -."))
    return raw


def parse_store_id(raw: Any, stores: Collection[str] | None, field: str = "store") -> str:
    """The store a till names, `folded`: one of `stores` (the venue's zones and shops, by id) or DEFAULT_STORE (also
    when none is sent). Any other is refused: a mistyped store would start receipt numbers of its own, which a
    refund naming the right store never finds. `stores` None (a refund): any store id, since the receipt may be up to
    RECEIPT_KEEP_S old, under a store an earlier release took or a shop that has since left the map."""
    if raw is None or raw == "":
        return DEFAULT_STORE
    if not isinstance(raw, str) or not STORE_ID.fullmatch(raw):
        raise FieldError(field, "%(label)s must be 1 to 48 letters, digits, _ or -.")
    store = folded(raw)
    if stores is not None and store != DEFAULT_STORE and store not in {folded(known) for known in stores}:
        raise FieldError(field, "%(label)s %(store)r is not one of this venue's zones or shops (send its id, like "
                                "\"pixel\"), nor \"%(default)s\".", store=raw, default=DEFAULT_STORE)
    return store


@dataclass(frozen=True)
class Member:
    id: str
    phone: str
    points: int
    lifetime: int
    created_at: float
    secret: str

    @property
    def tier(self) -> tuple[str, str, str, int]:
        return tier_for(self.lifetime)

    def tier_name(self, zh: bool) -> str:
        return self.tier[2] if zh else self.tier[1]

    @property
    def next_tier(self):
        return next_tier(self.lifetime)

    @classmethod
    def from_hash(cls, member_id: str, data: dict[bytes, bytes], vault: PhoneVault) -> Member:
        s = {k.decode(): v.decode() for k, v in data.items()}
        return cls(id=member_id, phone=vault.open(s["phone"]), points=int(s.get("points", 0)),
                   lifetime=int(s.get("lifetime", 0)), created_at=float(s.get("created_at", 0)), secret=s["secret"])


class Caller(NamedTuple):
    """Who checks a member code at a till: `kind` "account" (a console account, by username) or "token" (an API
    token, by its label); each has its own count of wrong codes (CALLER_MEMBER_MAX_FAILURES, CALLER_MAX_MEMBERS)."""

    kind: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def max_members(self) -> int:
        return CALLER_MAX_MEMBERS[self.kind]


class Identified(NamedTuple):
    """A member code checked at a till: status OK | STALE | WRONG | NO_MEMBER | SPENT | SPENT_MEMBER | LOCKED
    (MemberStore.identify)."""

    status: str
    member: Member | None = None
    retry_after_s: int = 0  # SPENT, SPENT_MEMBER, LOCKED: seconds until the refusal ends


@dataclass(frozen=True)
class StartResult:
    status: str  # OK | COOLDOWN
    code: str | None = None  # the code to send (OK only)
    wait_s: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class VerifyResult:
    status: str  # OK | WRONG | EXPIRED | TOO_MANY | NO_PENDING
    member: Member | None = None
    created: bool = False
    attempts_left: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class PostResult:
    """A purchase or refund: OK (applied now), DUPLICATE (applied before: the same answer, nothing
    changed), CONFLICT (the receipt was posted with other data), NO_MEMBER, NO_RECEIPT, IDEM_CONFLICT, TOO_MUCH
    (a part refund over what remains of the receipt: `remaining_cents`)."""

    status: str
    member_id: str | None = None
    points: int = 0  # points of the receipt (earned, or reversed by this refund)
    state: str = ""  # earned | part_refunded | refunded
    balance: int = 0
    lifetime: int = 0
    remaining_cents: int = 0  # TOO_MUCH: what remains of the receipt to refund

    @property
    def applied(self) -> bool:
        return self.status in ("OK", "DUPLICATE")


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MemberStore:
    @classmethod
    def from_services(cls, svc) -> MemberStore:
        """The platform builds the app's store with this (portal/apps/platform.py)."""
        return cls(svc.db, svc.settings.secret_key, svc.settings.phone_key)

    def __init__(self, db: redis.Redis, secret: str, phone_key: str) -> None:
        """`secret`: the app's SECRET_KEY (verification codes are kept only as an HMAC under it);
        `phone_key`: PHONE_KEY (numbers as keyed hashes in key names, sealed where stored)."""
        self.db = db
        self.secret = secret
        self.vault = PhoneVault(phone_key)
        self.phone_key = phone_key
        self._start = db.register_script(START_LUA)
        self._verify = db.register_script(VERIFY_LUA)
        self._bind = db.register_script(BIND_LUA)
        self._purchase = db.register_script(PURCHASE_LUA)
        self._refund = db.register_script(REFUND_LUA)
        self._grant = db.register_script(GRANT_LUA)
        self._drop_link = db.register_script(DROP_LINK_LUA)
        self._identify = db.register_script(IDENTIFY_LUA)
        self._move_receipt = db.register_script(MOVE_RECEIPT_LUA)
        # venue -> until when (time.monotonic) this process knows its receipts are kept under folded stores: the end
        # of the store's mark (fold_receipt_stores); only venues a till or a console was let into, so a handful
        self._folded_until: dict[str, float] = {}

    # ---- reading ------------------------------------------------------------------------------

    def get(self, venue: str, member_id: str) -> Member | None:
        if not MEMBER_ID.match(member_id or ""):
            return None
        data = self.db.hgetall(MemberKeys(venue).member(member_id))
        if not data.get(b"phone") or not data.get(b"secret"):
            return None  # no member, or a husk of an erased one (an older refund's HINCRBY made one)
        return Member.from_hash(member_id, data, self.vault)

    def for_client(self, venue: str, client: str) -> Member | None:
        member_id = self.db.get(MemberKeys(venue).client(client))
        return self.get(venue, member_id.decode()) if member_id else None

    def for_phone(self, venue: str, phone: str) -> Member | None:
        member_id = self.db.get(MemberKeys(venue).phone(self.vault.hashed(phone)))
        return self.get(venue, member_id.decode()) if member_id else None

    def ledger(self, venue: str, member_id: str, limit: int = 100) -> list[dict]:
        return [json.loads(e) for e in self.db.lrange(MemberKeys(venue).ledger(member_id), 0, limit - 1)]

    def count(self, venue: str) -> int:
        return int(self.db.get(MemberKeys(venue).count()) or 0)

    def receipt(self, venue: str, store: str, receipt_id: str, fold_case: bool = False) -> dict[str, str] | None:
        """The receipt as kept; `fold_case`: a number typed or sent by a till (`post_purchase`), found whatever its
        case, or under the case it was sent in when posted before numbers were folded."""
        for key in dict.fromkeys(self._receipt_keys(MemberKeys(venue), store, receipt_id, fold_case)):
            data = self.db.hgetall(key)
            if data:
                return {k.decode(): v.decode() for k, v in data.items()}
        return None

    def pending_phone(self, venue: str, client: str) -> str | None:
        sealed = self.db.get(MemberKeys(venue).pending(client))
        return self.vault.open(sealed.decode()) if sealed else None

    # ---- sign-up: send a code, verify it, bind -----------------------------------------------

    def start_verification(self, venue: str, phone: str, client: str, now: float | None = None) -> StartResult:
        """A new code for `phone`, asked for by shopper `client`, unless one was sent moments ago. The
        caller spends the "membership.sms" budget first and sends the returned code; the store keeps
        only its HMAC."""
        keys = MemberKeys(venue)
        now = time.time() if now is None else now
        code = new_verification_code()
        status, *rest = self._start(
            keys=[keys.otp(self.vault.hashed(phone)), keys.pending(client)],
            args=[hash_code(self.secret, phone, code), client, repr(now), CODE_TTL_S, RESEND_COOLDOWN_S,
                  self.vault.seal(phone)],
        )
        status = _s(status)
        if status != "OK":
            return StartResult(status, wait_s=max(int(_s(rest[0])), 1) if rest else 0)
        return StartResult("OK", code=code)

    def cancel_verification(self, venue: str, phone: str, client: str) -> None:
        """The code could not be sent: forget it (the budget keeps the attempt)."""
        keys = MemberKeys(venue)
        self.db.delete(keys.otp(self.vault.hashed(phone)), keys.pending(client))

    def verify(self, venue: str, phone: str, client: str, code: str, now: float | None = None) -> VerifyResult:
        """Check the code this shopper got for this phone; on success the shopper becomes the member
        of that phone (a new member, or the existing one coming back on a new device). The same right code
        from her again within VERIFIED_KEEP_S is right again (a double tap: the same member, not created)."""
        keys = MemberKeys(venue)
        code = (code or "").strip().replace(" ", "")
        if not re.fullmatch(r"[0-9]{6}", code):
            code = "x"  # can never match; still counts as an attempt
        status, *rest = self._verify(keys=[keys.otp(self.vault.hashed(phone)), keys.pending(client)],
                                     args=[hash_code(self.secret, phone, code), client, MAX_ATTEMPTS,
                                           VERIFIED_KEEP_S])
        status = _s(status)
        if status == "WRONG":
            return VerifyResult("WRONG", attempts_left=int(_s(rest[0])))
        if status != "OK":
            return VerifyResult(status)
        member, created = self.bind(venue, phone, client, now)
        return VerifyResult("OK", member=member, created=created)

    def bind(self, venue: str, phone: str, client: str, now: float | None = None) -> tuple[Member, bool]:
        """Make `client` the member of `phone` (creating the member if new). Call only after the phone
        has been verified."""
        keys = MemberKeys(venue)
        now = time.time() if now is None else now
        phone_key = keys.phone(self.vault.hashed(phone))
        for _ in range(10):
            existing = self.db.get(phone_key)
            member_id = existing.decode() if existing else str(MEMBER_BASE + int(self.db.incr(keys.seq())))
            result = self._bind(
                keys=[phone_key, keys.member(member_id), keys.client(client), keys.ledger(member_id), keys.count()],
                args=[member_id, client, self.vault.seal(phone), new_member_secret(), repr(now), BINDING_TTL_S],
            )
            if _s(result[0]) == "OK":
                return self.get(venue, _s(result[1])), _s(result[2]) == "1"
        raise RuntimeError("could not bind the member")

    def forget_client(self, venue: str, client: str) -> None:
        """This device stops being the member (the member and points stay; re-verify to come back)."""
        self.db.delete(MemberKeys(venue).client(client))

    # ---- the privacy centre's hooks (portal/apps/views.py: shopper_data, erase_shopper) ---------------

    def export_shopper(self, venue: str, client: str) -> dict:
        """What membership holds about this shopper: the member record and its ledger."""
        member = self.for_client(venue, client)
        if member is None:
            return {}
        return {"member": member.id, "phone": member.phone, "points": member.points, "lifetime": member.lifetime,
                "created_at": member.created_at, "ledger": self.ledger(venue, member.id, 1000)}

    @staticmethod
    def ref_titles(venue: str, key: str, ids: set[str]) -> dict[str, tuple[str, str]]:
        """What the privacy centre's page shows for a tier its data holds (her sign-ins' `tier`): its names
        (Chinese, English)."""
        return {name: (zh, en) for name, en, zh, _points in TIERS if name in ids} if key == "tier" else {}

    def forget_shopper(self, venue: str, client: str) -> int:
        """Erasure: the member this shopper is (record, ledger, phone binding), this shopper's link to it and
        every other link naming that member (the member's other devices, its WeChat identity): a link left
        behind would keep a card nobody has, where a later refund or grant would write. Her receipts and
        points grants stay (a receipt still counts once, a prize is still credited once) with their member
        blanked, found through her ledger before it goes."""
        keys = MemberKeys(venue)
        member = self.for_client(venue, client)
        doomed = [keys.client(client), keys.pending(client)]
        if member is None:
            return int(self.db.delete(*doomed))
        removed = self._blank_member_records(venue, member.id)
        doomed += [keys.member(member.id), keys.ledger(member.id), keys.phone(self.vault.hashed(member.phone))]
        removed += int(self.db.delete(*doomed))
        for link in keys_matching(self.db, keys.client("*")) + keys_matching(self.db, keys.wechat("*")):
            removed += int(self._drop_link(keys=[link], args=[member.id]))  # only if it still names the member
        return removed

    def _blank_member_records(self, venue: str, member_id: str) -> int:
        """Blank the member in the receipts and points grants her ledger lists (only where they still name
        her): the records stay, so a receipt posted again is still a CONFLICT and a refund of it answers
        NO_MEMBER, as for any erased member."""
        keys = MemberKeys(venue)
        records = set()
        for raw in self.db.lrange(keys.ledger(member_id), 0, -1):
            entry = json.loads(raw)
            if entry.get("type") == "earn" and entry.get("store") and entry.get("receipt"):
                # the ledger shows the number as sent; it is kept under it or folded (`_receipt_keys`), or, posted
                # again under another case of its store by an earlier release, under the store as sent
                store, number = str(entry["store"]), str(entry["receipt"])
                records.update(_receipt_keys(keys, store, number, fold_case=True))
                records.update((keys.receipt(store, number), keys.receipt(store, folded(number))))
            elif entry.get("type") == "grant" and entry.get("receipt"):
                records.add(keys.grant(str(entry["receipt"])))
        return sum(blank_field(self.db, key, "member", member_id) for key in sorted(records))

    def audit_ref(self, member_id: str) -> str:
        """What the audit log writes for a member: a keyed hash of the number (PHONE_KEY's sub-key for it), so
        the log ties a member's entries together without naming the card (an erasure leaves the log as it is)."""
        return keyed_hash(self.phone_key, b"mallportal member audit", member_id)

    # ---- WeChat Pay 智慧商圈 (points for payments anywhere in the mall) ------------------------------

    def link_wechat(self, venue: str, member_id: str, openid: str) -> None:
        """The member authorised the mall's points service in WeChat (the mall's mini-program knows both)."""
        self.db.set(MemberKeys(venue).wechat(openid), member_id)

    def for_wechat(self, venue: str, openid: str) -> Member | None:
        member_id = self.db.get(MemberKeys(venue).wechat(openid))
        return self.get(venue, member_id.decode()) if member_id else None

    def mall_refunded_before(self, venue: str, txn: str, refund_id: str) -> int:
        """Fen of a 智慧商圈 purchase the old scheme counted refunded (before this refund, had it seen it): what
        names the remainder receipt it posted (`refund_paid`). Read only: refunds now come off the receipt, so
        the count stays where the old scheme left it."""
        keys = MemberKeys(venue)
        before = self.db.get(keys.wechat_refund(refund_id))
        if before is None:
            before = self.db.hget(keys.wechat_txn(txn), "refunded")
        return int(before or 0)

    # ---- the rotating member code at the till -------------------------------------------------

    def identify(self, venue: str, member_id: str, code: str, caller: Caller,
                 now: float | None = None) -> Identified:
        """OK (with the member) if `code` is the member's current code (±1 step); STALE if it was the member's code
        in the hour before (ask her to refresh the card; it counts for nothing); else WRONG, NO_MEMBER, SPENT (this
        caller's wrong codes are spent for every number it has not tried: nothing judged), SPENT_MEMBER (the same
        for this number) or LOCKED (wrong codes from several callers brake this member), the last three with the
        seconds until they end. A wrong code counts for its caller only: one caller's guesses stop that caller,
        never the member's card at other tills."""
        now = time.time() if now is None else now
        member = self.get(venue, member_id)
        keys = MemberKeys(venue)
        verdict = judge_code(member.secret, code, now) if member is not None else "WRONG"
        status, wait = self._identify(
            keys=[keys.code_failures(member_id), keys.caller_failures(caller.id)],
            args=[caller.id, verdict, caller.max_members, CALLER_MEMBER_MAX_FAILURES, MAX_CODE_FAILURES,
                  BRAKE_CALLERS, CODE_FAILURE_WINDOW_S, "1" if member is not None else "0", member_id])
        status, wait = _s(status), int(wait)
        return Identified(status, member if status == "OK" else None, max(wait, 1) if wait else 0)

    # ---- POS: purchases and refunds, each exactly once ----------------------------------------

    def post_purchase(self, venue: str, member_id: str, receipt_id: str, store: str, cents: int,
                      idempotency_key: str | None = None, now: float | None = None,
                      fold_case: bool = False) -> PostResult:
        """`fold_case`: a receipt number a person typed or a till sent ("R1" and "r1" are one receipt:
        kept_receipt_id)."""
        keys = MemberKeys(venue)
        now = time.time() if now is None else now
        points = points_for(cents)
        idem = keys.idem("purchase", idempotency_key or "-")
        store = folded(store) if fold_case else store  # as the receipt and its ledger entry show it
        kept, as_sent = self._receipt_keys(keys, store, receipt_id, fold_case)
        raw = self._purchase(
            keys=[kept, keys.member(member_id), keys.ledger(member_id), idem, as_sent],
            args=[member_id, cents, points, repr(now), store, receipt_id,  # shown as sent; kept under `kept`
                  "1" if idempotency_key else "0", IDEM_TTL_S, RECEIPT_KEEP_S],
        )
        confirm(self.db, keys.member(member_id))  # a receipt lost in a failover would earn its points twice
        return self._post_result(raw)

    def grant_points(self, venue: str, client: str, points: int, reference: str, note: str,
                     now: float | None = None) -> Granted:
        """A points grant (the "points" capability, portal/apps/capabilities.py): onto the card of the member
        this shopper is, once per reference; NO_ACCOUNT when the shopper is not a member (yet)."""
        member_id = self.db.get(MemberKeys(venue).client(client)) if client else None
        if member_id is None:
            return Granted("NO_ACCOUNT")
        return self.grant_to_member(venue, member_id.decode(), points, reference, note, now)

    def grant_to_member(self, venue: str, member_id: str, points: int, reference: str, note: str,
                        now: float | None = None) -> Granted:
        """As grant_points, onto this member's card (one a desk identified by her member code)."""
        keys = MemberKeys(venue)
        now = time.time() if now is None else now
        status, *rest = self._grant(keys=[keys.grant(reference), keys.member(member_id), keys.ledger(member_id)],
                                    args=[member_id, int(points), repr(now), reference, note, event_kind(reference)])
        return Granted(_s(status), int(rest[0]) if rest else None)

    def refund(self, venue: str, store: str, receipt_id: str, idempotency_key: str | None = None,
               now: float | None = None, cents: int | None = None, fold_case: bool = False) -> PostResult:
        """Reverse a receipt's points, all that remains of it exactly once (a repeat answers DUPLICATE and
        changes nothing), or `cents` of it (a returned item: REFUND_LUA; TOO_MUCH when more than remains). A
        part is refunded once per `idempotency_key`: without one, each call is another refund, so the API asks
        for a key with a part. `fold_case`: as `post_purchase`'s."""
        keys = MemberKeys(venue)
        idem = keys.idem("refund", idempotency_key) if idempotency_key else None
        return self._reverse(keys, self._receipt_keys(keys, store, receipt_id, fold_case), idem, IDEM_TTL_S, cents,
                             now)

    def refund_paid(self, venue: str, store: str, receipt_id: str, ref: str, cents: int,
                    refunded_before: int) -> PostResult:
        """A refund the payment service told (a portal order's, a 智慧商圈 purchase's): `cents` off the receipt its
        payment posted, in one REFUND_LUA step, once per `ref` (the refund's own name: told again, it answers
        DUPLICATE and changes nothing) for as long as the receipt is kept. `refunded_before`: the fen the old
        scheme counted refunded before this refund, which names its receipts (`_live_receipt`)."""
        keys = MemberKeys(venue)
        live = self._live_receipt(keys, store, receipt_id, cents, refunded_before)
        if live is None:
            return PostResult("DUPLICATE")
        return self._reverse(keys, _receipt_keys(keys, store, live, False), keys.paid_refund(ref), RECEIPT_KEEP_S,
                             cents, None)

    def _live_receipt(self, keys: MemberKeys, store: str, receipt_id: str, cents: int,
                      refunded_before: int) -> str | None:
        """The receipt a payment's refund comes off: its own, unless the old scheme refunded part of the payment
        (it reversed the receipt whole and posted what remained paid as `<receipt>.<fen refunded>`): then that
        remainder, which the first refund to find it notes (`remainder`: the refunds after it no longer name
        it), before refunding it, so the refund told again finds the same one. None: the old scheme did this
        refund (reversed what it found and posted what remained), and it is told again now."""
        if self.db.hget(keys.receipt(store, receipt_id), "state") != b"refunded":
            return receipt_id  # refunds come off it (or it never earned: NO_RECEIPT)
        found = f"{receipt_id}.{refunded_before}" if refunded_before > 0 else receipt_id
        state, amount = self.db.hmget(keys.receipt(store, found), "state", "amount")
        if state == b"refunded":
            after = keys.receipt(store, f"{receipt_id}.{refunded_before + cents}")
            if cents >= int(amount) or self.db.exists(after):
                return None
        elif state is not None:
            self.db.set(keys.remainder(store, receipt_id), found, nx=True, ex=RECEIPT_KEEP_S)
            return found
        noted = self.db.get(keys.remainder(store, receipt_id))
        return noted.decode() if noted else receipt_id  # refunded in full (a repeat: DUPLICATE), or TOO_MUCH

    def _reverse(self, keys: MemberKeys, receipt_keys: tuple[str, str], idem: str | None, idem_ttl_s: int,
                 cents: int | None, now: float | None) -> PostResult:
        """REFUND_LUA on one receipt (`_receipt_keys`), with its member (read first: a receipt's member is immutable
        once written); `idem`: the refund's idempotency record (None: each call is another refund)."""
        now = time.time() if now is None else now
        receipt_key = receipt_keys[0]
        for _ in range(3):
            member_id = self._receipt_member(receipt_keys)
            if member_id is None:
                used = self.db.get(idem) if idem else None  # "<receipt key>[|<fen>|<points>]": REFUND_LUA
                if used and _s(used).split("|")[0].lower() not in {key.lower() for key in receipt_keys}:
                    return PostResult("IDEM_CONFLICT")
                return PostResult("NO_RECEIPT")
            raw = self._refund(
                keys=[receipt_key, keys.member(member_id), keys.ledger(member_id), idem or keys.idem("refund", "-"),
                      receipt_keys[1]],
                args=[member_id, repr(now), "1" if idem else "0", idem_ttl_s,
                      "" if cents is None else str(int(cents)), POINTS_PER_UNIT, RECEIPT_KEEP_S, LEDGER_LOOK],
            )
            if _s(raw[0]) == "TOO_MUCH":
                return PostResult("TOO_MUCH", remaining_cents=int(raw[1]))
            if _s(raw[0]) != "RETRY":
                confirm(self.db, receipt_key)  # a refund lost in a failover would be taken off again
                return self._post_result(raw)
        raise RuntimeError("receipt changed member while refunding")

    def _receipt_member(self, receipt_keys: tuple[str, str]) -> str | None:
        """The member of the receipt REFUND_LUA will find (RECEIPT_AS_SENT_LUA: the kept key's, else the key's as
        sent); the script checks it again."""
        kept, as_sent = receipt_keys
        member_id = self.db.hget(kept, "member")
        if member_id is None and as_sent != kept:
            member_id = self.db.hget(as_sent, "member")
        return None if member_id is None else member_id.decode()

    # ---- upgrade: receipts an earlier release kept under a till's store as sent -------------------

    def _receipt_keys(self, keys: MemberKeys, store: str, receipt_id: str, fold_case: bool) -> tuple[str, str]:
        """`_receipt_keys`, once this venue's receipts kept under a till's store as sent were moved to the store
        folded (`_fold_if_due`)."""
        if fold_case:
            self._fold_if_due(keys)
        return _receipt_keys(keys, store, receipt_id, fold_case)

    def _fold_if_due(self, keys: MemberKeys) -> None:
        """fold_receipt_stores, unless the venue's mark says a process did in the last FOLD_MARK_S. This process
        remembers when the mark ends, so till calls cost no round trip until then; a mark kept for good (the first
        release that folded set one) counts as lapsed."""
        now = time.monotonic()
        if now < self._folded_until.get(keys.venue, 0.0):
            return
        pipe = self.db.pipeline(transaction=False)  # one slot: the venue's
        pipe.get(keys.folded_stores())
        pipe.pttl(keys.folded_stores())
        pipe.set(keys.folded_since(), repr(time.time()), nx=True)
        pipe.get(keys.folded_since())
        mark, left_ms, _first, since = pipe.execute()
        if mark == FOLDS_DONE:  # the window is over: nothing of the release before writes here any more
            self._folded_until[keys.venue] = float("inf")
            return
        if left_ms <= 0:  # -2: none, -1: kept for good by the first release that folded ("1")
            self.fold_receipt_stores(keys.venue)
            if time.time() - float(since) > FOLD_WINDOW_S:  # the last fold of the window
                self.db.set(keys.folded_stores(), FOLDS_DONE)
                self._folded_until[keys.venue] = float("inf")
                return
            self.db.set(keys.folded_stores(), "1", ex=FOLD_MARK_S)
            left_ms = FOLD_MARK_S * 1000
        self._folded_until[keys.venue] = now + left_ms / 1000

    def fold_receipt_stores(self, venue: str) -> int:
        """Move the receipts an earlier release kept under a till's store as sent (it folded the number, not the
        store: "Pixel" and "pixel" were two stores) to the store `folded`, where a receipt is looked for now whatever
        case the till sends (the Idempotency-Key records naming the old key still match it: IDEM_SAME_LUA). Each
        move is one script, done while the folded key is free: a receipt that release let a till post again under
        another case of its store stays under its old key (its points were earned then; erasure still blanks it).
        Idempotent; returns how many moved."""
        keys = MemberKeys(venue)
        prefix = keys.receipt("", "")[:-1]  # "mp:{v}:member:rcpt:": the store, then the number

        def folded_key(key: str) -> str:
            store, _, number = key[len(prefix):].partition(":")
            return keys.receipt(folded(store), number)

        old = [key for key in keys_matching(self.db, glob_escape(prefix) + "*") if folded_key(key) != key]
        if not old:
            return 0
        pipe = self.db.pipeline(transaction=False)
        for key in old:
            pipe.hget(key, "at")
        at = dict(zip(old, pipe.execute(), strict=True))
        # of one receipt posted under several capitalised cases of its store, the first purchase takes the folded
        # key, whatever order the scan found them in; a copy already under the folded store ("pixel") keeps it, and
        # the capitalised copies stay where they are (their points were earned then: a refund reaches the folded
        # one only, so such a receipt refunded in full can leave the other copy's points; erasure blanks them all)
        old.sort(key=lambda key: float(at[key] or 0))
        return sum(int(self._move_receipt(keys=[key, folded_key(key)])) for key in old)

    @staticmethod
    def _post_result(raw) -> PostResult:
        status, *rest = (_s(x) for x in raw)
        if status in ("OK", "DUPLICATE"):
            member_id, points, state, balance, lifetime = rest
            return PostResult(status, member_id, int(points), state, int(balance), int(lifetime))
        if status in ("CONFLICT", "NO_MEMBER") and rest:
            return PostResult(status, rest[0])
        return PostResult(status)

    # ---- demo ---------------------------------------------------------------------------------

    def claim_seed_slot(self, venue: str) -> bool:
        """True once per venue, so seed_demo stays idempotent even when two processes seed at once."""
        keys = MemberKeys(venue)
        if self.db.exists(keys.count()):
            return False
        return bool(self.db.set(keys.seeded(), "1", nx=True))
