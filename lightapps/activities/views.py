"""Shopper side: the mall's events, flash sales and group buys; sign up / buy / join; "my activities";
and the outbound-link redirect that adds the mall's attribution and counts the click.

Every link and form carries the shopper's `c` token (the iOS captive mini-browser keeps no cookies);
a join is a POST answered with a 303 to the activity's GET page, and so is a leave (cancel my sign-up).

Leaving is for free event sign-ups only, before the event starts (the rule: store.py `Activity.leavable`, which the
pages use to offer the button and LEAVE_LUA checks on the item as it is when the shopper asks): the place goes back
(one Lua script) and the event leaves "my activities". A sale's unit (paid or reserved to pay at the shop), a group
buy's place (its count decides the group; a deposit is refunded only by the group's outcome, deposits.py) and
a priced event (paid at the counter) are not cancelled here: the page says to ask the organiser. Leaving costs
no budget and gives none back: signing up again spends `activities.join` as any join does, so joining and
leaving in a loop takes at most that budget's places an hour (an event sends no notices)."""

from __future__ import annotations

import time

from flask import abort, g, redirect, render_template, request
from flask_babel import gettext as _

from lightapps.activities import APP, notices
from lightapps.activities.deposits import deposit_store, open_deposit, pay_deposit
from lightapps.activities.me import paid_item
from lightapps.activities.payment import buy, price_fen, sale_stock
from lightapps.activities.store import Activity, ActivityStore, JoinResult, attributed_url
from portal.apps.bilingual import pick_from
from portal.apps.budgets import spend_budget
from portal.apps.locale import venue_locale
from portal.apps.views import app_store, is_zh, lang_arg, record_event, venue_or_404, zone_app_blueprint
from portal.payments.money import cny
from portal.services import services
from portal.shopper import current_shopper, is_preview_shopper, shopper_for_venue, shopper_token, shopper_url

APP_NAME = APP.name
# Views of a zone have its venue map, zone and config on g (404 unless the zone runs the activities app).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>", template_folder="templates",
                        off_message=lambda: _("There are no activities in this zone."))


def store() -> ActivityStore:
    """The app's store (its scripts registered once per process)."""
    return app_store(APP)


def app_zones(venue: str) -> list[str]:
    """Zones whose landing app is this one (their activities are shown to shoppers)."""
    return sorted(z for z, (app, _config) in services().zone_apps.all(venue).items() if app == APP_NAME)


def mall_activities(venue: str, first_zone: str | None, now: float) -> list[Activity]:
    """Every shown activity of the mall, the given zone's first; ended ones left out."""
    zones = app_zones(venue)
    if first_zone in zones:
        zones.remove(first_zone)
        zones.insert(0, first_zone)
    items = []
    for zone in zones:
        items += [a for a in store().for_zone(venue, zone, now) if shown(a, now)]
    # The zone's own first, then soonest first (events and sales by start, group buys by deadline).
    items.sort(key=lambda a: (a.zone != first_zone, a.ends_at if a.kind == "group" else a.starts_at))
    return items


def shown(item: Activity, now: float) -> bool:
    """Still worth listing: events until they end, sales until they end, group buys a day past the deadline."""
    if item.kind == "group":
        return now < item.ends_at + 86400
    return now < item.ends_at and item.status == "live"


STATE_TEXT = {
    "upcoming": lambda: _("Starts soon"),
    "open": lambda: _("Open to join"),  # not "under way": an event days away is open for sign-up
    "full": lambda: _("Full"),
    "closed": lambda: _("Closed"),
    "underway": lambda: _("Under way · sign-up closed"),  # an event between its start and its end
    "ended": lambda: _("Ended"),
    "succeeded": lambda: _("Succeeded"),
    "failed": lambda: _("Did not reach its goal"),
    "cancelled": lambda: _("Cancelled"),
}


def _render_landing(venue_map, zone_obj, *, status: int = 200):
    config = g.app_config
    shopper = shopper_for_venue(venue_map.id)
    now = time.time()
    items = mall_activities(venue_map.id, zone_obj.id, now)
    joined = store().joined(venue_map.id, shopper.client, [a.id for a in items])
    links = store().links_for_zone(venue_map.id, zone_obj.id)
    zh = is_zh()
    headline = pick_from(config, "headline", zh) or _("What's on")
    return render_template(
        "activities/landing.html", venue=venue_map, zone=zone_obj, headline=headline, zh=zh, now=now,
        events=[a for a in items if a.kind == "event"], sales=[a for a in items if a.kind == "sale"],
        groups=[a for a in items if a.kind == "group"], joined=joined, links=links,
        shopper_token=shopper_token(shopper), state_text=STATE_TEXT,
    ), status


@bp.get("/zone/<zone>/activities")
def landing(venue: str, zone: str):
    return _render_landing(g.venue_map, g.zone)


