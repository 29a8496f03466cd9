"""The cinema store's Lua scripts against a real Valkey: holds, expiry, confirm, cancel, the no-orphan rule,
couple pairs, and showtime upserts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import redis

from lightapps.cinema.layouts import AUDITORIUMS, SelectionError, parse_selection
from lightapps.cinema.store import (
    AT_COUNTER,
    CinemaKeys,
    CinemaStore,
    ShowtimeClash,
    ShowtimeConflict,
    ShowtimeInput,
    ShowtimeMoved,
    ShowtimeReopened,
    ShowtimeUnknown,
)

VENUE = "v1"
ZONE = "screens"


@pytest.fixture
def store(db) -> CinemaStore:
    return CinemaStore(db)


def make_show(store: CinemaStore, auditorium: str = "1", ext: str = "", starts_in_s: int = 3600):
    item = ShowtimeInput(film_en="Orbit Nine", film_zh="九号轨道", auditorium=auditorium,
                         starts_at=int(time.time()) + starts_in_s, price_cents=4500, external_id=ext)
    show_id = store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]
    return store.showtime(VENUE, show_id)


def now_ms() -> int:
    return int(time.time() * 1000)


def booked_or_held(store, show, at_ms):
    return store.seat_states(VENUE, show.id, now=at_ms / 1000)


# ---- holds ----------------------------------------------------------------------------------------


def test_hold_then_another_shopper_cannot_take_the_seats(store):
    show = make_show(store)
    before_ms = now_ms()
    first = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480)
    after_ms = now_ms()
    assert first.ok and first.token
    assert before_ms + 480_000 - 1 <= first.expires_ms <= after_ms + 480_000 + 1  # the server's now + 8 minutes
    second = store.hold(VENUE, show, "bob", ["A5", "A6"], ttl_s=480)
    assert second.status == "taken" and second.seat == "A5"
    states = store.seat_states(VENUE, show.id)
    assert states == {"A4": ("held", first.token), "A5": ("held", first.token)}
    hold = store.get_hold(VENUE, first.token)
    assert hold.status == "held" and hold.seats == ("A4", "A5") and hold.client == "alice"


def test_hold_expires_and_the_seats_are_free_again(store):
    show = make_show(store)
    t0 = now_ms()
    first = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0)
    assert first.ok
    assert store.hold(VENUE, show, "bob", ["A4", "A5"], ttl_s=60, now_ms=t0 + 59_000).status == "taken"
    assert booked_or_held(store, show, t0 + 60_001) == {}
    again = store.hold(VENUE, show, "bob", ["A4", "A5"], ttl_s=60, now_ms=t0 + 61_000)
    assert again.ok


def test_a_real_short_hold_lapses_on_the_server_clock(store):
    # Nothing here needs the machine to be quick: the hold's life is checked against clocks read around it, and
    # bob is polled until the server's clock frees the seat (however late that is seen, never before the ttl).
    show = make_show(store)
    ttl_s = 1
    before_ms = now_ms()
    first = store.hold(VENUE, show, "alice", ["B1"], ttl_s=ttl_s)
    after_ms = now_ms()
    assert first.ok
    assert before_ms + ttl_s * 1000 - 1 <= first.expires_ms <= after_ms + ttl_s * 1000 + 1  # the server's now + ttl
    taken = store.hold(VENUE, show, "bob", ["B1"], ttl_s=60, now_ms=first.expires_ms - 1)
    assert taken.status == "taken"  # alive until its expiry
    deadline = time.monotonic() + 60
    while not store.hold(VENUE, show, "bob", ["B1"], ttl_s=60).ok:  # no now_ms: the server's clock
        assert time.monotonic() < deadline, "a short hold never lapsed"
        time.sleep(0.05)
    assert now_ms() - before_ms >= ttl_s * 1000 - 1  # never before its ttl has run on the server's clock


def test_confirm_after_expiry_fails_cleanly_and_releases_the_seats(store, db):
    show = make_show(store)
    t0 = now_ms()
    hold = store.hold(VENUE, show, "alice", ["C4", "C5"], ttl_s=60, now_ms=t0)
    late = store.confirm(VENUE, hold.token, "alice", ZONE, now_ms=t0 + 60_000)
    assert late.status == "expired"
    assert db.hlen(CinemaKeys(VENUE).seats(show.id)) == 0  # released in the same step
    assert store.get_hold(VENUE, hold.token).status == "expired"
    assert store.show_bookings(VENUE, show.id) == []
    assert store.live_hold_token(VENUE, show.id, "alice") is None
    # and confirming again still fails (no booking appears later)
    assert store.confirm(VENUE, hold.token, "alice", ZONE, now_ms=t0 + 1_000).status == "gone"


def test_late_confirm_after_someone_else_took_the_seats_leaves_their_hold_alone(store):
    show = make_show(store)
    t0 = now_ms()
    first = store.hold(VENUE, show, "alice", ["C4", "C5"], ttl_s=60, now_ms=t0)
    second = store.hold(VENUE, show, "bob", ["C4", "C5"], ttl_s=60, now_ms=t0 + 61_000)
    assert second.ok
    assert store.confirm(VENUE, first.token, "alice", ZONE, now_ms=t0 + 62_000).status == "expired"
    assert booked_or_held(store, show, t0 + 62_000) == {"C4": ("held", second.token), "C5": ("held", second.token)}
    done = store.confirm(VENUE, second.token, "bob", ZONE, now_ms=t0 + 62_000)
    assert done.ok


def test_confirm_books_the_seats_once(store):
    show = make_show(store)
    hold = store.hold(VENUE, show, "alice", ["D1", "D2", "D3"], ttl_s=480)
    booked = store.confirm(VENUE, hold.token, "alice", ZONE)
    assert booked.ok and len(booked.code) == 8
    again = store.confirm(VENUE, hold.token, "alice", ZONE)
    assert again.ok and again.code == booked.code  # a double tap gives the same ticket
    bookings = store.show_bookings(VENUE, show.id)
    assert [(b.code, b.seats, b.status) for b in bookings] == [(booked.code, ("D1", "D2", "D3"), "booked")]
    assert store.seat_states(VENUE, show.id) == {s: ("booked", booked.code) for s in ("D1", "D2", "D3")}
    assert store.hold(VENUE, show, "bob", ["D1", "D2", "D3"], ttl_s=60).status == "taken"
    assert [b.code for b in store.client_bookings(VENUE, "alice")] == [booked.code]
    assert store.occupancy(VENUE, show) == {"booked": 3, "held": 0, "free": 107, "capacity": 110}


def test_a_booking_keeps_the_order_that_paid_for_it(store):
    """For as long as the booking: the order's key by hold lasts two days. None for a booking that is gone."""
    show = make_show(store)
    booked = store.confirm(VENUE, store.hold(VENUE, show, "alice", ["F1"], ttl_s=480).token, "alice", ZONE)
    assert store.booking(VENUE, booked.code).order_id == ""
    store.record_order(VENUE, booked.code, "MP0123456789ABCDEF01234567")
    assert store.booking(VENUE, booked.code).order_id == "MP0123456789ABCDEF01234567"
    store.record_order(VENUE, "NOSUCHCD", "MP0123456789ABCDEF01234567")
    assert store.booking(VENUE, "NOSUCHCD") is None  # no stray hash left for a booking that is not there


