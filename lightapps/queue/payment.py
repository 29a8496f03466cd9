"""Pre-orders paid online (instead of "pay at the restaurant") when a payment provider or the sandbox is
configured: saving a pre-order opens a payment order for its total (the pre-order records that order, unpaid),
the paid order marks the pre-order paid (one Lua script, only if the ticket or booking still holds that very
pre-order: otherwise the payment service refunds the money), a paid pre-order can no longer be changed, and
giving up the number or booking refunds it in full.

A paid pre-order is kept only once the party is seated (a number) or has arrived (a booking), or with a booking
the restaurant marked a no-show (its time was the shopper's own choice, and the pre-order page says so before
paying); it is refunded in full when the number or booking is given up or cancelled, when the restaurant marks a
called number missed (it may do so the moment it calls: no grace the platform could hold it to), and
when a number lapses (left waiting or called past the carry-over, store.CARRY_OVER_S) or a booking is never
marked (6 hours after its day). A lapse has no event: the payments sweep (`flask payments sweep VENUE`, the
payments cron) settles every paid pre-order on the store's list (`QueueStore.paid_preorders_due`; the payment
puts it there in the same script that marks it paid): kept, refunded, or looked at again when it can lapse next.
Every refund of a pre-order, whichever path asks first, has the one refund number `<order>C`, so a second or
concurrent sweep, or a sweep after the cancel's own refund, refunds nothing twice; an entry leaves the list only
after its refund was begun (a store fault in between: the next sweep asks again, under the same number).

The order's ref names the pre-order's record: `<zone>|<service day YYYYMMDD>|<ticket id or reservation id>`."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from flask import Flask

from lightapps.queue.store import ACTIVE_STATES, CARRY_OVER_S, QueueStore, decode_preorder, reservation_date
from portal.apps.views import STORES
from portal.events.log import EventLog, paid_transaction
from portal.payments.service import PaymentError, PaymentService
from portal.payments.store import Order
from portal.services import services

log = logging.getLogger(__name__)
PURPOSE = "preorder"
PAY_WITHIN_S = 15 * 60
SWEEP_LIMIT = 500  # paid pre-orders settled per venue per sweep (the rest: the next minute's)
# A pre-order lapses at the latest 6 hours after its booking's day (booked at most BOOKING_DAYS_AHEAD days ahead),
# and its record is kept 2 days after its day: one paid longer ago has nothing left for the sweep to settle.
BACKFILL_DAYS = 8 + 2
LOOK_AGAIN_S = 60  # never sooner than this: one sweep a minute finds a lapse as soon as there is one
REASONS = {"CANCELED": "pre-order given up", "NO_SHOW": "queue number missed"}  # the refund's, by the record's state


def register(flask_app: Flask) -> None:
    """Tell the payment service what a paid pre-order order means (once per process)."""
    store: QueueStore = flask_app.extensions[STORES]["queue"]
    payments: PaymentService = flask_app.extensions["mallportal"].payments
    events: EventLog = flask_app.extensions["mallportal"].events

    def on_paid(order: Order) -> bool:
        zone, day, target = order.ref.split("|", 2)
        result = store.mark_preorder_paid(order.venue, zone, target, day, order.id)
        if not result.ok:
            log.info("pre-order payment %s not kept: %s (refunded)", order.id, result.reason)
            return False
        # the pre-order is the shopper's transaction in the insights (a payment event is none), once per order
        paid_transaction(events, order, "queue", "preorder_paid")
        return True

    def sweep(venue: str) -> int:
        with flask_app.app_context():  # the cron's sweep or a test: the venue's time zone, the app's services
            return sweep_paid_preorders(venue, store, payments)

    payments.register(PURPOSE, on_paid)
    payments.add_sweeper(sweep)


def payments_on() -> bool:
    return services().payments.enabled


def open_order(venue: str, zone: str, day: str, target: str, client: str, doc: dict[str, Any],
               return_url: str) -> Order:
    """A payment order for this pre-order's total; its id goes into the pre-order document."""
    lines = doc["items"]
    names = ", ".join(f"{line['qty']}x {line['name_zh'] or line['name_en']}" for line in lines)
    items = [{"sku": f"menu:{line['id']}", "qty": line["qty"], "price": line["price"]} for line in lines]
    # The provider's description is one text (Chinese first); the payment page shows the dishes in its own
    # language from this pair (templates/payments/order.html), as the cinema's and the activities' orders do.
    items[0].update(description_zh=names,
                    description_en=", ".join(f"{line['qty']}x {line['name_en'] or line['name_zh']}" for line in lines))
    return services().payments.create(
        venue, merchant=zone, shopper=client, amount=int(doc["total"]), purpose=PURPOSE,
        ref=f"{zone}|{day}|{target}", description=names, idem=f"{PURPOSE}:{zone}:{target}:{secrets.token_hex(6)}",
        items=items, ttl_s=PAY_WITHIN_S, return_url=return_url)


