"""Adding a light app is one folder and one line in settings: a tiny app from tests/ goes through the same
contract as the ones under lightapps/ (portal/apps/registry.py, docs/ARCHITECTURE.md). What every app with a
store owes beyond that is checked on every app loaded, so a new app's author is told: its store's cluster rerun
(tests/cluster/store_paths.py) and its erasure hooks (tests/events/test_erasure_everywhere.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from portal import create_app
from portal.apps import registry
from portal.apps.views import STORES
from portal.captive.common import captive_services_of
from portal.seed import ensure_demo_mall
from portal.tracking import Position

HELLO = "tests.fixtures_apps.hello"
CLUSTER_TESTS = Path(__file__).resolve().parent / "cluster"
# How the platform exports and erases a shopper's data in each app (portal/apps/views.py shopper_data,
# erase_shopper); it skips a store without them, so a store that keeps none says so: `keeps_shopper_data = False`.
ERASURE_HOOKS = ("export_shopper", "forget_shopper")


def app_stores(flask_app: Flask) -> dict[str, Any]:
    """Each loaded app's own store (LightApp.store), by app name; not the helpers an app adds beside it
    ("activities.sale"), which its own store's hooks answer for."""
    return {name: store for name, store in flask_app.extensions[STORES].items() if registry.get(name) is not None}


def keeps_shopper_data(store: Any) -> bool:
    """What the store declares; keeping is the default."""
    return getattr(store, "keeps_shopper_data", True) is not False


def erasure_gaps(stores: Mapping[str, Any]) -> list[str]:
    """The apps whose store may keep a shopper's data but lacks a hook the platform exports or erases it with."""
    return sorted(name for name, store in stores.items() if keeps_shopper_data(store)
                  and not all(callable(getattr(store, hook, None)) for hook in ERASURE_HOOKS))


def missing_cluster_reruns(stores: Mapping[str, Any], folder: Path = CLUSTER_TESTS) -> list[str]:
    """The apps whose store no `test_cluster_<app>_store.py` reruns on the cluster (a rerun of its own package's
    store tests, tests/cluster/store_paths.py)."""
    missing = []
    for name, store in stores.items():
        package = type(store).__module__.rpartition(".")[0]
        path = folder / f"test_cluster_{name}_store.py"
        if not path.exists() or f'rerun(globals(), "{package}.' not in path.read_text():
            missing.append(name)
    return sorted(missing)


@pytest.fixture
def hello_app(settings, db, demo_map, monkeypatch):
    # The registry is process-wide: give it back as it was, so other tests see only the apps of settings.
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
    landing = captive_services_of(hello_app).landing
    assert landing.page_for("demo", position, "hello") == ("hello.landing", {"venue": "demo", "zone": "books"})


def test_an_app_that_is_not_named_is_not_loaded(app):
    assert "hello" not in app.blueprints


def test_a_name_without_an_app_is_refused(settings, db):
    with pytest.raises(RuntimeError, match="defines no APP"):
        create_app(settings.with_(light_apps=(*settings.light_apps, "tests.fixtures_apps")))


def test_every_app_store_exports_and_forgets_a_shopper(app):
    gaps = erasure_gaps(app_stores(app))
    assert app_stores(app) and not gaps, (f"{gaps}: give the store export_shopper(venue, client) -> dict and "
                                          "forget_shopper(venue, client) -> int, or `keeps_shopper_data = False`")


def test_every_app_store_is_rerun_on_the_cluster(app):
    missing = missing_cluster_reruns(app_stores(app))
    assert app_stores(app) and not missing, (f"{missing}: write tests/cluster/test_cluster_<app>_store.py, a "
                                             "rerun of the app's store tests (tests/cluster/store_paths.py)")


def test_a_new_app_is_told_what_its_store_lacks(hello_app, monkeypatch):
    """The tiny app's store counts visits (nothing of a shopper's), but it says neither that nor how to forget
    a shopper, and no cluster test reruns it: both checks name it, and only it. Said, it passes the first."""
    stores = app_stores(hello_app)
    assert erasure_gaps(stores) == ["hello"]
    assert missing_cluster_reruns(stores) == ["hello"]
    monkeypatch.setattr(type(stores["hello"]), "keeps_shopper_data", False, raising=False)
    assert erasure_gaps(stores) == []
