"""Parking fees: what a stay costs (the owner's tariff, lightapps/parking/tariff.py), paid on foot through the
host's payment service, or charged after the car left to a member's payment agreement ("leave first, pay
after"); and what the exit event decides.

  * Pay on foot: an order of purpose "parking" (ref "<plate hash>:<entry ms>") for what is due after the
    discounts; points are redeemed through the platform's points capability (portal/apps/capabilities.py) when
    the order is made and given back if it closes unpaid, under a reference built on the server (`foot_ref`:
    never reused once its points went back); a parking coupon (the vouchers capability, which
    the coupons app provides) is held when the order is made, redeemed when it is paid and released when it
    closes unpaid (declined, cancelled, timed out), each once. Once paid, the stay is credited (once per order)
    and the car may leave until `grace_minutes` later. One payment per fee: an order is priced against what
    the stay had paid when it was made (`paid_before`), and credited only while that still holds (one Lua
    script, ParkingStore.credit); a second order paid for the same fee (a reloaded page, a second tab) is
    refunded in full, as the payment for a debt already paid is. While the shopper's order for the stay is
    open, asking to pay the same again gives that order back instead of a new one.
  * The exit event (the parking system's feed, api.py) ends the stay; `settle_exit` then decides once:
    left within the paid time or owing nothing -> cleared; a plate bound to a member with an agreement ->
    an order charged to the agreement now (the car has already left); otherwise -> owed: a debt (the
    office's list, console.py) shown in Me to the shopper who looked the stay up (or proves the plate
    later on the fee page), who pays it through the normal payment flow (`pay_owed`), once.
  * The payments sweep (`sweep_exits`, run by `flask payments sweep VENUE`) finishes what was interrupted:
    an exit recorded but not settled a minute later is settled, a charge to an agreement that did not go
    through is asked again (the provider sees the same trade: never twice) and owed after an hour.

Spend in the mall (free hours): the shopper's paid orders in the payments ledger from the start of the day
(venue time) the car came in, less refunds, parking excluded: for a stay within one day, that day's spend; a
stay across midnight keeps what its first evening's shopping earned (else a fee shown and paid before
midnight would be charged again after it, at a late exit)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import time as day_time

from flask import Flask

from lightapps.parking.store import DAY_MS, Debt, ParkingStore, Stay
from lightapps.parking.tariff import MINUTE_MS, Quote, Tariff, points_value, quote
from portal.apps.capabilities import Voucher, agreements, points, vouchers
from portal.apps.locale import venue_time_zone
from portal.apps.registry import LightApp
from portal.apps.registry import get as get_app
from portal.apps.views import STORES, app_store, zone_app_config, zones_running
from portal.events.log import EventLog, paid_transaction
from portal.payments.service import PaymentError, PaymentService
from portal.payments.store import Order
from portal.services import services

log = logging.getLogger(__name__)
PURPOSE = "parking"  # also the app's name (its declaration is found under it: no import of the package)
# The provider's description is one text, in Chinese, as the other apps' (a film's or a dish's Chinese name): the
# wallets' statements are Chinese, and a mixed "Parking 停车费" put English in a Chinese shopper's payment record.
# The payment page shows the order in its own language from the pair on the first line item
# (templates/payments/order.html).
DESCRIPTION_PAIR = {"description_zh": "停车费", "description_en": "Parking fee"}
DESCRIPTION = DESCRIPTION_PAIR["description_zh"]


def _app() -> LightApp:
    return get_app(PURPOSE)


@dataclass(frozen=True)
class ExitOutcome:
    outcome: str  # cleared | charging | charged | owed
    due: int  # fen still owed (or being charged)


def tariff_for(venue: str, zone: str) -> Tariff:
    config = (zone_app_config(_app(), venue, zone) if zone else None) or {}
    return Tariff.from_config({**_app().default_config(), **config})


def stay_zone(venue: str, stay: Stay) -> str:
    """The garage the stay is billed by: where the car was seen, else the venue's first car park."""
    if stay.zone:
        return stay.zone
    running = zones_running(_app(), venue)
    return running[0] if running else ""


SPEND_DAYS = 7  # a longer stay counts the spend of its last 7 days only (a bounded ledger scan)


