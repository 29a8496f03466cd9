"""What a paid purchase and a food hall's stays count in the insights: a seat hold is no transaction (most are never
paid), a paid ticket counts once (the app's own `ticket` event, not the money event beside it, even once that one is
anonymised under a pseudonym of its own); a food hall's owner sees a phone moving between the hall's stalls and its
seating as one stay in the hall (its visitors, dwell and heatmap), also across midnight, and the shoppers who bought
at its stalls as its new and repeat shoppers, as its funnel counts them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from portal.events.insights import Funnel, compute
from portal.events.log import Event

TZ = ZoneInfo("Asia/Shanghai")
HALL = {"s1": "hall", "s2": "hall", "s3": "hall"}  # three stalls opening onto the food hall (positioning/groups.py)


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def cinema_evening(paid: int) -> list[Event]:
    """Six phones hold seats in the cinema; `paid` of them pay: what the live app writes (lightapps/cinema/payment.py:
    the ticket when paid, and the payment listener's money event in the order's zone)."""
    out = []
    for i in range(6):
        phone, shopper, t = f"c{i}", f"cs{i}", at(2, 19) + i
        out += [Event("arrive", t, "v", phone), Event("zone_enter", t, "v", phone, zone="cinema"),
                Event("landing", t + 10, "v", phone, shopper, zone="cinema", data={"app": "cinema"}),
                Event("txn", t + 20, "v", phone, shopper, zone="cinema",
                      data={"app": "cinema", "action": "seat_hold", "seats": 2})]
        if i < paid:
            out += [Event("txn", t + 60, "v", None, f"anon-{i}", "cinema",  # anonymised: a pseudonym of its own
                          {"app": "cinema", "action": "payment", "amount_fen": 9000}),
                    Event("txn", t + 60, "v", None, shopper, "cinema", {"app": "cinema", "action": "ticket"})]
        out += [Event("zone_leave", t + 900, "v", phone, zone="cinema", data={"dwell_s": 900.0}),
                Event("leave", t + 900, "v", phone, data={"dwell_s": 900.0})]
    return out


def test_a_seat_hold_is_no_transaction_and_a_paid_ticket_counts_once():
    for scope in (None, ["cinema"]):
        got = compute(cinema_evening(paid=1), "v", at(2, 0), at(3, 0), zones=scope)
        assert [f for f in got.funnels if f.zone == "cinema"] == [Funnel("cinema", 6, 6, 1, 0)], scope
        assert (got.new, got.repeat) == (1, 0), scope  # the ticket's shopper; not her payment's pseudonym too
    nobody_paid = compute(cinema_evening(paid=0), "v", at(2, 0), at(3, 0), zones=["cinema"])
    assert nobody_paid.funnels == [Funnel("cinema", 6, 6, 0, 0)] and nobody_paid.new == 0


def test_a_paid_ticket_refunded_later_still_counts_as_bought():
    """The decision (README "Insights and moments"): the funnel counts what shoppers bought when they paid; a refund
    (a cancelled ticket, a failed group buy's deposits) is money given back, not a purchase undone, as a sign-up
    given back is not: its money event cannot be paired with the purchase once anonymised (a pseudonym of its own)."""
    events = cinema_evening(paid=1)
    events.append(Event("txn", at(2, 21), "v", None, "cs0", "cinema",
                        {"app": "cinema", "action": "refund", "amount_fen": 9000}))
    got = compute(events, "v", at(2, 0), at(3, 0), zones=["cinema"])
    assert got.funnels == [Funnel("cinema", 6, 6, 1, 0)] and (got.new, got.repeat) == (1, 0)


def stall_hopping(start: float, phones: int = 6, stop_s: float = 180.0) -> list[Event]:
    """Each phone stops at the three stalls in turn, `stop_s` each, moving straight from one to the next (as the
    presence script writes a move: the zone_leave and the next zone_enter at one time), then sits in the hall."""
    out = []
    for i in range(phones):
        phone, t = f"p{i}", start + i
        out.append(Event("arrive", t, "v", phone))
        for j, zone in enumerate(("s1", "s2", "s3", "hall")):
            out += [Event("zone_enter", t + j * stop_s, "v", phone, zone=zone),
                    Event("zone_leave", t + (j + 1) * stop_s, "v", phone, zone=zone, data={"dwell_s": stop_s})]
        out.append(Event("leave", t + 4 * stop_s, "v", phone, data={"dwell_s": 4 * stop_s}))
    return out


def test_a_halls_owner_sees_a_walk_along_its_stalls_as_one_stay():
    """Six phones, 12 minutes each in the hall (three 3-minute stall stops, then the seating) showed 24 stays of 3
    minutes: no visitor, six passers-by."""
    hall = compute(stall_hopping(at(2, 12)), "v", at(2, 0), at(3, 0), zones=["hall"], groups=HALL)
    assert (hall.visitors, hall.passers_by, len(hall.dwell_s)) == (6, 0, 6)
    assert hall.mean_dwell_s == 720.0 and sum(map(sum, hall.heatmap)) == 6
    assert hall.phones["stays"] == 6 and hall.phones["visitors"] == 6
    stall = compute(stall_hopping(at(2, 12)), "v", at(2, 0), at(3, 0), zones=["s2"], groups=HALL)
    assert (stall.visitors, stall.passers_by, stall.mean_dwell_s) == (0, 6, 180.0)  # a stall's owner: its own stops


def test_a_stay_in_the_hall_across_midnight_is_one_stay():
    """23:55 .. 00:10 along the stalls: one stay of 15 minutes, counted on the day it ended; entered the day before."""
    events = stall_hopping(at(2, 23, 55), phones=5, stop_s=225.0)
    monday = compute(events, "v", at(2, 0), at(3, 0), zones=["hall"], groups=HALL)
    tuesday = compute(events, "v", at(3, 0), at(4, 0), zones=["hall"], groups=HALL)
    assert (monday.visitors, monday.passers_by, sum(map(sum, monday.heatmap))) == (0, 0, 5)
    assert (tuesday.visitors, len(tuesday.dwell_s), sum(map(sum, tuesday.heatmap))) == (5, 5, 0)
    assert tuesday.dwell_s == [900.0] * 5


def test_a_stay_away_from_the_hall_starts_a_new_one():
    """Stall, then the corridor (no zone) for two minutes, then the next stall: two stays in the hall."""
    events = []
    for i in range(5):
        phone, t = f"w{i}", at(2, 12) + i
        events += [Event("arrive", t, "v", phone), Event("zone_enter", t, "v", phone, zone="s1"),
                   Event("zone_leave", t + 240, "v", phone, zone="s1", data={"dwell_s": 240.0}),
                   Event("zone_enter", t + 360, "v", phone, zone="s2"),
                   Event("zone_leave", t + 600, "v", phone, zone="s2", data={"dwell_s": 240.0}),
                   Event("leave", t + 600, "v", phone, data={"dwell_s": 600.0})]
    hall = compute(events, "v", at(2, 0), at(3, 0), zones=["hall"], groups=HALL)
    assert (hall.visitors, hall.passers_by, hall.dwell_s) == (0, 5, [240.0] * 10)


def test_a_stay_with_no_exit_is_back_to_back_with_nothing():
    """A phone whose exit from stall s1 was never written, back three hours later at stall s2 for 10 minutes: its
    stay at s2 is a stay of its own in the hall, not the end of one from noon."""
    events = []
    for i in range(5):
        phone, t = f"x{i}", at(2, 12) + i
        events += [Event("arrive", t, "v", phone), Event("zone_enter", t, "v", phone, zone="s1"),
                   Event("arrive", t + 3 * 3600, "v", phone), Event("zone_enter", t + 3 * 3600, "v", phone, zone="s2"),
                   Event("zone_leave", t + 3 * 3600 + 600, "v", phone, zone="s2", data={"dwell_s": 600.0}),
                   Event("leave", t + 3 * 3600 + 600, "v", phone, data={"dwell_s": 600.0})]
    hall = compute(events, "v", at(2, 0), at(3, 0), zones=["hall"], groups=HALL)
    assert (hall.visitors, hall.dwell_s, sum(map(sum, hall.heatmap))) == (5, [600.0] * 5, 10)


def test_a_halls_new_and_repeat_shoppers_bought_at_its_stalls():
    """Five shoppers landed on the hall's page and took a queue number at stall s1: the hall's funnel counted them as
    transacted while its new vs repeat said 0 / 0; on a later day, they are its repeat shoppers."""
    events = []
    for day in (2, 3):
        for i in range(5):
            phone, shopper, t = f"q{i}", f"sh{i}", at(day, 12) + i
            events += [Event("arrive", t, "v", phone), Event("zone_enter", t, "v", phone, zone="s1"),
                       Event("landing", t + 30, "v", phone, shopper, zone="hall", data={"app": "queue"}),
                       Event("txn", t + 60, "v", phone, shopper, zone="s1",
                             data={"app": "queue", "action": "queue_ticket"}),
                       Event("zone_leave", t + 600, "v", phone, zone="s1", data={"dwell_s": 600.0}),
                       Event("leave", t + 600, "v", phone, data={"dwell_s": 600.0})]
    monday = compute(events, "v", at(2, 0), at(3, 0), zones=["hall"], groups=HALL)
    assert monday.funnels == [Funnel("hall", 5, 5, 5, 0)] and (monday.new, monday.repeat) == (5, 0)
    tuesday = compute(events, "v", at(3, 0), at(4, 0), zones=["hall"], groups=HALL)
    assert (tuesday.new, tuesday.repeat) == (0, 5)
    other = compute(events, "v", at(2, 0), at(3, 0), zones=["kopi"], groups=HALL)
    assert (other.new, other.repeat) == (0, 0)  # another tenant's scope: not its shoppers
