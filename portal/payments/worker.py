"""The payments sweeper: every venue's payment duties once a minute, with no cron to set up.

`PaymentService.sweep` closes unpaid orders past their expiry (booking any the provider says were paid), asks
again about stuck refunds, finishes what a store fault cut short and runs the light apps' sweepers (a failed
group buy's deposits, parking exits owed, a restaurant's lapsed numbers' paid pre-orders). Until 2026-12-03 it
ran only from `flask payments sweep VENUE` in the operator's cron, so a mall without that cron line (and every
`make run`) never refunded a lapse. `python -m portal sweep` (started by `serve`; deploy/mallportal-payments.service
in production) runs it for every venue, dividing the venues between several such processes by lease (kind
"paysweep") as trackers do. The sweep waits on the providers' APIs, which is why it is a process of its own and
not one of the tracker's sweeps (those must never wait on the network). Every duty is idempotent, so a venue
swept twice (a lease moving between two processes) refunds nothing twice.

Each venue's round also finishes what no operator comes back for: a zone off the venue's map still keeping an owner,
an app or moments rules (a save whose release a store fault cut short, a process that died in between) is released
(portal/operator/zone_release.py `release_missed`: two reads while the venue's map is the one last checked). It runs
on the app's stores, so in the app's context (`python -m portal sweep` runs in its app's)."""

from __future__ import annotations

import logging
import threading

import redis
from flask import has_app_context

from core.store_health import worker_breakers
from fingerprints.store import VenueStore
from portal.leases import Breakers, VenueLeases, serve_venues
from portal.operator.zone_release import release_missed
from portal.payments.service import PaymentService

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 60.0  # the duties' own clocks are minutes (an order's expiry, a number's lapse, LOOK_AGAIN_S)
LEASE_S = 3 * SWEEP_EVERY_S  # a venue's lease outlives the wait between rounds; a stopped sweeper's lapses then


def sweeper_leases(db: redis.Redis) -> VenueLeases:
    return VenueLeases(db, kind="paysweep", ttl_s=LEASE_S)


class PaymentsSweeper:
    def __init__(self, payments: PaymentService, venues: VenueStore, leases: VenueLeases | None = None,
                 breakers: Breakers | None = None) -> None:
        self.payments = payments
        self.venues = venues
        self.leases = leases  # None: this process sweeps every venue
        self.breakers = breakers if breakers is not None else worker_breakers(venues.db)  # open: its venue skipped

    def round(self) -> tuple[int, int]:
        """Sweep each venue this process serves once; (expired orders handled, venues that failed). One venue's
        store fault or provider error does not stop the others."""
        # Any error: the sweep's own steps may meet a record they cannot read; the other venues, and the next
        # round, go on (the sweeper process must not end or crash-loop over one venue's bad data).
        return serve_venues(self.venues.venue_ids(), self.leases, self._venue_round, "payments sweep",
                            errors=(Exception,), breakers=self.breakers)

    def _venue_round(self, venue: str) -> int:
        """The zones off the venue's map left unreleased, let go of (in an app's context only: the release runs on
        the app's stores), then the venue's payment duties (`PaymentService.sweep`: the expired orders handled, what
        the round counts)."""
        if has_app_context():
            try:
                release_missed(venue)
            except redis.RedisError as exc:  # the next round tries again
                log.warning("payments sweep: zones off venue %s's map not released: %s", venue, exc.__class__.__name__)
            except Exception:  # noqa: BLE001 - a bug there must not hold up the venue's payments
                log.exception("payments sweep: releasing the zones off venue %s's map failed", venue)
        return self.payments.sweep(venue)

    def run(self, stop: threading.Event, every_s: float = SWEEP_EVERY_S) -> None:
        """Until `stop` is set: a round, then a wait of `every_s` (a few seconds after a store outage)."""
        log.info("payments sweep: every venue's payment duties every %.0f s", every_s)
        try:
            while not stop.is_set():
                try:
                    _handled, failed = self.round()
                except redis.RedisError as exc:  # no venue list at all
                    log.error("payments sweep: store unavailable, retrying in 5 s: %s", exc.__class__.__name__)
                    stop.wait(5.0)
                    continue
                stop.wait(5.0 if failed else every_s)
        finally:
            if self.leases is not None:
                self.leases.release_all()