def test_only_the_holder_can_confirm_or_cancel(store):
    show = make_show(store)
    hold = store.hold(VENUE, show, "alice", ["E4", "E5"], ttl_s=480)
    assert store.confirm(VENUE, hold.token, "mallory", ZONE).status == "nohold"
    assert store.cancel_hold(VENUE, hold.token, "mallory").status == "nohold"
    assert store.confirm(VENUE, "no-such-token", "alice", ZONE).status == "nohold"
    assert store.get_hold(VENUE, hold.token).status == "held"


def test_cancel_hold_releases_the_seats(store):
    show = make_show(store)
    hold = store.hold(VENUE, show, "alice", ["E4", "E5"], ttl_s=480)
    assert store.cancel_hold(VENUE, hold.token, "alice").ok
    assert store.seat_states(VENUE, show.id) == {}
    assert store.confirm(VENUE, hold.token, "alice", ZONE).status == "gone"
    assert store.hold(VENUE, show, "bob", ["E4", "E5"], ttl_s=60).ok


def test_cancel_booking_releases_the_seats(store):
    show = make_show(store)
    hold = store.hold(VENUE, show, "alice", ["F4", "F5"], ttl_s=480)
    code = store.confirm(VENUE, hold.token, "alice", ZONE).code
    assert store.cancel_booking(VENUE, code, "mallory").status == "nobooking"
    assert store.cancel_booking(VENUE, code, "alice").ok
    assert store.booking(VENUE, code).status == "cancelled"
    assert store.seat_states(VENUE, show.id) == {}
    assert store.cancel_booking(VENUE, code, "alice").status == "gone"
    assert store.hold(VENUE, show, "bob", ["F4", "F5"], ttl_s=60).ok


def test_a_new_hold_replaces_the_shoppers_previous_one(store):
    show = make_show(store)
    first = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480)
    # picking again including the seats already held by herself works
    second = store.hold(VENUE, show, "alice", ["A4", "A5", "A6"], ttl_s=480)
    assert second.ok
    assert store.get_hold(VENUE, first.token).status == "replaced"
    assert store.confirm(VENUE, first.token, "alice", ZONE).status == "gone"
    # moving elsewhere releases the old seats
    third = store.hold(VENUE, show, "alice", ["B4", "B5"], ttl_s=480)
    assert third.ok
    assert store.seat_states(VENUE, show.id) == {"B4": ("held", third.token), "B5": ("held", third.token)}
    assert store.live_hold_token(VENUE, show.id, "alice") == third.token


def test_picking_again_keeps_the_first_holds_expiry(store):
    """Re-posting the same seats, or re-picking within the hold, buys no time: the chain ends when its first
    hold does (else one shopper could hold seats for ever, each re-hold free of the seat budget)."""
    show = make_show(store)
    t0 = now_ms()
    first = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, now_ms=t0)
    same = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, now_ms=t0 + 300_000)
    assert (same.ok, same.expires_ms, same.new_seats) == (True, first.expires_ms, 0)
    other = store.hold(VENUE, show, "alice", ["A4", "A5", "A6", "A7"], ttl_s=480, now_ms=t0 + 400_000)
    assert (other.ok, other.expires_ms, other.new_seats) == (True, first.expires_ms, 2)
    assert store.get_hold(VENUE, other.token).expires_ms == first.expires_ms
    assert booked_or_held(store, show, first.expires_ms) == {}
    assert store.hold(VENUE, show, "bob", ["A4", "A5", "A6", "A7"], ttl_s=480, now_ms=first.expires_ms).ok
    assert store.confirm(VENUE, other.token, "alice", ZONE, now_ms=first.expires_ms).status == "expired"


