"""Demo data: the food court's and Jade Tea House's queue config and menus (the demo mall runs the queue there)."""

from __future__ import annotations

from lightapps.queue import APP
from lightapps.queue.store import QueueStore

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


def seed(svc, venue_map) -> None:
    """Demo config and menu for the food court and Jade Tea House, where the demo runs the queue.
    Leaves a config an owner has changed, and a menu that has items, as they are."""
    store = QueueStore.from_services(svc)  # the store the app runs on, the venue's clock and all
    defaults = APP.default_config()
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
