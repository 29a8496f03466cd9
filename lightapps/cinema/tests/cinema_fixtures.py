"""The cinema tests' shared fixtures: `store`, `token`, and `mall`, a light stand-in for the `demo` fixture for
tests that need the demo mall's zones but no console accounts: `demo` hashes a dozen argon2 passwords per test,
which makes a parametrized test slow."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest

from lightapps.cinema.store import CinemaStore
from portal.apps.registry import get as get_app
from portal.shopper import Shopper, shopper_token

ZONE_APPS = {"cinema": "cinema", "kopi": "coupons", "garage": "parking"}


@pytest.fixture(name="mall")
def mall_fixture(app, svc, demo_map) -> str:
    """The demo mall's map (without fingerprint samples) as venue "demo", the cinema app on zone
    "cinema", other apps on a few other zones; returns an API token for the venue."""
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    svc.venues.put_map(venue_map)
    for zone, name in ZONE_APPS.items():
        light_app = get_app(name)
        svc.zone_apps.set("demo", zone, name, light_app.default_config() if light_app else {})
    return svc.tokens.issue("demo", "cinema-tests", scopes=["cinema"])


@pytest.fixture(name="store")
def store_fixture(svc) -> CinemaStore:
    return CinemaStore(svc.db)


@pytest.fixture(name="token")
def token_fixture(app):
    """token(client_id) -> a shopper token of the demo venue, one per shopper, as a browser keeps the one its
    links carry."""
    @functools.cache
    def make(client_id: str = "shopper-1") -> str:
        with app.test_request_context():
            return shopper_token(Shopper("demo", client_id))
    return make
