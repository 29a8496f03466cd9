"""An app installed from a mall's pages opens that mall (its own manifest: name, start, scope and id under its home),
not the VENUE setting's; the offline page is no one's and asks again for the page that failed; `/` opens the mall of
the browser's shopper (an app installed with the generic manifest starts there)."""

from __future__ import annotations

import json
import re

from fingerprints.model import Floor, VenueMap
from portal.shopper import Shopper, token_store

MANIFEST_LINK = re.compile(r'<link rel="manifest" href="([^"]+)">')


def open_north(svc) -> None:
    svc.venues.put_map(VenueMap(id="north", name="North Mall", name_zh="北城", floors=[Floor(0, "G", 50, 30)]))


def shopper_cookie(app, client, venue: str) -> None:
    with app.app_context():
        client.set_cookie("mp_c", token_store().mint(Shopper(venue=venue, client="s-1")))


def manifest_of(client, page: str) -> dict:
    (href,) = MANIFEST_LINK.findall(client.get(page).get_data(as_text=True))
    resp = client.get(href)
    assert resp.status_code == 200 and resp.mimetype == "application/manifest+json", href
    return json.loads(resp.get_data())


def test_each_mall_links_its_own_manifest(client, demo, svc):
    open_north(svc)
    generic = json.loads(client.get("/static/manifest.webmanifest").get_data())
    north, demo_app = manifest_of(client, "/v/north/"), manifest_of(client, "/v/demo/zone/atrium")
    assert north["name"] == "North Mall · 北城" and north["short_name"] == "North Mall"
    assert (north["id"], north["scope"], north["start_url"]) == ("/v/north/", "/v/north/", "/v/north/?source=pwa")
    assert demo_app["id"] == demo_app["scope"] == "/v/demo/" and demo_app["name"] != north["name"]
    assert north["icons"] == generic["icons"] and north["display"] == generic["display"] == "standalone"
    assert client.get(north["start_url"]).status_code == 200
    assert manifest_of(client, "/console/login") == generic  # a page of no mall


def test_the_mall_manifest_is_cached_and_revalidated(client, demo):
    resp = client.get("/pwa/demo/manifest.webmanifest")
    assert resp.cache_control.public and resp.cache_control.max_age >= 600 and "Set-Cookie" not in resp.headers
    again = client.get("/pwa/demo/manifest.webmanifest", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_no_manifest_for_a_mall_that_does_not_exist(client, demo):
    assert client.get("/pwa/nowhere/manifest.webmanifest").status_code == 404
    assert client.get("/pwa/No%20Such/manifest.webmanifest").status_code == 404


def test_the_offline_page_is_no_ones_and_tries_the_failed_page_again(app, client, demo):
    shopper_cookie(app, client, "demo")  # the worker caches the page with the installing shopper's cookie
    page = client.get("/pwa/offline").get_data(as_text=True)
    assert '<a class="button" id="offline-retry" href="">' in page  # the page's own URL: the one that failed
    assert "c=demo." not in page and 'id="hub-nav"' not in page and 'id="privacy-notice"' not in page


def test_root_opens_the_mall_of_the_browsers_shopper(app, client, demo, svc):
    open_north(svc)
    assert client.get("/?source=pwa").headers["Location"] == "/v/demo/"  # no shopper: the VENUE setting's mall
    shopper_cookie(app, client, "north")
    assert client.get("/?source=pwa").headers["Location"] == "/v/north/"
