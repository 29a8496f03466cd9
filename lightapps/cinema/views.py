"""Shopper pages: the week's showtimes (a tab per day) -> seat map -> hold (with countdown) -> confirm -> ticket.

Plain HTML forms and full-page navigations (the iOS captive mini-browser keeps no cookies and may run
no script): every link and form carries the shopper's signed `c` token."""

from __future__ import annotations

import time
from datetime import date, timedelta

import segno
from babel.dates import format_skeleton
from flask import abort, g, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from lightapps.cinema import APP, notices
from lightapps.cinema.cancellation import OWN_REASON, cancel_and_refund
from lightapps.cinema.common import (
    LATE_BOOKING_S,
    SHOPPER_DAYS,
    bookable,
    cinema_store,
    day_bounds,
    hold_seconds,
    more_time_seconds,
    refund_cutoff_s,
    seat_grid,
    show_in_zone,
    valid_id,
    when,
    zone_cutoff_s,
)
from lightapps.cinema.layouts import MAX_SEATS_PER_HOLD, SelectionError, parse_selection
from lightapps.cinema.payment import (
    PaymentUnknown,
    order_for_hold,
    order_for_hold_record,
    paying_order,
    payments_on,
    with_live_refunds,
)
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget
from portal.apps.locale import local_time, venue_today
from portal.apps.notify import PhoneInputError, masked_phone, save_phone, spend_text_budget
from portal.apps.views import hhmm, record_event, zone_app_blueprint
from portal.payments.money import cny
from portal.payments.service import PaymentError
from portal.shopper import shopper_for_venue, shopper_token, shopper_url

# Every view has the zone's venue map, zone and config on g (404 unless the zone runs the cinema).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>/cinema", template_folder="templates",
                        off_message=lambda: "The cinema app is not on in this zone.")


def _page(template: str, venue: str, zone: str, status: int = 200, **context):
    shopper = shopper_for_venue(venue)
    return render_template(template, venue=g.venue_map, zone=g.zone, shopper_token=shopper_token(shopper),
                           when=when, **context), status


@bp.get("/<zone>")
def landing(venue: str, zone: str):
    """Today's and tomorrow's showtimes, or with `?day=` those of a later day of the week (SHOPPER_DAYS) that has
    shows; above them a tab per day, plain links that carry the shopper's token (no script, no cookie needed)."""
    config = g.app_config
    store = cinema_store()
    shopper = shopper_for_venue(venue)
    now = time.time()
    today = venue_today()
    later = _later_days(venue, zone, today)
    chosen = _chosen_day(request.args.get("day", ""), later)
    days = _one_day(venue, zone, chosen, now) if chosen else _today_and_tomorrow(venue, zone, today, now)
    shows = [show for _day, listed in days for show in listed]
    tickets = [(b, s) for b, s in store.booked_shows(venue, shopper.client) if b.zone == zone and bookable(s, now)]
    return _page("cinema/landing.html", venue, zone, config=config, days=days, tickets=tickets, hhmm=hhmm,
                 films=_by_film, open_seats=store.seats_open(venue, shows, shopper.client, now),
                 tabs=_day_tabs(venue, zone, later, chosen))


def _today_and_tomorrow(venue: str, zone: str, today: date, now: float) -> list[tuple[str, list]]:
    today_start, today_end = day_bounds(today)
    _tomorrow_start, tomorrow_end = day_bounds(today + timedelta(days=1))
    # a show that began just before midnight is still bookable for LATE_BOOKING_S: listed under Today, first
    since = min(today_start, now - LATE_BOOKING_S)
    shows = [s for s in cinema_store().showtimes(venue, zone, since, tomorrow_end) if bookable(s, now)]
    return [
        (_("Today"), [s for s in shows if s.starts_at <= today_end]),
        (_("Tomorrow"), [s for s in shows if s.starts_at > today_end]),
    ]


def _one_day(venue: str, zone: str, day: date, now: float) -> list[tuple[str, list]]:
    shows = [s for s in cinema_store().showtimes(venue, zone, *day_bounds(day)) if bookable(s, now)]
    return [(format_skeleton("MMMMEEEEd", day, locale=get_locale()), shows)]


