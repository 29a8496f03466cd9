"""The activities store on the local cluster: each of its store methods (Lua scripts, transactions)
once, and the race that proves sign-ups atomic (tests.cluster.store_paths says why not every test)."""

import time

from lightapps.activities.store import ActivityStore
from lightapps.activities.tests.test_activities_switch_and_close import (  # noqa: F401 - rerun here: the in_use
    test_taps_at_the_same_moment_make_one_activity,  # hook's read and the create form's one-time token
    test_what_shoppers_hold_is_named_per_activity_until_it_is_over,
)
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.activities.tests.test_activities_store",
      "test_many_threads_never_oversell_and_never_twice", "test_links_count_clicks_and_shoppers",
      "test_event_sign_up_capacity_and_one_per_shopper", "test_stopped_activity_refuses_joins",
      "test_group_buy_fails_at_the_deadline_and_stays_failed", "test_leave_gives_the_place_back_once",
      "test_many_threads_leaving_at_once_give_each_place_back_once", "test_leave_follows_the_one_rule_the_pages_show")


def test_seed_slot_is_claimed_once(db):
    acts = ActivityStore(db)
    assert acts.claim_seed_slot("demo", "atrium") is True
    assert acts.claim_seed_slot("demo", "atrium") is False
    assert acts.members("demo", "no-such-item") == []


def test_shopper_export_and_erasure_of_nobody(db):
    acts = ActivityStore(db)  # the scans behind them run on every primary (portal/apps/erasure.keys_matching)
    assert acts.export_shopper("demo", "nobody") == {}
    assert acts.forget_shopper("demo", "nobody") == 0


def test_an_activity_image_needs_an_activity(db):
    assert ActivityStore(db).has_media_place("demo", "atrium", "event", "nope") is False


def test_erasure_hands_a_place_over_on_the_cluster(db):
    """Erasure keeps a paid place under a keeper id (portal/apps/paid.py): one script per activity, its keys (the
    item's sign-ups and deposits, both shoppers' lists) the venue's slot."""


    acts = ActivityStore(db)
    now = time.time()
    item = acts.create("demo", "atrium", {"kind": "event", "title_en": "Yoga", "title_zh": "瑜伽",
                                          "starts_at": now + 3600, "ends_at": now + 7200, "limit": 10})
    assert acts.join("demo", item.id, "alice").ok
    assert acts.hand_over("demo", "alice", "keeper-1", [item.id]) == 1
    assert acts.hand_over("demo", "alice", "keeper-1", [item.id]) == 0  # hers no more
