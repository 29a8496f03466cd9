"""Membership store and codes against the real (embedded) Valkey: phone numbers, sign-up codes
(wrong, expired, too many attempts, rate limits), binding, rotating member codes, purchases and refunds
counted exactly once (also with many threads on separate connections)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import redis

from lightapps.membership import codes
from lightapps.membership import store as store_module
from lightapps.membership.store import (
    BRAKE_CALLERS,
    CALLER_MEMBER_MAX_FAILURES,
    CODE_FAILURE_WINDOW_S,
    CODE_TTL_S,
    FOLD_MARK_S,
    FOLD_WINDOW_S,
    MAX_ATTEMPTS,
    MAX_CODE_FAILURES,
    RESEND_COOLDOWN_S,
    VERIFIED_KEEP_S,
    Caller,
    FieldError,
    MemberKeys,
    MemberStore,
    parse_amount,
    parse_receipt_id,
    points_for,
    tier_for,
)

SECRET = "store-test-secret"
PHONE = "+8613800138001"
PHONE_KEY = "store-test-phone-key"


@pytest.fixture
def store(db):
    return MemberStore(db, SECRET, PHONE_KEY)


def member(store, phone=PHONE, client="alice"):
    return store.bind("demo", phone, client)[0]


# ---- codes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, want", [
    ("+86 138-0013 8000", "+8613800138000"), ("0044 (20) 7946.0958", "+442079460958"), ("+6591234567", "+6591234567"),
    ("13800138000", "+8613800138000"), ("138 0013 8000", "+8613800138000"), ("+8613800138000", "+8613800138000"),
    ("+８６１３８００１３８０００", "+8613800138000"),  # full-width digits, as a Chinese keyboard types them
])
def test_phone_numbers_are_normalised(raw, want):
    assert codes.normalize_phone(raw) == want


@pytest.mark.parametrize("raw", ["", None, "1380013800", "+0123456789", "+12345", "+1234567890123456",
                                 "+86abc12345678", "+" + "1" * 40])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(codes.PhoneError):
        codes.normalize_phone(raw)


def test_totp_matches_rfc6238_vector():
    # RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T=59 -> 94287082 (8 digits) -> ...287082
    secret = b"12345678901234567890".hex()
    assert codes.totp(secret, codes.step_of(59)) == "287082"
    assert codes.totp(secret, codes.step_of(1111111109)) == "081804"


def test_rotating_code_accepted_within_one_step_only():
    secret = codes.new_member_secret()
    now = 1_700_000_015.0
    code = codes.totp(secret, codes.step_of(now))
    assert codes.code_matches(secret, code, now)
    assert codes.code_matches(secret, code, now + 30)  # next step: still fine (skew)
    assert codes.code_matches(secret, code, now - 30)
    assert not codes.code_matches(secret, code, now + 60)
    assert not codes.code_matches(secret, code, now - 60)


def test_a_code_of_the_hour_before_is_expired_not_wrong():
    secret = b"12345678901234567890".hex()  # fixed, so no old code happens to equal a recent one
    now = 1_700_000_015.0
    step = codes.step_of(now)
    assert codes.judge_code(secret, codes.totp(secret, step - 1), now) == "OK"
    assert codes.judge_code(secret, codes.totp(secret, step - 2), now) == "STALE"
    assert codes.judge_code(secret, codes.totp(secret, step - 1 - codes.RECENT_STEPS), now) == "STALE"
    assert codes.judge_code(secret, codes.totp(secret, step - 2 - codes.RECENT_STEPS), now) == "WRONG"
    assert codes.judge_code(secret, codes.totp(secret, step + 2), now) == "WRONG"  # a code not shown yet


def test_member_code_parsing():
    assert codes.parse_member_code("100001-123456", "demo") == ("100001", "123456")
    assert codes.parse_member_code(" 100001 123456 ", "demo") == ("100001", "123456")
    assert codes.parse_member_code("MPM1:demo:100001:123456", "demo") == ("100001", "123456")
    for bad in ("", "12345-123456", "100001-12345", "MPM1:demo:100001", "MPM1:demo:x:123456", "hello"):
        with pytest.raises(codes.BadMemberCode):
            codes.parse_member_code(bad, "demo")
    with pytest.raises(codes.BadMemberCode, match="another mall"):
        codes.parse_member_code("MPM1:elsewhere:100001:123456", "demo")


def test_amounts_and_points():
    assert parse_amount("128.50") == 12850
    assert parse_amount(3) == 300
    assert points_for(12850) == 128 and points_for(99) == 0
    for bad in (None, "", "0", -5, "1.234", "abc", True, "NaN", "Infinity", "1e9", [1], {}):
        with pytest.raises(FieldError):
            parse_amount(bad)
    for bad in ("", None, "x" * 65, "a b", "a:b", 5):
        with pytest.raises(FieldError):
            parse_receipt_id(bad)


def test_tiers():
    assert tier_for(0)[0] == "silver" and tier_for(999)[0] == "silver"
    assert tier_for(1000)[0] == "gold" and tier_for(5000)[0] == "platinum"


# ---- sign-up ------------------------------------------------------------------------------------


def test_verify_with_the_right_code_creates_a_member_bound_to_the_shopper(store):
    start = store.start_verification("demo", PHONE, "alice")
    assert start.ok and len(start.code) == 6
    assert store.pending_phone("demo", "alice") == PHONE
    otp = MemberKeys("demo").otp(store.vault.hashed(PHONE))
    assert start.code.encode() not in b"".join(store.db.hvals(otp))  # only its HMAC
    result = store.verify("demo", PHONE, "alice", start.code)
    assert result.ok and result.created
    assert store.for_client("demo", "alice") == result.member
    assert result.member.phone == PHONE and result.member.points == 0
    assert store.count("demo") == 1
    # The code is used up: it binds no other shopper, and stays right for her only VERIFIED_KEEP_S (below).
    assert store.verify("demo", PHONE, "mallory", start.code).status == "EXPIRED"
    assert 0 < store.db.ttl(otp) <= VERIFIED_KEEP_S


def test_a_right_code_sent_again_by_her_is_right_again(store):
    """A double tap on Verify: the second POST may reach the store after the first made her a member, or before
    the first has bound her: either way she is that member, once, and no wrong code is counted."""
    start = store.start_verification("demo", PHONE, "alice")
    first = store.verify("demo", PHONE, "alice", start.code)
    again = store.verify("demo", PHONE, "alice", start.code)
    assert again.ok and not again.created and again.member == first.member
    assert store.count("demo") == 1 and store.for_client("demo", "alice") == first.member
    wrong = "000000" if start.code != "000000" else "111111"
    assert store.verify("demo", PHONE, "alice", wrong).status == "EXPIRED"  # a done code takes no more tries
    assert store.verify("demo", PHONE, "alice", start.code).ok


def test_wrong_code_counts_attempts_then_locks(store):
    start = store.start_verification("demo", PHONE, "alice")
    wrong = "000000" if start.code != "000000" else "111111"
    results = [store.verify("demo", PHONE, "alice", wrong) for _ in range(MAX_ATTEMPTS)]
    assert [r.status for r in results[:-1]] == ["WRONG"] * (MAX_ATTEMPTS - 1)
    assert results[0].attempts_left == MAX_ATTEMPTS - 1
    assert results[-1].status == "TOO_MANY"
    # Even the right code is refused now; no member was made.
    assert store.verify("demo", PHONE, "alice", start.code).status == "TOO_MANY"
    assert store.for_client("demo", "alice") is None and store.count("demo") == 0


def test_expired_code_is_refused(store):
    start = store.start_verification("demo", PHONE, "alice")
    store.db.pexpire(MemberKeys("demo").otp(store.vault.hashed(PHONE)), 50)
    time.sleep(0.15)
    assert store.verify("demo", PHONE, "alice", start.code).status == "EXPIRED"
    assert store.for_client("demo", "alice") is None
    assert 0 < store.db.ttl(MemberKeys("demo").pending("alice")) <= CODE_TTL_S


def test_code_is_only_good_for_the_shopper_who_asked(store):
    start = store.start_verification("demo", PHONE, "alice")
    assert store.verify("demo", PHONE, "mallory", start.code).status == "EXPIRED"
    assert store.verify("demo", PHONE, "alice", start.code).ok


def test_garbage_codes_count_as_attempts(store):
    store.start_verification("demo", PHONE, "alice")
    assert store.verify("demo", PHONE, "alice", "abc").status == "WRONG"
    assert store.verify("demo", PHONE, "alice", "").attempts_left == MAX_ATTEMPTS - 2


def test_a_second_code_waits_for_the_cooldown(store):
    # How many codes a number, a shopper, an address and the venue may ask for is the platform's budget
    # "membership.sms" (tests/security/test_budgets.py); the store only refuses a resend moments later.
    now = 1_000_000.0
    assert store.start_verification("demo", PHONE, "alice", now).ok
    again = store.start_verification("demo", PHONE, "alice", now + 5)
    assert again.status == "COOLDOWN" and 0 < again.wait_s <= RESEND_COOLDOWN_S
    assert store.start_verification("demo", PHONE, "alice", now + RESEND_COOLDOWN_S + 1).ok


def test_no_phone_number_in_key_names_or_values(store):
    start = store.start_verification("demo", PHONE, "alice")
    store.verify("demo", PHONE, "alice", start.code)
    digits = PHONE[1:].encode()
    for key in store.db.keys("*"):
        assert digits not in key
        kind = store.db.type(key)
        values = {b"hash": lambda k: b"".join(store.db.hvals(k)), b"string": store.db.get,
                  b"list": lambda k: b"".join(store.db.lrange(k, 0, -1))}.get(kind, lambda k: b"")(key)
        assert digits not in (values or b"")
    assert store.for_phone("demo", PHONE).phone == PHONE


def test_coming_back_on_a_new_phone_reaches_the_same_member(store):
    first = member(store, client="old-phone")
    store.post_purchase("demo", first.id, "R1", "pixel", 50000)
    start = store.start_verification("demo", PHONE, "new-phone")
    result = store.verify("demo", PHONE, "new-phone", start.code)
    assert result.ok and not result.created
    assert result.member.id == first.id and result.member.points == 500
    assert store.count("demo") == 1


def test_erasure_unbinds_the_phone_and_it_can_join_again(store, db):
    """Erasure deletes the phone's link (its key is the phone's hash); the phone then joins as a new member."""
    first = member(store, client="alice")
    store.forget_shopper("demo", "alice")
    assert not [k for k in db.scan_iter(match="mp:{demo}:member:phone:*")]
    again, created = store.bind("demo", PHONE, "bob")
    assert created and again.id != first.id and again.phone == PHONE and again.points == 0


def test_a_phone_link_left_without_its_member_binds_a_new_member(store, db):
    """A link an earlier erasure left behind (it deleted the wrong key) no longer breaks the phone's sign-up."""
    first = member(store, client="alice")
    keys = MemberKeys("demo")
    db.delete(keys.member(first.id), keys.ledger(first.id), keys.client("alice"))  # as the old erasure did
    again, created = store.bind("demo", PHONE, "bob")
    assert created and again.id != first.id and again.phone == PHONE
    assert store.for_client("demo", "bob").id == again.id


