"""Keeping: a one-time link that opens the same shopper in the phone's real browser.

The captive sign-in sheet keeps no cookies and closes once the shopper is online. Me and the "you are
online" page offer a link with a one-time code; opened in the real browser, it becomes a new shopper token
kept in that browser's `mp_c` cookie and the browser is sent on to Me without anything secret in its
address. The code works once and for a day: a copied or leaked link is no lasting key to the shopper.

Opening the link (GET) changes nothing: it shows a page whose button (POST) redeems the code. A captive
sheet that follows the link in place (no new windows), or a link preview, leaves the code for the copy the
shopper types into their real browser.

A code issued with the token the gateway's redirect or probe handed out, vouched for the phone (the sign-in
sheet's), carries that phone (a code issued in a browser a code opened carries none: the gateway never saw it):
the real browser it opens is on the same phone (or wherever the shopper herself took the link), and without it
that browser's token would name no phone - no "where am I", no download of the phone's own location history.

Each shopper's live codes are also listed (their digests, in `of(client)`, with their expiry as score) so
that erasure ends them: a code issued before erasure must not bring the erased shopper id back."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass

import redis

from core.storage import VenueKeys

CODE_TTL_S = 86400
# Live codes one shopper may hold: Me issues a new one on every render, so a token reloaded in a loop would
# otherwise store a code (a day each) per request; past this the oldest ends (a link copied five reloads ago).
MAX_LIVE_CODES = 5
MAX_CODE_LENGTH = 64
_CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CODE_LENGTH}}}")


def well_formed(code: str) -> bool:
    """Could be a code `issue` handed out (URL-safe base64, not too long): anything else is a damaged link."""
    return bool(_CODE.fullmatch(code or ""))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Kept:
    """Whom a redeemed code opens: the shopper, and the phone the gateway vouched for where it was issued."""

    client: str
    phone: str | None = None


def _value(client: str, phone: str | None) -> str:
    return json.dumps({"c": client, "p": phone}) if phone else client


def _kept(raw: bytes) -> Kept | None:
    """A code's stored value: the shopper id alone (a code issued on a page vouched for no phone, or before codes
    carried one), or {"c": shopper, "p": phone}."""
    text = raw.decode()
    if not text.startswith("{"):
        return Kept(text)
    try:
        fields = json.loads(text)
        return Kept(str(fields["c"]), str(fields["p"]) if fields.get("p") else None)
    except (ValueError, KeyError, TypeError):
        return None


class KeepKeys(VenueKeys):
    def code(self, digest: str) -> str:
        return self.key("keep", digest)

    def of(self, client: str) -> str:
        """The shopper's live codes: a sorted set of digests scored by expiry (on the codes' slot)."""
        return self.key("keep_of", client)


class KeepStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def issue(self, venue: str, client: str, phone: str | None = None) -> str:
        """A new one-time code for this shopper (only its hash is stored), on `phone` when the gateway vouched for
        it (Shopper.own_phone); the shopper's oldest codes beyond MAX_LIVE_CODES end."""
        code, keys, now = secrets.token_urlsafe(24), KeepKeys(venue), time.time()
        digest = _digest(code)

        # Code and index in one MULTI (one slot), so no code exists that erasure cannot find; WATCH on the
        # index, so the oldest codes read here are the ones ended (a code issued meanwhile: a retry).
        def write(pipe: redis.client.Pipeline) -> None:
            # by expiry, oldest first: all but the newest MAX_LIVE_CODES - 1 make room for this one
            oldest = [d.decode() for d in pipe.zrange(keys.of(client), 0, -MAX_LIVE_CODES)]
            pipe.multi()
            if oldest:
                pipe.delete(*(keys.code(d) for d in oldest))
                pipe.zrem(keys.of(client), *oldest)
            pipe.set(keys.code(digest), _value(client, phone), ex=CODE_TTL_S)
            pipe.zremrangebyscore(keys.of(client), "-inf", now)  # expired codes: drop, so the index stays small
            pipe.zadd(keys.of(client), {digest: now + CODE_TTL_S})
            pipe.expire(keys.of(client), CODE_TTL_S)

        self.db.transaction(write, keys.of(client))
        return code

    def usable(self, venue: str, code: str) -> bool:
        """The code is still there to redeem (read only: opening the link spends nothing)."""
        return well_formed(code) and bool(self.db.exists(KeepKeys(venue).code(_digest(code))))

    def redeem(self, venue: str, code: str) -> Kept | None:
        """Whom the code was issued for, once (GETDEL); None for an unknown, used or expired one."""
        if not well_formed(code):
            return None
        keys, digest = KeepKeys(venue), _digest(code)
        raw = self.db.getdel(keys.code(digest))
        kept = _kept(raw) if raw else None
        if kept is None:
            return None
        self.db.zrem(keys.of(kept.client), digest)  # tidying only: a spent digest in the index ends nothing
        return kept

    def forget_shopper(self, venue: str, client: str) -> int:
        """End every live code of this shopper (erasure); returns how many ended. WATCH on the index, so a
        code issued meanwhile is either seen here or makes the transaction retry."""
        keys = KeepKeys(venue)

        def end(pipe: redis.client.Pipeline) -> int:
            digests = [d.decode() for d in pipe.zrange(keys.of(client), 0, -1)]
            pipe.multi()
            pipe.delete(*(keys.code(d) for d in digests), keys.of(client))
            return len(digests)

        return self.db.transaction(end, keys.of(client), value_from_callable=True)
