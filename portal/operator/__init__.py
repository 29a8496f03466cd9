"""The operator console (the mall's IT / facilities): one venue per operator account.

    /console/ops/<venue>/         links to the operator pages
    /console/ops/<venue>/health   ingest health: reports/s per source, last report per AP, silent APs
                                  (HTML; JSON with Accept: application/json)"""

from __future__ import annotations

import time

from flask import Blueprint, abort, jsonify, render_template, request
from flask_babel import gettext as _

from portal.auth import current_account, login_required, protect_console
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiStore
from portal.services import services

bp = protect_console(Blueprint("operator", __name__, url_prefix="/console/ops"))


def require_operator_venue(venue: str) -> None:
    """The logged-in operator runs this venue (login_required("operator") has run), else 403."""
    account = current_account()
    if account is None or account.venue != venue:
        abort(403, _("You do not operate this venue."))
    if not services().venues.exists(venue) and request.endpoint != "operator.home":
        abort(404, _("Unknown venue."))  # the home page of a new venue (no map yet) links to its first draft


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


@bp.get("/<venue>/")
@login_required("operator")
def home(venue: str):
    require_operator_venue(venue)
    return render_template("operator/home.html", venue=venue, account=current_account())


@bp.get("/<venue>/health")
@login_required("operator")
def health(venue: str):
    require_operator_venue(venue)
    svc = services()
    snapshot = IngestHealth(svc.db).snapshot(venue, time.time(), svc.venues.get_map(venue),
                                             svc.settings.ap_silent_after_s)
    if wants_json():
        return jsonify(snapshot)
    networks = MerakiStore(svc.db).networks(venue)
    return render_template("operator/health.html", venue=venue, health=snapshot, networks=networks)


from portal.operator import footfall, opening, quality, surveys, venue_setup, versions  # noqa: E402,F401 - register routes
