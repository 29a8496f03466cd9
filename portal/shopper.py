"""Who the shopper is: a bearer secret the shopper's browser holds.

A shopper token means something only through its record in the store (keyed by a hash of the token, so
a store dump hands out no token): the shopper id (random, the key of every light app's data), and the phone
it was handed to, if any. Two forms, both `<venue>.<URL-safe base64>`:
- minted for a known shopper (a page's links, a re-linked cookie, a notification): 32 random bytes, its
  record written when it is minted;
- handed out to a new shopper (by a probe or a gateway redirect, or by a page a browser opened without a
  token of its venue): the record itself, sealed (AES-GCM under a sub-key of SECRET_KEY, bound to the
  venue) with the time it was handed out. Most of these are never
  opened (an OS probes several times per join, the sign-in sheet opens one), so nothing is written when
  one is handed out: the probe's answer costs no store write. The record is written when the token is
  first opened (`resolve`), in one script that also leaves an "opened" mark for as long as the sealed
  token could still be opened: a token revoked or expired after opening is not opened a second time.
A MAC or an IP seen in a probe or a gateway redirect only *locates* a phone; every token the portal hands
out for it is a new one for a new, empty shopper, so knowing a MAC or an IP never gives anyone an existing
shopper's data.
The phone is trusted for "where am I" (navigation from=me, the car finder's start) only when the gateway
vouched for it (a verified grant, a signed FAS payload, the IP table that only such requests fill).

A returning phone gets back to its shopper only through what the shopper holds: the token in a link or a
form (`c`, because the iOS captive mini-browser keeps no cookies) or in a real browser's cookie of that
venue (`mp_c_<venue>`, `cookie_name`): one cookie per venue, so a browser that visits two malls of one
deployment keeps a shopper in each, and a page of one mall never replaces another mall's cookie: a `c`
token is weighed against the cookie of its own venue (below), and a mall's page with no `c` token of that
mall is the shopper of that mall's cookie (shopper_for_venue). Tokens expire when unused (an hour for one
never opened, `SHOPPER_TOKEN_TTL_S` after the last use otherwise) and `ShopperTokenStore.revoke` ends all
of a shopper's tokens. The release before kept one `mp_c` cookie for every venue (`LEGACY_COOKIE`): it
counts as the cookie of the venue its token names, and is moved to that venue's cookie on the next response
to a shopper page (`_cookie_changes`).

Who may change a venue's cookie: a link's token is a bearer secret anyone may have been sent, so a page
opened with the `c` token of another shopper of the cookie's venue is that shopper's (a texted ticket link
shows the ticket, and the page's links keep that token), but the cookie keeps its own shopper: otherwise
whoever sent the link (a poster, a chat) would choose who this browser is from then on and read what it
does (session fixation). The cookie takes another shopper of its venue only through the keep link
(`/v/<venue>/keep`: a one-time code and a tapped button); a handed-out token on such a browser gives way
to the cookie's shopper (above); a browser with no cookie of the venue keeps the first token it is given."""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from flask import Flask, Response, abort, current_app, g, request, url_for
from flask_babel import gettext  # not `_`: revoke loops with `_`
from werkzeug.exceptions import HTTPException

from core.ids import is_venue_id
from core.security import Sealer, b64url, unb64url
from core.settings import Settings
from core.storage import LUA_STORE_CLOCK, PRUNE_ABOVE, HotScript, VenueKeys, drop_dead_members
from portal.i18n import chosen_lang

log = logging.getLogger(__name__)

COOKIE_PREFIX = "mp_c_"  # + a venue id: the cookie keeping this browser's shopper of that venue (cookie_name)
LEGACY_COOKIE = "mp_c"  # the one cookie for every venue before there was one per venue: read, then moved
MAX_TOKEN_LENGTH = 240  # a handed-out token of a 64-character venue id and a long phone id fits
UNOPENED_TTL_S = 3600  # a token handed out by a probe and never opened is gone after an hour
MINTED_SECRET_CHARS = 43  # secrets.token_urlsafe(32); a sealed handout is longer
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETURN_COOKIE = "mp_r"  # a shopper kept for the return from a third party's page (remember_for_return)
RETURN_COOKIE_S = 3600
OWN_FETCH_SITES = frozenset({"same-origin", "none"})  # Sec-Fetch-Site of the portal's own pages, or typed by the user
LINK_SLACK_S = 86400  # a shopper's phone set (and its phones' links to her) is slid at most once a day this far past
# The preview shopper's id (the owner console's preview, portal/apps/preview.py): a shopper's own id is
# new_client_id()'s "s-...", and ids are only ever made by the portal, so no real shopper has this prefix.
PREVIEW_CLIENT_PREFIX = "preview-"


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