def _item_or_404(venue: str, item_id: str, now: float) -> Activity:
    item = store().get(venue, item_id[:20], now)
    if item is None or services().zone_apps.config_for(venue, item.zone, APP_NAME) is None:
        abort(404, _("No such activity."))
    return item


def _render_item(venue_map, item: Activity, *, error: str | None = None, status: int = 200):
    shopper = shopper_for_venue(venue_map.id)
    now = time.time()
    code = store().joined(venue_map.id, shopper.client, [item.id]).get(item.id)
    zone_obj = venue_map.zone(item.zone)
    links = [link for link in store().links_for_zone(venue_map.id, item.zone) if link.activity == item.id]
    return render_template(
        "activities/item.html", venue=venue_map, zone=zone_obj, item=item, code=code, zh=is_zh(), now=now,
        error=error, state=item.state(now), state_text=STATE_TEXT, shopper_token=shopper_token(shopper),
        links=links, just_joined=request.args.get("joined") == "1", deposit=_deposit_text(venue_map.id, item),
        just_left=request.args.get("left") == "1", can_leave=bool(code) and item.leavable(now),
        no_leave_text=no_leave_text(), paid=_paid_for(venue_map.id, shopper.client, item, code),
    ), status


def _paid_for(venue: str, client: str, item: Activity, code: str | None) -> str | None:
    """What she paid online for the unit or deposit her code stands for (me.paid_item: the one rule of what is
    paid), as money: the page showed only the code, so a paid ¥99 looked like a reservation still to be paid."""
    paid_thing = paid_item(venue, client, item, code)
    return cny(paid_thing.amount_fen) if paid_thing is not None and paid_thing.amount_fen else None


def _deposit_text(venue: str, item: Activity) -> str:
    """What a priced group buy's deposit means to the shopper ("" when joining is free)."""
    price = price_fen(item)
    if item.kind != "group" or not price or not services().payments.enabled:
        return ""
    state = deposit_store().state(venue, item.id)
    if state in ("refunding", "refunded"):
        return _("The group did not go ahead: every deposit is refunded.")
    if state == "captured":
        return _("Deposit %(amount)s: the group is on, the deposits are kept.", amount=cny(price))
    return _("Joining takes a deposit of %(amount)s, refunded in full if the group does not fill by the deadline.",
             amount=cny(price))


@bp.get("/activities/<item_id>")
def item(venue: str, item_id: str):
    venue_map = venue_or_404(venue)
    return _render_item(venue_map, _item_or_404(venue, item_id, time.time()))


JOIN_REFUSALS = {
    "NO_ITEM": (404, lambda: _("No such activity.")),
    "CLOSED": (410, lambda: _("This has been closed by the organiser.")),
    "NOT_STARTED": (403, lambda: _("The sale has not started yet.")),
    "ENDED": (410, lambda: _("Too late: this has ended.")),
    "UNDER_WAY": (410, lambda: _("Sign-up has closed: the event is under way.")),
    "FULL": (409, lambda: _("Sorry, no places or stock left.")),
    "PRICE": (409, lambda: _("This cannot be bought or joined here yet: its price is not an amount we can charge. "
                             "Please ask the organiser.")),
}


@bp.post("/activities/<item_id>/join")
def join(venue: str, item_id: str):
    venue_map = venue_or_404(venue)
    item = _item_or_404(venue, item_id, time.time())
    shopper = shopper_for_venue(venue)
    price = _online_price(item)
    if price is None:  # a price that cannot be read is not free: nobody joins without paying what the page shows
        status, message = JOIN_REFUSALS["PRICE"]
        return _render_item(venue_map, item, error=message(), status=status)
    if not _holds_place(venue, item, shopper.client):  # a tap again is free: it leads back to the shopper's own
        # Before any branch (free place, paid hold, group deposit): each takes a place or a unit of stock.
        spend_budget("activities.join", venue, shopper=shopper.client, activity=item.id)
    if item.kind == "sale" and price:
        # Paid stock only: a unit is reserved while its order waits for the payment.
        back = shopper_url("activities.item", venue=venue, item_id=item.id, _external=True)
        bought = buy(venue, item, shopper.client, back)
        if not isinstance(bought, str):
            return redirect(shopper_url("payments.order_page", venue=venue, order_id=bought.id), code=303)
        result = JoinResult(bought)
    elif item.kind == "group" and price:
        # A deposit: only a paid one makes a member; refunded if the group fails (lightapps/activities/deposits.py).
        back = shopper_url("activities.item", venue=venue, item_id=item.id, _external=True)
        order = pay_deposit(venue, item, shopper.client, price, back)
        if not isinstance(order, str):
            return redirect(shopper_url("payments.order_page", venue=venue, order_id=order.id), code=303)
        result = JoinResult(order)
    else:
        result = store().join(venue, item.id, shopper.client)
    if result.status == "OK":
        record_event(APP, "activity_join", venue, shopper, zone=item.zone, item=item.id)
        notices.after_join(store(), venue, store().get(venue, item.id) or item, shopper.client)
    if result.status in ("OK", "ALREADY"):
        extra = {"joined": "1"} if result.ok else {}
        return redirect(shopper_url("activities.item", venue=venue, item_id=item.id, **extra, **lang_arg()),
                        code=303)
    now = time.time()
    item = store().get(venue, item.id, now) or item
    refusal = "UNDER_WAY" if result.status == "ENDED" and item.state(now) == "underway" else result.status
    status, message = JOIN_REFUSALS[refusal]
    return _render_item(venue_map, item, error=message(), status=status)


