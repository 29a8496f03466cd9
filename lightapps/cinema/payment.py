"""Tickets are paid for: a hold becomes an order (idempotency key "cinema:<hold token>", expiring with the
hold), the paid order confirms the hold into a booking (and writes its `ticket` transaction, once: the hold was
none), an order closed unpaid (declined, cancelled, timed out) releases the seats, and money that arrives after
the hold expired is refunded by the payment service.
A booking cancelled before the owner's cut-off is refunded in full. A shopper erased while paying ("erase my
data": store.py, `CinemaStore.forget_shopper`) has their hold cancelled and its seats freed; their order then
names nobody and, if paid after all, is refunded (no ticket is issued to nobody).

A booking keeps the order that paid for it (`Booking.order_id`); one made before it did (until 2026-12-06) names
only its hold, and the order's key by hold lapses two days after the hold while tickets are sold a week ahead. The
first payments sweep after the upgrade copies each such booking's order onto it, once per venue, from the payments
ledger (`keep_orders_of_old_bookings`, the upgrade step the queue's `enlist_paid_before_the_list` is too). Until it
has, such a ticket whose order is not found is not known to be unpaid (`PaymentUnknown`): never cancelled as unpaid
(its seats freed and the money kept), the shopper's cancel is refused and the cinema's cancellation waits.

Without a payment provider configured (and no sandbox) the cinema books as before: confirm, pay at the
counter."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from flask import Flask, current_app, has_request_context

from lightapps.cinema import notices
from lightapps.cinema.store import NO_REFUND, Booking, CinemaStore, Hold, Showtime
from portal.apps.views import STORES
from portal.events.log import EventLog, paid_transaction
from portal.payments.service import PaymentService, refund_outcome
from portal.payments.store import Order
from portal.services import services

log = logging.getLogger(__name__)
PURPOSE = "cinema"  # also the app's name (its store is found under it)
# A ticket's payment is booked just before its booking is made (within its hold's minutes): the ledger is read
# from a day before the oldest booking that keeps no order.
BACKFILL_MARGIN_MS = 86400 * 1000


class PaymentUnknown(Exception):
    """A booking made before bookings kept their order, whose order its hold no longer finds, before the payments
    sweep looked for it in the ledger: paid or not is not known yet."""


def register(flask_app: Flask) -> None:
    """Tell the payment service what a paid or closed cinema order means (called once per process)."""
    store: CinemaStore = flask_app.extensions[STORES][PURPOSE]
    payments: PaymentService = flask_app.extensions["mallportal"].payments
    events: EventLog = flask_app.extensions["mallportal"].events

    def on_paid(order: Order) -> bool:
        # Idempotent: a confirmed hold confirms again to the same booking; an expired or cancelled one
        # cannot, nor can an erased shopper's (the order names nobody), and the service refunds.
        outcome = store.confirm(order.venue, order.ref, order.shopper, order.merchant)
        if not outcome.ok:
            return False
        store.record_order(order.venue, outcome.code, order.id)
        booking = store.booking(order.venue, outcome.code)
        if booking is not None:  # the ticket is the transaction (its hold was none): once, however often told
            paid_transaction(events, order, PURPOSE, "ticket", show=booking.show_id, seats=len(booking.seats))
        if booking is not None and has_request_context():  # the ticket is issued: tell the shopper (once per ticket)
            show = store.showtime(order.venue, booking.show_id)
            if show is not None:
                notices.ticket_issued(order.venue, order.merchant, booking, show)
                if show.moved_from and booking.chosen_ms <= show.moved_ms:
                    # Held before the cinema moved the show, paid after: the new time is news to them, and the
                    # ticket may be cancelled until it starts (views.py, `_refund_cutoff_s`), as the holders' were.
                    notices.show_moved(order.venue, order.merchant, booking, show, show.moved_from)
        return True

    def on_closed(order: Order) -> None:
        store.cancel_hold(order.venue, order.ref, order.shopper)

    def sweep(venue: str) -> int:
        # Before the cancellations' sweeper (registered after this one): a cancellation finds its tickets' orders.
        return 0 if store.orders_backfilled(venue) else keep_orders_of_old_bookings(venue, store, payments)

    payments.register(PURPOSE, on_paid, on_closed)
    payments.add_sweeper(sweep)


def app_cinema_store() -> CinemaStore:
    return current_app.extensions[STORES][PURPOSE]


def payments_on() -> bool:
    return services().payments.enabled


def order_key(hold_token: str) -> str:
    return f"{PURPOSE}:{hold_token}"


def order_for_hold(venue: str, hold_token: str) -> Order | None:
    return services().payments.store.order_for_key(venue, order_key(hold_token))


def paying_order(venue: str, booking: Booking) -> Order | None:
    """The ticket's order when payments are on (None: not paid online); PaymentUnknown: not known yet."""
    return order_for_booking(venue, booking) if payments_on() else None


