"""Moments for a zone owner: rules about entering or staying in the owner's zones, with an offer or a
notification (webhooks are the operator's), how often each fired and what it would have hit yesterday.

    GET  /console/owner/<venue>/moments                     the rules about the owner's zones and the form
    POST /console/owner/<venue>/moments                     a new rule (about one of the owner's zones only; at
                                                            most MAX_RULES_PER_OWNER of the owner's, and the
                                                            venue's MAX_RULES_PER_VENUE: 422 when full)
    POST /console/owner/<venue>/moments/<rule>/active       pause (active=0) or resume (active=1) one's own rule
    POST /console/owner/<venue>/moments/<rule>/delete       delete one's own rule

A rule someone else made (another owner, the operator) is shown but not changed here: 403 (404 for none).
The owner's own rules about a zone the operator took away (paused then: portal/operator/owners.py) are listed
too, marked, without their counts (the zone is no longer the owner's to look into): they still count towards
MAX_RULES_PER_OWNER, so the owner may delete them, but never resume them (403).
How many notifications one shopper gets from all the venue's rules a day is the "moments.notify" budget."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from portal.auth import Account, audit, current_account, login_required
from portal.events.moments import MAX_RULES_PER_OWNER, RuleError, parse_rule
from portal.operator.mapedit import zone_names
from portal.operator.moments import rules_page, too_many_rules
from portal.owner.views import _venue_map_for, bp, managed_zones
from portal.services import services


def _owner_zones(venue: str) -> tuple[Account, object, list[str]]:
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    zones = [z.id for z in managed_zones(account, venue_map)]
    if not zones:
        abort(403, _("You do not manage this zone."))
    return account, venue_map, zones


def _rule_owner(account: Account) -> str | None:
    """Whose rules this account changes here: an owner only their own; an operator any of the venue's."""
    return None if account.role == "operator" else account.username


@bp.route("/<venue>/moments", methods=["GET", "POST"])
@login_required()
def moments(venue: str):
    account, venue_map, zones = _owner_zones(venue)
    engine = services().moments
    error = None
    if request.method == "POST":
        try:
            rule = parse_rule(request.form, zones=[z.id for z in venue_map.zones], owner=account.username,
                              may_webhook=False, owner_zones=zones)
        except RuleError as exc:
            error = exc
        else:
            verdict = engine.add(venue, rule, owner_most=0 if account.role == "operator" else MAX_RULES_PER_OWNER)
            if verdict == "OK":
                audit("moments.create", venue, rule=rule.id, zone=rule.zone, trigger=rule.trigger, then=rule.action)
                flash(_("Rule saved: it acts on events from now on."))
                return redirect(url_for("owner.moments", venue=venue), code=303)
            error = too_many_rules(verdict)
    rules = engine.rules(venue)
    mine = [r for r in rules if r.zone in zones]
    names = zone_names(venue_map)
    owner = _rule_owner(account)
    return rules_page("owner/moments.html", venue_map, mine, status=422 if error else 200, error=error,
                      actions=("offer", "notify"), account=account, venue_obj=venue_map,
                      zone_choices=[(z, names.get(z, z)) for z in zones],
                      changeable={r.id for r in mine if owner is None or r.owner == owner},
                      gone=[r for r in rules if r.owner == owner and r.zone not in zones],
                      max_rules=MAX_RULES_PER_OWNER)


def _refused(verdict: str):
    if verdict == "NONE":
        abort(404, _("No such rule."))
    if verdict == "NOT_YOURS":
        abort(403, _("This rule is not yours to change."))
    if verdict == "ZONE":
        abort(403, _("This rule is about a zone you no longer manage: it stays paused. You may delete it."))


@bp.post("/<venue>/moments/<rule_id>/active")
@login_required()
def moment_active(venue: str, rule_id: str):
    account, _map, zones = _owner_zones(venue)
    active = request.form.get("active") == "1"
    # resumed only about a zone the owner still runs (a zone taken away paused its rules: portal/operator/owners.py)
    _refused(services().moments.set_active(venue, rule_id[:16], active, owner=_rule_owner(account), zones=zones))
    audit("moments.active", venue, rule=rule_id[:16], active=active)
    flash(_("Rule resumed.") if active else _("Rule paused."))
    return redirect(url_for("owner.moments", venue=venue), code=303)


@bp.post("/<venue>/moments/<rule_id>/delete")
@login_required()
def moment_delete(venue: str, rule_id: str):
    account, _map, _zones = _owner_zones(venue)
    _refused(services().moments.delete(venue, rule_id[:16], owner=_rule_owner(account)))
    audit("moments.delete", venue, rule=rule_id[:16])
    flash(_("Rule deleted."))
    return redirect(url_for("owner.moments", venue=venue), code=303)
