"""Shared by the parking tests: the demo mall with its bays but no occupancy, events, tokens."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

import pytest

from lightapps.parking.demo import demo_bays
from lightapps.parking.store import ParkingStore
from portal.apps.registry import get as get_app

VENUE = "demo"
API = "/api/v1/venues/demo/parking"
LANDING = "/v/demo/parking/garage"


@pytest.fixture(name="garage")
def garage_fixture(app, svc, demo_map) -> str:
    """The demo mall's map (no fingerprint samples) as venue "demo", the parking app on zone "garage",
    the demo bays defined and nothing reported on them yet; returns an API token for the venue."""
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    svc.venues.put_map(venue_map)
    svc.zone_apps.set(VENUE, "garage", "parking", get_app("parking").default_config())
    svc.zone_apps.set(VENUE, "kopi", "coupons", {})
    ParkingStore(svc.db).put_bays(VENUE, demo_bays(venue_map))
    return svc.tokens.issue(VENUE, "parking-tests", scopes=["parking"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bay(bay_id: str, status: str, ts: float | None = None) -> dict:
    return {"type": "bay", "bay": bay_id, "status": status, "ts": time.time() if ts is None else ts}


def plate(plate_text: str, bay_id: str, ts: float | None = None) -> dict:
    return {"type": "plate", "plate": plate_text, "bay": bay_id, "ts": time.time() if ts is None else ts}


def exit_(plate_text: str, ts: float | None = None) -> dict:
    return {"type": "exit", "plate": plate_text, "ts": time.time() if ts is None else ts}


def post_events(client, token: str, *events, expect: int = 200):
    resp = client.post(f"{API}/events", json={"events": list(events)}, headers=auth(token))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def find(client, plate_text: str, token: str | None = None, ip: str = "127.0.0.1", **extra):
    """POST a lookup as a shopper; returns the response (303 to the result page, or 4xx)."""
    data = {"plate": plate_text, **extra}
    if token:
        data["c"] = token
    return client.post(f"{LANDING}/find", data=data, environ_base={"REMOTE_ADDR": ip})


def find_page(client, plate_text: str, token: str | None = None, ip: str = "127.0.0.1") -> str:
    resp = find(client, plate_text, token, ip)
    assert resp.status_code == 303, resp.status_code
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def verify(client, location: str, hour_start: int, ip: str = "127.0.0.1"):
    """The second factor of a whole-plate lookup: POST the hour the car came in (its start, epoch s)."""
    path, _q, query = location.partition("?")
    return client.post(f"{path}/verify?{query}", data={"hour": str(hour_start)}, environ_base={"REMOTE_ADDR": ip})


def find_verified_page(client, plate_text: str, token: str | None = None) -> str:
    """A whole-plate lookup of a car parked just now, verified with the hour it came in."""
    resp = find(client, plate_text, token)
    assert resp.status_code == 303, resp.status_code
    location = resp.headers["Location"]
    now = time.time()
    for start in (int(now // 3600 * 3600), int(now // 3600 * 3600) - 3600):  # (an hour just turned)
        if verify(client, location, _local_hour(start)).status_code == 303:
            break
    page = client.get(location)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _local_hour(epoch_s: float) -> int:
    return int(datetime.fromtimestamp(epoch_s).replace(minute=0, second=0, microsecond=0).timestamp())


def shopper_c(app, client_id: str = "shopper-1") -> str:
    from portal.shopper import Shopper, shopper_token

    with app.app_context():
        return shopper_token(Shopper(VENUE, client_id, phone=client_id, phone_verified=True))
