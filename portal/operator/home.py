"""The operator console's home page and ingest health."""

from __future__ import annotations

import time

from flask import jsonify, render_template

from portal.auth import current_account
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiStore
from portal.ingest.mist import MistStore
from portal.operator.blueprint import bp, wants_json
from portal.services import services


@bp.get("/<venue>/")
def home(venue: str):
    account = current_account()
    others = [v for v in (account.venue, *account.more_venues) if v != venue]  # an operator of several venues
    return render_template("operator/home.html", venue=venue, account=account, other_venues=others)


@bp.get("/<venue>/health")
def health(venue: str):
    svc = services()
    snapshot = IngestHealth(svc.db).snapshot(venue, time.time(), svc.venues.get_map(venue),
                                             svc.settings.ap_silent_after_s)
    model = svc.models.get(venue)
    # The APs the live positioning model leaves out (silent for AP_SILENT_AFTER_S, or never heard since the
    # feed's run began that long ago: no re-survey needed; models.silent_aps).
    snapshot["masked_aps"] = sorted(model.masked) if model is not None else []
    if wants_json():
        return jsonify(snapshot)
    networks = MerakiStore(svc.db).networks(venue)
    mist = MistStore(svc.db, svc.settings.secret_key)
    webhooks = [(name, mist.get(venue, name) is not None) for name in mist.names(venue)]  # False: another key
    return render_template("operator/health.html", venue=venue, health=snapshot, networks=networks,
                           mist_webhooks=webhooks)

