"""The payment ledger in the consoles: operators see every zone (merchant) of their venue, a zone owner their
own zones only (another zone: 403), with the day's reconciliation CSV for each.

    GET /console/owner/<venue>/ledger?day=YYYY-MM-DD&zone=<zone>      payments, refunds, net and balance per
                                                                       merchant, and the day's entries (HTML)
    GET /console/owner/<venue>/ledger/<zone>/<YYYY-MM-DD>.csv          the reconciliation report: the providers'
                                                                       bills matched to the ledger (503 when no
                                                                       provider answers)

Days are the venue's (its time zone; the providers' bills are per China day, so a venue elsewhere is
reconciled with the one or two bills its day overlaps). Linked from the operator console's navigation."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from portal.apps.locale import venue_time_zone
from portal.apps.views import is_zh
from portal.auth import current_account, login_required, require_zone
from portal.errors import error_response
from portal.operator.footfall import _day
from portal.owner.insights import _scope
from portal.owner.views import _venue_map_for, bp
from portal.payments.ledger import merchant_day
from portal.payments.money import cny
from portal.payments.providers.base import ProviderError
from portal.payments.reconcile import fetch_bills, reconcile
from portal.services import services

ENTRIES_SHOWN = 300


def _bill_day(raw: str | None, venue: str) -> str:
    """A YYYY-MM-DD day (default: today at the venue), or 400."""
    if not raw:
        return datetime.now(venue_time_zone(venue)).date().isoformat()
    return _day(raw, venue).isoformat()  # the insights' rule: the form, a real date, a day in range (else 400)


@bp.get("/<venue>/ledger")
@login_required()
def ledger(venue: str):
    account, venue_map, wanted, managed = _scope(venue)
    zones = [wanted] if wanted else managed  # money, not insights: every zone the owner manages at once
    day = _bill_day(request.args.get("day"), venue)
    tz = venue_time_zone(venue)
    store = services().payments.store
    names = {z.id: z.label(is_zh()) for z in venue_map.zones}
    rows = [merchant_day(store, venue, zone, day, tz) for zone in zones]
    every_entry = sorted((e for row in rows for e in row.entries), key=lambda e: e.ms)
    entries = every_entry[:ENTRIES_SHOWN]  # the totals above count them all: the page says how many it lists
    # Refunds stuck at the provider or refused for good, whatever the day: the shopper's money until done.
    problems = [r for r in store.refund_problems(venue) if r["merchant"] in set(zones)]
    return render_template("owner/ledger.html", venue=venue_map, account=account, day=day, zone=wanted,
                           rows=rows, names=names, entries=entries, all_entries=len(every_entry), cny=cny,
                           tz_name=str(tz), problems=problems,
                           clock=lambda ms: datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M:%S"))


@bp.get("/<venue>/ledger/<zone>/<day>.csv")
@login_required()
def ledger_csv(venue: str, zone: str, day: str):
    account = require_zone(venue, zone)
    venue_map = _venue_map_for(account, venue)
    if venue_map.zone(zone) is None:
        abort(404, _("Unknown zone."))
    day = _bill_day(day, venue)
    tz = venue_time_zone(venue)
    payments = services().payments
    try:
        providers = payments.providers()
        bill = fetch_bills(providers.values(), day, tz) if providers else None
    except ProviderError:  # passes: a retry later may reach them
        return error_response(503, _("The payment providers cannot be reached: no bill to reconcile with. "
                                     "Try again later."), headers={"Retry-After": "60", "Cache-Control": "no-store"})
    if bill is None:  # does not pass by itself: nothing to fetch a bill from until a provider is configured
        abort(404, _("No payment provider is configured: there is no bill to reconcile with."))
    report = reconcile(payments.store, venue, zone, day, bill, tz)
    services().privacy.audit_export(venue, current_account().username, "ledger.csv", f"{day} {zone}")
    return Response(report.to_csv(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="reconciliation-{venue}-{zone}-{day}.csv"'})
