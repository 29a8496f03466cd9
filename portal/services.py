"""The application's long-lived parts, built once per process by the app factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from flask import current_app

from fingerprints.footfall import FootfallStore
from fingerprints.store import VenueStore
from lightapps.zone_apps import ZoneAppStore
from portal.ingest.store import RssiStore
from portal.ingest.tokens import ApiTokenStore
from portal.locate import Locator, ModelCache
from portal.security import MacHasher
from portal.settings import Settings
from positioning import TemporalSmoother

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
    zone_apps: ZoneAppStore

    @classmethod
    def build(cls, settings: Settings, db: redis.Redis) -> Services:
        venues = VenueStore(db, versions_kept=settings.map_versions_kept)
        rssi = RssiStore(db, window_s=settings.rssi_window_s, wait_replicas=settings.ingest_wait_replicas)
        models = ModelCache(venues)
        return cls(
            settings=settings,
            db=db,
            hasher=MacHasher(settings.mac_hash_key),
            venues=venues,
            rssi=rssi,
            tokens=ApiTokenStore(db),
            models=models,
            locator=Locator(db, models, rssi, TemporalSmoother(), footfall=FootfallStore(
                db, ttl_days=settings.footfall_hourly_days, days_kept=settings.footfall_daily_days),
                            cache_s=settings.position_cache_s),
            zone_apps=ZoneAppStore(db),
        )

    def warm_up(self) -> None:
        """Fit the models of the venues this host serves (WARM_VENUES; all by default) now, so no request
        waits for them (gunicorn.conf.py calls this in each worker before it takes requests). Other
        venues' models are fitted on their first lookup; a venue whose shard is down is left for then."""
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