def test_concurrent_binds_of_one_phone_make_one_member(store, redis_url):
    def bind(i):
        own = MemberStore(redis.Redis.from_url(redis_url), SECRET, PHONE_KEY)
        return own.bind("demo", PHONE, f"dev-{i}")[0].id

    with ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(bind, range(100)))
    assert len(ids) == 1 and store.count("demo") == 1


# ---- rotating code at the till -------------------------------------------------------------------


def _recent(m, now) -> set[str]:
    """The member's accepted codes (the current step ±1) and those of the hour before (expired, not wrong)."""
    step = codes.step_of(now)
    return {codes.totp(m.secret, s) for s in range(step - codes.SKEW_STEPS - codes.RECENT_STEPS, step + 2)}


def _wrong(m, now) -> str:
    """A code that is none of the member's accepted or recently expired ones."""
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in _recent(m, now))


POS, KOPI, PIXEL = Caller("token", "pos"), Caller("account", "kopi"), Caller("account", "pixel")


def test_identify_accepts_current_code_and_brakes_guessing(store):
    m = member(store)
    now = time.time()
    current = codes.totp(m.secret, codes.step_of(now))
    assert store.identify("demo", m.id, current, POS, now) == ("OK", m, 0)
    stale = codes.totp(m.secret, codes.step_of(now) - 3)
    assert store.identify("demo", m.id, stale, POS, now) == ("STALE", None, 0)
    assert store.identify("demo", "999999", "123456", POS, now).status == "NO_MEMBER"
    # wrong codes from several callers (a distributed guess at this member): refused to every caller
    callers = max(BRAKE_CALLERS, -(-MAX_CODE_FAILURES // CALLER_MEMBER_MAX_FAILURES))
    for n in range(callers):
        for _ in range(CALLER_MEMBER_MAX_FAILURES):
            store.identify("demo", m.id, _wrong(m, now), Caller("account", f"guess{n}"), now)
    locked = store.identify("demo", m.id, current, POS, now)
    assert locked.status == "LOCKED" and locked.member is None and 0 < locked.retry_after_s <= CODE_FAILURE_WINDOW_S
    assert store.identify("demo", m.id, current, PIXEL, now).status == "LOCKED"


def test_one_callers_wrong_codes_stop_it_and_never_lock_the_member_for_others(store, db):
    """A fake card (a member number in use, a made-up code) scanned again and again stops that caller for that
    number only; wrong codes for as many numbers as a caller may try stop it for every other number."""
    m, other = member(store), member(store, "+8613800138002", "bob")
    now = time.time()
    current = codes.totp(m.secret, codes.step_of(now))
    for _ in range(CALLER_MEMBER_MAX_FAILURES):
        assert store.identify("demo", m.id, _wrong(m, now), KOPI, now).status == "WRONG"
    spent = store.identify("demo", m.id, current, KOPI, now)  # even a right code: nothing is judged
    assert spent.status == "SPENT_MEMBER" and spent.member is None and 0 < spent.retry_after_s <= CODE_FAILURE_WINDOW_S
    assert store.identify("demo", other.id, codes.totp(other.secret, codes.step_of(now)), KOPI, now) == ("OK", other, 0)
    for n in range(KOPI.max_members - 2):  # wrong codes for more numbers, as a guesser spraying members would
        assert store.identify("demo", str(900001 + n), "123456", KOPI, now).status == "NO_MEMBER"
    assert store.identify("demo", other.id, _wrong(other, now), KOPI, now).status == "WRONG"
    # its numbers are spent: a number it has not tried gets nothing judged; one it tried once is still judged
    assert store.identify("demo", "900999", "123456", KOPI, now).status == "SPENT"
    assert store.identify("demo", other.id, codes.totp(other.secret, codes.step_of(now)), KOPI, now).status == "OK"
    # a second caller's typos do not make it several callers' guessing either
    for _ in range(CALLER_MEMBER_MAX_FAILURES):
        store.identify("demo", m.id, _wrong(m, now), POS, now)
    assert store.identify("demo", m.id, current, PIXEL, now) == ("OK", m, 0)
    keys = MemberKeys("demo")
    assert db.hget(keys.caller_failures(KOPI.id), m.id) == str(CALLER_MEMBER_MAX_FAILURES).encode()
    assert db.hlen(keys.caller_failures(KOPI.id)) == KOPI.max_members
    assert 0 < db.ttl(keys.caller_failures(KOPI.id)) <= CODE_FAILURE_WINDOW_S
    assert db.hgetall(keys.code_failures(m.id)) == {b"account:kopi": str(CALLER_MEMBER_MAX_FAILURES).encode(),
                                                    b"token:pos": str(CALLER_MEMBER_MAX_FAILURES).encode()}
    assert 0 < db.ttl(keys.code_failures(m.id)) <= CODE_FAILURE_WINDOW_S


def test_an_expired_code_of_the_member_is_told_apart_and_counts_for_nothing(store, db):
    """Her card page did not update (no JavaScript, a pocket, a screenshot): the hour before the accepted codes is
    STALE, as often as it is shown, and costs the caller nothing; older is a wrong code."""
    m = member(store)
    now = time.time()
    step = codes.step_of(now)
    oldest = step - codes.SKEW_STEPS - codes.RECENT_STEPS
    for s in (step - 2, step - 3, oldest):
        for _ in range(KOPI.max_members * CALLER_MEMBER_MAX_FAILURES + 1):
            assert store.identify("demo", m.id, codes.totp(m.secret, s), KOPI, now) == ("STALE", None, 0)
    keys = MemberKeys("demo")
    assert not db.exists(keys.caller_failures(KOPI.id)) and not db.exists(keys.code_failures(m.id))
    assert store.identify("demo", m.id, codes.totp(m.secret, step), KOPI, now) == ("OK", m, 0)
    older = next(s for s in range(oldest - 1, oldest - 50, -1) if codes.totp(m.secret, s) not in _recent(m, now))
    assert store.identify("demo", m.id, codes.totp(m.secret, older), KOPI, now).status == "WRONG"


def test_guesses_sent_at_once_are_counted_one_at_a_time(store, redis_url):
    """200 threads, each on its own connection, send one caller's guesses at once: at most its limit of them are
    judged, whatever the order."""
    m = member(store)
    now = time.time()
    guesser = Caller("account", "burst")
    codes_tried = [c for c in (f"{i:06d}" for i in range(400)) if c not in _recent(m, now)]
    # 4 guesses at each of 50 numbers: the member's and 49 not in use
    numbers = [m.id] + [str(900001 + n) for n in range(49)]
    guesses = [(numbers[i % 50], codes_tried[i]) for i in range(200)]
    barrier = threading.Barrier(50)

    def guess(number_code: tuple[str, str]) -> str:
        own = MemberStore(redis.Redis.from_url(redis_url), SECRET, PHONE_KEY)
        barrier.wait()
        return own.identify("demo", *number_code, guesser, now).status

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(guess, guesses))
    judged = answers.count("WRONG") + answers.count("NO_MEMBER")
    assert judged == guesser.max_members * CALLER_MEMBER_MAX_FAILURES
    assert answers.count("SPENT") + answers.count("SPENT_MEMBER") == 200 - judged


# ---- purchases and refunds ----------------------------------------------------------------------


def test_same_receipt_counts_once_and_refund_reverses_once(store):
    m = member(store)
    first = store.post_purchase("demo", m.id, "R-1", "pixel", 12850)
    assert (first.status, first.points, first.balance) == ("OK", 128, 128)
    again = store.post_purchase("demo", m.id, "R-1", "pixel", 12850)
    assert (again.status, again.points, again.balance) == ("DUPLICATE", 128, 128)
    # Same receipt number at another shop is another receipt.
    assert store.post_purchase("demo", m.id, "R-1", "kopi", 1000).balance == 138
    conflict = store.post_purchase("demo", m.id, "R-1", "pixel", 99900)
    assert conflict.status == "CONFLICT"
    refund = store.refund("demo", "pixel", "R-1")
    assert (refund.status, refund.points, refund.balance, refund.state) == ("OK", 128, 10, "refunded")
    twice = store.refund("demo", "pixel", "R-1")
    assert (twice.status, twice.balance) == ("DUPLICATE", 10)
    # A refunded receipt posted again is still the same receipt: nothing is earned again.
    assert store.post_purchase("demo", m.id, "R-1", "pixel", 12850).status == "DUPLICATE"
    assert store.get("demo", m.id).points == 10
    assert store.refund("demo", "pixel", "nope").status == "NO_RECEIPT"
    kinds = [e["type"] for e in store.ledger("demo", m.id)]
    assert kinds == ["reverse", "earn", "earn", "join"]


def test_parts_refunded_one_by_one_take_back_what_the_whole_refund_would(store):
    """A returned item: what remains paid keeps its own points (1 per whole unit), so ¥128.50 refunded as ¥30.25,
    ¥0.50 and the rest takes back 30 + 1 + 97 = 128 points, the whole receipt's; each part once per key."""
    m = member(store)
    store.post_purchase("demo", m.id, "R-7", "pixel", 12850)
    first = store.refund("demo", "pixel", "R-7", idempotency_key="rf-1", cents=3025)
    assert (first.status, first.points, first.balance, first.state) == ("OK", 30, 98, "part_refunded")
    replay = store.refund("demo", "pixel", "R-7", idempotency_key="rf-1", cents=3025)
    assert (replay.status, replay.points, replay.balance) == ("DUPLICATE", 30, 98)
    assert store.refund("demo", "pixel", "R-7", idempotency_key="rf-1", cents=100).status == "IDEM_CONFLICT"
    # ¥98.25 remains (98 points kept): ¥0.50 off leaves ¥97.75, 97 points.
    assert store.refund("demo", "pixel", "R-7", idempotency_key="rf-2", cents=50).points == 1
    over = store.refund("demo", "pixel", "R-7", idempotency_key="rf-3", cents=9776)
    assert (over.status, over.remaining_cents) == ("TOO_MUCH", 9775) and store.get("demo", m.id).points == 97
    rest = store.refund("demo", "pixel", "R-7")
    assert (rest.status, rest.points, rest.balance, rest.state) == ("OK", 97, 0, "refunded")
    assert store.refund("demo", "pixel", "R-7").status == "DUPLICATE"
    assert store.refund("demo", "pixel", "R-7", idempotency_key="rf-4", cents=1).status == "TOO_MUCH"
    member_now = store.get("demo", m.id)
    assert (member_now.points, member_now.lifetime) == (0, 0)
    reversals = [(e["amount"], e["points"]) for e in store.ledger("demo", m.id) if e["type"] == "reverse"]
    assert reversals == [(9775, -97), (50, -1), (3025, -30)]


def test_purchase_for_unknown_member_stores_nothing(store):
    assert store.post_purchase("demo", "100999", "R-9", "pixel", 1000).status == "NO_MEMBER"
    assert store.receipt("demo", "pixel", "R-9") is None


def test_idempotency_key_is_tied_to_one_receipt(store):
    m = member(store)
    assert store.post_purchase("demo", m.id, "R-1", "pixel", 1000, idempotency_key="k1").status == "OK"
    assert store.post_purchase("demo", m.id, "R-2", "pixel", 1000, idempotency_key="k1").status == "IDEM_CONFLICT"
    assert store.receipt("demo", "pixel", "R-2") is None


def test_200_threads_posting_one_receipt_count_it_once(store, redis_url):
    m = member(store)
    barrier = threading.Barrier(50)

    def post(_i):
        own = MemberStore(redis.Redis.from_url(redis_url), SECRET, PHONE_KEY)
        barrier.wait()
        return own.post_purchase("demo", m.id, "RACE", "pixel", 50000).status

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(post, range(200)))
    assert statuses.count("OK") == 1 and statuses.count("DUPLICATE") == 199
    assert store.get("demo", m.id).points == 500

    def refund(_i):
        own = MemberStore(redis.Redis.from_url(redis_url), SECRET, PHONE_KEY)
        return own.refund("demo", "pixel", "RACE").status

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(refund, range(200)))
    assert statuses.count("OK") == 1 and statuses.count("DUPLICATE") == 199
    assert store.get("demo", m.id).points == 0


