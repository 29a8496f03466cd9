"""Tickets paid under a release from before bookings kept their order (before 2026-12-06): such a booking names
only its hold, and the order's key by hold ("cinema:<hold>") lapses two days after the hold, while the cinema
sells a week ahead. The payments sweep copies each such booking's order onto it once per venue (found in the
payments ledger, which outlives the key), and until it has, a ticket whose order cannot be found is not cancelled
as if unpaid: the shopper's cancel is refused, the cinema's showtime cancellation waits to refund and tell."""

from __future__ import annotations

import pytest

from lightapps.cinema.payment import keep_orders_of_old_bookings
from lightapps.cinema.store import CinemaKeys
from lightapps.cinema.tests.test_cinema_cancel_paid import BASE, VENUE, cinema, new_show, paid_ticket  # noqa: F401
from portal.notify.outbox import Job, NotifyKeys
from portal.payments.store import PaymentKeys
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox

WEEK_AHEAD_S = 5 * 86400


def old_ticket(cinema, sandbox, pay, lapsed: bool, seats=("C4", "C5")):  # noqa: F811
    """A ¥90 ticket for a show days ahead, ¥30 of it refunded already, as the old release left it: no order and no
    hold time on the booking; `lapsed`: its order's key by hold gone, as two days after the hold. (code, order)."""
    _client, _c, store, _push = cinema
    show = new_show(cinema, starts_in_s=WEEK_AHEAD_S)
    code, order_id = paid_ticket(cinema, sandbox[1], show, seats)
    assert pay.refund(VENUE, order_id, 3000, "goodwill") == "done"
    db = store.db
    db.hdel(CinemaKeys(VENUE).booking(code), "order", "held_ms")
    if lapsed:
        db.delete(PaymentKeys(VENUE).idem(f"cinema:{store.booking(VENUE, code).token}"))
    return code, order_id


def refunds_of(pay, order_id: str) -> list[int]:  # noqa: F811
    return [e.amount for e in pay.store.ledger(VENUE) if e.kind == "refund" and e.order == order_id]


def seats_taken(store, code: str) -> bool:
    booking = store.booking(VENUE, code)
    return all(store.db.hget(CinemaKeys(VENUE).seats(booking.show_id), s) == f"B|{code}".encode()
               for s in booking.seats)


@pytest.mark.parametrize("lapsed", [True, False], ids=["key-lapsed", "key-kept"])
def test_an_old_paid_ticket_is_refunded_the_rest_once_when_its_shopper_cancels(cinema, sandbox, pay, lapsed):  # noqa: F811
    client, c, store, _push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed)
    pay.sweep(VENUE)  # the first sweep after the upgrade
    assert store.booking(VENUE, code).order_id == order_id
    page = client.get(f"{BASE}/ticket/{code}?c={c}&lang=en").get_data(as_text=True)
    assert 'id="paid"' in page and "Cancel until" in page
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code in (303, 409)
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", 9000)
    assert refunds_of(pay, order_id) == [3000, 6000]
    assert store.booking(VENUE, code).status == "cancelled"


def test_an_old_ticket_whose_order_is_not_found_yet_is_not_cancelled(cinema, sandbox, pay):  # noqa: F811
    """Before the sweep found its order: refused, not cancelled as unpaid (seats freed, the money kept)."""
    client, c, store, _push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed=True)
    page = client.get(f"{BASE}/ticket/{code}?c={c}&lang=en").get_data(as_text=True)
    assert "payment cannot be found just now" in page and 'id="cancel-ticket"' not in page
    refused = client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c, "lang": "en"})
    assert refused.status_code == 409 and "payment cannot be found just now" in refused.get_data(as_text=True)
    assert store.booking(VENUE, code).status == "booked" and seats_taken(store, code)
    assert pay.order(VENUE, order_id).status == "partially_refunded"
    pay.sweep(VENUE)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert refunds_of(pay, order_id) == [3000, 6000]