def order_for_booking(venue: str, booking: Booking) -> Order | None:
    """The order that paid for a booking: the one kept with it (for as long as the ticket), else (a booking from
    before orders were kept with bookings) its hold's, while the order's key by hold lasts. None: not paid online.
    PaymentUnknown: neither found one for a booking the payments sweep has not looked for yet (see the module)."""
    if booking.order_id:
        return services().payments.store.order(venue, booking.order_id)
    order = order_for_hold(venue, booking.token) if booking.token else None
    if order is None and _may_be_paid_before_orders_were_kept(venue, booking):
        raise PaymentUnknown(booking.code)
    return order


def _may_be_paid_before_orders_were_kept(venue: str, booking: Booking) -> bool:
    """Made from a hold by a release that kept no order with a booking (nor the hold's time: every booking made
    since keeps that), and the venue's ledger not yet read for its order."""
    return bool(booking.token) and not booking.held_ms and not app_cinema_store().orders_backfilled(venue)


def keep_orders_of_old_bookings(venue: str, store: CinemaStore, payments: PaymentService) -> int:
    """Once per venue, the first payments sweep after the upgrade: each booking that keeps no order gets the one
    that paid for it, found in the payments ledger (kept 400 days, where the order's key by hold lasts two): the
    cinema orders paid since a day before the oldest such booking, by their hold (the order's `ref`). A booking no
    payment names was not paid online. Idempotent: a booking that keeps its order is not looked at again. Returns
    how many bookings it gave their order."""
    waiting = {booking.token: booking for booking in store.bookings_without_order(venue)}
    kept = _give_orders(venue, store, payments, waiting) if waiting else 0
    store.mark_orders_backfilled(venue, time.time())  # after: a store fault before it tries it all again next time
    if kept:
        log.info("cinema bookings given the order that paid for them: %d (booked before bookings kept it)", kept)
    return kept


def _give_orders(venue: str, store: CinemaStore, payments: PaymentService, waiting: dict[str, Booking]) -> int:
    """Each booking of `waiting` (by hold token) that a cinema order paid in the ledger names gets that order."""
    since_ms = min(booking.created_ms for booking in waiting.values()) - BACKFILL_MARGIN_MS
    paid = dict.fromkeys(entry.order for entry in payments.store.ledger(venue, since_ms=since_ms)
                         if entry.kind == "paid" and entry.purpose == PURPOSE)
    kept = 0
    for order in filter(None, (payments.store.order(venue, order_id) for order_id in paid)):
        booking = waiting.get(order.ref) if not order.late else None  # a late payment confirmed no hold
        if booking is None:
            continue
        store.record_order(venue, booking.code, order.id)
        kept += 1
        if booking.status == "cancelled" and order.refundable > 0:  # cancelled as unpaid before this step
            log.warning("cinema booking %s was cancelled as unpaid; its order %s keeps %d fen: refund it by hand",
                        booking.code, order.id, order.refundable)
    return kept


