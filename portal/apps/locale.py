"""The venue's time zone and phone region: every time a shopper or an owner sees or types is the venue's
wall-clock time, never the server's (a UTC host serves a Beijing mall).

A venue sets `time_zone` and `phone_region` in its portal config (`portal-config <venue> time_zone=...`,
portal/captive/config.py); a venue that sets none gets the TIME_ZONE / PHONE_REGION settings. Which venue a
request is for: the URL's `venue`, else the shopper's. Read once per request (`g`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from zoneinfo import ZoneInfo

import phonenumbers
from flask import g, has_request_context, request

from core.errors import InputError
from portal.captive.config import PortalConfigStore
from portal.services import Services, services
from portal.shopper import current_shopper

MAX_PHONE_TEXT = 40


@dataclass(frozen=True)
class VenueLocale:
    time_zone: ZoneInfo
    phone_region: str


def request_venue() -> str | None:
    """The venue this request is about: the URL's, else the shopper's (None outside a request)."""
    if not has_request_context():
        return None
    venue = (request.view_args or {}).get("venue")
    if venue:
        return venue
    shopper = current_shopper()
    return shopper.venue if shopper else None


def read_venue_locale(svc: Services, venue: str | None) -> VenueLocale:
    """From the store (outside a request too: demo seeds, the tracker's roll-ups)."""
    config = PortalConfigStore(svc.db).get(venue) if venue else {}
    return VenueLocale(ZoneInfo(config.get("time_zone") or svc.settings.time_zone),
                       config.get("phone_region") or svc.settings.phone_region)


def venue_locale(venue: str | None = None) -> VenueLocale:
    """The venue's time zone and phone region (this request's venue when none is named), once per request."""
    venue = venue or request_venue()
    cache = g.setdefault("venue_locales", {}) if has_request_context() else {}
    if venue not in cache:
        cache[venue] = read_venue_locale(services(), venue)
    return cache[venue]


def venue_time_zone(venue: str, svc: Services | None = None) -> ZoneInfo:
    """The venue's time zone, for stores (once per request inside one; read from the store outside, through
    `svc` where a store built from it may be used outside an app context: a test, a CLI job)."""
    if has_request_context():
        return venue_locale(venue).time_zone
    return read_venue_locale(svc or services(), venue).time_zone


def local_time(ts: float, venue: str | None = None) -> datetime:
    """An instant (epoch seconds) as the venue's wall-clock time (aware)."""
    return datetime.fromtimestamp(ts, venue_locale(venue).time_zone)


def format_time(ts: float | None) -> str:
    """`2026-12-01 19:30`, venue time (the `|datetime` filter)."""
    return local_time(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def hhmm(ts: float | None) -> str:
    """`19:30`, venue time (the `|hhmm` filter)."""
    return local_time(ts).strftime("%H:%M") if ts else ""


def format_day(ts: float | None) -> str:
    """`2026-12-01`, venue time (the `|day` filter)."""
    return local_time(ts).strftime("%Y-%m-%d") if ts else ""


def venue_now(venue: str | None = None) -> datetime:
    return datetime.now(venue_locale(venue).time_zone)


def venue_today(venue: str | None = None) -> date:
    return venue_now(venue).date()


def from_local(moment: datetime, venue: str | None = None) -> float:
    """A wall-clock time at the venue (naive: the venue's zone; aware: as given) -> epoch seconds. Lenient: a
    time in the spring-forward gap comes out an hour later (a stored daily slot on the one day it does not
    exist); what an owner types goes through `typed_instant`, which refuses it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=venue_locale(venue).time_zone)
    return moment.timestamp()


class NoSuchLocalTime(ValueError):
    """A wall-clock time the zone skips (the clocks go forward over it). `params` (time, day, zone) fill the
    callers' catalog message: "%(time)s does not exist on %(day)s in %(zone)s (the clocks go forward)"."""

    def __init__(self, moment: datetime, zone: tzinfo) -> None:
        self.params = {"time": moment.strftime("%H:%M"), "day": moment.date().isoformat(), "zone": str(zone)}
        super().__init__("{time} does not exist on {day} in {zone} (the clocks go forward)".format(**self.params))


def typed_instant(moment: datetime, zone: tzinfo) -> float:
    """A wall-clock time typed in `zone` (naive; an aware one is taken as given) -> epoch seconds; NoSuchLocalTime
    when the zone skips it: read back from UTC, a time in the spring-forward gap comes out an hour off, and
    moving it silently would book the wrong hour. An autumn time that happens twice is the first (fold=0, the
    summer-time one): the earlier of the two, so nothing starts after the shopper expected it."""
    if moment.tzinfo is not None:
        return moment.timestamp()
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise NoSuchLocalTime(moment, zone)
    return local.timestamp()


def day_start(day: date, tz: tzinfo | None = None) -> float:
    """Epoch seconds of the first instant of `day` in `tz` (None: the server's zone): its midnight, or where the
    clocks skip midnight, the instant they jump (a time in the gap, fold 0, reads the offset before it)."""
    if tz is None:
        return datetime.combine(day, dtime.min).astimezone().timestamp()
    return datetime.combine(day, dtime.min, tzinfo=tz).timestamp()


def day_hours(day: date, zone: tzinfo) -> list[datetime]:
    """The wall-clock hours `day` has in `zone`, in order, each as its first instant (aware): 24; 23 the day the
    clocks go forward (the hour they skip is not there); 25 the day they go back (the hour they repeat comes
    twice: fold 0, the summer-time one, then fold 1)."""
    start, end = day_start(day, zone), day_start(day + timedelta(days=1), zone)
    hours: dict[tuple[int, int], datetime] = {}
    for at in range(int(start), int(end), 900):  # every offset change falls on a quarter hour
        local = datetime.fromtimestamp(at, zone)
        hours.setdefault((local.hour, local.fold), local)
    return list(hours.values())


def utc_offset_text(moment: datetime) -> str:
    """+01:00, -03:30: an aware moment's UTC offset."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def offsets_where_repeated(starts: Sequence[datetime], wall: str = "%H:%M") -> list[str]:
    """For each start (aware) of a list of real hours: " (UTC+01:00)" where its day has its wall-clock time
    (`wall`, strftime) more than once in the list (the night the clocks go back: 02:00 summer time, then 02:00
    winter time), else "". The one rule every list of hours labels the repeated hour by."""
    walls = Counter((start.date(), start.strftime(wall)) for start in starts)
    return [f" (UTC{utc_offset_text(start)})" if walls[(start.date(), start.strftime(wall))] > 1 else ""
            for start in starts]


class PhoneNumberError(InputError):
    pass


def parse_phone(raw: str | None, region: str | None = None, field: str = "phone") -> str:
    """A mobile or fixed number as E.164 (`+8613800138000`), typed in any common format: with or without
    the country code (`+86`, `0086`), spaces, hyphens, brackets; a number without a country code is read in
    the venue's region (`region`, else this request's venue's phone region). PhoneNumberError if it cannot
    be a valid number."""
    text = (raw or "").strip()
    if not text:
        raise PhoneNumberError(field, "phone is required")
    if len(text) > MAX_PHONE_TEXT:
        raise PhoneNumberError(field, "phone is too long")
    region = region or venue_locale().phone_region
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneNumberError(field, "this is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(field, "this is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
