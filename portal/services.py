"""What the host's views and the light apps may use: the process's long-lived parts, reached through
`services()` inside a request. They are built once per process in `portal/bootstrap.py`."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from core.security import MacHasher
from core.settings import Settings
from fingerprints.store import VenueStore
from portal.apps.zone_apps import ZoneAppStore
from portal.ingest.store import RssiStore
from portal.ingest.tokens import ApiTokenStore
from portal.locate import Locator, ModelCache


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

    def warm_up(self) -> None:
        """Fit every venue's positioning model now, so no request waits for it (gunicorn.conf.py calls this
        in each worker before it takes requests)."""
        for venue in self.venues.venue_ids():
            self.models.get(venue)


def services() -> Services:
    return current_app.extensions["mallportal"]