def show_cancelled_notices(db) -> list[Job]:
    jobs = [Job.from_json(f[b"job"]) for _i, f in db.xrange(NotifyKeys(VENUE).stream())]
    return [j for j in jobs if j.event == "cinema.show_cancelled"]


@pytest.mark.parametrize("swept_first", [True, False], ids=["after-sweep", "before-sweep"])
def test_the_cinemas_cancellation_refunds_an_old_paid_ticket_the_rest_once(cinema, sandbox, pay, db, swept_first):  # noqa: F811
    """Before the sweep found its order, the cancellation waits (the ticket still to refund and tell, the show not
    finished); the sweep that finds it finishes it."""
    client, c, store, push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed=True)
    show = store.showtime(VENUE, store.booking(VENUE, code).show_id)
    if swept_first:
        pay.sweep(VENUE)
    assert push(show.starts_at, status="cancelled").status_code == 201
    assert store.booking(VENUE, code).status == "cancelled"
    if not swept_first:
        assert store.booking(VENUE, code).refund_outcome == "" and store.is_cancelling(VENUE, show.id)
        assert refunds_of(pay, order_id) == [3000] and show_cancelled_notices(db) == []
        page = client.get(f"{BASE}/ticket/{code}?c={c}&lang=en").get_data(as_text=True)
        assert 'id="show-cancelled"' in page and 'id="error"' not in page
        pay.sweep(VENUE)  # finds its order, then finishes the cancellation
    assert refunds_of(pay, order_id) == [3000, 6000]
    pay.sweep(VENUE)
    assert push(show.starts_at, status="cancelled").status_code == 201
    assert refunds_of(pay, order_id) == [3000, 6000]
    assert store.booking(VENUE, code).refund_outcome == "done" and not store.is_cancelling(VENUE, show.id)
    [notice] = show_cancelled_notices(db)
    assert "refunded in full" in notice.data["body_en"]


def test_the_backfill_runs_once_and_is_idempotent(cinema, sandbox, pay):  # noqa: F811
    """From the ledger, whether the order's key by hold lasts or not."""
    _client, _c, store, _push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed=True)
    kept, _kept_order = old_ticket(cinema, sandbox, pay, lapsed=False, seats=("E4", "E5"))
    assert keep_orders_of_old_bookings(VENUE, store, pay) == 2
    assert keep_orders_of_old_bookings(VENUE, store, pay) == 0  # nothing left without its order
    assert store.booking(VENUE, code).order_id == order_id
    store.db.hdel(CinemaKeys(VENUE).booking(code), "order")
    pay.sweep(VENUE)  # done once for the venue: not again
    assert store.booking(VENUE, code).order_id == ""
    assert store.orders_backfilled(VENUE)


def test_after_the_backfill_an_old_ticket_with_no_paid_order_is_unpaid(cinema, sandbox, pay):  # noqa: F811
    """The ledger found no payment for it (booked at the counter): cancelled as before, nothing refunded."""
    client, c, store, _push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed=True)
    store.db.hset(CinemaKeys(VENUE).booking(code), "token", "not-a-paid-hold")
    pay.sweep(VENUE)
    assert store.booking(VENUE, code).order_id == ""
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert store.booking(VENUE, code).status == "cancelled" and refunds_of(pay, order_id) == [3000]



def test_the_backfill_names_a_ticket_cancelled_as_unpaid_before_it(cinema, sandbox, pay, caplog):  # noqa: F811
    """Cancelled by a release that read it as unpaid (its seats freed, nothing refunded): said, for staff."""
    _client, _c, store, _push = cinema
    code, order_id = old_ticket(cinema, sandbox, pay, lapsed=True)
    store.db.hset(CinemaKeys(VENUE).booking(code), "status", "cancelled")
    with caplog.at_level("WARNING", logger="lightapps.cinema.payment"):
        assert keep_orders_of_old_bookings(VENUE, store, pay) == 1
    assert f"{code} was cancelled as unpaid; its order {order_id} keeps 6000 fen" in caplog.text
