"""Validating a showtime from outside: the owner's console form, or the cinema system's JSON push.

Each error names the field it is about, so the API can answer {"error": ..., "field": ...} and the form
can say which box to fix."""

from __future__ import annotations

import re
import time
from datetime import date, datetime

from core.errors import N_, CatalogInputError
from lightapps.cinema.layouts import AUDITORIUMS
from lightapps.cinema.store import ShowtimeInput
from portal.apps.locale import NoSuchLocalTime, format_time, typed_instant, venue_locale
from portal.errors import ROOT
from portal.payments.money import AmountError, read_amount

MAX_TITLE = 120
MAX_PRICE_FEN = 1_000_000  # ¥10,000.00 a ticket
MAX_PAST_S = 24 * 3600  # a showtime may be entered up to a day late (corrections), not earlier
MAX_AHEAD_S = 120 * 24 * 3600
MAX_BATCH = 500
# Two shows in one hall start at least this far apart, or both would sell its seats. A showtime carries no running
# time, so this stands for the shortest film and the turn-round after it: short enough for a real programme, it
# refuses the same show twice, a double tap, a typo of the hour (the store's ShowtimeClash, checked as it writes).
MIN_SHOW_GAP_S = 60 * 60
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
STATUSES = ("scheduled", "cancelled")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NO_SUCH_TIME = N_("%(time)s does not exist on %(day)s in %(zone)s (the clocks go forward)")
SHOW_CLASH = N_("clashes with %(film)s at %(time)s in %(hall)s: showtimes in one hall start at least %(n)s minutes "
                "apart")


class FieldError(CatalogInputError):
    """`message` is what is wrong with `field`, in English words that follow its name ("is in the past": the
    API answers "starts_at is in the past"): `template % params`. The console shows `_(template, **params)`
    after the field's label, so what a form can get wrong is marked N_ for the catalog (what only the API's
    JSON can get wrong, a list or an id, is not)."""

    template = "{field}: {message}"  # str(): InputError's format (this instance's `template` is the msgid)

    @property
    def names_field(self) -> bool:
        """The message names the field itself ("%(label)s must be ...": the platform's amount rule,
        portal/payments/money.py) instead of following its name."""
        return "%(label)s" in self.template