def _later_days(venue: str, zone: str, today: date) -> list[date]:
    """The days after tomorrow within SHOPPER_DAYS that have showtimes, as the mall's calendar has them (from the
    index alone: one read however many shows)."""
    first, last = today + timedelta(days=2), today + timedelta(days=SHOPPER_DAYS - 1)
    starts = cinema_store().show_starts(venue, zone, day_bounds(first)[0], day_bounds(last)[1])
    return sorted({local_time(ts).date() for ts in starts})


def _chosen_day(raw: str, later: list[date]) -> date | None:
    """The later day `?day=` names; None (the first page) for anything else: a day gone by, or no day at all."""
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        return None
    return day if day in later else None


def _day_tabs(venue: str, zone: str, later: list[date], chosen: date | None) -> list[tuple[str, str, bool]]:
    """(label, link, current) per tab: Today and Tomorrow (the first page's two lists), then each later day, its
    label the day and short weekday in the page's language (CLDR "Ed": "3 Sat", "3日周六", as the queue's tabs)."""
    first = shopper_url("cinema.landing", venue=venue, zone=zone)
    tabs = [(_("Today"), first, chosen is None), (_("Tomorrow"), first + "#shows-2", False)]
    return tabs + [(format_skeleton("Ed", day, locale=get_locale()),
                    shopper_url("cinema.landing", venue=venue, zone=zone, day=day.isoformat()), day == chosen)
                   for day in later]


def _by_film(shows):
    """[(first show of a film, [its shows])] in order of each film's first show; a film is known by both its
    names (`Showtime.film_key`): a title may be given in one language only."""
    films: dict[tuple[str, str], list] = {}
    for show in shows:
        films.setdefault(show.film_key, []).append(show)
    return [(group[0], group) for group in films.values()]


def _seat_page(venue: str, zone: str, show, status: int = 200, error: str | None = None,
               checked: frozenset = frozenset()):
    store = cinema_store()
    shopper = shopper_for_venue(venue)
    mine = store.live_hold_token(venue, show.id, shopper.client)
    states = store.seat_states(venue, show.id)
    # the seats this shopper holds, named on the page (not only told apart by colour: WCAG 1.4.1)
    mine_seats = sorted((seat for seat, (state, who) in states.items() if mine and state == "held" and who == mine),
                        key=lambda seat: show.layout.order.get(seat, len(show.layout.order)))
    grid = seat_grid(show.layout, states, mine, checked)
    # Sold out (for this shopper): not a seat to pick, none free and none theirs to pick again.
    sold_out = not any(cell["state"] in ("free", "mine") for row in grid for cell in row["cells"] if not cell["gap"])
    return _page("cinema/seats.html", venue, zone, status, show=show, grid=grid, layout=show.layout, mine=mine,
                 mine_seats=mine_seats, error=error, open=bookable(show), sold_out=sold_out,
                 max_seats=MAX_SEATS_PER_HOLD)


@bp.get("/<zone>/show/<show_id>")
def seats(venue: str, zone: str, show_id: str):
    return _seat_page(venue, zone, show_in_zone(venue, zone, show_id))


@bp.post("/<zone>/show/<show_id>/hold")
def hold(venue: str, zone: str, show_id: str):
    config = g.app_config
    show = show_in_zone(venue, zone, show_id)
    if show.cancelled:
        return _seat_page(venue, zone, show, 409, _("The cinema cancelled this showtime."))
    if not bookable(show):
        return _seat_page(venue, zone, show, 409, _("Booking for this showtime has closed."))
    raw = request.form.getlist("seat")[:2 * MAX_SEATS_PER_HOLD + 2]
    try:
        picked = parse_selection(show.layout, raw)
    except SelectionError as exc:
        return _seat_page(venue, zone, show, 422, _(exc.template, **exc.params))
    shopper = shopper_for_venue(venue)
    try:
        outcome = _hold_within_budget(venue, show, shopper.client, picked, hold_seconds(config))
    except OverBudget as over:
        if not over.refusal.most:  # a wait (429), or seats switched off (403): the budgets' own page says which
            raise
        message = _("You can take at most %(n)d new seats at a time here. Please pick fewer.", n=over.refusal.most)
        return _seat_page(venue, zone, show, over.refusal.status, message, frozenset(picked))
    if outcome.ok:
        record_event(APP, "seat_hold", venue, shopper, zone=zone, show=show.id, seats=len(picked))
        return redirect(shopper_url("cinema.hold_page", venue=venue, zone=zone, token=outcome.token), code=303)
    if outcome.status == "taken":
        message = _("Seat %(seat)s was just taken by someone else. Please pick again.", seat=outcome.seat)
        return _seat_page(venue, zone, show, 409, message, frozenset(picked) - {outcome.seat})
    if outcome.status == "orphan":
        message = _("Your choice would leave seat %(seat)s empty on its own. Please pick seats next to it, "
                    "or include it.", seat=outcome.seat)
        return _seat_page(venue, zone, show, 422, message, frozenset(picked))
    show = show_in_zone(venue, zone, show_id)  # changed meanwhile: as it is now
    if show.cancelled:
        return _seat_page(venue, zone, show, 409, _("The cinema cancelled this showtime."))
    return _seat_page(venue, zone, show, 409, _("This showtime has changed. Please pick again."))


