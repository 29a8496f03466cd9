"""Demo data for the coupons app (idempotent: it runs on every start)."""

from __future__ import annotations

from datetime import datetime, timedelta

from lightapps.coupons.store import CouponStore
from portal.apps.locale import read_venue_locale

# zone -> (title_en, title_zh, description_en, description_zh, stock)
DEMO_COUPONS = {
    "kopi": (
        ("Free kaya toast with any coffee", "任意咖啡加送咖椰吐司", "Show the code at the counter.",
         "在柜台出示券码即可。", 50),
        ("20% off single-origin beans", "单品咖啡豆八折", "One bag per coupon.", "每张券限购一袋。", 30),
    ),
    "books": (
        ("10% off any purchase of 3 books or more", "购书三本及以上九折", "Not valid on magazines.",
         "杂志不参与此优惠。", 40),
        ("Free bookmark set", "免费书签一套", "While stocks last.", "送完即止。", 100),
    ),
    "lumen": (
        ("15% off new-season jackets", "新季外套八五折", "One jacket per coupon.", "每张券限购一件外套。", 25),
        ("Buy 2 tees, get 1 free", "T恤买二送一", "Lowest-priced tee free.", "价格最低的一件免费。", 60),
    ),
}


def seed(svc, venue_map) -> None:
    """Two coupons each for the demo zones kopi, books and lumen, unless the zone has coupons already."""
    store = CouponStore(svc.db)
    zones = {z.id for z in venue_map.zones}
    tz = read_venue_locale(svc, venue_map.id).time_zone  # valid from the mall's midnight, not the server's
    today = datetime.now(tz).date()
    for zone, coupons in DEMO_COUPONS.items():
        if zone not in zones or not store.claim_seed_slot(venue_map.id, zone):
            continue
        for title_en, title_zh, description_en, description_zh, stock in coupons:
            store.create(venue_map.id, zone, {
                "title_en": title_en, "title_zh": title_zh, "description_en": description_en,
                "description_zh": description_zh, "stock": stock,
                "valid_from": today - timedelta(days=1), "valid_until": today + timedelta(days=60),
            }, created_by="demo", tz=tz)
