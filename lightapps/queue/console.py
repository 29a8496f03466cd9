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
from lightapps.queue.payment import REASONS, payments_on, refund_paid_preorder
from lightapps.queue.store import decode_preorder
from lightapps.queue.views import class_summaries, shown_preorder, store
from portal.apps import edits
from portal.apps.bilingual import read_pair
from portal.apps.locale import venue_today
from portal.apps.notify import masked_phone
from portal.apps.once import new_nonce, read_form_once
from portal.apps.views import zone_app_config, zone_console_blueprint
from portal.auth import audit
from portal.payments.money import AmountError, cny
from portal.services import services

# Every view: owners of the zone (and the venue's operators) only; g.venue_map and g.zone are set.
bp = zone_console_blueprint("queue_console", __name__, url_prefix="/console/apps/queue/<venue>/<zone>",
                            template_folder="templates")

# The queue and reservations pages update themselves this often (templates/_auto_refresh.html): the host's phone
# sees new parties and bookings without a reload, and a box being ticked holds its part of the page back.
REFRESH_S = 20


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
                           cny=cny, preorder=functools.partial(shown_preorder, venue), nonce=new_nonce(),
                           refresh_s=REFRESH_S)


@bp.post("/call-next")
def call_next(venue: str, zone: str):
    _venue_map, _zone_obj, config, _running = _guard(venue, zone)
    cls = _class_arg(config)
    # the form's one-time token: the same form again (a double tap) calls nobody and says whom the first called
    result = store().call_next(venue, zone, cls, once=read_form_once(request.form))
    if not result.ok:
        return _done(venue, zone, _("Nobody is waiting for a %(cls)s table.", cls=cls), "error", called=None)
    if result.reason != "REPLAY":
        audit("queue.call_next", venue, zone=zone, ticket=result.value)
        ticket = store().ticket(venue, zone, result.value, result.day)  # the number's day: before midnight, maybe
        if ticket is not None:
            notices.table_ready(venue, g.zone, ticket, ticket["day"])
    return _done(venue, zone, _("Called %(ticket)s.", ticket=result.value), called=result.value)


def _state_notice(ticket_id: str, state: str | None) -> str:
    """Why a ticket did not change: what happened to it already (a stale tab, a double tap)."""
    notices_by_state = {
        "SEATED": _("%(ticket)s was already seated.", ticket=ticket_id),
        "NO_SHOW": _("%(ticket)s was already marked a no-show.", ticket=ticket_id),
        "CANCELED": _("%(ticket)s was given up by the shopper.", ticket=ticket_id),
        "WAITING": _("%(ticket)s has not been called yet: call it first, or seat it now.", ticket=ticket_id),
    }
    return notices_by_state.get(state or "", _("%(ticket)s cannot change like that now.", ticket=ticket_id))


def _ticket_action(venue: str, zone: str, ticket_id: str, action: str):
    cls = rules.ticket_class(ticket_id)
    if cls is None:
        abort(404, _("No such ticket."))
    result = getattr(store(), action)(venue, zone, ticket_id, cls)
    if not result.ok and result.reason == "NOT_FOUND":
        abort(404, _("No such ticket."))
    if not result.ok:  # back to the line as it is now, saying why: the ticket changed since the page was shown
        if _wants_json():
            abort(409, _state_notice(ticket_id, result.value))
        return _done(venue, zone, _state_notice(ticket_id, result.value))
    if action == "no_show":  # a missed number's paid pre-order goes back in full (payment.py says why); the
        # ticket as the change left it, of its own day; a store fault here leaves it to the payments sweep
        refund_paid_preorder(venue, decode_preorder(store().ticket(venue, zone, ticket_id, result.day)),
                             REASONS["NO_SHOW"])
    audit(f"queue.{action}", venue, zone=zone, ticket=ticket_id)
    done = _("Seated %(ticket)s.", ticket=ticket_id) if action == "seat" else _("%(ticket)s marked a no-show.",
                                                                                ticket=ticket_id)
    return _done(venue, zone, done, ticket=ticket_id, state=result.value)


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
ITEM_FIELDS = (*MENU_FIELDS, "available")  # what a row's form sets, and shows in its LOADED field (edits.py)