def _hold_within_budget(venue: str, show, client: str, picked: list[str], ttl_s: float):
    """The hold, charging the "cinema.seats" budgets only for the seats it newly holds: a refusal (a seat
    taken, a single seat left alone, a changed show) and picking again seats this shopper already holds
    cost nothing, because they buy no time: the store keeps the live hold's expiry (see CinemaStore.hold).
    The hold is checked first (nothing written), the new seats are spent (over budget: OverBudget,
    nothing held), then held; seats spent for a hold that then did not take them (someone took one in the
    instant between) are counted back. The show's own ceiling ("cinema.seats.show") bounds how often one device
    with ever new shoppers and addresses can hold and hold again every seat of it."""
    store = cinema_store()
    check = store.hold(venue, show, client, picked, ttl_s, check_only=True)
    if not check.ok:
        return check
    if check.new_seats:
        spend_budget("cinema.seats", venue, shopper=client, cost=check.new_seats, show=show.id)
    # The refund cut-off of this moment goes with the hold into its booking: the ticket's own deadline.
    outcome = store.hold(venue, show, client, picked, ttl_s, refund_cutoff_s=_zone_cutoff_s())
    unused = check.new_seats - (outcome.new_seats if outcome.ok else 0)
    if unused > 0:
        give_back_budget("cinema.seats", venue, shopper=client, cost=unused, show=show.id)
    return outcome


def _my_hold(venue: str, zone: str, token: str):
    hold = cinema_store().get_hold(venue, valid_id(token))
    shopper = shopper_for_venue(venue)
    if hold is None or hold.client != shopper.client:
        abort(404, _("No such hold (it may have expired long ago)."))
    show = show_in_zone(venue, zone, hold.show_id)
    return hold, show


def _hold_page(venue: str, zone: str, hold, show, status: int = 200, error: str | None = None):
    now = time.time()
    remaining = hold.remaining_s(now) if hold.status == "held" else 0
    total = show.price_cents * len(hold.seats)
    live = hold.is_live(now) and not show.cancelled
    more = more_time_seconds(g.app_config) // 60 if live and _may_have_more_time(venue, hold) else 0
    return _page("cinema/hold.html", venue, zone, status, hold=hold, show=show, remaining=remaining, live=live,
                 expires=hhmm(hold.expires_ms / 1000), error=error, total=cny(total), pay=_must_pay(total),
                 more_minutes=more)


def _may_have_more_time(venue: str, hold) -> bool:
    """More time is given once per hold, before paying: the hold's order expires with the hold as it was, and its
    closing then releases the seats (payment.py), so time given after it would be no time at all."""
    return not hold.extended and not (payments_on() and order_for_hold(venue, hold.token) is not None)


def _must_pay(total: int) -> bool:
    """Tickets with a price are paid online whenever a payment provider (or the sandbox) is configured."""
    return total > 0 and payments_on()


@bp.get("/<zone>/hold/<token>")
def hold_page(venue: str, zone: str, token: str):
    hold, show = _my_hold(venue, zone, token)
    if hold.status == "confirmed":
        return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=hold.code), code=303)
    return _hold_page(venue, zone, hold, show)


