"""The landing page only."""

from __future__ import annotations

from portal.apps.views import zone_app_blueprint
from tests.fixtures_apps.cards import APP

bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>/cards", off_message=lambda: "Not on in this zone.")


@bp.get("/<zone>")
def landing(venue: str, zone: str):
    return "<p>Your card</p>"
