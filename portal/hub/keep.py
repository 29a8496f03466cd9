"""Keeping: a one-time link that opens the same shopper in the phone's real browser.

The captive sign-in sheet keeps no cookies and closes once the shopper is online. Me and the "you are
online" page offer a link with a one-time code; opened in the real browser, it becomes a new shopper token
kept in that browser's `mp_c` cookie and the browser is sent on to Me without anything secret in its
address. The code works once and for a day: a copied or leaked link is no lasting key to the shopper.

Opening the link (GET) changes nothing: it shows a page whose button (POST) redeems the code. A captive
sheet that follows the link in place (no new windows), or a link preview, leaves the code for the copy the
shopper types into their real browser."""

from __future__ import annotations

import hashlib
import re
import secrets

import redis

from core.storage import VenueKeys

CODE_TTL_S = 86400
MAX_CODE_LENGTH = 64
_CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CODE_LENGTH}}}")


def well_formed(code: str) -> bool:
    """Could be a code `issue` handed out (URL-safe base64, not too long): anything else is a damaged link."""
    return bool(_CODE.fullmatch(code or ""))


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

    def usable(self, venue: str, code: str) -> bool:
        """The code is still there to redeem (read only: opening the link spends nothing)."""
        return well_formed(code) and bool(self.db.exists(KeepKeys(venue).code(_digest(code))))

    def redeem(self, venue: str, code: str) -> str | None:
        """The shopper id the code was issued for, once (GETDEL); None for an unknown, used or expired one."""
        if not well_formed(code):
            return None
        raw = self.db.getdel(KeepKeys(venue).code(_digest(code)))
        return raw.decode() if raw else None
