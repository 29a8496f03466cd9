"""The operator console's home page and ingest health."""

from __future__ import annotations

import time

from flask import jsonify, render_template

from portal.auth import current_account
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiStore
from portal.operator.blueprint import bp, wants_json
from portal.services import services


@bp.get("/<venue>/")
def home(venue: str):
    return render_template("operator/home.html", venue=venue, account=current_account())


@bp.get("/<venue>/health")
def health(venue: str):
    svc = services()
    snapshot = IngestHealth(svc.db).snapshot(venue, time.time(), svc.venues.get_map(venue),
                                             svc.settings.ap_silent_after_s)
    if wants_json():
        return jsonify(snapshot)
    networks = MerakiStore(svc.db).networks(venue)
    return render_template("operator/health.html", venue=venue, health=snapshot, networks=networks)

