"""Pure rules of the queue app (no Flask, no Redis): table classes, opening hours, reservation slots, prices.

Table classes are written by the owner as text, e.g. ``A:1-2,B:3-4,C:5-12`` (``C:5+`` means 5 up to
MAX_PARTY), each optionally with its number of tables: ``A:1-2x6`` (six tables for 1-2; the wait estimator
needs it to tell a table filled from one freed, estimate.py). A party takes a number in the class whose range
holds its size; the human number is the class label and a counter: ``A007``.

Opening hours ``HH:MM-HH:MM`` may run past midnight (``17:00-02:00``): the closing time is then on the next
day, in the venue's time zone."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import N_
from portal.payments.money import read_amount

MAX_PARTY = 30
MAX_CLASSES = 8
MAX_TABLES = 999  # tables of one class
MAX_PRICE_FEN = 10_000_000  # ¥100,000.00 a menu item
DAY_MINUTES = 24 * 60
DEFAULT_CLASSES = "A:1-2,B:3-4,C:5-12"
DEFAULT_HOURS = "11:00-21:00"

# label : sizes, then optionally "x<tables>" ("×" and "*" too, as owners type a multiplication)
_CLASS_RE = re.compile(r"^\s*([A-Za-z]{1,2})\s*:\s*(\d{1,2})\s*(?:-\s*(\d{1,2})|(\+))?\s*"
                       r"(?:[xX×*]\s*([0-9]{1,4})\s*)?$")
_TICKET_RE = re.compile(r"^([A-Z]{1,2})(\d{3,6})$")
# after `typed` (a Chinese keyboard's "１１：００－２１：００" is "11:00-21:00"): any dash, a tilde, 至 or 到 between
_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*(?:[-\u2010-\u2015\u2212~\u301c]+|至|到)\s*(\d{1,2}):(\d{2})$", re.ASCII)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")



class RuleError(ValueError):
    """A refusal shown to a shopper or an owner: `template % params` is the English text; the view shows
    `_(template, **params)` (the template is a msgid of the catalog, with %(name)s placeholders)."""

    def __init__(self, template: str, **params: object) -> None:
        self.template, self.params = template, params
        super().__init__(template % params if params else template)


@dataclass(frozen=True)
class TableClass:
    label: str
    low: int
    high: int
    tables: int | None = None  # how many tables the class has; None: the owner did not say

    @property
    def sizes(self) -> str:
        return f"{self.low}" if self.low == self.high else f"{self.low}-{self.high}"


def parse_table_classes(text: str) -> list[TableClass]:
    """``"A:1-2,B:3-4,C:5+"`` -> classes sorted by size; ValueError with a user-facing message."""
    if not text or not text.strip():
        raise RuleError(N_("Table classes are required, e.g. A:1-2,B:3-4,C:5-12"))
    classes: list[TableClass] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _CLASS_RE.match(part)
        if not match:
            raise RuleError(N_("Table class %(part)s must look like A:1-2 or C:5+"), part=repr(part.strip()))
        label, low, high, plus, tables = match.groups()
        low_n = int(low)
        high_n = MAX_PARTY if plus else int(high) if high else low_n
        if low_n < 1 or high_n > MAX_PARTY or low_n > high_n:
            raise RuleError(N_("Table class %(label)s: sizes must be within 1-%(n)s, low to high"), label=label.upper(),
                            n=MAX_PARTY)
        if tables is not None and not 1 <= int(tables) <= MAX_TABLES:
            raise RuleError(N_("Table class %(label)s: the number of tables must be from 1 to %(n)s"),
                            label=label.upper(), n=MAX_TABLES)
        classes.append(TableClass(label.upper(), low_n, high_n, int(tables) if tables is not None else None))
    if not classes:
        raise RuleError(N_("Table classes are required, e.g. A:1-2,B:3-4,C:5-12"))
    if len(classes) > MAX_CLASSES:
        raise RuleError(N_("At most %(n)s table classes"), n=MAX_CLASSES)
    labels = [c.label for c in classes]
    if len(set(labels)) != len(labels):
        raise RuleError(N_("Table class labels must be different"))
    classes.sort(key=lambda c: c.low)
    for before, after in zip(classes, classes[1:], strict=False):
        if after.low <= before.high:
            raise RuleError(N_("Table classes %(a)s and %(b)s overlap"), a=before.label, b=after.label)
    return classes


def format_table_classes(classes: list[TableClass]) -> str:
    return ",".join(f"{c.label}:{c.low}-{c.high}" + (f"x{c.tables}" if c.tables else "") for c in classes)


def classes_or_default(text: str | None) -> list[TableClass]:
    """The zone's classes; a stored config that no longer parses falls back to the default."""
    try:
        return parse_table_classes(text or DEFAULT_CLASSES)
    except ValueError:
        return parse_table_classes(DEFAULT_CLASSES)


def class_named(classes: list[TableClass], label: str) -> TableClass | None:
    return next((c for c in classes if c.label == label), None)


def class_for_party(classes: list[TableClass], party: int) -> TableClass | None:
    for table_class in classes:
        if table_class.low <= party <= table_class.high:
            return table_class
    return None


def typed(raw: object) -> str:
    """A form's text as owners and shoppers type it, a Chinese keyboard's full-width digits, colon, dash and
    spaces read as ASCII (Unicode NFKC), around spaces gone."""
    return unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()