def spent_during(venue: str, client: str | None, entry_ms: int, now_ms: int) -> int:
    """Fen the shopper paid in the mall from the start of the venue day the stay began (at most SPEND_DAYS
    back) until now: see the module's docstring."""
    if not client:
        return 0
    tz = venue_time_zone(venue)
    since = max(entry_ms, now_ms - SPEND_DAYS * DAY_MS)
    midnight = datetime.combine(datetime.fromtimestamp(since / 1000, tz).date(), day_time(0), tz)
    return services().payments.store.spent_by(venue, client, int(midnight.timestamp() * 1000), now_ms + 1,
                                              exclude_purposes=(PURPOSE,))


def member_points(venue: str, client: str) -> int | None:
    keeper = points()
    return keeper.balance(venue, client) if keeper else None


def quote_stay(venue: str, stay: Stay, client: str | None, now_ms: int, points_wanted: int = 0,
               coupon_fen: int = 0) -> Quote:
    tariff = tariff_for(venue, stay_zone(venue, stay))
    held = (member_points(venue, client) or 0) if client and points_wanted else 0
    spent = spent_during(venue, client, stay.entry_ms, now_ms)
    return quote(stay.entry_ms, now_ms, venue_time_zone(venue), tariff, spent_fen=spent,
                 paid_before=stay.paid_fen, points_wanted=points_wanted, points_held=held, coupon_fen=coupon_fen)


def parking_coupons(venue: str, client: str) -> list[Voucher]:
    """The shopper's coupons the car park takes (none when no app provides vouchers)."""
    provider = vouchers()
    return provider.usable(venue, client, PURPOSE) if provider and client else []


def _store() -> ParkingStore:
    return app_store(_app())


def stay_ref(stay: Stay) -> str:
    return f"{stay.plate_hash}:{stay.entry_ms}"


def foot_ref(stay: Stay, attempt: str, points_wanted: int, coupon_code: str) -> str:
    """The one reference of a payment on foot: its order's idempotency key, its points redemption, its coupon
    hold and its credit. It names what is paid, so the form sent twice is one payment and any other payment
    is another: what the stay had paid and the order made last for it (both server-side: once an order was
    replaced or closed, or a credit booked, the ref is never built again, so points given back under one
    can never pay for another), the form's attempt, the points asked for and the coupon (a ref used for
    other points is refused by the points keeper, not taken as paid)."""
    return (f"{PURPOSE}:foot:{stay.id}:{stay.paid_fen}:{stay.open_order or '-'}:{attempt}:{max(0, points_wanted)}:"
            f"{coupon_code or '-'}")


