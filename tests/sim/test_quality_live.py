"""The quality report's live landing estimate (made-up phones from held-out survey blocks through the live
path: tracker step, motion filter, cold start, kept positions, the probe's landing rule) and the validation walk."""

import numpy as np
import pytest

from fingerprints.quality import (
    CHECKED,
    CHECKED_ASSUMED_PHONES,
    PHONES_COUNTED_NARROW,
    PHONES_UNKNOWN,
    LiveAssumptions,
    _whole_points,
    configuration_note,
    own_configuration,
    rate_half_width,
    read_walk_csv,
)
from fingerprints.training import live_defaults
from portal.tracking import estimate as estimate_module
from portal.tracking.estimate import live_estimate, survey_noise_db, validation_walk


@pytest.fixture(scope="module")
def linear(small_malls):
    return small_malls["linear"]


@pytest.fixture(scope="module")
def default_estimate(linear):
    return live_estimate(linear.venue, max_points=12, seed=1)


def test_a_whole_floor_held_out_cannot_be_found(linear):
    """Every reference point of a spot's floor hidden from the model: a settled phone is never placed on its
    floor nor lands on its zone."""
    est = live_estimate(linear.venue, LiveAssumptions(hidden_m=10_000.0), max_points=4)
    assert est.floor_rate == 0.0 and est.settled_zone_rate == 0.0
    assert "reference points within 10000 m of the spot hidden" in "\n".join(est.summary_lines())


def test_it_runs_the_live_step(linear, monkeypatch):
    """The estimate is what the live path makes of the phones: a step that never places a phone lands none."""
    calls = []

    def never(*args, **kwargs):
        calls.append(args)
        return None

    monkeypatch.setattr(estimate_module, "position_of", never)
    est = live_estimate(linear.venue, max_points=3)
    assert calls and est.first_zone_rate == est.early_zone_rate == est.settled_zone_rate == 0.0


def test_each_visit_meets_its_own_draw_of_the_feed(linear, monkeypatch):
    """Which APs report once a minute is not known: each visit draws the schedule anew (one draw for every visit
    would make the estimate hang on where that draw put the once-a-minute APs)."""
    seeds = []
    real = estimate_module.report_schedule

    def spy(venue, seed, share):
        seeds.append(seed)
        return real(venue, seed, share)

    monkeypatch.setattr(estimate_module, "report_schedule", spy)
    live_estimate(linear.venue, max_points=6)
    assert len(seeds) == 6 and len(set(seeds)) == 6


def test_the_estimate_is_seeded_and_says_what_it_cannot_know(linear, default_estimate):
    est = default_estimate
    again = live_estimate(linear.venue, max_points=12, seed=1)
    assert est.headline() == again.headline()  # seeded
    assert est.n_points == 12 and set(est.headline()) >= {"zone_first", "zone_early", "zone_settled", "floor_first"}
    assert 0 <= est.first_zone_rate <= 1 and 0 <= est.settled_zone_rate <= 1
    assert est.reading_noise_db == pytest.approx(survey_noise_db(linear.venue))
    assert 1.0 < est.reading_noise_db < 5.0  # the simulator's fast fading is 3 dB
    lines = "\n".join(est.summary_lines())
    assert "cannot know" in lines and "first probe" in lines and "N(0, 4 dB)" in lines and "checked against" in lines
    assert "no reference point hidden" in lines and "within 0 m" not in lines  # the default hides none
    assert PHONES_UNKNOWN in est.cannot_know and PHONES_COUNTED_NARROW not in est.cannot_know  # assumed phones
    assert not {"corridor", "garage", "lobby"} & set(est.by_kind)  # dwell zones only, as shoppers pick them