def is_preview_shopper(shopper: Shopper | None) -> bool:
    return shopper is not None and shopper.client.startswith(PREVIEW_CLIENT_PREFIX)


class ShopperKeys(VenueKeys):
    def token(self, digest: str) -> str:
        return self.key("shopper", "token", digest)

    def tokens_of(self, client: str) -> str:
        """Set: the digests of this shopper's tokens (revoke ends them through it), slid with each use. A token's
        record expires by itself and leaves its digest here: `mint` drops the dead ones once the set holds more
        than PRUNE_ABOVE (a regular's browser mints one per visit)."""
        return self.key("shopper", "tokens", client)

    def phones_of(self, client: str) -> str:
        """Set: the phones the gateway vouched for on any token of this shopper, slid with her token set
        (`tokens_of`) so it outlives every token of hers: an erasure from her kept browser reaches a phone
        whose sign-in sheet token expired while its events are kept (anonymised after 90 days by default). Slid
        to the token life plus LINK_SLACK_S once it has less than the token life left, with its phones' indexes
        (`shoppers_on`)."""
        return self.key("shopper", "phones", client)

    def shoppers_on(self, phone: str) -> str:
        """Sorted set: the reverse of `phones_of`, the shoppers on whose tokens the gateway vouched for this phone
        (each captive landing hands out a new shopper id, so one phone's Monday and Tuesday sign-in sheets are two
        shoppers), each scored with when her phone set ends (epoch s). Written by the scripts that put the phone
        on her set and slid whenever her set is (`_KEEP_PHONE`, `_RELINK`): a link never outlives her set, and the
        key its last live link. Erasure reaches every shopper of her phones through it (mydata.erase); a phone
        only claimed (unverified) is never here."""
        return self.key("shopper", "on-phone", phone)

    def opened(self, digest: str) -> str:
        """String, while a handed-out token could still be opened: it was opened once (see _OPEN)."""
        return self.key("shopper", "opened", digest)


# `link(index, client, left)`: the phone's index (`ShopperKeys.shoppers_on`) lists the shopper until her phone set
# ends (`left` seconds from now): links that lapsed go, hers never moves earlier, and the key lives as long as its
# last link. `keep_phone(phones, index, client, phone, ttl, slack)`: the shopper's phone set takes the token's vouched
# phone ('': none; `index`: its index, '' for none) and, when it would end within `ttl` (the life her tokens now
# have; a set that does not exist is left alone), is kept `ttl + slack` from now (so a regular's set is slid once
# per `slack`, not on every page); the phone's index takes her with the set's expiry. Returns 1 when the set was
# slid and holds other phones: their indexes are slid by the caller (`_RELINK`, keys the script is not given).
_KEEP_PHONE = LUA_STORE_CLOCK + """
local function link(index, client, left)
  local now = math.floor(store_now(nil))
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, 'GT', now + left, client)
  if redis.call('TTL', index) < left then redis.call('EXPIRE', index, left) end
end
local function keep_phone(phones, index, client, phone, ttl, slack)
  if phone ~= '' then redis.call('SADD', phones, phone) end
  local left = redis.call('TTL', phones)
  local slid = false
  if left ~= -2 and left < ttl then
    left = ttl + slack
    redis.call('EXPIRE', phones, left)
    slid = true
  end
  if phone ~= '' then link(index, client, left) end
  if slid and redis.call('SCARD', phones) > (phone ~= '' and 1 or 0) then return 1 end
  return 0
end
"""

# KEYS: the token's record, the shopper's token set, her phone set, the vouched phone's index (none without one).
# ARGV: record, ttl, digest, set ttl, the vouched phone ("": none), the shopper id, the phone set's slack.
# Returns {keep_phone's answer (1: slide her other phones' indexes), how many digests her token set now holds}.
_MINT = _KEEP_PHONE + """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
local slide = keep_phone(KEYS[3], KEYS[4] or '', ARGV[6], ARGV[5], tonumber(ARGV[4]), tonumber(ARGV[7]))
return {slide, redis.call('SCARD', KEYS[2])}
"""

