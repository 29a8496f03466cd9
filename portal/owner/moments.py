"""Moments for a zone owner: rules about entering or staying in the owner's zones, with an offer or a
notification (webhooks are the operator's), how often each fired and what it would have hit yesterday.

    GET  /console/owner/<venue>/moments     the owner's rules and the form
    POST /console/owner/<venue>/moments     a new rule (about one of the owner's zones only)"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from portal.auth import audit, current_account, login_required
from portal.events.moments import RuleError, parse_rule
from portal.operator.mapedit import zone_names
from portal.operator.moments import rules_page
from portal.owner.views import _venue_map_for, bp, managed_zones
from portal.services import services


@bp.route("/<venue>/moments", methods=["GET", "POST"])
@login_required()
def moments(venue: str):
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    zones = [z.id for z in managed_zones(account, venue_map)]
    if not zones:
        abort(403, _("You do not manage this zone."))
    engine = services().moments
    error = None
    if request.method == "POST":
        try:
            rule = parse_rule(request.form, zones=[z.id for z in venue_map.zones], owner=account.username,
                              may_webhook=False, owner_zones=zones)
        except RuleError as exc:
            error = exc
        else:
            engine.save(venue, rule)
            audit("moments.create", venue, rule=rule.id, zone=rule.zone, trigger=rule.trigger, then=rule.action)
            flash(_("Rule saved: it acts on events from now on."))
            return redirect(url_for("owner.moments", venue=venue), code=303)
    mine = [r for r in engine.rules(venue) if r.zone in zones]
    names = zone_names(venue_map)
    return rules_page("owner/moments.html", venue_map, mine, status=422 if error else 200, error=error,
                      actions=("offer", "notify"), account=account, venue_obj=venue_map,
                      zone_choices=[(z, names.get(z, z)) for z in zones])
