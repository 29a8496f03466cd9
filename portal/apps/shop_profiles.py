"""What a shop's owner writes about the shop for the directory: its description in Chinese and English.

The venue map (operators') keeps where a shop is and its names; what the shop says about itself is the zone
owner's and changes without a new map version (which would rebuild the positioning model). Read by the
directory's shop page; written from the owner console (portal/owner/views.py), for the shops of a zone the
account manages."""

from __future__ import annotations

import redis

from core.storage import VenueKeys
from portal.apps.bilingual import read_pair

DESCRIPTION_MAX = 500


class ShopProfileKeys(VenueKeys):
    def profile(self, shop: str) -> str:
        return self.key("shop", shop, "profile")


class ShopProfileStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def get(self, venue: str, shop: str, map_description: str = "") -> dict[str, str]:
        """`{description_zh, description_en}`; a shop whose owner wrote nothing yet keeps the map's
        (English) description."""
        raw = self.db.hgetall(ShopProfileKeys(venue).profile(shop))
        if not raw:
            return {"description_zh": "", "description_en": map_description}
        stored = {k.decode(): v.decode() for k, v in raw.items()}
        return {name: stored.get(name, "") for name in ("description_zh", "description_en")}

    def set(self, venue: str, shop: str, form) -> dict[str, str]:
        """Save the description pair read from an owner's form (InputError when one is too long)."""
        fields = read_pair(form, "description", DESCRIPTION_MAX)
        self.db.hset(ShopProfileKeys(venue).profile(shop), mapping=fields)
        return fields
