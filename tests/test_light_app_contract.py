"""Adding a light app is one folder and one line in settings: a tiny app from tests/ goes through the same
contract as the eight under lightapps/ (portal/apps/registry.py, docs/ARCHITECTURE.md)."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.apps import registry
from portal.apps.views import STORES
from portal.captive.landing import landing_page
from portal.locate import Position
from portal.seed import ensure_demo_mall

HELLO = "tests.fixtures_apps.hello"


@pytest.fixture
def hello_app(settings, db, demo_map, monkeypatch):
    # The registry is process-wide: give it back as it was, so other tests see only the eight apps.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_PARTS", dict(registry._PARTS))
    app = create_app(settings.with_(light_apps=(*settings.light_apps, HELLO)))
    with app.app_context():
        ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    return app


def test_the_app_named_in_settings_is_wired_by_convention(hello_app):
    hello = registry.get("hello")
    assert hello is not None and hello.landing_endpoint == "hello.landing"
    assert "hello" in hello_app.blueprints  # views.bp, found without being named
    assert type(hello_app.extensions[STORES]["hello"]).__name__ == "HelloStore"
    assert hello_app.extensions["mallportal"].zone_apps.get("demo", "books")[0] == "hello"  # demo.seed ran


def test_its_landing_page_is_served_with_the_zone_config(hello_app):
    client = hello_app.test_client()
    assert client.get("/v/demo/hello/books").get_data(as_text=True).endswith("visit 1</p>")
    hello_app.extensions["mallportal"].zone_apps.set("demo", "books", "hello", {"greeting": "Welcome"})
    page = client.get("/v/demo/hello/books")
    assert page.status_code == 200
    assert page.get_data(as_text=True).startswith("<p>Welcome from ")
    assert page.get_data(as_text=True).endswith("visit 2</p>")  # one store per process, shared by requests


def test_its_pages_are_404_where_it_is_off_or_the_zone_is_unknown(hello_app):
    client = hello_app.test_client()
    off = client.get("/v/demo/hello/kopi")
    assert off.status_code == 404 and "Hello is not on in this zone." in off.get_data(as_text=True)
    assert client.get("/v/demo/hello/nowhere").status_code == 404
    assert client.get("/v/nowhere/hello/books").status_code == 404


def test_a_phone_in_its_zone_lands_on_it(hello_app):
    position = Position(floor=0, x=1.0, y=1.0, zone="books", confidence=0.9, zone_confidence=0.9)
    assert landing_page("demo", position, "hello") == ("hello.landing", {"venue": "demo", "zone": "books"})


def test_an_app_that_is_not_named_is_not_loaded(app):
    assert "hello" not in app.blueprints


def test_a_name_without_an_app_is_refused(settings, db):
    with pytest.raises(RuntimeError, match="defines no APP"):
        create_app(settings.with_(light_apps=(*settings.light_apps, "tests.fixtures_apps")))
