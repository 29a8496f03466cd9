"""Owner console: the zone's showtimes with occupancy, adding a showtime, bookings per showtime, cancelling a
showtime (its tickets cancelled, refunded and their holders told: lightapps/cinema/cancellation.py) or one booking
at the counter (refunded as the shopper's own cancel is, whatever her refund cut-off; a refund cut short, or one the
order could not take then, is finished with Finish refund; one the provider refused is arranged by hand). A
showtime's time is not edited here: a new one is added (the cinema system's push may move one, see api.py)."""

from __future__ import annotations

import time

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lightapps.cinema.cancellation import COUNTER_REASON, cancel_in_store, cancel_show, finish_refund
from lightapps.cinema.common import SHOPPER_DAYS, cinema_store, day_and_time, seat_grid, show_in_zone, valid_id
from lightapps.cinema.layouts import AUDITORIUMS
from lightapps.cinema.payment import PaymentUnknown, paying_order, with_live_refunds
from lightapps.cinema.store import (
    AT_COUNTER,
    BY_CINEMA,
    NO_REFUND,
    REFUND_UNDER_WAY,
    Booking,
    Showtime,
    ShowtimeClash,
    ShowtimeConflict,
    occupancy_of,
)
from lightapps.cinema.validation import MIN_SHOW_GAP_S, FieldError, clash_error, parse_showtime
from portal.apps.once import new_nonce, read_form_once
from portal.apps.views import is_zh, zone_console_blueprint
from portal.auth import audit
from portal.services import services

# Every view: owners of the zone (and the venue's operators) only; g.venue_map and g.zone are set.
console_bp = zone_console_blueprint("cinema_console", __name__, url_prefix="/console/apps/cinema/<venue>/<zone>",
                                    template_folder="templates")

FORM_FIELDS = ("film_en", "film_zh", "auditorium", "starts_at", "price")
LABELS = {  # the form's fields as its labels say them (console.html)
    "film_en": _l("Film title (English)"), "film_zh": _l("Film title (Chinese)"), "auditorium": _l("Auditorium"),
    "starts_at": _l("Starts at (local time)"), "price": _l("Price"),
}
LIST_PAST_S = 24 * 3600  # the list starts with yesterday's shows
# A counter cancel's audit entry is written once the booking is cancelled, before its refund is asked for: its
# `refund` says "asked" (paid online: the refund's outcome is kept on the booking and in the payment's refund
# record, as its page shows) or NO_REFUND (nothing paid online).
REFUND_ASKED = "asked"


def _error_text(exc: FieldError) -> str:
    """The refusal in the page's language: the field's label, then what is wrong with it."""
    label = LABELS.get(exc.field, exc.field)
    if exc.names_field:
        return _(exc.template, label=label, **exc.params)
    return _("%(label)s: %(problem)s", label=label, problem=_(exc.template, **exc.params))


def _home(venue: str, zone: str, status: int = 200, error: FieldError | None = None, form=None):
    store = cinema_store()
    now = time.time()
    listed = store.showtimes(venue, zone, now - LIST_PAST_S)
    occupancies = store.occupancies(venue, listed, now)
    shows = [(s, occupancies[s.id]) for s in listed]
    return render_template("cinema/console.html", venue=g.venue_map, zone=g.zone, shows=shows,
                           auditoriums=AUDITORIUMS.values(), error=error, form=form or {},
                           error_text=_error_text(error) if error else "", nonce=new_nonce(),
                           shopper_days=SHOPPER_DAYS, gap_minutes=MIN_SHOW_GAP_S // 60,
                           when=day_and_time, cinema_on=services().zone_apps.config_for(venue, zone, "cinema")
                           is not None), status


@console_bp.get("/")
def home(venue: str, zone: str):
    return _home(venue, zone)


@console_bp.post("/showtimes")
def add_showtime(venue: str, zone: str):
    """Add a showtime, unless its hall has another live show within MIN_SHOW_GAP_S (409, the form again with what
    was typed). The form's one-time token: the same form sent again (a double tap) adds nothing and goes where the
    first went; the token resent with other content (back, edit, add) is a new form."""
    form = {name: request.form.get(name, "")[:500] for name in FORM_FIELDS}
    try:
        item = parse_showtime(form)
        result = cinema_store().upsert_showtimes(venue, zone, [item], source="console", min_gap_s=MIN_SHOW_GAP_S,
                                                 once=read_form_once(request.form))
    except FieldError as exc:
        return _home(venue, zone, 422, exc, form)
    except ShowtimeClash as exc:
        return _home(venue, zone, 409, _clash_error(venue, exc), form)
    except ShowtimeConflict:  # pragma: no cover - a console showtime is always new
        abort(409)
    if not result["replayed"]:  # audited when the form was first sent
        audit("cinema.showtime.add", venue, zone=zone, show=result["ids"][0], film=item.film_en or item.film_zh,
              starts_at=item.starts_at, auditorium=item.auditorium)
    return redirect(url_for("cinema_console.home", venue=venue, zone=zone, added=result["ids"][0]), code=303)


