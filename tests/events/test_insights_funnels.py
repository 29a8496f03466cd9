"""Funnels and new vs repeat where the shopper was: a landing on a group's page (a food hall, for a phone in
one of its stalls) counts in the group's funnel over the phones in any of its member zones; a stay across
midnight puts its phone in the zone on both days, so a landing and a purchase after midnight count; and a
zone owner's repeat shoppers are those who bought in that zone before, not in another tenant's."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from portal.events.insights import Funnel, compute, figure, prepare
from portal.events.log import Event

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def stall_visits(start: float) -> list[Event]:
    """Five phones at food-court stalls (jade, pixel: the food court's group), each landed on the food court's
    page (its position could not tell the stalls apart) and claimed a coupon there."""
    out = []
    for i in range(5):
        phone, shopper, stall, t = f"g{i}", f"s{i}", ("jade", "pixel")[i % 2], start + i
        out += [Event("arrive", t, "demo", phone), Event("zone_enter", t, "demo", phone, zone=stall),
                Event("landing", t + 30, "demo", phone, shopper, zone="foodcourt", data={"app": "coupons"}),
                Event("txn", t + 60, "demo", None, shopper, zone="foodcourt",
                      data={"app": "coupons", "action": "coupon_claim"}),
                Event("zone_leave", t + 600, "demo", phone, zone=stall, data={"dwell_s": 600.0}),
                Event("leave", t + 600, "demo", phone, data={"dwell_s": 600.0})]
    return out


def test_a_group_pages_landings_count_over_its_members_phones():
    groups = {"jade": "foodcourt", "pixel": "foodcourt"}
    for zones in (None, ["foodcourt"]):
        got = compute(stall_visits(at(2, 12)), "demo", at(2, 0), at(3, 0), zones=zones, groups=groups)
        assert Funnel("foodcourt", 5, 5, 5, 0) in got.funnels, (zones, got.funnels)
    jade = compute(stall_visits(at(2, 12)), "demo", at(2, 0), at(3, 0), zones=["jade"], groups=groups)
    assert jade.funnels == [Funnel("jade", 3, 0, 0, 0)]  # a stall's own page: not landed on


def test_the_report_groups_zones_as_the_map_does(app, svc, demo):
    from portal.events import report

    for e in stall_visits(at(2, 12)):
        if e.shopper:
            svc.consent.record("demo", e.shopper, location=True, marketing=False)
        svc.events.emit("demo", e.kind, at=e.at, device=e.device, shopper=e.shopper, zone=e.zone, **e.data)
    venue_map = svc.venues.get_map("demo")
    for zone in venue_map.zones:  # the operator's groups: the stalls stand for the food court
        zone.group = "foodcourt" if zone.id in ("jade", "pixel") else zone.group
    with app.test_request_context("/console/ops/demo/insights"):
        got = report.day_insights(svc, venue_map, date(2026, 11, 2), now=at(4, 0))
    assert Funnel("foodcourt", 5, 5, 5, 0) in got.funnels, got.funnels


def test_a_stay_across_midnight_counts_on_both_days():
    """Five phones in kopi 23:50 .. 00:20: landed and bought at 00:05 of the next day."""
    events = []
    for i in range(5):
        phone, shopper, t = f"m{i}", f"ms{i}", at(2, 23, 50) + i
        events += [Event("arrive", t, "demo", phone), Event("zone_enter", t, "demo", phone, zone="kopi"),
                   Event("landing", t + 900, "demo", phone, shopper, zone="kopi"),
                   Event("txn", t + 920, "demo", phone, shopper, zone="kopi", data={"action": "coupon_claim"}),
                   Event("zone_leave", t + 1800, "demo", phone, zone="kopi", data={"dwell_s": 1800.0}),
                   Event("leave", t + 1800, "demo", phone, data={"dwell_s": 1800.0})]
    history = prepare(events)
    monday, tuesday = (figure(history, "demo", at(d, 0), at(d + 1, 0), zones=zones)
                       for d, zones in ((2, None), (3, ["kopi"])))
    assert monday.funnels == [Funnel("kopi", 5, 0, 0, 0)]
    assert tuesday.funnels == [Funnel("kopi", 5, 5, 5, 0)]
    before_the_leave = prepare([e for e in events if e.kind not in ("zone_leave", "leave")])
    assert figure(before_the_leave, "demo", at(3, 0), at(4, 0)).funnels == [Funnel("kopi", 5, 5, 5, 0)]


def test_an_owners_repeat_shoppers_bought_in_that_zone_before(client, console, svc, demo):
    """Five shoppers bought at books on Sunday, and for the first time at kopi on Monday."""
    for i in range(5):
        svc.consent.record("demo", f"s{i}", location=True, marketing=False)
        svc.events.emit("demo", "txn", at=at(1, 15) + i, device=f"q{i}", shopper=f"s{i}", zone="books",
                        app="coupons", action="coupon_claim")
        svc.events.emit("demo", "txn", at=at(2, 12) + i, device=f"q{i}", shopper=f"s{i}", zone="kopi",
                        app="coupons", action="coupon_claim")

    def new_and_repeat(url: str) -> tuple[str, str]:
        page = client.get(url).get_data(as_text=True)
        return tuple(re.search(rf'id="{i}">([^<]*)<', page).group(1) for i in ("new", "repeat"))

    console.login("kopi")
    assert new_and_repeat("/console/owner/demo/insights?day=2026-11-02") == ("5", "0")
    console.login("ops")  # the venue's: they bought in it before
    assert new_and_repeat("/console/ops/demo/insights?day=2026-11-02") == ("0", "5")


def test_a_stay_ending_at_midnight_belongs_to_the_day_before_only():
    """[since, until) windows: a stay that ends exactly at `since` is the previous window's; one that starts
    there is this one's (the first cut counted the former on both days)."""
    history = prepare([Event("zone_enter", 100.0, "v", "x", zone="a"),
                       Event("zone_leave", 200.0, "v", "x", zone="a", data={"dwell_s": 100.0}),
                       Event("zone_enter", 200.0, "v", "y", zone="a")])
    assert [s.device for s in history.stays_during(100.0, 200.0)] == ["x"]
    assert [s.device for s in history.stays_during(200.0, 300.0)] == ["y"]


def test_a_group_zones_owner_sees_its_members_phones_in_the_headline_too():
    """The food hall's owner: the phones at its stalls are its visitors, their dwell its dwell, their entries its
    heatmap, as its funnel counts them (they were 0 beside "in zone 5")."""
    groups = {"jade": "foodcourt", "pixel": "foodcourt"}
    hall = compute(stall_visits(at(2, 12)), "demo", at(2, 0), at(3, 0), zones=["foodcourt"], groups=groups)
    assert hall.visitors == 5 and hall.passers_by == 0 and len(hall.dwell_s) == 5
    assert sum(map(sum, hall.heatmap)) == 5 and Funnel("foodcourt", 5, 5, 5, 0) in hall.funnels
    stall = compute(stall_visits(at(2, 12)), "demo", at(2, 0), at(3, 0), zones=["jade"], groups=groups)
    assert stall.visitors == 3  # a stall's owner: its own phones only


def test_refunds_and_member_sign_ins_are_no_transactions():
    """A refund of an earlier day's purchase, or a member signing in, made its shopper "a repeat shopper who bought"
    and counted in the funnel's transacted column (so would a sign-up given back)."""
    events = []
    for i in range(5):
        phone, shopper = f"r{i}", f"rs{i}"
        events += [Event("txn", at(2, 12) + i, "demo", phone, shopper, zone="kopi", data={"action": "coupon_claim"})]
        t = at(4, 12) + i
        events += [Event("arrive", t, "demo", phone), Event("zone_enter", t, "demo", phone, zone="kopi"),
                   Event("landing", t + 30, "demo", phone, shopper, zone="kopi"),
                   Event("txn", t + 60, "demo", phone, shopper, zone="kopi", data={"action": "refund"}),
                   Event("txn", t + 90, "demo", phone, shopper, zone="kopi", data={"action": "member_login"}),
                   Event("txn", t + 95, "demo", phone, shopper, zone="kopi", data={"action": "activity_leave"}),
                   Event("zone_leave", t + 600, "demo", phone, zone="kopi", data={"dwell_s": 600.0}),
                   Event("leave", t + 600, "demo", phone, data={"dwell_s": 600.0})]
    day4 = compute(events, "demo", at(4, 0), at(5, 0), zones=["kopi"])
    assert (day4.new, day4.repeat) == (0, 0)
    assert day4.funnels == [Funnel("kopi", 5, 5, 0, 0)]
    day2 = compute(events, "demo", at(2, 0), at(3, 0), zones=["kopi"])
    assert day2.new == 5  # the purchase itself counts


def test_a_rate_is_never_rounded_to_0_or_100_percent():
    from portal.events.report import rate

    assert (rate(1, 3000), rate(995, 1000), rate(1, 3), rate(0, 7), rate(7, 7)) == \
        ("<0.1%", "99.5%", "33.3%", "0.0%", "100.0%")
    assert (rate(9999, 10000), rate(None, 5), rate(3, 0)) == (">99.9%", "—", "—")
