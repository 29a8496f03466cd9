"""No cache keeps a page of one person (portal/headers.py `cache_control`): consoles, shopper pages and the
captive pages show personal data and bearer secrets (the `c` token in every link, coupon codes, keep
links), so they answer `Cache-Control: no-store`; static files, media and a plan image keep their caching."""

from __future__ import annotations

import re
import time

import pytest
from flask import Response

from lightapps.coupons.store import CouponStore
from portal.headers import cache_control
from portal.shopper import new_shopper, token_store


@pytest.fixture
def shopper_pages(app, svc, demo):
    """A shopper with a claimed coupon, and the pages that show it or the shopper's other things."""
    who = new_shopper("demo")
    with app.app_context():
        token = token_store(app).mint(who)
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Cached?", "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 3600})
    code = coupons.claim("demo", "kopi", coupon.id, who.client).code
    paths = [f"/v/demo/coupons/mine/{code}", "/v/demo/coupons/mine", "/v/demo/me", "/v/demo/member",
             "/v/demo/activities/mine", "/v/demo/my-data", "/v/demo/cinema/cinema", "/v/demo/queue/foodcourt",
             "/v/demo/parking/garage", "/v/demo/", "/v/demo/zone/kopi/coupons", "/portal/status"]
    return token, code, paths


def test_shopper_pages_are_never_cached(client, shopper_pages):
    token, code, paths = shopper_pages
    for path in paths:
        resp = client.get(f"{path}?c={token}")
        assert resp.status_code == 200, path
        assert "no-store" in resp.headers["Cache-Control"], path
    assert code in client.get(f"/v/demo/coupons/mine?c={token}").get_data(as_text=True)


def test_shopper_redirects_and_errors_are_never_cached(client, shopper_pages):
    token, _, _ = shopper_pages
    claim = client.post("/v/demo/zone/kopi/coupons/nope/claim", data={"c": token})
    assert claim.status_code >= 400 and claim.headers["Cache-Control"] == "no-store"
    slash = client.get(f"/v/demo?c={token}")  # the URL map's own redirect carries the token on
    assert slash.status_code in (301, 308) and slash.headers["Cache-Control"] == "no-store"


def _console(app, username: str):
    browser = app.test_client()
    page = browser.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = browser.post("/console/login", data={"username": username, "password": "mallportal-demo",
                                                "csrf_token": csrf})
    assert resp.status_code == 303 and resp.headers["Cache-Control"] == "no-store"
    return browser


@pytest.mark.parametrize(("username", "paths"), [
    ("ops", ("/console/ops/demo/", "/console/ops/demo/owners", "/console/login")),
    ("kopi", ("/console/owner/demo/", "/console/apps/coupons/demo/kopi/")),
    ("foodcourt", ("/console/apps/queue/demo/foodcourt/",)),
])
def test_console_pages_are_never_cached(app, demo, username, paths):
    browser = _console(app, username)
    for path in paths:
        resp = browser.get(path)
        assert resp.status_code in (200, 302), path
        assert "no-store" in resp.headers["Cache-Control"], path


def test_static_files_images_and_probes_keep_their_caching(client, demo):
    static = client.get("/static/portal.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    plan = client.get("/v/demo/plan/0.svg")  # the floor plan, the same for everyone: its view's caching
    assert plan.status_code == 200 and plan.headers["Cache-Control"] == "public, max-age=300"
    probe = client.get("/generate_204")
    assert "no-store" in probe.headers["Cache-Control"]


@pytest.mark.parametrize(("path", "mimetype", "status", "given", "wanted"), [
    ("/v/demo/me", "text/html", 200, None, "no-store"),
    ("/v/demo/me", "text/html", 200, "public, max-age=60", "no-store"),  # a page: never a weaker one
    ("/v/demo/route", "application/json", 200, "private", "no-store"),
    ("/capport/api", "application/captive+json", 200, "private, no-store", None),
    ("/console/x", "text/html", 200, "no-store, must-revalidate", None),  # a stricter one stays
    ("/console/x/plan.png", "image/png", 200, "private, max-age=86400", None),  # a versioned image
    ("/console/x/report.csv", "text/csv", 200, None, "no-store"),
    ("/v/demo/out/x", "text/html", 302, "public, max-age=60", "no-store"),
    ("/portal/status", "text/html", 200, None, "no-store"),
    ("/static/portal.css", "text/css", 200, None, None),
    ("/media/demo/x/y.webp", "image/webp", 200, "public, max-age=31536000, immutable", None),
    ("/sw.js", "text/javascript", 200, "no-cache", None),
])
def test_the_rule(path, mimetype, status, given, wanted):
    resp = Response("", status=status, mimetype=mimetype, headers={"Cache-Control": given} if given else {})
    assert cache_control(path, resp) == wanted

