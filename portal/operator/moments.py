"""Moments in the operator console: rules for the whole venue (webhooks included), each with how often it
fired and how many phones it would have hit yesterday; the delivery log, searchable, with replay.

    GET  /console/ops/<venue>/moments?rule=&status=&q=      rules, the form, the delivery log
    POST /console/ops/<venue>/moments                       a new rule (the form's fields)
    POST /console/ops/<venue>/moments/<rule>/active         active=1|0
    POST /console/ops/<venue>/moments/replay/<delivery>     send a delivery again"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.auth import audit, current_account
from portal.events.moments import ACTIONS, TIERS, TRIGGERS, RuleError, parse_rule, preview
from portal.events.report import LOOKBACK_DAYS, day_bounds, shown, venue_staff, venue_tz
from portal.operator.blueprint import bp
from portal.operator.insights import zone_names
from portal.operator.mapedit import load_map
from portal.services import services
from portal.tracking.footfall import today

STATUSES = ("queued", "retrying", "delivered", "failed", "offered", "notified", "skipped")


def yesterday_previews(venue_map, rules) -> dict[str, object]:
    """rule id -> Preview over yesterday (the venue's zone), from one read of the log, counted over what the
    insights count: staff phones (detected, or on the operator's list) and events of shoppers without
    location consent left out (README "Insights and moments"). The page shows its counts through
    report.shown (k-anonymous: "<5"), never raw."""
    svc = services()
    tz = venue_tz(svc, venue_map)
    since, until = day_bounds(today(tz) - timedelta(days=1), tz)
    events = list(svc.events.read(venue_map.id, since=since - LOOKBACK_DAYS * 86400, until=until))
    staff = venue_staff(svc, venue_map.id, events, since, tz)
    allowed = svc.privacy.allowed(venue_map.id)
    counted = [e for e in events if e.device not in staff and (allowed is None or allowed(e))]
    return {r.id: preview(r, counted, since, until, tz) for r in rules}


def rules_page(template: str, venue_map, rules, *, status: int = 200, error: RuleError | None = None, **extra):
    engine = services().moments
    return render_template(
        template, venue=venue_map.id, map=venue_map, rules=rules, fired=engine.fired(venue_map.id),
        previews=yesterday_previews(venue_map, rules), shown=shown, names=zone_names(venue_map), triggers=TRIGGERS,
        actions=extra.pop("actions", ACTIONS), tiers=TIERS, error=error, form=request.form, **extra), status


@bp.route("/<venue>/moments", methods=["GET", "POST"])
def moments(venue: str):
    venue_map = load_map(venue)
    engine = services().moments
    error = None
    if request.method == "POST":
        try:
            rule = parse_rule(request.form, zones=[z.id for z in venue_map.zones], owner=current_account().username,
                              may_webhook=True)
        except RuleError as exc:
            error = exc
        else:
            engine.save(venue, rule)
            audit("moments.create", venue, rule=rule.id, trigger=rule.trigger, then=rule.action)
            flash(_("Rule saved: it acts on events from now on."))
            return redirect(url_for("operator.moments", venue=venue), code=303)
    args = request.args
    deliveries = engine.deliveries(venue, rule=args.get("rule", "")[:16], status=args.get("status", "")[:16],
                                   text=args.get("q", "")[:100])
    return rules_page("operator/moments.html", venue_map, engine.rules(venue), status=422 if error else 200,
                      error=error, deliveries=deliveries, statuses=STATUSES, secret=engine.webhook_secret(venue))


@bp.post("/<venue>/moments/<rule_id>/active")
def moment_active(venue: str, rule_id: str):
    load_map(venue)
    if not services().moments.set_active(venue, rule_id[:16], request.form.get("active") == "1"):
        abort(404, _("No such rule."))
    audit("moments.active", venue, rule=rule_id[:16], active=request.form.get("active") == "1")
    return redirect(url_for("operator.moments", venue=venue), code=303)


@bp.post("/<venue>/moments/replay/<delivery_id>")
def moment_replay(venue: str, delivery_id: str):
    load_map(venue)
    if not services().moments.replay(venue, delivery_id[:32]):
        abort(404, _("No such delivery."))
    audit("moments.replay", venue, delivery=delivery_id[:32])
    flash(_("Sent again."))
    return redirect(url_for("operator.moments", venue=venue), code=303)
