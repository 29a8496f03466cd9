"""Keeping: a one-time link that opens the same shopper in the phone's real browser.

The captive sign-in sheet keeps no cookies and closes once the shopper is online. Me and the "you are
online" page offer a link with a one-time code; opened in the real browser, it becomes a new shopper token
kept in that browser's cookie of the venue (`mp_c_<venue>`) and the browser is sent on to Me without anything
secret in its address. The code works once (but for the repeat below) and for a day: a copied or leaked link is no
lasting key to the shopper.

Opening the link (GET) changes nothing: it shows a page whose button (POST) redeems the code. A captive
sheet that follows the link in place (no new windows), or a link preview, leaves the code for the copy the
shopper types into their real browser.

A code issued with the token the gateway's redirect or probe handed out, vouched for the phone (the sign-in
sheet's), carries that phone (a code issued in a browser a code opened carries none: the gateway never saw it):
the real browser it opens is on the same phone (or wherever the shopper herself took the link), and without it
that browser's token would name no phone - no "where am I", no download of the phone's own location history.

Each shopper's live codes are also listed (their digests, in `of(client)`, with their expiry as score) so
that erasure ends them: a code issued before erasure must not bring the erased shopper id back.

One live code per shopper (and phone): every page offering the link shows the same one until it is spent or has
under REISSUE_LEFT_S to live, so a link copied from one page is not ended by the pages opened after it. Only its
digest names it in the store; the code itself, which the next page must show again, is kept sealed under
SECRET_KEY (`live(client)`), as a handed-out shopper token is. A live code is shown again only while its own key is
there: the release before kept no live hash, and its hosts (in a rolling deploy) spend codes and drop a shopper's
oldest without ending the field that names them.

Spent, a code leaves its answer (`spent(digest)`) for REPEAT_S: the button's POST repeated by the page that spent
it (a double tap, a resubmit after an answer lost on a flaky link, which left the browser without its cookie) gets
the same shopper again, MAX_REPEATS times at most. "The page that spent it" is the random nonce the confirm page's
form carries (`new_nonce`; its hash is kept with the answer; a reload of the page in that browser hands out the same:
hub.views NONCE_COOKIE): anyone else holding the spent link (the sign-in sheet, a chat's preview) has the code but not
the nonce. Not the User-Agent: it is no secret, and in-app browsers (WeChat,
QQ, Alipay) name the network in it, which changes exactly when the WiFi drops the answer and the phone moves to 4G."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import redis

from core.security import Sealer, b64url, unb64url
from core.storage import LUA_STORE_CLOCK, VenueKeys

CODE_TTL_S = 86400
REISSUE_LEFT_S = 3600  # a live code with less left than this is not shown again: a link copied now must still work
REPEAT_S = 120  # how long a spent code answers its page's repeated POST
MAX_REPEATS = 3
ISSUE_TRIES = 3  # reads of the live code before a page writes its own (each lost to a page issuing meanwhile)
MAX_CODE_LENGTH = 64
_CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CODE_LENGTH}}}")


def well_formed(code: str) -> bool:
    """Could be a code `issue` handed out (URL-safe base64, not too long): anything else is a damaged link."""
    return bool(_CODE.fullmatch(code or ""))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:40]


def new_nonce() -> str:
    """A confirm page's nonce: the spend keeps its hash, and only a POST carrying it repeats (`redeem`)."""
    return secrets.token_urlsafe(16)


def _nonce_digest(nonce: str) -> str:
    """'' for a missing or malformed nonce (a page of the release before had none): it repeats nothing."""
    return hashlib.sha256(nonce.encode()).hexdigest()[:32] if well_formed(nonce) else ""


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
        """The shopper's live codes: a sorted set of digests scored by expiry (on the codes' slot); a spent code's
        stays until its repeat window ends, so erasure ends that too."""
        return self.key("keep_of", client)

    def live(self, client: str) -> str:
        """Hash: the code pages show this shopper, one per phone it carries (field: the phone, "" for none), as
        "<digest> <expiry, epoch s> <the code sealed>"; a field is dropped when its code is spent."""
        return self.key("keep_live", client)

    def spent(self, digest: str) -> str:
        """Hash, for REPEAT_S after the code was spent: its value `v`, the hash `b` of the nonce of the page that spent
        it, repeats `n`."""
        return self.key("keep_spent", digest)