def test_a_shorter_hold_time_still_applies_to_a_re_pick(store):
    show = make_show(store)
    t0 = now_ms()
    store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=480, now_ms=t0)
    again = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0 + 1_000)
    assert again.expires_ms == t0 + 61_000


def test_after_a_hold_lapses_the_next_hold_is_a_new_one(store):
    show = make_show(store)
    t0 = now_ms()
    store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0)
    check = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0 + 61_000, check_only=True)
    assert check.new_seats == 2  # the lapsed hold's seats are new again: the budget counts them
    again = store.hold(VENUE, show, "alice", ["A4", "A5"], ttl_s=60, now_ms=t0 + 61_000)
    assert (again.ok, again.expires_ms, again.new_seats) == (True, t0 + 121_000, 2)


def test_hold_on_a_show_that_moved_auditorium_is_refused(store):
    show = make_show(store, auditorium="2", ext="x1")
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", show.starts_at, 4500, "x1")],
                           source="test")
    assert store.hold(VENUE, show, "alice", ["A1"], ttl_s=60).status == "closed"  # stale layout
    assert store.seat_states(VENUE, show.id) == {}


# ---- the no-orphan-single-seat rule (large hall: A1-A3 | A4-A11 | A12-A14) ------------------------


def book(store, show, client, seats):
    hold = store.hold(VENUE, show, client, seats, ttl_s=480)
    assert hold.ok, hold
    assert store.confirm(VENUE, hold.token, client, ZONE).ok


@pytest.mark.parametrize(("taken", "pick", "expect"), [
    ([], ["A4", "A5"], "ok"),  # from the aisle
    ([], ["A5", "A6"], "A4"),  # leaves A4 alone against the aisle
    ([], ["A10", "A11"], "ok"),
    ([], ["A9", "A10"], "A11"),  # leaves A11 alone against the aisle
    ([], ["A4", "A6"], "A5"),  # a hole inside the selection
    ([], ["A6", "A7"], "ok"),  # two free on the left, four on the right
    (["A4", "A5"], ["A7", "A8"], "A6"),  # one seat between the selection and a booked seat
    (["A4", "A5"], ["A6", "A7"], "ok"),
    ([], ["A2"], "A1"),  # the middle of a 3-seat block leaves two singles
    ([], ["A1"], "ok"),
    ([], ["A1", "A2"], "ok"),  # 3-seat block, party of 2: a single is unavoidable (n - k == 1)
    ([], ["A12", "A13"], "ok"),
    (["A4", "A5", "A6", "A7", "A8", "A9"], ["A10"], "ok"),  # last two of a block, one taken: unavoidable
    (["A4", "A5", "A6", "A7", "A8"], ["A9", "A10"], "ok"),  # fills all but one: unavoidable
    (["A4", "A5", "A6", "A7", "A8"], ["A10"], "A9"),
    (["A6"], ["A4"], "ok"),  # A5 is left between A4 and A6: n - k == 1 in the stretch A4-A5
    (["A5", "A8"], ["A10", "A11"], "ok"),  # the stretch A9-A11, party of 2: unavoidable
    (["A8"], ["A5", "A6"], "A4"),  # singles on both sides
])
def test_orphan_rule(store, taken, pick, expect):
    show = make_show(store)
    if taken:
        # mark the "taken" seats booked directly: how they got booked is not what this test is about
        for seat in taken:
            store.db.hset(CinemaKeys(VENUE).seats(show.id), seat, "B|SEEDCODE")
    result = store.hold(VENUE, show, "alice", pick, ttl_s=480)
    if expect == "ok":
        assert result.ok, result
    else:
        assert (result.status, result.seat) == ("orphan", expect)
        assert store.live_hold_token(VENUE, show.id, "alice") is None


def test_orphan_rule_ignores_a_single_left_by_others(store):
    show = make_show(store)
    for seat in ("A5",):  # A4 already alone (a cancelled booking, say)
        store.db.hset(CinemaKeys(VENUE).seats(show.id), seat, "B|SEEDCODE")
    assert store.hold(VENUE, show, "alice", ["A6", "A7"], ttl_s=480).ok


def test_orphan_rule_counts_live_holds_but_not_lapsed_ones(store):
    show = make_show(store)
    t0 = now_ms()
    assert store.hold(VENUE, show, "bob", ["A4", "A5"], ttl_s=60, now_ms=t0).ok
    assert store.hold(VENUE, show, "alice", ["A7", "A8"], ttl_s=60, now_ms=t0 + 1_000).seat == "A6"
    # once bob's hold lapses, A4-A6 are free: picking A7-A8 leaves three seats, fine
    assert store.hold(VENUE, show, "alice", ["A7", "A8"], ttl_s=60, now_ms=t0 + 61_000).ok


