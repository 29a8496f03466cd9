"""The application's long-lived parts, built once per process by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from fingerprints.store import VenueStore
from lightapps.zone_apps import ZoneAppStore
from portal.ingest.store import RssiStore
from portal.ingest.tokens import ApiTokenStore
from portal.security import MacHasher
from portal.settings import Settings
from portal.tracking import Locator, ModelCache
from portal.tracking.footfall import FootfallStore


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

    @classmethod
    def build(cls, settings: Settings, db: redis.Redis) -> Services:
        venues = VenueStore(db)
        rssi = RssiStore(db, window_s=settings.rssi_window_s)
        # APs silent in the live reports are masked out of the model (as the health page calls them silent).
        models = ModelCache(venues, db=db, silent_after_s=settings.ap_silent_after_s)
        locator = Locator(db, models, rssi, cache_s=settings.position_cache_s)
        footfall = FootfallStore(db)
        locator.on_position(footfall.on_position)  # every phone heard counts, not only those asking
        return cls(
            settings=settings,
            db=db,
            hasher=MacHasher(settings.mac_hash_key),
            venues=venues,
            rssi=rssi,
            tokens=ApiTokenStore(db),
            models=models,
            locator=locator,
            footfall=footfall,
            zone_apps=ZoneAppStore(db),
        )

    def warm_up(self) -> None:
        """Fit every venue's positioning model now, so no request waits for it (gunicorn.conf.py calls this
        in each worker before it takes requests)."""
        for venue in self.venues.venue_ids():
            self.models.get(venue)


def services() -> Services:
    return current_app.extensions["mallportal"]