def _item_form() -> tuple[str, str, int, bool]:
    """The menu item the owner typed; InputError naming the field, its message in the page's language."""
    try:  # one language is enough: a shopper in the other sees it marked (portal/apps/bilingual.py)
        names = read_pair(request.form, "name", 80, required=True)
    except InputError as exc:
        raise InputError(exc.field, _("An item needs a name in Chinese or English (or both), each at most 80 "
                                      "characters.")) from None
    try:
        price = rules.parse_price(request.form.get("price"))
    except AmountError as exc:
        raise InputError("price", _(exc.template, label=_("Price"), **exc.params)) from None
    return names["name_en"], names["name_zh"], price, request.form.get("available") in ("on", "1", "true", "yes")


def _menu_page(venue: str, zone: str, status: int = 200, error: InputError | None = None,
               item_id: str | None = None):
    """The menu; after a refused form, again with what the owner typed (in the row of `item_id`, or in the
    add form) and the message by the field, so nothing typed is lost."""
    venue_map, zone_obj, config, _running = _guard(venue, zone)
    typed = {name: request.form.get(name, "")[:200] for name in MENU_FIELDS} if error else {}
    typed["available"] = request.form.get("available") in ("on", "1", "true", "yes") if error else True
    # a row refused for its input keeps what its page showed; one refused as stale stands on what is saved now
    kept = request.form.get(edits.LOADED) if status == 422 else None
    return render_template("queue/console_menu.html", venue=venue_map, zone=zone_obj, config=config,
                           items=store().menu(venue, zone), format_price=rules.format_price, error=error,
                           error_item=item_id, typed=typed, loaded_of=_loaded_of, kept_loaded=kept,
                           pay_online=payments_on()), status


def _loaded_of(item: dict) -> str:
    return edits.loaded_field({name: item.get(name) for name in ITEM_FIELDS})


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
    current, version = store().menu_item_versioned(venue, zone, item_id)
    if current is None:
        abort(404, _("No such menu item."))
    typed = {"name_en": name_en, "name_zh": name_zh, "price": price, "available": available}
    loaded = edits.read_loaded(request.form.get(edits.LOADED))  # a stale tab: only what it changed is written
    item, conflicts = edits.merge(loaded, typed, current) if loaded is not None else (typed, [])
    if conflicts:
        return _menu_stale(venue, zone, item_id, conflicts)
    result = store().put_menu_item(venue, zone, **item, item_id=item_id, expected=version if loaded is not None else "")
    if result.reason == "CHANGED":  # saved elsewhere since it was read above
        return _menu_stale(venue, zone, item_id, None, item)
    if not result.ok:
        abort(404, _("No such menu item."))
    audit("queue.menu_update", venue, zone=zone, item=item_id, name=item["name_en"] or item["name_zh"],
          price=item["price"], available=item["available"])
    flash(_("Saved %(item)s.", item=item["name_en"] or item["name_zh"]), "info")
    return redirect(url_for("queue_console.menu", venue=venue, zone=zone), code=303)


def _menu_stale(venue: str, zone: str, item_id: str, fields: list[str] | None, item: dict | None = None):
    """409: the menu again, the row with what the owner typed and the message naming what was saved elsewhere in
    `fields` (None: those where it differs from `item`, else all); the row's form now stands on what is saved, so
    saving again keeps the owner's values."""
    saved = store().menu_item(venue, zone, item_id)
    if saved is None:
        abort(404, _("No such menu item."))
    if fields is None:
        fields = [name for name in ITEM_FIELDS if saved.get(name) != (item or {}).get(name)] or list(ITEM_FIELDS)
    labels = {"name_en": _("English name"), "name_zh": _("Chinese name"), "price": _("Price"),
              "available": _("Available")}
    changes = "; ".join(f"{labels[name]}: " + (rules.format_price(saved[name]) if name == "price"
                                               else edits.shown_value(saved.get(name))) for name in fields)
    return _menu_page(venue, zone, 409, InputError(fields[0], edits.conflict_text(changes)), item_id)


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


