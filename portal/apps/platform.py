"""Wires the light apps into the Flask app: what `create_app` (portal/bootstrap.py) calls once.

For each app named in the LIGHT_APPS setting: its blueprints (found by convention, portal/apps/registry.py),
its budgets, its store (built once per process), what it provides other apps (portal/apps/capabilities.py), its
optional hook; then the preview's read-only rule over every app's shopper pages (portal/apps/preview.py) and the
helpers every app's templates share. What would otherwise fail only at a shopper's
request (a required app left out, a declared endpoint that does not exist) stops the start instead."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from core.settings import merge_budgets
from portal.apps import budgets, capabilities, preview, registry, views
from portal.services import Services

# Apps the platform and other apps link to by endpoint, so a portal cannot run without them: the mall home
# (`directory.home`: every shopper page's "Mall home", the captive pages, the probe's fallback) and the routes
# it links to (`navigation.route_page`).
REQUIRED_APPS = ("directory", "navigation")
ZONE_ARGUMENTS = frozenset({"venue", "zone"})  # what a declared endpoint is built with


def init_light_apps(flask_app: Flask, svc: Services) -> dict[str, registry.LightApp]:
    apps = registry.load(svc.settings.light_apps)
    _check_required(apps)
    limits = merge_budgets(svc.settings.budgets, {app.name: app.budgets for app in apps.values()})
    budgets.init_budgets(flask_app, svc.db, limits, svc.settings.mac_hash_key)
    stores = flask_app.extensions.setdefault(views.STORES, {})
    for app in apps.values():
        for blueprint in registry.parts(app.name).blueprints:
            flask_app.register_blueprint(blueprint)
        if app.store is not None:
            stores[app.name] = build_store(app.store, svc)
        capabilities.wire(flask_app, app.name, app.provides, stores.get(app.name))
        if app.init_app is not None:
            app.init_app(flask_app)
    for app in apps.values():  # once every app's routes are in: an endpoint may be another blueprint's
        _check_endpoints(flask_app, app)
    preview.init_preview(flask_app, {registry.parts(app.name).shopper_blueprint.name: app for app in apps.values()})
    views.init_shared(flask_app)
    return apps


def _check_required(apps: dict[str, registry.LightApp]) -> None:
    missing = [name for name in REQUIRED_APPS if name not in apps]
    if missing:
        raise RuntimeError(f"LIGHT_APPS must name the apps {', '.join(REQUIRED_APPS)} (the mall home and its routes, "
                           f"which every shopper page links to): add {', '.join(f'lightapps.{m}' for m in missing)}")


def _check_endpoints(flask_app: Flask, app: registry.LightApp) -> None:
    """Each endpoint the app declares is a page whose URL takes (venue, zone), as the platform builds it."""
    for field_name, endpoint in app.zone_endpoints().items():
        if endpoint not in flask_app.view_functions:
            raise RuntimeError(f"light app {app.name}: {field_name}={endpoint!r} names no endpoint (an endpoint is "
                               f"'<blueprint name>.<view function>', e.g. '{app.name}.landing')")
        if not any(_takes_zone(rule) for rule in flask_app.url_map.iter_rules(endpoint)):
            raise RuntimeError(f"light app {app.name}: {field_name}={endpoint!r} has no GET URL taking <venue> and "
                               "<zone> (and nothing else)")


def _takes_zone(rule: Rule) -> bool:
    needed = rule.arguments - set(rule.defaults or ())
    return "GET" in (rule.methods or ()) and rule.arguments >= ZONE_ARGUMENTS and needed <= ZONE_ARGUMENTS


def build_store(store_class: type, svc: Services) -> Any:
    """A store from the process's services (`from_services`), else from the store connection alone."""
    from_services = getattr(store_class, "from_services", None)
    return from_services(svc) if from_services is not None else store_class(svc.db)
