"""What the cinema's changes to a showtime with tickets mean for their holders (the console's Cancel button and
the cinema system's push, lightapps/cinema/api.py, both end here), and how such a change always finishes (one
ticket cancelled alone takes `cancel_in_store` then `finish_refund`: its shopper's through `cancel_and_refund`, the
counter's with its audit between the two, console.py; its refund finishes as a cancelled show's does, below):

- Cancelled: the script that marks the show cancelled (the push's upsert, or `CinemaStore.cancel_showtime` from
  the console) puts it on the venue's cancelling set in the same step. The work (`finish_cancel`) then cancels its
  holds and bookings in the store (`cancel_showtime`: one step; the holds it released are kept on the show's
  cancelled-holds set), closes the payment orders still open for those holds, and for each booking the cinema
  cancelled asks for the full refund through the refund a shopper's own cancellation makes
  (`payment.refund_cancelled`: one refund number per booking, so a ticket is refunded once, whoever cancels and
  however often; a ticket sold before bookings kept their order waits for the sweep that finds it, payment.py),
  tells its holder (once per ticket: refunded in full, or, when the refund could not be made online, that the
  cinema arranges it) and marks it settled (`Booking.refund_outcome`). Every step is idempotent; the show leaves
  the set only when nothing is left (`CinemaStore.finish_cancelling`). What a store error or a
  crash cuts short is finished by the next push or console press for the show, or by the payments sweep
  (`register`: a sweeper), whichever comes first. A show whose cancellation finished is not worked again.
- Moved (a new start time the cinema system confirmed for a show with tickets): the upsert puts it on the moving
  set; `finish_move` keeps its bookings as long after the new start as after the old one, tells each holder the
  new time (once per ticket and time) and takes it off the set unless it moved again meanwhile. Their ticket may
  be cancelled until the show starts, refunded in full if paid, whatever the refund cut-off (views.py,
  `_refund_cutoff_s`): also a ticket whose hold was made before the move and paid after (payment.py tells its
  holder of the move when the payment confirms it).
- Cancelled alone (one paid ticket: its shopper's own cancel, or the console's Cancel and refund at the counter,
  which marks it `cancelled_by` "counter"): the script that cancels it puts it on the venue's cancel-refunds set in
  the same step; its refund is then asked for under the same one refund number and its outcome settled on it
  (`finish_refund`). A store error or a crash in between leaves it on the set (at the counter: "still to refund" on
  the showtime's page, with Finish refund): the payments sweep (`finish_cancel_refunds`, for one a minute old:
  never beside the request still asking the provider) asks again, and a try that fails goes to the back of the
  line. A refund not made online is settled as the cinema's to arrange: one the order could not take then
  ("state", "exceeds") may be asked for again with Finish refund; one the provider refused is arranged by hand
  (asked again under the same number, it is refused again)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from flask import Flask

from lightapps.cinema import notices
from lightapps.cinema.payment import PaymentUnknown, app_cinema_store, close_hold_order, refund_cancelled
from lightapps.cinema.store import (
    AT_COUNTER,
    NO_REFUND,
    REFUND_UNDER_WAY,
    Booking,
    Showtime,
    refund_to_arrange,
)
from portal.payments.service import PaymentError, PaymentService
from portal.payments.store import Order

log = logging.getLogger(__name__)

CANCEL_REASON = "showtime cancelled"
COUNTER_REASON = "ticket cancelled at the cinema"
OWN_REASON = "ticket cancelled"  # by its shopper
SWEEP_LIMIT = 50  # shows (or ticket refunds) finished per venue per sweep, of each kind (the rest: the next minute's)
# A ticket's refund is left to the sweep once it has been on the cancel-refunds set this long: a younger one may
# still be asked for by the request that cancelled it (the provider can take seconds), as the payments' own
# retry_refunds waits.
REFUND_MIN_AGE_MS = 60_000


@dataclass(frozen=True)
class Cancelled:
    show: Showtime
    tickets: int  # the bookings cancelled by this call (0 when cancelled before)
    refunds: int  # the tickets settled by this call whose refund is under way (done, processing, pending)
    to_arrange: int  # the paid tickets settled by this call whose refund could not be made online
    finished: bool  # nothing of the cancellation is left (False: the sweep, or the next press, goes on)


def cancel_and_refund(venue: str, booking: Booking, order: Order | None, reason: str,
                      by: str = "") -> tuple[str, str]:
    """Cancel one ticket, its seats freed, and refund in full what paid for it: its shopper's path before the refund
    cut-off (views.py, `by` ""); the cinema's counter takes the same two steps, `cancel_in_store` and `finish_refund`,
    with its audit between them (console.py, `by` AT_COUNTER); the refund's outcome kept on the booking either way
    (see the module). `order`: its paying order, read by the
    caller first (`payment.paying_order`: a ticket whose payment is not known yet is not cancelled). Returns (the
    store's outcome: "ok", "gone" (cancelled before) or "nobooking"; the refund's: "none" (nothing paid online) or
    `refund_cancelled`'s). A ticket cancelled before is asked for its refund again under its one refund number: a
    refund a failure cut short is made, one made is not made twice."""
    status, owed = cancel_in_store(venue, booking, order, by)
    return status, finish_refund(venue, booking, by, reason, order) if owed else NO_REFUND


def cancel_in_store(venue: str, booking: Booking, order: Order | None, by: str = "") -> tuple[str, bool]:
    """`cancel_and_refund`'s first step, the store's: (its outcome, whether a full refund is owed now: paid online
    and cancelled, now or before). The counter audits the cancel between the two steps, so that a refund the provider
    keeps waiting (or a failure cuts short) leaves the cancel audited all the same."""
    paid = order is not None and order.is_paid
    outcome = app_cinema_store().cancel_booking(venue, booking.code, booking.client, by=by,
                                                owed_order=order.id if paid else "")
    return outcome.status, paid and outcome.status in ("ok", "gone")


def finish_refund(venue: str, booking: Booking, by: str, reason: str = COUNTER_REASON,
                  order: Order | None = None) -> str:
    """Ask for a ticket's full refund (`refund_cancelled`: its one refund number) and, when `by` (who cancelled it:
    its shopper "", or AT_COUNTER) is who did, keep the outcome on it (off the cancel-refunds set). A ticket the
    cinema cancelled with its showtime is settled by `finish_cancel` only, once its holder is told. Returns the
    refund's outcome."""
    outcome = refund_cancelled(venue, booking, reason, order)
    app_cinema_store().settle_cancelled(venue, booking.code, outcome, by=by)
    return outcome


