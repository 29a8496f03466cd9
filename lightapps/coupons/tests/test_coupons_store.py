"""The coupon store and codes, against a real Valkey: claim and redeem rules, one script each."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
import redis

from lightapps.coupons.codes import (
    ALPHABET,
    ForgedCode,
    format_code,
    looks_like_qr,
    new_code,
    normalize_code,
    qr_payload,
    read_qr_payload,
)
from lightapps.coupons.store import ClaimResult, CouponInputError, CouponKeys, CouponStore, parse_new_coupon

TODAY = date(2030, 6, 15)


def fields(**over):
    base = {"title_en": "Free toast", "title_zh": "免费吐司", "description_en": "with coffee", "stock": 3,
            "valid_from": 1000.0, "valid_until": 2000.0}
    base.update(over)
    return base


@pytest.fixture
def store(db):
    return CouponStore(db)


# ---- codes ---------------------------------------------------------------------------------------


def test_codes_are_random_base32_and_typing_is_forgiving():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 10 and set(c) <= set(ALPHABET) for c in codes)
    code = "0123456789"
    assert normalize_code(" o1234-56789 ") == code
    assert normalize_code("Ol23456789") == "0123456789"
    assert normalize_code(format_code("ABCDEFGHJK").lower()) == "ABCDEFGHJK"
    for bad in ("", None, "ABC", "ABCDEFGHJKM", "ABCDEFGHJ!", "U" * 10, "x" * 100):
        assert normalize_code(bad) is None


def test_qr_payload_is_signed():
    payload = qr_payload("secret-1", "demo", "ABCDEFGHJK")
    assert looks_like_qr(payload)
    assert read_qr_payload("secret-1", payload) == ("demo", "ABCDEFGHJK")
    with pytest.raises(ForgedCode):
        read_qr_payload("other-secret", payload)
    forged = payload.replace("ABCDEFGHJK", "ABCDEFGHJM")
    with pytest.raises(ForgedCode):
        read_qr_payload("secret-1", forged)
    for junk in ("MPC1:demo:ABCDEFGHJK", "MPC1:a:b:c:d", "MPC1:demo:abc:XYZ", "MPC1:" + "x" * 400):
        with pytest.raises(ForgedCode):
            read_qr_payload("secret-1", junk)


# ---- the owner form ------------------------------------------------------------------------------


def form(**over):
    base = {"title_en": "Free toast", "title_zh": "", "description_en": "", "stock": "10",
            "valid_from": "2030-06-15", "valid_until": "2030-07-15"}
    base.update(over)
    return base


def test_parse_new_coupon_accepts_a_good_form():
    parsed = parse_new_coupon(form(), today=TODAY)
    assert parsed["stock"] == 10
    assert parsed["valid_from"] == date(2030, 6, 15) and parsed["valid_until"] == date(2030, 7, 15)


@pytest.mark.parametrize("over, field", [
    ({"title_en": ""}, "title_zh"),  # neither language
    ({"title_en": "   "}, "title_zh"),
    ({"title_en": "x" * 81}, "title_en"),
    ({"title_zh": "字" * 81}, "title_zh"),
    ({"description_en": "x" * 501}, "description_en"),
    ({"stock": ""}, "stock"),
    ({"stock": "0"}, "stock"),
    ({"stock": "-3"}, "stock"),
    ({"stock": "2.5"}, "stock"),
    ({"stock": "ten"}, "stock"),
    ({"stock": "1000001"}, "stock"),
    ({"valid_from": ""}, "valid_from"),
    ({"valid_from": "15/06/2030"}, "valid_from"),
    ({"valid_from": "2030-02-30"}, "valid_from"),
    ({"valid_until": "20300715"}, "valid_until"),
    ({"valid_until": "2030-06-14"}, "valid_until"),  # before valid_from
    ({"valid_from": "2030-01-01", "valid_until": "2030-06-01"}, "valid_until"),  # in the past
    ({"valid_until": "2031-07-15"}, "valid_until"),  # longer than a year
    ({"valid_from": "9999-12-31", "valid_until": "9999-12-31"}, "valid_from"),  # years ahead (overflowed: 500)
    ({"parking_yuan": "-5"}, "parking_yuan"),
    ({"parking_yuan": "5.555"}, "parking_yuan"),
    ({"parking_yuan": "five"}, "parking_yuan"),
    ({"parking_yuan": "500.01"}, "parking_yuan"),
])
def test_parse_new_coupon_names_the_bad_field(over, field):
    with pytest.raises(CouponInputError) as err:
        parse_new_coupon(form(**over), today=TODAY)
    assert err.value.field == field
    assert err.value.message


def test_parking_value_is_kept_in_fen():
    assert parse_new_coupon(form(parking_yuan="5.5"), today=TODAY)["parking_fen"] == 550
    assert parse_new_coupon(form(parking_yuan=""), today=TODAY)["parking_fen"] == 0


def test_a_parking_coupon_is_held_then_redeemed_or_released_once(store):
    """The vouchers capability's store steps: only the holder's parking coupon, one ref at a time; while
    held the shop cannot redeem it; released it is the shopper's again; redeemed once."""
    coupon = store.create("demo", "kopi", fields(valid_until=4e9, parking_fen=500))
    plain = store.create("demo", "kopi", fields(valid_until=4e9))
    code = store.claim("demo", "kopi", coupon.id, "alice").code
    plain_code = store.claim("demo", "kopi", plain.id, "alice").code
    assert store.hold("demo", "alice", plain_code, "ref-0") is None  # not a parking coupon
    assert store.hold("demo", "bob", code, "ref-1") is None  # not bob's
    assert store.hold("demo", "alice", "NOSUCHCODE", "ref-1") is None
    assert store.hold("demo", "alice", code, "ref-1") == 500
    assert store.hold("demo", "alice", code, "ref-1") == 500  # the same order again: the same hold
    assert store.hold("demo", "alice", code, "ref-2") is None  # held for another order
    assert store.redeem("demo", "kopi", code, by="till").status == "HELD"
    assert store.end_hold("demo", "ref-2", redeem=True) is False
    assert store.end_hold("demo", "ref-1", redeem=False) is True  # the order closed unpaid
    assert store.end_hold("demo", "ref-1", redeem=False) is False
    assert store.issued("demo", code).state == "issued"
    assert store.hold("demo", "alice", code, "ref-3") == 500
    assert store.end_hold("demo", "ref-3", redeem=True) is True  # paid
    assert store.end_hold("demo", "ref-3", redeem=True) is True  # a replayed callback: nothing more
    assert store.end_hold("demo", "ref-3", redeem=False) is False  # a paid coupon is never given back
    assert store.issued("demo", code).state == "redeemed" and store.get("demo", coupon.id).redeemed == 1
    assert store.hold("demo", "alice", code, "ref-4") is None
    expired = store.create("demo", "kopi", fields(valid_until=time.time() + 60, parking_fen=300))
    late = store.claim("demo", "kopi", expired.id, "alice").code
    assert store.hold("demo", "alice", late, "ref-5", now=time.time() + 120) is None


