"""A flash sale (¥99) and a group buy (¥120 deposit) open for an hour at the atrium: what the erasure and my-data
tests have a shopper pay for."""

from __future__ import annotations

from lightapps.activities.store import ActivityStore


def sale_and_group(activities: ActivityStore, venue: str, now: float):
    """(sale, group): both started a minute ago, ending in an hour."""
    sale = activities.create(venue, "atrium", {"kind": "sale", "title_en": "Earbuds", "title_zh": "耳机",
                                               "price": "¥99", "starts_at": now - 60, "ends_at": now + 3600,
                                               "limit": 5})
    group = activities.create(venue, "atrium", {"kind": "group", "title_en": "Hotpot", "title_zh": "火锅",
                                                "price": "¥120", "starts_at": now - 60, "ends_at": now + 3600,
                                                "needed": 3, "limit": 0})
    return sale, group
