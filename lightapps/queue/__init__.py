"""Restaurant queue: take a number by party size, see position and wait, reservations, pre-orders.

Shoppers land on `queue.landing`; owners run the queue at `/console/apps/queue/<venue>/<zone>/`
(`queue_console.dashboard`)."""

from __future__ import annotations

from typing import Any

from lightapps.queue import rules
from lightapps.queue.console import bp as console_bp
from lightapps.queue.store import QueueStore
from lightapps.queue.views import bp
from portal.apps.registry import ConfigField, LightApp


class TableClassesField(ConfigField):
    """Text like ``A:1-2,B:3-4,C:5-12``, checked and written back in a canonical form."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw)
        return rules.format_table_classes(rules.parse_table_classes(value))


class HoursField(ConfigField):
    """Opening hours for reservations, ``HH:MM-HH:MM``."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw)
        start, end = rules.parse_hours(value)
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


CONFIG_SCHEMA = (
    ConfigField("headline_en", "Headline (English)", default="Take a number: we'll tell you when your table is ready.",
                max_length=120),
    ConfigField("headline_zh", "Headline (Chinese)", default="在线取号，叫号前不必排队等候。", max_length=120),
    TableClassesField("table_classes", "Table classes", default=rules.DEFAULT_CLASSES, required=True, max_length=120,
                      help="Label:party sizes, comma separated, e.g. A:1-2,B:3-4,C:5-12 (C:5+ = 5 and up)"),
    ConfigField("turn_minutes", "Average minutes per table turn", type="int", default=15, min=1, max=240,
                help="Minutes between two tables of one class coming free; the wait estimate uses it "
                     "until the day's seatings give real intervals"),
    ConfigField("reservations", "Take reservations", type="bool", default=True),
    HoursField("open_hours", "Reservation hours", default=rules.DEFAULT_HOURS, required=True, max_length=11),
    ConfigField("slot_minutes", "Reservation slot (minutes)", type="int", default=30, min=10, max=240),
    ConfigField("slot_capacity", "Reservations per slot (parties)", type="int", default=4, min=0, max=200),
    ConfigField("currency", "Currency symbol", default="¥", max_length=4),
)


DEMO = {
    "foodcourt": {
        "config": {"headline_en": "Food court seating: take a number, browse the shops, come back when called.",
                   "headline_zh": "美食广场取号：先逛逛，叫号再回来。",
                   "table_classes": "A:1-2,B:3-4,C:5-8", "turn_minutes": 6, "slot_capacity": 6},
        "menu": [("Hand-pulled beef noodles", "兰州牛肉拉面", 2800), ("Pork dumplings (12)", "猪肉水饺（12只）", 2200),
                 ("Hot and sour soup", "酸辣汤", 1200), ("Iced lemon tea", "冻柠茶", 900)],
    },
    "jade": {
        "config": {"headline_en": "Dim sum and tea. Take a number or book a table.",
                   "headline_zh": "点心茶楼：在线取号或预订座位。",
                   "table_classes": "A:1-2,B:3-4,C:5-12", "turn_minutes": 15, "slot_capacity": 4},
        "menu": [("Har gow (4)", "虾饺（4只）", 3200), ("Siu mai (4)", "烧卖（4只）", 2800),
                 ("Char siu bao (3)", "叉烧包（3只）", 2400), ("Egg tarts (3)", "蛋挞（3只）", 1800),
                 ("Pot of pu-erh tea", "普洱茶（壶）", 1500)],
    },
}


def seed_demo(svc, venue_map) -> None:
    """Demo config and menu for the food court and Jade Tea House, where the demo runs the queue.
    Leaves a config an owner has changed, and a menu that has items, as they are."""
    store = QueueStore(svc.db)
    defaults = {f.name: f.default for f in CONFIG_SCHEMA}
    zone_ids = {z.id for z in venue_map.zones}
    for zone, demo in DEMO.items():
        if zone not in zone_ids:
            continue
        config = svc.zone_apps.config_for(venue_map.id, zone, "queue")
        if config is not None and (not config or config == defaults):
            svc.zone_apps.set(venue_map.id, zone, "queue", {**defaults, **demo["config"]})
        if not store.menu(venue_map.id, zone):
            for name_en, name_zh, price in demo["menu"]:
                store.put_menu_item(venue_map.id, zone, name_en, name_zh, price)


def init_app(flask_app) -> None:
    flask_app.register_blueprint(console_bp)


APP = LightApp(
    name="queue",
    title_en="Restaurant queue",
    title_zh="餐厅排队取号",
    blueprint=bp,
    landing_endpoint="queue.landing",
    console_endpoint="queue_console.dashboard",
    config_schema=CONFIG_SCHEMA,
    zone_kinds=("restaurant", "food"),
    init_app=init_app,
    seed_demo=seed_demo,
)
