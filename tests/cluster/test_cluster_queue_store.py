"""The queue store on the local cluster: each of its store methods (Lua scripts, pipelines) once, and
the races that prove numbers and reservations atomic (tests.cluster.store_paths says why not every test)."""

from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.queue.tests.test_queue_store",
      "test_concurrent_takes_and_calls_on_separate_connections", "test_call_seat_noshow_cancel",
      "test_reservations_respect_capacity_atomically", "test_menu_and_preorders", "test_pause_refuses_new_numbers",
      "test_numbers_are_consecutive_per_class_and_one_active_ticket", "test_a_number_outlives_the_venues_midnight",
      "test_a_paid_preorder_goes_on_the_sweeps_list_once_until_settled",
      "test_pre_orders_paid_before_the_list_are_enlisted_once",
      "test_seatings_keep_when_each_party_took_its_number_across_midnight")


def test_menu_item_and_waiting_count_of_an_empty_zone(store):  # noqa: F811 (`store` brought in by rerun)
    assert store.menu_item("demo", "foodcourt", "nope") is None
    assert store.waiting_count("demo", "foodcourt", "A") == 0


def test_shopper_erasure_and_a_payment_for_no_preorder(store):  # noqa: F811 (`store` brought in by rerun)
    assert store.export_shopper("demo", "nobody") == {}
    assert store.forget_shopper("demo", "nobody") == 0
    assert store.mark_preorder_paid("demo", "foodcourt", "A001", "2026-11-30", "MP0001") is not None


def test_a_dish_photo_needs_a_menu_item(store):  # noqa: F811 (`store` brought in by rerun)
    assert store.has_media_place("demo", "foodcourt", "dish", "nope") is False
    assert store.has_media_place("demo", "foodcourt", "film", "nope") is False


def test_live_numbers_and_bookings_ahead_on_the_cluster(store):  # noqa: F811 (`store` brought in by rerun)
    """What the zone still holds for shoppers (the queue's LightApp.in_use): reads in the venue's slot."""
    assert store.take("demo", "foodcourt", "A", 2, "alice").ok
    assert store.live_by_class("demo", "foodcourt").get("A") == 1
    assert store.booked_ahead("demo", "foodcourt", 8) == 0
