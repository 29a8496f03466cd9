"""Helpers every light app's views share: the venue and zone of a URL, the shopper's language, times."""

from __future__ import annotations

from datetime import datetime

from flask import abort, request
from flask_babel import get_locale
from flask_babel import gettext as _

from fingerprints.model import VenueMap, Zone
from portal.auth import require_zone
from portal.services import services


def venue_or_404(venue: str) -> VenueMap:
    """The venue's current map (shared, read-only: the store caches it per version)."""
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("Unknown venue."))
    return venue_map


def zone_or_404(venue_map: VenueMap, zone: str) -> Zone:
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    return zone_obj


def venue_and_zone(venue: str, zone: str) -> tuple[VenueMap, Zone]:
    venue_map = venue_or_404(venue)
    return venue_map, zone_or_404(venue_map, zone)


def is_zh() -> bool:
    return str(get_locale()) == "zh"


def lang_arg() -> dict[str, str]:
    """The explicit ?lang= choice, to carry on links (the captive mini-browser keeps no cookie)."""
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("en", "zh") else {}


def format_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def owner_zone_context(venue: str, zone: str):
    """For an app's owner console: (account, venue map, zone) once the logged-in account may manage the
    zone (403 otherwise), 404 for an unknown venue or zone."""
    account = require_zone(venue, zone)
    venue_map, zone_obj = venue_and_zone(venue, zone)
    return account, venue_map, zone_obj