def test_concurrent_holds_take_a_coupon_once(store, redis_url):
    coupon = store.create("demo", "kopi", fields(valid_until=4e9, parking_fen=500))
    code = store.claim("demo", "kopi", coupon.id, "alice").code
    connections = [redis.Redis.from_url(redis_url) for _ in range(20)]
    results = run_threads(20, lambda i: CouponStore(connections[i]).hold("demo", "alice", code, f"order-{i}"))
    assert [r for r in results if r is not None] == [500]
    for c in connections:
        c.close()


def test_dates_become_a_whole_day_window(store):
    coupon = store.create("demo", "kopi", parse_new_coupon(form(valid_until="2030-06-15"), today=TODAY))
    assert coupon.first_day == coupon.last_day == date(2030, 6, 15)
    assert coupon.valid_until - coupon.valid_from in (86400, 82800, 90000)  # DST days too


# ---- claim ---------------------------------------------------------------------------------------


def test_claim_gives_one_code_per_shopper(store):
    coupon = store.create("demo", "kopi", fields())
    first = store.claim("demo", "kopi", coupon.id, "alice", now=1500)
    assert first.ok and len(first.code) == 10
    again = store.claim("demo", "kopi", coupon.id, "alice", now=1500)
    assert again.status == "ALREADY" and again.code == first.code
    after = store.get("demo", coupon.id)
    assert (after.left, after.claimed) == (2, 1)
    issued = store.issued("demo", first.code)
    assert (issued.client, issued.zone, issued.state, issued.coupon_id) == ("alice", "kopi", "issued", coupon.id)
    assert [i.code for i, _c in store.wallet("demo", "alice")] == [first.code]
    assert store.held_codes("demo", "alice", [coupon.id]) == {coupon.id: first.code}


