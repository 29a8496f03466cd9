"""What the queue tells a shopper after the page is closed (through portal.apps.notify): their number
is called (the table is ready), and a reminder before a booked table (scheduled when booked, withdrawn
when the booking ends)."""

from __future__ import annotations

from datetime import datetime

from flask import url_for
from flask_babel import gettext as _

from fingerprints.model import Zone
from portal.apps.locale import NoSuchLocalTime, spoken_iso_day, typed_instant, venue_time_zone
from portal.apps.notify import cancel, in_both, notify

REMINDER_BEFORE_S = 30 * 60


def _place(zone: Zone) -> dict[str, str]:
    return {"place": zone.label(True)}


def _name(zone: Zone, lang: str) -> str:
    return zone.label(lang == "zh")


def table_ready(venue: str, zone: Zone, ticket: dict, day: str) -> bool:
    """The number was called: tell its shopper (once per number and day)."""
    number = ticket["id"]
    texts = in_both(title=lambda lang: _("Your table is ready"),
                    body=lambda lang: _("Number %(number)s: please come to %(place)s now.", number=number,
                                   place=_name(zone, lang)))
    return notify(venue, ticket["client"], "queue.called",
                  {**texts, **_place(zone), "number": number,
                   "path": url_for("queue.landing", venue=venue, zone=zone.id)},
                  key=f"queue.called:{zone.id}:{day}:{number}")


def reminder_key(zone: str, rid: str) -> str:
    return f"queue.reminder:{zone}:{rid}"


def slot_start(venue: str, day_iso: str, slot: str) -> float:
    """When a slot ("HH:MM" of a day on the venue's clock) begins, epoch seconds: the first of a time the clocks
    go back over; NoSuchLocalTime for one they skip (no slot is offered there: views._slot_rows)."""
    return typed_instant(datetime.fromisoformat(f"{day_iso}T{slot}"), venue_time_zone(venue))


def remind_booking(venue: str, zone: Zone, rid: str, client: str, day_iso: str, slot: str, party: int) -> bool:
    """Schedule the reminder REMINDER_BEFORE_S before the booked time (now when that is already past); none
    for a time the clocks skip (a booking no slot list offers: the reminder would name a time that never comes)."""
    try:
        starts_at = slot_start(venue, day_iso, slot)
    except NoSuchLocalTime:
        return False
    said = in_both(day=lambda lang: spoken_iso_day(day_iso, lang, venue))  # also the SMS template's `day`
    texts = in_both(title=lambda lang: _("Your table at %(slot)s", slot=slot),
                    body=lambda lang: _("%(place)s, %(day)s %(slot)s, party of %(n)s.", slot=slot, n=party,
                                        day=said[f"day_{lang}"], place=_name(zone, lang)))
    return notify(venue, client, "queue.reminder",
                  {**texts, **said, **_place(zone), "slot": slot, "day": day_iso,
                   "path": url_for("queue.landing", venue=venue, zone=zone.id)},
                  key=reminder_key(zone.id, rid), at=starts_at - REMINDER_BEFORE_S)


def booking_ended(venue: str, zone: str, rid: str) -> None:
    """Cancelled, arrived or missed: no reminder any more."""
    cancel(venue, reminder_key(zone, rid))
