"""Per-venue API tokens for machine sources (report sources, a light app's POS, parking or cinema system),
stored as SHA-256 digests only, each with the scopes it may use.

A scope names one machine API: `ingest` (the RSSI feeds of portal/api.py) or the one a light app's API
declares (`portal.api.api_scope`). A token reaches only the APIs of its scopes, so an access point's
token, which sits on a device in a ceiling, cannot grant membership points or push parking events.

Storage: one hash per venue, the digest -> the label (as before scopes existed), and beside it
`<digest>:scopes` (space separated), `<digest>:issued` and `<digest>:used` (epoch s) and `<digest>:until` (epoch s:
a token replaced by a rotation with a grace period stops working then). A token issued before scopes existed has no
scopes field: it is an ingest token (what every token was issued for then, per the README); one issued before ids
and dates has no dates (listed as issued "unknown"). A token's public id is the first ID_LEN hex digits of its
digest: it names one token of a label (list, revoke, rotate) and says nothing about the token itself.

The lookup is one HMGET (a token past its `until` is refused there, and deleted by the next write); every write is
one Lua script on the venue's hash (issue, rotate, revoke, and the last-use stamp: a call its token may make
stamps it once per LAST_USED_EVERY_S, a second round trip once an hour, never a write per request)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import NamedTuple

import redis

from core.security import hash_token, new_token
from core.storage import VenueKeys

log = logging.getLogger(__name__)

INGEST = "ingest"
SCOPE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ID_LEN = 8  # hex digits of the digest: 32 bits, enough to tell a label's few tokens apart
TOKEN_ID = re.compile(rf"^[0-9a-f]{{{ID_LEN}}}$")
ECHOED_ID_CHARS = 16  # a refused --id longer than this is not echoed: it may be the token itself, pasted
LAST_USED_EVERY_S = 3600  # a token's last use is kept to the hour: at most one write per token and hour
MAX_KEEP_OLD_S = 7 * 86400  # a rotation's grace period: long enough to roll a partner's deployment, not forever
_FIELDS = (":scopes", ":issued", ":used", ":until")  # a digest is 64 hex digits: `<digest>:x` is never a digest
_declared: set[str] = {INGEST}

# Shared by the scripts: a token's fields (its label under the digest itself, then _FIELDS: one list for Python and
# Lua, so a field added is forgotten with its token), and the venue's live tokens (those past their `until` deleted
# on the way).
_LIVE = """
local SUFFIXES = {''""" + "".join(f", '{field}'" for field in _FIELDS) + """}
local function forget(key, d)
  local f = {}
  for i, s in ipairs(SUFFIXES) do f[i] = d .. s end
  return redis.call('HDEL', key, unpack(f))
end
local function live(key, now)
  local all = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #all, 2 do h[all[i]] = all[i + 1] end
  local out = {}
  for f, label in pairs(h) do
    if not string.find(f, ':', 1, true) then
      local untl = tonumber(h[f .. ':until'])
      if untl and untl <= now then forget(key, f)
      else out[f] = {label = label, scopes = h[f .. ':scopes']} end
    end
  end
  return out
