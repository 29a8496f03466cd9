"""What the shopper pages, the owner console and the API share: store, hasher, level names."""

from __future__ import annotations

from flask import current_app

from lightapps.parking import APP
from lightapps.parking.plates import PlateHasher
from lightapps.parking.store import ParkingStore
from portal.apps.views import app_store
from portal.services import services

APP_NAME = APP.name


def parking_store() -> ParkingStore:
    """The app's store (its scripts registered once per process)."""
    return app_store(APP)


def plate_hasher() -> PlateHasher:
    hasher = current_app.extensions.get("parking_hasher")
    if hasher is None:
        hasher = current_app.extensions["parking_hasher"] = PlateHasher(services().settings.mac_hash_key)
    return hasher


def level_name(venue_map_obj, level: int, zh: bool = False) -> str:
    """A level's name, in Chinese on zh pages (the machine API keeps the English one)."""
    return venue_map_obj.floor_name(level, zh)