def test_a_member_number_that_does_not_exist_counts_as_a_wrong_code(store, db):
    """A caller guessing numbers spends its wrong codes on numbers not in use too; once spent it cannot tell a
    number in use from the rest (SPENT for both)."""
    m = member(store)
    now = time.time()
    for n in range(KOPI.max_members):
        assert store.identify("demo", str(900001 + n), "123456", KOPI, now).status == "NO_MEMBER"
    assert store.identify("demo", "999999", "123456", KOPI, now).status == "SPENT"
    assert store.identify("demo", m.id, _wrong(m, now), KOPI, now).status == "SPENT"
    assert not db.exists(MemberKeys("demo").code_failures("900001"))  # nothing kept for a number not in use


def test_a_refund_of_all_of_a_receipt_answers_again_what_it_took_back(store):
    """¥100 refunded ¥30 (a part) then all of it: 30, then 70; the refund of all of it sent again (a till's retry,
    with or without its key) answers 70 again, not the 100 the receipt has reversed in all."""
    m = member(store)
    store.post_purchase("demo", m.id, "RF-9", "pixel", 10000)
    assert store.refund("demo", "pixel", "RF-9", idempotency_key="rf9-part1", cents=3000).points == 30
    whole = store.refund("demo", "pixel", "RF-9", idempotency_key="rf9-all")
    assert (whole.status, whole.points, whole.state, whole.balance) == ("OK", 70, "refunded", 0)
    for key in ("rf9-all", None, "rf9-other"):
        again = store.refund("demo", "pixel", "RF-9", idempotency_key=key)
        assert (again.status, again.points, again.state, again.balance) == ("DUPLICATE", 70, "refunded", 0), key
    assert store.refund("demo", "pixel", "RF-9", idempotency_key="rf9-part1", cents=3000).points == 30
    # emptied by parts: a refund of all of it takes, and answers, nothing
    store.post_purchase("demo", m.id, "RF-10", "pixel", 5000)
    store.refund("demo", "pixel", "RF-10", idempotency_key="rf10-a", cents=5000)
    late = store.refund("demo", "pixel", "RF-10")
    assert (late.status, late.points, late.balance) == ("DUPLICATE", 0, 0)


