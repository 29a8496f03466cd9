"""MallPortal: the host platform (captive portal, ingest, consoles, the light-app platform in `portal.apps`).

The app is assembled in one place, `portal/bootstrap.py` (the composition root); `create_app` is
re-exported here so `from portal import create_app` and `gunicorn wsgi:app` keep working."""

from portal.bootstrap import build_services, create_app

__all__ = ["build_services", "create_app"]