def refund_paid_preorder(venue: str, preorder: dict[str, Any] | None, reason: str = "pre-order given up",
                         payments: PaymentService | None = None) -> str:
    """The meal will not be served (the number or booking given up, cancelled, missed or lapsed): a paid
    pre-order is refunded in full, once: every path asks under the one refund number `<order>C`."""
    if not preorder or not preorder.get("paid") or not preorder.get("order"):
        return "none"
    payments = payments or services().payments
    order = payments.order(venue, preorder["order"])
    if order is None or order.amount - order.refunded <= 0:
        return "none"
    return payments.refund(venue, order.id, order.amount - order.refunded, reason, refund_no=order.id + "C")


def sweep_paid_preorders(venue: str, store: QueueStore, payments: PaymentService, now: float | None = None) -> int:
    """The payments sweep's queue duty (idempotent, safe to run twice at once): each paid pre-order due on the
    store's list is kept, refunded (see the module's docstring) or looked at again when it can next lapse.
    Returns how many it refunded now. `now` (s): the payment service's clock unless given."""
    if now is None:
        clock_ms = payments.clock()
        now = time.time() if clock_ms is None else clock_ms / 1000
    if not store.backfilled(venue):
        enlist_paid_before_the_list(venue, store, payments, now)
    refunded = 0
    for order_id in store.paid_preorders_due(venue, now, SWEEP_LIMIT):
        try:
            refunded += _settle(venue, order_id, store, payments, now)
        except PaymentError as exc:  # this one waits for the next sweep; a store fault stops the sweep (raised)
            log.warning("paid pre-order %s not settled yet: %s", order_id, exc.code)
    return refunded


def enlist_paid_before_the_list(venue: str, store: QueueStore, payments: PaymentService, now: float) -> int:
    """Once per venue, the first sweep after the upgrade: the pre-orders paid before the sweep's list existed
    (their payment script did not put them on it, so no lapse would have refunded them) go on it, found in the
    payments ledger since BACKFILL_DAYS before `now`. Any that was settled meanwhile is harmless to look at
    again: a served one is kept, and a refunded one has nothing left to refund (the one refund number).
    Returns how many it added."""
    since_ms = int((now - BACKFILL_DAYS * 86400) * 1000)
    paid = [entry.order for entry in payments.store.ledger(venue, since_ms=since_ms)
            if entry.kind == "paid" and entry.purpose == PURPOSE]
    added = store.enlist_paid_preorders(venue, list(dict.fromkeys(paid)))
    store.mark_backfilled(venue, now)  # after the list: a store fault in between tries it all again next time
    if added:
        log.info("paid pre-orders put on the sweep's list: %d (paid before it existed)", added)
    return added


def _settle(venue: str, order_id: str, store: QueueStore, payments: PaymentService, now: float) -> int:
    """Keep, refund or look again at one paid pre-order: 1 when a refund went through now."""
    order = payments.order(venue, order_id)
    zone, day, target = order.ref.split("|", 2) if order is not None else ("", "", "")
    booking = reservation_date(target) == day
    record = (store.reservation(venue, zone, target) if booking else store.ticket(venue, zone, target, day)
              ) if order is not None else None
    if record is None:  # gone (the order past its keep, or the records' two days without a sweep): nothing to go on
        log.warning("paid pre-order %s: its number or booking is gone; left as paid", order_id)
        store.settled(venue, order_id)
        return 0
    state = record["state"]
    if state in (*ACTIVE_STATES, "BOOKED"):
        lapses_at = _lapses_at(store, venue, day, record, booking)
        if lapses_at >= now:
            store.look_again_at(venue, order_id, max(lapses_at, now + LOOK_AGAIN_S))
            return 0
    outcome, preorder = "kept", decode_preorder(record)
    if not _kept(state, booking) and preorder and preorder.get("order") == order_id:  # (a paid one never changes)
        reason = REASONS.get(state, "booking never marked" if booking else "queue number lapsed")
        outcome = refund_paid_preorder(venue, preorder, reason, payments)
    store.settled(venue, order_id)  # only now: a fault before it leaves the entry for the next sweep
    return int(outcome == "done")


def _kept(state: str, booking: bool) -> bool:
    """The meal was served (seated, arrived), or the shopper missed the slot they booked themselves."""
    return state in ("SEATED", "ARRIVED") or (booking and state == "NO_SHOW")


def _lapses_at(store: QueueStore, venue: str, day: str, record: dict[str, Any], booking: bool) -> float:
    """When a number or booking still open stops being the shopper's (epoch s): a number as the store's `live`
    rule has it (past its day, and CARRY_OVER_S after it was taken or last called), a booking once its day
    ended CARRY_OVER_S ago (the restaurant marks arrivals late in the evening, never the next morning)."""
    day_end = store.day_end(venue, day)
    if booking:
        return day_end + CARRY_OVER_S
    return max(day_end, float(record.get("called") or record.get("created") or 0) + CARRY_OVER_S)