def test_a_receipt_refunded_before_its_answer_was_kept_answers_what_the_ledger_says(store, db):
    """Refunded by an earlier release (no `whole_points`): the points of the newest reversal of the receipt in
    its member's ledger; with no ledger to go by, all the receipt took back."""
    m = member(store)
    keys = MemberKeys("demo")
    store.post_purchase("demo", m.id, "OLD-9", "pixel", 10000)
    store.refund("demo", "pixel", "OLD-9", idempotency_key="old9-part", cents=3000)
    store.refund("demo", "pixel", "OLD-9")
    db.hdel(keys.receipt("pixel", "OLD-9"), "whole_points")  # as that release left it
    assert store.refund("demo", "pixel", "OLD-9").points == 70
    store.post_purchase("demo", m.id, "OLD-8", "pixel", 4000)
    store.refund("demo", "pixel", "OLD-8")
    # refunded before parts existed: state alone
    db.hdel(keys.receipt("pixel", "OLD-8"), "whole_points", "refunded_amount", "refunded_points")
    assert store.refund("demo", "pixel", "OLD-8").points == 40
    db.delete(keys.ledger(m.id))
    assert store.refund("demo", "pixel", "OLD-9").points == 100  # nothing to go by: all it reversed


def test_a_till_receipt_is_one_whatever_the_case_of_its_store(store):
    m = member(store)
    assert store.post_purchase("demo", m.id, "CASE-1", "pixel", 1000, fold_case=True).status == "OK"
    for spelled in ("Pixel", "PIXEL"):
        again = store.post_purchase("demo", m.id, "CASE-1", spelled, 1000, fold_case=True)
        assert (again.status, again.balance) == ("DUPLICATE", 10), spelled
    assert store.receipt("demo", "PiXeL", "case-1", fold_case=True)["store"] == "pixel"
    refund = store.refund("demo", "PIXEL", "Case-1", fold_case=True)
    assert (refund.status, refund.points, refund.balance) == ("OK", 10, 0)