# KEYS: the shopper's live hash, her index, the new code's key, the key of the live code as read before (the new
# code's when there was none). ARGV: the phone field, the new code's digest, the new code sealed, its value, its life,
# REISSUE_LEFT_S, 1 to write the new code whatever is live, the live code's digest as read before ('' for none).
# Returns the sealed code pages show: the live one while its key is there with over REISSUE_LEFT_S left, else the new
# one, now written; false when the live code is not the one read before (its key was not passed: read again).
_ISSUE = LUA_STORE_CLOCK + """
local now = math.floor(store_now(nil))
local live = redis.call('HGET', KEYS[1], ARGV[1])
if live and ARGV[7] ~= '1' then
  local digest, ends, sealed = string.match(live, '^(%S+) (%d+) (%S+)$')
  if digest and digest ~= ARGV[8] then return false end
  if digest and tonumber(ends) - now > tonumber(ARGV[6]) and redis.call('EXISTS', KEYS[4]) == 1 then return sealed end
end
local life = tonumber(ARGV[5])
redis.call('SET', KEYS[3], ARGV[4], 'EX', life)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + life) .. ' ' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], life)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + life, ARGV[2])
redis.call('EXPIRE', KEYS[2], life)
return ARGV[3]
"""

# KEYS: the code, its spent answer, the shopper's live hash, her index. ARGV: the digest, the code's value as read
# before, the page's nonce hashed ('' for none), REPEAT_S, MAX_REPEATS, the phone field. Spends a live code (its
# answer kept, its live field dropped, its digest listed until the window ends), else counts a repeat by the page
# that spent it; 1 when the code answers, else false.
_SPEND = LUA_STORE_CLOCK + """
local window = tonumber(ARGV[4])
local value = redis.call('GET', KEYS[1])
if value then
  if value ~= ARGV[2] then return false end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'v', value, 'b', ARGV[3], 'n', 0)
  redis.call('EXPIRE', KEYS[2], window)
  local live = redis.call('HGET', KEYS[3], ARGV[6])
  if live and string.sub(live, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then redis.call('HDEL', KEYS[3], ARGV[6]) end
  redis.call('ZADD', KEYS[4], math.floor(store_now(nil)) + window, ARGV[1])
  if redis.call('TTL', KEYS[4]) < window then redis.call('EXPIRE', KEYS[4], window) end
  return 1
end
local spent = redis.call('HMGET', KEYS[2], 'v', 'b')
if ARGV[3] == '' or spent[1] ~= ARGV[2] or spent[2] ~= ARGV[3] then return false end
if redis.call('HINCRBY', KEYS[2], 'n', 1) > tonumber(ARGV[5]) then return false end
return 1
"""


