"""The radio simulator's realistic effects: deterministic, and each one does what it says."""

import numpy as np
import pytest

from fingerprints.model import AccessPoint, Floor, VenueMap
from fingerprints.simulator import PHONE_MODELS, RadioSimulator, ap_outage, report_schedule


def _venue(walls=()):
    return VenueMap(id="t", name="t", name_zh="t",
                    floors=[Floor(level=0, name="G", width_m=60, height_m=20, walls=list(walls))],
                    aps=[AccessPoint(bssid=f"00:00:00:00:00:{i:02x}", floor=0, x=x, y=10.0)
                         for i, x in enumerate((5.0, 30.0, 55.0), start=1)])


def test_same_seed_same_world_and_scans():
    a, b = RadioSimulator(_venue(), seed=3, correlation_m=6.0), RadioSimulator(_venue(), seed=3, correlation_m=6.0)
    assert a.mean_rssi(0, 12.0, 7.0) == b.mean_rssi(0, 12.0, 7.0)
    ra, rb = np.random.default_rng(1), np.random.default_rng(1)
    assert a.measure(0, 12, 7, ra, phone_offset_db=-3) == b.measure(0, 12, 7, rb, phone_offset_db=-3)
    assert RadioSimulator(_venue(), seed=4, correlation_m=6.0).mean_rssi(0, 12, 7) != a.mean_rssi(0, 12, 7)


def test_phone_offset_shifts_every_reading():
    sim = RadioSimulator(_venue(), fading_db=0.0)
    base = sim.measure(0, 20, 10, np.random.default_rng(0))
    louder = sim.measure(0, 20, 10, np.random.default_rng(0), phone_offset_db=6.0)
    assert {ap: v + 6 for ap, v in base.items()} == louder
    assert max(PHONE_MODELS.values()) - min(PHONE_MODELS.values()) >= 8  # real models differ this much


def test_body_loss_is_behind_the_shopper_only():
    sim = RadioSimulator(_venue(), body_db=5.0)
    loss = sim.body_loss(30.0, 10.0, heading=0.0, rng=np.random.default_rng(0))  # facing +x
    assert loss[2] == pytest.approx(0.0, abs=1e-9)  # AP ahead at x=55
    assert loss[0] == pytest.approx(5.0)  # AP behind at x=5
    assert not RadioSimulator(_venue()).body_loss(30, 10, 0.0, np.random.default_rng(0)).any()


def test_wall_materials_have_their_own_losses():
    wall = [(20.0, 0.0, 20.0, 20.0)]
    plain = RadioSimulator(_venue(), shadowing_db=0.0)
    glass = RadioSimulator(_venue(wall), shadowing_db=0.0, wall_losses={0: [3.0]})
    concrete = RadioSimulator(_venue(wall), shadowing_db=0.0, wall_losses={0: [12.0]})
    ap = "00:00:00:00:00:01"  # x=5: across the wall from x=30
    assert plain.mean_rssi(0, 30, 10)[ap] - glass.mean_rssi(0, 30, 10)[ap] == pytest.approx(3.0)
    assert plain.mean_rssi(0, 30, 10)[ap] - concrete.mean_rssi(0, 30, 10)[ap] == pytest.approx(12.0)
    with pytest.raises(ValueError):
        RadioSimulator(_venue(wall), wall_losses={0: [1.0, 2.0]})


def test_shadowing_field_is_spatially_correlated():
    sim = RadioSimulator(_venue(), seed=2, correlation_m=6.0, shadowing_db=4.0)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 400, size=(400, 2))
    near = np.array([sim._shadowing(x, y, 0) - sim._shadowing(x + 1.0, y, 0) for x, y in pts])
    far = np.array([sim._shadowing(x, y, 0) - sim._shadowing(x + 40.0, y, 0) for x, y in pts])
    field = np.array([sim._shadowing(x, y, 0) for x, y in pts])
    assert 2.5 < field.std() < 5.5  # about the requested 4 dB
    assert near.std() < 0.5 * far.std()  # 1 m apart looks alike, 40 m apart does not
    other_floor = np.array([sim._shadowing(x, y, 1) for x, y in pts])
    assert abs(np.corrcoef(field.ravel(), other_floor.ravel())[0, 1]) < 0.3


def test_outage_and_report_schedule_are_seeded():
    venue = _venue()
    venue.aps = [AccessPoint(bssid=f"00:00:00:00:01:{i:02x}", floor=0, x=i, y=1) for i in range(40)]
    assert ap_outage(venue, 0.05, 1) == ap_outage(venue, 0.05, 1)
    assert len(ap_outage(venue, 0.05, 1)) == 2 and ap_outage(venue, 0.0, 1) == set()
    off = ap_outage(venue, 0.5, 1)
    assert RadioSimulator(venue).measure(0, 5, 1, np.random.default_rng(0), off=off).keys().isdisjoint(off)
    schedule = report_schedule(venue, 9, meraki_share=0.25)
    assert schedule == report_schedule(venue, 9, meraki_share=0.25)
    meraki = [s for s in schedule if s.kind == "meraki"]
    assert 3 <= len(meraki) <= 18 and all(s.period_s == 60 for s in meraki)
    assert all(3 <= s.period_s <= 6 and 0 <= s.phase_s < s.period_s for s in schedule if s.kind == "native")
    assert sum(s.due(t) for t in range(60) for s in meraki) == len(meraki)  # once a minute each
