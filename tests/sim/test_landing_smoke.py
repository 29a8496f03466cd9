"""bench/landing.py end to end on a tiny mall: real gunicorn, real reports and probes, settable clock.
It checks that the run completes and reports sane figures, never how fast or how accurate."""

import json
import os
import subprocess
import sys

from core.settings import PROJECT_ROOT


def test_landing_bench_smoke():
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(
        [sys.executable, "bench/landing.py", "--seed", "3", "--shoppers", "3", "--zones", "1-1",
         "--survey-step", "9", "--scans", "2", "--json", "--live-points", "12", "--feed-up", "320",
         "--workers", "2"],  # two web workers, not four: each imports the app and builds its model for 3 shoppers
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["seed"] == 3 and report["shape"] == "ring" and report["shoppers"] == 3
    landing = report["landing"]
    assert set(landing) == {"first", "30s", "120s"}
    assert landing["first"]["n"] == 3 and landing["120s"]["n"] == 3
    for figures in landing.values():
        assert 0.0 <= figures["zone"] <= 1.0 and 0.0 <= figures["floor"] <= 1.0
    assert landing["120s"]["positioned"] == 1.0  # every phone heard by then
    # The APs off never reported in the 320 s before the shoppers came: the live model has left them out.
    assert report["aps_off"] and report["aps_left_out"] == report["aps_off"]
    first_sent = landing["first"]["after_joining_s"]  # 2 s after joining, to the whole second: never held back
    assert first_sent[0] >= 2.0 and first_sent[1] < 3.0  # to the tracker's next pass
    q = report["quality_report"]
    assert 0.0 <= q["live"]["zone_settled"] <= 1.0 and 0.0 <= q["survey"]["zone"] <= 1.0
    # The tracker counted the phones it came to know (once each); three are too few to replace the assumed ones
    assert 1 <= q["counted"] <= 3 and q["phones"]["phones_measured"] == 0


def test_a_probe_answered_from_its_ap_alone_counts_with_the_aps_floor():
    """A phone not heard yet is placed by the AP the gateway names, and that position is not kept (no reading
    dates it): the bench reads it from the AP's coverage, not as "not positioned" with a wrong floor."""
    from bench.landing import answered_at
    from portal.tracking import KeptPosition, Position
    from positioning.coldstart import CoarseEstimate

    coarse = CoarseEstimate(floor=2, x=10.0, y=20.0, floor_confidence=0.9, places={"z1": 1.0})
    kept = KeptPosition(Position(1, 3.5, 4.0, "z2", 0.9, 0.8), b"ap|-60|1.0", 1.0)
    assert answered_at(kept, coarse) == (1, 3.5, 4.0)  # a kept position is the one the probe used
    assert answered_at(None, coarse) == (2, 10.0, 20.0)
    assert answered_at(None, None) is None  # neither readings nor a known AP: the mall home, not positioned