def _clash_error(venue: str, clash: ShowtimeClash) -> FieldError:
    """The show the new one clashes with, named in the page's language (a console add is one show: the other is a
    stored one, and shows are never deleted)."""
    other = cinema_store().showtime(venue, clash.other)
    if is_zh():
        return clash_error("starts_at", other.film_zh or other.film_en, other.starts_at, other.hall.name_zh)
    return clash_error("starts_at", other.film_en or other.film_zh, other.starts_at, other.hall.name_en)


def _show_page(venue: str, zone: str, show, status: int = 200, error: str = "", refused: str = ""):
    """The showtime's page; `error` atop it (a refused cancel), by the box of booking `refused` when it is one's."""
    store = cinema_store()
    now = time.time()
    states = store.seat_states(venue, show.id, now)
    bookings = with_live_refunds(venue, store.show_bookings(venue, show.id))  # a refund pending may have failed since
    # A cancellation not finished (a failure cut it short; the payments sweep or Finish goes on): the tickets
    # still to cancel, refund or tell. Finished: the paid tickets whose refund could not be made online.
    cancelling = show.cancelled and store.is_cancelling(venue, show.id)
    left = sum(b.status == "booked" or (b.cancelled_by == BY_CINEMA and not b.refund_outcome) for b in bookings)
    to_arrange = sum(b.cancelled_by == BY_CINEMA and b.refund_to_arrange for b in bookings)  # the banner's: the show's
    return render_template("cinema/console_show.html", venue=g.venue_map, zone=g.zone, show=show,
                           layout=show.layout, grid=seat_grid(show.layout, states), bookings=bookings,
                           occupancy=occupancy_of(show, states), when=day_and_time,
                           title=_("Bookings"), error=error, cancelling=cancelling, left=left,
                           to_arrange=to_arrange, refused=refused), status


@console_bp.get("/showtimes/<show_id>")
def showtime(venue: str, zone: str, show_id: str):
    return _show_page(venue, zone, show_in_zone(venue, zone, show_id))


@console_bp.post("/showtimes/<show_id>/cancel")
def cancel_showtime(venue: str, zone: str, show_id: str):
    """Cancel the showtime: the owner ticks that its tickets are cancelled and refunded, then presses Cancel.
    While a cancellation is not finished (a failure cut it short), the page offers Finish, which posts here too:
    it does what is left at once (the payments sweep would, within a minute or so). Pressing again once it is
    finished (a double tap) changes nothing: nothing refunded or told twice, nothing audited."""
    show = show_in_zone(venue, zone, show_id)
    if request.form.get("confirm") != "yes":
        return _show_page(venue, zone, show, 422, _("Tick the box to confirm: every ticket for this showtime is "
                                                    "cancelled and refunded."))
    was_cancelled = show.cancelled
    done = cancel_show(venue, show.id)
    if done is None:  # pragma: no cover - deleted between the two reads (shows are never deleted)
        abort(404)
    if done.tickets or done.refunds or done.to_arrange or not was_cancelled:
        audit("cinema.showtime.cancel", venue, zone=zone, show=show.id, film=show.film_en or show.film_zh,
              starts_at=show.starts_at, tickets=done.tickets, refunds=done.refunds,
              refunds_to_arrange=done.to_arrange, finished=done.finished)
    return redirect(url_for("cinema_console.showtime", venue=venue, zone=zone, show_id=show.id), code=303)


