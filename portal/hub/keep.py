"""Keeping: a one-time link that opens the same shopper in the phone's real browser.

The captive sign-in sheet keeps no cookies and closes once the shopper is online. Me and the "you are
online" page offer a link with a one-time code; opened in the real browser, it becomes a new shopper token
kept in that browser's `mp_c` cookie and the browser is sent on to Me without anything secret in its
address. The code works once and for a day: a copied or leaked link is no lasting key to the shopper."""

from __future__ import annotations

import hashlib
import secrets

import redis

from core.storage import VenueKeys

CODE_TTL_S = 86400
MAX_CODE_LENGTH = 64


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:40]


class KeepKeys(VenueKeys):
    def code(self, digest: str) -> str:
        return self.key("keep", digest)


class KeepStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def issue(self, venue: str, client: str) -> str:
        """A new one-time code for this shopper (only its hash is stored)."""
        code = secrets.token_urlsafe(24)
        self.db.set(KeepKeys(venue).code(_digest(code)), client, ex=CODE_TTL_S)
        return code

    def redeem(self, venue: str, code: str) -> str | None:
        """The shopper id the code was issued for, once (GETDEL); None for an unknown, used or expired one."""
        if not code or len(code) > MAX_CODE_LENGTH:
            return None
        raw = self.db.getdel(KeepKeys(venue).code(_digest(code)))
        return raw.decode() if raw else None
