"""Moments in the operator console: rules for the whole venue (webhooks included), each with how often it
fired and how many phones it would have hit yesterday; the delivery log, searchable, with replay.

    GET  /console/ops/<venue>/moments?rule=&status=&q=      rules, the form, the delivery log
    POST /console/ops/<venue>/moments                       a new rule (the form's fields)
    POST /console/ops/<venue>/moments/<rule>/active         active=1|0
    POST /console/ops/<venue>/moments/replay/<delivery>     send a delivery again

"Would have hit yesterday" (`preview_cells`): exact (k-safe) for the operator; for a zone owner in buckets
(`PREVIEW_BUCKETS`), since an owner picks a rule's hours, dwell and tiers freely: two rules for 15-16h and 15-17h
showing 5 and 6 phones told that exactly one shopper entered between 16:00 and 17:00, each count k-safe alone.
Two buckets differ only where the counts straddle a bound, and then say the difference lies somewhere from 1 to a
bucket's width (at least 10, twice k), never that it is one shopper; a step of the dwell threshold likewise never
gives one shopper's dwell. An owner sees no preview of a zone it did not manage all of yesterday (another tenant's
shoppers: portal/auth.py `held_spans`)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import N_
from portal.auth import Account, accounts, audit, current_account
from portal.events.insights import k_safe
from portal.events.moments import (
    ACTIONS,
    MAX_RULES_PER_OWNER,
    MAX_RULES_PER_VENUE,
    TIERS,
    TRIGGERS,
    RuleError,
    parse_rule,
    preview,
    purposes,
)
from portal.events.report import LOOKBACK_DAYS, day_bounds, label, shown, venue_staff, venue_tz
from portal.operator.blueprint import bp
from portal.operator.mapedit import load_map, zone_names
from portal.services import services
from portal.tracking.footfall import today

STATUSES = ("queued", "retrying", "delivered", "failed", "offered", "notified", "skipped")
# A zone owner's preview counts: below the first bound, or between two (module docstring); widths at least 2 k.
PREVIEW_BUCKETS = (10, 20, 50, 100, 200, 500, 1000)


def labels() -> dict[str, str]:
    """The rules' and deliveries' ids as the console shows them (triggers, actions, tiers, statuses, the
    form's fields), in the page's language."""
    return {
        "arrive": _("arrives at the mall"), "zone_enter": _("enters a zone"), "dwell": _("stays in a zone"),
        "leave": _("leaves the mall"), "return": _("comes back"), "first_visit": _("first visit"),
        "offer": _("an offer on their next page"), "notify": _("a notification"), "webhook": _("a webhook"),
        "alert": _("an occupancy alert"),
        "silver": _("Silver"), "gold": _("Gold"), "platinum": _("Platinum"),
        "queued": _("queued"), "retrying": _("retrying"), "delivered": _("delivered"), "failed": _("failed"),
        "offered": _("offered"), "notified": _("notified"), "skipped": _("skipped"), "alerted": _("alerted"),
        "no consent": _("no consent"),
        "name": _("Name"), "trigger": _("When"), "zone": _("Zone"), "dwell_min": _("Dwell at least (min)"),
        "return_days": _("Back after at least (days)"), "hour_from": _("From hour"), "hour_to": _("To hour"),
        "action": _("Then"), "message_en": _("Message (English)"), "webhook_url": _("Webhook URL"),
        "cap_per_day": _("At most per phone per day"), "cooldown_h": _("Cooldown (hours)"),
        "budget": _("Budget (0: none)"), "alert_url": _("Alert address"),
    }


def too_many_rules(verdict: str) -> RuleError:
    """MomentsEngine.add's refusal (VENUE, OWNER) as the form's error: delete a rule first."""
    if verdict == "OWNER":
        return RuleError("", N_("You have %(n)d rules, the most a zone owner may have: delete one first."),
                         n=MAX_RULES_PER_OWNER)
    return RuleError("", N_("This venue has %(n)d rules, the most it may have: delete one first."),
                     n=MAX_RULES_PER_VENUE)


def rule_error(exc: RuleError) -> str:
    """A RuleError in the page's language: its catalog message, the field named by its label."""
    label = labels().get(exc.field, exc.field)
    message = _(exc.template, **{"label": label, **exc.params})
    if "%(label)s" in exc.template or not exc.field:  # the label once, never twice; none for the whole form
        return message
    return f"{label}: {message}"


def _yesterday(venue_map) -> tuple[float, float, str]:
    """Yesterday in the venue's zone, as (since, until, the zone)."""
    tz = venue_tz(services(), venue_map)
    return (*day_bounds(today(tz) - timedelta(days=1), tz), tz)


def yesterday_previews(venue_map, rules) -> dict[str, object]:
    """rule id -> Preview over yesterday (the venue's zone), from one read of the log, counted over what the
    insights count: staff phones (detected, or on the operator's list) left out, and for the rules that need
    location consent (`purposes`) the events of shoppers without it (README "Insights and moments"); only
    the hits the engine could make (a known shopper who agrees to the rule's purposes, through the engine's
    own consent check). The page shows its counts through report.shown (k-anonymous: "<5"), never raw."""
    svc = services()
    since, until, tz = _yesterday(venue_map)
    events = list(svc.events.read(venue_map.id, since=since - LOOKBACK_DAYS * 86400, until=until))
    staff = venue_staff(svc, venue_map.id, events, since, tz)
    allowed = svc.privacy.allowed(venue_map.id)
    counted = [e for e in events if e.device not in staff]
    # Location consent filters only the rules that need it: first visit / return need marketing alone, which
    # preview's may_reach asks (filtering them too dropped the shoppers who agreed to marketing only).
    located = [e for e in counted if allowed is None or allowed(e)]
    return {r.id: preview(r, located if "location" in purposes(r) else counted, since, until, tz,
                          venue=venue_map.id, consent=svc.moments.consent) for r in rules}


def bucket(n: int) -> str:
    """A count as a zone owner's preview shows it: the `PREVIEW_BUCKETS` range it falls in."""
    if n < PREVIEW_BUCKETS[0]:
        return _("fewer than %(n)d", n=PREVIEW_BUCKETS[0])
    for lo, hi in zip(PREVIEW_BUCKETS, PREVIEW_BUCKETS[1:], strict=False):
        if n < hi:
            return _("%(lo)d–%(hi)d", lo=lo, hi=hi - 1)
    return _("%(n)d or more", n=PREVIEW_BUCKETS[-1])


def owner_fired(count: int, people: int) -> str:
    """How often a rule fired, as a zone owner sees it: k-safe over the people behind it (one phone's many firings
    stay "<5"), then in the previews' ranges (`bucket`), as two rules' counts, or one rule's from one visit of the
    page to the next, would otherwise tell one shopper's firing apart."""
    safe = k_safe(count, phones=people)
    return bucket(count) if safe else label(safe)


def preview_cells(venue_map, rules, owner: Account | None) -> dict[str, str]:
    """rule id -> its "would have hit yesterday" as the page shows it: for the operator (`owner` None) k-safe
    counts, for a zone owner buckets, and nothing of a zone it did not manage all of yesterday (module docstring)."""
    previews = yesterday_previews(venue_map, rules)
    since, until, _tz = _yesterday(venue_map)
    cells, phones_word, times_word = {}, _("phones"), _("times")  # not in the f-string: no extractor reads it
    for r in rules:
        p = previews[r.id]
        if owner is None:
            phones, fires = shown(p.phones), shown(p.fires, p.phones)
        elif not accounts().held_during(owner, r.zone, since, until):
            cells[r.id] = _("— (you did not manage this zone all of yesterday)")
            continue
        else:
            phones, fires = bucket(p.phones), bucket(p.fires)
        cells[r.id] = f"{phones} {phones_word}, {fires} {times_word}"
    return cells


def rules_page(template: str, venue_map, rules, *, status: int = 200, error: RuleError | None = None, **extra):
    engine = services().moments
    owner = None if request.blueprint == "operator" else current_account()  # as the template's operator_view
    return render_template(
        template, venue=venue_map.id, map=venue_map, rules=rules, fired=engine.fired(venue_map.id),
        fired_people=engine.fired_people(venue_map.id, [r.id for r in rules]),
        preview_cells=preview_cells(venue_map, rules, owner), shown=shown, owner_fired=owner_fired,
        names=zone_names(venue_map),
        triggers=TRIGGERS,
        actions=extra.pop("actions", ACTIONS), tiers=TIERS, error=rule_error(error) if error else None,
        form=request.form, labels=labels(), **extra), status


@bp.route("/<venue>/moments", methods=["GET", "POST"])
def moments(venue: str):
    venue_map = load_map(venue)
    engine = services().moments
    error = None
    if request.method == "POST":
        try:
            rule = parse_rule(request.form, zones=[z.id for z in venue_map.zones], owner=current_account().username,
                              may_webhook=True, allow_private=services().settings.webhook_allow_private)
        except RuleError as exc:
            error = exc
        else:
            if engine.add(venue, rule) == "OK":
                audit("moments.create", venue, rule=rule.id, trigger=rule.trigger, then=rule.action)
                flash(_("Rule saved: it acts on events from now on."))
                return redirect(url_for("operator.moments", venue=venue), code=303)
            error = too_many_rules("VENUE")
    args = request.args
    deliveries = engine.deliveries(venue, rule=args.get("rule", "")[:16], status=args.get("status", "")[:16],
                                   text=args.get("q", "")[:100])
    rules = engine.rules(venue)
    return rules_page("operator/moments.html", venue_map, rules, status=422 if error else 200,
                      error=error, deliveries=deliveries, statuses=STATUSES, secret=engine.webhook_secret(venue),
                      rule_names={"occupancy": _("occupancy alert"), **{r.id: r.name for r in rules}})


@bp.post("/<venue>/moments/<rule_id>/active")
def moment_active(venue: str, rule_id: str):
    load_map(venue)
    if services().moments.set_active(venue, rule_id[:16], request.form.get("active") == "1") != "OK":
        abort(404, _("No such rule."))
    audit("moments.active", venue, rule=rule_id[:16], active=request.form.get("active") == "1")
    return redirect(url_for("operator.moments", venue=venue), code=303)


def replay_refusal(why: str) -> str:
    """Why a replay sent nothing (MomentsEngine.replay's answers), in the console's language."""
    return {"NONE": _("an alert has nothing to send"), "RULE": _("its rule no longer exists"),
            "NOBODY": _("it names no shopper to reach"),
            "CONSENT": _("the shopper has not agreed to it, or withdrew"),
            "BUDGET": _("the rule's budget is spent"), "CAP": _("the shopper's cap for today is reached"),
            "COOLDOWN": _("the rule's cooldown for this shopper has not passed"),
            "DAILY": _("the shopper had as many notifications from the venue today as she may")}.get(why, why)


@bp.post("/<venue>/moments/replay/<delivery_id>")
def moment_replay(venue: str, delivery_id: str):
    load_map(venue)
    outcome = services().moments.replay(venue, delivery_id[:32])
    if outcome is None:
        abort(404, _("No such delivery."))
    audit("moments.replay", venue, delivery=delivery_id[:32], outcome=outcome)
    flash(_("Sent again.") if outcome == "SENT" else _("Not sent again: %(why)s.", why=replay_refusal(outcome)))
    return redirect(url_for("operator.moments", venue=venue), code=303)