def pay_on_foot(venue: str, zone: str, stay: Stay, client: str, attempt: str, points_wanted: int,
                return_url: str, coupon_code: str = "") -> tuple[Order | None, Quote]:
    """(the order to pay, or None when coupon, points or discounts left nothing to pay and the stay is
    credited now; the quote). The shopper's open order for the same payment is given back rather than a
    second one made; an open order of theirs for another payment (other points, another coupon, a fee
    that has grown) is cancelled first. Raises PaymentError ("coupon", "points", "state": nothing is
    owed any more, or the service's)."""
    now_ms = int(time.time() * 1000)
    tariff = tariff_for(venue, stay_zone(venue, stay))
    pending = _open_order(venue, stay, client, now_ms)
    if pending is not None:
        same = _same_payment(venue, stay, client, pending, points_wanted, coupon_code, now_ms)
        if same is not None:
            return pending, same
        pending = services().payments.cancel(venue, pending.id, "replaced by another payment on the fee page")
        if pending is not None and pending.status != "closed":  # paid just now, or the provider would not
            return pending, quote_stay(venue, stay, client, now_ms)  # close it: its page asks the provider
    idem = foot_ref(stay, attempt, points_wanted, coupon_code)
    coupon = _hold_coupon(venue, client, coupon_code, idem)
    q = quote_stay(venue, stay, client, now_ms, points_wanted, coupon.value_fen if coupon else 0)
    points_fen = points_value(q.points, tariff)
    keeper = points()
    if q.points and (keeper is None or not keeper.redeem(venue, client, q.points, idem, "Parking")):
        _release(venue, coupon, idem)
        raise PaymentError("points", "the points could not be redeemed")
    paid_until = now_ms + tariff.grace_minutes * MINUTE_MS

    def give_back() -> None:  # nothing was taken after all: the points and the coupon held go back
        if q.points and keeper is not None:
            keeper.restore(venue, client, idem)
        _release(venue, coupon, idem)

    if q.due <= 0:
        credited = _store().credit(venue, stay.plate_hash, stay.entry_ms, idem, points_fen + q.coupon_discount,
                                   paid_until, paid_before=q.paid_before)
        if credited in ("gone", "over"):  # paid meanwhile (another tab), or the car has gone
            give_back()
            raise PaymentError("state", credited)
        if coupon is not None:
            vouchers().redeem(venue, idem)
        return None, q
    items = [{"sku": "parking", "qty": 1, "price": q.gross, "kind": "foot", "spend_discount": q.spend_discount,
              "paid_before": q.paid_before, "points": q.points, "points_fen": points_fen, "points_ref": idem,
              "points_wanted": max(0, int(points_wanted)), "coupon_fen": q.coupon_discount,
              "coupon": coupon.code if coupon else "", "grace_minutes": tariff.grace_minutes, **DESCRIPTION_PAIR}]
    try:
        order = services().payments.create(
            venue, merchant=stay_zone(venue, stay), shopper=client, amount=q.due, purpose=PURPOSE,
            ref=stay_ref(stay), description=DESCRIPTION, idem=idem, items=items, return_url=return_url)
    except Exception:
        give_back()
        raise
    _store().note_order(venue, stay.plate_hash, stay.entry_ms, order.id)
    return order, q


def _open_order(venue: str, stay: Stay, client: str, now_ms: int) -> Order | None:
    """The shopper's order for this stay made on the fee page, while it can still be paid."""
    order = services().payments.order(venue, stay.open_order) if stay.open_order else None
    if (order is None or order.status != "created" or order.expires_ms <= now_ms or order.shopper != client
            or order.purpose != PURPOSE or order.ref != stay_ref(stay)):
        return None
    return order


def _same_payment(venue: str, stay: Stay, client: str, order: Order, points_wanted: int, coupon_code: str,
                  now_ms: int) -> Quote | None:
    """The quote the open order was made for, when asking again would make the same payment (the same
    points and coupon asked for, nothing paid since, the same fee and spend discount now); else None."""
    item = order.items[0] if order.items else {}
    asked = int(item.get("points_wanted", item.get("points", 0)) or 0)
    if item.get("kind") != "foot" or asked != max(0, points_wanted) or item.get("coupon", "") != coupon_code:
        return None
    q = quote_stay(venue, stay, client, now_ms)
    if (q.gross, q.spend_discount, q.paid_before) != (item.get("price"), item.get("spend_discount"),
                                                      item.get("paid_before")):
        return None
    coupon_fen, points_fen = int(item.get("coupon_fen", 0)), int(item.get("points_fen", 0))
    return Quote(q.gross, q.spend_hours, q.spend_discount, q.paid_before, int(item.get("points", 0)), points_fen,
                 order.amount, coupon_fen)


def _hold_coupon(venue: str, client: str, code: str, ref: str) -> Voucher | None:
    if not code:
        return None
    provider = vouchers()
    coupon = provider.hold(venue, client, code, PURPOSE, ref) if provider else None
    if coupon is None:
        raise PaymentError("coupon", "the coupon cannot be used")
    return coupon


def _release(venue: str, coupon: Voucher | None, ref: str) -> None:
    if coupon is not None:
        vouchers().release(venue, ref)


def settle_exit(venue: str, h: str, exit_ms: int) -> ExitOutcome | None:
    """Decide once what an exited stay owes (see the module's docstring); None if there is no such exit or
    it was decided before."""
    stay = _store().stay(venue, h)
    if stay is None or stay.status != "exited" or stay.exit_ms != exit_ms:
        return None
    return _settle(venue, h, stay)


