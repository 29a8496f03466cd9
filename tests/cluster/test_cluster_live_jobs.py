"""The quality page's background live estimate (portal/operator/live_jobs.py) and the payments sweeper's venue
leases on a real Valkey Cluster: the lease and the result of one map version share the venue's slot (a cluster
refuses a script over two), venues on different primaries each get theirs."""

from __future__ import annotations

import time
from dataclasses import replace

from core.storage import is_cluster
from portal.leases import VenueLeases
from portal.operator.live_jobs import EstimateKeys, LiveEstimates, basis
from portal.payments.worker import LEASE_S, PaymentsSweeper
from portal.tracking.estimate import live_estimate
from portal.tracking.phone_mix import PhoneMixStore, venue_phones
from tests.cluster.conftest import venues_on_each_primary


def test_live_estimates_of_venues_on_every_primary(db, demo_map):
    assert is_cluster(db)
    calls: list[str] = []

    def compute(venue_map, assumptions=None, progress=None):
        calls.append(venue_map.id)
        progress(0, 6)
        return live_estimate(venue_map, max_points=6)

    estimates = LiveEstimates(db, compute, wait_s=0.0)
    for venue in venues_on_each_primary(db):
        venue_map = replace(demo_map, id=venue)
        estimate = estimates.get(venue_map, wait_s=300.0)
        assert estimate.n_points == 6 and estimate.venue == venue
        assert db.exists(EstimateKeys(venue).result(venue_map.version))
        assert not db.exists(EstimateKeys(venue).lease(venue_map.version))
    assert len(calls) == 3


def test_the_phone_mix_and_an_estimate_under_measured_phones_on_every_primary(db, demo_map):
    """The tracker's counts go through a cluster pipeline (routed per slot) into each venue's slot, the mix is read
    back in one slot's pipeline, and the estimate under the measured phones keeps its lease and result there."""
    now = time.time()
    estimates = LiveEstimates(db, lambda venue_map, assumptions=None, progress=None: live_estimate(
        venue_map, assumptions, max_points=6), wait_s=0.0)
    for venue in venues_on_each_primary(db):
        pipe = db.pipeline(transaction=False)
        PhoneMixStore.queue_counts(pipe, venue, [-4.0, -2.0] * 20, now)
        pipe.execute()
        assumptions, counted = venue_phones(db, venue, now)
        assert counted == 40 and assumptions.phones_measured == 40 and assumptions.phone_mean_db == -3.0
        venue_map = replace(demo_map, id=venue)
        estimate = estimates.get(venue_map, wait_s=300.0, assumptions=assumptions)
        assert estimate.assumptions == assumptions
        assert db.exists(EstimateKeys(venue).result(venue_map.version, basis(assumptions)))


def test_the_payments_sweepers_leases_on_a_cluster(svc, demo):
    assert is_cluster(svc.db)
    swept: list[str] = []
    svc.payments.add_sweeper(lambda venue: swept.append(venue) or 0)
    leases = VenueLeases(svc.db, kind="paysweep", owner="sweeper-c", ttl_s=LEASE_S)
    assert PaymentsSweeper(svc.payments, svc.venues, leases).round() == (0, 0)
    assert swept == ["demo"] and leases.held == {"demo"}
