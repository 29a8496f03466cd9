"""A member's number does not outlive her erasure in the records others keep: her receipts and points grants
stay (a receipt still counts once, a prize is credited once) with the member blanked; receipts are kept only
as long as their refunds are accepted (RECEIPT_KEEP_S); the audit log names a member by a keyed hash."""

from __future__ import annotations

import pytest

from lightapps.membership.store import RECEIPT_KEEP_S, MemberKeys, MemberStore

SECRET = "store-test-secret"
PHONE_KEY = "store-test-phone-key"


@pytest.fixture
def store(db):
    return MemberStore(db, SECRET, PHONE_KEY)


def test_a_receipt_is_kept_as_long_as_its_refunds_are_accepted(store, db):
    m, _ = store.bind("demo", "+8613800138001", "alice")
    assert store.post_purchase("demo", m.id, "T-1", "pixel", 1000).status == "OK"
    key = MemberKeys("demo").receipt("pixel", "T-1")
    assert RECEIPT_KEEP_S - 60 < db.ttl(key) <= RECEIPT_KEEP_S
    assert store.refund("demo", "pixel", "T-1").status == "OK"
    assert RECEIPT_KEEP_S - 60 < db.ttl(key) <= RECEIPT_KEEP_S  # a refund keeps the purchase's expiry
    db.delete(key)  # its time is up: a refund finds nothing to reverse
    assert store.refund("demo", "pixel", "T-2").status == "NO_RECEIPT"


def test_erasure_blanks_the_member_in_her_receipts_and_grants(store, db):
    alice, _ = store.bind("demo", "+8613800138001", "alice")
    bob, _ = store.bind("demo", "+8613800138002", "bob")
    for receipt, store_id in (("E-1", "pixel"), ("E-2", "kopi"), ("E-3", "pixel")):
        assert store.post_purchase("demo", alice.id, receipt, store_id, 500).status == "OK"
    assert store.refund("demo", "pixel", "E-3").status == "OK"
    assert store.grant_points("demo", "alice", 20, "games:PRIZE1", "lucky draw").status == "OK"
    assert store.post_purchase("demo", bob.id, "B-1", "pixel", 700).status == "OK"
    ttl = db.ttl(MemberKeys("demo").receipt("pixel", "E-1"))

    assert store.forget_shopper("demo", "alice") > 0
    keys = MemberKeys("demo")
    for store_id, receipt in (("pixel", "E-1"), ("kopi", "E-2"), ("pixel", "E-3")):
        kept = store.receipt("demo", store_id, receipt)
        assert kept is not None and kept["member"] == "" and kept["amount"] == "500", kept
    assert db.ttl(keys.receipt("pixel", "E-1")) <= ttl  # still goes when its refunds end
    assert db.hget(keys.grant("games:PRIZE1"), "member") == b""
    assert alice.id.encode() not in b"".join(v for k in db.keys("mp:{demo}:member:*") if db.type(k) == b"hash"
                                             for v in db.hvals(k))
    assert store.receipt("demo", "pixel", "B-1")["member"] == bob.id  # another member's untouched
    # the records still do their job: a receipt counts once, a refund has nobody to take points from
    assert store.post_purchase("demo", bob.id, "E-1", "pixel", 500).status == "CONFLICT"
    assert store.refund("demo", "kopi", "E-2").status == "NO_MEMBER"
    assert store.grant_points("demo", "bob", 20, "games:PRIZE1", "lucky draw").status == "ALREADY"


def test_the_audit_reference_is_a_keyed_hash(store, db):
    ref = store.audit_ref("100001")
    assert ref == store.audit_ref("100001") and "100001" not in ref and len(ref) == 16
    assert MemberStore(db, SECRET, "another-phone-key").audit_ref("100001") != ref
