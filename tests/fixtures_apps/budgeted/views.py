"""One page, and one action that spends the app's own budget before it does anything."""

from __future__ import annotations

from portal.apps.budgets import spend_budget
from portal.apps.views import zone_app_blueprint
from tests.fixtures_apps.budgeted import APP

bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>/budgeted", off_message=lambda: "Not on in this zone.")


@bp.get("/<zone>")
def landing(venue: str, zone: str):
    return "<p>Take one</p>"


@bp.post("/<zone>/take")
def take(venue: str, zone: str):
    spend_budget("budgeted.take", venue, shopper="the-same-shopper")
    return "<p>Taken</p>"