def test_receipts_kept_under_a_store_as_a_till_sent_it_are_found_in_any_case(store, db):
    """The release before kept a till's receipt under its store as sent ("Pixel") and its number folded: written
    that way here (no fold_case), with an Idempotency-Key of each kind naming it. The first till call of the venue
    moves it under "pixel", keeping its expiry: found sent as "pixel", and retried with its keys (their records
    still name "Pixel"). One posted again later under "PIXEL" (the bug's copy) stays where it is, whatever order
    the scan finds them in, and erasure blanks it."""
    m = member(store)
    keys = MemberKeys("demo")
    store.post_purchase("demo", m.id, "case-1", "Pixel", 1000, idempotency_key="old-k")
    store.refund("demo", "Pixel", "case-1", idempotency_key="old-rf", cents=300)
    store.post_purchase("demo", m.id, "case-1", "PIXEL", 1000, now=time.time() + 60)  # the old bug's later copy
    store.post_purchase("demo", m.id, "dup-2", "Kopi", 2000, idempotency_key="old-k2")
    db.rename(keys.receipt("Kopi", "dup-2"), keys.receipt("kopi", "dup-2"))  # moved by an earlier process
    fresh = MemberStore(db, SECRET, PHONE_KEY)  # a process of the new release
    part = fresh.refund("demo", "pixel", "CASE-1", idempotency_key="old-rf", cents=300, fold_case=True)
    assert (part.status, part.points) == ("DUPLICATE", 3)
    assert not db.exists(keys.receipt("Pixel", "case-1")) and db.ttl(keys.receipt("pixel", "case-1")) > 0
    again = fresh.post_purchase("demo", m.id, "CASE-1", "pixel", 1000, idempotency_key="old-k", fold_case=True)
    assert again.status == "DUPLICATE"
    rest = fresh.refund("demo", "PIXEL", "case-1", fold_case=True)
    assert (rest.status, rest.points) == ("OK", 7)
    assert fresh.post_purchase("demo", m.id, "dup-2", "KOPI", 2000, idempotency_key="old-k2",
                               fold_case=True).status == "DUPLICATE"
    assert fresh.refund("demo", "kopi", "DUP-2", fold_case=True).points == 20
    assert db.hget(keys.receipt("PIXEL", "case-1"), "member") == m.id.encode()  # the copy stays
    assert fresh.fold_receipt_stores("demo") == 0  # nothing left to move
    fresh.forget_shopper("demo", "alice")
    assert db.hget(keys.receipt("PIXEL", "case-1"), "member") == b""
    assert db.hget(keys.receipt("pixel", "case-1"), "member") == b""


