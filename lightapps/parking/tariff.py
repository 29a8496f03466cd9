"""The car park owner's tariff and the fee it gives (pure: no Flask, no store).

The rule, as Chinese car parks post it (收费标准): the first `free_minutes` of a stay are free (a stay no
longer than that costs nothing); a longer stay pays `hourly_fen` for every hour it has started, counted
from the entry; the hours that start on one calendar day of the venue's time zone cost at most
`daily_cap_fen` together (0 = no cap). Discounts:

  * spend in the mall: every `spend_fen_per_hour` fen the shopper paid in the mall from the start of the
    day the car came in (fees.spent_during: that day's spend, and a stay across midnight keeps it) gives
    one free hour, at most `max_free_hours` (the stay is charged as if the car had come that much later);
  * a parking coupon (a shop's coupon with a parking value): its value off what is left, used whole;
  * member points: `points_per_yuan` points take one yuan off what is left (0 = points are not taken).

After paying on foot the car has `grace_minutes` to leave; a car that leaves later owes the difference.
Money is integer fen throughout."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

HOUR_MS = 3600 * 1000
MINUTE_MS = 60 * 1000
MAX_BILLED_HOURS = 24 * 90  # a stay longer than 90 days is charged as 90 days (a guard, not a rule)


@dataclass(frozen=True)
class Tariff:
    free_minutes: int = 15
    hourly_fen: int = 500
    daily_cap_fen: int = 4000  # 0 = no daily cap
    grace_minutes: int = 15
    points_per_yuan: int = 0  # 0 = points are not taken
    spend_fen_per_hour: int = 0  # 0 = no free hours for spending in the mall
    max_free_hours: int = 0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Tariff:
        """From the zone's parking config (validated by the console's ConfigFields)."""
        defaults = cls()
        return cls(**{name: int(config.get(name, getattr(defaults, name)) or 0)
                      for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Quote:
    """What a stay costs now, and why (all fen)."""

    gross: int  # the tariff alone
    spend_hours: int  # free hours earned by spending in the mall (since the day the car came in began)
    spend_discount: int
    paid_before: int  # paid earlier in this stay (on foot, points included)
    points: int  # points to redeem now
    points_discount: int
    due: int  # what is left to pay with money
    coupon_discount: int = 0  # a parking coupon's value, at most what was left

    @property
    def before_points(self) -> int:
        return max(0, self.gross - self.spend_discount - self.paid_before)


def parking_fee(entry_ms: int, until_ms: int, tz: ZoneInfo, tariff: Tariff) -> int:
    """The tariff's fee for a stay from `entry_ms` to `until_ms` (epoch ms), in fen."""
    stay_ms = until_ms - entry_ms
    if stay_ms <= tariff.free_minutes * MINUTE_MS or tariff.hourly_fen <= 0:
        return 0
    hours = min(math.ceil(stay_ms / HOUR_MS), MAX_BILLED_HOURS)
    per_day: Counter = Counter()
    for hour in range(hours):  # each started hour belongs to the venue's day it starts in
        starts = datetime.fromtimestamp((entry_ms + hour * HOUR_MS) / 1000, tz).date()
        per_day[starts] += tariff.hourly_fen
    cap = tariff.daily_cap_fen
    return sum(min(fen, cap) if cap > 0 else fen for fen in per_day.values())


def free_hours_for_spend(spent_fen: int, tariff: Tariff) -> int:
    if tariff.spend_fen_per_hour <= 0 or spent_fen <= 0:
        return 0
    return min(spent_fen // tariff.spend_fen_per_hour, tariff.max_free_hours)


def points_value(points: int, tariff: Tariff) -> int:
    """Fen that `points` take off (whole yuan only: 100 points at 100 per yuan = 100 fen)."""
    if tariff.points_per_yuan <= 0 or points <= 0:
        return 0
    return points // tariff.points_per_yuan * 100


def quote(entry_ms: int, until_ms: int, tz: ZoneInfo, tariff: Tariff, *, spent_fen: int = 0,
          paid_before: int = 0, points_wanted: int = 0, points_held: int = 0, coupon_fen: int = 0) -> Quote:
    """The fee of a stay with its discounts: spend first, then what was paid before, then a coupon, then
    points (never more points than the shopper holds, than needed, and only whole yuan's worth)."""
    gross = parking_fee(entry_ms, until_ms, tz, tariff)
    hours = free_hours_for_spend(spent_fen, tariff)
    later = min(entry_ms + hours * HOUR_MS, until_ms)
    spend_discount = gross - parking_fee(later, until_ms, tz, tariff)
    left = max(0, gross - spend_discount - paid_before)
    coupon = min(max(0, coupon_fen), left)
    left -= coupon
    points = 0
    if tariff.points_per_yuan > 0:
        usable = min(max(0, points_wanted), max(0, points_held))
        needed_yuan = left // 100  # points never pay part of a yuan, nor more than is left
        points = min(usable // tariff.points_per_yuan, needed_yuan) * tariff.points_per_yuan
    discount = points_value(points, tariff)
    return Quote(gross, hours, spend_discount, paid_before, points, discount, left - discount, coupon)
