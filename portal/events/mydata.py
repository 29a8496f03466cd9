"""The shopper's own data (the privacy centre's shopper side): see, export (JSON) and erase what the mall
holds about them. Only with the shopper token (`c`, or the cookie): a MAC or an IP never opens it; a
phone's location history only for the phone the gateway vouched for (Shopper.own_phone).

    GET  /v/<venue>/my-data                the page: what is held, the export link, the erase button
    GET  /v/<venue>/my-data/export.json    everything held about this shopper, as JSON (audited)
    POST /v/<venue>/my-data/erase          erase it from every store: the event log, presence, moments,
                                           every light app's store (its `forget_shopper` hook), the tokens"""

from __future__ import annotations

import time

import redis
from flask import Blueprint, Flask, abort, jsonify, render_template
from flask_babel import gettext as _

from portal.apps.views import erase_shopper, shopper_data, venue_or_404
from portal.events.log import Event
from portal.services import Services, services
from portal.shopper import Shopper, current_shopper, token_store

bp = Blueprint("mydata", __name__, url_prefix="/v/<venue>/my-data")


def _shopper(venue: str) -> Shopper:
    venue_or_404(venue)
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        abort(403, _("Open this page from the portal's link: it needs your shopper token."))
    return shopper


def is_theirs(shopper: Shopper):
    phone = shopper.own_phone

    def test(event: Event) -> bool:
        return event.shopper == shopper.client or (phone is not None and event.device == phone)

    return test


def held(svc: Services, shopper: Shopper) -> dict:
    theirs = is_theirs(shopper)
    events = [{"kind": e.kind, "at": e.at, "zone": e.zone, **e.data} for e in svc.events.read(shopper.venue)
              if theirs(e)]
    subjects = [s for s in (shopper.client, shopper.own_phone) if s]
    return {"venue": shopper.venue, "shopper": shopper.client, "exported_at": time.time(), "events": events,
            "offers": svc.moments.offers(shopper.venue, subjects), "apps": shopper_data(shopper.venue, shopper.client)}


def erase(svc: Services, shopper: Shopper) -> dict[str, int]:
    """Remove the shopper from every store (and so from every future export)."""
    venue = shopper.venue
    removed = {"events": svc.events.delete_where(venue, is_theirs(shopper))}
    if shopper.own_phone:
        svc.presence.forget(venue, shopper.own_phone)
    removed["moments"] = svc.moments.forget(venue, [s for s in (shopper.client, shopper.own_phone) if s])
    removed.update(erase_shopper(venue, shopper.client))
    removed["tokens"] = token_store().revoke(venue, shopper.client)
    return removed


def moment_offers() -> list[dict]:
    """For every page's template (a Jinja global): the offers waiting for the current shopper or their phone
    (the phone only when the gateway vouched for it). Fails open: no offers."""
    shopper = current_shopper()
    if shopper is None:
        return []
    try:
        return services().moments.offers(shopper.venue, [s for s in (shopper.client, shopper.own_phone) if s])
    except redis.RedisError:
        return []


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["moment_offers"] = moment_offers


@bp.get("")
def page(venue: str):
    shopper = _shopper(venue)
    data = held(services(), shopper)
    return render_template("insights/mydata.html", venue=venue_or_404(venue), data=data)


@bp.get("/export.json")
def export(venue: str):
    shopper = _shopper(venue)
    services().privacy.audit_export(venue, "shopper (self)", "my-data.json", "own data")
    response = jsonify(held(services(), shopper))
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/erase")
def erase_view(venue: str):
    shopper = _shopper(venue)
    removed = erase(services(), shopper)
    services().privacy.audit_export(venue, "shopper (self)", "erasure", f"{sum(removed.values())} records")
    return render_template("insights/erased.html", venue=venue_or_404(venue)), 200