def _settle(venue: str, h: str, stay: Stay) -> ExitOutcome | None:
    """settle_exit on the exited stay just read; None when another process settled it first."""
    store, exit_ms = _store(), stay.exit_ms
    payer = store.autopay_client(venue, h)
    client = payer or stay.shopper  # a debt is shown in Me to the agreement's member, else who looked it up
    if exit_ms <= stay.paid_until_ms:
        return ExitOutcome("cleared", 0) if store.settle_exit(venue, stay, "cleared", stay.paid_fen) else None
    q = quote_stay(venue, stay, client, exit_ms)
    total = q.gross - q.spend_discount
    signer = agreements()
    agreement = signer.agreement(venue, payer) if payer and signer else None
    if q.due <= 0 or agreement is None:
        outcome = "cleared" if q.due <= 0 else "owed"
        decided = store.settle_exit(venue, stay, outcome, total, client=client if outcome == "owed" else "")
        return ExitOutcome(outcome, max(0, q.due)) if decided else None
    order = services().payments.create(
        venue, merchant=stay_zone(venue, stay), shopper=payer, amount=q.due, purpose=PURPOSE, ref=stay_ref(stay),
        description=DESCRIPTION, idem=f"{PURPOSE}:exit:{stay.id}",
        items=[{"sku": "parking", "qty": 1, "price": q.gross, "kind": "exit", "spend_discount": q.spend_discount,
                "paid_before": q.paid_before, **DESCRIPTION_PAIR}])
    if not store.settle_exit(venue, stay, "charging", total, order.id, client=payer):
        return None  # another process settled this exit first
    return _charge(venue, order, agreement)


def exit_outcome(venue: str, h: str, exit_ms: int) -> ExitOutcome | None:
    """What an exit came to, for the parking system's retry of it (it lost the first answer, and with it what
    the car left owing): settled now if nothing settled it yet (as the sweep would), else as it stands now, the
    same four outcomes, or "paid_later" (left owing, paid since); None when the plate's stay is no longer the
    one that exit ended (a new entry since)."""
    stay = _store().stay(venue, h)
    if stay is not None and stay.status == "exited" and stay.exit_ms == exit_ms:
        settled = _settle(venue, h, stay)
        if settled is not None:
            return settled
        stay = _store().stay(venue, h)  # another process settled it first: what it decided
    if stay is None or stay.exit_ms != exit_ms or stay.status in ("in", "exited"):
        return None
    return ExitOutcome(stay.outcome or stay.status, stay.owed_fen)


def _charge(venue: str, order: Order, agreement) -> ExitOutcome:
    """Charge an exit's order to the member's agreement (again: the provider sees the same trade)."""
    try:
        order = services().payments.charge_agreement(venue, order.id, agreement.provider, agreement.agreement_no,
                                                     services().settings.portal_url or "http://localhost")
    except PaymentError as exc:
        log.warning("parking charge after exit failed (%s); the sweep tries again", exc.code)
        return ExitOutcome("charging", order.amount)
    if order.is_paid:
        return ExitOutcome("charged", 0)
    return ExitOutcome("owed" if order.status == "closed" else "charging", order.amount)


def pay_owed(venue: str, debt: Debt, client: str, attempt: str, return_url: str) -> Order:
    """An order for what an exit left owed ("leave first, pay after" paid later). Raises PaymentError."""
    if debt.status != "owed" or debt.due_fen <= 0:
        raise PaymentError("state", debt.status)
    running = zones_running(_app(), venue)
    return services().payments.create(
        venue, merchant=debt.zone or (running[0] if running else ""), shopper=client, amount=debt.due_fen,
        purpose=PURPOSE, ref=f"{debt.plate_hash}:{debt.entry_ms}", description=DESCRIPTION,
        idem=f"{PURPOSE}:owed:{debt.id}:{attempt}", return_url=return_url,
        items=[{"sku": "parking", "qty": 1, "price": debt.total_fen, "kind": "owed", "paid_before": debt.paid_fen,
                **DESCRIPTION_PAIR}])


SETTLE_AFTER_MS = 60_000  # an exit's own request settles it; the sweeper takes those a minute old
CHARGE_GIVE_UP_MS = 3600_000  # an agreement charge not through after an hour: owed (the office collects)


