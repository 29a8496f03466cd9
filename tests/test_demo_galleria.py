"""The Galleria, the realistic demo mall (portal/seed.py): a real mall's shape, loaded idempotently beside
Harbour Light, served by /demo (venue picker, its own radio model, the portal as the clicked phone), run by
the demo operator, off with LOAD_DEMO_GALLERIA=0.

The mall is generated once for this module with a coarse survey: geometry, names and APs do not depend on
the survey, so it is the mall `make run` loads, with fewer reference points (~1 s instead of a few)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from flask import url_for
from shapely.geometry import Polygon

from core.settings import Settings
from lightapps.cinema.store import CinemaStore
from lightapps.parking.store import ParkingStore
from portal import create_app
from portal.apps import registry
from portal.auth import AccountStore
from portal.demo import DEFAULT_PHONE, demo_simulator, is_demo_venue
from portal.ingest.store import RssiKeys
from portal.seed import (
    DEMO_OPERATOR,
    GALLERIA_NAME,
    GALLERIA_VENUE,
    build_galleria,
    ensure_demo_venues,
    ensure_galleria,
)

V = GALLERIA_VENUE


@pytest.fixture(scope="module")
def mall():
    return build_galleria(survey_step_m=9.0, scans=2)


@pytest.fixture
def galleria(app, svc, demo, mall):
    """Harbour Light (the `demo` fixture) and the Galleria, as `make run` leaves the store."""
    with app.app_context():
        assert ensure_galleria(svc, mall) is True
    return svc.venues.get_map(V)


def _centre(zone) -> tuple[float, float]:
    c = Polygon(zone.polygon).representative_point()
    return c.x, c.y


def _store_dump(svc) -> dict:
    return {key: svc.db.dump(key) for key in svc.db.scan_iter(count=1000)}


def test_a_real_malls_shape(mall):
    venue = mall.venue
    assert (venue.name, venue.name_zh) == GALLERIA_NAME
    levels = sorted(f.level for f in venue.floors)
    assert len(levels) >= 4
    car_park = {z.kind for z in venue.zones if z.floor == levels[0]}
    assert "garage" in car_park and car_park <= {"garage", "lobby"}
    assert len(venue.zones) >= 60 and len(venue.aps) >= 40
    kinds = {z.kind for z in venue.zones}
    assert {"shop", "anchor", "stall", "kiosk", "cinema", "restaurant"} <= kinds
    floor_names = {f.level: f.name for f in venue.floors}
    for corridor in (z for z in venue.zones if z.kind == "corridor"):  # named by the floor shoppers see
        assert corridor.name.endswith(" " + floor_names[corridor.floor]) and "走廊" in corridor.name_zh
    # Enterprise density: on every shop floor, APs about every 13 m along the corridor.
    for level in levels[1:]:
        xy = np.array([(ap.x, ap.y) for ap in venue.aps if ap.floor == level])
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        np.fill_diagonal(d, np.inf)
        assert len(xy) >= 8 and np.median(d.min(axis=1)) <= 15.0


def test_loaded_beside_harbour_light_with_apps_token_and_radio(svc, galleria, mall):
    assert galleria.name == GALLERIA_NAME[0] and len(galleria.zones) == len(mall.venue.zones)
    assert svc.venues.exists("demo") and is_demo_venue(svc.db, V) and is_demo_venue(svc.db, "demo")
    apps = svc.zone_apps.all(V)
    for zone in galleria.zones:  # mallgen's choice by zone kind, through the one loader
        assert apps[zone.id][0] == mall.zone_apps[zone.id], zone.id
    token = (svc.settings.data_dir / "secrets" / f"{V}_api_token").read_text()
    assert svc.tokens.source_for(V, token) is not None
    assert (svc.settings.data_dir / "secrets" / f"{V}_meraki_secret").exists()
    # The demo's clicks are heard in the Galleria's radio world, Harbour Light's in the default one.
    sim = demo_simulator(svc.db, galleria)
    assert sim.seed == mall.seed and sim.correlation_m == mall.radio["correlation_m"]
    assert sim.body_db == mall.radio["body_db"] > 0
    for level, losses in mall.wall_losses.items():
        assert list(sim._wall_losses[level]) == losses
    default = demo_simulator(svc.db, svc.venues.get_map("demo"))
    assert default.correlation_m is None and default.body_db == 0
    # A floor whose walls an operator changed since the survey gets the default loss; the others keep theirs.
    changed = galleria.copy()
    changed.floors[1].walls.append((1.0, 1.0, 2.0, 2.0))  # an operator drew a wall since the survey
    sim = demo_simulator(svc.db, changed)
    assert set(sim._wall_losses[1]) == {sim.wall_db} and len(set(sim._wall_losses[2])) > 1


def test_loading_twice_changes_nothing(app, svc, galleria, mall):
    before = _store_dump(svc)
    token = (svc.settings.data_dir / "secrets" / f"{V}_api_token").read_text()
    with app.app_context():
        assert ensure_galleria(svc, mall) is False
        ensure_demo_venues(replace(svc, settings=svc.settings.with_(load_demo=True)))
    assert _store_dump(svc) == before
    assert (svc.settings.data_dir / "secrets" / f"{V}_api_token").read_text() == token


def test_the_setting_turns_it_off(app, svc, demo):
    assert Settings.from_env({"LOAD_DEMO_GALLERIA": "0"}).load_demo_galleria is False
    assert Settings.from_env({}).load_demo_galleria is True
    with app.app_context():
        ensure_demo_venues(replace(svc, settings=svc.settings.with_(load_demo=True, load_demo_galleria=False)))
        ensure_demo_venues(svc)  # LOAD_DEMO=0 (the suite's settings): nothing at all
    assert not svc.venues.exists(V) and not is_demo_venue(svc.db, V)


def test_demo_page_renders_every_floor(client, galleria):
    for floor in galleria.floors:
        html = client.get(f"/demo?venue={V}&floor={floor.level}").get_data(as_text=True)
        assert re.search(r'<nav class="tabs" id="demo-venues"', html)
        assert 'data-venue="demo"' in html and f'data-venue="{V}" aria-current="page"' in html
        assert html.count('<a href="/demo?floor=') == len(galleria.floors)  # the floor tabs stay in this mall
        assert f"venue={V}" in re.search(r'id="plan"[^>]*src="([^"]+)"', html).group(1)
        assert f'action="/demo/spot?venue={V}"' in html
        assert html.count("<tr data-zone=") == len(galleria.zones)
        svg = client.get(f"/demo/plan/{floor.level}.svg?venue={V}")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    # ops runs both malls: listed with the Galleria's console
    assert f'href="/console/ops/{V}/" data-account="{DEMO_OPERATOR}"' in html
    zh = client.get(f"/demo?venue={V}&lang=zh").get_data(as_text=True)
    assert f"{GALLERIA_NAME[1]}：{len(galleria.floors)} 层，{len(galleria.zones)} 个地点" in zh
    # Harbour Light's page keeps its URLs, and offers the Galleria
    html = client.get("/demo?lang=en").get_data(as_text=True)
    assert f'href="/demo?venue={V}" data-venue="{V}"' in html and 'action="/demo/spot"' in html


def test_click_a_spot_and_open_the_portal_as_this_phone(client, galleria):
    cinema = next(z for z in galleria.zones if z.kind == "cinema")
    x, y = _centre(cinema)
    resp = client.post(f"/demo/spot?venue={V}", data={"floor": cinema.floor, "x": f"{x:.1f}", "y": f"{y:.1f}"})
    assert resp.status_code == 303 and f"venue={V}" in resp.location and f"floor={cinema.floor}" in resp.location
    html = client.get(resp.location).get_data(as_text=True)
    assert 'id="estimate"' in html
    portal = re.search(r'id="open-portal" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert f"venue={V}" in portal
    landing = client.get(portal)
    assert landing.status_code == 302 and landing.location.startswith(f"/v/{V}/")
    page = client.get(landing.location)
    assert page.status_code == 200
    assert f'href="/demo?venue={V}" id="back-to-demo"' in page.get_data(as_text=True)


def test_every_app_lands_in_the_galleria(app, client, svc, galleria, mall):
    """One zone of each app the Galleria runs: its landing page works with the apps' demo seeds run."""
    seen = {}
    for zone in galleria.zones:
        seen.setdefault(mall.zone_apps[zone.id], zone.id)
    assert {"parking", "cinema", "queue", "coupons", "membership", "directory"} <= set(seen)
    with app.test_request_context():
        urls = {name: url_for(registry.get(name).landing_endpoint, venue=V, zone=zone) for name, zone in seen.items()}
    for name, url in urls.items():
        assert client.get(url).status_code == 200, (name, url)
    # The seeds that key on a zone's kind found the Galleria's: films in its cinema, bays in its car park.
    assert CinemaStore(svc.db).has_showtimes(V, seen["cinema"])
    bays = ParkingStore(svc.db).bays(V)
    garages = {z.id for z in galleria.zones if z.kind == "garage"}
    assert len(bays) > 100 and {b.zone for b in bays.values()} == garages
    assert ParkingStore(svc.db).states(V)  # a plausible occupancy


