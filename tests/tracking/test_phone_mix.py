"""The venue's phones against its survey phone (portal.tracking.phone_mix): each phone's offset is counted once a
visit, when the tracker has settled it; the quality report's live estimate takes its phones from the last
week's counts once enough were counted (fingerprints.quality.measured_phones), and is kept per set of them."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.storage import PackedPipeline
from fingerprints.quality import MIN_MEASURED_PHONES, LiveAssumptions, measured_phones
from fingerprints.simulator import RadioSimulator
from portal.ingest.observation import Observation
from portal.operator.live_jobs import EstimateKeys, basis
from portal.tracking.phone_mix import (
    DAY_S,
    DAYS,
    KEPT_S,
    PhoneMixKeys,
    PhoneMixStore,
    offset_bin,
    phones_from_counts,
    venue_phones,
)
from portal.tracking.positions import TrackKeys
from positioning import phone_offset
from positioning.phone_offset import OffsetMix, offset_mix

NOW = 1_800_000_000.0
TODAY = int(NOW // DAY_S)


def test_the_report_that_settles_the_offset_is_marked_and_no_other():
    """Partial matches start nothing; from the first full match on, the report that fills the offset's memory
    (MEMORY reports, KNOWN_AFTER of them full) is marked, and no later one; each state written whole (the motion
    filter's fresh dict plus `updated`'s fields), as the tracker writes it."""
    state: dict | None = None
    marked = []
    for full in (False, False, True, False, *([True] * (phone_offset.MEMORY + 3))):
        state = {"ts": 0.0, **phone_offset.updated(state, 0.0, -4.0, full=full)}
        marked.append(phone_offset.newly_settled(state))
    assert [m for m in marked if m is not None] == [pytest.approx(-4.0)]
    assert marked.index(next(m for m in marked if m is not None)) == 2 + phone_offset.MEMORY - 1
    assert phone_offset.newly_settled(None) is None and phone_offset.newly_settled({"offset_settled": 1}) is None


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # no per-example time limit
@given(st.dictionaries(st.integers(-20, 20), st.integers(0, 50), max_size=12))
def test_the_mix_is_the_mean_and_sample_spread_of_the_counted_offsets(counts):
    values = np.repeat([float(k) for k in counts], [counts[k] for k in counts])
    mix = offset_mix(counts)
    if values.size < 2:
        assert mix is None
        return
    assert mix.phones == values.size
    assert mix.mean_db == pytest.approx(values.mean(), abs=1e-9)
    assert mix.sd_db == pytest.approx(values.std(ddof=1), abs=1e-9)


def test_the_estimate_takes_the_venues_phones_once_enough_were_counted():
    assumed = LiveAssumptions()
    assert measured_phones(None) == assumed
    assert measured_phones(OffsetMix(MIN_MEASURED_PHONES - 1, -6.0, 5.0)) == assumed
    measured = measured_phones(OffsetMix(MIN_MEASURED_PHONES, -6.3, 5.29))
    assert (measured.phone_mean_db, measured.phone_spread_db, measured.phones_measured) == (-6.0, 5.0, 30)
    assert measured.body_db == assumed.body_db  # only the phones change
    # kept per set of figures: the defaults have their own key; more phones with the same rounded mix share one
    assert basis(assumed) == "" and basis(None) == ""
    assert basis(measured) == basis(measured_phones(OffsetMix(400, -5.8, 4.9))) != ""
    assert basis(measured) != basis(measured_phones(OffsetMix(400, -5.8, 3.9)))
    keys = EstimateKeys("demo")
    assert keys.result(3) != keys.result(3, basis(measured)) and "{demo}" in keys.result(3, basis(measured))


@pytest.mark.parametrize("packed", [pytest.param(True, marks=pytest.mark.single_node), False])
def test_counts_are_kept_per_day_and_read_over_the_last_week(db, packed):
    store = PhoneMixStore(db)
    for days_ago, offsets in ((0, [-6.4, -5.6, 2.0]), (DAYS - 1, [-6.0]), (DAYS, [9.0])):
        pipe = PackedPipeline(db) if packed else db.pipeline(transaction=False)
        store.queue_counts(pipe, "demo", offsets, NOW - days_ago * DAY_S)
        pipe.execute()
    key = PhoneMixKeys("demo").offsets(TODAY)
    assert "{demo}" in key and 0 < db.ttl(key) <= KEPT_S
    db.hset(key, "junk", "x")  # not written here: left out
    assert store.counts("demo", NOW) == {-6: 3, 2: 1}  # the day DAYS ago is outside the window
    assert venue_phones(db, "demo", NOW) == phones_from_counts({-6: 3, 2: 1}) == (LiveAssumptions(), 4)
    assert store.counts("elsewhere", NOW) == {}
    assert offset_bin(33.0) == 20 and offset_bin(-0.4) == 0


@pytest.mark.single_node
def test_nothing_is_queued_for_no_phone(db):
    pipe = PackedPipeline(db)
    PhoneMixStore.queue_counts(pipe, "demo", [], NOW)
    assert pipe.execute() == [] and db.dbsize() == 0


@pytest.mark.parametrize("batch", [False, True])
def test_the_tracker_counts_each_phone_once_when_its_offset_settles(svc, demo, demo_map, batch):
    """Through the Locator and the store, one phone at a time (a probe's path) or as the tracker's batch: two
    phones reading 8 dB louder than the survey, positioned report after report (each report's state read back
    from the store, the settled one's mark included); each is counted once, near +8 dB, and the quality report
    reads them (too few to replace the assumed phones)."""
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(11)
    zone = next(z for z in demo_map.zones if z.kind != "corridor")
    x, y = np.mean(np.asarray(zone.polygon, dtype=float), axis=0)
    start = time.time() - 60.0
    clients = ("c-mix-1", "c-mix-2")
    for i in range(phone_offset.MEMORY + 8):  # the first few partial matches, then a memory of full ones
        now = start + 3.0 * i
        for client in clients:
            heard = sim.measure(zone.floor, x, y, rng, phone_offset_db=8.0)
            svc.locator.rssi.write("demo", [Observation(client, ap, rssi, now) for ap, rssi in heard.items()], now)
        if batch:
            assert svc.locator.locate_many("demo", clients, now=now) == 2
        else:
            assert all(svc.locator.locate("demo", client, now=now) is not None for client in clients)
    for client in clients:
        assert phone_offset.settled(json.loads(svc.db.get(TrackKeys("demo").track(client))))
    counts = PhoneMixStore(svc.db).counts("demo", time.time())
    assert sum(counts.values()) == 2 and all(4 <= b <= 12 for b in counts)
    assumptions, counted = venue_phones(svc.db, "demo", time.time())
    assert counted == 2 and assumptions == LiveAssumptions()