def finish_cancel_refunds(venue: str, now_ms: int, min_age_ms: int = REFUND_MIN_AGE_MS) -> int:
    """The payments sweep: ask for the refunds of the tickets cancelled alone that a failure cut short (on the
    cancel-refunds set for `min_age_ms` or more). Returns how many were settled now (a ticket lapsed with its show
    too: off the set); one that fails is logged and sent to the back of the line, for a later sweep."""
    store = app_cinema_store()
    settled = 0
    for code in store.cancel_refunds(venue, SWEEP_LIMIT, before_ms=now_ms - min_age_ms):
        if _guarded(_finish_cancel_refund, venue, code):
            settled += 1
        else:
            store.later_cancel_refund(venue, code, now_ms)
    return settled


def _finish_cancel_refund(venue: str, code: str) -> bool:
    """Whether the ticket's refund is settled (off the cancel-refunds set); False: a later sweep asks again."""
    store = app_cinema_store()
    booking = store.booking(venue, code)
    if booking is None:  # lapsed with its show (30 days after): off the set, nothing left to refund it for
        store.settle_cancelled(venue, code, NO_REFUND)
        return True
    reason = COUNTER_REASON if booking.cancelled_by == AT_COUNTER else OWN_REASON
    try:
        finish_refund(venue, booking, booking.cancelled_by, reason)
    except PaymentUnknown:  # its order not found yet (payment.py): a later sweep asks again
        return False
    return True


def cancel_show(venue: str, show_id: str) -> Cancelled | None:
    """Cancel the showtime (the console), or finish its cancellation (the push marked it, or one was cut short).
    A show whose cancellation finished before is not worked again: nothing refunded or told twice, nothing
    counted. None: no such show."""
    store = app_cinema_store()
    show = store.showtime(venue, show_id)
    if show is None:
        return None
    if show.cancelled and not store.is_cancelling(venue, show_id):
        return Cancelled(show=show, tickets=0, refunds=0, to_arrange=0, finished=True)
    return finish_cancel(venue, show_id)