def clash_error(field: str, film: str, starts_at: int, hall: str) -> FieldError:
    """A showtime refused for starting within MIN_SHOW_GAP_S of another live show in its hall, which it names (its
    film, its start in the mall's time, the hall) in the words the caller chose for them."""
    return FieldError(field, SHOW_CLASH, film=film, time=format_time(starts_at), hall=hall, n=MIN_SHOW_GAP_S // 60)


def _title(raw, field: str, required: bool) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise FieldError(field, N_("is required"))
        return ""
    if not isinstance(raw, str):
        raise FieldError(field, "must be a string")
    value = raw.strip()
    if len(value) > MAX_TITLE:
        raise FieldError(field, N_("must be at most %(n)s characters"), n=MAX_TITLE)
    if _CONTROL.search(value):
        raise FieldError(field, N_("must not contain control characters"))
    return value


def _auditorium(raw, field: str) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or raw.strip() not in AUDITORIUMS:
        raise FieldError(field, N_("must be one of: %(choices)s"), choices=", ".join(AUDITORIUMS))
    return raw.strip()


def local_moment(text: str, field: str, date_alone: bool = False) -> int | date:
    """An ISO 8601 date and time -> epoch seconds: with a UTC offset (or Z) the instant it names, without one the
    mall's wall-clock time (the venue's time zone). A date alone is refused (a showtime needs its hour), or with
    `date_alone` given back as that date (the caller says which of its instants it means)."""
    text = text.strip()
    if len(text) > 40:
        raise FieldError(field, N_("is not a date and time"))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        if date_alone:
            return day
        # the API's JSON, or a browser whose form box is plain text: a console shows it in the page's language
        raise FieldError(field, N_("needs a time of day, not a date alone (ISO 8601, e.g. 2025-05-01T19:30)"))
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        if date_alone:
            raise FieldError(field, "is not an ISO 8601 date (e.g. 2025-05-01) or date and time "
                                    "(e.g. 2025-05-01T19:30)") from None
        raise FieldError(field, N_("is not an ISO 8601 date and time (e.g. 2025-05-01T19:30)")) from None
    try:
        return int(typed_instant(moment, venue_locale().time_zone))  # naive: the mall's wall-clock time
    except NoSuchLocalTime as gap:
        raise FieldError(field, NO_SUCH_TIME, **gap.params) from None
    except (OverflowError, OSError, ValueError):
        raise FieldError(field, N_("is out of range")) from None


def _starts_at(raw, field: str, now: float) -> int:
    """ISO 8601 date and time (`local_moment`), from a day ago to MAX_AHEAD_S ahead."""
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, N_("is required (ISO 8601 date and time, e.g. 2025-05-01T19:30)"))
    ts = local_moment(raw, field)
    if ts < now - MAX_PAST_S:
        raise FieldError(field, N_("is in the past"))
    if ts > now + MAX_AHEAD_S:
        raise FieldError(field, N_("is more than %(n)s days ahead"), n=MAX_AHEAD_S // 86400)
    return ts


def _price_cents(raw, field: str) -> int:
    """The platform's amount rule (portal/payments/money.py), at most MAX_PRICE_FEN; its message names the field."""
    try:
        return read_amount(raw, high=MAX_PRICE_FEN, field=field)
    except AmountError as exc:
        raise FieldError(field, exc.template, **exc.params) from None


def parse_showtime(raw, now: float | None = None, prefix: str = "", allow_external_id: bool = False
                   ) -> ShowtimeInput:
    """A dict of raw values -> ShowtimeInput; FieldError naming `prefix + field` when a value is bad.
    `allow_external_id`: an item of the cinema system's push, which may also carry its own id, a `status`
    ("scheduled" or "cancelled": a cancellation names the show by that id and needs nothing else, its other
    fields ignored) and `confirm_time_change` (true: a new start for a show with tickets is meant)."""
    now = time.time() if now is None else now
    if not isinstance(raw, dict):
        raise FieldError(prefix.rstrip(".") or ROOT, "must be an object")
    external_id = ""
    if allow_external_id and raw.get("id") not in (None, ""):
        external_id = raw["id"]
        if not isinstance(external_id, str) or not _EXTERNAL_ID.match(external_id):
            raise FieldError(prefix + "id", "must be 1-64 letters, digits or . _ : -")
    status, confirm = "", False
    if allow_external_id:
        status = raw.get("status")
        if status is None:
            status = ""
        elif not isinstance(status, str) or status not in STATUSES:
            raise FieldError(prefix + "status", "must be one of: %(choices)s", choices=", ".join(STATUSES))
        if status == "cancelled" and not external_id:
            raise FieldError(prefix + "status", "cancelled needs the showtime's id (the one it was pushed with)")
        confirm = raw.get("confirm_time_change", False)
        if not isinstance(confirm, bool):
            raise FieldError(prefix + "confirm_time_change", "must be true or false")
        if status == "cancelled":  # the id names the show; a cancellation changes nothing else of it
            return ShowtimeInput("", "", "", 0, 0, external_id=external_id, status=status)
    # One language is enough: a shopper in the other sees it marked (portal/apps/bilingual.py)
    film_zh = _title(raw.get("film_zh"), prefix + "film_zh", required=False)
    film_en = _title(raw.get("film_en"), prefix + "film_en", required=not film_zh)
    return ShowtimeInput(
        film_en=film_en,
        film_zh=film_zh,
        auditorium=_auditorium(raw.get("auditorium"), prefix + "auditorium"),
        starts_at=_starts_at(raw.get("starts_at"), prefix + "starts_at", now),
        price_cents=_price_cents(raw.get("price"), prefix + "price"),
        external_id=external_id,
        status=status,
        confirm_time_change=confirm,
    )


def parse_showtime_batch(items, now: float | None = None) -> list[ShowtimeInput]:
    """The `showtimes` list of an API push: 1..MAX_BATCH items, external ids unique."""
    if not isinstance(items, list) or not items:
        raise FieldError("showtimes", "must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise FieldError("showtimes", "at most %(n)s showtimes per request", n=MAX_BATCH)
    parsed = [parse_showtime(item, now, prefix=f"showtimes[{i}].", allow_external_id=True)
              for i, item in enumerate(items)]
    seen: set[str] = set()
    for i, item in enumerate(parsed):
        if item.external_id:
            if item.external_id in seen:
                raise FieldError(f"showtimes[{i}].id", "appears twice in this request")
            seen.add(item.external_id)
    return parsed
