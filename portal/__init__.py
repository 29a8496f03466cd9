"""MallPortal: the Flask application."""

from __future__ import annotations

import logging

from flask import Flask

from portal.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Settings come from the environment unless given; with no REDIS_URL the caller
    (portal.serve, or the tests) must have started a server and passed its URL."""
    from lightapps import registry
    from portal import api, auth, captive, demo, errors, headers, i18n, shopper
    from portal.services import Services
    from portal.storage import connect

    settings = settings or Settings.from_env()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: start through `make run` (embedded Valkey) or set it")
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_report_bytes,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        PREFERRED_URL_SCHEME=settings.preferred_url_scheme,
        # Set, not setdefault: Flask's own defaults (SameSite None, not Secure) are already in the config.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    app.extensions["mallportal"] = Services.build(settings, connect(settings.redis_url))
    shopper.init_shopper(app, app.extensions["mallportal"].db, settings.shopper_token_ttl_s, settings.secure_cookies)
    i18n.init_i18n(app)
    errors.register_error_handlers(app)
    headers.init_security_headers(app)
    auth.init_auth(app)
    app.jinja_env.globals.update(shopper_url=shopper.shopper_url, current_shopper=shopper.current_shopper,
                                 current_shopper_token=shopper.current_shopper_token)
    captive.init_captive(app)
    for blueprint in (api.bp, demo.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(__import__("portal.operator", fromlist=["bp"]).bp)  # the operator console
    app.register_blueprint(__import__("portal.owner", fromlist=["bp"]).bp)  # the zone-owner console, /sw.js
    for light_app in registry.discover().values():
        app.register_blueprint(light_app.blueprint)
        if light_app.init_app:
            light_app.init_app(app)
    # Outermost first: refuse bad query strings, then answer OS probes before Flask (portal/captive/lane.py).
    app.wsgi_app = errors.QueryStringGuard(captive.ProbeLane(app, app.wsgi_app))
    from portal import cli

    cli.register(app)
    from portal import map_cli

    map_cli.register(app)
    return app
