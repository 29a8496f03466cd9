"""Captive-portal entry: the OS connectivity probes and the gateway's redirect land here, and the
shopper is sent with a 302 to the light app of the zone the positioner places them in."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, redirect, request, url_for

from lightapps import registry
from portal.services import services
from portal.shopper import Shopper, shopper_token

log = logging.getLogger(__name__)
bp = Blueprint("captive", __name__)

# A zone decision below this confidence sends the shopper to the mall home instead.
MIN_ZONE_CONFIDENCE = 0.5

PROBE_PATHS = (
    "/generate_204",
    "/gen_204",
    "/hotspot-detect.html",
    "/library/test/success.html",
    "/success.html",
    "/connecttest.txt",
    "/ncsi.txt",
    "/redirect",
    "/canonical.html",
    "/success.txt",
    "/check_network_status.txt",
)

MAC_PARAMS = ("client_mac", "clientmac", "mac", "id")


def client_from_request() -> str | None:
    """The keyed-hash client id from the gateway's parameters, if it sent the MAC."""
    hasher = services().hasher
    for name in MAC_PARAMS:
        raw = request.args.get(name)
        if raw:
            try:
                return hasher.client_id(raw)
            except ValueError:
                continue
    return None


def landing_url(venue: str, client: str | None) -> str:
    """Where this client's browser should go: its zone's light app, else the mall home."""
    svc = services()
    shopper = Shopper(venue=venue, client=client or "anon-" + secrets.token_hex(8))
    token = shopper_token(shopper)
    if client is not None:
        try:
            position = svc.locator.locate(venue, client)
        except Exception:  # the store or the model is down: fail open to the home page
            log.exception("positioning failed for venue %s", venue)
            position = None
        if position and position.zone and position.zone_confidence >= MIN_ZONE_CONFIDENCE:
            app_name, _ = svc.zone_apps.get(venue, position.zone)
            app = registry.get(app_name)
            if app is not None:
                return url_for(app.landing_endpoint, venue=venue, zone=position.zone, c=token)
    return url_for("directory.home", venue=venue, c=token)


def _probe():
    venue = request.args.get("venue") or services().settings.default_venue
    return redirect(landing_url(venue, client_from_request()), code=302)


for _path in PROBE_PATHS:
    bp.add_url_rule(_path, endpoint="probe" + _path.replace("/", "_").replace(".", "_"), view_func=_probe)


@bp.get("/portal")
def portal_entry():
    """The URL a gateway redirects the shopper's browser to (with its client parameters)."""
    return _probe()


@bp.get("/")
def root():
    return redirect(url_for("directory.home", venue=services().settings.default_venue))
