"""What the cinema sends a shopper (through portal.apps.notify): the ticket, when it is issued, on every
channel they opted into, and again by SMS when they ask for it on the ticket page ("text me this ticket":
a link to the ticket page that works in any browser, outside the captive sign-in sheet); and, to each ticket
holder, that the cinema cancelled the showtime (the ticket cancelled; refunded if paid, or the refund to be
arranged by the cinema when it could not be made online) or moved its start
(once per ticket and new start time). Each links to the ticket page."""

from __future__ import annotations

import hashlib

from flask import url_for
from flask_babel import gettext as _

from lightapps.cinema.store import NO_REFUND, REFUND_UNDER_WAY
from portal.apps.bilingual import pick
from portal.apps.locale import format_time, spoken_time
from portal.apps.notify import in_both, notify


def ticket_issued(venue: str, zone: str, booking, show, channel: str = "", phone_masked: str = "") -> bool:
    """Once per ticket (and, for an SMS the shopper asked for, once per ticket and number)."""
    starts = format_time(show.starts_at)  # the venue's wall clock
    seats = ", ".join(booking.seats)
    said = _said(venue, time=show.starts_at)
    texts = in_both(
        title=lambda lang: _("Your ticket: %(film)s", film=_film(show, lang)),
        body=lambda lang: _("%(time)s, %(hall)s, seats %(seats)s. Code %(code)s.", seats=seats,
                            time=said[f"time_{lang}"], hall=_hall(show, lang), code=booking.code))
    key = f"cinema.ticket:{booking.code}"
    if channel:
        key += f":{channel}:{hashlib.sha256(phone_masked.encode()).hexdigest()[:10]}"
    return notify(venue, booking.client, "cinema.ticket",
                  {**texts, **said, "film": show.film_zh or show.film_en, "time": starts, "seats": seats,
                   "code": booking.code, "path": url_for("cinema.ticket", venue=venue, zone=zone, code=booking.code)},
                  key=key, channel=channel)


def _said(venue: str, **instants: float) -> dict[str, str]:
    """Each instant as each language's text says it, on the venue's clock (`time_en`: `Tue, Dec 8, 19:30`, `time_zh`:
    `12月8日周二 19:30`): read by the texts' bodies, and an SMS template's parameter in the shopper's language."""
    return in_both(**{name: (lambda lang, ts=ts: spoken_time(ts, lang, venue)) for name, ts in instants.items()})


def _film(show, lang: str) -> str:
    return str(pick(show.film_zh, show.film_en, lang == "zh"))


def _hall(show, lang: str) -> str:
    return show.hall.name_zh if lang == "zh" else show.hall.name_en


def show_cancelled(venue: str, zone: str, booking, show, refund: str) -> bool:
    """The cinema cancelled the showtime of the shopper's ticket (the ticket is cancelled). `refund`: what
    `payment.refund_cancelled` said: "none" (not paid online), a refund under way (told it is refunded in full), or
    one that could not be made online (told the cinema will arrange it). Once per ticket."""
    starts = format_time(show.starts_at)
    said = _said(venue, time=show.starts_at)

    def body(lang: str) -> str:
        values = {"time": said[f"time_{lang}"], "code": booking.code}
        if refund in REFUND_UNDER_WAY:
            return _("The cinema cancelled the showing at %(time)s, %(hall)s. Your ticket %(code)s is cancelled and "
                     "what you paid is refunded in full.", hall=_hall(show, lang), **values)
        if refund != NO_REFUND:
            return _("The cinema cancelled the showing at %(time)s, %(hall)s. Your ticket %(code)s is cancelled. "
                     "What you paid could not be refunded automatically: the cinema will arrange your refund; show "
                     "this ticket code at its counter or wait to be contacted.", hall=_hall(show, lang), **values)
        return _("The cinema cancelled the showing at %(time)s, %(hall)s. Your ticket %(code)s is cancelled.",
                 hall=_hall(show, lang), **values)

    texts = in_both(title=lambda lang: _("Showtime cancelled: %(film)s", film=_film(show, lang)), body=body)
    return notify(venue, booking.client, "cinema.show_cancelled",
                  {**texts, **said, "film": show.film_zh or show.film_en, "time": starts, "code": booking.code,
                   "path": url_for("cinema.ticket", venue=venue, zone=zone, code=booking.code)},
                  key=f"cinema.show_cancelled:{booking.code}")


def show_moved(venue: str, zone: str, booking, show, old_starts_at: int) -> bool:
    """The cinema moved the start of the showtime of the shopper's ticket: the new time, the old one, and that
    the ticket may be cancelled, for a full refund if paid, until the show starts. Once per ticket and new
    start."""
    starts, was = format_time(show.starts_at), format_time(old_starts_at)
    said = _said(venue, time=show.starts_at, was=old_starts_at)
    texts = in_both(
        title=lambda lang: _("Showtime moved: %(film)s", film=_film(show, lang)),
        body=lambda lang: _("Now %(time)s (was %(was)s), %(hall)s, seats %(seats)s. Your seats are kept; if the "
                            "new time does not suit you, cancel the ticket %(code)s before the show starts, for a "
                            "full refund if you paid.", time=said[f"time_{lang}"], was=said[f"was_{lang}"],
                            hall=_hall(show, lang), seats=", ".join(booking.seats), code=booking.code))
    return notify(venue, booking.client, "cinema.show_moved",
                  {**texts, **said, "film": show.film_zh or show.film_en, "time": starts, "was": was,
                   "code": booking.code, "path": url_for("cinema.ticket", venue=venue, zone=zone, code=booking.code)},
                  key=f"cinema.show_moved:{booking.code}:{show.starts_at}")