# A handed-out token, opened. KEYS: its record, its "opened" mark, the shopper's token set, her phone set, the
# vouched phone's index (none without one). ARGV: the record (from the sealed token), ttl, the mark's ttl (until
# the sealed token expires), digest, the vouched phone ("": none), the shopper id, the phone set's slack. Opened
# before: the record, its expiry slid, and listed again for as long (revoke finds it there); never: the record
# written, the mark set; either way {record, keep_phone's answer}. A mark without a record (revoked, or expired
# after opening): nothing (false).
_OPEN = _KEEP_PHONE + """
local kept = redis.call('GETEX', KEYS[1], 'EX', ARGV[2])
if kept then
  redis.call('SADD', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  return {kept, keep_phone(KEYS[4], KEYS[5] or '', ARGV[6], ARGV[5], tonumber(ARGV[2]), tonumber(ARGV[7]))}
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return false end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return {ARGV[1], keep_phone(KEYS[4], KEYS[5] or '', ARGV[6], ARGV[5], tonumber(ARGV[2]), tonumber(ARGV[7]))}
"""

# A token used (its record's expiry slid by the caller's GETEX). KEYS: the shopper's token set, her phone set, the
# token's vouched phone's index (none without one). ARGV: digest, ttl, the vouched phone ("": none), the shopper
# id, the phone set's slack. Returns keep_phone's answer.
_USE = _KEEP_PHONE + """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return keep_phone(KEYS[2], KEYS[3] or '', ARGV[4], ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[5]))
"""

# Her phone set was slid: each phone's index lists her until the set ends. KEYS: her phone set, then the index of
# each phone of ARGV[2..]. ARGV: the shopper id, her phones as the caller read them. 1: done (also when the set is
# gone: revoked meanwhile); 0: the set holds a phone the caller did not name (read it again).
_RELINK = _KEEP_PHONE + """
local left = redis.call('TTL', KEYS[1])
if left < 0 then return 1 end
local named = {}
for i = 2, #ARGV do named[ARGV[i]] = true end
for _, phone in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not named[phone] then return 0 end
end
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then link(KEYS[i], ARGV[1], left) end
end
return 1
"""
_RELINK_TRIES = 5  # each retry means a phone was put on her set in the last round trip

# A handed-out token's sealed record: flags (1: the phone was verified), when it was handed out (epoch s),
# the shopper id's 12 random bytes, then the phone's client id (UTF-8; empty: none).
_HANDOUT = struct.Struct(">BI12s")
_VERIFIED = 1


def token_venue(token: str | None) -> str | None:
    """The venue a token names (`<venue>.<secret>`) when well formed there; not whether the token is live."""
    venue, dot, _secret = (token or "").rpartition(".")
    return venue if dot and is_venue_id(venue) else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:40]


def new_client_id() -> str:
    return "s-" + secrets.token_hex(12)


