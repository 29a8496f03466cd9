"""Validation walks from the console: upload the route an operator walked (ts,floor,x,y) and the phone's
readings as the APs reported them (ts,ap,rssi); the walk is positioned as the tracker would
(fingerprints.quality.validation_walk) and its result stored per venue (portal.maps.validation) for the
set-up checklist. `flask validation-walk` does the same from the command line.

    /console/ops/<venue>/validation     the last walks; run one"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from fingerprints.quality import read_walk_csv
from portal.auth import audit, current_account
from portal.errors import input_error_text
from portal.maps.validation import ValidationWalks
from portal.operator.blueprint import bp
from portal.operator.mapedit import UPLOAD_MAX_BYTES, load_map
from portal.services import services
from portal.tracking.estimate import validation_walk


def _csv(name: str, what: str) -> tuple[bytes, str]:
    f = request.files.get(name)
    if f is None or not f.filename:
        raise ValueError(_("Choose the %(what)s file.", what=what))
    data = f.read(UPLOAD_MAX_BYTES + 1)
    if len(data) > UPLOAD_MAX_BYTES:
        raise ValueError(_("The file is too large; at most %(mb)s MB.", mb=UPLOAD_MAX_BYTES // 2**20))
    return data, f.filename[:100]


@bp.get("/<venue>/validation")
def validation(venue: str):
    load_map(venue)
    return render_template("operator/validation.html", venue=venue, walks=ValidationWalks(services().db).recent(venue))


@bp.post("/<venue>/validation")
def validation_upload(venue: str):
    svc = services()
    venue_map = load_map(venue)
    try:
        route, route_name = _csv("route", _("route CSV"))
        readings, readings_name = _csv("readings", _("readings CSV"))
        window_s = svc.settings.rssi_window_s
        # with the venue: a point off its floors or plans, or readings none of its APs made during the walk,
        # are refused here (naming the line), before anything is scored or recorded
        walk = validation_walk(venue_map, *read_walk_csv(route, readings, venue_map, window_s), window_s=window_s)
    except ValueError as exc:
        # read_walk_csv names the uploads by these words (it reads bytes): said in the page's language
        label = {"route CSV": _("route CSV"), "readings CSV": _("readings CSV")}.get(getattr(exc, "field", None))
        flash(_("The walk was not recorded. %(e)s", e=input_error_text(exc, label)), "error")
        return render_template("operator/validation.html", venue=venue,
                               walks=ValidationWalks(svc.db).recent(venue)), 400
    entry = ValidationWalks(svc.db).record(venue, walk, current_account().username, f"{route_name} + {readings_name}")
    audit("validation.walk", venue, points=entry["points"], version=entry["version"])
    flash(_("Validation walk recorded: %(n)s route points (%(u)s not placed), right zone %(z)s.", n=entry["points"],
            u=walk.not_placed, z=f"{(entry['zone_rate'] or 0):.0%}"))
    return redirect(url_for("operator.validation", venue=venue), code=303)