def test_the_check_states_its_sampling_error():
    """CHECKED's ± comes from the check's sample sizes (a 95% binomial interval), not a constant."""
    assert rate_half_width(0.5, 30) == pytest.approx(0.179, abs=1e-3)
    assert rate_half_width(0.9, 60, 150) == pytest.approx(1.96 * (0.09 * (1 / 60 + 1 / 150)) ** 0.5)
    assert "-6 to +5 at 120 s (±4)" in CHECKED and "-6 to +11 at the first probe (±9)" in CHECKED
    assert "counted" in CHECKED and "-10 to +10 at the first probe (±9)" in CHECKED_ASSUMED_PHONES  # assumed phones
    assert "-6 to +5 at 120 s (±4)" in CHECKED_ASSUMED_PHONES and "-7 to +6 at 30 s (±5)" in CHECKED_ASSUMED_PHONES
    assert "-8 to +6 at 30 s (±5)" in CHECKED
    assert "on maps marking their street doors as entrances" in CHECKED  # the claims checked started arrivals there


def test_the_check_rounds_a_half_point_away_from_zero():
    """Python's round() takes -6.5 to -6 and 2.5 to 2: the check would read half a point better than it is."""
    assert [_whole_points(d) for d in (-6.5, 6.5, 2.5, -5.4, 0.4, -0.5)] == [-7, 7, 3, -5, 0, -1]
    # every checked mall was among those a rule was compared on (the association rank): said, not a held-out check
    assert "8888; all of them were among the malls a rule was compared on, so this is not a fully held-out" in CHECKED


def test_the_check_names_the_malls_a_rule_was_compared_on(monkeypatch):
    import fingerprints.quality as quality

    monkeypatch.setattr(quality, "CHECK_COMPARED", (6262, 7777))
    assert quality.compared_malls() == "6262, 7777"
    monkeypatch.setattr(quality, "CHECK_COMPARED", quality.CHECK_SEEDS)
    assert quality.compared_malls("全部") == "全部"


def test_validation_walk_measures_the_live_error(linear):
    venue = linear.venue
    sim = linear.simulator()
    rng = np.random.default_rng(0)
    zone = next(z for z in venue.zones if z.kind == "anchor")
    xs, ys = [p[0] for p in zone.polygon], [p[1] for p in zone.polygon]
    x, y = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    readings = [(float(t), ap, rssi) for t in range(120) for ap, rssi in sim.measure(zone.floor, x, y, rng).items()]
    route = [(float(t), zone.floor, x, y) for t in range(60, 120, 10)]
    walk = validation_walk(venue, route, readings)
    assert walk.floor_rate == 1.0 and walk.mean_error_m < 10 and walk.zone_rate >= 0.5
    assert "live error" in "\n".join(walk.summary_lines())
    silent = validation_walk(venue, route, [])
    assert silent.zone_rate == 0 and all(p.est_floor is None for p in silent.points)
    with pytest.raises(ValueError):
        validation_walk(venue, [], readings)


