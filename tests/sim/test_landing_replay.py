"""bench/landing_replay.py's replay on a small mall: every probe gets an outcome; `ap_miss` takes frames away."""

import pytest

from bench import landing, landing_replay
from bench.landing_replay import FEED_UP_S, SILENT_AFTER_S, replay, summary
from fingerprints.quality import WHERE_SHOPPERS_ARE, WHERE_SHOPPERS_ARE_UNMARKED
from fingerprints.simulator import ap_outage


def test_replay_gives_every_probe_an_outcome(small_malls):
    outcomes = replay(5, "linear", 3, (1, 1), mall=small_malls["linear"])
    figures = summary(outcomes)
    assert set(figures) == {"first", "30s", "120s"}
    assert all(figures[kind]["n"] == 3 for kind in figures)
    assert all(o.aps_heard > 0 for o in outcomes if o.kind == "120s")  # heard by then
    assert all(o.source == "readings" for o in outcomes if o.kind == "120s")


def test_an_ap_that_misses_every_frame_reports_nothing(small_malls):
    """ap_miss=1: no AP hears any frame, so no probe has readings; the AP the gateway names still places it."""
    outcomes = replay(5, "linear", 3, (1, 1), mall=small_malls["linear"], ap_miss=1.0)
    assert len(outcomes) == 9
    assert all(o.aps_heard == 0 and o.source in ("ap", "none") for o in outcomes)


def test_a_probe_goes_at_its_own_second_not_at_the_trackers_next_pass(small_malls):
    """The first probe is sent 2 s after joining (rounded up to the whole second), however long the tracker's
    period: held back to its next pass it would see more readings than a phone gives it by then."""
    outcomes = replay(5, "linear", 6, (1, 1), mall=small_malls["linear"], tick=5)
    firsts = [o for o in outcomes if o.kind == "first"]
    assert len(firsts) == 6 and all(2.0 <= o.seconds_in < 3.0 for o in firsts)


def test_the_aps_off_are_left_out_once_the_feed_has_run_as_long_as_the_live_model_waits(small_malls):
    """The replay's model is the one `ModelCache` would pick: the APs off (never reporting) left out once the
    feed has run SILENT_AFTER_S; with the feed up 10 minutes before the shoppers, from the first probe on."""
    mall = small_malls["linear"]
    off = ap_outage(mall.venue, 0.05, 5 + 3)  # replay's outage for seed 5
    assert off

    def masked_at_probes(feed_up_s):
        seen = []
        replay(5, "linear", 3, (1, 1), mall=mall, feed_up_s=feed_up_s,
               hook=lambda outcome, shopper, phone, t: seen.append((t, phone.model.masked)))
        return seen

    assert all(masked == off for _, masked in masked_at_probes(FEED_UP_S))
    assert all(masked == frozenset() for _, masked in masked_at_probes(None))
    from_start = masked_at_probes(0)
    assert all(masked == frozenset() for t, masked in from_start if t <= SILENT_AFTER_S)
    assert all(masked == off for t, masked in from_start if t > SILENT_AFTER_S + 2)  # the tracker's next pass
    assert any(t > SILENT_AFTER_S + 2 for t, _ in from_start)


def test_both_benches_refuse_a_radio_they_cannot_build(capsys):
    """--radio names RadioSimulator parameters; anything else stops the bench before it builds a mall."""
    for main in (landing.main, landing_replay.main):
        with pytest.raises(SystemExit) as stopped:
            main(["--radio", "shadowing=6"])
        assert stopped.value.code == 2
        assert "argument --radio: 'shadowing=6': expected name=value" in capsys.readouterr().err


def test_the_claim_has_its_arrivals_on_foot_join_at_the_entrances_the_map_marks(small_malls, monkeypatch):
    """A generated mall's map marks its street doors as entrances: every arrival on foot the claim simulates joins
    at one of them; those by car in the car park; the estimate is made as usual and says where it placed them.
    Without the marks (the replay's --claim-unmarked) it says that too."""
    from portal.tracking import estimate

    mall = small_malls["linear"]
    nodes = {node.id: node for node in mall.venue.nodes}
    doors = mall.venue.entrance_spots()
    assert sorted(doors) == sorted({(nodes[d].floor, nodes[d].x, nodes[d].y) for d in mall.entrances}) and doors
    places = []

    def recorded(*args, **kwargs):
        places.append(place := arrival_place(*args, **kwargs))
        return place

    arrival_place = estimate.arrival_place
    monkeypatch.setattr(estimate, "arrival_place", recorded)
    claim = estimate.live_estimate(mall.venue, max_points=12)
    assert claim.n_points == 12 and places  # about half the visits join on arrival
    kinds = {zone.id: zone.kind for zone in mall.venue.zones}
    for place in places:
        assert kinds.get(place.zone) == "garage" or (place.floor, place.x, place.y) in doors, place
    assert WHERE_SHOPPERS_ARE in claim.cannot_know and WHERE_SHOPPERS_ARE_UNMARKED not in claim.cannot_know
    places.clear()
    plain = landing_replay.without_entrances(mall.venue)
    assert plain.entrance_spots() == [] and mall.venue.entrance_spots() == doors  # the mall's own map untouched
    unmarked = estimate.live_estimate(plain, max_points=12)
    assert WHERE_SHOPPERS_ARE_UNMARKED in unmarked.cannot_know and WHERE_SHOPPERS_ARE not in unmarked.cannot_know
    on_foot = [(p.floor, p.x, p.y) for p in places if kinds.get(p.zone) != "garage"]
    assert on_foot and set(on_foot) - set(doors)  # along the lobbies and corridors, not only at the doors
