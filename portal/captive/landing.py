"""Where a phone lands: the light app of its zone when the positioner is confident, else the mall home.
Shared by the probe lane (plain WSGI, portal/captive/lane.py) and the Flask views (gateway entry, CAPPORT),
so both build the same page; each builds the URL its own way."""

from __future__ import annotations

import logging

from portal.apps import registry
from portal.locate import Position
from portal.services import Services

log = logging.getLogger(__name__)

MIN_ZONE_CONFIDENCE = 0.5  # a zone decision below this sends the shopper to the mall home instead
HOME = "directory.home"


def landing_page(venue: str, position: Position | None, app_name: str | None) -> tuple[str, dict[str, str]]:
    """(endpoint, URL values) of the landing page for a phone at `position` in a zone running `app_name`."""
    if position is not None and position.zone and position.zone_confidence >= MIN_ZONE_CONFIDENCE:
        app = registry.get(app_name or "")
        if app is not None:
            return app.landing_endpoint, {"venue": venue, "zone": position.zone}
    return HOME, {"venue": venue}


def locate_with_app(core: Services, venue: str, client: str) -> tuple[Position | None, str | None]:
    """Position the client now, and the app its zone runs. A positioning failure means "unknown"
    (the mall home still works); a store failure reading the zone's app is the caller's to handle."""
    try:
        position = core.locator.locate(venue, client)
    except Exception:  # noqa: BLE001 - the store or the model failed: the home page still works
        log.exception("positioning failed for venue %s", venue)
        return None, None
    if position is None or not position.zone:
        return position, None
    return position, core.zone_apps.get(venue, position.zone)[0]
