"""The application's long-lived parts, built once per process by the app factory."""

from __future__ import annotations

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
        rssi = RssiStore(db, window_s=settings.rssi_window_s)
        models = ModelCache(venues)
        return cls(
            settings=settings,
            db=db,
            hasher=MacHasher(settings.mac_hash_key),
            venues=venues,
            rssi=rssi,
            tokens=ApiTokenStore(db),
            models=models,
            locator=Locator(db, models, rssi, TemporalSmoother(), footfall=FootfallStore(db),
                            cache_s=settings.position_cache_s),
            zone_apps=ZoneAppStore(db),
        )

    def warm_up(self) -> None:
        """Fit every venue's positioning model now, so no request waits for it (gunicorn.conf.py calls this
        in each worker before it takes requests)."""
        for venue in self.venues.venue_ids():
            self.models.get(venue)


def services() -> Services:
    return current_app.extensions["mallportal"]
