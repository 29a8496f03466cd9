"""Demo data for the activities app (idempotent: it runs on every start)."""

from __future__ import annotations

import time

from lightapps.activities.store import ActivityStore

HOUR = 3600
DAY = 86400


def _demo_items(now: float) -> list[dict]:
    return [
        {"kind": "event", "title_en": "Lion dance and drums", "title_zh": "舞狮迎春", "place_en": "Atrium stage",
         "place_zh": "中庭舞台",
         "description_en": "A 30-minute lion dance with drums. Free; sign up for a seat in front.",
         "description_zh": "30 分钟舞狮与鼓乐表演，免费；报名可坐前排。",
         "starts_at": now + 3 * DAY, "ends_at": now + 3 * DAY + HOUR, "limit": 80},
        {"kind": "event", "title_en": "Kids' robot workshop", "title_zh": "少儿机器人工作坊",
         "place_en": "Atrium, east side", "place_zh": "中庭东侧",
         "description_en": "Build and race a small robot (ages 7-12).",
         "description_zh": "动手组装小机器人，再来一场比赛（适合 7-12 岁）。",
         "starts_at": now + 5 * DAY, "ends_at": now + 5 * DAY + 2 * HOUR, "limit": 20},
        {"kind": "sale", "title_en": "Wireless earbuds", "title_zh": "无线耳机", "price": "¥99", "was_price": "¥299",
         "description_en": "Pay here, then collect at Pixel Electronics, level 1, with your confirmation code.",
         "description_zh": "在此付款，凭确认码到 L1 层像素电子取货。", "starts_at": now - HOUR,
         "ends_at": now + 7 * DAY, "limit": 30},
        {"kind": "sale", "title_en": "Hand-made soap set", "title_zh": "手工皂礼盒", "price": "¥39", "was_price": "¥88",
         "description_en": "Atrium pop-up stall.", "description_zh": "中庭快闪摊位。", "starts_at": now + DAY,
         "ends_at": now + 2 * DAY, "limit": 50},
        {"kind": "group", "title_en": "Family cinema pack (4 tickets)", "title_zh": "家庭观影套票（4张）",
         "price": "¥120", "was_price": "¥200", "description_en": "Goes ahead if 10 families join by the deadline.",
         "description_zh": "截止前满 10 个家庭参团即成团。",
         "ends_at": now + 4 * DAY, "needed": 10, "limit": 40},
    ]


def seed(svc, venue_map) -> None:
    """Events, flash sales, a group buy and a partner link in the atrium, unless it has activities."""
    store = ActivityStore(svc.db)
    if venue_map.zone("atrium") is None or not store.claim_seed_slot(venue_map.id, "atrium"):
        return
    now = time.time()
    created = [store.create(venue_map.id, "atrium", fields, created_by="demo", now=now) for fields in _demo_items(now)]
    earbuds = next(a for a in created if a.kind == "sale")
    store.create_link(venue_map.id, "atrium", {
        "label_en": "Pixel Electronics online shop", "label_zh": "像素电子网店", "url": "https://shop.example.com/pixel/earbuds?ref=mall",
        "campaign": "", "activity": earbuds.id})
