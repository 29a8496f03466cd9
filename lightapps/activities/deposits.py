"""Group buys with a deposit: joining a priced group buy pays its price as a deposit through the payment
service, and only a paid deposit makes the shopper a member (counted towards the group's size).

- Paid: one Lua script joins the shopper and records the deposit order (a replayed callback finds the same
  order and changes nothing; a deposit that arrives after the deadline, for a full or stopped group, or from
  a shopper who is already a member, cannot join and the payment service refunds it at once).
- Filled: when the members reach the size needed, the group's deposits are captured (kept: the group goes
  ahead) in the same script; the organiser may still cancel it, which refunds them.
- Failed (the deadline passed unfilled) or cancelled: every deposit is refunded by the sweep
  (`flask payments sweep VENUE`, the payments cron), each under its own fixed refund number, so a second
  or concurrent sweep refunds nothing twice. The group leaves the sweep's list once every deposit is back.

Keys, beside the activity's own (lightapps/activities/store.py):
  mp:{v}:act:i:<id>:deposits   HASH  member client -> paid deposit order id
  mp:{v}:act:i:<id>:orders     HASH  shopper client -> their deposit attempt, the end of the idempotency key
                                     `group:<id>:<client>:<attempt>` of their latest deposit order (one open
                                     order each); kept until 30 days past the deadline
  mp:{v}:act:depgroups         ZSET  group id -> deadline (s): groups holding deposits, until settled
The item hash gains `deposits` = held | captured | refunding | refunded.

Erasing a shopper (store.py, `ActivityStore.forget_shopper`) drops their attempt; a paid deposit of a group still on
is first kept for her under a keeper id (`ActivityStore.hand_over`, me.py `paid`), and one not kept (a group that
failed or was cancelled, or the keeper's once erased) stays a member, counted and refunded as before, under
`erased:<order id>` in place of their client id."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, current_app, has_request_context

from core.storage import LUA_KEEP
from lightapps.activities import notices
from lightapps.activities.store import (
    GROUP_PURPOSE,
    ITEM_ID,
    KEEP_AFTER_END_S,
    Activity,
    ActivityKeys,
    ActivityStore,
    new_confirmation,
)
from portal.apps.views import STORES
from portal.events.log import EventLog, paid_transaction
from portal.payments.service import PaymentService
from portal.payments.store import Order
from portal.services import services

log = logging.getLogger(__name__)
PURPOSE = GROUP_PURPOSE
DEPOSIT_WAIT_S = 5 * 60  # how long a deposit order waits for its payment (never past the deadline)
STORE_NAME = "activities.deposits"
APP_NAME = "activities"  # the app's name (APP in lightapps/activities/__init__.py, which imports this module)


class DepositKeys(ActivityKeys):
    """`deposits` and `orders` are built by ActivityKeys itself, since erasing a shopper (store.py) finds them."""

    def groups(self) -> str:
        return self.key("act", "depgroups")


# A deposit was paid. KEYS item, who, mine, deposits, groups. ARGV client, now (s), item id, code, order id,
# keep after the deadline (s), the shopper token's lifetime (s).
# Returns {'OK', code} | {'ALREADY'} | {'NO_ITEM'} | {'CLOSED'} | {'ENDED'} | {'FULL'}.
_JOIN_PAID = LUA_KEEP + """
local mine = redis.call('HGET', KEYS[4], ARGV[1])
if mine == ARGV[5] then return {'OK', redis.call('HGET', KEYS[2], ARGV[1])} end
if mine or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'ALREADY'} end
local f = redis.call('HMGET', KEYS[1], 'kind', 'status', 'ends_at', 'limit', 'taken', 'needed', 'outcome')
if f[1] ~= 'group' then return {'NO_ITEM'} end
if f[2] ~= 'live' or f[7] then return {'CLOSED'} end
local now = tonumber(ARGV[2])
if now >= tonumber(f[3]) then return {'ENDED'} end
local limit = tonumber(f[4] or 0)
if limit > 0 and tonumber(f[5]) >= limit then return {'FULL'} end
local taken = redis.call('HINCRBY', KEYS[1], 'taken', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
keep_record(KEYS[2], KEYS[3], now, f[3], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
redis.call('ZADD', KEYS[5], f[3], ARGV[3])
if taken >= tonumber(f[6]) then
  if taken == tonumber(f[6]) then redis.call('HSET', KEYS[1], 'reached_at', ARGV[2]) end
  redis.call('HSET', KEYS[1], 'deposits', 'captured')
else
  redis.call('HSET', KEYS[1], 'deposits', 'held')
end
return {'OK', ARGV[4]}
"""

# A new deposit attempt for the shopper. KEYS orders. ARGV client, the attempt the caller found ('' for none),
# a new attempt, keep (s). Claimed only while the slot still holds what the caller found, so taps at the same
# moment agree on one attempt, hence one idempotency key and one order. Returns the shopper's attempt now.
_CLAIM = LUA_KEEP + """
local found = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if found ~= '' and found ~= ARGV[2] then return found end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
keep(KEYS[1], tonumber(ARGV[4]))
return ARGV[3]
"""

# The sweep's verdict on a group. KEYS item, groups. ARGV item id, state (refunding | refunded | captured),
# '1' = the group is done with (leaves the sweep's list).
_MARK = """
redis.call('HSET', KEYS[1], 'deposits', ARGV[2])
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
"""


class DepositStore:
    def __init__(self, db: redis.Redis, shopper_ttl_s: int) -> None:
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self._join_paid = db.register_script(_JOIN_PAID)
        self._mark = db.register_script(_MARK)
        self._claim = db.register_script(_CLAIM)

    def join_paid(self, venue: str, item_id: str, client: str, order_id: str, now: float | None = None) -> str:
        """OK (a member, now or already by this order), or why this deposit cannot join."""
        if not ITEM_ID.match(item_id or "") or not client:
            return "NO_ITEM"
        k = DepositKeys(venue)
        status, *_rest = self._join_paid(
            keys=[k.item(item_id), k.who(item_id), k.mine(client), k.deposits(item_id), k.groups()],
            args=[client, repr(time.time() if now is None else now), item_id, new_confirmation(), order_id,
                  KEEP_AFTER_END_S, self.shopper_ttl_s])
        return status.decode()

    def deposits(self, venue: str, item_id: str) -> dict[str, str]:
        """member client -> their paid deposit order."""
        raw = self.db.hgetall(DepositKeys(venue).deposits(item_id))
        return {c.decode(): o.decode() for c, o in raw.items()}

    def deposit(self, venue: str, item_id: str, client: str) -> str:
        """This member's paid deposit order ("" when she has none): `deposits`, for one member."""
        value = self.db.hget(DepositKeys(venue).deposits(item_id), client)
        return value.decode() if value else ""

    def state(self, venue: str, item_id: str) -> str:
        value = self.db.hget(DepositKeys(venue).item(item_id), "deposits")
        return value.decode() if value else ""

    def attempt(self, venue: str, item_id: str, client: str) -> str:
        """The shopper's current deposit attempt ("" before the first)."""
        value = self.db.hget(DepositKeys(venue).orders(item_id), client)
        return value.decode() if value else ""

    def claim_attempt(self, venue: str, item_id: str, client: str, found: str, keep_s: float) -> str:
        """A new attempt in place of `found` (the one the caller read, "" for none), or the attempt a tap at the
        same moment claimed first: every tap gets the same one."""
        return self._claim(keys=[DepositKeys(venue).orders(item_id)],
                           args=[client, found, new_confirmation(), int(keep_s) + 1]).decode()

    def due(self, venue: str, now: float, limit: int = 100) -> list[str]:
        """Groups holding deposits whose deadline has passed (or that were stopped: checked by the sweep)."""
        return [i.decode() for i in self.db.zrangebyscore(DepositKeys(venue).groups(), "-inf", now, 0, limit)]

    def held(self, venue: str, limit: int = 500) -> list[str]:
        return [i.decode() for i in self.db.zrange(DepositKeys(venue).groups(), 0, limit - 1)]

    def mark(self, venue: str, item_id: str, state: str, done: bool) -> None:
        k = DepositKeys(venue)
        self._mark(keys=[k.item(item_id), k.groups()], args=[item_id, state, "1" if done else "0"])


def deposit_store() -> DepositStore:
    return current_app.extensions[STORES][STORE_NAME]


def register(flask_app: Flask, activities: ActivityStore, payments: PaymentService) -> None:
    """Tell the payment service what a paid deposit means, and sweep failed groups' deposits back."""
    deposits = DepositStore(flask_app.extensions["mallportal"].db, activities.shopper_ttl_s)
    flask_app.extensions[STORES][STORE_NAME] = deposits
    events: EventLog = flask_app.extensions["mallportal"].events

    def on_paid(order: Order) -> bool:
        outcome = deposits.join_paid(order.venue, order.ref, order.shopper, order.id)
        if outcome != "OK":
            log.info("group deposit %s cannot join group %s: %s (refunded)", order.id, order.ref, outcome)
            return False
        paid_joined(events, order, order.ref)
        if has_request_context():  # tell the members (the group is on, or when it fails): once each
            item = activities.get(order.venue, order.ref)
            if item is not None:
                notices.after_join(activities, order.venue, item, order.shopper)
        return True

    payments.register(PURPOSE, on_paid)
    payments.add_sweeper(lambda venue: sweep(venue, activities, deposits, payments))


def paid_joined(events: EventLog, order: Order, item_id: str) -> None:
    """The shopper's transaction for a paid group deposit or sale's unit (payment.py), as the join form records a free
    sign-up (`activity_join`): once per order, when it is paid."""
    paid_transaction(events, order, APP_NAME, "activity_join", item=item_id)


def refund_no(order_id: str) -> str:
    """One fixed refund number per deposit: a second sweep asks for the same refund, never a second one."""
    return order_id + "G"


def sweep(venue: str, activities: ActivityStore, deposits: DepositStore, payments: PaymentService,
          now: float | None = None) -> int:
    """Refund every deposit of the groups that failed or were cancelled; keep those of groups that went
    ahead. Returns the number of refunds that went through now. Idempotent. `now` (s): the payment
    service's clock unless given."""
    if now is None:
        clock_ms = payments.clock()
        now = time.time() if clock_ms is None else clock_ms / 1000
    refunded = 0
    for item_id in set(deposits.due(venue, now)) | {i for i in deposits.held(venue) if _stopped(activities, venue, i)}:
        item = activities.get(venue, item_id, now)
        if item is None:
            continue
        if item.outcome == "succeeded":
            deposits.mark(venue, item_id, "captured", done=True)
            continue
        if item.outcome not in ("failed", "cancelled"):
            continue
        refunded += _refund_all(venue, item, deposits, payments)
    return refunded


def _stopped(activities: ActivityStore, venue: str, item_id: str) -> bool:
    return activities.db.hget(ActivityKeys(venue).item(item_id), "outcome") == b"cancelled"


def _refund_all(venue: str, item: Activity, deposits: DepositStore, payments: PaymentService) -> int:
    done, back = 0, 0
    members = deposits.deposits(venue, item.id)
    for order_id in members.values():
        order = payments.order(venue, order_id)
        if order is None:
            continue
        left = order.amount - order.refunded
        if left > 0:
            reason = "group buy failed" if item.outcome == "failed" else "group buy cancelled"
            if payments.refund(venue, order_id, left, reason, refund_no=refund_no(order_id)) == "done":
                done += 1
            order = payments.order(venue, order_id)
        back += order.status == "refunded"
    finished = back == len(members)
    deposits.mark(venue, item.id, "refunded" if finished else "refunding", done=finished)
    return done


def deposit_key(item_id: str, client: str, attempt: str) -> str:
    """The idempotency key of the shopper's deposit order for one attempt: asking again gives the same order."""
    return f"{PURPOSE}:{item_id}:{client}:{attempt}"


def _waiting(order: Order | None, now: float) -> bool:
    return order is not None and order.status == "created" and order.expires_ms > now * 1000


def open_deposit(venue: str, item_id: str, client: str) -> Order | None:
    """The shopper's deposit order still waiting for payment (Join again leads back to it), if any."""
    attempt = deposit_store().attempt(venue, item_id, client)
    order = services().payments.store.order_for_key(venue, deposit_key(item_id, client, attempt)) if attempt else None
    return order if _waiting(order, time.time()) else None


def pay_deposit(venue: str, item: Activity, client: str, price: int, return_url: str) -> Order | str:
    """The shopper's deposit order (the same one while it waits for payment, also for taps at the same moment),
    or why not: ALREADY (a member), ENDED, CLOSED, FULL."""
    now = time.time()
    state = item.state(now)
    if state in ("full", "closed", "ended", "succeeded", "failed", "cancelled"):
        return {"full": "FULL", "closed": "CLOSED"}.get(state, "ENDED")
    deposits = deposit_store()
    if client in deposits.deposits(venue, item.id):
        return "ALREADY"
    found = deposits.attempt(venue, item.id, client)
    order = _deposit_order(venue, item, client, price, found, return_url, now) if found else None
    if _waiting(order, now):
        return order
    # None yet, or its order was closed unpaid (or paid and refunded: it could not join): a new attempt, unless a
    # tap at the same moment claimed one first (then its order, made once by the shared idempotency key).
    attempt = deposits.claim_attempt(venue, item.id, client, found, max(item.ends_at - now, 0) + KEEP_AFTER_END_S)
    return _deposit_order(venue, item, client, price, attempt, return_url, now)


def _deposit_order(venue: str, item: Activity, client: str, price: int, attempt: str, return_url: str,
                   now: float) -> Order:
    """The attempt's order: made by the first call, given back to every later one (the idempotency key)."""
    return services().payments.create(
        venue, merchant=item.zone, shopper=client, amount=price, purpose=PURPOSE, ref=item.id,
        description=item.title_zh or item.title_en, idem=deposit_key(item.id, client, attempt),
        items=[{"sku": f"activity:{item.id}", "qty": 1, "price": price, "deposit": True,
                # the description in each language, for the payment page (templates/payments/order.html)
                "description_zh": item.title_zh, "description_en": item.title_en}],
        ttl_s=max(1.0, min(DEPOSIT_WAIT_S, item.ends_at - now)), return_url=return_url)