@bp.post("/<zone>/hold/<token>/more-time")
def more_time(venue: str, zone: str, token: str):
    """The hold's one extension (WCAG 2.2.1: its page warns a minute before it ends)."""
    hold, show = _my_hold(venue, zone, token)
    if hold.status == "confirmed":
        return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=hold.code), code=303)
    refused = hold.is_live() and not _may_have_more_time(venue, hold)
    if not refused:  # "once": a second press that raced the first; "gone": its page says why
        refused = cinema_store().extend_hold(venue, hold.token, hold.client,
                                             more_time_seconds(g.app_config)).status == "once"
    if refused:
        hold = cinema_store().get_hold(venue, hold.token) or hold
        return _hold_page(venue, zone, hold, show, 409, _("More time is given only once, and only before paying."))
    return redirect(shopper_url("cinema.hold_page", venue=venue, zone=zone, token=hold.token), code=303)


@bp.post("/<zone>/hold/<token>/pay")
def pay(venue: str, zone: str, token: str):
    """The hold's payment order (one per hold, expiring with it), then the payment page."""
    hold, show = _my_hold(venue, zone, token)
    if hold.status == "confirmed":
        return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=hold.code), code=303)
    if show.cancelled:
        return _hold_page(venue, zone, hold, show, 409, _("The cinema cancelled this showtime."))
    if not hold.is_live():
        return _hold_page(venue, zone, hold, show, 409, _("This hold has expired; the seats are free again."))
    back = shopper_url("cinema.hold_page", venue=venue, zone=zone, token=hold.token, _external=True)
    try:
        order = order_for_hold_record(venue, hold, show, zone, back)
    except PaymentError:
        return _hold_page(venue, zone, hold, show, 503, _("Payment is not available right now. Please try again "
                                                          "in a minute."))
    return redirect(shopper_url("payments.order_page", venue=venue, order_id=order.id), code=303)


@bp.post("/<zone>/hold/<token>/confirm")
def confirm(venue: str, zone: str, token: str):
    hold, show = _my_hold(venue, zone, token)
    if hold.status == "held" and _must_pay(show.price_cents * len(hold.seats)):
        return _hold_page(venue, zone, hold, show, 402, _("Please pay to confirm the booking."))
    outcome = cinema_store().confirm(venue, hold.token, hold.client, zone)
    if outcome.ok:
        if not outcome.again:  # the form sent again (a reload, a double tap): the ticket is one transaction
            record_event(APP, "ticket", venue, shopper_for_venue(venue), zone=zone, show=show.id,
                         seats=len(hold.seats))
        booking = cinema_store().booking(venue, outcome.code)
        if booking is not None:
            notices.ticket_issued(venue, zone, booking, show)
        return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=outcome.code), code=303)
    hold = cinema_store().get_hold(venue, hold.token) or hold
    show = cinema_store().showtime(venue, show.id) or show
    if show.cancelled:
        message = _("The cinema cancelled this showtime.")
    elif outcome.status == "expired":
        message = _("Your hold expired before you confirmed, and the seats were released. Please pick "
                    "seats again.")
    elif outcome.status == "gone" and outcome.code == "cancelled":
        message = _("You cancelled this hold.")
    elif outcome.status == "gone" and outcome.code == "replaced":
        message = _("You picked other seats for this showtime since; this hold no longer counts.")
    else:
        message = _("This hold can no longer be confirmed. Please pick seats again.")
    return _hold_page(venue, zone, hold, show, 409, message)


@bp.post("/<zone>/hold/<token>/cancel")
def cancel_hold(venue: str, zone: str, token: str):
    hold, show = _my_hold(venue, zone, token)
    outcome = cinema_store().cancel_hold(venue, hold.token, hold.client)
    if not outcome.ok and hold.status == "confirmed":
        return _hold_page(venue, zone, hold, show, 409, _("This hold is already booked; cancel the ticket "
                                                          "instead."))
    return redirect(shopper_url("cinema.seats", venue=venue, zone=zone, show_id=show.id), code=303)


def _my_booking(venue: str, zone: str, code: str):
    booking = cinema_store().booking(venue, valid_id(code))
    shopper = shopper_for_venue(venue)
    if booking is None or booking.client != shopper.client or booking.zone != zone:
        abort(404, _("No such cinema ticket."))
    return booking, show_in_zone(venue, zone, booking.show_id)


def ticket_qr_svg(venue: str, code: str) -> Markup:
    """The ticket's QR code (scanned at the door) as inline SVG: no image request, works offline."""
    svg = segno.make(f"MPCINEMA:{venue}:{code}", error="m").svg_inline(scale=5, title=code)
    return Markup(svg)  # noqa: S704 - segno's own SVG, the payload is our code


