"""Flash sales paid online: stock goes to money, not to clicks.

"Buy now" reserves one unit for a few minutes (counted in the sale's `taken`, so the sale shows sold out
while reservations are open) and opens a payment order for it. The paid order captures the unit (the
shopper's confirmation code, as a free sign-up gets); an order closed unpaid gives the unit back; a
reservation that lapsed is given back by the next reservation or capture (until then, reading the sale
counts it as free: store.py, `ActivityStore._read`). A payment that arrives when no
unit is left (its reservation lapsed and the stock went to someone else) is refunded by the payment
service. Each change is one Lua script on the venue's slot.

Keys, beside the activity's own (lightapps/activities/store.py, `ActivityKeys`, which builds these too):
  mp:{v}:act:i:<id>:pending     HASH  shopper client -> reservation token (the order's ref)
  mp:{v}:act:i:<id>:pendexp     ZSET  shopper client -> reservation expiry (ms)

Erasing a shopper (store.py, `ActivityStore.forget_shopper`) gives their open reservation back; their order then
names nobody and, if paid after all, is refunded."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis
from flask import Flask, current_app

from core.storage import LUA_KEEP
from lightapps.activities import deposits
from lightapps.activities.prices import read_price
from lightapps.activities.store import (
    ITEM_ID,
    KEEP_AFTER_END_S,
    SALE_PURPOSE,
    Activity,
    ActivityKeys,
    new_confirmation,
)
from portal.apps.views import STORES
from portal.events.log import EventLog
from portal.payments.service import PaymentService
from portal.payments.store import Order
from portal.services import services

PURPOSE = SALE_PURPOSE
RESERVE_S = 5 * 60  # how long a reserved unit waits for its payment


class SaleKeys(ActivityKeys):
    """A paid sale's keys: `pending` and `pending_expiry` are built by ActivityKeys itself, since reading a sale
    (store.py) counts its lapsed reservations as free."""


_PURGE = """
local function purge(now)
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
  for _, c in ipairs(lapsed) do
    redis.call('HDEL', KEYS[3], c)
    redis.call('ZREM', KEYS[4], c)
    redis.call('HINCRBY', KEYS[1], 'taken', -1)
  end
end
"""

# KEYS item, who, pending, pendexp. ARGV client, token, now ms, ttl ms.
# Returns {'OK'} | {'PENDING', token} | {'ALREADY'} | {'NO_ITEM'} | {'CLOSED'} | {'NOT_STARTED'} | {'ENDED'} | {'FULL'}.
_RESERVE = _PURGE + """
local it = redis.call('HMGET', KEYS[1], 'kind', 'status', 'starts_at', 'ends_at', 'limit', 'taken')
if it[1] ~= 'sale' then return {'NO_ITEM'} end
local now = tonumber(ARGV[3])
if (it[2] or 'live') ~= 'live' then return {'CLOSED'} end
if now / 1000 < tonumber(it[3]) then return {'NOT_STARTED'} end
if now / 1000 >= tonumber(it[4]) then return {'ENDED'} end
purge(now)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'ALREADY'} end
local mine = redis.call('HGET', KEYS[3], ARGV[1])
if mine then return {'PENDING', mine} end
local limit, taken = tonumber(it[5] or 0), tonumber(redis.call('HGET', KEYS[1], 'taken') or 0)
if limit > 0 and taken >= limit then return {'FULL'} end
redis.call('HINCRBY', KEYS[1], 'taken', 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[1])
return {'OK'}
"""

# The order is paid. KEYS item, who, pending, pendexp, mine. ARGV client, token, now ms, code, item id,
# keep after the sale ends (s), the shopper token's lifetime (s). Returns {'OK', code} | {'SOLD_OUT'}.
_CAPTURE = _PURGE + LUA_KEEP + """
local code = redis.call('HGET', KEYS[2], ARGV[1])
if code then return {'OK', code} end
local now = tonumber(ARGV[3])
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
else
  purge(now)
  local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or 0)
  if limit > 0 and tonumber(redis.call('HGET', KEYS[1], 'taken') or 0) >= limit then return {'SOLD_OUT'} end
  redis.call('HINCRBY', KEYS[1], 'taken', 1)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[5], now / 1000, ARGV[5])
keep_record(KEYS[2], KEYS[5], now / 1000, redis.call('HGET', KEYS[1], 'ends_at') or now / 1000, ARGV[6], ARGV[7])
return {'OK', ARGV[4]}
"""

# The order closed unpaid. KEYS item, who, pending, pendexp. ARGV client, token. Returns 1 if a unit came back.
_RELEASE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'taken', -1)
return 1
"""


@dataclass(frozen=True)
class Reservation:
    status: str  # OK | PENDING | ALREADY | NO_ITEM | CLOSED | NOT_STARTED | ENDED | FULL
    token: str = ""


