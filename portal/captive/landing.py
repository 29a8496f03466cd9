"""Where a phone lands: the light app of its zone when the positioner is confident, else the mall home.
Shared by the probe lane (plain WSGI, portal/captive/lane.py) and the Flask views (gateway entry, CAPPORT),
so both build the same page; each builds the URL its own way."""

from __future__ import annotations

import logging

from portal.apps import registry
from portal.services import Services
from portal.tracking import Position

log = logging.getLogger(__name__)

MIN_ZONE_CONFIDENCE = 0.5  # a zone decision below this sends the shopper to the mall home instead
HOME = "directory.home"


def landing_zone(position: Position | None) -> str | None:
    """The zone a phone lands in: its zone, or its group's zone when the position cannot tell small
    neighbouring zones apart (portal/tracking/positions.py), or None (the mall home)."""
    return position.landing_zone(MIN_ZONE_CONFIDENCE, MIN_ZONE_CONFIDENCE) if position is not None else None


def landing_page(venue: str, position: Position | None, app_name: str | None) -> tuple[str, dict[str, str]]:
    """(endpoint, URL values) of the landing page for a phone at `position`; `app_name`: the app its
    landing zone (landing_zone) runs."""
    zone = landing_zone(position)
    if zone is not None:
        app = registry.get(app_name or "")
        if app is not None:
            return app.landing_endpoint, {"venue": venue, "zone": zone}
    return HOME, {"venue": venue}


def locate_with_app(core: Services, venue: str, client: str,
                    associated_ap: str | None = None) -> tuple[Position | None, str | None]:
    """Position the client now, and the app its landing zone runs. A positioning failure means "unknown"
    (the mall home still works); a store failure reading the zone's app is the caller's to handle.
    `associated_ap`: the AP the gateway named (cold start: the phone's first probe precedes its reports)."""
    try:
        position = core.locator.locate(venue, client, associated_ap=associated_ap)
    except Exception:  # noqa: BLE001 - the store or the model failed: the home page still works
        log.exception("positioning failed for venue %s", venue)
        return None, None
    zone = landing_zone(position)
    if zone is None:
        return position, None
    return position, core.zone_apps.get(venue, zone)[0]
