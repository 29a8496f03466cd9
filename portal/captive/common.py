"""What the captive portal's Flask views and its probe lane (plain WSGI) share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis
from flask import Flask

from core.security import MacHasher
from core.store_health import STORE_ERRORS, StoreBreaker, VenueBreakers
from portal.captive.config import PortalConfigStore
from portal.captive.gateways import ContextSealer, gateway_macs
from portal.captive.landing import Landing
from portal.captive.sessions import SessionStore
from portal.captive.unifi import SiteVenues
from portal.captive.wifidog import WiFiDogTickets

# Portal URLs come from gateways: openNDS builds redirects of up to 8 kB (a long original URL, base64
# in `fas`), so 12 kB; the app-wide limit (portal/errors.py QueryStringGuard) is above it.
MAX_QUERY_BYTES = 12 * 1024
# On every portal answer that changes with the phone's state (a probe must be asked again once access is granted).
NO_STORE = {"Cache-Control": "no-store, must-revalidate", "Pragma": "no-cache"}

__all__ = ["MAX_QUERY_BYTES", "NO_STORE", "STORE_ERRORS", "CaptiveServices", "ap_from_params", "captive_services_of",
           "client_and_ap_from_params", "client_from_params"]


@dataclass
class CaptiveServices:
    """The portal's stores, on the app's one store connection, behind the store breaker (one per venue on a
    cluster): while a venue's breaker is open every portal path for that venue fails open at once."""

    sessions: SessionStore
    config: PortalConfigStore
    sealer: ContextSealer
    landing: Landing
    breaker: StoreBreaker | VenueBreakers  # .for_venue(venue): the app's one breaker, or the venue's own on a cluster
    db: redis.Redis
    portal_url: str  # scheme://host for absolute URLs; "" = the request's host (development)
    direct_mode: str  # "honest" or "gateway" (settings.direct_mode)
    tickets: WiFiDogTickets  # WiFiDog's one-time tokens, between Continue and the gateway's auth call
    unifi_sites: SiteVenues  # the venue a UniFi redirect's path names by its site (/guest/s/<site>/)


def captive_services_of(app: Flask) -> CaptiveServices:
    return app.extensions["captive"]


def client_from_params(hasher: MacHasher, args: Mapping[str, str]) -> str | None:
    """The client id from the MAC the gateway passed (gateways.gateway_macs); None if there is none."""
    return client_and_ap_from_params(hasher, args)[0]


def ap_from_params(args: Mapping[str, str]) -> str | None:
    """The associated AP's BSSID (normalised) from the gateway's parameters; None if none."""
    return gateway_macs(args)[1]


def client_and_ap_from_params(hasher: MacHasher, args: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Both at once (the probe lane: one pass over the parameters)."""
    raw, ap = gateway_macs(args)
    return (hasher.client_id(raw) if raw else None), ap
