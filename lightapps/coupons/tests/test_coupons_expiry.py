"""Every record a claim writes about a shopper expires (a real Valkey): the code and the coupon's holder list
after the coupon's validity plus a grace period, the wallet at least the shopper token's lifetime after each
claim and never before its codes; a claim only moves an expiry later. Without these an anonymous shopper's
records would outlive the only token that can reach them, for ever."""

from __future__ import annotations

import pytest

from lightapps.coupons.store import HOLD_KEEP_S, KEEP_AFTER_END_S, CouponKeys, CouponStore
from portal.apps.views import STORES

NOW = 1_900_000_000.0
DAY = 86400
TOKEN_LIFE = 30 * DAY
SLACK = 5  # seconds the test itself may take


@pytest.fixture
def store(db):
    return CouponStore(db, shopper_ttl_s=TOKEN_LIFE)


def coupon(store, days_left: float, zone: str = "kopi"):
    return store.create("demo", zone, {"title_en": "Toast", "stock": 10, "valid_from": NOW - DAY,
                                       "valid_until": NOW + days_left * DAY}, now=NOW - DAY)


def claim(store, coupon_id: str, client: str = "anon-1", zone: str = "kopi") -> str:
    result = store.claim("demo", zone, coupon_id, client, now=NOW)
    assert result.ok
    return result.code


def test_a_claim_gives_every_record_an_expiry_past_the_coupons_validity(store, db):
    keys = CouponKeys("demo")
    first = coupon(store, days_left=10)
    code = claim(store, first.id)
    usable = first.valid_until - NOW
    for key in (keys.code(code), keys.holders(first.id)):
        assert usable + KEEP_AFTER_END_S - SLACK <= db.ttl(key) <= usable + KEEP_AFTER_END_S, key
    assert db.ttl(keys.wallet("anon-1")) >= max(TOKEN_LIFE, usable + KEEP_AFTER_END_S) - SLACK
    assert store.redeem("demo", "kopi", code, by="till", now=first.valid_until - 1).ok  # still redeemable


def test_the_wallet_outlives_its_longest_coupon_and_a_claim_never_shortens_it(store, db):
    wallet = CouponKeys("demo").wallet("anon-1")
    long_one = coupon(store, days_left=300)
    claim(store, long_one.id)
    assert db.ttl(wallet) >= 300 * DAY + KEEP_AFTER_END_S - SLACK  # longer than the token: the code needs it
    claim(store, coupon(store, days_left=1).id)
    assert db.ttl(wallet) >= 300 * DAY + KEEP_AFTER_END_S - SLACK


def test_a_second_claim_refreshes_the_wallet(store, db):
    wallet = CouponKeys("demo").wallet("anon-1")
    claim(store, coupon(store, days_left=1).id)
    db.expire(wallet, 60)  # as if the first claim were a month old
    claim(store, coupon(store, days_left=1).id)
    assert db.ttl(wallet) >= TOKEN_LIFE - SLACK


def test_records_written_before_expiries_get_one_on_the_next_claim(store, db):
    keys = CouponKeys("demo")
    old = coupon(store, days_left=5)
    db.zadd(keys.wallet("anon-1"), {"OLDCODE": NOW - DAY})  # no TTL, as written before
    db.hset(keys.holders(old.id), "someone-else", "OLDCODE")
    claim(store, old.id)
    assert db.ttl(keys.wallet("anon-1")) > 0 and db.ttl(keys.holders(old.id)) > 0


def test_a_held_parking_code_outlives_its_order():
    assert KEEP_AFTER_END_S >= HOLD_KEEP_S  # held on the last valid day, paid within HOLD_KEEP_S: still there


def test_the_platform_builds_the_store_with_the_shopper_token_lifetime(app, svc):
    assert app.extensions[STORES]["coupons"].shopper_ttl_s == svc.settings.shopper_token_ttl_s