def sweep_exits(venue: str, now_ms: int | None = None) -> int:
    """The payments sweep's parking duty (idempotent): exits whose settlement was interrupted are settled,
    charges to an agreement that did not finish are asked again, and owed after an hour. How many it
    handled."""
    store = _store()
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    handled = 0
    for h, exit_ms in store.exiting(venue, now_ms - SETTLE_AFTER_MS):
        if settle_exit(venue, h, exit_ms) is None:
            store.drop_exiting(venue, h, exit_ms)  # settled meanwhile, or the plate has a new stay
        handled += 1
    for debt in store.open_debts(venue):
        if debt.status == "charging":
            _finish_charge(venue, store, debt, now_ms)
            handled += 1
    return handled


def _finish_charge(venue: str, store: ParkingStore, debt: Debt, now_ms: int) -> None:
    payments = services().payments
    order = payments.order(venue, debt.order) if debt.order else None
    if order is not None and order.is_paid:  # paid, but its delivery did not finish: credit it (once)
        store.credit(venue, debt.plate_hash, debt.entry_ms, order.id, order.amount, 0)
        return
    if order is None or order.status != "created":
        store.mark_owed(venue, debt.plate_hash, debt.entry_ms)
        return
    signer = agreements()
    agreement = signer.agreement(venue, debt.client) if signer and debt.client else None
    if agreement is None or now_ms - debt.exit_ms > CHARGE_GIVE_UP_MS:
        payments.cancel(venue, order.id, "agreement charge did not go through")  # closed: on_closed marks it owed
        return
    _charge(venue, order, agreement)


def register(flask_app: Flask) -> None:
    """What a paid or closed parking order means, and the payments sweep's parking duty (called once per
    process, from the app's init_app)."""
    store: ParkingStore = flask_app.extensions[STORES][PURPOSE]
    payments: PaymentService = flask_app.extensions["mallportal"].payments
    events: EventLog = flask_app.extensions["mallportal"].events

    def on_paid(order: Order) -> bool:
        h, _sep, entry = order.ref.partition(":")
        item = order.items[0] if order.items else {}
        kind = item.get("kind")
        if kind in ("exit", "owed"):
            paid_until = 0  # the car has left
        else:
            paid_until = int(time.time() * 1000) + int(item.get("grace_minutes", 15)) * MINUTE_MS
        # A shopper's order (on foot, or a debt paid later) is for what was due when it was made: another
        # payment credited since means this one would pay the same fee twice. (The exit's charge to an
        # agreement is one order per stay, decided once per exit.)
        priced = item.get("paid_before") if kind in ("foot", "owed") else None
        credited = store.credit(order.venue, h, int(entry or 0), order.id,
                                order.amount + int(item.get("points_fen", 0)) + int(item.get("coupon_fen", 0)),
                                paid_until, paid_before=None if priced is None else int(priced))
        if credited in ("gone", "over"):  # another stay began, or the fee (or debt) was paid already by another
            on_closed(order)  # order: refunded in full (the payment service), points and coupon go back
            return False
        coupons = vouchers(flask_app)
        if item.get("coupon") and coupons is not None:  # after the credit: a replayed callback redeems nothing more
            coupons.redeem(order.venue, item.get("points_ref", ""))
        # the fee paid is the shopper's transaction in the insights (a payment event is none), once per order
        paid_transaction(events, order, "parking", "parking_paid")
        return True

    def on_closed(order: Order) -> None:
        item = order.items[0] if order.items else {}
        keeper, coupons = points(flask_app), vouchers(flask_app)
        if item.get("points") and keeper is not None:
            keeper.restore(order.venue, order.shopper, item.get("points_ref", ""))
        if item.get("coupon") and coupons is not None:
            coupons.release(order.venue, item.get("points_ref", ""))
        if item.get("kind") == "exit":  # the agreement's charge failed: the exit is owed
            h, _sep, entry = order.ref.partition(":")
            store.mark_owed(order.venue, h, int(entry or 0))

    def sweep(venue: str) -> int:
        with flask_app.app_context():  # the cron's sweep or a test: the app's settings, stores and capabilities
            return sweep_exits(venue)

    payments.register(PURPOSE, on_paid, on_closed)
    payments.add_sweeper(sweep)
