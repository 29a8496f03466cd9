"""The venue's time zone and phone region: every time a shopper or an owner sees or types is the venue's
wall-clock time, never the server's (a UTC host serves a Beijing mall).

A venue sets `time_zone` and `phone_region` in its portal config (`portal-config <venue> time_zone=...`,
portal/captive/config.py); a venue that sets none gets the TIME_ZONE / PHONE_REGION settings, and so does a stored
zone this host cannot load (VenueTimeZones). Which venue a request is for: the URL's `venue`, else the shopper's.
Read once per request (`g`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.dates import format_interval, format_skeleton
from flask import g, has_request_context, request
from flask_babel import get_locale

from core.errors import InputError
from core.wallclock import NoSuchLocalTime, day_hours, day_start, offsets_where_repeated, typed_instant, utc_offset_text  # noqa: F401 (the venue-bound helpers below and the apps import them from here)
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
    """From the store (outside a request too: demo seeds, the tracker's roll-ups); the zone by the one rule every
    part reads it by (`svc.time_zones`: a name this host cannot load is the TIME_ZONE setting's zone)."""
    config = PortalConfigStore(svc.db).get(venue) if venue else {}
    return VenueLocale(svc.time_zones.zone_named(venue or "", config.get("time_zone", "")),
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


def recuts_past_days(svc: Services, venue: str, new_zone: str) -> bool:
    """Whether storing `new_zone` as the venue's `time_zone` ("" for none: the TIME_ZONE setting's) re-cuts days the
    venue already has figures for: the one rule the command line and the console ask before they change the zone.
    Insights (pages, exports, the partner API) cut days at the venue's midnight from the event log whenever they are
    read, and no history of zones is kept, so a new zone moves every finished day's bounds at once: a partner who
    pulled a day before and pulls it again holds two overlapping windows, whose difference may count fewer than 5
    shoppers. True when the zone in force changes and the venue's event log holds any event."""
    if str(svc.time_zones.zone_named(venue, new_zone)) == str(read_venue_locale(svc, venue).time_zone):
        return False
    return has_traffic(svc, venue)


def has_traffic(svc: Services, venue: str) -> bool:
    """Whether the venue has figures a new time zone would re-cut: any event in its log."""
    return svc.events.length(venue) > 0


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


def spoken_date(day: date, locale: Locale | str | None = None, venue: str | None = None) -> str:
    """A day as shoppers read it, in the page's language: `Tue, Dec 8` / `12月8日周二`, with the year (`Tue, Dec 8,
    2027`) only when it is not this year at the venue (this request's; outside a request, a text's, pass both
    `locale` and `venue`). Shopper pages and texts show it; the consoles keep `|day`'s `2026-12-08`, which owners and
    operators type back and sort."""
    _said_somewhere(locale, venue)
    skeleton = "MMMEd" if day.year == venue_today(venue).year else "yMMMEd"
    return format_skeleton(skeleton, day, locale=_spoken_locale(locale))


def spoken_iso_day(iso_day: str, locale: Locale | str | None = None, venue: str | None = None) -> str:
    """`spoken_date` of a day kept as `2026-12-08` (a booking's)."""
    return spoken_date(date.fromisoformat(iso_day), locale, venue)


def spoken_day(ts: float | None) -> str:
    """`spoken_date` of an instant's day, venue time (the `|spoken_day` filter)."""
    return spoken_date(local_time(ts).date()) if ts else ""


def spoken_at(day_text: str, clock: str, locale: Locale | str | None = None) -> str:
    """A day's words and a time (`19:30`) joined as the language joins a date and a time (CLDR): `Tue, Dec 8, 19:30`,
    `Today, 19:30` / `12月8日周二 19:30`."""
    return _spoken_locale(locale).datetime_formats["medium"].format(clock, day_text)


def spoken_time(ts: float | None, locale: Locale | str | None = None, venue: str | None = None) -> str:
    """`Tue, Dec 8, 19:30` / `12月8日周二 19:30`: `spoken_date` and the 24-hour time at the venue (`venue`, else this
    request's) (the `|spoken_time` filter)."""
    if not ts:
        return ""
    _said_somewhere(locale, venue)
    moment = local_time(ts, venue)
    return spoken_at(spoken_date(moment.date(), locale, venue), f"{moment:%H:%M}", locale)


def spoken_span(start: float, end: float, locale: Locale | str | None = None, venue: str | None = None) -> str:
    """From `start` to `end` as the language says a range (CLDR): within one day at the venue the day once, `Tue, Dec 8,
    19:00 – 21:00` / `12月8日周二 19:00–21:00` (an end at the next midnight too: `22:00 – 00:00`); across days, or
    across a clock change (the two times' offsets differ), both in full, `Tue, Dec 8, 19:00 – Thu, Dec 10, 18:00`."""
    _said_somewhere(locale, venue)
    first, last = local_time(start, venue), local_time(end, venue)
    spoken = _spoken_locale(locale)
    one_day = (end - start < 86400 and first.date() == local_time(max(start, end - 1), venue).date()
               and f"{first:%H:%M}" != f"{last:%H:%M}")
    if one_day and first.utcoffset() == last.utcoffset():
        clocks = format_interval(first.time(), last.time(), "Hm", locale=spoken)
        return spoken_at(spoken_date(first.date(), spoken, venue), clocks, spoken)
    return spoken.interval_formats[None].format(spoken_time(start, spoken, venue), spoken_time(end, spoken, venue))


def _said_somewhere(locale: Locale | str | None, venue: str | None) -> None:
    """Outside a request nothing names the language or the venue (its time zone, its year): the caller must."""
    if not has_request_context() and (locale is None or venue is None):
        raise RuntimeError("a date said outside a request needs its language and its venue")


def _spoken_locale(locale: Locale | str | None) -> Locale:
    """`locale`, else this request's language."""
    if locale is None and not has_request_context():
        raise RuntimeError("a date said outside a request needs its language")
    return Locale.parse(locale or get_locale())


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