def test_accessible_and_couple_seats_are_outside_the_orphan_rule(store):
    show = make_show(store)
    assert store.hold(VENUE, show, "alice", ["G1"], ttl_s=480).ok  # wheelchair space beside a companion seat
    assert store.hold(VENUE, show, "bob", ["H5", "H6"], ttl_s=480).ok  # a pair in the middle of pairs


# ---- selections that can never be held ----------------------------------------------------------


def test_couple_seats_only_in_pairs():
    layout = AUDITORIUMS["1"].layout
    with pytest.raises(SelectionError, match="pairs"):
        parse_selection(layout, ["H1"])
    with pytest.raises(SelectionError, match="pairs"):
        parse_selection(layout, ["H2", "H3"])  # two seats, but of two different pairs
    assert parse_selection(layout, ["H1+H2"]) == ["H1", "H2"]
    assert parse_selection(layout, ["H2", "H1"]) == ["H1", "H2"]


def test_selection_limits():
    layout = AUDITORIUMS["1"].layout
    with pytest.raises(SelectionError, match="at least one"):
        parse_selection(layout, [])
    with pytest.raises(SelectionError, match="no seat"):
        parse_selection(layout, ["Z9"])
    with pytest.raises(SelectionError, match="no seat"):
        parse_selection(layout, ["A15"])
    with pytest.raises(SelectionError, match="no seat"):
        parse_selection(layout, ["<script>"])
    with pytest.raises(SelectionError, match="At most 8"):
        parse_selection(layout, [f"B{i}" for i in range(1, 10)])
    assert parse_selection(layout, ["a5", "A4", "A5"]) == ["A4", "A5"]


# ---- showtimes ------------------------------------------------------------------------------------


def test_showtime_upsert_by_external_id(store):
    start = int(time.time()) + 7200
    items = [ShowtimeInput("Orbit Nine", "九号轨道", "1", start, 4500, "pos-1"),
             ShowtimeInput("Paper Kites", "纸风筝", "2", start + 600, 3800, "pos-2")]
    first = store.upsert_showtimes(VENUE, ZONE, items, source="api:pos")
    assert (first["created"], first["updated"]) == (2, 0)
    items[0] = ShowtimeInput("Orbit Nine (IMAX)", "九号轨道", "1", start + 300, 5000, "pos-1")
    second = store.upsert_showtimes(VENUE, ZONE, items, source="api:pos")
    assert (second["created"], second["updated"]) == (0, 2)
    assert second["ids"] == first["ids"]
    shows = store.showtimes(VENUE, ZONE)
    assert [(s.film_en, s.starts_at, s.price) for s in shows] == [
        ("Orbit Nine (IMAX)", start + 300, "50.00"), ("Paper Kites", start + 600, "38.00")]
    assert store.show_starts(VENUE, ZONE, start, start + 600) == [start + 300, start + 600]
    with pytest.raises(ShowtimeClash):  # Hall 1 is Orbit Nine's then (a stored show, read through its key)
        store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Late", "", "1", start + 900, 100)], source="api:pos",
                               min_gap_s=3600)


def test_showtime_auditorium_cannot_change_once_seats_are_taken_and_nothing_is_stored(store):
    show = make_show(store, auditorium="1", ext="pos-9")
    assert store.hold(VENUE, show, "alice", ["A1"], ttl_s=480).ok
    other = ShowtimeInput("New film", "新片", "3", show.starts_at, 100, "pos-10")
    moved = ShowtimeInput("Orbit Nine", "九号轨道", "2", show.starts_at, 4500, "pos-9")
    with pytest.raises(ShowtimeConflict) as exc:
        store.upsert_showtimes(VENUE, ZONE, [other, moved], source="api:pos")
    assert exc.value.index == 1
    assert [s.id for s in store.showtimes(VENUE, ZONE)] == [show.id]  # all or nothing
    assert store.showtime(VENUE, show.id).auditorium == "1"


# ---- concurrency: many shoppers, separate connections ---------------------------------------------


def test_200_threads_holding_the_same_seats_one_wins(store, redis_url):
    show = make_show(store)
    barrier = threading.Barrier(50)

    def attempt(i: int):
        own = CinemaStore(redis.Redis.from_url(redis_url))
        if i < 50:
            barrier.wait(timeout=10)
        return own.hold(VENUE, show, f"shopper-{i}", ["D6", "D7"], ttl_s=480)

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, range(200)))
    winners = [o for o in outcomes if o.ok]
    assert len(winners) == 1
    assert {o.status for o in outcomes if not o.ok} == {"taken"}
    assert store.seat_states(VENUE, show.id) == {"D6": ("held", winners[0].token), "D7": ("held", winners[0].token)}


# ---- the cinema cancels or moves a showtime -------------------------------------------------------


def sold(store, show, client="alice", seats=("A4", "A5")) -> str:
    """A booking on the show: its code."""
    held = store.hold(VENUE, show, client, list(seats), ttl_s=480)
    return store.confirm(VENUE, held.token, client, ZONE).code


