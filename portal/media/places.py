"""Where an owner's image may go: a film, dish, shop or event that the zone really has.

An image for a place that does not exist is shown nowhere, and no page offers to remove it, yet it takes
the venue's image space; so an upload names a real place. Shops are the venue map's. Films, dishes and
events are the light apps' records, and the host never names an app: an app's store that keeps such
places offers

    has_media_place(venue: str, zone: str, kind: str, ref: str) -> bool

True only for its own kinds and a record of that zone, with `ref` as its console's image form names it (a
dish: its menu item's id; an event: its activity's id; a film: `portal.media.store.text_ref` of its title).
The platform's stores are asked as the privacy centre asks them for `export_shopper`
(portal/apps/views.py). A kind no loaded app answers for has no places: nothing is accepted for it."""

from __future__ import annotations

from flask import current_app

from fingerprints.model import VenueMap
from portal.apps.views import STORES


def place_exists(venue_map: VenueMap, zone: str, kind: str, ref: str) -> bool:
    """Whether the zone has the place (kind, ref) an image would be shown for."""
    if kind == "shop":
        return any(s.id == ref and s.zone == zone for s in venue_map.shops)
    stores = current_app.extensions.get(STORES, {}).values()
    return any(ask(venue_map.id, zone, kind, ref) for store in stores
               if (ask := getattr(store, "has_media_place", None)) is not None)