class KeepStore:
    """`secret_key` (SECRET_KEY) seals the live code for the next page; a store that only redeems or forgets
    (erasure) needs none."""

    def __init__(self, db: redis.Redis, secret_key: str = "") -> None:
        self.db = db
        self._sealer = Sealer(secret_key, b"mallportal keep code") if secret_key else None
        self._issue = db.register_script(_ISSUE)
        self._spend = db.register_script(_SPEND)

    def issue(self, venue: str, client: str, phone: str | None = None) -> str:
        """This shopper's live code on `phone` (the gateway vouched for it: Shopper.own_phone), the same one on
        every page until it is spent or near its end; then a new one (only its hash names it in the store)."""
        if self._sealer is None:
            raise ValueError("issuing keep codes needs the install's SECRET_KEY")
        bound = f"{venue}\0{client}\0{phone or ''}".encode()  # a sealed code opens for its own shopper only
        code = secrets.token_urlsafe(24)
        sealed = b64url(self._sealer.seal(code.encode(), bound))
        shown = self._show(venue, client, phone, code, sealed, replace=False)
        if shown == sealed:
            return code
        try:
            return self._sealer.open(unb64url(shown), bound).decode()
        except ValueError:  # sealed under another SECRET_KEY: this install's code replaces it
            self._show(venue, client, phone, code, sealed, replace=True)
            return code

    def _show(self, venue: str, client: str, phone: str | None, code: str, sealed: str, replace: bool) -> str:
        """The sealed code pages show (_ISSUE): the live one, else `code`, written. The live code is read first, as
        the script must be given its key to see it is still there; the last try writes `code` whatever is live."""
        keys, digest, field = KeepKeys(venue), _digest(code), phone or ""
        shown, tries = None, 0
        while shown is None:  # the script's false: another page wrote the live code after it was read
            tries += 1
            live = (self.db.hget(keys.live(client), field) or b"").decode().split(" ", 1)[0]
            shown = self._issue(keys=[keys.live(client), keys.of(client), keys.code(digest), keys.code(live or digest)],
                                args=[field, digest, sealed, _value(client, phone), CODE_TTL_S, REISSUE_LEFT_S,
                                      int(replace or tries == ISSUE_TRIES), live])
        return shown.decode()

    def _answers(self, keys: KeepKeys, digest: str) -> tuple[bytes | None, bytes | None, bytes | None, int]:
        """The code's value while live; once spent, its answer's value, its page's nonce hash and its repeats."""
        pipe = self.db.pipeline(transaction=False)
        pipe.get(keys.code(digest))
        pipe.hmget(keys.spent(digest), "v", "b", "n")
        live, (spent, page, repeats) = pipe.execute()
        return live, spent, page, int(repeats or 0)

    def peek(self, venue: str, code: str, nonce: str = "") -> Kept | None:
        """Whom the code would open for the page with `nonce` (read only: opening the link spends nothing): the
        live code's shopper, or the spent one's for the page that spent it, with repeats left; else None."""
        if not well_formed(code):
            return None
        live, spent, page, repeats = self._answers(KeepKeys(venue), _digest(code))
        if live:
            return _kept(live)
        mine = _nonce_digest(nonce)
        return _kept(spent) if spent and mine and page == mine.encode() and repeats < MAX_REPEATS else None

    def redeem(self, venue: str, code: str, nonce: str = "") -> Kept | None:
        """Whom the code was issued for: once, and again for the page (`nonce`) that spent it within REPEAT_S,
        MAX_REPEATS times; None for an unknown, used or expired one. The value is read first (whose keys the spend
        must name), then spent in one script that checks it is still that value."""
        if not well_formed(code):
            return None
        keys, digest = KeepKeys(venue), _digest(code)
        live, spent, _page, _repeats = self._answers(keys, digest)
        raw = live or spent
        kept = _kept(raw) if raw else None
        if kept is None:
            return None
        answered = self._spend(keys=[keys.code(digest), keys.spent(digest), keys.live(kept.client),
                                     keys.of(kept.client)],
                               args=[digest, raw, _nonce_digest(nonce), REPEAT_S, MAX_REPEATS, kept.phone or ""])
        return kept if answered else None

    def forget_shopper(self, venue: str, client: str) -> int:
        """End every live code of this shopper and the answers of those spent moments ago (erasure); returns how
        many the index listed. WATCH on the index, so a code issued meanwhile is either seen here or makes the
        transaction retry."""
        keys = KeepKeys(venue)

        def end(pipe: redis.client.Pipeline) -> int:
            digests = [d.decode() for d in pipe.zrange(keys.of(client), 0, -1)]
            pipe.multi()
            pipe.delete(*(keys.code(d) for d in digests), *(keys.spent(d) for d in digests), keys.of(client),
                        keys.live(client))
            return len(digests)

        return self.db.transaction(end, keys.of(client), value_from_callable=True)