class ShopperTokenStore:
    """Mint, hand out, resolve and revoke shopper tokens. Minting is one script (one round trip; two more once her
    token set holds over PRUNE_ABOVE digests, to drop those of expired tokens); handing
    out (the probe lane, once per probe before the grant) touches no store; resolving is one GETEX that
    also slides the expiry, then the token's place on its shopper's list slid with it (a second round trip:
    shopper pages, never the probe), or for a handed-out token one script (the first opening writes its record
    and slides the list in the same call).

    A handout is stamped with the clock of the host that handed it out and opened on whichever host the browser
    reaches next: one stamped up to `max_skew_s` in the future (that host's clock ahead; MAX_CLOCK_SKEW_S, 300 s
    by default) still opens."""

    def __init__(self, db: redis.Redis, ttl_s: int, secret_key: str,
                 max_skew_s: float = Settings.max_clock_skew_s) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.max_skew_s = max_skew_s
        self.unopened_ttl_s = min(UNOPENED_TTL_S, ttl_s)
        self.clock = time.time  # tests move it
        self._mint = HotScript(db, _MINT)  # the landing page's own calls: the hot path's connection
        self._open = HotScript(db, _OPEN)
        self.link_slack_s = min(LINK_SLACK_S, ttl_s)
        self._use = db.register_script(_USE)
        self._relink = db.register_script(_RELINK)
        self._revoke = db.register_script(_REVOKE)
        self._sealer = Sealer(secret_key, b"mallportal shopper handout")

    def mint(self, shopper: Shopper, handout: bool = False) -> str:
        """A new token for this shopper. `handout`: for a new shopper (`new_shopper`) on a phone a probe or
        a gateway redirect located: sealed, nothing stored until it is opened, gone after an hour unopened
        (a browser's cookie may claim it, see current_shopper)."""
        if handout:
            return self._hand_out(shopper)
        secret = secrets.token_urlsafe(32)
        digest = _digest(secret)
        keys = ShopperKeys(shopper.venue)
        record = {"c": shopper.client, "p": shopper.phone, "v": int(shopper.phone_verified)}
        slide_others, listed = self._mint(
            keys=[keys.token(digest), keys.tokens_of(shopper.client), *self._phone_keys(shopper)],
            args=[json.dumps(record), self.ttl_s, digest, self.ttl_s, shopper.own_phone or "", shopper.client,
                  self.link_slack_s])
        if listed > PRUNE_ABOVE:  # the one step that lists a new digest for a known shopper (a regular's visits)
            drop_dead_members(self.db, keys.tokens_of(shopper.client), keys.token)
        if slide_others:
            self.relink(shopper.venue, shopper.client)
        return f"{shopper.venue}.{secret}"

    @staticmethod
    def _phone_keys(shopper: Shopper) -> list[str]:
        """Her phone set, and the index of the phone this token was vouched for (none without one)."""
        keys = ShopperKeys(shopper.venue)
        vouched = [keys.shoppers_on(shopper.own_phone)] if shopper.own_phone else []
        return [keys.phones_of(shopper.client), *vouched]

    def _hand_out(self, shopper: Shopper) -> str:
        if not (shopper.client.startswith("s-") and len(shopper.client) == 26):
            raise ValueError("a handed-out token is for a new shopper (new_shopper)")
        flags = _VERIFIED if shopper.phone_verified else 0
        plain = _HANDOUT.pack(flags, int(self.clock()), bytes.fromhex(shopper.client[2:]))
        plain += (shopper.phone or "").encode()
        return f"{shopper.venue}.{b64url(self._sealer.seal(plain, shopper.venue.encode()))}"

    def resolve(self, token: str | None) -> Shopper | None:
        """The shopper a token stands for; None for a malformed, forged, unknown, expired or revoked one."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        venue, secret = token_venue(token), token.rpartition(".")[2]
        if venue is None or len(secret) < 40:
            return None
        if len(secret) != MINTED_SECRET_CHARS:
            return self._open_handout(venue, secret)
        digest = _digest(secret)
        raw = self.db.getex(ShopperKeys(venue).token(digest), ex=self.ttl_s)
        return None if raw is None else self._listed(venue, digest, raw)

    def _listed(self, venue: str, digest: str, raw: bytes) -> Shopper:
        """The shopper of a token just used (its expiry slid), and the token kept on its shopper's list for as
        long as it may now live: a regular's token lives on while used, and revoke (erasure) finds it only
        through that list, which would otherwise run out 30 days after the token was made (one more round
        trip per use: shopper pages, not the probe). Her phone set slides with it (`ShopperKeys.phones_of`), and
        with the set its phones' links to her (`ShopperKeys.shoppers_on`; a third round trip once a day at most,
        when the set holds a phone this token does not name)."""
        shopper, keys = _shopper(venue, raw), ShopperKeys(venue)
        if self._use(keys=[keys.tokens_of(shopper.client), *self._phone_keys(shopper)],
                     args=[digest, self.ttl_s, shopper.own_phone or "", shopper.client, self.link_slack_s]):
            self.relink(venue, shopper.client)
        return shopper

    def _open_handout(self, venue: str, secret: str) -> Shopper | None:
        """A handed-out token: its seal checked here (a forged or altered one costs no store call), then
        opened in the store (_OPEN: the first opening writes the record; a revoked one stays refused); after
        its hour only a token opened in time resolves, through its record."""
        try:
            sealed = unb64url(secret)
            if b64url(sealed) != secret:  # one spelling per token: the record is keyed by it
                return None
            plain = self._sealer.open(sealed, venue.encode())
            flags, handed_out, client = _HANDOUT.unpack_from(plain)
            phone = plain[_HANDOUT.size :].decode() or None
        except (ValueError, binascii.Error, struct.error):
            return None
        left = handed_out + self.unopened_ttl_s - self.clock()  # how long it may still be opened
        if left > self.unopened_ttl_s + self.max_skew_s:
            return None
        digest, keys = _digest(secret), ShopperKeys(venue)
        if left <= 0:  # too late to open: only a token opened in time lives on, through its record
            raw = self.db.getex(keys.token(digest), ex=self.ttl_s)
            return None if raw is None else self._listed(venue, digest, raw)
        else:
            record = {"c": "s-" + client.hex(), "p": phone, "v": flags & _VERIFIED, "h": 1}
            vouched = phone if phone and flags & _VERIFIED else ""
            opened = self._open(keys=[keys.token(digest), keys.opened(digest), keys.tokens_of(record["c"]),
                                      keys.phones_of(record["c"]), *([keys.shoppers_on(vouched)] if vouched else [])],
                                # the mark outlives the token on every host: one whose clock is behind
                                # by up to max_skew_s still finds it in time, so a revoked token stays shut
                                args=[json.dumps(record), self.ttl_s, int(left + self.max_skew_s) + 1, digest, vouched,
                                      record["c"], self.link_slack_s])
            if opened is None:
                return None
            raw, slide_others = opened
            if slide_others:
                self.relink(venue, record["c"])
        return _shopper(venue, raw)

    def verified_phones(self, venue: str, client: str) -> set[str]:
        """The phones the gateway vouched for on any token of this shopper (expiries untouched): her phone
        set, which outlives her tokens, and those of her live tokens (written before the set was kept).
        A token naming no phone (a texted link's), yet an erasure from it must reach the phone her sign-in
        sheet's token was vouched for, also once that token expired (30 days unused) while the phone's
        events are still kept (90 days before they are anonymised, by default): the same shopper's
        location history (mydata.erase)."""
        keys = ShopperKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.smembers(keys.phones_of(client))
        pipe.smembers(keys.tokens_of(client))
        kept, listed = pipe.execute()
        digests = sorted(d.decode() for d in listed)
        records = self.db.mget([keys.token(d) for d in digests]) if digests else []
        shoppers = [_shopper(venue, raw) for raw in records if raw is not None]
        return {p.decode() for p in kept} | {s.own_phone for s in shoppers if s.client == client and s.own_phone}

    def shoppers_on(self, venue: str, phones: Iterable[str]) -> set[str]:
        """The shoppers on whose tokens the gateway vouched for any of these phones, while that link lives (the
        phone is still on her phone set): each captive landing hands out a new shopper id, so these are the
        same phone's other sign-ins. A phone a token only claimed links nobody."""
        keys, phones = ShopperKeys(venue), sorted(set(phones))
        if not phones:
            return set()
        pipe = self.db.pipeline(transaction=False)
        for phone in phones:
            pipe.zrange(keys.shoppers_on(phone), 0, -1)
        listed = [(c.decode(), phone) for phone, clients in zip(phones, pipe.execute(), strict=True) for c in clients]
        if not listed:
            return set()
        pipe = self.db.pipeline(transaction=False)
        for client, phone in listed:  # the index may list a shopper whose set ended: the set is the word
            pipe.sismember(keys.phones_of(client), phone)
        return {client for (client, _phone), on in zip(listed, pipe.execute(), strict=True) if on}

    def relink(self, venue: str, client: str) -> None:
        """Her phone set was slid (by a token naming another phone, or none): each of its phones' indexes lists her
        for as long as the set now lives (`_RELINK`)."""
        keys = ShopperKeys(venue)
        for _ in range(_RELINK_TRIES):
            phones = sorted(p.decode() for p in self.db.smembers(keys.phones_of(client)))
            if self._relink(keys=[keys.phones_of(client), *(keys.shoppers_on(p) for p in phones)],
                            args=[client, *phones]):
                return
        log.warning("a shopper's phones kept changing while their links were slid")

    def revoke(self, venue: str, client: str) -> int:
        """End every token of this shopper (returns how many there were), and her links to her phones (her
        phone set, her place in each phone's index: `ShopperKeys.shoppers_on`). A handed-out token never opened
        has no record to end, and its shopper no data yet; one opened before stays refused (its mark).
        A token minted or opened while this runs is ended too: the set is deleted only by a script that
        finds nothing in it but what it was told to end (else it ends those and this reads the set again)."""
        keys = ShopperKeys(venue)
        ended: set[str] = set()
        for _ in range(_REVOKE_TRIES):
            digests = {d.decode() for d in self.db.smembers(keys.tokens_of(client))}
            phones = {p.decode() for p in self.db.smembers(keys.phones_of(client))}
            if not digests and not phones:
                break
            ended |= digests
            listed, linked = sorted(digests), sorted(phones)
            if self._revoke(keys=[keys.tokens_of(client), keys.phones_of(client), *(keys.token(d) for d in listed),
                                  *(keys.shoppers_on(p) for p in linked)],
                            args=[len(listed), client, *listed, *linked]):
                break
        return len(ended)


# Compare-and-delete of a shopper's tokens and her links to her phones. KEYS: the token set, her phone set, the
# records of the n digests, the indexes of the phones. ARGV: n, the shopper id, the n digests, the phones (her
# phone set as the caller read it). The records go; the sets and her place in the phones' indexes go only if the
# sets hold nothing else (1), else 0: a token (or a phone) came in since the caller read them (and her phones stay
# linked while it lives).
_REVOKE = """
local n = tonumber(ARGV[1])
local digests, phones = {}, {}
for i = 3, n + 2 do
  redis.call('DEL', KEYS[i])
  digests[ARGV[i]] = true
end
for i = n + 3, #ARGV do phones[ARGV[i]] = true end
local complete = true
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not digests[digest] then complete = false end
end
for _, phone in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not phones[phone] then complete = false end
end
if not complete then
  for i = 3, n + 2 do redis.call('SREM', KEYS[1], ARGV[i]) end
  return 0
end
for i = n + 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[2]) end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""
_REVOKE_TRIES = 5  # each retry means a token was minted for this shopper in the last round trip


def _shopper(venue: str, raw: bytes) -> Shopper:
    record = json.loads(raw)
    return Shopper(venue=venue, client=record["c"], phone=record.get("p"), phone_verified=bool(record.get("v")),
                   handout=bool(record.get("h")))


def token_store(app: Flask | None = None) -> ShopperTokenStore:
    return (app or current_app).extensions["shopper_tokens"]


def her_phones(shopper: Shopper) -> list[str]:
    """Her phones the gateway vouched for: this token's, and those vouched for on any token of hers (kept while any
    token of hers lives, ShopperKeys.phones_of), so that a browser whose token names no phone (a texted link's; a
    keep link from a page vouched for none) still reaches what the sign-in sheet's phone left, also after the
    sheet's token expired: her erasure (portal/events/mydata.py) and her location answer (portal/hub/views.py).
    Not the export's (`held`): erasing too much harms no one, showing too much does."""
    own = {shopper.own_phone} if shopper.own_phone else set()
    return sorted(own | token_store().verified_phones(shopper.venue, shopper.client))


