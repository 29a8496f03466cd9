"""What the shopper pages, the owner console and the API share: the store, times, seat grid."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta

from flask import abort
from flask_babel import gettext as _

from lightapps.cinema import APP
from lightapps.cinema.layouts import Layout
from lightapps.cinema.store import HOLD_EXTRA_MAX_S, Booking, CinemaStore, Showtime
from portal.apps.locale import format_time, local_time, spoken_at, spoken_date, venue_locale, venue_today
from portal.apps.views import app_store

APP_NAME = "cinema"
DEFAULT_HOLD_MINUTES = 8
LATE_BOOKING_S = 15 * 60  # seats can still be booked until 15 minutes after the start
SHOPPER_DAYS = 7  # the shopper's page has tabs for today and the next 6 days (those with shows; the console says so)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def cinema_store() -> CinemaStore:
    """The app's store (its scripts registered once per process)."""
    return app_store(APP)


def hold_seconds(config: dict) -> int:
    try:
        minutes = int(config.get("hold_minutes") or DEFAULT_HOLD_MINUTES)
    except (TypeError, ValueError):
        minutes = DEFAULT_HOLD_MINUTES
    return max(2, min(30, minutes)) * 60


def more_time_seconds(config: dict) -> int:
    """What a hold's one extension adds (CinemaStore.extend_hold): the zone's hold time, at most HOLD_EXTRA_MAX_S."""
    return min(hold_seconds(config), HOLD_EXTRA_MAX_S)


def zone_cutoff_s(config: dict) -> int:
    """The zone's refund cut-off now (s before the show): what new tickets are promised."""
    try:
        return max(0, int(config.get("refund_cutoff_minutes") or 0)) * 60
    except (TypeError, ValueError):
        return 3600


def refund_cutoff_s(booking: Booking, show: Showtime, config: dict) -> int:
    """The ticket's refund cut-off: the one its page promised when it was booked (kept with the booking), or
    the zone's now (`config`) when that is shorter, so a later change never takes a promised refund away. A ticket
    booked before cut-offs were kept has the zone's. A ticket for a show the cinema moved after its seats were held
    (booked then, or paid for after the move) has none: it may be cancelled, refunded in full, until the show starts
    (its holder did not choose this time)."""
    if show.moved_ms and booking.chosen_ms <= show.moved_ms:
        return 0
    now = zone_cutoff_s(config)
    return now if booking.refund_cutoff_s is None else min(now, booking.refund_cutoff_s)


def valid_id(value: str) -> str:
    """Path ids (show ids, hold tokens, booking codes): 404 for anything malformed."""
    if not _ID.match(value or ""):
        abort(404)
    return value


def show_in_zone(venue: str, zone: str, show_id: str) -> Showtime:
    show = cinema_store().showtime(venue, valid_id(show_id))
    if show is None or show.zone != zone:
        abort(404, _("No such showtime."))
    return show


def bookable(show: Showtime, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return now < show.starts_at + LATE_BOOKING_S


def day_bounds(day: date) -> tuple[float, float]:
    """A calendar day at the venue (its time zone), as epoch seconds from its first to its last second."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=venue_locale().time_zone)
    return start.timestamp(), (start + timedelta(days=1)).timestamp() - 1


def when(ts: float) -> str:
    """A showtime for shoppers: "Today, 19:30", "Tomorrow, 10:30", else "Sat, May 3, 19:30" / "今天 19:30",
    "5月3日周六 19:30"."""
    moment = local_time(ts)
    days = (moment.date() - venue_today()).days
    day = _("Today") if days == 0 else _("Tomorrow") if days == 1 else spoken_date(moment.date())
    return spoken_at(day, f"{moment:%H:%M}")


def day_and_time(ts: float) -> str:
    return format_time(ts)


def seat_grid(layout: Layout, states: dict[str, tuple[str, str]], mine: str | None = None,
              checked: set[str] | frozenset = frozenset()) -> list[dict]:
    """Rows of cells for the seat-map templates: each cell a gap, or a seat (or couple pair, spanning
    two columns) with its form value, state (free | mine | taken | booked | held) and label."""
    rows = []
    for row in layout.rows:
        cells = []
        for seat in row.cells:
            if seat is None:
                cells.append({"gap": True})
                continue
            if seat.kind == "couple" and seat.partner and layout.order[seat.partner] < layout.order[seat.id]:
                continue  # the pair's second seat: drawn by the first
            ids = [seat.id] + ([seat.partner] if seat.kind == "couple" else [])
            kinds = [states.get(i) for i in ids]
            if any(k and k[0] == "held" and k[1] == mine for k in kinds) and mine:
                state = "mine"
            elif any(k and k[0] == "booked" for k in kinds):
                state = "booked"
            elif any(kinds):
                state = "held"
            else:
                state = "free"
            cells.append({
                "gap": False,
                "value": "+".join(ids),
                "label": "–".join(str(layout.seats[i].number) for i in ids),
                "title": " + ".join(ids),
                "kind": seat.kind,
                "span": len(ids),
                "state": state,
                "taken": state in ("booked", "held"),
                "checked": state == "mine" or any(i in checked for i in ids),
            })
        rows.append({"label": row.label, "cells": cells})
    return rows