def test_a_receipt_an_old_process_keeps_after_the_fold_is_moved_once_the_mark_lapses(store, db, monkeypatch):
    """A rolling deploy: a process of the release before keeps a till's receipt under its store as sent ("Pixel")
    after this release folded the venue's receipts. The venue's mark holds FOLD_MARK_S (till calls meanwhile scan
    nothing); once it has lapsed, the next till call folds again, and the refund naming "pixel" finds the receipt."""
    m = member(store)
    keys = MemberKeys("demo")
    assert store.post_purchase("demo", m.id, "new-1", "pixel", 1000, fold_case=True).status == "OK"  # first fold
    assert 0 < db.ttl(keys.folded_stores()) <= FOLD_MARK_S
    store.post_purchase("demo", m.id, "late-1", "Pixel", 2000)  # the old process: its store as sent
    assert store.refund("demo", "pixel", "LATE-1", fold_case=True).status == "NO_RECEIPT"  # the mark holds
    db.delete(keys.folded_stores())  # lapsed, as its expiry does
    later = time.monotonic() + FOLD_MARK_S + 1  # and this process's memory of it with it
    monkeypatch.setattr(store_module, "time", SimpleNamespace(time=time.time, monotonic=lambda: later))
    refund = store.refund("demo", "pixel", "LATE-1", fold_case=True)
    assert (refund.status, refund.points, refund.balance) == ("OK", 20, 10)
    assert not db.exists(keys.receipt("Pixel", "late-1")) and db.exists(keys.receipt("pixel", "late-1"))
    assert 0 < db.ttl(keys.folded_stores()) <= FOLD_MARK_S


