"""A simulated stretch of days in the demo mall (portal/events/sim.py) against the insights computed from
the event log: capture rate, dwell, new vs repeat, flows and funnels must match the simulation's ground
truth. Positions are the truth (the positioner is not run), so the tolerances are rounding only: dwell
times are logged to 0.1 s, everything else is an exact count."""

from __future__ import annotations

import pytest

from portal.events.insights import compute, k_safe, staff_devices
from portal.events.sim import past_days, simulate


@pytest.fixture
def simulated(app, svc, demo):
    with app.app_context():
        truths = simulate(svc, app.extensions["captive"].landing, "demo", past_days(2), seed=11, shoppers=120)
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


def test_cli_simulates_and_shows(app, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "simulate", "--days", "1", "--shoppers", "12", "--staff", "0"])
    assert result.exit_code == 0, result.output
    day = result.output.split(":")[0]
    shown = runner.invoke(args=["insights", "show", "--day", day])
    assert shown.exit_code == 0 and "visitors" in shown.output
    assert runner.invoke(args=["insights", "show", "--day", "nope"]).exit_code == 2
    assert runner.invoke(args=["insights", "simulate", "--venue", "nowhere"]).exit_code == 2
