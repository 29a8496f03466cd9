"""The tracker: positions every phone the APs hear, as its readings arrive.

Ingestion marks each client it stores readings for (RssiKeys.new_readings); the tracker takes those
marks in batches and positions each client (Locator.locate). That keeps the phone's position for the
portal, so a probe is one lookup (portal/captive/probe_state.py), and it feeds the footfall counts
with every phone heard, not only the phones that open the portal. `make run` runs it beside the web
server (`python -m portal track`); when it lags or is stopped, a probe positions its phone itself."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import redis

from fingerprints.store import VenueStore
from portal.ingest.store import RssiKeys
from portal.tracking.locator import Locator

log = logging.getLogger(__name__)


class Tracker:
    def __init__(self, db: redis.Redis, venues: VenueStore, locator: Locator, batch: int = 200) -> None:
        self.db = db
        self.venues = venues
        self.locator = locator
        self.batch = batch

    def step(self, venue: str, now: float | None = None) -> int:
        """Position up to `batch` clients of the venue with new readings; returns how many were taken."""
        key = RssiKeys(venue).new_readings()
        clients = self.db.spop(key, self.batch) or []
        for i, raw in enumerate(clients):
            try:
                self.locator.locate(venue, raw.decode(), now)
            except redis.RedisError:
                self._put_back(key, clients[i:])
                raise
            except Exception:  # noqa: BLE001 - one client's failure must not stop everyone's tracking
                log.exception("tracker: positioning a client of venue %s failed", venue)
        return len(clients)

    def _put_back(self, key: str, clients: list[bytes]) -> None:
        """Best effort after a store error: the next round retries them (their next reading would too)."""
        with contextlib.suppress(redis.RedisError):
            self.db.sadd(key, *clients)

    def pending(self, venue: str) -> int:
        return int(self.db.scard(RssiKeys(venue).new_readings()))

    def drain(self, venue: str) -> int:
        """Position every client with new readings now (the CLI's --once); returns how many."""
        total = 0
        while taken := self.step(venue):
            total += taken
        return total

    def run(self, stop: threading.Event, idle_s: float = 0.2, report_every_s: float = 60.0) -> None:
        """Until `stop` is set: every venue, round after round; a store outage is waited out."""
        log.info("tracker: positioning phones as their readings arrive")
        done, reported = 0, time.monotonic()
        while not stop.is_set():
            try:
                taken = sum(self.step(venue) for venue in self.venues.venue_ids())
            except redis.RedisError as exc:
                log.error("tracker: store unavailable, retrying in 1 s: %s", exc)
                stop.wait(1.0)
                continue
            done += taken
            if time.monotonic() - reported >= report_every_s:
                log.info("tracker: %d positions in the last %.0f s", done, time.monotonic() - reported)
                done, reported = 0, time.monotonic()
            if not taken:
                stop.wait(idle_s)