def test_a_claim_check_answers_as_the_claim_would_and_writes_nothing(store, db):
    """claim(check_only=True), which the view asks before it spends the shopper's budget: NEW where the claim
    would issue a code, else the claim's own answer (ALREADY with the held code, a refusal); never a write."""
    coupon = store.create("demo", "kopi", fields(stock=1))

    def snapshot() -> dict:
        return {k: db.dump(k) for k in db.keys("mp:{demo}:coupons:*")}

    before = snapshot()
    assert store.claim("demo", "kopi", coupon.id, "alice", now=1500, check_only=True) == ClaimResult("NEW")
    assert snapshot() == before
    held = store.claim("demo", "kopi", coupon.id, "alice", now=1500)
    check = store.claim("demo", "kopi", coupon.id, "alice", now=1500, check_only=True)
    assert held.ok and check == ClaimResult("ALREADY", held.code)
    before = snapshot()
    checks = [store.claim("demo", zone, coupon.id, "bob", now=now, check_only=True).status
              for zone, now in [("kopi", 1500), ("kopi", 999), ("kopi", 2000), ("books", 1500)]]
    assert checks == ["SOLD_OUT", "NOT_STARTED", "ENDED", "NO_COUPON"]
    assert snapshot() == before


def test_claim_stops_at_zero_stock(store):
    coupon = store.create("demo", "kopi", fields(stock=2))
    assert store.claim("demo", "kopi", coupon.id, "a", now=1500).ok
    assert store.claim("demo", "kopi", coupon.id, "b", now=1500).ok
    assert store.claim("demo", "kopi", coupon.id, "c", now=1500).status == "SOLD_OUT"
    assert store.get("demo", coupon.id).left == 0
    assert store.wallet("demo", "c") == []


def test_claim_only_inside_the_window_and_while_live(store):
    coupon = store.create("demo", "kopi", fields())
    assert store.claim("demo", "kopi", coupon.id, "a", now=999).status == "NOT_STARTED"
    assert store.claim("demo", "kopi", coupon.id, "a", now=2000).status == "ENDED"
    assert store.claim("demo", "kopi", coupon.id, "a", now=1000).ok
    assert store.stop("demo", "kopi", coupon.id)
    assert store.claim("demo", "kopi", coupon.id, "b", now=1500).status == "ENDED"
    assert store.get("demo", coupon.id).claimed == 1


def test_claim_of_unknown_or_other_zone_coupon(store):
    coupon = store.create("demo", "kopi", fields())
    assert store.claim("demo", "books", coupon.id, "a", now=1500).status == "NO_COUPON"
    assert store.claim("demo", "kopi", "999", "a", now=1500).status == "NO_COUPON"
    assert store.claim("demo", "kopi", "../x", "a", now=1500).status == "NO_COUPON"
    assert store.claim("other", "kopi", coupon.id, "a", now=1500).status == "NO_COUPON"
    assert store.get("demo", coupon.id).claimed == 0
    assert not store.stop("demo", "books", coupon.id)


def test_keys_carry_the_venue_hash_tag(store, db):
    coupon = store.create("demo", "kopi", fields())
    store.claim("demo", "kopi", coupon.id, "a", now=1500)
    keys = [k.decode() for k in db.keys("*")]
    assert keys and all(k.startswith("mp:{demo}:coupons:") for k in keys)
    assert CouponKeys("demo").coupon("1") == "mp:{demo}:coupons:c:1"


# ---- redeem --------------------------------------------------------------------------------------


def test_redeem_exactly_once_by_the_issuing_zone(store):
    coupon = store.create("demo", "kopi", fields())
    code = store.claim("demo", "kopi", coupon.id, "alice", now=1500).code
    wrong = store.redeem("demo", "books", code, by="books", now=1600)
    assert wrong.status == "WRONG_ZONE"
    assert store.issued("demo", code).state == "issued"
    ok = store.redeem("demo", "kopi", code, by="kopi", now=1600)
    assert ok.ok and ok.at == 1600
    again = store.redeem("demo", "kopi", code, by="kopi", now=1700)
    assert again.status == "ALREADY" and again.at == 1600
    issued = store.issued("demo", code)
    assert (issued.state, issued.redeemed_at, issued.redeemed_by) == ("redeemed", 1600, "kopi")
    assert store.get("demo", coupon.id).redeemed == 1


