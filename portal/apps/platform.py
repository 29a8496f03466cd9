"""Wires the light apps into the Flask app: what `create_app` (portal/bootstrap.py) calls once.

For each app named in the LIGHT_APPS setting: its blueprints (found by convention, portal/apps/registry.py),
its store (built once per process), what it provides other apps (portal/apps/capabilities.py), its
optional hook; then the helpers every app's templates share."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.apps import budgets, capabilities, registry, views
from portal.services import Services


def init_light_apps(flask_app: Flask, svc: Services) -> dict[str, registry.LightApp]:
    apps = registry.load(svc.settings.light_apps)
    budgets.init_budgets(flask_app, svc.db, svc.settings.budgets, svc.settings.mac_hash_key)
    stores = flask_app.extensions.setdefault(views.STORES, {})
    for app in apps.values():
        for blueprint in registry.parts(app.name).blueprints:
            flask_app.register_blueprint(blueprint)
        if app.store is not None:
            stores[app.name] = build_store(app.store, svc)
        capabilities.wire(flask_app, app.name, app.provides, stores.get(app.name))
        if app.init_app is not None:
            app.init_app(flask_app)
    views.init_shared(flask_app)
    return apps


def build_store(store_class: type, svc: Services) -> Any:
    """A store from the process's services (`from_services`), else from the store connection alone."""
    from_services = getattr(store_class, "from_services", None)
    return from_services(svc) if from_services is not None else store_class(svc.db)