def no_leave_text() -> str:
    """What the page says where a sign-up, purchase or group place cannot be cancelled here."""
    return _("Only free event sign-ups can be cancelled here, until the event starts: for purchases, group buys "
             "and paid events, please ask the organiser.")


LEAVE_REFUSALS = {
    "NOT_EVENT": (409, no_leave_text),
    "PRICED": (409, no_leave_text),
    "STARTED": (409, lambda: _("Too late to cancel: the event has started.")),
}


@bp.post("/activities/<item_id>/leave")
def leave(venue: str, item_id: str):
    """Cancel my sign-up: the shopper of this request's `c` token (or cookie, checked as a join's is) gives back
    their own place at a free event before it starts. Who leaves is only ever the caller: the form names no
    shopper. Leaving twice (or a place never taken) changes nothing and leads back to the page."""
    venue_map = venue_or_404(venue)
    item = _item_or_404(venue, item_id, time.time())
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:  # no token of this venue: a new shopper has nothing to give back
        abort(403, _("Open this page from the mall's link to cancel your sign-up."))
    result = store().leave(venue, item.id, shopper.client)  # the rule (Activity.leavable) checked in the script
    if result == "NO_ITEM":  # gone between the read and the script
        abort(404, _("No such activity."))
    if result == "OK":
        record_event(APP, "activity_leave", venue, shopper, zone=item.zone, item=item.id)
    if result in ("OK", "NOT_JOINED"):
        extra = {"left": "1"} if result == "OK" else {}
        if request.form.get("from") == "mine":  # one of two fixed pages, never a target from the request
            return redirect(shopper_url("activities.mine", venue=venue, **extra, **lang_arg()), code=303)
        return redirect(shopper_url("activities.item", venue=venue, item_id=item.id, **extra, **lang_arg()),
                        code=303)
    status, message = LEAVE_REFUSALS[result]
    return _render_item(venue_map, store().get(venue, item.id) or item, error=message(), status=status)


def _online_price(item: Activity) -> int | None:
    """What Buy now / Join the group charges online, in fen: 0 when nothing (an event, no price, payments off:
    paid at the counter); None when the sale's or group buy's price cannot be read (payment.py, `price_fen`)."""
    if item.kind == "event" or not services().payments.enabled:
        return 0
    return price_fen(item)


def _holds_place(venue: str, item: Activity, client: str) -> bool:
    """Whether the shopper already has their place here: joined, or (paid) a reserved unit or a deposit order
    still waiting for its payment, which Buy now / Join again gives back rather than taking another."""
    if item.id in store().joined(venue, client, [item.id]):
        return True
    if not _online_price(item):
        return False
    if item.kind == "sale":
        return sale_stock().reserved(venue, item.id, client)
    return item.kind == "group" and open_deposit(venue, item.id, client) is not None


@bp.get("/activities/mine")
def mine(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    now = time.time()
    return render_template("activities/mine.html", venue=venue_map, items=store().mine(venue, shopper.client, now),
                           zh=is_zh(), now=now, state_text=STATE_TEXT,
                           shopper_token=shopper_token(shopper), just_left=request.args.get("left") == "1")


@bp.get("/out/<link_id>")
def out(venue: str, link_id: str):
    """To a partner shop's page, with the mall's attribution: only URLs an owner configured (looked up by
    id, never taken from the request), and only while the link's zone runs this app."""
    venue_or_404(venue)
    link = store().link(venue, link_id[:20])
    if link is None or services().zone_apps.config_for(venue, link.zone, APP_NAME) is None:
        abort(404, _("No such link."))
    shopper = current_shopper()
    client = shopper.client if shopper is not None and shopper.venue == venue else None
    if not is_preview_shopper(shopper):  # an owner's preview counts no click
        store().click(venue, link.id, client, tz=venue_locale(venue).time_zone)
    record_event(APP, "referral", venue, shopper if client else None, zone=link.zone, link=link.id,
                 campaign=link.campaign or None)
    response = redirect(attributed_url(link.url, link.campaign), code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the c token in our URL stays with us
    return response