def test_cancelling_a_showtime_cancels_its_holds_and_bookings_and_closes_it(store):
    show = make_show(store)
    code = sold(store, show)
    live = store.hold(VENUE, show, "bob", ["C4", "C5"], ttl_s=480)
    store.hold(VENUE, show, "carol", ["F4"], ttl_s=60, now_ms=now_ms() - 120_000)  # lapsed
    other = make_show(store)
    other_code = sold(store, other)

    done = store.cancel_showtime(VENUE, show.id)
    assert done.bookings == 1 and live.token in done.holds and len(done.holds) == 2  # the lapsed hold's too
    assert store.seat_states(VENUE, show.id) == {}
    booking = store.booking(VENUE, code)
    assert (booking.status, booking.cancelled_by) == ("cancelled", "cinema") and booking.cancelled_ms > 0
    assert store.get_hold(VENUE, live.token).status == "cancelled"
    assert store.showtime(VENUE, show.id).cancelled
    assert store.hold(VENUE, store.showtime(VENUE, show.id), "dan", ["H5"], ttl_s=480).status == "closed"
    assert store.hold(VENUE, show, "dan", ["H5"], ttl_s=480, check_only=True).status == "closed"
    assert store.seat_states(VENUE, show.id) == {}
    # The other show is untouched; cancelling again changes nothing; an unknown show is None.
    assert store.booking(VENUE, other_code).status == "booked" and not store.showtime(VENUE, other.id).cancelled
    again = store.cancel_showtime(VENUE, show.id)
    assert (again.bookings, again.holds) == (0, ())
    assert store.cancel_showtime(VENUE, "s0000000000") is None


def test_a_hold_on_a_show_cancelled_meanwhile_confirms_to_nothing(store):
    """A hold whose show was cancelled after it was made (its payment arriving later) books nothing: the
    payment service refunds."""
    show = make_show(store, ext="pos-c1")
    held = store.hold(VENUE, show, "alice", ["B4", "B5"], ttl_s=480)
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", show.starts_at, 4500,
                                                       "pos-c1", status="cancelled")], source="api:pos")
    outcome = store.confirm(VENUE, held.token, "alice", ZONE)
    assert (outcome.status, outcome.code) == ("gone", "cancelled")
    assert store.show_bookings(VENUE, show.id) == [] and store.seat_states(VENUE, show.id) == {}
    assert store.get_hold(VENUE, held.token).status == "cancelled"


def test_holds_racing_a_cancellation_never_outlive_it(store, redis_url):
    """Shoppers holding and confirming while the show is cancelled: whatever the order the store saw them in,
    afterwards no seat is held or booked and no booking stands."""
    show = make_show(store)
    barrier = threading.Barrier(9)
    rows = "ABCDEFGH"

    def shopper(i: int):
        own = CinemaStore(redis.Redis.from_url(redis_url))
        barrier.wait(timeout=10)
        for k in range(5):
            held = own.hold(VENUE, show, f"racer-{i}", [f"{rows[i]}{4 + k}"], ttl_s=480)
            if held.ok:
                own.confirm(VENUE, held.token, f"racer-{i}", ZONE)

    def cancel():
        own = CinemaStore(redis.Redis.from_url(redis_url))
        barrier.wait(timeout=10)
        return own.cancel_showtime(VENUE, show.id)

    with ThreadPoolExecutor(max_workers=9) as pool:
        racers = [pool.submit(shopper, i) for i in range(8)]
        done = pool.submit(cancel)
        for racer in racers:
            racer.result()
        assert done.result() is not None
    assert store.seat_states(VENUE, show.id) == {}
    assert [b.code for b in store.show_bookings(VENUE, show.id) if b.status == "booked"] == []


def test_a_new_start_for_a_show_with_tickets_needs_confirming(store, db):
    show = make_show(store, ext="pos-m1", starts_in_s=7200)
    code = sold(store, show)
    later = ShowtimeInput("Orbit Nine", "九号轨道", "1", show.starts_at + 10 * 86400, 4500, "pos-m1")
    with pytest.raises(ShowtimeMoved) as exc:
        store.upsert_showtimes(VENUE, ZONE, [later], source="api:pos")
    assert exc.value.index == 0 and isinstance(exc.value, ShowtimeConflict)
    assert store.showtime(VENUE, show.id).starts_at == show.starts_at and not store.showtime(VENUE, show.id).moved_ms
    result = store.upsert_showtimes(VENUE, ZONE, [replace(later, confirm_time_change=True)], source="api:pos")
    assert result["moved"] == {0: show.starts_at}
    moved = store.showtime(VENUE, show.id)
    assert moved.starts_at == show.starts_at + 10 * 86400 and moved.moved_ms > 0
    # Its bookings are kept as long after the new start as they were after the old one (never shortened).
    booking_key, tickets_key = CinemaKeys(VENUE).booking(code), CinemaKeys(VENUE).client_tickets("alice")
    before = db.ttl(booking_key)
    store.keep_bookings(VENUE, moved)
    assert db.ttl(booking_key) >= before + 10 * 86400 - 600 and db.ttl(tickets_key) >= db.ttl(booking_key) - 600
    store.keep_bookings(VENUE, show)  # the old, sooner start: nothing shortened
    assert db.ttl(booking_key) >= before + 10 * 86400 - 600
    # The same start again is no move; other fields may change without confirming.
    again = store.upsert_showtimes(VENUE, ZONE, [replace(later, price_cents=5000)], source="api:pos")
    assert again["moved"] == {} and store.showtime(VENUE, show.id).price_cents == 5000


