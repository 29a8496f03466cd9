"""Per-venue API tokens for report sources, stored as SHA-256 digests only."""

from __future__ import annotations

import redis

from core.security import hash_token, new_token
from core.storage import VenueKeys


class TokenKeys(VenueKeys):
    def tokens(self) -> str:
        return self.key("api", "tokens")


class ApiTokenStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def issue(self, venue: str, label: str, token: str | None = None) -> str:
        token = token or new_token()
        self.db.hset(TokenKeys(venue).tokens(), hash_token(token), label)
        return token

    def source_for(self, venue: str, token: str) -> str | None:
        """The label of the source owning this token in this venue, or None. Looking up the digest
        (not comparing raw tokens) leaves nothing for a timing attack to learn."""
        if not token:
            return None
        label = self.db.hget(TokenKeys(venue).tokens(), hash_token(token))
        return label.decode() if label else None

    def revoke(self, venue: str, token: str) -> None:
        self.db.hdel(TokenKeys(venue).tokens(), hash_token(token))
