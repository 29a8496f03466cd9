"""Wall-clock rules of a time zone, pure (no Flask, no store): the one owner of what a local day, a local hour and a
typed local time are, for the portal's venues (portal/apps/locale.py binds them to a venue's zone) and the tracker's
footfall alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime


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