def test_redeem_unknown_and_expired(store):
    assert store.redeem("demo", "kopi", "ABCDEFGHJK", by="kopi").status == "NO_CODE"
    coupon = store.create("demo", "kopi", fields())
    code = store.claim("demo", "kopi", coupon.id, "alice", now=1500).code
    late = store.redeem("demo", "kopi", code, by="kopi", now=2000)
    assert late.status == "EXPIRED" and late.at == 2000
    assert store.issued("demo", code).state == "issued"
    assert store.get("demo", coupon.id).redeemed == 0


def test_stopped_coupon_still_redeems_codes_already_claimed(store):
    coupon = store.create("demo", "kopi", fields())
    code = store.claim("demo", "kopi", coupon.id, "alice", now=1500).code
    store.stop("demo", "kopi", coupon.id)
    assert store.redeem("demo", "kopi", code, by="kopi", now=1600).ok


# ---- concurrency against the store, each thread with its own connection ---------------------------


def run_threads(n, target):
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def body(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    return results


def test_concurrent_claims_never_oversell(store, redis_url):
    coupon = store.create("demo", "kopi", fields(stock=50, valid_until=4e9))
    connections = [redis.Redis.from_url(redis_url) for _ in range(200)]
    # 200 threads, 150 distinct shoppers (some claim twice at once).
    results = run_threads(200, lambda i: CouponStore(connections[i]).claim("demo", "kopi", coupon.id, f"s{i % 150}"))
    ok = [r for r in results if r.ok]
    assert len(ok) == 50
    assert len({r.code for r in ok}) == 50
    after = store.get("demo", coupon.id)
    assert (after.left, after.claimed) == (0, 50)
    holders = store.db.hgetall(CouponKeys("demo").holders(coupon.id))
    assert len(holders) == 50
    for c in connections:
        c.close()


def test_concurrent_redeems_succeed_once(store, redis_url):
    coupon = store.create("demo", "kopi", fields(valid_until=4e9))
    code = store.claim("demo", "kopi", coupon.id, "alice").code
    connections = [redis.Redis.from_url(redis_url) for _ in range(100)]
    results = run_threads(100, lambda i: CouponStore(connections[i]).redeem("demo", "kopi", code, by=f"till{i}"))
    assert sorted(r.status for r in results).count("OK") == 1
    assert {r.status for r in results} == {"OK", "ALREADY"}
    assert store.get("demo", coupon.id).redeemed == 1
    for c in connections:
        c.close()


def test_the_same_till_form_sent_again_answers_its_redemption(store, redis_url):
    """A double press or a reload of the till's form (its nonce) answers the first redemption again, also when the
    presses arrive together; the code is redeemed once, and another form (another nonce) is told "already"."""
    coupon = store.create("demo", "kopi", fields(valid_until=4e9))
    code = store.claim("demo", "kopi", coupon.id, "alice").code
    connections = [redis.Redis.from_url(redis_url) for _ in range(8)]
    presses = run_threads(8, lambda i: CouponStore(connections[i]).redeem("demo", "kopi", code, by="till",
                                                                         nonce="n" * 22))
    assert {r.status for r in presses} == {"OK"} and [r.replayed for r in presses].count(False) == 1
    assert len({r.at for r in presses}) == 1 and store.get("demo", coupon.id).redeemed == 1
    assert store.redeem("demo", "kopi", code, by="till", nonce="m" * 22).status == "ALREADY"
    assert store.redeem("demo", "kopi", code, by="till").status == "ALREADY"  # a form without one: as before
    assert store.redeem("demo", "books", code, by="till", nonce="n" * 22).status == "WRONG_ZONE"  # not replayed
    for c in connections:
        c.close()


def test_seed_slot_is_taken_once(store):
    assert store.claim_seed_slot("demo", "kopi")
    assert not store.claim_seed_slot("demo", "kopi")
    store.db.delete(CouponKeys("demo").seeded("books"))
    store.create("demo", "books", fields())
    assert not store.claim_seed_slot("demo", "books")


def test_create_stores_typed_fields(store):
    coupon = store.create("demo", "kopi", fields(valid_from=date(2030, 1, 1), valid_until=date(2030, 1, 2)),
                          created_by="kopi")
    assert coupon.stock == coupon.left == 3 and coupon.created_by == "kopi" and coupon.status == "live"
    assert coupon.title(True) == "免费吐司" and coupon.title(False) == "Free toast"
    assert coupon.last_day - coupon.first_day == timedelta(days=1)
    assert [c.id for c in store.for_zone("demo", "kopi")] == [coupon.id]
    assert store.live_for_zone("demo", "kopi", now=coupon.valid_from) == [coupon]
    assert store.live_for_zone("demo", "kopi", now=coupon.valid_until) == []
