"""A prize's collection deadline is the venue's midnight after the day the page prints ("Collect by <day>",
REDEEM_DAYS after the game's last day), also across a daylight-saving change in between (30 x 24 h would land
an hour off it): the desk takes a prize late on the printed day and refuses it from the next midnight. A game
published by the old rule is read to the end of the day its page printed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from lightapps.games.rules import REDEEM_DAYS, parse_game
from lightapps.games.store import GameKeys, GameStore

ONE_PRIZE = {"title_en": "Draw", "style": "draw", "per_shopper": "10", "per_day": "10", "total": "100",
             "p1_kind": "coupon", "p1_title_en": "Tea", "p1_value": "", "p1_odds": "100", "p1_stock": "100"}


def local(day: date, hour: int, minute: int, tz: ZoneInfo) -> float:
    return datetime.combine(day, time(hour, minute), tz).timestamp()


def won_prize(store: GameStore, tz: ZoneInfo, last_day: date):
    """A game ending `last_day` (published, and a prize won, at noon on its first day) and the prize's code."""
    first_day = last_day - timedelta(days=5)
    now = local(first_day, 12, 0, tz)
    game = store.publish("v", "z", parse_game({**ONE_PRIZE, "last_day": last_day.isoformat()}, first_day),
                         now=now, tz=tz)
    result = store.draw("v", "z", game.id, "c1", first_day.isoformat(), now=now)
    assert result.status == "WON"
    return game, result.code


def printed(deadline: float, tz: ZoneInfo) -> date:
    """The day the prize page prints: `(game.redeem_until - 1)|spoken_day`."""
    return datetime.fromtimestamp(deadline - 1, tz).date()


@pytest.mark.parametrize("zone,last_day", [
    ("Europe/Madrid", date(2027, 3, 10)),         # the clocks go forward before the deadline (2027-03-28)
    ("Europe/Madrid", date(2027, 10, 20)),        # ... back (2027-10-31)
    ("America/Los_Angeles", date(2027, 2, 20)),   # forward (2027-03-14)
    ("Asia/Shanghai", date(2027, 3, 10)),         # no daylight saving
])
def test_the_desk_takes_a_prize_to_the_end_of_the_printed_day(db, zone, last_day):
    tz = ZoneInfo(zone)
    store = GameStore(db, randbelow=lambda n: 0)
    game, code = won_prize(store, tz, last_day)
    day = last_day + timedelta(days=REDEEM_DAYS)
    assert printed(game.redeem_until, tz) == day
    assert game.redeem_until == local(day + timedelta(days=1), 0, 0, tz)
    assert store.redeem("v", "z", code, by="desk", now=local(day, 23, 30, tz)).status == "OK"


def test_the_desk_refuses_a_prize_from_the_midnight_after_the_printed_day(db):
    tz = ZoneInfo("Europe/Madrid")
    store = GameStore(db, randbelow=lambda n: 0)
    game, code = won_prize(store, tz, date(2027, 3, 10))
    assert store.redeem("v", "z", code, by="desk", now=game.redeem_until).status == "EXPIRED"


@pytest.mark.parametrize("last_day,shown", [(date(2027, 3, 10), date(2027, 4, 10)),     # 01:00 on the 10th
                                            (date(2027, 10, 20), date(2027, 11, 19))])  # 23:00 on the 19th
def test_a_game_published_by_the_old_rule_lasts_to_the_end_of_the_day_it_printed(db, last_day, shown):
    tz = ZoneInfo("Europe/Madrid")
    old, code = won_prize(GameStore(db, randbelow=lambda n: 0), tz, last_day)
    old_deadline = old.ends_at + REDEEM_DAYS * 86400  # what games published before the fix keep
    db.hset(GameKeys("v").game(old.id), "redeem_until", repr(old_deadline))
    assert printed(old_deadline, tz) == shown

    store = GameStore(db, time_zone_of=lambda venue: tz)  # as the platform builds it
    assert store.get("v", old.id).redeem_until == local(shown + timedelta(days=1), 0, 0, tz)
    late_on_the_printed_day = local(shown, 23, 30, tz)
    assert store.redeem("v", "z", code, by="desk", now=late_on_the_printed_day).status == "OK"