def finish_cancel(venue: str, show_id: str) -> Cancelled | None:
    """Do whatever the show's cancellation still needs (see the module): idempotent, safe beside another call for
    the same show. None: no such show."""
    store = app_cinema_store()
    done = store.cancel_showtime(venue, show_id)
    show = store.showtime(venue, show_id)
    if done is None or show is None:
        return None
    still_open = sum(not close_hold_order(venue, token, CANCEL_REASON)
                     for token in store.cancelled_holds(venue, show_id))
    refunds = to_arrange = 0
    for booking in store.show_bookings(venue, show_id):
        if booking.status != "cancelled" or booking.cancelled_by != "cinema" or booking.refund_outcome:
            continue
        try:
            outcome = refund_cancelled(venue, booking, CANCEL_REASON)
        except PaymentUnknown:  # left unsettled: the sweep that finds its order (payment.py) refunds and tells
            continue
        if booking.client:  # "": its shopper was erased, nobody to tell
            notices.show_cancelled(venue, show.zone, booking, show, outcome)
        store.settle_cancelled(venue, booking.code, outcome)
        refunds += outcome in REFUND_UNDER_WAY
        to_arrange += refund_to_arrange(outcome)
    finished = not still_open and store.finish_cancelling(venue, show_id)
    return Cancelled(show=show, tickets=done.bookings, refunds=refunds, to_arrange=to_arrange, finished=finished)


def finish_move(venue: str, show_id: str) -> int:
    """Tell the holders of a show the cinema moved (on the moving set) its new time, and keep its bookings as long
    after the new start as after the old one; returns how many were told now (a holder told before is not told
    again). Off the set once done, unless it moved again meanwhile."""
    store = app_cinema_store()
    show = store.showtime(venue, show_id)
    if show is None or show.cancelled:  # a cancelled show's holders are told of that instead
        store.finish_moving(venue, show_id, None)
        return 0
    store.keep_bookings(venue, show)
    told = 0
    for booking in store.show_bookings(venue, show_id):
        if booking.status == "booked" and booking.client:
            told += notices.show_moved(venue, show.zone, booking, show, show.moved_from or show.starts_at)
    store.finish_moving(venue, show_id, show.moved_ms)
    return told


def finish_pending(venue: str, show_ids: list[str] | None = None) -> tuple[int, int]:
    """Finish the venue's unfinished cancellations and moves (of `show_ids` only, when given: a push finishes its
    own shows at once): (tickets cancelled, holders told of new times). A show that keeps failing is logged and
    left for the next sweep; a store outage stops it."""
    store = app_cinema_store()
    wanted = None if show_ids is None else set(show_ids)
    cancelled = told = 0
    for show_id in store.cancelling(venue, SWEEP_LIMIT if wanted is None else 1000):
        if wanted is None or show_id in wanted:
            done = _guarded(finish_cancel, venue, show_id)
            cancelled += done.tickets if done else 0
    for show_id, _moved_ms in store.moving(venue, SWEEP_LIMIT if wanted is None else 1000):
        if wanted is None or show_id in wanted:
            told += _guarded(finish_move, venue, show_id) or 0
    return cancelled, told


def _guarded(step, venue: str, ref: str):
    """`step(venue, ref)` for a show (or a ticket cancelled alone): an error of its own is logged and left for
    the next sweep (None); a store outage stops the sweep."""
    try:
        return step(venue, ref)
    except (redis.ConnectionError, redis.TimeoutError):
        raise
    except (redis.RedisError, PaymentError) as exc:
        log.warning("cinema %s (venue %s) still not finished: %s", ref, venue, exc)
        return None


def register(flask_app: Flask) -> None:
    """The payments sweep (each minute, every venue) finishes what a cancellation, a move or a ticket's own
    cancel left."""
    payments: PaymentService = flask_app.extensions["mallportal"].payments

    def sweep(venue: str) -> int:
        # A request for the venue's showtimes (never dispatched): the services, url_for for the notices' ticket
        # links, and the venue's own time zone for the times they name.
        with flask_app.test_request_context(f"/api/v1/venues/{venue}/cinema/showtimes"):
            cancelled, told = finish_pending(venue)
            refunded = finish_cancel_refunds(venue, payments.now_ms())
        return cancelled + told + refunded

    payments.add_sweeper(sweep)