def init_shopper(app: Flask, db: redis.Redis, ttl_s: int, secure_cookie: bool) -> None:
    settings = app.extensions["mallportal"].settings
    app.extensions["shopper_tokens"] = ShopperTokenStore(db, ttl_s, app.config["SECRET_KEY"],
                                                         settings.max_clock_skew_s)
    app.config["SHOPPER_COOKIE_SECURE"] = secure_cookie

    @app.before_request
    def _shopper_of_a_change():
        """A change on a shopper page learns its shopper first, so the cookie's origin check (`_cookie_may_decide`)
        answers before the view changes anything, and never while an error page is being rendered (a 500)."""
        if request.method not in SAFE_METHODS and request.path.startswith("/v/"):
            current_shopper()

    @app.after_request
    def _keep_in_cookie(response):
        """A real browser keeps the shopper in a cookie too, so a new probe token (a new phone MAC, a
        new IP) finds its way back to the same shopper; the iOS mini-browser simply ignores it. Only on a
        response to a request that asked who its shopper is (never a static file's, which a cache may share)."""
        if "shopper" not in g:
            return response
        kept, dropped = _cookie_changes(response.status_code)
        for name in dropped - kept.keys():
            response.delete_cookie(name)
        for name, token in kept.items():
            set_shopper_cookie(response, name, token, ttl_s)
        return response


