"""The coupons store on the local cluster: each of its store methods (Lua scripts, transactions) once,
and the races that prove claims and redeems atomic (tests.cluster.store_paths says why not every test)."""

from lightapps.coupons.store import CouponStore
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.coupons.tests.test_coupons_store",
      "test_concurrent_claims_never_oversell", "test_concurrent_redeems_succeed_once",
      "test_the_same_till_form_sent_again_answers_its_redemption",
      "test_claim_gives_one_code_per_shopper", "test_a_claim_check_answers_as_the_claim_would_and_writes_nothing",
      "test_claim_only_inside_the_window_and_while_live",
      "test_seed_slot_is_taken_once", "test_create_stores_typed_fields",
      "test_a_parking_coupon_is_held_then_redeemed_or_released_once", "test_concurrent_holds_take_a_coupon_once")


def test_shopper_erasure_of_nobody(db):
    coupons = CouponStore(db)
    assert coupons.export_shopper("demo", "nobody") == {}
    assert coupons.forget_shopper("demo", "nobody") == 0