def test_a_new_start_for_a_show_without_tickets_is_no_move(store):
    quiet, lapsed, held = (make_show(store, ext=f"pos-q{i}", starts_in_s=7200) for i in range(3))
    store.hold(VENUE, lapsed, "carol", ["F4"], ttl_s=60, now_ms=now_ms() - 120_000)
    store.hold(VENUE, held, "dan", ["F4"], ttl_s=480)
    items = [ShowtimeInput("Orbit Nine", "九号轨道", "1", s.starts_at + 600, 4500, s.external_id)
             for s in (quiet, lapsed)]
    assert store.upsert_showtimes(VENUE, ZONE, items, source="api:pos")["moved"] == {}
    with pytest.raises(ShowtimeMoved):  # a live hold: a shopper is paying for the time they saw
        store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", held.starts_at + 600,
                                                           4500, held.external_id)], source="api:pos")


def test_a_cancelled_show_stays_cancelled_as_it_was_sold(store):
    show = make_show(store, ext="pos-r1")
    item = ShowtimeInput("Orbit Nine", "九号轨道", "1", show.starts_at, 4500, "pos-r1")
    cancelled = store.upsert_showtimes(VENUE, ZONE, [replace(item, starts_at=show.starts_at + 600, price_cents=1,
                                                             status="cancelled")], source="api:pos")
    assert cancelled["updated"] == 1
    stored = store.showtime(VENUE, show.id)
    assert stored.cancelled and (stored.starts_at, stored.price_cents) == (show.starts_at, 4500)
    with pytest.raises(ShowtimeReopened) as exc:
        store.upsert_showtimes(VENUE, ZONE, [replace(item, status="scheduled")], source="api:pos")
    assert exc.value.index == 0
    # No status (the cinema system's next full sync), or "cancelled" again: accepted, and nothing of it changes.
    for again in (replace(item, price_cents=4800, starts_at=show.starts_at + 3600, auditorium="2"),
                  replace(item, price_cents=4900, status="cancelled")):
        assert store.upsert_showtimes(VENUE, ZONE, [again], source="api:pos")["updated"] == 1
        stored = store.showtime(VENUE, show.id)
        assert stored.cancelled and (stored.starts_at, stored.price_cents, stored.auditorium) == (
            show.starts_at, 4500, "1")
    assert [s.starts_at for s in store.showtimes(VENUE, ZONE) if s.id == show.id] == [show.starts_at]


def test_a_cancellation_stays_on_the_work_set_until_nothing_is_left(store):
    """The script that marks the show cancelled puts it on the venue's cancelling set, in the same step (the push's
    upsert, or cancel_showtime); it comes off only once no seat is taken, no booking is booked and every booking
    the cinema cancelled is settled. The holds it released are kept for their orders, until then."""
    pushed, console = make_show(store, ext="pos-w1"), make_show(store)
    code = sold(store, pushed)
    live = store.hold(VENUE, pushed, "bob", ["C4", "C5"], ttl_s=480)
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", pushed.starts_at, 4500,
                                                       "pos-w1", status="cancelled")], source="api:pos")
    assert store.is_cancelling(VENUE, pushed.id) and store.cancelling(VENUE) == [pushed.id]
    assert store.booking(VENUE, code).status == "booked"  # the push marked the show; its tickets come next
    assert store.finish_cancelling(VENUE, pushed.id) is False
    assert store.settle_cancelled(VENUE, code, "done") is False  # not a booking the cinema cancelled (yet)
    done = store.cancel_showtime(VENUE, pushed.id)
    assert done.bookings == 1 and store.cancelled_holds(VENUE, pushed.id) == [live.token]
    assert store.finish_cancelling(VENUE, pushed.id) is False  # its ticket is not settled
    assert store.settle_cancelled(VENUE, code, "done") is True
    assert store.booking(VENUE, code).refund_outcome == "done"
    assert store.finish_cancelling(VENUE, pushed.id) is True
    assert not store.is_cancelling(VENUE, pushed.id) and store.cancelled_holds(VENUE, pushed.id) == []
    # Cancelled again (a repeated push, or cancel_showtime): back on the set never.
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", pushed.starts_at, 4500,
                                                       "pos-w1", status="cancelled")], source="api:pos")
    assert store.cancel_showtime(VENUE, pushed.id).bookings == 0 and store.cancelling(VENUE) == []
    # The console's way: cancel_showtime marks and puts it on the set at once; nothing booked: done once off.
    assert store.cancel_showtime(VENUE, console.id).bookings == 0 and store.cancelling(VENUE) == [console.id]
    assert store.finish_cancelling(VENUE, console.id) is True and store.cancelling(VENUE) == []
    assert store.settle_cancelled(VENUE, "NOSUCHCD", "done") is False and store.booking(VENUE, "NOSUCHCD") is None


