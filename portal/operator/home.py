"""The operator console's home page and ingest health."""

from __future__ import annotations

import time

from flask import jsonify, render_template

from portal.auth import current_account, login_required
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiStore
from portal.operator.blueprint import bp, require_operator_venue, wants_json
from portal.services import services


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

