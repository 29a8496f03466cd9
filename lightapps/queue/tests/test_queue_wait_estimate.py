"""The wait shown to shoppers after bursts of seatings (estimate.py): a host seating the day's first parties at
once, or walk-ins at free tables after a quiet spell, fills tables; it says nothing of how fast they turn. Only
seatings made when the class was full count, and without the class's table count they may only lengthen the
owner's turn time. All times are given (the store's `now`, the pages' queue_clock): nothing here depends on
how fast the machine is."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from lightapps.queue import APP, estimate
from lightapps.queue.store import QueueStore

BASE = "/v/demo/queue/jade"

T = 15.0  # the demo's Jade Tea House: minutes between two tables of a class coming free
OPEN = 1_000_000.0  # an opening time, epoch seconds (the estimator takes any clock)


def line_then_rush(seated: int, every_s: float = 20.0, waiting_since: float = OPEN - 600) -> list:
    """Parties that took their numbers before opening, the first `seated` of them seated from opening on,
    one every `every_s` seconds (tables all empty: the host walks them in)."""
    return [(OPEN + every_s * i, waiting_since + i) for i in range(seated)]


def then_turns(seatings: list, gap_min: float, n: int) -> list:
    """`n` more seatings, one every `gap_min` minutes, each of a party that was waiting all along."""
    last = seatings[-1][0]
    return seatings + [(last + 60 * gap_min * (i + 1), OPEN - 300) for i in range(n)]


def shown(seatings: list, ahead: int, tables: int | None) -> estimate.WaitRange:
    return estimate.estimate(ahead, estimate.turns(seatings, tables), T, tables)


def test_an_opening_rush_does_not_make_the_wait_short():
    """The auditor's case: 10 parties seated in 3 minutes at opening, 30 waiting. Their gaps are fills: with
    the class's table count (10 two-tops) or without it, the next party is shown the owner's pace."""
    owners_pace = estimate.estimate(30, [], T)
    rush = line_then_rush(10)
    assert estimate.turns(rush, 10) == []  # every gap filled a table that stood free
    assert shown(rush, 30, 10) == owners_pace
    assert shown(rush, 30, None) == owners_pace  # seen as turns, but these may only lengthen it
    assert owners_pace == estimate.WaitRange(337, 640)  # 30 x 11.25 .. 31 x 18.75 x 1.1, not "10-12 min"


def test_with_table_counts_the_turns_after_the_fill_set_a_faster_pace():
    """A restaurant faster than its owner says does not look slow for ever: past the fill (its 4 tables), a
    table comes free every 5 minutes while parties wait, and the range follows."""
    seatings = then_turns(line_then_rush(4), 5.0, 10)
    samples = estimate.turns(seatings, 4)
    assert samples == pytest.approx([5.0] * 10)  # the fill's 3 gaps are not among them
    assert shown(seatings, 3, 4) == estimate.WaitRange(15, 22)  # 3 x 5 .. 4 x 5 x 1.1
    assert shown(seatings, 3, 4).high < estimate.estimate(3, [], T).low
    # The first turn is the gap after the 4th seating: the class was full then, a table had to come free.
    assert estimate.turns(then_turns(line_then_rush(4), 5.0, 1), 4) == pytest.approx([5.0])


def test_without_table_counts_seatings_only_lengthen_the_owners_pace():
    """The same fast seatings, but the owner gave no table count: a fill cannot be told from a turn, so the
    range stays the owner's (never shorter); a slow restaurant still shows as slow."""
    fast = then_turns(line_then_rush(4), 5.0, 10)
    assert shown(fast, 3, None) == estimate.estimate(3, [], T)
    slow = then_turns(line_then_rush(4), 40.0, 10)
    for tables in (None, 4):
        assert estimate.per_party(estimate.turns(slow, tables), T, tables) == pytest.approx((40.0, 40.0))
        assert shown(slow, 3, tables) == estimate.WaitRange(120, 176)  # 3 x 40 .. 4 x 40 x 1.1


def test_walk_ins_seated_together_after_a_quiet_spell_are_fills():
    """Tables turn every 15 minutes with a line; then the line empties (the next party came after the last
    seating): tables stand free, and three walk-ins seated within a minute fill them. Their gaps are not turns
    until the class has been full again (4 tables), and a long quiet gap is no turn either."""
    busy = then_turns(line_then_rush(4), 15.0, 5)
    quiet_from = busy[-1][0]
    walk_ins = [(quiet_from + 3600 + 20 * i, quiet_from + 3590 + i) for i in range(3)]  # came after the last
    samples = estimate.turns(busy + walk_ins, 4)
    assert samples == pytest.approx([15.0] * 5)
    assert shown(busy + walk_ins, 5, 4) == estimate.estimate(5, [15.0] * 5, T, 4)