def test_a_paid_cancel_stays_on_the_refund_set_until_settled(store):
    """The script that cancels a paid booking keeps its order on it and puts it on the venue's cancel-refunds set in
    the same step, whoever cancels (a failure before its refund leaves it there); at the counter it is marked so.
    Settled as cancelled by whoever did, it is off the set. Unpaid at the counter: settled as "none" at once."""
    show = make_show(store)
    paid, unpaid, own = sold(store, show), sold(store, show, "bob", ("B4", "B5")), sold(store, show, "cy", ("C4",))
    own_unpaid = sold(store, show, "di", ("D4",))
    assert store.cancel_booking(VENUE, paid, "alice", by=AT_COUNTER, owed_order="MPORDER1", now_ms=1000).ok
    assert store.cancel_booking(VENUE, unpaid, "bob", by=AT_COUNTER).ok
    assert store.cancel_booking(VENUE, own, "cy", owed_order="MPORDER3", now_ms=2000).ok
    assert store.cancel_booking(VENUE, own_unpaid, "di").ok
    assert store.seat_states(VENUE, show.id) == {} and store.cancel_refunds(VENUE) == [paid, own]
    booking = store.booking(VENUE, paid)
    assert (booking.cancelled_by, booking.order_id, booking.refund_outcome) == (AT_COUNTER, "MPORDER1", "")
    assert booking.refund_left and booking.refund_to_finish and not booking.refund_to_arrange
    assert (store.booking(VENUE, unpaid).cancelled_by, store.booking(VENUE, unpaid).refund_outcome) == (
        AT_COUNTER, "none")
    assert not store.booking(VENUE, unpaid).refund_to_finish
    booking = store.booking(VENUE, own)
    assert (booking.cancelled_by, booking.order_id, booking.refund_outcome) == ("", "MPORDER3", "")
    assert not booking.refund_left and not booking.refund_to_finish  # hers: the sweep's, no button at the counter
    assert (store.booking(VENUE, own_unpaid).refund_outcome, store.booking(VENUE, own_unpaid).order_id) == ("", "")
    # Cancelled again (a double tap): nothing changes, still owed.
    assert store.cancel_booking(VENUE, paid, "alice", by=AT_COUNTER, owed_order="MPORDER1").status == "gone"
    assert store.cancel_refunds(VENUE) == [paid, own]
    # Only the ones a minute old (the sweep's), and one sent to the back goes after the others.
    assert store.cancel_refunds(VENUE, before_ms=1500) == [paid]
    store.later_cancel_refund(VENUE, paid, 3000)
    assert store.cancel_refunds(VENUE) == [own, paid] and store.cancel_refunds(VENUE, limit=1) == [own]
    store.later_cancel_refund(VENUE, "NOTONSET", 3000)  # one settled meanwhile is not put back
    assert store.cancel_refunds(VENUE) == [own, paid]
    # Only as cancelled by whoever did: the showtime's settling, or another's, leaves it owed.
    assert store.settle_cancelled(VENUE, paid, "done") is False and store.cancel_refunds(VENUE) == [own, paid]
    assert store.settle_cancelled(VENUE, own, "done", by=AT_COUNTER) is False
    assert store.settle_cancelled(VENUE, own, "pending", by="") is True
    assert store.booking(VENUE, own).refund_outcome == "pending" and store.cancel_refunds(VENUE) == [paid]
    assert store.settle_cancelled(VENUE, own, "done", by="") is True  # under way before: its final word kept
    assert store.settle_cancelled(VENUE, paid, "exceeds", by=AT_COUNTER) is True
    booking = store.booking(VENUE, paid)
    assert store.cancel_refunds(VENUE) == [] and booking.refund_to_arrange and booking.refund_to_finish
    assert store.settle_cancelled(VENUE, paid, "refused", by=AT_COUNTER) is True  # asked again, refused for good
    booking = store.booking(VENUE, paid)
    assert booking.refund_to_arrange and not booking.refund_to_finish  # by hand: no Finish refund
    # A final outcome stays: a slower caller's "pending" (read before it was made or refused) never replaces it.
    assert store.settle_cancelled(VENUE, paid, "pending", by=AT_COUNTER) is False
    assert store.settle_cancelled(VENUE, own, "pending", by="") is False
    assert store.booking(VENUE, paid).refund_outcome == "refused" and store.booking(VENUE, own).refund_outcome == "done"
    # A code whose booking lapsed (with its show) leaves the set when settled.
    store.db.zadd(CinemaKeys(VENUE).cancel_refunds(), {"LAPSED23": 1})
    assert store.settle_cancelled(VENUE, "LAPSED23", "none", by=AT_COUNTER) is False
    assert store.cancel_refunds(VENUE) == []


def test_cancelling_a_show_never_stored_is_refused_and_stores_nothing(store):
    good = ShowtimeInput("Orbit Nine", "九号轨道", "1", int(time.time()) + 3600, 4500, "pos-n1")
    phantom = ShowtimeInput("Orbit Nine", "九号轨道", "1", int(time.time()) + 3600, 4500, "pos-n2", status="cancelled")
    with pytest.raises(ShowtimeUnknown) as exc:
        store.upsert_showtimes(VENUE, ZONE, [good, phantom], source="api:pos")
    assert exc.value.index == 1 and isinstance(exc.value, ShowtimeConflict)
    assert store.showtimes(VENUE, ZONE) == [] and store.cancelling(VENUE) == []