@console_bp.post("/showtimes/<show_id>/bookings/<code>/cancel")
def cancel_booking(venue: str, zone: str, show_id: str, code: str):
    """Cancel one booking at the counter (a customer past the shopper's own refund cut-off): only with the box
    beside the button ticked. Its seats are freed and what paid for it is refunded in full, through the path the
    shopper's own cancel takes (one refund number per booking), its outcome kept on the booking (a refund a failure
    cuts short is left "still to refund", for the payments sweep or Finish refund). Pressed again: "already
    cancelled", nothing refunded twice (a refund a failure cut short is asked for again), nothing audited."""
    show = show_in_zone(venue, zone, show_id)
    booking = _show_booking(venue, show, code)
    if request.form.get("confirm") != "yes":  # nothing changed: the page again, saying what cancelling does
        return _show_page(venue, zone, show, 422, _(
            "Tick the box beside Cancel and refund to confirm it for booking %(code)s: its seats are freed and a "
            "paid ticket is refunded in full. Nothing was changed.", code=booking.code), refused=booking.code)
    try:
        order = paying_order(venue, booking)
    except PaymentUnknown:  # cancelled now it would count as unpaid: seats freed, the money kept
        return _show_page(venue, zone, show, 409, _(
            "The payment of booking %(code)s cannot be found just now, so it cannot be cancelled yet. Please try "
            "again in a few minutes.", code=booking.code))
    status, owed = cancel_in_store(venue, booking, order, by=AT_COUNTER)
    if status == "nobooking":  # its shopper's data was erased between the two reads
        abort(409, _("That booking changed just now: please try again."))
    if status == "ok":  # audited once cancelled, before the refund: a provider that hangs or fails cannot lose it
        audit("cinema.booking.cancel", venue, zone=zone, show=show.id, film=show.film_en or show.film_zh,
              booking=booking.code, seats=",".join(booking.seats), refund=REFUND_ASKED if owed else NO_REFUND)
    refund = finish_refund(venue, booking, AT_COUNTER, COUNTER_REASON, order) if owed else NO_REFUND
    flash(*_counter_notice(booking, status, refund))
    return redirect(url_for("cinema_console.showtime", venue=venue, zone=zone, show_id=show.id), code=303)


@console_bp.post("/showtimes/<show_id>/bookings/<code>/refund")
def finish_booking_refund(venue: str, zone: str, show_id: str, code: str):
    """Finish refund: ask again for the full refund of a booking cancelled at the counter whose refund a failure
    cut short (the payments sweep would, within a minute or so) or that the order could not take then (its state,
    or more than it had left: `Booking.refund_to_finish`), under its one refund number (never refunded twice). Not
    one the provider refused for good (refused again under that number: arranged by hand), nor any other booking:
    says so, changes nothing, audits nothing."""
    show = show_in_zone(venue, zone, show_id)
    booking = _show_booking(venue, show, code)
    if not booking.refund_to_finish:
        flash(_("Booking %(code)s has no refund left to finish.", code=booking.code), "info")
    else:
        refund = finish_refund(venue, booking, booking.cancelled_by)
        audit("cinema.booking.refund", venue, zone=zone, show=show.id, film=show.film_en or show.film_zh,
              booking=booking.code, refund=refund)
        flash(*_refund_notice(booking, refund))
    return redirect(url_for("cinema_console.showtime", venue=venue, zone=zone, show_id=show.id), code=303)


def _show_booking(venue: str, show: Showtime, code: str) -> Booking:
    """The booking `code` of this showtime, else 404."""
    booking = cinema_store().booking(venue, valid_id(code))
    if booking is None or booking.show_id != show.id:
        abort(404, _("No such booking."))
    return booking


def _refund_notice(booking: Booking, refund: str) -> tuple[str, str]:
    """What Finish refund did, in the page's language, and its flash category."""
    if refund == NO_REFUND:
        return _("Booking %(code)s was not paid online: nothing to refund.", code=booking.code), "info"
    if refund in REFUND_UNDER_WAY:
        return _("Booking %(code)s: its payment is refunded in full.", code=booking.code), "info"
    return _("Booking %(code)s: its refund still could not be made online: arrange it with the customer.",
             code=booking.code), "error"


def _counter_notice(booking: Booking, status: str, refund: str) -> tuple[str, str]:
    """What a counter cancel did, in the page's language, and its flash category."""
    if status != "ok":
        return _("Booking %(code)s was already cancelled.", code=booking.code), "info"
    seats = ", ".join(booking.seats)
    if refund == NO_REFUND:
        return _("Booking %(code)s cancelled: seats %(seats)s are free again. It was not paid online: nothing to "
                 "refund.", code=booking.code, seats=seats), "info"
    if refund in REFUND_UNDER_WAY:
        return _("Booking %(code)s cancelled: seats %(seats)s are free again and its payment is refunded in full.",
                 code=booking.code, seats=seats), "info"
    return _("Booking %(code)s cancelled: seats %(seats)s are free again, but its refund could not be made online: "
             "arrange it with the customer.", code=booking.code, seats=seats), "error"