def _cookie_changes(status: int) -> tuple[dict[str, str], set[str]]:
    """The shopper cookies this response sets (name -> token) and those it drops: the legacy cookie, moved to the
    cookie of the venue its token names unless the browser has one already; a preview's token a cookie kept from
    before previews were kept out of it; and this page's shopper, in her venue's cookie, where the page keeps her
    (keep_shopper_in_cookie) and she is no link's only (`url_only_token`, see current_shopper)."""
    kept: dict[str, str] = {}
    dropped = {name for name in (LEGACY_COOKIE, g.get("preview_cookie")) if name and name in request.cookies}
    legacy = request.cookies.get(LEGACY_COOKIE)
    venue = token_venue(legacy) if g.get("preview_cookie") != LEGACY_COOKIE else None
    if venue and cookie_name(venue) not in request.cookies:
        kept[cookie_name(venue)] = legacy
    token, shopper = g.get("shopper_token"), g.get("shopper")
    if (g.get("keep_in_cookie") and token and shopper is not None and status < 400
            and token != g.get("url_only_token") and request.cookies.get(cookie_name(shopper.venue)) != token):
        kept[cookie_name(shopper.venue)] = token
    return kept, dropped


def set_shopper_cookie(response: Response, name: str, value: str, max_age: int | float, path: str = "/") -> None:
    """A cookie holding a shopper's secret (a token, a keep page's nonce): out of scripts' reach, kept off other
    sites' POSTs, Secure where the portal is served over https (SHOPPER_COOKIE_SECURE): one rule for all of them."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Lax",
                        secure=current_app.config["SHOPPER_COOKIE_SECURE"])


def remember_for_return(response: Response, path: str) -> Response:
    """On the redirect to a third party (a payment provider) whose page sends the browser back to `path` with
    no token (a third party gets none): this request's shopper in a cookie sent to that path only, for an
    hour, so the return finds the shopper who left even when the browser's cookie names another (a link from
    a message opened in a browser that kept an earlier shopper)."""
    token = current_shopper_token()
    if token:
        set_shopper_cookie(response, RETURN_COOKIE, token, RETURN_COOKIE_S, path)
    return response


def returning_shopper(venue: str) -> Shopper | None:
    """The shopper `remember_for_return` kept for this path, adopted as this request's (its links and forms
    carry that token); None without one of this venue."""
    token = request.cookies.get(RETURN_COOKIE)
    shopper = token_store().resolve(token) if token else None
    if shopper is None or shopper.venue != venue:
        return None
    g.shopper, g.shopper_token = shopper, token
    return shopper


def keep_shopper_in_cookie() -> None:
    """This page (the mall home, the PWA's start page; a queue ticket) also stores the shopper's token in
    a cookie, so the browser finds its way back after a new probe token (a new MAC, a new IP)."""
    g.keep_in_cookie = True


def shopper_token(shopper: Shopper) -> str:
    """The token for links and forms of this page: the one the request carried for this shopper, else a
    new one (a page for a new shopper; a preview link), minted once per request.

    A shopper new in this request (shopper_for_venue: a browser that brought no token of this venue) gets a
    sealed handout, as a probe's new shopper does: an anonymous GET costs nothing, so a stored record per
    visit would let anyone fill the store with 30-day records from one address. Its record is written when
    the token is first opened (a link or form of the page, the cookie), one hour at most after this page."""
    if g.get("shopper") == shopper:
        if not g.get("shopper_token"):
            g.shopper_token = token_store().mint(shopper, handout=g.get("new_shopper") is shopper)
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


def _own_origins() -> frozenset[str]:
    """The portal's origins: this request's host (as url_for builds _external URLs) and PORTAL_URL."""
    portal_url = current_app.extensions["mallportal"].settings.portal_url
    return frozenset(o for o in (request.host_url.rstrip("/"), portal_url) if o)


def from_own_origin() -> bool:
    """Whether the browser says this request came from the portal's own pages. Sec-Fetch-Site when sent;
    without it (older browsers, the iOS captive mini-browser) the Origin header, absent on their own forms."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in OWN_FETCH_SITES
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") in _own_origins()


def _cookie_may_decide() -> None:
    """Refuse (403) a change a shopper cookie alone would make for its shopper from another page. SameSite=Lax
    keeps the cookie off other sites' POSTs, not off those of another host of the same site (offers.mall.example):
    the cookie is an ambient credential, so a POST it identifies must come from the portal's own pages. A form
    that carries a `c` token of its own needs no such check: the token is the secret another page lacks."""
    if request.method in SAFE_METHODS or from_own_origin():
        return
    g.cookie_shopper = None  # the error page finds no shopper either
    abort(403, gettext("This request came from a page of another site. Open the mall's own page and try again."))


def cookie_name(venue: str) -> str:
    """The cookie keeping this browser's shopper of `venue`: one per venue, so a browser that visits two malls of
    one deployment keeps a shopper in each. A venue id (core/ids.py: ASCII letters, digits, `-`, `_`) is a valid
    cookie name as it is. Sent to every path: the captive pages (`/portal`, a probe's redirect) are not under
    `/v/<venue>`."""
    return COOKIE_PREFIX + venue


def _venue_cookie(venue: str) -> tuple[str, str] | None:
    """The cookie (name, token) that keeps this browser's shopper of `venue`: the venue's own, else the legacy
    cookie when its token names this venue (`_cookie_changes` moves it to the venue's own)."""
    for name in (cookie_name(venue), LEGACY_COOKIE):
        token = request.cookies.get(name)
        if token and (name != LEGACY_COOKIE or token_venue(token) == venue):
            return name, token
    return None


def cookie_token(venue: str) -> str | None:
    """The token this browser keeps in its cookie for `venue` (live or not), if any."""
    kept = _venue_cookie(venue)
    return kept[1] if kept else None


def _cookie_venues() -> set[str]:
    """The venues this browser keeps a cookie of (their ids as the cookie names spell them, outside input)."""
    named = {name.removeprefix(COOKIE_PREFIX) for name in request.cookies if name.startswith(COOKIE_PREFIX)}
    return {venue for venue in named | {token_venue(request.cookies.get(LEGACY_COOKIE))} if is_venue_id(venue)}


def _page_venue() -> str | None:
    """The venue this request is about: its URL's; else, when the browser keeps a cookie of one venue only, that
    one's (the portal's root); else None."""
    venue = (request.view_args or {}).get("venue")
    if venue is not None:
        return venue if is_venue_id(venue) else None
    kept = _cookie_venues()
    return next(iter(kept)) if len(kept) == 1 else None


def _cookie_shopper(venue: str | None, given: str | None) -> Shopper | None:
    """The live shopper of `venue` this browser's cookie keeps; None without one, or when the cookie holds the
    request's own `c` token. A preview's token, kept by a browser before previews were kept out of the cookie, is
    no one's: its cookie is dropped (`_cookie_changes`)."""
    cookie = _venue_cookie(venue) if venue else None
    if cookie is None or cookie[1] == given:
        return None
    kept = token_store().resolve(cookie[1])
    if is_preview_shopper(kept):
        g.preview_cookie = cookie[0]
        return None
    return kept if kept is not None and kept.venue == venue else None


def current_shopper() -> Shopper | None:
    """From the `c` parameter (query or form), else the cookie of the request's venue. Cached per request.

    A `c` token a probe or a gateway redirect handed out (a new shopper) on a browser whose cookie of the token's
    venue names another shopper: the cookie's shopper comes back, now on this phone (re-linking through what the
    shopper holds, never through the MAC). A minted `c` token of another shopper of that venue (a link from a
    message, or one someone else sent): this page is that token's, as its links and forms are, but the cookie
    keeps its own shopper (see the module docstring: who may change the cookie)."""
    if "shopper" not in g:
        g.shopper, g.shopper_token = None, None  # also when the store fails below (the 503 page asks again)
        store, given, page = token_store(), _request_token(), _page_venue()
        shopper, token = store.resolve(given), given
        venue = shopper.venue if shopper is not None else page
        kept = _cookie_shopper(venue, given)
        # shopper_for_venue falls back on the page's venue's (a `c` token of another mall on this mall's page)
        g.cookie_shopper = kept if page in (None, venue) else _cookie_shopper(page, given)
        if kept is not None and (shopper is None or (shopper.handout and shopper.client != kept.client)):
            _cookie_may_decide()  # the cookie, not the request's `c`, says who this is
            if shopper is not None and shopper.phone:
                kept = Shopper(kept.venue, kept.client, shopper.phone, shopper.phone_verified)
                token = store.mint(kept)
            else:
                token = cookie_token(kept.venue)
            shopper = kept
        elif kept is not None and shopper.client != kept.client:
            g.url_only_token = token  # this page's, never the cookie's (_keep_in_cookie)
        g.shopper, g.shopper_token = shopper, (token if shopper else None)
    return g.shopper


def shopper_url(endpoint: str, **values) -> str:
    """url_for that keeps the shopper's `c` token, so navigation works without cookies, and the language the
    shopper chose (`chosen_lang`: `?lang=`, or a shopper form's `lang`): where no cookie survives (the captive
    sign-in sheet) only the link can carry it, and a page a link or a redirect reaches without it falls back to
    the phone's language."""
    shopper = current_shopper()
    if shopper is not None and "c" not in values:
        values["c"] = shopper_token(shopper)
    if "lang" not in values and (lang := chosen_lang()):
        values["lang"] = lang
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
    portal's redirect, e.g. from a bookmark). Links built with shopper_url carry it from then on. A `c`
    token of another venue on a browser whose cookie holds a shopper of this one: the cookie's shopper."""
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        kept = g.get("cookie_shopper")
        if kept is not None and kept.venue == venue:
            _cookie_may_decide()
            g.shopper, g.shopper_token = kept, cookie_token(venue)
            return kept
        shopper = new_shopper(venue)
        g.shopper, g.shopper_token, g.new_shopper = shopper, None, shopper
    return shopper