def _reservations_page(venue: str, zone: str, day: str, status: int = 200, cancel_error: str = "",
                       refused: str = ""):
    """The day's reservations; after a refused Cancel, again with `cancel_error` by the box of `refused`."""
    venue_map, zone_obj, config, _running = _guard(venue, zone)
    counts = store().slot_counts(venue, zone, day)
    times = rules.slots(config.get("open_hours") or rules.DEFAULT_HOURS, int(config.get("slot_minutes") or 30))
    slots = [{"slot": s, "booked": counts.get(s, 0)} for s in times]
    start = venue_today()
    days = [(start + timedelta(days=i)).isoformat() for i in range(7)]
    return render_template("queue/console_reservations.html", venue=venue_map, zone=zone_obj, config=config,
                           day=day, days=days, slots=slots, items=store().reservations(venue, zone, day),
                           cny=cny, preorder=functools.partial(shown_preorder, venue), refresh_s=REFRESH_S,
                           cancel_error=cancel_error, refused=refused), status


@bp.get("/reservations")
def reservations(venue: str, zone: str):
    return _reservations_page(venue, zone, _date_arg(request.args.get("date")))


RESERVATION_STATES = {"cancel": "CANCELED", "arrived": "ARRIVED", "no-show": "NO_SHOW"}


def _booking_notice(rid: str, state: str | None) -> str:
    """Why a booking did not change: what another phone (or the guest) did to it already, in words."""
    notices_by_state = {
        "CANCELED": _("Booking %(booking)s was already cancelled.", booking=rid),
        "ARRIVED": _("Booking %(booking)s was already marked arrived.", booking=rid),
        "NO_SHOW": _("Booking %(booking)s was already marked a no-show.", booking=rid),
    }
    return notices_by_state.get(state or "", _("Booking %(booking)s cannot change like that now.", booking=rid))


@bp.post("/reservations/<rid>/<action>")
def reservation_action(venue: str, zone: str, rid: str, action: str):
    """Arrived, no-show or cancel (cancel only with the box beside it ticked: it frees the place and refunds a
    paid pre-order). A booking changed since the page was shown (another phone, the guest) changes no more: back
    to the day's reservations, saying what happened to it."""
    if action not in RESERVATION_STATES:
        abort(404, _("Unknown action."))
    rid = rid[:30]
    booking = store().reservation(venue, zone, rid)
    if booking is None:
        abort(404, _("No such booking."))
    if action == "cancel" and request.form.get("confirm") != "yes":  # nothing changed: the page again, saying why
        return _reservations_page(venue, zone, booking["date"], 422, refused=rid, cancel_error=_(
            "Tick the box beside Cancel to confirm cancelling booking %(booking)s (a paid pre-order is refunded in "
            "full). Nothing was changed.", booking=rid))
    result = store().end_reservation(venue, zone, rid, RESERVATION_STATES[action])
    if not result.ok and result.reason == "NOT_FOUND":
        abort(404, _("No such booking."))
    if action == "cancel" and (result.ok or result.value == "CANCELED"):
        # The restaurant called the booking off: its paid pre-order goes back to the shopper in full, as when the
        # shopper gives the booking up (one refund number per order: never twice, so pressing Cancel again
        # finishes a refund a store error cut short). An arrival or a no-show keeps it (the shopper chose the slot).
        refund_paid_preorder(venue, decode_preorder(store().reservation(venue, zone, rid)))
    if result.ok:
        audit(f"queue.reservation_{action}", venue, zone=zone, reservation=rid)
        notices.booking_ended(venue, zone, rid)
    else:
        flash(_booking_notice(rid, result.value), "info")
    return redirect(url_for("queue_console.reservations", venue=venue, zone=zone, date=booking["date"]), code=303)