def test_seatings_with_no_number_time_are_not_turns():
    """An entry written before the seats list kept when the party took its number: nothing says it waited."""
    legacy = [(OPEN + 60 * i, None) for i in range(12)]
    assert estimate.turns(legacy, None) == [] and estimate.turns(legacy, 1) == []


def test_the_range_is_monotone_and_starts_from_the_owners_figure():
    assert estimate.estimate(0, [], 10) == estimate.WaitRange(0, 14)  # 0 .. 1 x 12.5 x 1.1
    assert estimate.estimate(2, [], 10) == estimate.WaitRange(15, 42)
    for tables in (None, 2):
        samples = estimate.turns(then_turns(line_then_rush(2), 4.0, 6), tables)
        ranges = [estimate.estimate(k, samples, 10, tables) for k in range(20)]
        assert all(a.low <= b.low and a.high <= b.high for a, b in zip(ranges, ranges[1:], strict=False))
    few = estimate.per_party([40.0], 10, 2)  # one turn: blended with the owner's figure, not taken as the pace
    assert 7.5 < few[0] < 40 and 12.5 < few[1] < 40


# ---- through the shopper page ------------------------------------------------------------------------------


@contextlib.contextmanager
def queue_clock(at: float):
    """The queue's clock (its store and pages) at `at`; tokens, budgets and sessions keep the real time."""
    fake = SimpleNamespace(time=lambda: at)
    with mock.patch("lightapps.queue.store.time", fake), mock.patch("lightapps.queue.views.time", fake):
        yield


def venue_time(day_offset: int, hhmm: str) -> float:
    """`hhmm` on the venue's (Asia/Shanghai) day `day_offset` days from today, as epoch seconds."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=day_offset)
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def new_shopper(client) -> str:
    client.delete_cookie("mp_c")
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie("mp_c")
    return re.search(r'name="c" value="([^"]+)"', page).group(1)


def take(client, token: str):
    return client.post(f"{BASE}/take", data={"party": "2", "c": token})


def _wait_on_page(client, token: str) -> tuple[int, int, int]:
    page = client.get(f"{BASE}?c={token}").get_data(as_text=True)
    ahead = int(re.search(r"(\d+) parties ahead of you", page).group(1))
    low, high = map(int, re.search(r'id="wait">Estimated wait: (\d+)-(\d+) min<', page).groups())
    return ahead, low, high


def _rush(db, opening: float, tables_free: int = 10) -> None:
    store = QueueStore(db)
    for i in range(40):
        assert store.take("demo", "jade", "A", 2, f"rush-{i}", now=opening - 600 + i).ok
    for i in range(tables_free):  # seated straight from the line, one every 20 s
        assert store.seat("demo", "jade", f"A{i + 1:03d}", "A", now=opening + 20 * i).ok


def test_the_page_after_an_opening_rush_shows_the_owners_pace(client, demo, db):
    """The auditor's reproduction on the demo's Jade Tea House (turn 15 min, A:1-2, no table counts): 40
    parties take numbers, the host seats the first 10 over 3 minutes, a new shopper takes a number. It was
    told "30 parties ahead", "Estimated wait: 10-12 min"."""
    opening = venue_time(1, "11:00")
    _rush(db, opening)
    with queue_clock(opening + 240):
        shopper = new_shopper(client)
        assert take(client, shopper).status_code == 303
        ahead, low, high = _wait_on_page(client, shopper)
    assert ahead == 30
    assert (low, high) == (337, 640)  # 30 x 11.25 .. 31 x 18.75 x 1.1: the owner's pace, nothing shorter


def test_the_page_follows_a_faster_pace_once_the_class_has_its_table_count(client, demo, db, svc):
    """The owner gives A's table count (10): the rush fills them (the owner's pace is shown), and then a table
    comes free every 5 minutes while parties wait: the page follows that pace."""
    config = svc.zone_apps.config_for("demo", "jade", "queue")
    svc.zone_apps.set("demo", "jade", "queue", {**config, **APP.validate_config(
        {**config, "table_classes": "A:1-2x10,B:3-4x4,C:5-12x2"})})
    opening = venue_time(1, "11:00")
    _rush(db, opening)
    with queue_clock(opening + 240):
        shopper = new_shopper(client)
        assert take(client, shopper).status_code == 303
        assert _wait_on_page(client, shopper) == (30, 337, 640)
    store = QueueStore(db)
    last = opening + 180
    for i in range(11, 21):  # A011..A020, one every 5 minutes
        assert store.seat("demo", "jade", f"A{i:03d}", "A", now=last + 300 * (i - 10)).ok
    with queue_clock(last + 300 * 10 + 30):
        assert _wait_on_page(client, shopper) == (20, 100, 116)  # 20 x 5 .. 21 x 5 x 1.1
