"""A simulated stretch of days in the demo mall (portal/events/sim.py) against the insights computed from
the event log: capture rate, dwell, new vs repeat, flows and funnels must match the simulation's ground
truth. Positions are the truth (the positioner is not run), so the tolerances are rounding only: dwell
times are logged to 0.1 s, everything else is an exact count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from portal.events.insights import compute, k_safe, staff_devices
from portal.events.moments import MomentsEngine, parse_rule, preview
from portal.events.sim import FIX_EVERY_S, past_days, simulate

ZONES = ["atrium", "books", "cinema", "foodcourt", "garage", "jade", "kopi", "lumen", "pixel"]


def rule(**form):
    form.setdefault("name", "r")
    form.setdefault("message_en", "Hello")
    return parse_rule(MultiDict(form), zones=ZONES, owner="ops", may_webhook=True)


RULES = {
    "enter": rule(trigger="zone_enter", zone="kopi", action="offer", cap_per_day="1", cooldown_h="12"),
    "dwell": rule(trigger="dwell", zone="foodcourt", dwell_min="10", action="offer", cap_per_day="2",
                  cooldown_h="0", hour_from="12", hour_to="20"),
    "dwell15": rule(trigger="dwell", zone="kopi", dwell_min="15", action="offer", cap_per_day="9", cooldown_h="0"),
    "budget": rule(trigger="arrive", action="offer", budget="7", cooldown_h="0", cap_per_day="0"),
    "lumen": rule(trigger="zone_enter", zone="lumen", action="offer", cap_per_day="5", cooldown_h="1"),
    "first": rule(trigger="first_visit", action="offer", cap_per_day="0", cooldown_h="0"),
    "return": rule(trigger="return", return_days="1", action="offer", cap_per_day="0", cooldown_h="0"),
}


@pytest.fixture(scope="module")
def world(settings, demo_map):
    """One simulated stretch for the whole module (the tests here only read it): the store flushed, the demo
    mall loaded, the moments rules saved (a dwell rule marks stays as they pass N minutes, so it exists
    before the shoppers come), two past days simulated. The function-scoped `db` fixture is not used here
    (it flushes)."""
    from core.storage import connect
    from portal import create_app
    from portal.seed import ensure_demo_mall

    connect(settings, timeout_s=10).flushdb()
    app = create_app(settings)
    svc = app.extensions["mallportal"]
    engine = MomentsEngine(svc.db, svc.events)
    for r in RULES.values():
        engine.save("demo", r)
    with app.app_context():
        ensure_demo_mall(svc, "demo", demo_map)
        truths = simulate(svc, app.extensions["captive"].landing, "demo", past_days(2), app=app, seed=11,
                          shoppers=120)
    return app, svc, truths


@pytest.fixture
def simulated(world):
    _app, svc, truths = world
    return truths, list(svc.events.read("demo"))


def test_insights_match_the_simulated_day(simulated):
    truths, events = simulated
    day = truths[-1]
    staff = staff_devices(events)
    assert staff == truths[0].staff | truths[1].staff and len(staff) == 3
    got = compute(events, "demo", day.since, day.until, staff=staff, top=1000)
    assert (got.visitors, got.passers_by) == (len(day.visitors), len(day.passers_by))
    assert got.capture_rate == pytest.approx(len(day.visitors) / (len(day.visitors) + len(day.passers_by)))
    assert sorted(got.dwell_s) == pytest.approx(sorted(day.dwell_s), abs=0.06)
    assert sum(map(sum, got.heatmap)) == day.arrivals
    assert (got.new, got.repeat) == (len(day.new) + len(day.one_off_buyers), len(day.repeat))
    assert day.repeat and day.new  # the seed gives both kinds
    funnels = {f.zone: f for f in got.funnels}
    for zone, seen in day.in_zone.items():
        f = funnels[zone]
        assert (f.in_zone, f.landed, f.transacted, f.referred) == (
            len(seen), len(day.landed[zone]), len(day.transacted[zone]), len(day.referred[zone])), zone
    assert {(a, b): n for a, b, n in got.transitions} == dict(day.moves)
    # Every conversion came from an app's real form (the simulation writes no transaction itself).
    actions = {(e.data["app"], e.data["action"]) for e in events if e.kind == "txn"}
    assert actions == {("coupons", "coupon_claim"), ("queue", "queue_ticket"), ("cinema", "seat_hold"),
                       ("cinema", "ticket"), ("activities", "activity_join"), ("activities", "referral"),
                       ("membership", "member_join")}

    # A tenant (Kopi Coffee) sees its zone only.
    got = compute(events, "demo", day.since, day.until, zones=["kopi"], staff=staff_devices(events))
    assert [f.zone for f in got.funnels] == ["kopi"]
    assert (got.visitors, got.passers_by) == (len(day.zone_visitors["kopi"]), len(day.zone_passers["kopi"]))
    assert sorted(got.dwell_s) == pytest.approx(sorted(day.zone_dwell_s["kopi"]), abs=0.06)
    assert all("kopi" in (a, b) for a, b, _ in got.transitions)


def test_staff_are_left_out_and_counted_when_not():
    from portal.events.log import Event

    leave = [Event("leave", 1_800_000_000.0 + d * 86400, "v", device="staff", data={"dwell_s": 8 * 3600})
             for d in range(3)]
    assert staff_devices(leave) == {"staff"}
    assert staff_devices(leave[:1] + [Event("arrive", 1_800_000_000.0 + d * 86400, "v", device="x")
                                      for d in (1, 2)]) == set()


def test_k_anonymity():
    assert [k_safe(n) for n in (0, 1, 4, 5, 12)] == [0, None, None, 5, 12]


# ---- moments over the same days ----


def dwell_reached(t, stay, mark):
    """When a stay that lasted `stay` s from t is seen to pass `mark` s: the first position in the zone at
    or after the mark (one every FIX_EVERY_S), or the one that ends the stay; None if it never does."""
    if stay < mark:
        return None
    seen = t + FIX_EVERY_S * -(-mark // FIX_EVERY_S)
    return seen if seen - t < int(stay) else t + stay


def expected_fires(stays, zone, cap, cooldown_s, dwell_s=None, hours=None):
    """Replay the simulation's stays through a rule's limits: the ground truth of how often it fires
    (`dwell_s`: a dwell rule, firing while the shopper is still in the zone, once per stay)."""
    fires, last, per_day = 0, {}, {}
    if dwell_s is None:
        moments = sorted((t, dev) for dev, z, t, s in stays if z == zone)
    else:
        moments = sorted((at, dev) for dev, z, t, s in stays
                         if z == zone and (at := dwell_reached(t, s, dwell_s)) is not None)
    for t, dev in moments:
        hour = datetime.fromtimestamp(t, UTC).hour
        if hours and not hours[0] <= hour < hours[1]:
            continue
        day = datetime.fromtimestamp(t, UTC).date()
        if per_day.get((dev, day), 0) >= cap or (dev in last and t - last[dev] < cooldown_s):
            continue
        fires += 1
        per_day[(dev, day)] = per_day.get((dev, day), 0) + 1
        last[dev] = t
    return fires


def test_rules_fire_as_the_simulation_says(world):
    _app, svc, truths = world
    stays = [s for t in truths for s in t.stays]
    engine = MomentsEngine(svc.db, svc.events)
    rules = RULES
    engine.ensure("demo", start="0")
    engine.drain("demo")
    fired = engine.fired("demo")
    assert fired.get(rules["enter"].id, 0) == expected_fires(stays, "kopi", 1, 12 * 3600) > 0
    assert fired.get(rules["dwell"].id, 0) == expected_fires(stays, "foodcourt", 2, 0, dwell_s=600,
                                                             hours=(12, 20)) > 0
    assert fired.get(rules["dwell15"].id, 0) == expected_fires(stays, "kopi", 9, 0, dwell_s=900) > 0
    # First visits: each durable identity's first visit with a transaction (a member, a kept token; an
    # anonymous buyer's token is new every visit), never a phone.
    assert fired[rules["first"].id] == sum(len(t.new) + len(t.one_off_buyers) for t in truths)
    # Returns: a regular's identifying transaction at least a day after the start of its previous such visit.
    returns = sum(1 for identity, (_arrival, at) in truths[1].identified.items()
                  if identity in truths[0].identified and at - truths[0].identified[identity][0] >= 86400)
    assert fired.get(rules["return"].id, 0) == returns > 0
    assert fired[rules["budget"].id] == 7
    assert fired.get(rules["lumen"].id, 0) == expected_fires(stays, "lumen", 5, 3600) > 0
    # The preview of a day says the same as the engine did for that day (the budget aside).
    day = truths[-1]
    events = list(svc.events.read("demo"))
    expected = expected_fires(day.stays, "kopi", 1, 12 * 3600)
    assert preview(rules["enter"], events, day.since, day.until).fires == expected
    # A dwell rule's preview (from the stays' lengths) counts the stays that reached N minutes.
    reached = sum(1 for _dev, z, _t, s in day.stays if z == "kopi" and s >= 900)
    assert preview(rules["dwell15"], events, day.since, day.until).fires == reached
    assert engine.run_once("demo") == 0  # every event was taken once
