"""What the host's views and the light apps may use: the process's long-lived parts, reached through
`services()` inside a request. They are built once per process in `portal/bootstrap.py`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import current_app, has_request_context, request

from core.security import MacHasher
from core.settings import Settings
from core.store_health import StoreBreaker
from fingerprints.store import VenueStore
from portal.apps.zone_apps import ZoneAppStore
from portal.captive.config import VenueTimeZones
from portal.consent import ConsentStore
from portal.events import EventLog, PresenceTracker
from portal.events.moments import MomentsEngine
from portal.events.privacy import PrivacyStore
from portal.ingest.store import RssiStore
from portal.ingest.tokens import ApiTokenStore
from portal.payments.service import PaymentService
from portal.tracking import Locator, ModelCache
from portal.tracking.footfall import FootfallStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: redis.Redis
    hasher: MacHasher
    venues: VenueStore
    rssi: RssiStore
    tokens: ApiTokenStore
    models: ModelCache
    locator: Locator
    footfall: FootfallStore
    zone_apps: ZoneAppStore
    payments: PaymentService
    consent: ConsentStore  # the shoppers' privacy choices (portal/consent.py)
    events: EventLog
    presence: PresenceTracker
    privacy: PrivacyStore
    moments: MomentsEngine
    breaker: StoreBreaker  # is the store down? one per process: the portal fails open, views answer 503
    # each venue's clock: the one rule every page, store and worker reads it by (portal/captive/config.py)
    time_zones: VenueTimeZones
    # What else close() stops: the background workers of parts built outside build_services (each called
    # with the seconds it may wait), in the order registered
    _stoppers: list[Callable[[float], object]] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)

    def on_close(self, stop: Callable[[float], object]) -> None:
        """Have close() call `stop(timeout_s)`: a part that starts a background thread of its own (the audit
        backlog, a cluster's per-venue breakers) registers how to end it."""
        self._stoppers.append(stop)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop this app's background threads: a gunicorn worker at exit
        (gunicorn.conf.py), and the tests after each app (conftest.py), whose earlier apps' threads otherwise
        kept pinging and writing to stores long shut down. Every thread is told to stop first (each stop called
        with no time to wait), then each is joined within what is left of `timeout_s`, so one thread held in a
        call to a stalled store does not keep the others running (a thread past the bound is a daemon and dies
        with the process). Once closed, a second call returns at once. The store client stays usable (a cluster
        client is not once closed): what is still queued in the event log is written by the exit's flush
        (portal/events/log.py). Not stopped here: a model build or a live estimate running (CPU-bound, they end
        by themselves; portal/maps/builds.py waits for builds at exit) and the warm-up, which ends after one pass."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        stops = [self.breaker.close, self.events.deferred.stop, self.moments.sender.stop, *self._stoppers]
        for wait in (lambda: 0.0, lambda: max(0.0, deadline - time.monotonic())):  # tell them all, then wait
            for stop in stops:
                try:
                    stop(wait())
                except Exception:  # noqa: BLE001 - one part's failure to stop must not keep the others running
                    log.exception("stopping a background worker failed")

    def warm_up_in_background(self) -> threading.Thread:
        """Start `warm_up` in a daemon thread and return at once: a worker's start never waits for the
        store (a stalled or stopped store must not keep a gunicorn worker from booting, or gunicorn's
        master shuts down with it). Requests that come before a model is ready fit it themselves."""
        thread = threading.Thread(target=self._warm_up_logged, name="model-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up_logged(self) -> None:
        try:
            self.warm_up()
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first lookup fits the model
            log.exception("model warm-up failed; models are fitted on their first lookup")

    def tracker_sweeps(self) -> list[Callable[[str, float], object]]:
        """What the tracker runs per venue every 30 s without new readings (`Tracker(sweeps=...)`): visits of
        phones unseen for 20 min end (presence) and footfall's visits idle for 10 min close (counted on the day
        and hour they were last seen),
        the moments' timers, the privacy centre's daily run."""
        return [self.presence.sweep, self.footfall.close_idle, self.moments.tick, self.privacy.daily]

    def warm_up(self) -> None:
        """Fit the models of the venues this host serves (WARM_VENUES; all by default) now, so no request
        waits for them (gunicorn.conf.py starts this in each worker's background, `warm_up_in_background`).
        Other venues' models are fitted on their first lookup; a venue whose shard is down is left for then."""
        wanted = self.settings.warm_venues
        try:
            venues = self.venues.venue_ids() if "*" in wanted else list(wanted)
        except redis.RedisError as exc:
            log.warning("warm-up skipped, venue list unavailable: %s", exc.__class__.__name__)
            return
        for venue in venues:
            try:
                self.models.get(venue)
            except redis.RedisError as exc:
                log.warning("warm-up: venue %s unavailable: %s", venue, exc.__class__.__name__)


def services() -> Services:
    return current_app.extensions["mallportal"]


def request_memo(name: str) -> dict | None:
    """A dict the current request keeps what it read once in (`name`: the map versions, the images read ahead, the
    zones' apps), None outside a request. In the WSGI environ, not `g`: a test's open app context shares one `g` with
    every request made in it, and would carry one request's reads into the next."""
    return request.environ.setdefault(f"mallportal.{name}", {}) if has_request_context() else None
