"""Shopper id -> card number, one hash per venue."""

from __future__ import annotations

import redis

from core.storage import VenueKeys


class CardKeys(VenueKeys):
    def cards(self) -> str:
        return self.key("cards", "of")


class CardStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def join(self, venue: str, client: str, card: str) -> None:
        self.db.hset(CardKeys(venue).cards(), client, card)

    def member_of(self, venue: str, client: str) -> str | None:
        raw = self.db.hget(CardKeys(venue).cards(), client)
        return raw.decode() if raw else None

    def export_shopper(self, venue: str, client: str) -> dict:
        card = self.member_of(venue, client)
        return {"card": card} if card else {}

    def forget_shopper(self, venue: str, client: str) -> int:
        return int(self.db.hdel(CardKeys(venue).cards(), client))


def card_members(store: CardStore) -> CardStore:
    """The "members" capability: the store answers `member_of` itself."""
    return store