def refund_booking(venue: str, booking: Booking, reason: str, order: Order | None = None) -> str | None:
    """Refund in full what paid for a cancelled booking (the shopper's own cancellation before the cut-off, or
    the cinema's cancellation of the showtime): one refund number per booking, the order's id + "C", so
    however often it is asked, by either, the money goes back once ("dup" after the first). None: nothing
    was paid online (no payments, an unpaid ticket); PaymentUnknown: not known yet (`order_for_booking`). `order`:
    the booking's, when the caller read it already."""
    order = order or paying_order(venue, booking)
    if order is None or not order.is_paid:
        return None
    return services().payments.refund(venue, order.id, order.refundable, reason, refund_no=refund_no(order.id))


def refund_no(order_id: str) -> str:
    """A cancelled ticket's one refund number (its paying order's id + "C")."""
    return order_id + "C"


def refund_cancelled(venue: str, booking: Booking, reason: str, order: Order | None = None) -> str:
    """`refund_booking` for a cancelled ticket, saying where the money stands: "none" (nothing paid
    online), one of REFUND_UNDER_WAY, or "refused", "state", "exceeds" (not refunded online). Asked again (a
    cancellation cut short after the refund was asked for), the refund's record answers: never a second refund.
    `order`: the booking's, when the caller read it already."""
    order = order or paying_order(venue, booking)  # read once: a "dup" answer reads its refund record by it
    outcome = refund_booking(venue, booking, reason, order) if order is not None else None
    if outcome is None:
        return NO_REFUND
    if outcome == "dup":
        record = services().payments.store.refund_record(venue, refund_no(order.id))
        outcome = refund_outcome(record.get("status", "done"))
    return outcome


def with_live_refunds(venue: str, bookings: list[Booking]) -> list[Booking]:
    """The bookings as a page shows them: one whose refund was still under way at the provider when its outcome
    was kept (pending, processing) reads its refund record's status now, in one round trip. The payments sweep and
    the provider's callback move the record, never the booking, so a refund that failed for good since reads
    refused (to arrange), not refunded. Read only: nothing is written."""
    waiting = [b for b in bookings if b.refund_outcome in ("pending", "processing") and b.order_id]
    if not waiting:
        return bookings
    records = services().payments.store.refund_records(venue, [refund_no(b.order_id) for b in waiting])
    live = {b.code: replace(b, refund_outcome=refund_outcome(record["status"]))
            for b, record in zip(waiting, records, strict=True) if record.get("status")}
    return [live.get(b.code, b) for b in bookings]


def close_hold_order(venue: str, hold_token: str, reason: str) -> bool:
    """Close the open payment order of a hold that was cancelled, so that it can no longer be paid (one paid
    all the same is refunded: its hold confirms to nothing). True when no order of the hold is open now; False
    when the provider would not close it yet (asked again later; its callback may still come)."""
    order = order_for_hold(venue, hold_token) if payments_on() else None
    if order is None or order.status != "created":
        return True
    after = services().payments.cancel(venue, order.id, reason)
    return after is None or after.status != "created"


def order_for_hold_record(venue: str, hold: Hold, show: Showtime, zone: str, return_url: str) -> Order:
    """The hold's order (made once; asking again gives the same one)."""
    total = show.price_cents * len(hold.seats)
    seats = ", ".join(hold.seats)
    items = [{"sku": f"{show.id}:{seat}", "qty": 1, "price": show.price_cents} for seat in hold.seats]
    items[0].update(description_pair(show.film_zh, show.film_en, seats))
    return services().payments.create(
        venue, merchant=zone, shopper=hold.client, amount=total, purpose=PURPOSE, ref=hold.token,
        description=f"{show.film_zh or show.film_en} {seats}", idem=order_key(hold.token), items=items,
        ttl_s=max(1, hold.remaining_s()), return_url=return_url)


def description_pair(film_zh: str, film_en: str, seats: str) -> dict[str, str]:
    """The order's description in each language, on its first line item: the provider's `description` is
    one text (Chinese first, for the Chinese wallets' statements), and the payment page shows the pair in
    the page's language (templates/payments/order.html). A language the owner left empty stays empty, so
    the page shows the other one, marked."""
    return {"description_zh": f"{film_zh} {seats}" if film_zh else "",
            "description_en": f"{film_en} {seats}" if film_en else ""}