end
local function named(f, only) return only == '' or string.sub(f, 1, #only) == only end
"""

# KEYS: the venue's tokens. ARGV: digest, now, LAST_USED_EVERY_S. Stamps the token's last use unless it was stamped
# less than LAST_USED_EVERY_S ago (every worker sees a stale stamp at once: one of them writes) or is gone.
_STAMP = """
local d, now = ARGV[1], tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], d, d .. ':used')
if v[1] and (not v[2] or now - tonumber(v[2]) >= tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], d .. ':used', ARGV[2])
end
return 0
"""

# KEYS: the venue's tokens. ARGV: digest, label, scopes, now. The digests of the label's other live tokens, sorted
# (the same token issued again, as the demo seed does, keeps its issue time).
_ISSUE = _LIVE + """
local key, d, label = KEYS[1], ARGV[1], ARGV[2]
local others = {}
for f, t in pairs(live(key, tonumber(ARGV[4]))) do
  if t.label == label and f ~= d then others[#others + 1] = f end
end
redis.call('HSET', key, d, label, d .. ':scopes', ARGV[3])
redis.call('HSETNX', key, d .. ':issued', ARGV[4])
table.sort(others)
return others
"""

# KEYS: the venue's tokens. ARGV: the new digest, label, now, grace (s), id prefix ('' for all), the scopes of a
# token stored without any. {'ok', scopes, replaced digests...}, or {'none'} / {'scopes'} (the label's tokens carry
# different scopes: which to copy is the operator's call) with nothing written. A replaced token stops now (grace 0)
# or at now + grace, never later than a stop it already had.
_ROTATE = _LIVE + """
local key, new, label, now, grace, only = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local old, scopes = {}, nil
for f, t in pairs(live(key, now)) do
  if t.label == label and named(f, only) then
    local s = t.scopes or ARGV[6]
    if scopes and s ~= scopes then return {'scopes'} end
    scopes = s
    old[#old + 1] = f
  end
end
if #old == 0 then return {'none'} end
table.sort(old)
for _, f in ipairs(old) do
  if grace == 0 then forget(key, f)
  else
    local had = tonumber(redis.call('HGET', key, f .. ':until'))
    if not had or had > now + grace then redis.call('HSET', key, f .. ':until', now + grace) end
  end
end
redis.call('HSET', key, new, label, new .. ':scopes', scopes, new .. ':issued', now)
return {'ok', scopes, unpack(old)}
"""

# KEYS: the venue's tokens. ARGV: label, id prefix ('' for all), now. The digests withdrawn, sorted.
_REVOKE = _LIVE + """
local gone = {}
for f, t in pairs(live(KEYS[1], tonumber(ARGV[3]))) do
  if t.label == ARGV[1] and named(f, ARGV[2]) then forget(KEYS[1], f) gone[#gone + 1] = f end
end
table.sort(gone)
return gone
"""


def check_scope(name: str) -> str:
    """`name` if it is a well-formed scope name (lowercase letters, digits, `-`); ValueError otherwise."""
    if not isinstance(name, str) or not SCOPE_NAME.match(name):
        raise ValueError(f"a scope is a short lowercase name (letters, digits, -), not {name!r}")
    return name


def check_token_id(text: str) -> str:
    """A token id as `list-tokens` shows it (ID_LEN hex digits, either case); ValueError otherwise, naming what was
    typed only when it is short: an operator who pastes the token itself into --id must not get it back on stderr
    (a terminal's scrollback, a CI log)."""
    lowered = text.strip().lower() if isinstance(text, str) else ""
    if not TOKEN_ID.match(lowered):
        typed = repr(text) if isinstance(text, str) and len(text) <= ECHOED_ID_CHARS else "(not shown)"
        raise ValueError(f"a token id is {ID_LEN} hex digits as list-tokens shows it, not {typed}")
    return lowered


def declare_scope(name: str) -> str:
    """Make `name` a scope that tokens can be issued for (a light app's API, when it is imported)."""
    _declared.add(check_scope(name))
    return name


def declared_scopes() -> frozenset[str]:
    """`ingest` and every scope the APIs loaded in this process declared."""
    return frozenset(_declared)


def token_id(digest: str) -> str:
    """A token's public id, from its stored digest (so tokens issued before ids existed have one too)."""
    return digest[:ID_LEN]


class Source(NamedTuple):
    """Who holds a token: the label it was issued under and the scopes it may use."""

    label: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


class TokenInfo(NamedTuple):
    """One live token as an operator sees it (never the token): times in epoch seconds, None when not known
    (issued before this was kept; never used; no end)."""

    id: str
    label: str
    scopes: frozenset[str]
    issued: float | None
    used: float | None
    until: float | None


class Issued(NamedTuple):
    token: str
    id: str
    others: list[str]  # the ids of the label's other live tokens, which still work


class Rotated(NamedTuple):
    token: str
    id: str
    scopes: frozenset[str]
    replaced: list[str]  # the old tokens' ids
    until: float | None  # when they stop working at the latest (None: already stopped)


class TokenKeys(VenueKeys):
    def tokens(self) -> str:
        return self.key("api", "tokens")


class ApiTokenStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self.clock = time.time  # tests move it
        self._stamp = db.register_script(_STAMP)
        self._issue = db.register_script(_ISSUE)
        self._rotate = db.register_script(_ROTATE)
        self._revoke = db.register_script(_REVOKE)

    def issue(self, venue: str, label: str, token: str | None = None,
              scopes: Iterable[str] = (INGEST,)) -> str:
        """A new token for the source `label`, allowed `scopes` (default: ingest only); returns the token,
        which is never stored. ValueError for a malformed or missing scope."""
        return self.issue_source(venue, label, token, scopes).token

    def issue_source(self, venue: str, label: str, token: str | None = None,
                     scopes: Iterable[str] = (INGEST,)) -> Issued:
        """`issue`, also saying the new token's id and the ids of the label's other live tokens (written and
        found in one script: none can slip in between)."""
        wanted = _scope_text(scopes)
        token = token or new_token()
        digest = hash_token(token)
        others = self._issue(keys=[TokenKeys(venue).tokens()], args=[digest, label, wanted, self._now()])
        return Issued(token, token_id(digest), [token_id(d.decode()) for d in others])

    def source_for(self, venue: str, token: str, used_for: str | None = None) -> Source | None:
        """The source owning this live token in this venue, or None. Looking up the digest (not comparing raw
        tokens) leaves nothing for a timing attack to learn. `used_for`: the scope of the call it authorises; when
        the token has it, its last use is stamped, once per LAST_USED_EVERY_S, before the API's own checks (a call
        then refused for its budget or input is stamped too: a leaked token's tries show; one without the scope is
        not)."""
        if not token:
            return None
        key, digest, now = TokenKeys(venue).tokens(), hash_token(token), self._now()
        label, scopes, used, until = self.db.hmget(key, [digest, *(digest + f for f in (":scopes", ":used", ":until"))])
        if label is None or (until is not None and int(until) <= now):  # a rotation's grace is over: gone
            return None
        source = Source(label.decode(), _granted(scopes))
        if used_for in source.scopes and (used is None or now - int(used) >= LAST_USED_EVERY_S):
            self._stamp_last_use(key, digest, now)
        return source

    def _stamp_last_use(self, key: str, digest: str, now: int) -> None:
        """Bookkeeping that fails open: a store that answered the lookup but refuses this write (out of memory,
        a replica's read-only turn, its budget spent) must not refuse the call it would only have noted; the
        call's own write, if it has one, meets the fault and answers for it."""
        try:
            self._stamp(keys=[key], args=[digest, now, LAST_USED_EVERY_S])
        except redis.RedisError as exc:
            log.warning("token last use not stamped: %s", type(exc).__name__)

    def tokens(self, venue: str) -> list[TokenInfo]:
        """The venue's live tokens by label, then issue time (ids, labels, scopes, times: never a token)."""
        fields = {name.decode(): value.decode() for name, value in self.db.hgetall(TokenKeys(venue).tokens()).items()}
        now = self._now()
        found = [_info(digest, label, fields) for digest, label in fields.items() if ":" not in digest]
        return sorted((t for t in found if t.until is None or t.until > now),
                      key=lambda t: (t.label, t.issued or 0, t.id))

    def rotate(self, venue: str, label: str, keep_old_for_s: int = 0, only_id: str = "") -> Rotated:
        """A new token with the label's scopes, replacing every live token of `label` (or only the one of id
        `only_id`): they stop working now, or `keep_old_for_s` seconds from now (at most MAX_KEEP_OLD_S), so a
        partner can switch without a gap. ValueError, nothing written, when no such token lives or the label's
        tokens carry different scopes."""
        if not 0 <= keep_old_for_s <= MAX_KEEP_OLD_S:
            raise ValueError(f"the grace period is 0 to {MAX_KEEP_OLD_S} seconds, not {keep_old_for_s}")
        only_id = check_token_id(only_id) if only_id else ""
        token, now = new_token(), self._now()
        outcome, *rest = self._rotate(keys=[TokenKeys(venue).tokens()],
                                      args=[hash_token(token), label, now, keep_old_for_s, only_id, INGEST])
        if outcome == b"none":
            raise ValueError(no_token(venue, label, only_id))
        if outcome == b"scopes":
            ids = ", ".join(f"{t.id} ({','.join(sorted(t.scopes))})" for t in self.tokens(venue) if t.label == label)
            raise ValueError(f"the tokens labelled {label!r} carry different scopes ({ids}): rotate one with --id")
        scopes, replaced = rest[0].decode(), [token_id(d.decode()) for d in rest[1:]]
        return Rotated(token, token_id(hash_token(token)), frozenset(scopes.split()), replaced,
                       now + keep_old_for_s if keep_old_for_s else None)

    def revoke_label(self, venue: str, label: str, only_id: str = "") -> list[str]:
        """Withdraw every token issued under `label` in this venue (a lost or leaked one: the token itself
        is not needed), or only the one of id `only_id`; returns the ids withdrawn."""
        only_id = check_token_id(only_id) if only_id else ""
        gone = self._revoke(keys=[TokenKeys(venue).tokens()], args=[label, only_id, self._now()])
        return [token_id(d.decode()) for d in gone]

    def revoke(self, venue: str, token: str) -> None:
        digest = hash_token(token)
        self.db.hdel(TokenKeys(venue).tokens(), digest, *(digest + suffix for suffix in _FIELDS))

    def _now(self) -> int:
        return int(self.clock())


def _scope_text(scopes: Iterable[str]) -> str:
    """The scopes as stored (sorted, space separated: equal sets are equal strings, which rotation compares)."""
    wanted = sorted({check_scope(scope) for scope in scopes})
    if not wanted:
        raise ValueError("a token needs at least one scope")
    return " ".join(wanted)


def _info(digest: str, label: str, fields: dict[str, str]) -> TokenInfo:
    def when(suffix: str) -> float | None:
        value = fields.get(digest + suffix)
        return float(value) if value else None

    return TokenInfo(token_id(digest), label, _granted(fields.get(digest + ":scopes")), when(":issued"),
                     when(":used"), when(":until"))


def no_token(venue: str, label: str, only_id: str = "") -> str:
    """What revoke and rotate say when LABEL (and ID) name no live token."""
    which = f"with id {only_id} " if only_id else ""
    return f"no live token {which}labelled {label!r} in venue {venue!r} (list-tokens {venue} shows them)"


def _granted(scopes: bytes | str | None) -> frozenset[str]:
    """A token's stored scopes; none stored: issued before scopes existed, for a report source: ingest only."""
    if scopes is None:
        return frozenset({INGEST})
    return frozenset((scopes.decode() if isinstance(scopes, bytes) else scopes).split())
