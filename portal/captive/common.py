"""What the captive portal's Flask views and its probe lane (plain WSGI) share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis
from flask import Flask

from core.security import MacHasher
from portal.captive.config import PortalConfigStore
from portal.captive.gateways import ContextSealer
from portal.captive.probe_state import ProbeStateStore
from portal.captive.sessions import SessionStore

MAX_QUERY_BYTES = 4096  # portal URLs come from gateways: tighter than the app-wide limit
MAC_PARAMS = ("client_mac", "clientmac", "mac", "id")  # as the gateways name the client's MAC
STORE_ERRORS = (redis.RedisError, OSError)
# On every portal answer that changes with the phone's state (a probe must be asked again once access is granted).
NO_STORE = {"Cache-Control": "no-store, must-revalidate", "Pragma": "no-cache"}


@dataclass
class CaptiveServices:
    """The portal's own store clients, on a connection with a short timeout: a probe must be answered
    within 100 ms even when the store hangs."""

    sessions: SessionStore
    config: PortalConfigStore
    sealer: ContextSealer
    probe_state: ProbeStateStore
    db: redis.Redis


def captive_services_of(app: Flask) -> CaptiveServices:
    return app.extensions["captive"]


def is_venue_id(venue: str) -> bool:
    return len(venue) <= 64 and venue.replace("-", "").replace("_", "").isalnum()


def client_from_params(hasher: MacHasher, args: Mapping[str, str]) -> str | None:
    """The client id from the first well-formed MAC parameter a gateway passed; None if there is none."""
    for name in MAC_PARAMS:
        raw = args.get(name)
        if raw:
            try:
                return hasher.client_id(raw)
            except ValueError:
                continue
    return None