def whole_number(raw: object, max_digits: int = 3) -> int | None:
    """A form's whole number (full-width digits from a Chinese keyboard are fine), else None."""
    text = typed(raw)
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        return None
    return int(text)


def parse_party(raw: object, classes: list[TableClass]) -> int:
    """Form value -> party size that some class seats; RuleError (user-facing) otherwise."""
    largest = max(c.high for c in classes)
    party = whole_number(raw)
    if party is None or party < 1 or party > largest:
        raise RuleError(N_("Party size must be a whole number from 1 to %(n)s."), n=largest)
    if class_for_party(classes, party) is None:
        raise RuleError(N_("No table seats a party of %(n)s."), n=party)
    return party


def ticket_class(ticket_id: str) -> str | None:
    """``"B017"`` -> ``"B"``; None if the id is not a ticket id."""
    match = _TICKET_RE.match(ticket_id or "")
    return match.group(1) if match else None


def parse_hours(text: str) -> tuple[int, int]:
    """``"11:00-21:00"`` -> (660, 1260) minutes after midnight (typed on a Chinese keyboard too:
    ``"11：00－21：00"``, ``"11:00 至 21:00"``); RuleError otherwise. A closing time not after
    the opening time is on the next day: ``"17:00-02:00"`` -> (1020, 120) (open past midnight); ``"00:00"``
    as closing time is that midnight (1440); ``"00:00-24:00"`` is open all day and night."""
    match = _HOURS_RE.match(typed(text))
    if not match:
        raise RuleError(N_("Opening hours must look like 11:00-21:00"))
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise RuleError(N_("Opening hours must look like 11:00-21:00"))
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == 0 and start:
        end = DAY_MINUTES  # "18:00-00:00": until midnight, written as it is read
    if end == start:  # "17:00-17:00": no hours, or all day? ("00:00-24:00" says all day)
        raise RuleError(N_("Opening and closing times must differ (00:00-24:00 is open day and night)"))
    return start, end


def open_hours(hours: str) -> tuple[int, int]:
    """A zone's stored opening hours as (opening, closing) minutes after midnight (closing before opening:
    on the next day); the default's if they no longer parse."""
    try:
        return parse_hours(hours)
    except ValueError:
        return parse_hours(DEFAULT_HOURS)


def is_open(hours: tuple[int, int], minute: int) -> bool:
    """Whether `minute` (after the venue's midnight) lies within the opening hours (opening included, closing
    not). Hours past midnight (``17:00-02:00``): 01:30 belongs to the evening that started the day before, and
    is open; the hours are the same every day, so that evening's hours are today's."""
    start, end = hours
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def service_began(hours: tuple[int, int], now: datetime) -> datetime | None:
    """Where the service that `now` (on the venue's clock) belongs to begins, for the wait estimator's seatings:
    with hours past midnight (``17:00-02:00``) the last closing time at or before `now`, so at 01:00 the evening
    that opened the day before counts and at 18:00 the night before does not; None for hours within one day
    (the service is the venue's calendar day: yesterday's seatings, a slow evening, say nothing of this
    morning)."""
    start, end = hours
    if start < end:
        return None
    closing = now.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    return closing if closing <= now else closing - timedelta(days=1)


def hhmm(minutes: int) -> str:
    """660 -> ``"11:00"``; 1440 (a closing midnight) -> ``"24:00"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def slots(hours: str, slot_minutes: int) -> list[str]:
    """Reservation slot start times ``"HH:MM"`` within the opening hours (a slot ends by closing), as the day's
    clock reads them: with hours past midnight the ones after it (a date's early hours, the tail of the evening
    before) come first, e.g. ``17:00-01:00`` by 60 -> 00:00, 17:00, ..., 23:00. A booking is for a date and a
    time on the venue's clock, so a table at 00:30 is booked on the date that 00:30 falls on."""
    start, end = open_hours(hours)
    if end <= start:
        end += DAY_MINUTES
    step = max(5, int(slot_minutes or 30))
    return sorted(hhmm(t % DAY_MINUTES) for t in range(start, end - step + 1, step))


def valid_date(text: str) -> bool:
    return bool(_DATE_RE.match(text or ""))


def parse_price(raw: object) -> int:
    """A menu price -> fen by the platform's amount rule (portal/payments/money.py, `read_amount`: ``"12.5"``,
    ``"¥12.50"``, ``"１，２９９"``; a decimal comma ``"28,5"`` is refused), at most ¥100000; AmountError naming
    "price" otherwise."""
    return read_amount(raw, high=MAX_PRICE_FEN, field="price")


def format_price(cents: int) -> str:
    """1250 -> "12.50": a price as the owner types it; pages show prices with cny() (portal/payments/money.py),
    the currency payment charges."""
    return f"{cents // 100}.{cents % 100:02d}"


GUEST_NAME_MAX = 40
GUEST_NOTE_MAX = 120


def parse_guest(form) -> dict[str, str]:
    """A booking's optional guest details: the name to ask for and a note for the restaurant (a high
    chair, an allergy), whitespace folded; ValueError naming the field that is too long."""
    out = {}
    for field, limit in (("name", GUEST_NAME_MAX), ("note", GUEST_NOTE_MAX)):
        value = " ".join(str(form.get(field) or "").split())
        if len(value) > limit:
            raise ValueError(field)
        out[field] = value
    return out