def _ticket_page(venue: str, zone: str, booking, show, status: int = 200, error: str | None = None,
                 notify_error: str | None = None):
    """The ticket. `error`: a refused cancel, atop the page; `notify_error`: a refused "Text me" number, by
    its form with the number as typed."""
    try:
        order, known = paying_order(venue, booking), True
    except PaymentUnknown:
        order, known = None, False
        error = error or (_payment_unknown() if booking.status == "booked" else None)
    paid = order is not None and order.is_paid
    cutoff = show.starts_at - _refund_cutoff_s(booking, show) if paid else show.starts_at
    [booking] = with_live_refunds(venue, [booking])  # a refund pending when kept may have failed since
    return _page("cinema/ticket.html", venue, zone, status, booking=booking, show=show,
                 qr=ticket_qr_svg(venue, booking.code), error=error, order=order if paid else None,
                 paid=cny(order.amount) if paid else "", refunded=cny(order.refunded) if paid else "",
                 cancellable=known and booking.status == "booked" and time.time() < cutoff, cutoff=hhmm(cutoff),
                 notify_phone=masked_phone(venue, booking.client), notify_error=notify_error)


def _payment_unknown() -> str:
    # A ticket sold before bookings kept their order, before the payments sweep found it: cancelled now, it would
    # be cancelled as unpaid (its seats freed, nothing refunded). The sweep runs every minute.
    return _("This ticket's payment cannot be found just now, so it cannot be cancelled yet. Please try again in a "
             "few minutes, or ask at the cinema's counter.")


def _zone_cutoff_s() -> int:
    """The zone's refund cut-off now (common.zone_cutoff_s)."""
    return zone_cutoff_s(g.app_config)


def _refund_cutoff_s(booking, show) -> int:
    """The ticket's refund cut-off in this zone (common.refund_cutoff_s: also what the privacy centre asks)."""
    return refund_cutoff_s(booking, show, g.app_config)


@bp.get("/<zone>/ticket/<code>")
def ticket(venue: str, zone: str, code: str):
    booking, show = _my_booking(venue, zone, code)
    return _ticket_page(venue, zone, booking, show)


@bp.post("/<zone>/ticket/<code>/cancel")
def cancel_ticket(venue: str, zone: str, code: str):
    booking, show = _my_booking(venue, zone, code)
    try:
        order = paying_order(venue, booking)
    except PaymentUnknown:
        return _ticket_page(venue, zone, booking, show, 409)
    paid = order is not None and order.is_paid
    cutoff_s = _refund_cutoff_s(booking, show) if paid else 0
    if time.time() >= show.starts_at - cutoff_s:
        message = (_("Paid tickets can be cancelled and refunded until %(t)s only.",
                     t=hhmm(show.starts_at - cutoff_s)) if paid
                   else _("The show has started; the ticket can no longer be cancelled."))
        return _ticket_page(venue, zone, booking, show, 409, message)
    # The owner's rule: cancelled before the cut-off, refunded in full (one refund number per booking, so a
    # repeated cancel never refunds twice).
    cancel_and_refund(venue, booking, order, OWN_REASON)
    return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=booking.code), code=303)


@bp.post("/<zone>/ticket/<code>/text")
def text_ticket(venue: str, zone: str, code: str):
    """"Text me this ticket": the shopper's number (any common format), then an SMS with a link to this
    page that opens it in any browser. Only the ticket's own shopper (404 otherwise). Each text costs the
    mall money and lands on a number the shopper typed: the "notify.sms" budgets (per number, shopper, client
    IP and venue), spent before the number is kept; the message goes to this number even if another is set
    before it is sent (portal/notify/outbox.py)."""
    booking, show = _my_booking(venue, zone, code)
    raw = request.form.get("phone")
    spend_text_budget(venue, booking.client, raw)
    try:
        masked = save_phone(venue, booking.client, raw)
    except PhoneInputError as exc:
        return _ticket_page(venue, zone, booking, show, 400, notify_error=exc.message)
    notices.ticket_issued(venue, zone, booking, show, channel="sms", phone_masked=masked)
    return redirect(shopper_url("cinema.ticket", venue=venue, zone=zone, code=booking.code), code=303)
