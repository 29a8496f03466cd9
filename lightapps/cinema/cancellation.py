"""What the cinema's changes to a showtime with tickets mean for their holders (the console's Cancel button and
the cinema system's push, lightapps/cinema/api.py, both end here):

- Cancelled: the store closes the show and cancels its holds and bookings in one step
  (`CinemaStore.cancel_showtime`); then each booking it cancelled is refunded in full if it was paid online,
  through the refund a shopper's own cancellation makes (`payment.refund_booking`: one refund number per
  booking, so a ticket is refunded once, whoever cancels and however often), each holder is told (a notice
  per ticket), and the payment orders still open for its holds are closed. Every step is idempotent and
  is found again from the stored bookings (`cancelled_by` "cinema"): cancelling again finishes what an
  interrupted cancellation left.
- Moved (a new start time the cinema system confirmed for a show with tickets): its bookings are kept as long
  after the new start as after the old one, each holder is told the new time (once per ticket and time), and
  their ticket may be cancelled until the show starts, refunded in full if paid, whatever the refund cut-off
  (views.py, `_refund_cutoff_s`)."""

from __future__ import annotations

from dataclasses import dataclass

from lightapps.cinema import notices
from lightapps.cinema.common import cinema_store
from lightapps.cinema.payment import close_hold_order, refund_booking
from lightapps.cinema.store import Showtime

CANCEL_REASON = "showtime cancelled"


@dataclass(frozen=True)
class Cancelled:
    show: Showtime
    tickets: int  # the bookings cancelled by this call (0 when cancelled before)
    refunds: int  # the refunds asked for by this call (a refund asked for before answers "dup": not counted)


def cancel_show(venue: str, zone: str, show_id: str) -> Cancelled | None:
    """Cancel the showtime, refund and tell its ticket holders (see the module). None: no such show."""
    store = cinema_store()
    done = store.cancel_showtime(venue, show_id)
    show = store.showtime(venue, show_id)
    if done is None or show is None:
        return None
    for token in done.holds:
        close_hold_order(venue, token, CANCEL_REASON)
    refunds = 0
    for booking in store.show_bookings(venue, show_id):
        if booking.status != "cancelled" or booking.cancelled_by != "cinema":
            continue
        outcome = refund_booking(venue, booking, CANCEL_REASON)
        refunds += outcome not in (None, "dup")
        if booking.client:  # "": its shopper was erased, nobody to tell
            notices.show_cancelled(venue, zone, booking, show, refunded=outcome is not None)
    return Cancelled(show=show, tickets=done.bookings, refunds=refunds)


def after_move(venue: str, zone: str, show_id: str, old_starts_at: int) -> int:
    """A show with tickets moved (confirmed): its bookings are kept as long after the new start as after the old
    one, and each ticket holder is told the new time; returns how many were told."""
    store = cinema_store()
    show = store.showtime(venue, show_id)
    if show is None:
        return 0
    store.keep_bookings(venue, show)
    told = 0
    for booking in store.show_bookings(venue, show_id):
        if booking.status == "booked" and booking.client:
            told += notices.show_moved(venue, zone, booking, show, old_starts_at)
    return told