def test_a_mark_the_first_folding_release_kept_for_good_counts_as_lapsed(store, db):
    m = member(store)
    keys = MemberKeys("demo")
    store.post_purchase("demo", m.id, "late-2", "Kopi", 3000)  # kept by a process of the release before
    db.set(keys.folded_stores(), "1")  # no expiry, as that release set it
    fresh = MemberStore(db, SECRET, PHONE_KEY)
    assert fresh.refund("demo", "KOPI", "Late-2", fold_case=True).points == 30
    assert 0 < db.ttl(keys.folded_stores()) <= FOLD_MARK_S


def test_the_folds_stop_a_day_after_the_first(store, db, monkeypatch):
    """The hourly folds are for an upgrade's window: a day after the venue's first one, the last fold marks the venue
    done for good, and till calls scan its keys no more."""
    m = member(store)
    keys = MemberKeys("demo")
    assert store.post_purchase("demo", m.id, "w-1", "pixel", 1000, fold_case=True).status == "OK"  # first fold
    db.set(keys.folded_since(), repr(time.time() - FOLD_WINDOW_S - 1))  # a day ago
    db.delete(keys.folded_stores())
    store.post_purchase("demo", m.id, "w-2", "Kopi", 1000)  # an old process, inside the window's last hour
    fresh = MemberStore(db, SECRET, PHONE_KEY)
    assert fresh.refund("demo", "kopi", "W-2", fold_case=True).status == "OK"  # the last fold moved it
    assert db.get(keys.folded_stores()) == b"done" and db.ttl(keys.folded_stores()) == -1
    store.post_purchase("demo", m.id, "w-3", "Kopi", 1000)  # written after the window: no fold looks any more
    assert MemberStore(db, SECRET, PHONE_KEY).refund("demo", "kopi", "W-3", fold_case=True).status == "NO_RECEIPT"
