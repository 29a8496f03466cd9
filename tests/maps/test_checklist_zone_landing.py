"""The checklist's "Zones and their apps" step (portal/maps/checklist.py:_zones) on a new venue.

The reviewer's case: the step wanted an app chosen for every zone, which only a zone owner can do, so a venue
with corridors, lobbies and car parks (no owner) could not pass it without fake owner accounts. A zone with
no app chosen lands on the mall directory (what the probe's landing really does, checked here too); the step
says how many do, and fails only for a map with no zones or a zone whose app this portal does not run."""

from __future__ import annotations

import html
import re

import pytest

from fingerprints.model import Floor, VenueMap, Zone
from portal.auth import AccountStore
from portal.tracking import Position

H = "/console/ops/harbour"


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def harbour(zones: bool = True) -> VenueMap:
    """One floor: a corridor, a lobby, a car park (no owner for any) and two shops."""
    venue_map = VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[Floor(0, "L0", 60.0, 30.0)])
    if zones:
        venue_map.zones = [Zone("mall-0", "Mall", "商场", 0, rect(0, 10, 60, 20), "corridor"),
                           Zone("lobby", "Lobby", "大堂", 0, rect(0, 0, 10, 10), "atrium"),
                           Zone("park", "Car park", "停车场", 0, rect(10, 0, 30, 10), "garage"),
                           Zone("kopi", "Kopi", "咖啡", 0, rect(30, 0, 45, 10), "food"),
                           Zone("toys", "Toys", "玩具", 0, rect(45, 0, 60, 10), "shop")]
    return venue_map


@pytest.fixture
def harbour_ops(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def zones_step(client) -> tuple[str, str]:
    page = html.unescape(client.get(H + "/checklist?lang=en").get_data(as_text=True))
    item = re.search(r'<li id="step-zones" class="(\w+)">(.*?)</li>\s*(?:<li id="step-|</ol>)', page, re.S)
    assert item, page
    return item.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item.group(2)))


def landing_of(app, zone: str) -> str:
    """The endpoint the probe's landing sends a phone standing in `zone` of harbour to."""
    landing = app.extensions["captive"].landing
    position = Position(0, 5.0, 5.0, zone, 0.95, 0.95)
    return landing.page_for("harbour", position, landing.zone_app("harbour", zone))[0]


def test_zones_with_no_app_land_on_the_directory_and_pass(app, client, harbour_ops, svc):
    svc.venues.put_map(harbour())
    state, words = zones_step(client)
    assert state == "done", words
    assert "5 zones: 0 with an app chosen for them, 5 on the mall directory" in words
    assert {landing_of(app, z) for z in ("mall-0", "lobby", "park", "kopi")} == {"directory.landing"}
    svc.zone_apps.set("harbour", "kopi", "queue", {})  # an owner chose the queue for the café
    state, words = zones_step(client)
    assert state == "done" and "5 zones: 1 with an app chosen for them, 4 on the mall directory" in words
    assert landing_of(app, "kopi") == "queue.landing" and landing_of(app, "mall-0") == "directory.landing"


def test_a_zone_whose_app_is_not_running_fails_the_step(app, client, harbour_ops, svc):
    svc.venues.put_map(harbour())
    svc.zone_apps.set("harbour", "toys", "toyshop", {})  # an app this portal's LIGHT_APPS leave out
    state, words = zones_step(client)
    assert state == "todo", words
    assert "zone toys: its app toyshop is not one this portal runs (LIGHT_APPS)" in words
    assert "mall-0" not in words and "lobby" not in words  # the zones with no app are no gap
    assert landing_of(app, "toys") == "directory.home"  # what the step warns of: the mall home, not the zone


def test_a_map_with_no_zones_fails_the_step(client, harbour_ops, svc):
    svc.venues.put_map(harbour(zones=False))
    state, words = zones_step(client)
    assert state == "todo" and "The map has no zones" in words and "Draw zones" in words
    assert 'href="/console/ops/harbour/setup/floor/0?tool=zone"' in client.get(H + "/checklist").get_data(as_text=True)
