"""Shopper pages: take a number, watch the position, cancel, book a table, pre-order from the menu.

Plain full-page forms (no JavaScript), every link and form carrying the shopper's `c` token (the iOS
captive browser keeps no cookies), POST -> 303 -> GET. The ticket page refreshes itself every 20 s."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import redis
from babel.dates import format_skeleton
from flask import abort, g, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from core.errors import InputError
from lightapps.queue import APP, estimate, notices, rules
from lightapps.queue.payment import open_order, payments_on, refund_paid_preorder
from lightapps.queue.rules import whole_number
from lightapps.queue.store import ACTIVE_STATES, QueueStore, Result, decode_preorder, reservation_date
from portal.apps.budgets import OverBudget, give_back_budget, over_budget_words, spend_budget, wait_text
from portal.apps.locale import NoSuchLocalTime, spoken_iso_day, venue_locale, venue_today
from portal.apps.notify import E164, PhoneInputError, masked_phone, read_phone, save_phone, spend_text_budget
from portal.apps.views import app_store, record_event, zone_app_blueprint
from portal.i18n import chosen_lang
from portal.payments.money import cny
from portal.services import services
from portal.shopper import current_shopper, keep_shopper_in_cookie, shopper_for_venue, shopper_token, shopper_url

# Every view has the zone's venue map, zone and config on g (404 unless the zone runs the queue).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>", template_folder="templates",
                        off_message=lambda: _("This zone has no restaurant queue."))

APP_NAME = APP.name
REFRESH_S = 20
BOOKING_DAYS = 7
MAX_QTY = 20


# ---- shared with the console -----------------------------------------------------------------


def store() -> QueueStore:
    """The app's store (its Lua scripts registered once per process)."""
    return app_store(APP)


def wait_for(cls: str, parties_ahead: int, venue: str, zone: str, config: dict[str, Any]) -> estimate.WaitRange:
    """The wait shown for `parties_ahead` parties ahead in class `cls` (estimate.py): the owner's turn time,
    the class's table count where the owner gave it, and the class's seatings of the current service (the
    previous day's only while hours past midnight run on: rules.service_began)."""
    turn = float(config.get("turn_minutes") or 15)
    table_class = rules.class_named(rules.classes_or_default(config.get("table_classes")), cls)
    tables = table_class.tables if table_class else None
    now = datetime.fromtimestamp(time.time(), venue_locale(venue).time_zone)
    began = rules.service_began(rules.open_hours(config.get("open_hours") or rules.DEFAULT_HOURS), now)
    seatings = store().seatings(venue, zone, cls, now=now.timestamp(),
                                since=began.timestamp() if began else None)
    return estimate.estimate(parties_ahead, estimate.turns(seatings, tables), turn, tables)


