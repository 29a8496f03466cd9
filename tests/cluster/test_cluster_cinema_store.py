"""The cinema store on the local cluster: each of its store methods (Lua scripts, pipelines) once, and
the race that proves holds atomic (tests.cluster.store_paths says why not every test)."""

import time

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.cinema.tests.test_cinema_store",
      "test_200_threads_holding_the_same_seats_one_wins",
      "test_confirm_after_expiry_fails_cleanly_and_releases_the_seats",
      "test_cancel_booking_releases_the_seats", "test_confirm_books_the_seats_once",
      "test_only_the_holder_can_confirm_or_cancel", "test_showtime_upsert_by_external_id",
      "test_a_booking_keeps_the_order_that_paid_for_it",
      "test_cancelling_a_showtime_cancels_its_holds_and_bookings_and_closes_it",
      "test_holds_racing_a_cancellation_never_outlive_it", "test_a_new_start_for_a_show_with_tickets_needs_confirming",
      "test_seats_open_counts_free_seats_and_the_shoppers_own",
      "test_a_cancellation_stays_on_the_work_set_until_nothing_is_left",
      "test_cancelling_a_show_never_stored_is_refused_and_stores_nothing",
      "test_a_confirmed_move_stays_on_the_moving_set_until_its_holders_are_told",
      "test_a_booking_keeps_when_its_hold_was_made",
      "test_a_paid_cancel_stays_on_the_refund_set_until_settled")
# A second rerun: every test of this module records into its fixture, and its check covers them all.
rerun(globals(), "lightapps.cinema.tests.test_cinema_more_time",
      "test_more_time_moves_the_seats_the_record_and_the_pointer_once")


def test_has_showtimes_of_an_empty_zone(db):
    assert CinemaStore(db).has_showtimes("demo", "cinema") is False


def test_shopper_export_and_erasure_of_nobody(db):
    cinema = CinemaStore(db)
    assert cinema.export_shopper("demo", "nobody") == {}
    assert cinema.forget_shopper("demo", "nobody") == 0


def test_a_poster_needs_a_film_with_a_showtime(db):
    assert CinemaStore(db).has_media_place("demo", "cinema", "film", "nope") is False


def test_tickets_to_come_on_the_cluster(db):
    """What the zone still holds for shoppers (the cinema's LightApp.in_use): one pipeline in the venue's slot."""
    cinema = CinemaStore(db)
    show_id = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("Orbit Nine", "九号轨道", "1",
                                                                       int(time.time()) + 3600, 4500)],
                                      source="test")["ids"][0]
    cinema.hold("demo", cinema.showtime("demo", show_id), "alice", ["A4"], 300, refund_cutoff_s=3600)
    assert cinema.tickets_to_come("demo", "cinema", time.time()) == 1


def test_the_old_bookings_upgrade_step_on_the_cluster(db):
    """The one-time upgrade step's scan (bookings that keep no order: the venue's slot only) and its done mark."""
    from lightapps.cinema.tests.test_cinema_store import VENUE, ZONE, make_show  # lazy: the store tests' helpers

    cinema = CinemaStore(db)
    hold = cinema.hold(VENUE, make_show(cinema), "alice", ["D1"], ttl_s=480)
    booked = cinema.confirm(VENUE, hold.token, "alice", ZONE)
    assert [b.code for b in cinema.bookings_without_order(VENUE)] == [booked.code]
    assert cinema.orders_backfilled(VENUE) is False
    cinema.mark_orders_backfilled(VENUE, time.time())
    assert cinema.orders_backfilled(VENUE) is True


def test_a_page_of_showtimes_and_a_retried_push_on_the_cluster(db):
    """The API's listing (a page, then the next from its cursor: pipelines in the venue's slot) and a push retried
    without ids (the stored show's hash is a key of the upsert script)."""
    cinema = CinemaStore(db)
    start = int(time.time()) + 3600
    items = [ShowtimeInput("Orbit Nine", "九号轨道", hall, start, 4500) for hall in ("1", "2", "3")]
    ids = cinema.upsert_showtimes("demo", "cinema", items, source="test")["ids"]
    page, after = cinema.showtimes_page("demo", "cinema", start, None, 2)
    rest, done = cinema.showtimes_page("demo", "cinema", start, None, 2, after)
    assert sorted(s.id for s in page + rest) == sorted(ids) and done is None
    again = cinema.upsert_showtimes("demo", "cinema", items[:1], source="api:pos", min_gap_s=3600,
                                    same_is_duplicate=True)
    assert again["ids"] == ids[:1] and again["duplicates"] == [0]


def test_erasure_hands_a_paid_ticket_over_on_the_cluster(db):
    """Erasure keeps a ticket she can no longer refund under a keeper id (portal/apps/paid.py): one script per
    booking, its keys the venue's slot; the privacy page names the show by its film."""
    from lightapps.cinema.tests.test_cinema_store import VENUE, ZONE, make_show  # lazy: the store tests' helpers

    cinema = CinemaStore(db)
    show = make_show(cinema)
    booked = cinema.confirm(VENUE, cinema.hold(VENUE, show, "alice", ["D1"], ttl_s=480).token, "alice", ZONE)
    assert cinema.hand_over(VENUE, "alice", "keeper-1", [booked.code]) == 1
    assert cinema.booking(VENUE, booked.code).client == "keeper-1"
    assert cinema.ref_titles(VENUE, "show", {show.id}) == {show.id: (show.film_zh, show.film_en)}


def test_a_shoppers_holds_and_the_shows_seats_read_in_one_round_trip_on_the_cluster(db):
    """Me's holds (one MGET) and a listing's occupancy (one pipeline): every key in the venue's slot."""
    from lightapps.cinema.tests.test_cinema_store import VENUE, make_show  # lazy: the store tests' helpers

    cinema = CinemaStore(db)
    shows = [make_show(cinema, auditorium=str(n), starts_in_s=3600 * n) for n in (1, 2, 3)]
    held = cinema.hold(VENUE, shows[1], "alice", ["A1", "A2"], ttl_s=480)
    assert cinema.live_hold_tokens(VENUE, [show.id for show in shows], "alice") == {shows[1].id: held.token}
    assert [cinema.occupancies(VENUE, shows)[show.id]["held"] for show in shows] == [0, 2, 0]
    assert cinema.showtimes_by_id(VENUE, [shows[2].id, shows[0].id]) == {show.id: show for show in (shows[0], shows[2])}