def test_bad_demo_venues_are_refused(client, svc, galleria, demo_map):
    assert client.get("/demo?venue=no-such-mall").status_code == 404
    assert client.get("/demo?venue=bad%20id!").status_code == 400
    assert client.get("/demo?venue=" + "x" * 65).status_code == 400
    other = demo_map.copy()
    other.id = "plain"
    svc.venues.put_map(other)  # a venue with a map that is not a demo venue: no simulator there
    assert client.get("/demo?venue=plain").status_code == 404
    assert client.post("/demo/spot?venue=plain", data={"floor": "0", "x": "5", "y": "5"}).status_code == 404
    assert client.get(f"/demo/plan/9.svg?venue={V}").status_code == 404
    assert client.post(f"/demo/spot?venue={V}", data={"floor": "9", "x": "5", "y": "5"}).status_code == 400
    width = galleria.floors[0].width_m
    resp = client.post(f"/demo/spot?venue={V}", data={"floor": "0", "x": str(width + 1), "y": "5"})
    assert resp.status_code == 400
    assert not svc.db.exists(RssiKeys(V).readings(svc.hasher.client_id(DEFAULT_PHONE)))  # nothing stored
    off = create_app(svc.settings.with_(demo=False)).test_client()
    assert off.get(f"/demo?venue={V}").status_code == 404
    assert off.get("/demo?venue=bad%20id!").status_code == 404  # nothing about /demo is told outside demo mode


