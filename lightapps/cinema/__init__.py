"""Cinema: today's showtimes, seat selection with timed holds, and tickets with a QR code.

Shopper pages live in `views` (blueprint "cinema"), the owner console in `console`, the cinema system's
showtime API in `api`; all seat changes are single Lua scripts in `store`."""

from __future__ import annotations

import time
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lightapps.cinema.cancellation import register as register_cancellations
from lightapps.cinema.payment import register as register_payments
from lightapps.cinema.store import CinemaStore
from portal.apps.registry import ConfigField, LightApp

LATE_ENTRY_S = 15 * 60  # a ticket still lets its holder in this long after the start (common.LATE_BOOKING_S)


def init_app(flask_app) -> None:
    """Paid orders confirm holds (lightapps/cinema/payment.py); the payments sweep finishes the cinema's
    cancellations and moves a failure cut short (lightapps/cinema/cancellation.py)."""
    register_payments(flask_app)
    register_cancellations(flask_app)


def in_use(store: CinemaStore, venue: str, zone: str, config: dict[str, Any] | None) -> str | None:
    """The LightApp.in_use hook: a zone leaving the cinema takes its ticket pages (the door QR, the paid
    ticket's cancel and refund) away, so it waits for the showtimes its tickets are for. A config change
    strands nothing: a ticket keeps the refund cut-off it was sold with (store.py, `refund_cutoff_s`)."""
    if config is not None:
        return None
    tickets = store.tickets_to_come(venue, zone, time.time() - LATE_ENTRY_S)
    if not tickets:
        return None
    return ngettext("%(num)d ticket is booked (or being paid for) for a coming showtime: the zone can switch "
                    "%(late)d minutes after that showtime starts, or once the ticket is cancelled.",
                    "%(num)d tickets are booked (or being paid for) for coming showtimes: the zone can switch "
                    "%(late)d minutes after the last of them starts, or once the tickets are cancelled.", tickets,
                    late=LATE_ENTRY_S // 60)


APP = LightApp(
    name="cinema",
    title_en="Cinema seats",
    title_zh="影院选座",
    landing_endpoint="cinema.landing",
    console_endpoint="cinema_console.home",
    config_schema=(
        ConfigField("hold_minutes", "Seat hold (minutes)", type="int", default=8, min=2, max=30,
                    help="How long picked seats stay held before the booking is confirmed."),
        ConfigField("refund_cutoff_minutes", "Refunds until (minutes before the show)", type="int", default=60,
                    min=0, max=2880, help="A paid ticket cancelled at least this long before the show is refunded "
                    "in full; later, it can no longer be cancelled."),
        ConfigField("headline_en", "Headline (English)", default="Pick your seats, skip the queue.",
                    max_length=200),
        ConfigField("headline_zh", "Headline (Chinese)", default="在线选座，免排队。", max_length=200),
    ),
    zone_kinds=("cinema",),
    store=CinemaStore,
    history={"cinema.showtime.add": _l("Showtime added: %(film)s"),
             "cinema.showtime.cancel": _l("Showtime cancelled: %(film)s"),
             "cinema.booking.cancel": _l("Booking %(booking)s cancelled at the counter: %(film)s"),
             "cinema.booking.refund": _l("Refund of booking %(booking)s asked for again: %(film)s")},
    init_app=init_app,  # paid orders confirm holds; the sweep finishes cancellations and moves
    in_use=in_use,  # no zone switch strands a ticket for a coming show (portal/owner/views.py)
)