def test_a_confirmed_move_stays_on_the_moving_set_until_its_holders_are_told(store):
    show = make_show(store, ext="pos-mv", starts_in_s=7200)
    sold(store, show)
    first, second = show.starts_at + 3600, show.starts_at + 7200
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", first, 4500, "pos-mv",
                                                       confirm_time_change=True)], source="api:pos")
    moved = store.showtime(VENUE, show.id)
    assert store.moving(VENUE) == [(show.id, moved.moved_ms)] and moved.moved_from == show.starts_at
    # Moved again before its holders were told: they are told of the newest time, "was" the one they knew.
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", second, 4500, "pos-mv",
                                                       confirm_time_change=True)], source="api:pos")
    again = store.showtime(VENUE, show.id)
    assert (again.starts_at, again.moved_from) == (second, show.starts_at)
    if again.moved_ms != moved.moved_ms:  # the same millisecond is the same move to the set
        assert store.finish_moving(VENUE, show.id, moved.moved_ms) is False  # told of the first move only
    assert store.moving(VENUE) == [(show.id, again.moved_ms)]
    assert store.finish_moving(VENUE, show.id, again.moved_ms) is True and store.moving(VENUE) == []
    assert store.finish_moving(VENUE, show.id, again.moved_ms) is True  # off already
    # Once told, the next move says "was" the time they were told of.
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1", first, 4500, "pos-mv",
                                                       confirm_time_change=True)], source="api:pos")
    assert store.showtime(VENUE, show.id).moved_from == second
    assert store.finish_moving(VENUE, show.id, None) is True and store.moving(VENUE) == []


def test_a_booking_keeps_when_its_hold_was_made(store):
    """What the shopper chose at (a move of the show after it is news to them), not when the payment came."""
    show = make_show(store)
    start = now_ms()
    held = store.hold(VENUE, show, "alice", ["E4", "E5"], ttl_s=480, now_ms=start)
    code = store.confirm(VENUE, held.token, "alice", ZONE, now_ms=start + 200_000).code
    booking = store.booking(VENUE, code)
    assert (booking.held_ms, booking.created_ms, booking.chosen_ms) == (start, start + 200_000, start)


def test_seats_open_counts_free_seats_and_the_shoppers_own(store):
    show, empty = make_show(store), make_show(store)
    capacity = show.layout.capacity
    sold(store, show, "alice", ("A4", "A5"))
    store.hold(VENUE, show, "bob", ["C4", "C5", "C6"], ttl_s=480)
    store.hold(VENUE, show, "carol", ["F4"], ttl_s=60, now_ms=now_ms() - 120_000)  # lapsed: free
    assert store.seats_open(VENUE, [show, empty]) == {show.id: capacity - 5, empty.id: capacity}
    assert store.seats_open(VENUE, [show], "bob") == {show.id: capacity - 2}
    assert store.seats_open(VENUE, []) == {}


def test_showtimes_page_walks_the_index_once_ties_included(store):
    """Pages of 2 through five shows, three starting together: each once, in the index's order (start, then id),
    `end` kept on every page; the last page says there is no more."""
    start = int(time.time()) + 86400
    store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput(f"Page {n}", "", hall, start + offset, 4500)
                                         for n, (hall, offset) in enumerate([("1", 0), ("2", 0), ("3", 0),
                                                                             ("1", 3600), ("1", 7200)])],
                           source="test")
    every = [s.id for s in store.showtimes(VENUE, ZONE)]
    for end, expected in ((None, every), (start + 3600, every[:4]), (start, every[:3])):
        seen, after = [], None
        while True:
            page, after = store.showtimes_page(VENUE, ZONE, start, end, 2, after)
            assert len(page) <= 2
            seen += [s.id for s in page]
            if after is None:
                break
            assert after == (page[-1].starts_at, page[-1].id)
        assert seen == expected, end
    assert store.showtimes_page(VENUE, ZONE, start + 1, start + 3599, 2) == ([], None)


def test_an_item_without_id_that_is_a_stored_show_again_is_that_show(store):
    """`same_is_duplicate` (the cinema system's push): the same films, hall, start and price, live, is the stored
    show (nothing written, neither created nor updated), also racing itself; anything else differing is not."""
    item = ShowtimeInput("Again", "再来", "1", int(time.time()) + 7200, 4500)
    [first] = store.upsert_showtimes(VENUE, ZONE, [item], source="api:pos")["ids"]

    def push_again(_n: int) -> dict:
        return store.upsert_showtimes(VENUE, ZONE, [item], source="api:pos", min_gap_s=3600, same_is_duplicate=True)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(push_again, range(8)))
    assert all(a["ids"] == [first] and a["duplicates"] == [0] and (a["created"], a["updated"]) == (0, 0)
               for a in answers)
    assert [s.id for s in store.showtimes(VENUE, ZONE)] == [first]
    # the window is the item's own start without a gap asked, and the console's adds (no flag) are not retries
    assert store.upsert_showtimes(VENUE, ZONE, [item], source="api:pos", same_is_duplicate=True)["ids"] == [first]
    with pytest.raises(ShowtimeClash):
        store.upsert_showtimes(VENUE, ZONE, [item], source="console", min_gap_s=3600)
    with pytest.raises(ShowtimeClash):
        store.upsert_showtimes(VENUE, ZONE, [replace(item, film_zh="")], source="api:pos", min_gap_s=3600,
                               same_is_duplicate=True)
