"""bench/landing_replay.py's replay on a small mall: every probe gets an outcome; `ap_miss` takes frames away."""

from bench.landing_replay import replay, summary


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
