"""Map versions: list them, roll back (announced to the map listeners like any change: audited, model
rebuilt, see portal/maps/builds.py; the zones the version rolled back to lacks are released, and the ones it brings
back said to come back bare: zone_release), and the model's build status."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.memo import BoundedMemo
from fingerprints.store import MapBusyError
from portal.auth import audit
from portal.errors import input_error_text
from portal.maps import builds
from portal.operator.blueprint import bp
from portal.operator.mapedit import release_and_warn
from portal.operator.venue_setup import RELEASE_FIELD, ZonesInUse, refuse_unconfirmed_release
from portal.operator.zone_release import named_zones, zone_ids
from portal.services import services


def model_state(venue: str, db=None) -> dict:
    return builds.model_state(venue, db or services().db)


def start_rebuild(venue: str, version: int | None = None) -> bool:
    return builds.start_rebuild(current_app._get_current_object(), venue, version)


def wait_for_model(venue: str, version: int, timeout_s: float = 30.0, db=None) -> dict:
    return builds.wait_for_model(venue, version, db or services().db, timeout_s)


# Counts per stored version: versions never change, so they are memoised (read raw, not through the
# VenueStore, so that its small cache of parsed maps keeps the current one).
_summaries = BoundedMemo(5000)


@bp.get("/<venue>/versions")
def versions(venue: str, confirm: dict | None = None):
    """`confirm`: a refused rollback ({"version", "zones"}), offered again with the checkbox that releases them."""
    svc = services()
    current = svc.venues.current_version(venue)
    # a build lost with its process (a CLI killed mid-fit): claimed in one step, so one worker restarts it
    state = builds.restart_if_lost(current_app._get_current_object(), venue, current, model_state(venue))
    rows, parsed = [], 0
    for v in sorted(set(svc.venues.versions(venue)), reverse=True)[:200]:
        summary = _summaries.peek((venue, v))
        if summary is None and parsed < 12:  # a few new ones per view: each is a whole map to parse
            summary = _summaries.get((venue, v), lambda v=v: svc.venues.version_counts(venue, v))
            parsed += 1
        rows.append({"version": v, "map": summary})
    return render_template("operator/versions.html", venue=venue, current=current, rows=rows, state=state,
                           confirm=confirm, release_field=RELEASE_FIELD)


@bp.post("/<venue>/versions/rollback")
def rollback(venue: str):
    svc = services()
    raw = request.form.get("version", "")
    try:
        version = int(raw)
        before = zone_ids(svc.venues.get_map(venue))
        target = svc.venues.get_map(venue, version)
        if target is None:
            raise KeyError(version)
        refuse_unconfirmed_release(venue, before, zone_ids(target))
        svc.venues.set_current(venue, version)  # audited and rebuilt by the map listeners
    except ZonesInUse as exc:
        flash(_("Map version %(v)s was not made current: it lacks zones in use (managed by owners, with an app set "
                "up or with moments rules): %(zones)s. Rolling back to it would release them: take them from their "
                "owner accounts, drop their apps and settings and delete their moments rules. To go on, tick "
                "\"Release these zones\" below and make it current again.", v=version, zones=named_zones(exc.zones)),
              "error")
        return versions(venue, confirm={"version": version, "zones": exc.zones}), 409
    except MapBusyError as exc:  # the version exists: another change holds the map
        flash(input_error_text(exc), "error")
        return versions(venue), 409
    except (ValueError, KeyError):
        flash(_("There is no map version %(v)s.", v=raw[:12]), "error")
        return versions(venue), 400
    flash(_("Map version %(v)s is current again; the model is being rebuilt.", v=version))
    # a zone the rolled-back-to version lacks leaves the map like any other (zone_release)
    release_and_warn(venue, restored=zone_ids(target) - before)
    return redirect(url_for("operator.versions", venue=venue), code=303)


@bp.post("/<venue>/versions/rebuild")
def rebuild(venue: str):
    start_rebuild(venue)
    audit("model.rebuild", venue, version=services().venues.current_version(venue))
    return redirect(url_for("operator.versions", venue=venue), code=303)
