"""The landing page: the zone's greeting (its config, defaults filled in) and how many visits it had."""

from __future__ import annotations

from flask import g
from markupsafe import escape

from portal.apps.views import app_store, zone_app_blueprint
from tests.fixtures_apps.hello import APP

bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>/hello",
                        off_message=lambda: "Hello is not on in this zone.")


@bp.get("/<zone>")
def landing(venue: str, zone: str):
    visits = app_store(APP).visit(venue, zone)
    return f"<p>{escape(g.app_config['greeting'])} from {escape(g.zone.name)}, visit {visits}</p>"