def test_walk_csv_bad_input_is_named(tmp_path):
    route, readings = tmp_path / "route.csv", tmp_path / "readings.csv"
    route.write_text("ts,floor,x,y\n1,0,2.5,3\n")
    readings.write_text("ts,ap,rssi\n1,AA-BB-CC-DD-EE-FF,-60\n")
    assert read_walk_csv(str(route), str(readings)) == ([(1.0, 0, 2.5, 3.0)], [(1.0, "aa:bb:cc:dd:ee:ff", -60.0)])
    readings.write_text("ts,ap,rssi\n1,nope,-60\n")
    with pytest.raises(ValueError, match="line 2"):
        read_walk_csv(str(route), str(readings))
    route.write_text("ts,floor\n1,0\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_walk_csv(str(route), str(readings))


def test_validation_walk_command(app, demo, demo_map, tmp_path):
    from portal import map_cli

    if "validation-walk" not in app.cli.commands:
        map_cli.register(app)
    from fingerprints.simulator import RadioSimulator

    rng = np.random.default_rng(1)
    sim = RadioSimulator(demo_map)
    route, readings = tmp_path / "route.csv", tmp_path / "readings.csv"
    route.write_text("ts,floor,x,y\n" + "".join(f"{t},1,22,30\n" for t in range(30, 90, 15)))
    readings.write_text("ts,ap,rssi\n" + "".join(f"{t},{ap},{v}\n" for t in range(90)
                                                  for ap, v in sim.measure(1, 22, 30, rng).items()))
    result = app.test_cli_runner().invoke(args=["validation-walk", "demo", str(route), str(readings)])
    assert result.exit_code == 0, result.output
    assert "validation walk on demo" in result.output and "cinema" in result.output
    bad = app.test_cli_runner().invoke(args=["validation-walk", "demo", str(route), str(route)])
    assert bad.exit_code != 0 and "missing columns" in bad.output


def test_a_landing_on_the_zones_group_page_is_counted_apart(linear, monkeypatch):
    """A phone that lands on the page of its zone's group (the food hall's, for a stall) is neither right nor
    counted as a wrong zone's: the estimate gives that share apart, at each probe. Here every probe lands on the
    food hall's page, so the share at 120 s is the share of visits to its stalls, and no stall visit is right."""
    from portal.tracking.models import venue_groups

    groups = venue_groups(linear.venue)
    hall = max(set(groups.values()), key=list(groups.values()).count)
    stalls = {zone for zone, group in groups.items() if group == hall and zone != hall}
    assert len(stalls) >= 3
    monkeypatch.setattr(estimate_module, "landing_zone", lambda position: hall)
    est = live_estimate(linear.venue, max_points=40, seed=2)
    visits_to_stalls = sum(n for zone, (n, _, _) in est.by_zone.items() if zone in stalls)
    assert visits_to_stalls > 0
    assert est.group_rates[2] == pytest.approx(visits_to_stalls / est.n_points)
    assert all(settled == 0.0 for zone, (_, settled, _) in est.by_zone.items() if zone in stalls)
    assert est.headline()["group_settled"] == est.group_rates[2]
    assert "group page instead" in "\n".join(est.summary_lines())


@pytest.mark.parametrize(("landed", "truth", "expected"), [
    ("hall", "stall-1", True),  # the stall's group page
    ("stall-1", "stall-1", False),  # its own page: right, not grouped
    ("hall", "hall", False),  # the hall's own page
    ("stall-2", "stall-1", False),  # a neighbouring stall: a wrong zone
    (None, "stall-1", False),  # the mall home
    ("hall", "shop", False),  # a zone in no group
    ("hall", None, False),  # outside every zone
])
def test_on_group_page(landed, truth, expected):
    groups = {"stall-1": "hall", "stall-2": "hall", "hall": "hall"}
    assert estimate_module.on_group_page(landed, truth, groups) is expected


def test_a_venues_own_configuration_is_named_beside_the_check():
    """The claim runs the venue's stored configuration; its check was made with the live defaults: the report names
    what differs from them (a value equal to the default's is not a difference), and warns where the representation
    changes (a training mall's claim read 6-24 points high with the exponential one)."""
    assert own_configuration({}) is None and configuration_note({}) is None
    assert own_configuration(live_defaults()) is None  # every parameter named, each the default's
    assert own_configuration({"k": 5, "cluster_m": 10.0}) == ("k=5", False)
    assert own_configuration({"unheard_weight": 0.7, "k": 7}) == ("k=7, unheard_weight=0.7", False)
    note = configuration_note({"k": 5})
    assert note == ("this venue's live model runs its own configuration (k=5): the check above was made with the "
                    "live defaults")
    assert own_configuration({"alpha": 24.0, "weighting": "inverse"}) is None  # the library's, as the live model runs
    assert own_configuration({"cluster_m": 10.0000001}) == ("cluster_m=10.0000001", False)  # not shown as the default
    assert own_configuration({"representation": "exponential"}) == ("representation=exponential", True)
    assert own_configuration({"alpha": 20.0}) == ("alpha=20", True)  # the representation's shape
    assert "read 6-24 points above its measured landing" in configuration_note({"representation": "exponential"})