class SaleStock:
    def __init__(self, db: redis.Redis, shopper_ttl_s: int) -> None:
        self.db = db
        self.shopper_ttl_s = shopper_ttl_s
        self._reserve = db.register_script(_RESERVE)
        self._capture = db.register_script(_CAPTURE)
        self._release = db.register_script(_RELEASE)

    def _keys(self, venue: str, item_id: str, client: str) -> list[str]:
        k = SaleKeys(venue)
        return [k.item(item_id), k.who(item_id), k.pending(item_id), k.pending_expiry(item_id), k.mine(client)]

    def reserve(self, venue: str, item_id: str, client: str, now_ms: int | None = None) -> Reservation:
        if not ITEM_ID.match(item_id or "") or not client:
            return Reservation("NO_ITEM")
        token = secrets.token_hex(8)
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        status, *rest = self._reserve(keys=self._keys(venue, item_id, client)[:4],
                                      args=[client, token, now_ms, RESERVE_S * 1000])
        status = status.decode()
        return Reservation(status, token if status == "OK" else (rest[0].decode() if rest else ""))

    def reserved(self, venue: str, item_id: str, client: str, now_ms: int | None = None) -> bool:
        """Whether the shopper holds a reservation still waiting for its payment (Buy now again gives it back)."""
        expires = self.db.zscore(SaleKeys(venue).pending_expiry(item_id), client)
        return expires is not None and expires > (int(time.time() * 1000) if now_ms is None else now_ms)

    def capture(self, venue: str, item_id: str, client: str, token: str, now_ms: int | None = None) -> str | None:
        """The confirmation code, or None when no unit is left for this payment, or when it names no shopper: an
        erased shopper's order (its reservation was given back; the payment service refunds it)."""
        if not client:
            return None
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        status, *rest = self._capture(keys=self._keys(venue, item_id, client),
                                      args=[client, token, now_ms, new_confirmation(), item_id, KEEP_AFTER_END_S,
                                            self.shopper_ttl_s])
        return rest[0].decode() if status == b"OK" else None

    def release(self, venue: str, item_id: str, client: str, token: str) -> bool:
        return bool(self._release(keys=self._keys(venue, item_id, client)[:4], args=[client, token]))


def price_fen(item: Activity) -> int | None:
    """The sale's or group buy's price in fen (0: none, free), read as the console reads it (prices.py); None
    when it cannot be read (free text saved before prices were checked, "30/人"): unknown, never free."""
    try:
        return read_price(item.price)
    except ValueError:
        return None


def register(flask_app: Flask) -> None:
    """Tell the payment service what a paid or closed sale order (and a group buy's deposit) means (once per
    process)."""
    stock = SaleStock(flask_app.extensions["mallportal"].db, flask_app.extensions[STORES]["activities"].shopper_ttl_s)
    flask_app.extensions[STORES]["activities.sale"] = stock
    payments: PaymentService = flask_app.extensions["mallportal"].payments
    events: EventLog = flask_app.extensions["mallportal"].events

    def on_paid(order: Order) -> bool:
        item_id, _sep, token = order.ref.partition(":")
        if stock.capture(order.venue, item_id, order.shopper, token) is None:
            return False
        deposits.paid_joined(events, order, item_id)  # the sign-up the join form records for a free one, once paid
        return True

    def on_closed(order: Order) -> None:
        item_id, _sep, token = order.ref.partition(":")
        stock.release(order.venue, item_id, order.shopper, token)

    payments.register(PURPOSE, on_paid, on_closed)
    deposits.register(flask_app, flask_app.extensions[STORES]["activities"], payments)  # group-buy deposits


def sale_stock() -> SaleStock:
    return current_app.extensions[STORES]["activities.sale"]


def buy(venue: str, item: Activity, client: str, return_url: str, stock: SaleStock | None = None) -> Order | str:
    """Reserve a unit and open its order; or the refusal (FULL, ENDED, ...; PRICE: no price it can read). Asking
    again while the reservation is open gives the same order."""
    stock = stock or sale_stock()
    payments = services().payments
    price = price_fen(item)
    if not price:  # the caller checked; an order for no amount, or a guessed one, is never opened
        return "PRICE"
    reserved = stock.reserve(venue, item.id, client)
    if reserved.status not in ("OK", "PENDING"):
        return reserved.status
    order = payments.create(venue, merchant=item.zone, shopper=client, amount=price, purpose=PURPOSE,
                            ref=f"{item.id}:{reserved.token}", description=item.title_zh or item.title_en,
                            idem=f"{PURPOSE}:{item.id}:{client}:{reserved.token}",
                            # the description in each language, for the payment page (templates/payments/order.html)
                            items=[{"sku": f"activity:{item.id}", "qty": 1, "price": price,
                                    "description_zh": item.title_zh, "description_en": item.title_en}],
                            ttl_s=RESERVE_S, return_url=return_url)
    return order
