"""What the shopper pages, the owner console and the API share: store, hasher, venue map, zone config."""

from __future__ import annotations

from flask import abort, current_app

from lightapps.parking.plates import PlateHasher
from lightapps.parking.store import ParkingStore
from portal.apps import registry
from portal.apps.views import venue_and_zone as venue_and_zone  # re-exported for the views
from portal.apps.views import venue_or_404 as venue_map  # noqa: F401 - re-exported for the views
from portal.services import services

APP_NAME = "parking"


def parking_store() -> ParkingStore:
    """One store (its scripts registered once) per app."""
    store = current_app.extensions.get("parking_store")
    if store is None:
        store = current_app.extensions["parking_store"] = ParkingStore(services().db)
    return store


def plate_hasher() -> PlateHasher:
    hasher = current_app.extensions.get("parking_hasher")
    if hasher is None:
        hasher = current_app.extensions["parking_hasher"] = PlateHasher(services().settings.mac_hash_key)
    return hasher


def zone_config(venue: str, zone: str, *, required: bool = True) -> dict | None:
    """The zone's parking config with defaults filled in; 404 (or None) unless the zone runs the app."""
    config = services().zone_apps.config_for(venue, zone, APP_NAME)
    if config is None:
        if required:
            abort(404, "The parking app is not on in this zone.")
        return None
    return {**registry.get(APP_NAME).default_config(), **{k: v for k, v in config.items() if v is not None}}


def level_name(venue_map_obj, level: int) -> str:
    try:
        return venue_map_obj.floor(level).name
    except KeyError:
        return str(level)
