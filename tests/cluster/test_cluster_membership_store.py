"""The membership store on the local cluster: each of its store methods (Lua scripts, transactions,
the development sender's outbox) once, and the races that prove binds and receipts atomic
(tests.cluster.store_paths says why not every test)."""

from portal.notify.sms import LoggingSmsProvider
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.membership.tests.test_membership_store",
      "test_concurrent_binds_of_one_phone_make_one_member", "test_200_threads_posting_one_receipt_count_it_once",
      "test_verify_with_the_right_code_creates_a_member_bound_to_the_shopper",
      "test_identify_accepts_current_code_and_brakes_guessing",
      "test_one_callers_wrong_codes_stop_it_and_never_lock_the_member_for_others",
      "test_guesses_sent_at_once_are_counted_one_at_a_time",
      "test_same_receipt_counts_once_and_refund_reverses_once",
      "test_purchase_for_unknown_member_stores_nothing")


def test_the_rest_of_the_member_store(store, db):  # noqa: F811 (the `store` fixture brought in by rerun)
    phone, client = "+6591234567", "shopper-x"
    store.start_verification("demo", phone, client)
    store.cancel_verification("demo", phone, client)
    assert store.pending_phone("demo", client) is None
    assert store.for_phone("demo", phone) is None
    store.forget_client("demo", client)
    store.forget_shopper("demo", client)
    assert store.claim_seed_slot("demo") is True and store.claim_seed_slot("demo") is False
    LoggingSmsProvider(db, show_text=True).send("demo", phone, "membership.code", {}, "code 123456")


def test_wechat_points_and_grants(store):  # noqa: F811 (the `store` fixture brought in by rerun)
    store.link_wechat("demo", "m-404", "oCLUSTER0001")
    assert store.for_wechat("demo", "oCLUSTER0001") is None  # no such member
    assert store.mall_refunded_before("demo", "txn-1", "refund-1") == 0
    assert store.grant_points("demo", "not-a-member", 10, "prize-1", "lucky draw").status == "NO_ACCOUNT"


def test_erasure_blanks_her_receipts_on_the_cluster(store, db):  # noqa: F811 (the `store` fixture brought in by rerun)
    """forget_shopper with a member's receipts and grants to blank (found through her ledger, the venue's slot)."""
    m, _ = store.bind("demo", "+6591234568", "erased-x")
    assert store.post_purchase("demo", m.id, "C-1", "pixel", 500).status == "OK"
    assert store.grant_points("demo", "erased-x", 5, "games:CLUSTER1", "lucky draw").status == "OK"
    assert store.forget_shopper("demo", "erased-x") > 0
    assert store.receipt("demo", "pixel", "C-1")["member"] == ""
    assert store.audit_ref(m.id) != m.id


def test_a_refund_off_the_old_schemes_remainder_on_the_cluster(store):  # noqa: F811 (`store` brought in by rerun)
    """refund_paid finding the remainder the old scheme posted, noting it, and refunding it (the venue's slot)."""
    m, _ = store.bind("demo", "+6591234569", "legacy-x")
    store.post_purchase("demo", m.id, "wxT1", "wechat-mall", 10_000)
    store.refund("demo", "wechat-mall", "wxT1")
    store.post_purchase("demo", m.id, "wxT1.4000", "wechat-mall", 6_000)
    assert store.refund_paid("demo", "wechat-mall", "wxT1", "wx:R2", 1_000, 4_000).points == 10
    assert store.refund_paid("demo", "wechat-mall", "wxT1", "wx:R3", 5_000, 5_000).points == 50
    assert store.get("demo", m.id).points == 0


def test_a_receipt_in_its_own_case_on_the_cluster(store):  # noqa: F811 (`store` brought in by rerun)
    """PURCHASE_LUA and REFUND_LUA with the receipt's key as sent beside its folded key (the venue's slot)."""
    m, _ = store.bind("demo", "+6591234570", "case-x")
    assert store.post_purchase("demo", m.id, "Old-1", "pixel", 5000).status == "OK"  # kept in its case
    assert store.post_purchase("demo", m.id, "R1", "pixel", 1000, fold_case=True).status == "OK"
    assert store.post_purchase("demo", m.id, "r1", "pixel", 1000, fold_case=True).status == "DUPLICATE"
    assert store.post_purchase("demo", m.id, "Old-1", "pixel", 5000, fold_case=True).status == "DUPLICATE"
    assert store.refund("demo", "pixel", "Old-1", fold_case=True).points == 50
    assert store.get("demo", m.id).points == 10
