"""The installable web app: manifest, icons, service worker at scope /, offline page; registered on
the mall home only, and not in the captive mini-browser."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import pytest
from PIL import Image

from core.settings import PROJECT_ROOT
from tests.browsers import BROWSER_TIMEOUT_MS

CAPTIVE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Mobile/15E148")
REGISTER = 'navigator.serviceWorker.register("/sw.js")'


def test_manifest_fields(client):
    resp = client.get("/static/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    manifest = json.loads(resp.get_data())
    assert manifest["name"] and manifest["short_name"]
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/") and manifest["scope"] == "/"
    assert manifest["theme_color"] == "#112233" and manifest["background_color"]
    sizes = {icon["sizes"] for icon in manifest["icons"] if "any" in icon.get("purpose", "any")}
    assert {"192x192", "512x512"} <= sizes


def test_icons_are_pngs_of_the_declared_sizes(client):
    manifest = json.loads(client.get("/static/manifest.webmanifest").get_data())
    for icon in manifest["icons"]:
        resp = client.get(icon["src"])
        assert resp.status_code == 200 and resp.mimetype == "image/png"
        image = Image.open(io.BytesIO(resp.get_data()))
        assert image.format == "PNG"
        assert f"{image.width}x{image.height}" == icon["sizes"]
    touch = Image.open(PROJECT_ROOT / "static" / "icons" / "apple-touch-icon.png")
    assert touch.size == (180, 180) and touch.mode == "RGB"  # opaque: iOS rounds the corners itself


def test_start_url_leads_to_the_mall_home(client, demo):
    manifest = json.loads(client.get("/static/manifest.webmanifest").get_data())
    resp = client.get(manifest["start_url"])
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/v/demo/")


def test_service_worker_is_served_at_the_root(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in resp.headers["Cache-Control"]
    body = resp.get_data(as_text=True)
    assert '"/pwa/offline"' in body and "addEventListener(\"fetch\"" in body


def test_offline_page(client):
    resp = client.get("/pwa/offline")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "You are offline" in html and "您已离线" in html


def test_mall_home_links_the_manifest_and_registers_the_worker(client, demo):
    html = client.get("/v/demo/").get_data(as_text=True)
    assert '<link rel="manifest" href="/pwa/demo/manifest.webmanifest">' in html  # the mall's: test_pwa_venues.py
    assert '<meta name="theme-color" content="#112233">' in html
    assert 'rel="apple-touch-icon"' in html
    assert REGISTER in html


def test_worker_is_registered_on_the_mall_home_only(client, demo):
    assert REGISTER not in client.get("/v/demo/zone/atrium").get_data(as_text=True)
    assert REGISTER not in client.get("/console/login").get_data(as_text=True)


def test_captive_mini_browser_gets_no_worker_and_no_manifest(client, demo):
    html = client.get("/v/demo/", headers={"User-Agent": CAPTIVE_UA}).get_data(as_text=True)
    assert REGISTER not in html
    assert 'rel="manifest"' not in html
    assert "theme-color" in html


# ---- in a real Chromium ----------------------------------------------------------------------------


@pytest.mark.browser
def test_service_worker_registers_on_the_mall_home(live_server, page):
    page.goto(live_server.url + "/v/demo/")
    scope = page.evaluate("""async (timeoutMs) => {
        const ready = await Promise.race([navigator.serviceWorker.ready,
                                          new Promise(r => setTimeout(() => r(null), timeoutMs))]);
        const reg = await navigator.serviceWorker.getRegistration();
        return reg && ready ? reg.scope : null;
    }""", BROWSER_TIMEOUT_MS)  # the suite's browser timeout, not 10 s: a busy machine may take longer
    assert scope == live_server.url + "/"
    manifest = page.evaluate("""async () => {
        const link = document.querySelector('link[rel=manifest]');
        return await (await fetch(link.href)).json();
    }""")
    assert manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}


@pytest.mark.browser
def test_chromium_finds_the_app_installable(live_server, page):
    page.goto(live_server.url + "/v/demo/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    app_manifest = cdp.send("Page.getAppManifest")
    assert urlsplit(app_manifest["url"]).path == "/pwa/demo/manifest.webmanifest"
    assert app_manifest["errors"] == []
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's browser contexts are incognito profiles, where Chromium never offers installing;
    # every other check (manifest fields, icons, start_url, service worker) must pass.
    errors = [e for e in errors if e["errorId"] != "in-incognito"]
    assert errors == [], errors


@pytest.mark.browser
def test_offline_page_is_shown_when_the_network_is_gone(second_server, page):
    # The server itself stops (its port refuses) rather than the browser emulating offline: with the
    # emulation, a loaded machine once got the real page back (the worker's own fetch apparently went out
    # before the emulation reached it).
    url, stop_server = second_server
    page.goto(url + "/v/demo/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    assert page.evaluate("!!navigator.serviceWorker.controller")
    stop_server()
    page.goto(url + "/v/demo/?q=kopi")
    assert "You are offline" in page.inner_text("#offline-title")
    # shown at the page's own URL: "Try again" asks for that page again, in its mall (not "/", the default one)
    assert page.eval_on_selector("#offline-retry", "a => a.href") == url + "/v/demo/?q=kopi"
    assert page.eval_on_selector("header.top", "el => getComputedStyle(el).display") == "flex"  # portal.css came


@pytest.mark.browser
def test_no_worker_in_the_captive_mini_browser(live_server, iphone_page):
    iphone_page.goto(live_server.url + "/v/demo/")
    registered = iphone_page.evaluate("""async () => !!(navigator.serviceWorker &&
        await navigator.serviceWorker.getRegistration())""")
    assert registered is False
