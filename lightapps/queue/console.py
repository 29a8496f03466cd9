"""Owner console for the queue: call next, seat, no-show, pause/resume per table class; the menu;
the day's reservations. Every view: logged in, and the account manages this zone (else 403); every
POST carries the console CSRF token (protect_console)."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import redis
from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.errors import InputError
from lightapps.queue import APP, notices, rules
from lightapps.queue.payment import REASONS, decode_preorder, refund_paid_preorder
from lightapps.queue.views import class_summaries, shown_preorder, store
from portal.apps.bilingual import read_pair
from portal.apps.locale import venue_today
from portal.apps.notify import masked_phone
from portal.apps.views import zone_app_config, zone_console_blueprint
from portal.auth import audit
from portal.payments.money import cny
from portal.services import services

# Every view: owners of the zone (and the venue's operators) only; g.venue_map and g.zone are set.
bp = zone_console_blueprint("queue_console", __name__, url_prefix="/console/apps/queue/<venue>/<zone>",
                            template_folder="templates")


def _guard(venue: str, zone: str):
    """(venue map, zone, the zone's queue config with defaults, whether the zone runs the queue now). A zone
    switched to another app keeps its queue's last config: its classes are the ones its numbers were taken
    in, so the owner can still see and call them (the defaults' classes may not even have their labels)."""
    config = zone_app_config(APP, venue, zone)
    if config is None:
        kept = services().zone_apps.kept_config(venue, zone, APP.name) or {}
        return g.venue_map, g.zone, {**APP.default_config(), **{k: v for k, v in kept.items() if v is not None}}, False
    return g.venue_map, g.zone, config, True


def _classes(config) -> list[rules.TableClass]:
    return rules.classes_or_default(config.get("table_classes"))


def _class_arg(config, allow_all: bool = False) -> str:
    cls = request.form.get("cls", "")[:4]
    if allow_all and cls == "*":
        return cls
    if cls not in {c.label for c in _classes(config)}:
        abort(400, _("Unknown table class."))
    return cls


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _done(venue: str, zone: str, message: str | None = None, category: str = "info", **payload):
    if _wants_json():
        return jsonify(payload)
    if message:
        flash(message, category)
    return redirect(url_for("queue_console.dashboard", venue=venue, zone=zone), code=303)


@bp.context_processor
def _guest_details():
    """`guest_phone(client)`: the number a booking's guest gave for texts, masked (the portal texts them;
    the restaurant needs no more); None when none or the store cannot say."""
    def guest_phone(client: str | None) -> str | None:
        try:
            return masked_phone(g.venue_map.id, client) if client else None
        except redis.RedisError:
            return None
    return {"guest_phone": guest_phone}


@bp.get("/")
def dashboard(venue: str, zone: str):
    venue_map, zone_obj, config, running = _guard(venue, zone)
    rows = []
    for summary in class_summaries(venue, zone, config):
        label = summary["cls"].label
        rows.append({**summary, "called": store().called(venue, zone, label),
                     "next": store().waiting(venue, zone, label, limit=10),
                     "last_number": store().last_number(venue, zone, label)})
    today = venue_today().isoformat()
    return render_template("queue/console.html", venue=venue_map, zone=zone_obj, config=config, running=running,
                           rows=rows, paused_all="*" in store().paused(venue, zone),
                           reservations=store().reservations(venue, zone, today), today=today,
                           cny=cny, preorder=functools.partial(shown_preorder, venue))


@bp.post("/call-next")
def call_next(venue: str, zone: str):
    _venue_map, _zone_obj, config, _running = _guard(venue, zone)
    cls = _class_arg(config)
    result = store().call_next(venue, zone, cls)
    if not result.ok:
        return _done(venue, zone, _("Nobody is waiting for a %(cls)s table.", cls=cls), "error", called=None)
    audit("queue.call_next", venue, zone=zone, ticket=result.value)
    ticket = store().ticket(venue, zone, result.value, result.day)  # the number's day: before midnight, maybe
    if ticket is not None:
        notices.table_ready(venue, g.zone, ticket, ticket["day"])
    return _done(venue, zone, _("Called %(ticket)s.", ticket=result.value), called=result.value)


def _ticket_action(venue: str, zone: str, ticket_id: str, action: str):
    cls = rules.ticket_class(ticket_id)
    if cls is None:
        abort(404, _("No such ticket."))
    result = getattr(store(), action)(venue, zone, ticket_id, cls)
    if not result.ok and result.reason == "NOT_FOUND":
        abort(404, _("No such ticket."))
    if not result.ok:
        abort(409, _("Ticket %(ticket)s is %(state)s: it cannot change like that.", ticket=ticket_id,
                     state=result.value))
    if action == "no_show":  # a missed number's paid pre-order goes back in full (payment.py says why); the
        # ticket as the change left it, of its own day; a store fault here leaves it to the payments sweep
        refund_paid_preorder(venue, decode_preorder(store().ticket(venue, zone, ticket_id, result.day)),
                             REASONS["NO_SHOW"])
    audit(f"queue.{action}", venue, zone=zone, ticket=ticket_id)
    return _done(venue, zone, _("%(ticket)s: %(state)s.", ticket=ticket_id, state=result.value),
                 ticket=ticket_id, state=result.value)


@bp.post("/tickets/<ticket_id>/seat")
def seat(venue: str, zone: str, ticket_id: str):
    return _ticket_action(venue, zone, ticket_id, "seat")


@bp.post("/tickets/<ticket_id>/no-show")
def no_show(venue: str, zone: str, ticket_id: str):
    return _ticket_action(venue, zone, ticket_id, "no_show")


@bp.post("/pause")
def pause(venue: str, zone: str):
    _venue_map, _zone_obj, config, _running = _guard(venue, zone)
    cls = _class_arg(config, allow_all=True)
    store().pause(venue, zone, cls)
    audit("queue.pause", venue, zone=zone, cls=cls)
    return _done(venue, zone, _("Paused: new numbers are refused."), paused=cls)


@bp.post("/resume")
def resume(venue: str, zone: str):
    _venue_map, _zone_obj, config, _running = _guard(venue, zone)
    cls = _class_arg(config, allow_all=True)
    store().resume(venue, zone, cls)
    audit("queue.resume", venue, zone=zone, cls=cls)
    return _done(venue, zone, _("Resumed."), resumed=cls)


# ---- menu -------------------------------------------------------------------------------------


MENU_FIELDS = ("name_en", "name_zh", "price")


def _item_form() -> tuple[str, str, int, bool]:
    """The menu item the owner typed; InputError naming the field, its message in the page's language."""
    try:  # one language is enough: a shopper in the other sees it marked (portal/apps/bilingual.py)
        names = read_pair(request.form, "name", 80, required=True)
    except InputError as exc:
        raise InputError(exc.field, _("An item needs a name in Chinese or English (or both), each at most 80 "
                                      "characters.")) from None
    try:
        price = rules.parse_price(request.form.get("price"))
    except rules.RuleError as exc:
        raise InputError("price", _(exc.template, **exc.params)) from None
    return names["name_en"], names["name_zh"], price, request.form.get("available") in ("on", "1", "true", "yes")


def _menu_page(venue: str, zone: str, status: int = 200, error: InputError | None = None,
               item_id: str | None = None):
    """The menu; after a refused form, again with what the owner typed (in the row of `item_id`, or in the
    add form) and the message by the field, so nothing typed is lost."""
    venue_map, zone_obj, config, _running = _guard(venue, zone)
    typed = {name: request.form.get(name, "")[:200] for name in MENU_FIELDS} if error else {}
    typed["available"] = request.form.get("available") in ("on", "1", "true", "yes") if error else True
    return render_template("queue/console_menu.html", venue=venue_map, zone=zone_obj, config=config,
                           items=store().menu(venue, zone), format_price=rules.format_price, error=error,
                           error_item=item_id, typed=typed), status


@bp.get("/menu")
def menu(venue: str, zone: str):
    return _menu_page(venue, zone)


@bp.post("/menu")
def menu_add(venue: str, zone: str):
    try:
        name_en, name_zh, price, available = _item_form()
    except InputError as exc:
        return _menu_page(venue, zone, 422, exc)
    result = store().put_menu_item(venue, zone, name_en, name_zh, price, available)
    if not result.ok:
        abort(409, _("The menu is full."))
    audit("queue.menu_add", venue, zone=zone, item=result.value, name=name_en or name_zh, price=price)
    flash(_("Added %(item)s.", item=name_en or name_zh), "info")
    return redirect(url_for("queue_console.menu", venue=venue, zone=zone), code=303)


@bp.post("/menu/<item_id>")
def menu_update(venue: str, zone: str, item_id: str):
    item_id = item_id[:12]
    try:
        name_en, name_zh, price, available = _item_form()
    except InputError as exc:
        if store().menu_item(venue, zone, item_id) is None:
            abort(404, _("No such menu item."))
        return _menu_page(venue, zone, 422, exc, item_id)
    result = store().put_menu_item(venue, zone, name_en, name_zh, price, available, item_id=item_id)
    if not result.ok:
        abort(404, _("No such menu item."))
    audit("queue.menu_update", venue, zone=zone, item=item_id, name=name_en or name_zh, price=price,
          available=available)
    flash(_("Saved %(item)s.", item=name_en or name_zh), "info")
    return redirect(url_for("queue_console.menu", venue=venue, zone=zone), code=303)


@bp.post("/menu/<item_id>/delete")
def menu_delete(venue: str, zone: str, item_id: str):
    if not store().delete_menu_item(venue, zone, item_id[:12]):
        abort(404, _("No such menu item."))
    audit("queue.menu_delete", venue, zone=zone, item=item_id)
    return redirect(url_for("queue_console.menu", venue=venue, zone=zone), code=303)


# ---- reservations -----------------------------------------------------------------------------


def _date_arg(raw: str | None) -> str:
    day = (raw or venue_today().isoformat())[:10]
    if not rules.valid_date(day):
        abort(400, _("Dates look like 2024-06-12."))
    try:
        date.fromisoformat(day)
    except ValueError:
        abort(400, _("Dates look like 2024-06-12."))
    return day


@bp.get("/reservations")
def reservations(venue: str, zone: str):
    venue_map, zone_obj, config, _running = _guard(venue, zone)
    day = _date_arg(request.args.get("date"))
    counts = store().slot_counts(venue, zone, day)
    times = rules.slots(config.get("open_hours") or rules.DEFAULT_HOURS, int(config.get("slot_minutes") or 30))
    slots = [{"slot": s, "booked": counts.get(s, 0)} for s in times]
    start = venue_today()
    days = [(start + timedelta(days=i)).isoformat() for i in range(7)]
    return render_template("queue/console_reservations.html", venue=venue_map, zone=zone_obj, config=config,
                           day=day, days=days, slots=slots, items=store().reservations(venue, zone, day),
                           cny=cny, preorder=functools.partial(shown_preorder, venue))


@bp.post("/reservations/<rid>/<action>")
def reservation_action(venue: str, zone: str, rid: str, action: str):
    states = {"cancel": "CANCELED", "arrived": "ARRIVED", "no-show": "NO_SHOW"}
    if action not in states:
        abort(404, _("Unknown action."))
    result = store().end_reservation(venue, zone, rid[:30], states[action])
    if not result.ok and result.reason == "NOT_FOUND":
        abort(404, _("No such booking."))
    if action == "cancel" and (result.ok or result.value == "CANCELED"):
        # The restaurant called the booking off: its paid pre-order goes back to the shopper in full, as when the
        # shopper gives the booking up (one refund number per order: never twice, so pressing Cancel again
        # finishes a refund a store error cut short). An arrival or a no-show keeps it (the shopper chose the slot).
        refund_paid_preorder(venue, decode_preorder(store().reservation(venue, zone, rid[:30])))
    if not result.ok:
        abort(409, _("That booking is already %(state)s.", state=result.value))
    audit(f"queue.reservation_{action}", venue, zone=zone, reservation=rid)
    notices.booking_ended(venue, zone, rid[:30])
    day = rid[:4] + "-" + rid[4:6] + "-" + rid[6:8]
    return redirect(url_for("queue_console.reservations", venue=venue, zone=zone, date=day), code=303)
