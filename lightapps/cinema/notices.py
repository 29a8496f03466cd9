"""What the cinema sends a shopper (through portal.apps.notify): the ticket, when it is issued, on every
channel they opted into, and again by SMS when they ask for it on the ticket page ("text me this ticket":
a link to the ticket page that works in any browser, outside the captive sign-in sheet)."""

from __future__ import annotations

import hashlib

from flask import url_for
from flask_babel import gettext as _

from portal.apps.bilingual import pick
from portal.apps.locale import format_time
from portal.apps.notify import in_both, notify


def ticket_issued(venue: str, zone: str, booking, show, channel: str = "", phone_masked: str = "") -> bool:
    """Once per ticket (and, for an SMS the shopper asked for, once per ticket and number)."""
    starts = format_time(show.starts_at)  # the venue's wall clock
    seats = ", ".join(booking.seats)
    texts = in_both(
        title=lambda lang: _("Your ticket: %(film)s", film=str(pick(show.film_zh, show.film_en, lang == "zh"))),
        body=lambda lang: _("%(time)s, %(hall)s, seats %(seats)s. Code %(code)s.", time=starts, seats=seats,
                            hall=show.hall.name_zh if lang == "zh" else show.hall.name_en, code=booking.code))
    key = f"cinema.ticket:{booking.code}"
    if channel:
        key += f":{channel}:{hashlib.sha256(phone_masked.encode()).hexdigest()[:10]}"
    return notify(venue, booking.client, "cinema.ticket",
                  {**texts, "film": show.film_zh or show.film_en, "time": starts, "seats": seats,
                   "code": booking.code, "path": url_for("cinema.ticket", venue=venue, zone=zone, code=booking.code)},
                  key=key, channel=channel)
