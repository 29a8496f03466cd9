"""Demo data for the games app (idempotent: it runs on every start): a lucky draw for the atrium, ready
for when its owner (`events`) picks the games app as the atrium's landing app in the owner console."""

from __future__ import annotations

from datetime import datetime, timedelta

from lightapps.games.rules import parse_game
from lightapps.games.store import GameStore
from portal.apps.locale import read_venue_locale

DEMO_ZONE = "atrium"
DEMO_GAME = {
    "title_en": "Atrium lucky draw", "title_zh": "中庭幸运抽奖", "style": "shake", "per_shopper": "3",
    "per_day": "1", "total": "150",
    "p1_kind": "points", "p1_title_en": "200 membership points", "p1_title_zh": "200会员积分", "p1_value": "200",
    "p1_odds": "20", "p1_stock": "100",
    "p2_kind": "coupon", "p2_title_en": "¥20 mall gift coupon", "p2_title_zh": "20元商场礼券", "p2_value": "20",
    "p2_odds": "5", "p2_stock": "40",
    "p3_kind": "coupon", "p3_title_en": "Cinema ticket for two", "p3_title_zh": "双人电影票", "p3_value": "90",
    "p3_odds": "0.5", "p3_stock": "10",
}


def seed(svc, venue_map) -> None:
    if venue_map.zone(DEMO_ZONE) is None:
        return
    store = GameStore(svc.db)
    if not store.claim_seed_slot(venue_map.id, DEMO_ZONE):
        return
    locale = read_venue_locale(svc, venue_map.id)
    today = datetime.now(locale.time_zone).date()
    spec = parse_game({**DEMO_GAME, "last_day": (today + timedelta(days=60)).isoformat()}, today)
    store.publish(venue_map.id, DEMO_ZONE, spec, created_by="demo", tz=locale.time_zone)
