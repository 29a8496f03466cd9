"""Who the shopper is: a bearer secret the shopper's browser holds.

A shopper token is random (`<venue>.<32 random bytes, URL-safe>`) and means something only through its
record in the store (keyed by a hash of the token, so a store dump hands out no token): the shopper id
(random, the key of every light app's data), and the phone it was handed to, if any. A MAC or an IP seen
in a probe or a gateway redirect only *locates* a phone; every token the portal hands out for it is a new
one for a new, empty shopper, so knowing a MAC or an IP never gives anyone an existing shopper's data.
The phone is trusted for "where am I" (navigation from=me, the car finder's start) only when the gateway
vouched for it (a verified grant, a signed FAS payload, the IP table that only such requests fill).

A returning phone gets back to its shopper only through what the shopper holds: the token in a link or a
form (`c`, because the iOS captive mini-browser keeps no cookies) or in the `mp_c` cookie of a real
browser. Tokens expire when unused (an hour for one never opened, `SHOPPER_TOKEN_TTL_S` after the last
use otherwise) and `ShopperTokenStore.revoke` ends all of a shopper's tokens."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, g, request, url_for
from werkzeug.exceptions import HTTPException

from core.storage import HotScript, VenueKeys
from portal.events.log import LogEntry

log = logging.getLogger(__name__)

COOKIE = "mp_c"
MAX_TOKEN_LENGTH = 120
UNOPENED_TTL_S = 3600  # a token handed out by a probe and never opened is gone after an hour


@dataclass(frozen=True)
class Shopper:
    venue: str
    client: str  # the shopper id: random, the key of the light apps' data
    phone: str | None = None  # keyed hash of the MAC of the phone the token was handed to
    phone_verified: bool = False  # the gateway vouched that this browser is on that phone
    handout: bool = field(default=False, compare=False)  # read from a token a probe or redirect handed out

    @property
    def own_phone(self) -> str | None:
        """The phone whose position this shopper may see (navigation from=me): a verified one only."""
        return self.phone if self.phone_verified else None


class ShopperKeys(VenueKeys):
    def token(self, digest: str) -> str:
        return self.key("shopper", "token", digest)

    def tokens_of(self, client: str) -> str:
        return self.key("shopper", "tokens", client)


# KEYS: the token's record, the shopper's token set[, an event stream]. ARGV: record, ttl, digest, set ttl[,
# the stream's maxlen, the event's field, value, ...]. The event (a probe's `landing`) rides on the mint's
# round trip; failing to append it never fails the mint (the error comes back for the log).
_MINT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
if KEYS[3] then
  local added = redis.pcall('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))
  if type(added) == 'table' and added.err then return added.err end
end
return 1
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:40]


def new_client_id() -> str:
    return "s-" + secrets.token_hex(12)


class ShopperTokenStore:
    """Mint, resolve and revoke shopper tokens. Minting is one round trip (the probe lane mints one
    per probe before the grant, on the hot path's own connection: core.storage.HotScript); resolving
    is one GETEX that also slides the expiry."""

    def __init__(self, db: redis.Redis, ttl_s: int) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._mint = HotScript(db, _MINT)

    def mint(self, shopper: Shopper, handout: bool = False, event: LogEntry | None = None) -> str:
        """A new token for this shopper. `handout`: for a phone a probe or a gateway redirect located (a
        new shopper; gone after an hour unless opened; a browser's cookie may claim it, see
        current_shopper). `event`: an event of the shopper's venue appended in the same round trip (the
        probe's `landing`, EventLog.entry); a failure to append it is logged, the token still stands."""
        secret = secrets.token_urlsafe(32)
        digest = _digest(secret)
        keys = ShopperKeys(shopper.venue)
        record = {"c": shopper.client, "p": shopper.phone, "v": int(shopper.phone_verified)}
        if handout:
            record["h"] = 1
        ttl = min(UNOPENED_TTL_S, self.ttl_s) if handout else self.ttl_s
        script_keys = [keys.token(digest), keys.tokens_of(shopper.client)]
        args = [json.dumps(record), ttl, digest, self.ttl_s]
        if event is not None:
            script_keys.append(event.stream)
            args.append(event.maxlen)
            for name, value in event.fields.items():
                args += (name, value)
        failed = self._mint(keys=script_keys, args=args)
        if failed != 1:
            log.warning("event %s for venue %s not logged: %s", event and event.fields.get("k"), shopper.venue,
                        failed.decode(errors="replace") if isinstance(failed, bytes) else failed)
        return f"{shopper.venue}.{secret}"

    def resolve(self, token: str | None) -> Shopper | None:
        """The shopper a token stands for; None for a malformed, unknown, expired or revoked one."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        venue, dot, secret = token.rpartition(".")
        if not dot or not venue or len(secret) < 40 or not _is_venue_id(venue):
            return None
        raw = self.db.getex(ShopperKeys(venue).token(_digest(secret)), ex=self.ttl_s)
        if raw is None:
            return None
        record = json.loads(raw)
        return Shopper(venue=venue, client=record["c"], phone=record.get("p"), phone_verified=bool(record.get("v")),
                       handout=bool(record.get("h")))

    def revoke(self, venue: str, client: str) -> int:
        """End every token of this shopper (returns how many there were)."""
        keys = ShopperKeys(venue)
        digests = [d.decode() for d in self.db.smembers(keys.tokens_of(client))]
        if not digests:
            return 0
        self.db.delete(*(keys.token(d) for d in digests), keys.tokens_of(client))
        return len(digests)


def _is_venue_id(venue: str) -> bool:
    return len(venue) <= 64 and venue.replace("-", "").replace("_", "").isalnum()


def token_store(app: Flask | None = None) -> ShopperTokenStore:
    return (app or current_app).extensions["shopper_tokens"]


def init_shopper(app: Flask, db: redis.Redis, ttl_s: int, secure_cookie: bool) -> None:
    app.extensions["shopper_tokens"] = ShopperTokenStore(db, ttl_s)
    app.config["SHOPPER_COOKIE_SECURE"] = secure_cookie

    @app.after_request
    def _keep_in_cookie(response):
        """A real browser keeps the shopper in a cookie too, so a new probe token (a new phone MAC, a
        new IP) finds its way back to the same shopper; the iOS mini-browser simply ignores it."""
        token = g.get("shopper_token")
        if g.get("keep_in_cookie") and token and request.cookies.get(COOKIE) != token and response.status_code < 400:
            response.set_cookie(COOKIE, token, max_age=ttl_s, httponly=True, samesite="Lax",
                                secure=app.config["SHOPPER_COOKIE_SECURE"])
        return response


def keep_shopper_in_cookie() -> None:
    """This page (the mall home, the PWA's start page; a queue ticket) also stores the shopper's token in
    a cookie, so the browser finds its way back after a new probe token (a new MAC, a new IP)."""
    g.keep_in_cookie = True


def shopper_token(shopper: Shopper) -> str:
    """The token for links and forms of this page: the one the request carried for this shopper, else a
    new one (a page for a new shopper; a preview link), minted once per request."""
    if g.get("shopper") == shopper:
        if not g.get("shopper_token"):
            g.shopper_token = token_store().mint(shopper)
        return g.shopper_token
    minted = g.setdefault("minted_tokens", {})
    if shopper not in minted:
        minted[shopper] = token_store().mint(shopper)
    return minted[shopper]


def _request_token() -> str | None:
    try:
        return request.values.get("c")
    except HTTPException:  # a body too large or malformed to read (e.g. on the 413 error page)
        return request.args.get("c")


def current_shopper() -> Shopper | None:
    """From the `c` parameter (query or form), else the cookie. Cached per request.

    A `c` token a probe or a gateway redirect handed out (a new shopper) on a browser whose cookie names a
    shopper of the same venue: the cookie's shopper comes back, now on this phone (re-linking through
    what the shopper holds, never through the MAC)."""
    if "shopper" not in g:
        g.shopper, g.shopper_token = None, None  # also when the store fails below (the 503 page asks again)
        store = token_store()
        given, cookie = _request_token(), request.cookies.get(COOKIE)
        shopper, token = store.resolve(given), given
        if cookie and cookie != given:
            kept = store.resolve(cookie)
            if kept is not None and (shopper is None or (shopper.handout and shopper.venue == kept.venue
                                                          and shopper.client != kept.client)):
                if shopper is not None and shopper.phone:
                    kept = Shopper(kept.venue, kept.client, shopper.phone, shopper.phone_verified)
                    token = store.mint(kept)
                else:
                    token = cookie
                shopper = kept
        g.shopper, g.shopper_token = shopper, (token if shopper else None)
    return g.shopper


def shopper_url(endpoint: str, **values) -> str:
    """url_for that keeps the shopper's `c` token, so navigation works without cookies."""
    shopper = current_shopper()
    if shopper is not None and "c" not in values:
        values["c"] = shopper_token(shopper)
    return url_for(endpoint, **values)


def new_shopper(venue: str, phone: str | None = None, phone_verified: bool = False) -> Shopper:
    """A new shopper (a new random id), on the phone the portal located, if any."""
    return Shopper(venue=venue, client=new_client_id(), phone=phone, phone_verified=phone_verified and bool(phone))


def current_shopper_token() -> str:
    """For forms: the token of the shopper this page is for, however the page learnt who that is."""
    shopper = current_shopper()
    return shopper_token(shopper) if shopper else ""


def shopper_for_venue(venue: str) -> Shopper:
    """The current shopper of this venue, or a new anonymous one (a browser that arrived without the
    portal's redirect, e.g. from a bookmark). Links built with shopper_url carry it from then on."""
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        shopper = new_shopper(venue)
        g.shopper, g.shopper_token = shopper, None
    return shopper