def class_summaries(venue: str, zone: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    paused = store().paused(venue, zone)
    out = []
    for table_class in rules.classes_or_default(config.get("table_classes")):
        waiting = store().waiting_count(venue, zone, table_class.label)
        out.append({"cls": table_class, "waiting": waiting,
                    "paused": table_class.label in paused or "*" in paused,
                    "wait": wait_for(table_class.label, waiting, venue, zone, config)})
    return out


def local_now() -> datetime:
    """Now on the mall's clock (the venue's time zone), from the same clock (time.time) as the store's numbers."""
    return datetime.fromtimestamp(time.time(), venue_locale().time_zone)


def numbers_closed(config: dict[str, Any]) -> str | None:
    """Why no number can be taken now: the zone gives numbers only within its opening hours and it is closed
    (without that, a number taken at 03:00 would wait for a restaurant that opens at 11:00); None when open."""
    if not config.get("numbers_in_hours"):
        return None
    start, end = hours = rules.open_hours(config.get("open_hours") or rules.DEFAULT_HOURS)
    now = local_now()
    if rules.is_open(hours, now.hour * 60 + now.minute):  # 01:30 is open for hours 17:00-02:00
        return None
    return _("Numbers are given out from %(start)s to %(end)s: please come back then.", start=rules.hhmm(start),
             end=rules.hhmm(end))


# ---- shopper helpers -------------------------------------------------------------------------


def _url(endpoint: str, **values) -> str:
    """Our own route with the shopper's token (and language, the captive browser keeps no cookie)."""
    shopper = shopper_for_venue(values["venue"])
    values.setdefault("c", shopper_token(shopper))
    if lang := chosen_lang():
        values.setdefault("lang", lang)
    return url_for(endpoint, **values)


def _back(venue: str, zone: str):
    return redirect(_url("queue.landing", venue=venue, zone=zone), code=303)


def _message(venue: str, zone: str, status: int, message: str):
    return render_template("queue/message.html", venue=g.venue_map, zone=g.zone, message=message,
                           status=status), status


@bp.context_processor
def _shopper_globals():
    venue = (request.view_args or {}).get("venue")
    if not venue:
        return {}
    extras: dict[str, Any] = {"qurl": _url, "lang": chosen_lang(), "cny": cny}
    # The store down, this is its 503 page (error.html, rendered inside this blueprint): that page needs no
    # token, and a store error raised here again would turn the clear 503 into a 500.
    with contextlib.suppress(redis.RedisError):
        extras["shopper_token"] = shopper_token(shopper_for_venue(venue))
    return extras


def _dates() -> list[str]:
    today = venue_today()
    return [(today + timedelta(days=i)).isoformat() for i in range(BOOKING_DAYS)]


# ---- pages ------------------------------------------------------------------------------------


@bp.get("/queue/<zone>")
def landing(venue: str, zone: str):
    return _landing(venue, zone, after_booking=True)


def _booked_without_texts(reservations: list[dict[str, Any]]) -> str | None:
    """After a booking whose number the texts budget refused (`reserve`'s redirect, `texts_wait`: seconds until
    it has room, 0: never): why no text will come, to a shopper who holds a booking (`reservations`, hers on the
    page); a link with the value and no booking says nothing. Only words follow from it: nothing is read or changed
    by it."""
    raw = request.args.get("texts_wait", "")
    if not (raw.isascii() and raw.isdigit()) or not any(r["state"] == "BOOKED" for r in reservations):
        return None
    wait = min(int(raw), 86400)
    if not wait:  # no wait ends it (`_keep_booking_phone`)
        return _("Your table is booked, but your number was not kept: texts are switched off here for now.")
    return _("Your table is booked, but your number was not kept for texts: too many texts were asked for just "
             "now. %(wait)s", wait=wait_text(wait))


def _landing(venue: str, zone: str, status: int = 200, take_error: str | None = None,
             notify_error: str | None = None, after_booking: bool = False):
    """The zone's queue page. With `take_error` (a refused "take a number") or `notify_error` (a refused number
    for texts): the reason by its form, which shows what was typed again (an error page would send the shopper
    back to type it all again). `after_booking` (the page's GET): the booking's refused number, if it says so
    (`_booked_without_texts`)."""
    venue_map, zone_obj, config = g.venue_map, g.zone, g.app_config
    shopper = shopper_for_venue(venue)
    ticket = store().my_ticket(venue, zone, shopper.client)
    ahead = wait = None
    if ticket and ticket["state"] == "WAITING":
        ahead = store().parties_ahead(venue, zone, ticket)
        if ahead is not None:
            wait = wait_for(ticket["cls"], ahead, venue, zone, config)
    active = bool(ticket and ticket["state"] in ACTIVE_STATES)
    reservations = [{**r, "po": shown_preorder(venue, r), "day": spoken_iso_day(r["date"])}
                    for r in store().my_reservations(venue, zone, shopper.client, _dates())]
    if after_booking:
        notify_error = _booked_without_texts(reservations)
    response = render_template(
        "queue/landing.html", venue=venue_map, zone=zone_obj, config=config, ticket=ticket, active=active,
        ahead=ahead, wait=wait, classes=class_summaries(venue, zone, config),
        largest=max(c.high for c in rules.classes_or_default(config.get("table_classes"))),
        reservations=reservations, refresh_s=REFRESH_S, preorder=shown_preorder(venue, ticket),
        numbers_closed=None if active else numbers_closed(config),
        menu=bool(store().menu(venue, zone)), notify_phone=masked_phone(venue, shopper.client),
        take_error=take_error, party_typed=request.form.get("party", "")[:8] if take_error else "",
        notify_error=notify_error,
    )
    resp = make_response(response, status)
    keep_shopper_in_cookie()  # a ticket must survive a closed tab
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/queue/<zone>/take")
def take(venue: str, zone: str):
    config = g.app_config
    classes = rules.classes_or_default(config.get("table_classes"))
    try:
        party = rules.parse_party(request.form.get("party"), classes)
    except rules.RuleError as exc:
        return _landing(venue, zone, 400, _(exc.template, **exc.params))
    table_class = rules.class_for_party(classes, party)
    closed = numbers_closed(config)
    if closed:  # before the budget: a refused tap costs nothing
        return _message(venue, zone, 409, closed)
    shopper = shopper_for_venue(venue)
    result = _within_budget("queue.take", venue, zone, shopper.client,
                            partial(store().take, venue, zone, table_class.label, party, shopper.client))
    if result.ok:
        record_event(APP, "queue_ticket", venue, shopper, zone=zone, party=party)
    if not result.ok and result.reason == "PAUSED":
        return _message(venue, zone, 409, _("The queue for tables of %(sizes)s is paused right now: please ask "
                                            "at the door.", sizes=table_class.sizes))
    # OK, or ACTIVE (a double tap, or a second number while one is active): the landing shows the ticket.
    return _back(venue, zone)


@bp.post("/queue/<zone>/cancel")
def cancel(venue: str, zone: str):
    ticket_id = request.form.get("ticket", "")[:20]
    cls = rules.ticket_class(ticket_id)
    if cls is None:
        abort(400, _("No such ticket."))
    shopper = shopper_for_venue(venue)
    result = store().cancel(venue, zone, ticket_id, cls, shopper.client)
    if not result.ok and result.reason in ("NOT_FOUND", "NOT_YOURS"):
        abort(404, _("No such ticket."))
    if result.ok:  # the pre-order as the cancel left it: a payment that landed before it is refunded here, one
        # after it finds the ticket canceled and is refunded by the payment service (a read before the cancel
        # would miss the first: never check, then act); the ticket's own day, which may be before midnight
        refund_paid_preorder(venue, decode_preorder(store().ticket(venue, zone, ticket_id, result.day)))
    return _back(venue, zone)  # already seated / canceled: the landing shows the state


def _within_budget(action: str, venue: str, zone: str, client: str, attempt: Callable[..., Result]) -> Result:
    """`attempt(check_only=...)` (store().take or store().reserve), charging the `action` budgets only for the
    tap that takes a new number or booking: a double tap on an active one, a paused class or a full slot cost
    nothing. The check writes nothing and is the whole answer unless it says NEW, so nothing is ever taken
    unspent; then spend (over budget: 429, unless a parallel tap took it meanwhile: this tap is its double
    tap), take, and give back what a tap spent and did not take (a parallel tap got there first: ACTIVE). The
    restaurant's own ceiling (`zone`) bounds the fake parties one device with ever new shoppers and addresses can
    put in its queue or book."""
    check = attempt(check_only=True)
    if check.reason != "NEW":
        return check
    try:
        spend_budget(action, venue, shopper=client, zone=zone)
    except OverBudget:
        again = attempt(check_only=True)
        if again.reason != "NEW":
            return again
        raise
    result = attempt(check_only=False)
    if not result.ok:
        give_back_budget(action, venue, shopper=client, zone=zone)
    return result


# ---- reservations ----------------------------------------------------------------------------


def _slot_rows(venue: str, zone: str, day_iso: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    counts = store().slot_counts(venue, zone, day_iso)
    capacity = int(config.get("slot_capacity") or 0)
    now = local_now()
    rows = []
    for slot in rules.slots(config.get("open_hours") or rules.DEFAULT_HOURS, int(config.get("slot_minutes") or 30)):
        try:  # an instant: a wall-clock comparison takes the second pass of a repeated hour for the first
            starts = notices.slot_start(venue, day_iso, slot)
        except NoSuchLocalTime:  # the clocks skip it that day: not offered, so not bookable (`_booking_form`)
            continue
        rows.append({"slot": slot, "left": max(0, capacity - counts.get(slot, 0)), "past": starts <= now.timestamp()})
    return rows


def _reservations_on(config: dict[str, Any]) -> bool:
    return bool(config.get("reservations")) and int(config.get("slot_capacity") or 0) > 0


@bp.get("/queue/<zone>/reserve")
def reserve_form(venue: str, zone: str):
    if not _reservations_on(g.app_config):
        abort(404, _("This restaurant does not take reservations."))
    day_iso = request.args.get("date") or _dates()[0]
    if day_iso not in _dates():
        abort(400, _("Pick a date within the next %(n)d days.", n=BOOKING_DAYS))
    return _reserve_page(venue, zone, day_iso)


TYPED_FIELDS = ("party", "slot", "name", "phone", "note")  # what a refused booking's form shows again


def _reserve_page(venue: str, zone: str, day_iso: str, status: int = 200, error: str | None = None,
                  field: str | None = None):
    """The booking form for `day_iso`. With `error` (about `field`): shown again after a refused booking with
    what the shopper typed, since an error page would throw it all away."""
    config = g.app_config
    typed = {name: request.form.get(name, "")[:200] for name in TYPED_FIELDS} if error else {}
    return render_template("queue/reserve.html", venue=g.venue_map, zone=g.zone, config=config,
                           dates=_date_tabs(), day=day_iso, rows=_slot_rows(venue, zone, day_iso, config),
                           largest=max(c.high for c in rules.classes_or_default(config.get("table_classes"))),
                           error=error, error_field=field, typed=typed), status


def _date_tabs() -> list[tuple[str, str]]:
    """(day, its tab's label) for each bookable day: the day and short weekday in the page's language
    (CLDR's "Ed": "12 Thu", "12日周四"), short enough for seven tabs on a 320 px phone."""
    return [(iso, format_skeleton("Ed", date.fromisoformat(iso), locale=get_locale())) for iso in _dates()]


def _refused_day() -> str:
    """The day a refused booking's form shows: the one the shopper chose, else (no longer bookable) today."""
    day_iso = request.form.get("date", "")[:10]
    return day_iso if day_iso in _dates() else _dates()[0]


@bp.post("/queue/<zone>/reserve")
def reserve(venue: str, zone: str):
    config = g.app_config
    if not _reservations_on(config):
        abort(409, _("This restaurant does not take reservations."))
    classes = rules.classes_or_default(config.get("table_classes"))
    try:
        party, day_iso, slot, guest = _booking_form(venue, zone, config, classes)
        phone = _booking_phone()  # checked now, kept once booked (`_keep_booking_phone`)
        shopper = shopper_for_venue(venue)
    except InputError as exc:  # nothing booked, stored or spent: the form again, as typed, with the reason
        return _reserve_page(venue, zone, _refused_day(), 400, exc.message, exc.field)
    book = partial(store().reserve, venue, zone, day_iso, slot, party, rules.class_for_party(classes, party).label,
                   shopper.client, int(config["slot_capacity"]), **guest)
    result = _within_budget("queue.reserve", venue, zone, shopper.client, book)
    if not result.ok and result.reason == "FULL":  # taken since the form was shown: pick another time in it
        return _reserve_page(venue, zone, day_iso, 409, _("%(slot)s is fully booked: please pick another time.",
                                                          slot=slot), "slot")
    if not result.ok and result.reason == "ACTIVE":
        booked = store().reservation(venue, zone, result.value or "")
        if booked and booked["slot"] == slot and booked["party"] == party:
            return _back(venue, zone)  # a double tap: the same booking, not an error
        return _message(venue, zone, 409, _("You already have a booking that day: cancel it first to change it."))
    texts_wait = _keep_booking_phone(venue, shopper.client, phone)  # before the reminder it is for
    notices.remind_booking(venue, g.zone, result.value, shopper.client, day_iso, slot, party)
    if texts_wait is not None:  # booked all the same; the page says why no text will come, by the texts form
        return redirect(_url("queue.landing", venue=venue, zone=zone, texts_wait=texts_wait), code=303)
    return _back(venue, zone)


def _booking_form(venue: str, zone: str, config: dict[str, Any],
                  classes: list[rules.TableClass]) -> tuple[int, str, str, dict[str, str]]:
    """(party, day, slot, guest details) from the booking form, checked in this order; InputError naming the
    first field that is wrong, its message in the shopper's language."""
    try:
        party = rules.parse_party(request.form.get("party"), classes)
    except rules.RuleError as exc:
        raise InputError("party", _(exc.template, **exc.params)) from None
    day_iso = request.form.get("date", "")[:10]
    if day_iso not in _dates():
        raise InputError("date", _("Pick a date within the next %(n)d days.", n=BOOKING_DAYS))
    slot = request.form.get("slot", "")[:5]
    row = next((r for r in _slot_rows(venue, zone, day_iso, config) if r["slot"] == slot), None)
    if row is None:
        raise InputError("slot", _("Pick one of the listed times."))
    if row["past"]:
        raise InputError("slot", _("That time has passed: pick a later one."))
    try:
        guest = rules.parse_guest(request.form)
    except ValueError as exc:
        too_long = (_("The name may have at most %(n)s characters.", n=rules.GUEST_NAME_MAX) if str(exc) == "name"
                    else _("The note may have at most %(n)s characters.", n=rules.GUEST_NOTE_MAX))
        raise InputError(str(exc), too_long) from None
    return party, day_iso, slot, guest


def _booking_phone() -> E164 | None:
    """The booking form's optional number for texts, read once (`read_phone`: PhoneInputError when it is no number);
    None when none was typed."""
    raw = request.form.get("phone", "")[:40]
    return read_phone(raw) if raw.strip() else None


def _keep_booking_phone(venue: str, client: str, phone: E164 | None) -> int | None:
    """The booking's optional number for texts (`_booking_phone`: the reminder, the restaurant's word), kept for the
    shopper once the table is booked (a refused or full booking costs no text): spent from the "notify.sms" budgets
    first. With them spent (texts from this device, to this number, or the venue's day) the number is not kept and
    the booking stands without texts: returns how many seconds until the budget has room, 0 where the venue set a
    budget to 0 (the number is optional; losing the table over it would be the wrong way round)."""
    if phone is None:
        return None
    try:
        spend_text_budget(venue, client, phone)
    except OverBudget as exc:
        return exc.refusal.retry_after_s
    save_phone(venue, client, phone)
    return None


@bp.post("/queue/<zone>/reserve/cancel")
def reserve_cancel(venue: str, zone: str):
    rid = request.form.get("reservation", "")[:30]
    shopper = shopper_for_venue(venue)
    result = store().end_reservation(venue, zone, rid, "CANCELED", client=shopper.client)
    if not result.ok and result.reason in ("NOT_FOUND", "NOT_YOURS"):
        abort(404, _("No such booking."))
    if result.ok:  # as for a number (cancel, above): the pre-order as the change left it
        refund_paid_preorder(venue, decode_preorder(store().reservation(venue, zone, rid)))
    notices.booking_ended(venue, zone, rid)
    return _back(venue, zone)


@bp.post("/queue/<zone>/notify")
def notify_me(venue: str, zone: str):
    """The shopper's number for an SMS when their table is ready or their booking is near (any common
    format). Only for a shopper the page was opened for (a live token of this venue)."""
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        abort(403, _("Open this page from the link you were given to get texts."))
    try:
        spend_text_budget(venue, shopper.client, request.form.get("phone"))
    except OverBudget as exc:  # her number's page again with the reason, not a bare 429 page far from it
        resp = _landing(venue, zone, exc.refusal.status, notify_error=over_budget_words(exc.refusal))
        if not exc.refusal.never:
            resp.headers["Retry-After"] = str(exc.refusal.retry_after_s)
        return resp
    try:
        save_phone(venue, shopper.client, request.form.get("phone"), chosen_lang())
    except PhoneInputError as exc:
        return _landing(venue, zone, 400, notify_error=exc.message)
    return _back(venue, zone)


# ---- pre-orders ------------------------------------------------------------------------------


def shown_preorder(venue: str, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record's pre-order as the pages show it: a paid one also carries what the payment service has
    refunded of it so far (`refunded`) and is refunding (`refund_pending`), in fen: a number or booking given
    up is refunded, and its pre-order no longer reads "paid online"."""
    preorder = decode_preorder(record)
    if not preorder or not preorder.get("paid") or not preorder.get("order"):
        return preorder
    order = services().payments.order(venue, str(preorder["order"]))
    if order is None:
        return preorder
    return {**preorder, "refunded": order.refunded, "refund_pending": order.refund_pending}


def _preorder_target(venue: str, zone: str, target: str, client: str):
    """('ticket', ticket) or ('reservation', reservation) the shopper may pre-order for; 404 otherwise."""
    if target == "ticket":
        ticket = store().my_ticket(venue, zone, client)
        if ticket is None or ticket["state"] not in ACTIVE_STATES:
            abort(404, _("You have no number to pre-order for."))
        return "ticket", ticket
    reservation = store().reservation(venue, zone, target)
    if reservation is None or reservation["client"] != client or reservation["state"] != "BOOKED":
        abort(404, _("No such booking."))
    return "reservation", reservation


@bp.get("/queue/<zone>/preorder")
def preorder_form(venue: str, zone: str):
    shopper = shopper_for_venue(venue)
    target = request.args.get("for", "ticket")[:30]
    kind, record = _preorder_target(venue, zone, target, shopper.client)
    current = {line["id"]: line["qty"] for line in (decode_preorder(record) or {}).get("items", [])}
    return _preorder_page(kind, record, target, store().menu(venue, zone), current)


def _preorder_page(kind: str, record: dict[str, Any], target: str, menu: list[dict[str, Any]],
                   current: dict[str, Any], errors: dict[str, str] | None = None):
    """The pre-order form; `errors` (dish id -> message) re-renders it with what the shopper typed."""
    return render_template("queue/preorder.html", venue=g.venue_map, zone=g.zone, config=g.app_config, kind=kind,
                           record=record, target=target, menu=menu, current=current, errors=errors or {},
                           max_qty=MAX_QTY, pay_online=payments_on(),
                           day=spoken_iso_day(record["date"]) if kind != "ticket" else "")


def _posted_lines(menu: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str], int]:
    """(lines, posted quantities, errors by dish id, status) from the pre-order form. A dish sold out since
    the form was shown is an error (409) and its quantity is dropped; a bad quantity is an error (422) and
    its text is kept so the shopper sees what to fix. Nothing is saved while any error stands."""
    lines, posted, errors, status = [], {}, {}, 0
    for item in menu:
        raw = request.form.get(f"qty_{item['id']}", "").strip()
        qty = whole_number(raw or "0")
        if qty != 0 and not item.get("available", True):  # the form shows no input for it any more
            status = status or 409
            errors[item["id"]] = _("Sold out while you were choosing: taken off your pre-order.")
        elif qty is None or qty > MAX_QTY:
            posted[item["id"]], status = raw[:10], 422
            errors[item["id"]] = _("Quantities must be whole numbers from 0 to %(n)d.", n=MAX_QTY)
        elif qty:
            posted[item["id"]] = qty
            lines.append({"id": item["id"], "name_en": item["name_en"], "name_zh": item["name_zh"],
                          "price": int(item["price"]), "qty": qty})
    return lines, posted, errors, status


@bp.post("/queue/<zone>/preorder")
def preorder(venue: str, zone: str):
    shopper = shopper_for_venue(venue)
    target = request.form.get("for", "ticket")[:30]
    kind, record = _preorder_target(venue, zone, target, shopper.client)
    menu = store().menu(venue, zone)
    lines, posted, errors, status = _posted_lines(menu)
    if errors:  # the form again, every other quantity kept (an error page would lose the whole order)
        return _preorder_page(kind, record, target, menu, posted, errors), status
    preorder_doc = {"items": lines, "total": sum(x["price"] * x["qty"] for x in lines)} if lines else None
    order = None
    if preorder_doc and preorder_doc["total"] > 0 and payments_on():  # paid online (lightapps/queue/payment.py)
        # Each save opens a new payment order, kept a week past its expiry: within the queue.preorder budgets, so
        # one number cannot fill the store with orders (a save refused below gives back what it spent).
        spend_budget("queue.preorder", venue, shopper=shopper.client)
        day = reservation_date(record["id"]) if kind == "reservation" else record["day"]  # the number's own day
        back = _url("queue.landing", venue=venue, zone=zone, _external=True)
        order = open_order(venue, zone, day, record["id"], shopper.client, preorder_doc, back)
        preorder_doc = {**preorder_doc, "order": order.id, "paid": False}
    if kind == "ticket":
        result = store().attach_preorder_to_ticket(venue, zone, record["id"], shopper.client, preorder_doc,
                                                   day=record["day"])
    else:
        result = store().attach_preorder_to_reservation(venue, zone, record["id"], shopper.client, preorder_doc)
    if not result.ok and order is not None:
        give_back_budget("queue.preorder", venue, shopper=shopper.client)
    if not result.ok and result.reason == "PAID":
        abort(409, _("This pre-order is paid and can no longer be changed; give up the number or booking for a "
                     "refund."))
    if not result.ok:
        abort(409, _("This number or booking can no longer take a pre-order."))
    if order is not None:
        return redirect(shopper_url("payments.order_page", venue=venue, order_id=order.id), code=303)
    return _back(venue, zone)
