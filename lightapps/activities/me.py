"""The activities' part of Me: the events, sales and group buys the shopper joined (portal/apps/mine.py)."""

from __future__ import annotations

from lightapps.activities import APP
from portal.apps.mine import MyItem
from portal.apps.views import app_store, is_zh
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    zh = is_zh()
    return [MyItem(kind="event", title=item.title(zh), detail=code, when=item.starts_at,
                   endpoint="activities.item", values={"venue": venue, "item_id": item.id})
            for item, code in app_store(APP).mine(venue, shopper.client)]
