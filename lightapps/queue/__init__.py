"""Restaurant queue: take a number by party size, see position and wait, reservations, pre-orders.

Shoppers land on `queue.landing` (`views`); owners run the queue at `/console/apps/queue/<venue>/<zone>/`
(`queue_console.dashboard`, `console`); demo menus in `demo`."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lightapps.queue import rules
from lightapps.queue.payment import register as register_payments
from lightapps.queue.store import QueueStore
from portal.apps.locale import venue_now
from portal.apps.registry import ConfigField, LightApp


class TableClassesField(ConfigField):
    """Text like ``A:1-2,B:3-4,C:5-12`` (with table counts: ``A:1-2x6``), checked and written back in a canonical
    form."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw)
        return rules.format_table_classes(rules.parse_table_classes(value))


class HoursField(ConfigField):
    """Opening hours, ``HH:MM-HH:MM``, past midnight too (``17:00-02:00``): reservation times lie within them,
    and new numbers too when the zone sets ``numbers_in_hours``."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw)
        start, end = rules.parse_hours(value)
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


CONFIG_SCHEMA = (
    ConfigField("headline_en", "Headline (English)", default="Take a number: we'll tell you when your table is ready.",
                max_length=120),
    ConfigField("headline_zh", "Headline (Chinese)", default="在线取号，叫号前不必排队等候。", max_length=120),
    TableClassesField("table_classes", "Table classes", default=rules.DEFAULT_CLASSES, required=True, max_length=120,
                      help="Label:party sizes, comma separated, e.g. A:1-2,B:3-4,C:5-12 (C:5+ = 5 and up); "
                           "add x and the class's number of tables (A:1-2x6) so the wait estimate can learn a "
                           "faster pace from the day's seatings"),
    ConfigField("turn_minutes", "Average minutes per table turn", type="int", default=15, min=1, max=240,
                help="Minutes between two tables of one class coming free; the wait estimate starts from it and "
                     "follows the day's seatings (faster than it only for classes with a table count)"),
    ConfigField("reservations", "Take reservations", type="bool", default=True),
    HoursField("open_hours", "Opening hours", default=rules.DEFAULT_HOURS, required=True, max_length=30,
               help="HH:MM-HH:MM on the venue's clock; a closing time before the opening time is the next day "
                    "(17:00-02:00)"),
    ConfigField("numbers_in_hours", "Numbers only during opening hours", type="bool", default=False,
                help="Refuse new numbers outside the opening hours (reservation times always lie within them)"),
    ConfigField("slot_minutes", "Reservation slot (minutes)", type="int", default=30, min=10, max=240),
    ConfigField("slot_capacity", "Reservations per slot (parties)", type="int", default=4, min=0, max=200),
    # No currency setting: pre-orders are paid in CNY (portal/payments), so prices are shown with cny(); a
    # "currency" a zone stored before is ignored, and dropped when its owner next saves the settings.
)

BOOKING_DAYS_AHEAD = 8  # the days a table may be booked for (views.BOOKING_DAYS, 7) and one of slack


def in_use(store: QueueStore, venue: str, zone: str, config: dict[str, Any] | None) -> str | None:
    """The LightApp.in_use hook: a live number is lost when the zone leaves the queue (its page answers 404)
    or its class leaves the table classes (nobody can call it), and stranded when its class no longer seats
    its party's size (it would be called for the wrong table); a table booking is lost when the zone leaves,
    and stranded when its time is no longer a reservation slot of the hours and slot length (the restaurant's
    list of the day no longer shows it)."""
    if config is not None:
        return " ".join(_config_strands(store, venue, zone, config)) or None
    live = store.live_by_class(venue, zone)
    parts = []
    if numbers := sum(live.values()):
        parts.append(ngettext("%(num)d party still holds a number: pause the queue, then call and seat it "
                              "(or mark it a no-show) first.",
                              "%(num)d parties still hold a number: pause the queue, then call and seat them "
                              "(or mark them no-shows) first.", numbers))
    if booked := store.booked_ahead(venue, zone, BOOKING_DAYS_AHEAD):
        parts.append(ngettext("%(num)d table booking is still to come: cancel it in the reservations first.",
                              "%(num)d table bookings are still to come: cancel them in the reservations first.",
                              booked))
    return " ".join(parts) or None


def _config_strands(store: QueueStore, venue: str, zone: str, config: dict[str, Any]) -> list[str]:
    """What the new `config` would strand, each with what to do first (empty: nothing)."""
    classes = {c.label: c for c in rules.classes_or_default(config.get("table_classes"))}
    live = store.live_tickets(venue, zone)
    dropped: dict[str, int] = {}
    for ticket in live:
        if ticket["cls"] not in classes:
            dropped[ticket["cls"]] = dropped.get(ticket["cls"], 0) + 1
    parts = [_class_in_use(cls, n) for cls, n in sorted(dropped.items())]
    misfits = [t for t in live if t["cls"] in classes and rules.class_for_party([classes[t["cls"]]],
                                                                                int(t.get("party") or 0)) is None]
    if misfits:
        parts.append(ngettext(
            "%(num)d party holds a number in a class that no longer seats its size (%(list)s): call and seat it "
            "(or mark it a no-show) first, or keep the class's sizes until then.",
            "%(num)d parties hold numbers in classes that no longer seat their size (%(list)s): call and seat "
            "them (or mark them no-shows) first, or keep the classes' sizes until then.", len(misfits),
            list=_first_few([f"{t['id']} ({_('%(s)s people', s=t.get('party'))})" for t in misfits])))
    times = set(rules.slots(config.get("open_hours") or rules.DEFAULT_HOURS, int(config.get("slot_minutes") or 30)))
    now = venue_now(venue).strftime("%Y-%m-%d %H:%M")  # a booking whose time has passed is the day's list's business
    outside = [r for r in store.bookings_ahead(venue, zone, BOOKING_DAYS_AHEAD)
               if r["slot"] not in times and f"{r['date']} {r['slot']}" >= now]
    if outside:
        parts.append(ngettext(
            "%(num)d table booking to come is not at a reservation time of the new opening hours and slot length "
            "(%(list)s): cancel it in the reservations first, or keep the hours and slot length until it is past.",
            "%(num)d table bookings to come are not at reservation times of the new opening hours and slot "
            "length (%(list)s): cancel them in the reservations first, or keep the hours and slot length until "
            "they are past.", len(outside),
            list=_first_few([f"{r['date']} {r['slot']}" for r in outside])))
    return parts


def _first_few(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def _class_in_use(cls: str, waiting: int) -> str:
    return ngettext("Table class %(cls)s still has %(num)d party with a number: keep the class until it is seated "
                    "or marked a no-show (pause the class to stop new numbers).",
                    "Table class %(cls)s still has %(num)d parties with a number: keep the class until they are "
                    "seated or marked no-shows (pause the class to stop new numbers).", waiting, cls=cls)


APP = LightApp(
    name="queue",
    title_en="Restaurant queue",
    title_zh="餐厅排队取号",
    landing_endpoint="queue.landing",
    console_endpoint="queue_console.dashboard",
    media_endpoint="queue_console.menu",  # the dish photos' forms
    config_schema=CONFIG_SCHEMA,
    zone_kinds=("restaurant", "food"),
    store=QueueStore,
    history={"queue.call_next": _l("Next number called"), "queue.pause": _l("Queue paused (%(cls)s)"),
             "queue.resume": _l("Queue resumed (%(cls)s)"), "queue.menu_add": _l("Menu item added: %(name)s"),
             "queue.menu_update": _l("Menu item changed: %(name)s"), "queue.menu_delete": _l("Menu item removed"),
             "queue.seat": _l("Number %(ticket)s seated"), "queue.no_show": _l("Number %(ticket)s marked a no-show"),
             "queue.reservation_cancel": _l("Table booking %(reservation)s cancelled"),
             "queue.reservation_arrived": _l("Table booking %(reservation)s: the party arrived"),
             "queue.reservation_no-show": _l("Table booking %(reservation)s: the party did not come")},
    resources={"console": "console.bp"},
    init_app=register_payments,  # pre-orders paid online (lightapps/queue/payment.py)
    in_use=in_use,  # no zone switch or class change strands a party holding a number (portal/owner/views.py)
)