def test_ops_runs_both_malls_others_do_not(app, client, console, galleria, svc):
    listing = app.test_cli_runner().invoke(args=["users", "list"]).output
    assert f"{DEMO_OPERATOR}\toperator\tdemo,{V}\t-\tdemo password" in listing
    console.login(DEMO_OPERATOR)
    home = client.get(f"/console/ops/{V}/")
    assert home.status_code == 200
    assert 'data-venue="demo"' in home.get_data(as_text=True)  # the way back to the other mall
    assert client.get(f"/console/ops/{V}/owners").status_code == 200
    assert f'data-venue="{V}"' in client.get("/console/ops/demo/").get_data(as_text=True)
    console.logout()
    console.login("cinema")  # an owner of Harbour Light
    assert client.get(f"/console/ops/{V}/").status_code == 403
    assert client.get(f"/console/owner/{V}/").status_code == 403
    console.logout()
    store = AccountStore(svc.db)
    store.create("ops-elsewhere", "a long enough passphrase 42", "operator", "elsewhere")
    console.login("ops-elsewhere", "a long enough passphrase 42")
    assert client.get(f"/console/ops/{V}/").status_code == 403
    store.add_venue(DEMO_OPERATOR, V)
    store.add_venue(DEMO_OPERATOR, "demo")  # its own venue: nothing to add
    assert store.get(DEMO_OPERATOR).more_venues == (V,)
    with pytest.raises(ValueError):
        store.add_venue("cinema", V)
    with pytest.raises(KeyError):
        store.add_venue("nobody", V)
    store.set_zones(DEMO_OPERATOR, ())  # other changes keep the venues
    assert store.get(DEMO_OPERATOR).more_venues == (V,)
