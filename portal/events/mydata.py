"""The shopper's own data (the privacy centre's shopper side): see, export (JSON) and erase what the mall
holds about them. Only with the shopper token (`c`, or the cookie): a MAC or an IP never opens it; a
phone's location history only for the phone the gateway vouched for (Shopper.own_phone).

    GET  /v/<venue>/my-data                the page: what is held, the export link, the erase button
    GET  /v/<venue>/my-data/export.json    everything held about this shopper, as JSON (audited)
    POST /v/<venue>/my-data/erase          erase it from every store: the event log, presence, moments,
                                           every light app's store (its `forget_shopper` hook), the tokens"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import redis
from flask import Blueprint, Flask, abort, jsonify, render_template
from flask_babel import gettext as _

from portal.apps.views import erase_shopper, shopper_data, venue_or_404
from portal.events.log import Event
from portal.hub.keep import KeepStore
from portal.ingest.store import RssiKeys
from portal.notify.contacts import ContactStore
from portal.notify.erasure import forget_shopper as forget_notifications
from portal.notify.outbox import Job, NotifyKeys, Outbox
from portal.notify.sms import dev_sms, mask_phone
from portal.services import Services, services
from portal.shopper import Shopper, current_shopper, token_store
from portal.tracking.footfall import FootfallKeys
from portal.tracking.positions import TrackKeys

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
    apps = shopper_data(shopper.venue, shopper.client)
    if orders := svc.payments.store.export_shopper(shopper.venue, shopper.client):
        apps["payments"] = orders
    member = (apps.get("membership") or {}).get("member")
    people = ["s:" + shopper.client, *(["p:" + shopper.own_phone] if shopper.own_phone else []),
              *(["m:" + str(member)] if member else [])]
    deliveries = [{"at": d.created, "rule": d.rule, "action": d.action, "status": d.status, **json.loads(d.body)}
                  for d in svc.moments.deliveries_naming(shopper.venue, people)]
    return {"venue": shopper.venue, "shopper": shopper.client, "exported_at": time.time(), "events": events,
            "offers": svc.moments.offers(shopper.venue, subjects), "moments": deliveries,
            "notifications": notifications(svc, shopper.venue, shopper.client), "consent": _consent(svc, shopper),
            "apps": apps}


def notifications(svc: Services, venue: str, shopper: str) -> dict:
    """What the notifications hold for the shopper: the number for texts and the browsers for push (the
    contact), the messages not delivered yet (queued, scheduled, given up on) and the development sender's
    copies. The export holds the number in full; pages show `masked`."""
    contact = ContactStore(svc.db, svc.settings.phone_key).get(venue, shopper)
    outbox, keys = Outbox(svc.db), NotifyKeys(venue)
    queued = [job for _id, fields in svc.db.xrange(keys.stream()) if (job := _job(fields.get(b"job")))
              and job.shopper == shopper]
    queued += [job for raw in svc.db.hvals(keys.jobs()) if (job := _job(raw)) and job.shopper == shopper]
    queued += [letter.job for letter in outbox.dead_letters(venue, limit=10_000) if letter.job.shopper == shopper]
    return {"phone": contact.phone, "masked": mask_phone(contact.phone) if contact.phone else None,
            "push": [{"id": sid, **sub} for sid, sub in contact.push.items()],
            "lang": contact.lang if contact.phone or contact.push else None,
            "messages": [{"id": job.id, "event": job.event, "created": job.created, "channel": job.channel,
                          "data": job.data} for job in queued],
            "texts_sent": dev_sms(svc.db, venue, shopper)}


def _job(raw: bytes | None) -> Job | None:
    try:
        return Job.from_json(raw) if raw else None
    except (TypeError, ValueError, KeyError):
        return None


def _consent(svc: Services, shopper: Shopper) -> dict | None:
    record = svc.consent.get(shopper.venue, shopper.client)
    return None if record is None else asdict(record)


def erase(svc: Services, shopper: Shopper) -> dict[str, int]:
    """Remove the shopper from every store (and so from every future export): the event log (their events,
    their verified phone's, their member's), presence, moments, every light app's store, payments (orders
    unlinked), notifications (contact, queued messages), consent, tokens, keep links. (Abuse counters are keyed hashes
    that expire with their window: they name nobody.)"""
    venue, client = shopper.venue, shopper.client
    member = (shopper_data(venue, client).get("membership") or {}).get("member")
    theirs = is_theirs(shopper)
    removed = {"events": svc.events.delete_where(
        venue, lambda e: theirs(e) or (member is not None and str(e.data.get("member")) == str(member)))}
    if shopper.own_phone:
        svc.presence.forget(venue, shopper.own_phone)
        removed["phone"] = forget_phone(svc.db, venue, shopper.own_phone)
    removed["moments"] = svc.moments.forget(venue, [s for s in (client, shopper.own_phone) if s],
                                            members=[member] if member else [])
    removed.update(erase_shopper(venue, client))
    removed["payments"] = svc.payments.store.forget_shopper(venue, client)
    removed["notify"] = forget_notifications(svc.db, svc.settings.phone_key, venue, client)
    removed["consent"] = svc.consent.forget(venue, client)
    removed["tokens"] = token_store().revoke(venue, client)
    # After the tokens: a keep link issued before erasure would otherwise open the erased id again.
    removed["keep"] = KeepStore(svc.db).forget_shopper(venue, client)
    return removed


def forget_phone(db: redis.Redis, venue: str, phone: str) -> int:
    """The phone's hot state: its readings (and those its source timed ahead of now), motion state, kept
    position and open footfall visit (the footfall's counts are HyperLogLogs and sums: they hold no client id)."""
    track, footfall = TrackKeys(venue), FootfallKeys(venue)
    removed = sum(int(db.delete(key)) for key in (RssiKeys(venue).readings(phone), RssiKeys(venue).ahead(phone),
                                                  track.track(phone), track.last_position(phone)))
    pipe = db.pipeline(transaction=True)
    pipe.hdel(footfall.open_visits(), phone)
    pipe.zrem(footfall.open_by_time(), phone)
    return removed + sum(int(n) for n in pipe.execute())


def moment_offers() -> list[dict]:
    """For every page's template (a Jinja global): the offers waiting for the current shopper or their phone
    (the phone only when the gateway vouched for it), only while she agrees to them (`offers_for`). Fails
    closed: no offers."""
    shopper = current_shopper()
    if shopper is None:
        return []
    try:
        return services().moments.offers_for(shopper.venue, shopper.client, shopper.own_phone)
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
