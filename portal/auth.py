"""Console accounts: operators and zone owners.

argon2-hashed passwords under a policy (length, not a common password), server-side sessions in the
store (the signed, HttpOnly, SameSite=Lax cookie carries only a random session id: logout, a password
change and disabling the account end them), CSRF on every console form (Flask-WTF's token, checked only
on console blueprints: a shopper form carries its `c` token, a secret another page lacks, and a shopper
POST that the `mp_c_<venue>` cookie alone identifies must come from the portal's own origin, portal/shopper.py),
a login throttle per account and per client IP that delays (exponentially) instead of locking, so nobody
can lock a user out, and an audit log of changes that one account's volume cannot flush (a daily allowance
of changes per account, `AuditLog`). Demo accounts (known password) sign in only in demo mode."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask.wrappers import Request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.addresses import client_address
from core.security import loads_within
from core.settings import Settings
from core.storage import (
    LUA_STORE_CLOCK,
    PRUNE_ABOVE,
    StoreBudget,
    VenueKeys,
    current_store_budget,
    drop_dead_members,
    name_digest,
    store_budget,
)
from core.store_health import STORE_ERRORS, is_store_fault
from portal.apps.budgets import IPNetwork, address_key, guest_networks, public_ipv4, shared_address, too_many
from portal.console_pages import console_page, console_referrer
from portal.passwords import check_password
from portal.services import services

log = logging.getLogger(__name__)

ROLES = ("operator", "owner")
# Sent (value "1") by a page's self-refresh (templates/_auto_refresh.html): no sign of use, so the console session is
# read without starting its idle time again.
AUTO_REFRESH_HEADER = "X-Auto-Refresh"
csrf = CSRFProtect()
# argon2id with the library's defaults (RFC 9106 low-memory profile). ARGON2_PROFILE=test (set by the test
# suite only) makes hashing cheap so hundreds of tests can create accounts; never set it in production.
_hasher = (PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if os.environ.get("ARGON2_PROFILE") == "test"
           else PasswordHasher())


@functools.cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the user does not exist, so timing does not reveal usernames
    (made on first use: at import it cost every worker and CLI start ~0.2 s of CPU)."""
    return _hasher.hash("no-such-user")


@dataclass(frozen=True)
class Account:
    username: str
    role: str  # operator | owner
    venue: str  # the venue it signs in to
    zones: tuple[str, ...] = field(default_factory=tuple)  # owners: the zones they may manage
    # Operators: further venues they run (a mall group's operator; the demo's `ops` runs both demo malls).
    more_venues: tuple[str, ...] = field(default_factory=tuple)

    def runs(self, venue: str) -> bool:
        """The one rule for "this account acts in this venue" (consoles of either role)."""
        return venue == self.venue or venue in self.more_venues

    def may_manage_zone(self, venue: str, zone: str) -> bool:
        if not self.runs(venue):
            return False
        return self.role == "operator" or zone in self.zones


class AccountKeys(VenueKeys):
    def account(self, username: str) -> str:
        return self.key("account", username)

    def usernames(self) -> str:
        return self.key("accounts")

    def login_failures(self, subject: str) -> str:
        """Failures of one account from one client address, of one client address, or of one account from every
        address: `subject` a keyed hash of "<username>@<address>", "ip:<address>" or "account:<username>" (an
        address as `address_key` counts it)."""
        return self.key("loginfail", subject)

    def signed_in_from(self, username: str) -> str:
        """SET: the addresses this account signed in from lately (each as its login_failures subject, never the
        address itself): the account-wide throttle does not hold them up."""
        return self.key("signedinfrom", username)

    def throttle_secret(self) -> str:
        """The key the login throttle hashes its subjects with (`AccountStore._subject`)."""
        return self.key("loginfail-key")

    def session(self, sid: str) -> str:
        """STRING: the username alone, expiring after the idle time (`_SESSION_USER_LUA`). The bare name is what
        the release before the idle rule reads (GET, the account by the whole value), so a sign-in on a new web host
        holds on an old one during a rolling deploy; the session's end lives beside it (`session_end`)."""
        return self.key("session", sid)

    def session_end(self, sid: str) -> str:
        """STRING: when the session `session(sid)` ends at the latest (epoch s), with the same expiry as it. A
        session without one is from before the idle rule (or an old host's sign-in): it keeps its own fixed 12 h."""
        return self.key("session-end", sid)

    def sessions_of(self, username: str) -> str:
        """SET: the ids of this account's sessions (signing out everywhere ends them through it). A session that
        expires leaves its id here: `start_session` drops the dead ones once the set holds more than PRUNE_ABOVE
        (an account signed in to at least once a session's longest life keeps its set for ever)."""
        return self.key("sessions", username)

    def audit(self) -> str:
        return self.key("audit")

    def call_rollups(self) -> str:
        """HASH: a machine API's calls rolled up per clock hour, action and caller (`AuditLog.record_call`): field
        "<hour>|<action>|<digest of the user>" -> the entry's JSON as its first call wrote it, "<field>:n" -> calls,
        "<field>:p" -> the distinct periods asked, one a line."""
        return self.key("audit", "calls")

    def call_rollup_order(self) -> str:
        """ZSET: the fields of `call_rollups` by their first call (epoch s): newest and oldest, for reading and
        trimming."""
        return self.key("audit", "calls", "order")

    def call_counted(self, call: str) -> str:
        """STRING, for a few minutes: this call is counted in its roll-up (a write sent again counts it once)."""
        return self.key("audit", "counted", call)

    def password_link(self, username: str) -> str:
        """The one live invite / reset link of an account (a new one replaces it)."""
        return self.key("pwlink", username)

    def changes(self, username: str, day: int) -> str:
        """How many audited changes the account made on this UTC day (`AuditLog.admit`)."""
        return self.key("changes", username, str(day))

    def held_records_since(self) -> str:
        """When this store began recording which account held which zone when (`AccountStore.held_spans`): an
        account's zone with no record, from before that, counts as held from then."""
        return self.key("held-since")


# The login throttle's check and count in one step. KEYS: the failures of the account from the address, of the
# address, of the account from anywhere (HASH n: failures, last: time of the latest; all under `{_accounts}`).
# ARGV: now, the longest delay, how long failures are kept, then the free failures of each key. Returns
# {seconds to wait, ""} (nothing counted) or {0, the times of the last failure of keys 2.. before this attempt}.
_ATTEMPT_LUA = """
local now, wait = tonumber(ARGV[1]), 0
for i = 1, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'n', 'last')
  local n, free = tonumber(h[1] or '0'), tonumber(ARGV[3 + i])
  if n >= free then
    local left = math.floor(tonumber(h[2] or '0') + math.min(tonumber(ARGV[2]), 2 ^ (n - free)) - now + 0.999)
    if left > wait then wait = left end
  end
end
if wait > 0 then return {wait, ''} end
local previous = {}
for i = 2, #KEYS do
  previous[i - 1] = redis.call('HGET', KEYS[i], 'last') or ''
end
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'n', 1)
  redis.call('HSET', KEYS[i], 'last', ARGV[1])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return {0, previous}
"""

# A new session. KEYS: the session, its end, the account's sessions. ARGV: username, sid, idle seconds, longest life
# in seconds, now (epoch s; '' the store's clock: web hosts' clocks differ). Returns how many ids the account lists.
_START_SESSION_LUA = LUA_STORE_CLOCK + """
local idle, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
local ends = math.floor(store_now(ARGV[5])) + longest
local ttl = math.min(idle, longest)
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('SET', KEYS[2], string.format('%d', ends), 'EX', ttl)
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[3], longest)
return redis.call('SCARD', KEYS[3])
"""

# A session used: its username, in the one round trip that reads it, past its end never. KEYS: the session, its end.
# ARGV: idle seconds, now ('' the store's clock), '1' to start its idle time again (a request the user made) or '0'
# (a page's self-refresh: a console left open must still end after the idle time). The expiries are rewritten only
# when a minute short of the idle time (or past the end: a clock given by a test), so a busy console is not a write
# each request. A session without an end (before the idle rule, or an old host's sign-in) keeps its own expiry.
# Returns the username, or false (no session, or past its end).
_SESSION_USER_LUA = LUA_STORE_CLOCK + """
local user = redis.call('GET', KEYS[1])
if not user then return false end
local ends = redis.call('GET', KEYS[2])
if not ends then return user end
local left = tonumber(ends) - math.floor(store_now(ARGV[2]))
if left <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return false
end
local want = math.min(tonumber(ARGV[1]), left)
local ttl = redis.call('TTL', KEYS[1])
if ttl > want or (ARGV[3] == '1' and ttl < want - 60) then
  redis.call('EXPIRE', KEYS[1], want)
  redis.call('EXPIRE', KEYS[2], want)
end
return user
"""

# A right password after _ATTEMPT_LUA counted it. KEYS as there. ARGV: the attempt's time (as written there),
# then for keys 2.. the time of their last failure before it ('' none). The account's failures from this address
# end; the address's and the account's counts lose this attempt (an attacker's failures on the account stay).
_REFUND_LUA = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('HINCRBY', KEYS[i], 'n', -1)
  if n <= 0 then
    redis.call('DEL', KEYS[i])
  elseif redis.call('HGET', KEYS[i], 'last') == ARGV[1] and ARGV[i] ~= '' then
    redis.call('HSET', KEYS[i], 'last', ARGV[i])
  end
end
return 1
"""


Span = tuple[float, float | None]  # an account held a zone from .. until (None: holds it still)
MAX_SPANS = 20  # kept per zone and account, the latest: an older one dropped only shortens what it may see


def held_throughout(spans: Sequence[Span], since: float, until: float) -> bool:
    """Whether one span of holding a zone covers all of [since, until): a period before it, or across a gap,
    holds another tenant's shoppers."""
    return any(start <= since and (end is None or until <= end) for start, end in spans)


def _held_after(held: dict[str, list[Span]], before: tuple[str, ...], after: tuple[str, ...], now: float,
                legacy_from: Callable[[], float]) -> dict[str, list[Span]]:
    """The holding record once the zones went from `before` to `after` at `now`: a zone gained opens a span, a
    zone lost closes it. A zone held with no open span (an account from before the record) is held from
    `legacy_from()`: when the record began, never earlier, for nobody knows since when it was."""
    out = {zone: list(spans) for zone, spans in held.items()}
    for zone in before:
        if not any(end is None for _start, end in out.get(zone, ())):
            out[zone] = [*out.get(zone, ()), (legacy_from(), None)]
    for zone in set(before) - set(after):
        # never ending before it began: `legacy_from()` is read from the store's clock a moment after `now`
        out[zone] = [(start, max(start, now) if end is None else end) for start, end in out[zone]]
    for zone in set(after) - set(before):
        out[zone] = [*out.get(zone, ()), (now, None)]
    return {zone: spans[-MAX_SPANS:] for zone, spans in out.items()}


def _held_json(held: dict[str, list[Span]]) -> str:
    return json.dumps({zone: [list(span) for span in spans] for zone, spans in sorted(held.items())})


def _held_read(raw: bytes | None) -> dict[str, list[Span]]:
    return {zone: [(float(start), None if end is None else float(end)) for start, end in spans]
            for zone, spans in json.loads(raw or b"{}").items()}


class AccountExists(ValueError):
    """The username is taken. The message is English (the CLI prints it); a console says it in the page's
    language from `username`."""

    def __init__(self, username: str) -> None:
        super().__init__(f"account {username!r} already exists")
        self.username = username


class AccountStore:
    """Accounts live under the `{_accounts}` tag: a login names no venue."""

    TAG = "_accounts"
    FREE_FAILURES = 4  # failures before any delay (per account, and per account from one IP)
    FREE_FAILURES_PER_IP = 20  # an office behind one NAT may mistype a lot
    # From every address together: guesses from many addresses (a phone minting IPv6 addresses on a venue's guest
    # network, where each counts alone; a botnet) are slowed too. High, since a delay here is the owner's as well.
    FREE_FAILURES_PER_ACCOUNT = 50
    # An address the account signed in from within this long is the owner's: the account-wide count does not hold it
    # up (an attacker keeping the account's delay going cannot lock the owner out; per address it still counts).
    KNOWN_ADDRESS_S = 30 * 86400
    MAX_DELAY_S = 15 * 60
    FORGET_FAILURES_S = 24 * 3600

    def __init__(self, db: redis.Redis, session_idle_s: int = Settings.console_idle_s,
                 session_max_s: int = Settings.console_session_max_s) -> None:
        """`session_idle_s`, `session_max_s`: a console session ends after this long unused, and this long after
        it began (the settings CONSOLE_IDLE_S, CONSOLE_SESSION_MAX_S; `accounts()` passes them)."""
        self.db = db
        self.keys = AccountKeys(self.TAG)
        self.session_idle_s = session_idle_s
        self.session_max_s = session_max_s
        self._throttle_secret: bytes | None = None
        self._attempt_script = db.register_script(_ATTEMPT_LUA)
        self._refund_script = db.register_script(_REFUND_LUA)
        self._start_session_script = db.register_script(_START_SESSION_LUA)
        self._session_user_script = db.register_script(_SESSION_USER_LUA)

    def create(self, username: str, password: str | None, role: str, venue: str, zones: tuple[str, ...] = (),
               demo: bool = False, must_change: bool = False) -> Account:
        """The one place an account is made (CLI, console, demo seed). password None: none anyone knows
        yet (the owner sets it through an invite link); must_change: an initial password, to be changed
        at the first sign-in before anything else works."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").isalnum():
            raise ValueError("username: letters, digits, - and _ only, at most 64")
        if password is not None:
            check_password(password, username)
        account = Account(username=username, role=role, venue=venue, zones=tuple(zones))
        secret = password if password is not None else secrets.token_urlsafe(32)  # unusable: never shown
        created = self.db.hsetnx(self.keys.account(username), "hash", _hasher.hash(secret))
        if not created:
            raise AccountExists(username)
        # A demo owner stands for a business the demo simulates, whose history (`flask insights simulate`, past
        # days) is its own; any other account holds its zones from now on: no earlier tenant's figures.
        self._save(account, _held_after({}, (), account.zones, 0.0 if demo else time.time(), time.time))
        flags = {"demo": demo, "must_change": must_change, "pending": password is None}
        if any(flags.values()):
            self.db.hset(self.keys.account(username), mapping={k: "1" for k, on in flags.items() if on})
        return account

    def _save(self, account: Account, held: dict[str, list[Span]]) -> None:
        """The account's fields, its zones and their holding record in one write."""
        self.db.hset(self.keys.account(account.username), mapping={
            "role": account.role, "venue": account.venue, "zones": json.dumps(list(account.zones)),
            "more_venues": json.dumps(list(account.more_venues)), "held": _held_json(held),
        })
        self.db.sadd(self.keys.usernames(), account.username)

    # The fields an Account and its status are made of: read by name (HMGET), so that the password hash beside them
    # is never read where only who the account is and its flags are needed (every signed-in request)
    ACCOUNT_FIELDS = ("role", "venue", "zones", "more_venues")

    def get(self, username: str) -> Account | None:
        return self._account(username, self._fields(username, self.ACCOUNT_FIELDS))

    def get_with_status(self, username: str) -> tuple[Account | None, dict[str, bool]]:
        """`get` and `status` from one read of the account's hash (every signed-in request asks both)."""
        data = self._fields(username, (*self.ACCOUNT_FIELDS, *self.STATUS_FLAGS))
        return self._account(username, data), self._status(data)

    def _fields(self, username: str, fields: Sequence[str]) -> dict[bytes, bytes]:
        """The account hash's `fields` that are set, as HGETALL would give them."""
        return self._present(fields, self.db.hmget(self.keys.account(username), *fields))

    @staticmethod
    def _present(fields: Sequence[str], values: Sequence[bytes | None]) -> dict[bytes, bytes]:
        """HMGET's reply to `fields` as HGETALL's: the fields that are set, by name."""
        return {name.encode(): value for name, value in zip(fields, values, strict=True) if value is not None}

    @staticmethod
    def _account(username: str, data: dict[bytes, bytes]) -> Account | None:
        if not data or b"role" not in data:
            return None
        return Account(username=username, role=data[b"role"].decode(), venue=data[b"venue"].decode(),
                       zones=tuple(json.loads(data[b"zones"])),
                       more_venues=tuple(json.loads(data.get(b"more_venues", b"[]"))))

    STATUS_FLAGS = ("disabled", "demo", "must_change", "pending")

    def status(self, username: str) -> dict[str, bool]:
        """{"disabled", "demo", "must_change", "pending"}: a disabled account cannot sign in; a demo one
        (its password is in the README) only in demo mode; must_change: signed in with an initial or
        temporary password, only the password page works until it is changed; pending: invited, no
        password set yet."""
        return self._status(self._fields(username, self.STATUS_FLAGS))

    @classmethod
    def _status(cls, data: dict[bytes, bytes | None]) -> dict[str, bool]:
        return {flag: data.get(flag.encode()) == b"1" for flag in cls.STATUS_FLAGS}

    def set_zones(self, username: str, zones: tuple[str, ...]) -> tuple[str, ...]:
        """The account's zones now `zones`; the zones it had before. Read and written in one step on the account's
        key (WATCH): a change made meanwhile (another operator's, a zone's release) is never lost. KeyError for
        no such account."""
        return self._change_zones(username, lambda before: tuple(zones))

    def _change_zones(self, username: str, change: Callable[[tuple[str, ...]], tuple[str, ...]]) -> tuple[str, ...]:
        key = self.keys.account(username)
        before: dict[str, tuple[str, ...]] = {}

        def write(pipe) -> None:  # run again by transaction() if the account changed meanwhile (WATCH)
            role, raw, held = pipe.hmget(key, "role", "zones", "held")
            if role is None:
                raise KeyError(username)
            before["zones"] = tuple(json.loads(raw or b"[]"))
            after = change(before["zones"])
            if after != before["zones"]:
                spans = _held_after(_held_read(held), before["zones"], after, time.time(), self._records_since)
                pipe.multi()  # the zones and when each was gained or lost: one write
                pipe.hset(key, mapping={"zones": json.dumps(list(after)), "held": _held_json(spans)})

        self.db.transaction(write, key)
        return before["zones"]

    def held_spans(self, username: str) -> dict[str, list[Span]]:
        """zone -> when the account held it (from, until; None: holds it still), oldest first. A zone it holds
        with no record (an account from before the record) counts as held from when the record began."""
        zones, held = self.db.hmget(self.keys.account(username), "zones", "held")
        now = tuple(json.loads(zones or b"[]"))
        spans = _held_read(held)
        return _held_after(spans, now, now, time.time(), self._records_since) if zones else spans

    def held_during(self, account: Account, zone: str, since: float, until: float) -> bool:
        """Whether `account` may see `zone`'s figures of [since, until): an operator always (the venue's data is
        the mall's); an owner only while it held the zone all through (`held_throughout`)."""
        return account.role != "owner" or held_throughout(self.held_spans(account.username).get(zone, ()), since, until)

    def _records_since(self) -> float:
        """When the holding record began in this store: its first use, kept (a later one never moves it)."""
        key = self.keys.held_records_since()
        self.db.set(key, repr(time.time()), nx=True)
        return float(self.db.get(key))

    def release_zone(self, venue: str, zone: str) -> list[str]:
        """A zone gone from the venue's map: taken from every owner account of the venue that manages it (a new
        zone given the same id is not theirs); the usernames it was taken from."""
        taken = []
        for account in self.all():
            if account.role == "owner" and account.runs(venue) and zone in account.zones:
                had = self._change_zones(account.username, lambda zones: tuple(z for z in zones if z != zone))
                if zone in had:
                    taken.append(account.username)
        return taken

    def add_venue(self, username: str, venue: str) -> None:
        """An operator runs one more venue (idempotent); owners stay in their one venue."""
        key = self.keys.account(username)

        def add(pipe) -> None:  # run again by transaction() if the account changed meanwhile (WATCH)
            role, venue_now, more = pipe.hmget(key, "role", "venue", "more_venues")
            if role is None:
                raise KeyError(username)
            if role != b"operator":
                raise ValueError("only operators run more than one venue")
            venues = json.loads(more or b"[]")
            if venue != venue_now.decode() and venue not in venues:
                pipe.multi()
                pipe.hset(key, "more_venues", json.dumps([*venues, venue]))

        # check and write in one step on the account's one key: a concurrent change is never lost
        self.db.transaction(add, key)

    def remove_venue(self, username: str, venue: str) -> bool:
        """`add_venue` undone: whether the account ran `venue` as a further venue (its own one stays)."""
        key = self.keys.account(username)
        dropped = False

        def drop(pipe) -> None:  # run again by transaction() if the account changed meanwhile (WATCH)
            nonlocal dropped
            role, more = pipe.hmget(key, "role", "more_venues")
            venues = json.loads(more or b"[]")
            dropped = role is not None and venue in venues
            if dropped:
                pipe.multi()
                pipe.hset(key, "more_venues", json.dumps([v for v in venues if v != venue]))

        # check and write in one step on the account's one key: a concurrent change is never lost
        self.db.transaction(drop, key)
        return dropped

    def _replace_hash(self, username: str, secret: str, raise_flags: tuple[str, ...],
                      drop_flags: tuple[str, ...]) -> None:
        """The account's new password hash and flags, and its live invite / reset link gone, in one step (both
        keys under `{_accounts}`): a link handed out before a later password change or reset must not set
        the password after it. Then every session ends."""
        key = self.keys.account(username)
        with self.db.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"hash": _hasher.hash(secret), **{flag: "1" for flag in raise_flags}})
            pipe.hdel(key, *drop_flags)
            pipe.delete(self.keys.password_link(username))
            pipe.execute()
        self.end_sessions(username)

    def set_password(self, username: str, password: str) -> None:
        """A new password (under the policy); ends every session of the account and its invite / reset link;
        no longer a demo one."""
        if self.get(username) is None:
            raise KeyError(username)
        check_password(password, username)
        self._replace_hash(username, password, (), ("demo", "must_change", "pending"))

    def set_temporary_password(self, username: str) -> str:
        """A new random password, shown once by the caller, that must be changed at the next sign-in; the
        old password and any invite / reset link stop working and every session ends."""
        if self.get(username) is None:
            raise KeyError(username)
        password = secrets.token_urlsafe(12)
        self._replace_hash(username, password, ("must_change",), ("demo", "pending"))
        return password

    def forget_password(self, username: str) -> None:
        """Before a reset link: the old password and any earlier link stop working (nobody knows the new
        hash's secret) and every session ends; the owner sets a new one through the link issued next."""
        if self.get(username) is None:
            raise KeyError(username)
        self._replace_hash(username, secrets.token_urlsafe(32), ("pending",), ("demo", "must_change"))

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        """Disabling ends every session and the account's invite / reset link (enabling brings neither back)."""
        if self.get(username) is None:
            raise KeyError(username)
        with self.db.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.account(username), "disabled", "1" if disabled else "0")
            if disabled:
                pipe.delete(self.keys.password_link(username))
            pipe.execute()
        if disabled:
            self.end_sessions(username)

    def all(self) -> list[Account]:
        return [account for account, _ in self.all_with_status()]

    def all_with_status(self) -> list[tuple[Account, dict[str, bool]]]:
        """Every account, by name, with its `status`: the names, then every account's hash in one pipeline (all
        under `{_accounts}`, one slot), where `get` and `status` of each took two round trips an account."""
        names = sorted(n.decode() for n in self.db.smembers(self.keys.usernames()))
        fields = (*self.ACCOUNT_FIELDS, *self.STATUS_FLAGS)
        with self.db.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(self.keys.account(name), *fields)
            replies = pipe.execute()
        hashes = [self._present(fields, values) for values in replies]
        found = ((self._account(name, data), data) for name, data in zip(names, hashes, strict=True))
        return [(account, self._status(data)) for account, data in found if account is not None]

    # -- the login throttle ------------------------------------------------------------------------

    def _throttle_keys(self, username: str, ip: str, guest_networks: Sequence[IPNetwork] = ()
                       ) -> tuple[str, ...]:
        """The failure counters of this account from this address, of this address, and of this account from
        anywhere, unless the account signed in from this address lately (`signed_in_from`): an address counted as
        the budgets count it (`address_key`: an IPv6 address by its /64, but by itself inside a venue's guest
        networks, an IPv4-mapped one as IPv4). Nor the address's, for an account that signed in from it lately
        where it is a mall's shared NAT address (`shared_address`, as the budgets): there it counts every guest's
        guesses, and one guest would keep the mall's staff out; the account's own from there still counts. In
        _ATTEMPT_LUA's order (each key's free failures by its place): only ever the last ones left out."""
        address = address_key(ip, guest_networks)
        pair = self._subject(f"{username}@{address}")
        keys = (self.keys.login_failures(pair), self.keys.login_failures(self._subject(f"ip:{address}")))
        if not self.db.sismember(self.keys.signed_in_from(username), pair):
            return (*keys, self.keys.login_failures(self._subject(f"account:{username}")))
        return keys[:1] if shared_address(ip, guest_networks) else keys

    def _signed_in(self, username: str, ip: str, guest_networks: Sequence[IPNetwork]) -> None:
        """Remember the address the account signed in from (`signed_in_from`), for KNOWN_ADDRESS_S."""
        key = self.keys.signed_in_from(username)
        with self.db.pipeline(transaction=True) as pipe:
            pipe.sadd(key, self._subject(f"{username}@{address_key(ip, guest_networks)}"))
            pipe.expire(key, self.KNOWN_ADDRESS_S)
            pipe.execute()

    def _subject(self, plain: str) -> str:
        """A keyed hash of what a failure counter is about: a key name must not hold the address or the typed
        username (often a password typed into the wrong field), which SCAN, MONITOR and a dump would show."""
        return hmac.new(self._throttle_key(), plain.encode(), hashlib.sha256).hexdigest()[:32]

    def _throttle_key(self) -> bytes:
        """The throttle's own random key, made once per store (kept in it, like the moments' signing secret)."""
        if self._throttle_secret is None:
            key = self.keys.throttle_secret()
            self.db.set(key, secrets.token_hex(32), nx=True)
            self._throttle_secret = self.db.get(key)
        return self._throttle_secret

    def _attempt(self, keys: tuple[str, ...], at: float | None = None) -> tuple[str, list[bytes]]:
        """Check the throttle and count this attempt as a failure in one step (raises Throttled when it
        must wait: nothing counted). Counted before the password is checked, so guesses sent at once from
        one address cannot all pass the check before any of them is counted. Returns what `_refund` needs.
        `at`: a test's clock (epoch s), else this host's."""
        now = repr(time.time() if at is None else at)
        wait, previous = self._attempt_script(
            keys=list(keys), args=[now, self.MAX_DELAY_S, self.FORGET_FAILURES_S, self.FREE_FAILURES,
                                   self.FREE_FAILURES_PER_IP, self.FREE_FAILURES_PER_ACCOUNT])
        if int(wait):
            raise Throttled(int(wait))
        return now, list(previous)

    def _refund(self, keys: tuple[str, ...], attempt: tuple[str, list[bytes]]) -> None:
        """A right password: the account's failures from this address end, and the address's and the account's
        counts lose this attempt again (each one's time of the last failure back as it was, unless a later one
        moved it)."""
        now, previous = attempt
        self._refund_script(keys=list(keys), args=[now, *previous])

    def sign_in_name(self, typed: str) -> str:
        """The account a sign-in's username box names: without the spaces a phone keyboard adds, and in lower case
        unless an account has the name as typed (a keyboard's capital first letter: the console makes owners'
        names lower-case, while `flask users create` keeps the case it is given, and such an account, or one
        differing from another only in case, still signs in as it is spelt)."""
        name = typed.strip()[:64]
        if name == name.lower() or self.db.exists(self.keys.account(name)):
            return name
        return name.lower()

    def verify(self, username: str, password: str, ip: str = "-", demo_mode: bool = True,
               guest_networks: Sequence[IPNetwork] = (), now: float | None = None) -> Account | None:
        """The account if the password is right, the account enabled (and not a demo account outside demo
        mode). Raises Throttled when this account (from this IP) or this IP must wait first. `guest_networks`:
        the venues' guest WiFi networks (`venue_guest_networks`), where each address is one phone. `now`: a
        test's clock for the throttle (epoch s), else this host's."""
        keys = self._throttle_keys(username, ip, guest_networks)
        attempt = self._attempt(keys, now)  # counted as a failure until the password is found right
        stored = self.db.hget(self.keys.account(username), "hash")
        try:
            ok = _hasher.verify(stored.decode() if stored else _dummy_hash(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        status = self.status(username) if ok else {}
        if not ok or status["disabled"] or (status["demo"] and not demo_mode):
            return None
        self._refund(keys, attempt)
        self._signed_in(username, ip, guest_networks)
        if _hasher.check_needs_rehash(stored.decode()):
            self.db.hset(self.keys.account(username), "hash", _hasher.hash(password))
        return self.get(username)

    # -- server-side sessions ------------------------------------------------------------------------

    def start_session(self, username: str, now: float | None = None) -> str:
        """A new session's id: it lasts `session_idle_s` unused, `session_max_s` at most. `now`: a test's clock
        (epoch s), else the store's."""
        sid = secrets.token_urlsafe(32)
        listed = self._start_session_script(
            keys=[self.keys.session(sid), self.keys.session_end(sid), self.keys.sessions_of(username)],
            args=[username, sid, self.session_idle_s, self.session_max_s, "" if now is None else now])
        if listed > PRUNE_ABOVE:
            drop_dead_members(self.db, self.keys.sessions_of(username), self.keys.session)
        return sid

    def session_user(self, sid: str, now: float | None = None, slide: bool = True) -> str | None:
        """The session's username, None once it ended; using it starts its idle time again (never past its end:
        a shift-long console stays signed in, a phone left overnight does not). `slide=False` for a page's
        self-refresh (`AUTO_REFRESH_HEADER`): read, the end and the cap still kept, the idle time not restarted."""
        raw = self._session_user_script(keys=[self.keys.session(sid), self.keys.session_end(sid)],
                                        args=[self.session_idle_s, "" if now is None else now, int(slide)])
        return raw.decode() if raw else None

    def end_session(self, sid: str) -> None:
        raw = self.db.get(self.keys.session(sid))
        self.db.delete(self.keys.session(sid), self.keys.session_end(sid))  # one slot: `{_accounts}`
        if raw:
            self.db.srem(self.keys.sessions_of(raw.decode()), sid)

    def end_sessions(self, username: str) -> int:
        sids = [s.decode() for s in self.db.smembers(self.keys.sessions_of(username))]
        if sids:
            self.db.delete(*(key for s in sids for key in (self.keys.session(s), self.keys.session_end(s))))
        self.db.delete(self.keys.sessions_of(username))
        return len(sids)


class Throttled(Exception):
    def __init__(self, wait_s: int) -> None:
        super().__init__(f"wait {wait_s} s")
        self.wait_s = wait_s


# A link used: KEYS[1] the account's link, KEYS[2] the account; ARGV[1] the digest of the secret presented,
# ARGV[2] the new password's hash. If the digest matches, the link is gone (used once) and, unless the account
# is gone or disabled, the hash set and the flags an initial, pending or demo password left cleared, all in
# one step: nothing (a reset, another link) can come between the link's check and the password it sets.
# Returns the link's purpose when the password was set, else nil.
_USE_LINK = """
local record = redis.call('HMGET', KEYS[1], 'digest', 'purpose')
if not record[1] or record[1] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
local account = redis.call('HMGET', KEYS[2], 'role', 'disabled')
if not account[1] or account[2] == '1' then return false end
redis.call('HSET', KEYS[2], 'hash', ARGV[2])
redis.call('HDEL', KEYS[2], 'demo', 'must_change', 'pending')
return record[2]
"""


class PasswordLinks:
    """One-time, expiring links with which an owner sets their own password: an invite (new account) or a
    reset. The link carries `<username>.<random secret>`; only the secret's SHA-256 is stored, one live
    link per account (issuing another replaces it; any later password change, reset or disabling ends it:
    `AccountStore._replace_hash`), used once by a Lua script that checks it, deletes it and sets the password
    in one step."""

    PURPOSES = ("invite", "reset")
    TTL_S = {"invite": 7 * 86400, "reset": 24 * 3600}

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self.keys = AccountKeys(AccountStore.TAG)
        self._use = db.register_script(_USE_LINK)

    @staticmethod
    def _digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def issue(self, username: str, purpose: str, by: str) -> str:
        """A new link token for the account (the previous one stops working)."""
        if purpose not in self.PURPOSES:
            raise ValueError(f"purpose must be one of {self.PURPOSES}")
        secret = secrets.token_urlsafe(32)
        key = self.keys.password_link(username)
        with self.db.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": self._digest(secret), "purpose": purpose, "by": by,
                                    "created": time.time()})
            pipe.expire(key, self.TTL_S[purpose])
            pipe.execute()
        return f"{username}.{secret}"

    @staticmethod
    def split(token: str) -> tuple[str, str] | None:
        username, dot, secret = (token or "")[:200].partition(".")
        if not dot or not username or not 20 <= len(secret) <= 100:
            return None
        return username, secret

    def peek(self, token: str) -> tuple[str, str] | None:
        """(username, purpose) if the token is a live link, without using it up (a GET of the page)."""
        parts = self.split(token)
        if parts is None:
            return None
        digest, purpose = self.db.hmget(self.keys.password_link(parts[0]), "digest", "purpose")
        if digest is None or not hmac.compare_digest(digest.decode(), self._digest(parts[1])):
            return None
        return parts[0], purpose.decode()

    def use(self, token: str, password: str) -> tuple[str, str] | None:
        """Set the account's password (under the policy: ValueError) through the link: (username, purpose),
        the link used up and every session of the account ended; None if the token is not (or no longer) a
        live link, or the account is gone or disabled."""
        parts = self.split(token)
        if parts is None:
            return None
        username, secret = parts
        check_password(password, username)
        purpose = self._use(keys=[self.keys.password_link(username), self.keys.account(username)],
                            args=[self._digest(secret), _hasher.hash(password)])
        if not purpose:
            return None
        AccountStore(self.db).end_sessions(username)
        return username, purpose.decode()

    def live(self, username: str) -> dict | None:
        """The live link's purpose, issuer and time (never its secret), for the owners page."""
        raw = self.db.hgetall(self.keys.password_link(username))
        return {k.decode(): v.decode() for k, v in raw.items() if k != b"digest"} if raw else None


# One call of a machine API into its hour's roll-up (AuditLog.record_call). KEYS: the roll-ups, their order, the
# call's counted mark. ARGV: field, the entry's JSON (taken by the hour's first call), its time, the period asked,
# how many distinct periods are listed, how many roll-ups are kept, how long the mark lasts (s). 0: counted before.
_RECORD_CALL_LUA = """
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[7]) then return 0 end
local field = ARGV[1]
if redis.call('HSETNX', KEYS[1], field, ARGV[2]) == 1 then redis.call('ZADD', KEYS[2], ARGV[3], field) end
redis.call('HINCRBY', KEYS[1], field .. ':n', 1)
local listed = redis.call('HGET', KEYS[1], field .. ':p')
if not listed then
  redis.call('HSET', KEYS[1], field .. ':p', ARGV[4])
elseif not string.find('\\n' .. listed .. '\\n', '\\n' .. ARGV[4] .. '\\n', 1, true) then
  local _, lines = string.gsub(listed, '\\n', '')
  if lines + 1 < tonumber(ARGV[5]) then redis.call('HSET', KEYS[1], field .. ':p', listed .. '\\n' .. ARGV[4]) end
end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('HDEL', KEYS[1], old, old .. ':n', old .. ':p')
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 1
"""


class AuditLog:
    """Who changed what, per venue, newest first.

    One account's volume must not push the others' entries (nor its own earlier ones) out of the log: each
    account may send at most WRITES_PER_DAY console forms a day (`admit`, asked before the change by every
    console POST and the sign-in, whether or not it then changes anything; UTC days, so at most twice that in
    any 24 h; a busy food-hall stall's call/seat taps are ~1,200 a day), and the log keeps the newest KEEP
    entries, a bound for the store's memory that one account alone reaches only after some
    KEEP / WRITES_PER_DAY days (20) of changes at that rate. The command line (user "cli") is not counted."""

    KEEP = 100_000
    WRITES_PER_DAY = 5_000
    DAY_S = 86_400
    # A machine API's calls (`record_call`) are kept apart from the log above, one entry per caller per hour: a
    # partner's calls (up to its budget, thousands a day) pushed the operators' token, staff and retention changes
    # out of it. Their own bound: a year and more of hourly roll-ups for a few partners.
    CALL_ROLLUPS_KEPT = 20_000
    PERIODS_LISTED = 24  # distinct periods named in one roll-up (its `count` counts every call)
    COUNTED_S = 600  # a call's mark: longer than any resend of its write

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._record_call = db.register_script(_RECORD_CALL_LUA)

    def admit(self, username: str, now: float | None = None) -> int:
        """Count one audited change of this account: 0 when it may go on, else the seconds until the next
        day, when it may again (counted all the same: the day's count only decides, and ends with the day)."""
        now = time.time() if now is None else now
        day = int(now // self.DAY_S)
        key = AccountKeys(AccountStore.TAG).changes(username, day)
        pipe = self.db.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 2 * self.DAY_S)
        count, _expiry = pipe.execute()
        return 0 if count <= self.WRITES_PER_DAY else max(1, int((day + 1) * self.DAY_S - now))

    def record(self, venue: str, user: str, action: str, **detail) -> None:
        """Append who changed what. Called after the change landed, so a store error here must not lose the
        entry nor report the change as failed (the operator would make it again): the entry is kept in this
        process and written once the store answers (`_AuditBacklog`)."""
        entry = json.dumps({"ts": time.time(), "user": user, "action": action, "detail": detail})
        try:
            self.write(self.db, venue, entry)
        except STORE_ERRORS as exc:
            _backlog.keep(self.db, venue, entry, exc)

    @classmethod
    def write(cls, db: redis.Redis, venue: str, entry: str) -> None:
        pipe = db.pipeline(transaction=True)
        pipe.lpush(AccountKeys(venue).audit(), entry)
        pipe.ltrim(AccountKeys(venue).audit(), 0, cls.KEEP - 1)
        pipe.execute()

    def record_call(self, venue: str, user: str, action: str, call: str, asked: str, now: float | None = None,
                    **detail) -> bool:
        """One call of a machine API (`user`: its token's label), rolled up: one entry per clock hour (UTC), action
        and user, whose `detail` gains `count` (its calls) and `period` (the first PERIODS_LISTED distinct `asked`).
        Counted once per `call` (a unique id): a write sent again after it landed (a dropped connection's retry)
        counts nothing more; False then. Not kept for later when the store fails: raised, so that the call is not
        answered unaudited."""
        now = time.time() if now is None else now
        keys = AccountKeys(venue)
        # The caller by its name's digest: as itself, the label `bi:n` had the field of `bi`'s counter (one's calls
        # lost, or the other's HINCRBY on JSON).
        field = f"{int(now // 3600)}|{action}|{name_digest(user)}"
        entry = json.dumps({"ts": now, "user": user, "action": action, "detail": detail})
        return bool(self._record_call(
            keys=[keys.call_rollups(), keys.call_rollup_order(), keys.call_counted(call)],
            args=[field, entry, repr(now), asked, self.PERIODS_LISTED, self.CALL_ROLLUPS_KEPT, self.COUNTED_S]))

    def recent(self, venue: str, limit: int = 100) -> list[dict]:
        """The log's newest `limit` entries, newest first, without the API calls' roll-ups (`call_rollups`, read
        apart: merged, an hourly partner's roll-ups took the token, staff and retention entries' places within a day
        or two, and they never name a zone)."""
        return [json.loads(e) for e in self.db.lrange(AccountKeys(venue).audit(), 0, limit - 1)]

    def call_rollups(self, venue: str, limit: int) -> list[dict]:
        """The newest `limit` roll-ups, newest first, each with its count and periods asked."""
        keys = AccountKeys(venue)
        fields = [f.decode() for f in self.db.zrevrange(keys.call_rollup_order(), 0, limit - 1)]
        if not fields:
            return []
        values = self.db.hmget(keys.call_rollups(), [f"{f}{part}" for f in fields for part in ("", ":n", ":p")])
        out = []
        for head, count, periods in zip(values[0::3], values[1::3], values[2::3], strict=True):
            if head is not None:  # trimmed between the two reads
                entry = json.loads(head)
                entry["detail"].update(count=int(count or 0), period=(periods or b"").decode().split("\n"))
                out.append(entry)
        return out


class _AuditBacklog:
    """Audit entries the store did not take, kept in this process (oldest first, at most LIMIT) and written by
    a background thread every RETRY_S until the store takes them. What can be lost, logged when kept: the
    backlog of a process killed meanwhile, and entries beyond LIMIT (the store down for a long time while
    operators keep changing things that then land: the store is down, so few do)."""

    LIMIT = 1_000
    RETRY_S = 1.0

    def __init__(self) -> None:
        self._entries: deque[tuple[redis.Redis, str, str]] = deque()
        self._lock = threading.Lock()  # the entries and the writer thread
        self._writing = threading.Lock()  # one writer at a time: each entry written once
        self._writer: threading.Thread | None = None
        self._released = threading.Condition(self._lock)  # release(): the writer looks again at once

    def keep(self, db: redis.Redis, venue: str, entry: str, exc: BaseException) -> None:
        log.warning("audit entry for venue %s kept to write later: %s", venue, exc.__class__.__name__)
        with self._lock:
            if len(self._entries) >= self.LIMIT:
                log.error("audit entry for venue %s lost: %d already waiting", venue, len(self._entries))
                return
            self._entries.append((db, venue, entry))
            if self._writer is None or not self._writer.is_alive():  # none yet, or a parent's (fork)
                self._writer = threading.Thread(target=self._run, name="audit-backlog", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                # the retry interval, or less when an app's release() leaves nothing to write
                self._released.wait_for(lambda: not self._entries, self.RETRY_S)
            if self.write_waiting():
                return

    def release(self, db: redis.Redis, timeout_s: float) -> None:
        """Forget the entries waiting for `db`, whose app is closing (Services.close), and when none waits any
        more, end the writer, waiting up to `timeout_s` for a write in flight. First they are tried once more
        (a gunicorn worker recycled after its store came back writes them, where the writer would have a second
        later); what the store still refuses is lost, as when the process is killed (logged with the count);
        kept, the writer would retry it against a store that no one uses any more, for as long as the process
        lives."""
        if self._writing.acquire(blocking=False):  # else the writer is writing now, these entries among them
            try:
                self._write_oldest(db)
            finally:
                self._writing.release()
        with self._lock:
            kept = deque(item for item in self._entries if item[0] is not db)
            lost = len(self._entries) - len(kept)
            self._entries = kept
            writer = self._writer if not kept else None
            self._released.notify_all()
        if lost:
            log.error("%d audit entries lost: their app closed while its store did not take them", lost)
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout_s)

    def write_waiting(self) -> bool:
        """Write what waits, oldest first; True when nothing waits any more (False: the store still fails)."""
        with self._writing:
            return self._write_oldest()

    def _write_oldest(self, db: redis.Redis | None = None) -> bool:
        """Write the waiting entries (only those for `db` when given), oldest first, until the store refuses one
        (held: `_writing`); True when none of them waits any more. An entry is taken out once written, unless a
        close released it meanwhile."""
        while True:
            with self._lock:
                item = next((waiting for waiting in self._entries if db is None or waiting[0] is db), None)
                if item is None:
                    if db is None and self._writer is threading.current_thread():  # the writer's round: it ends
                        self._writer = None
                    return True
            try:
                AuditLog.write(*item)
            except STORE_ERRORS:
                return False
            with self._lock, contextlib.suppress(ValueError):  # ValueError: released by a close meanwhile
                self._entries.remove(item)


_backlog = _AuditBacklog()


def accounts() -> AccountStore:
    settings = services().settings
    return AccountStore(services().db, settings.console_idle_s, settings.console_session_max_s)


def audit(action: str, venue: str | None = None, **detail) -> None:
    account = current_account()
    AuditLog(services().db).record(venue or (account.venue if account else "-"),
                                   account.username if account else "-", action, **detail)


CLI_ACTOR = "cli"  # who the audit log names for what a command changed (cli_audit; map edits: map_cli, setup_cli)


def cli_audit(venue: str, action: str, **detail) -> None:
    """What a command changed, in the venue's audit log under the user "cli" (the console's pages and
    `flask audit` show it): never a token or a password, only what names them."""
    AuditLog(services().db).record(venue, CLI_ACTOR, action, **detail)


def current_account() -> Account | None:
    """The signed-in account: the cookie's session id must still be live in the store, and the account
    enabled (logout, a password change and disabling end sessions there)."""
    if "account" not in g:
        sid = session.get("sid")
        store = accounts()
        # a page's own refresh reads the session without sliding it: else a console left open never idles out
        slide = request.headers.get(AUTO_REFRESH_HEADER) != "1"
        username = store.session_user(sid, slide=slide) if isinstance(sid, str) else None
        account, g.account_status = store.get_with_status(username) if username else (None, {})
        g.account = None if g.account_status.get("disabled") else account
    return g.account


def must_change_password() -> bool:
    """The signed-in account still has an initial or temporary password (see portal/account_pages.py)."""
    return current_account() is not None and g.account_status.get("must_change", False)


def login_gate(role: str | None = None):
    """None when a logged-in account (of `role`, if given) may go on; else the redirect to the login page
    (logged out). 403 for the wrong role. For `login_required` and the console blueprints' checks."""
    account = current_account()
    if account is None:
        return signed_out_redirect()
    if role is not None and account.role != role:
        abort(403, _("This page is for %(role)s accounts.", role=role))
    return None


def signed_out_redirect() -> ResponseReturnValue:
    """To the login page, coming back here after it. A form sent once the session had ended (idle, past its
    longest life, signed out elsewhere) did nothing: the login page says so, and comes back to the page the form
    was sent from (or the console home), never to the form's own URL, which only takes a form (a 405 there)."""
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.path))
    back = console_referrer() or url_for("auth.home")
    return redirect(url_for("auth.login", next=back, signed_out=1))  # a 302: every browser follows it with a GET


def login_required(role: str | None = None) -> Callable:
    """Console views: 302 to the login page when logged out, 403 for the wrong role."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            refused = login_gate(role)
            return refused if refused is not None else view(*args, **kwargs)

        return wrapped

    return decorator


def require_zone(venue: str, zone: str) -> Account:
    """The logged-in account if it may manage this zone, else 403 (owners touch their zones only)."""
    account = current_account()
    if account is None or not account.may_manage_zone(venue, zone):
        abort(403, _("You do not manage this zone."))
    return account


def protect_console(blueprint: Blueprint) -> Blueprint:
    """CSRF check on every state-changing request of a console blueprint, then the account's daily
    allowance of changes (`AuditLog.admit`: 429 when spent, before anything changes)."""

    @blueprint.before_request
    def _check_csrf():
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
            account = current_account()
            # signing out is always allowed; a sign-in counts itself once the account is known
            if account is not None and request.endpoint not in ("auth.logout", "auth.login"):
                return changes_refused(account.username)
        return None

    return blueprint


def changes_refused(username: str) -> ResponseReturnValue | None:
    """None when the account may make one more audited change today (counted); else the 429 page."""
    wait = AuditLog(services().db).admit(username)
    if not wait:
        return None
    return too_many(_("This account has made as many changes today as one account may."), wait)


# How long a sign-in's reads of every venue's guest networks may wait on the store, all together and apart from the
# request's own budget (STORE_REQUEST_BUDGET_S), which the account's reads need: a venue whose shard hangs must not
# spend it (each read there waits out STORE_TIMEOUT_S). A healthy read waits well under WAIT_FLOOR_S, not charged.
GUEST_NETWORKS_WAIT_S = 0.5


def venue_guest_networks(address: str | None) -> tuple[IPNetwork, ...]:
    """Every venue's guest networks (its `client_networks`) for a sign-in from `address` (none for what is no
    address): a sign-in names no venue, and inside any of them an IPv6 address is one phone, so the login
    throttle counts it by itself (`address_key`), as the budgets do, and a public IPv4 address is the mall's
    shared NAT address (`shared_address`), which does not hold up an account signed in from it lately; else one
    shopper's wrong guesses would make every owner on the mall WiFi wait. A venue whose settings cannot be read
    now is left out: on a cluster a shard that is down must not stop the sign-ins of the malls on the others, so a
    venue whose store breaker is open is not asked, and the reads wait GUEST_NETWORKS_WAIT_S at most, all together
    (those left then are left out too). None are read for an IPv4 address of the premises' own kind: neither rule
    reads them for it."""
    ip = client_address(address)
    if ip is None or ip.version == 4 and not public_ipv4(address):
        return ()
    venues = services().venues.venue_ids()
    request_budget = current_store_budget()
    with store_budget(StoreBudget(GUEST_NETWORKS_WAIT_S, request_budget.observe if request_budget else None)):
        return tuple(network for venue in venues for network in _guest_networks_now(venue))


def _guest_networks_now(venue: str) -> Sequence[IPNetwork]:
    """The venue's guest networks, none while its store breaker (the captive portal's) is open or they cannot be
    read; a read's store fault counted toward that breaker (one field of the venue's own slot: its shard's fault)."""
    breakers = getattr(current_app.extensions.get("captive"), "breaker", None)
    breaker = breakers.for_venue(venue) if breakers is not None else None
    if breaker is not None and breaker.is_open:
        return ()
    try:
        return guest_networks(venue)
    except STORE_ERRORS as exc:
        if breaker is not None and is_store_fault(exc):
            breaker.record_failure(exc)
        return ()


bp = protect_console(Blueprint("auth", __name__, url_prefix="/console"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        typed = request.form.get("username", "").strip()[:64]  # shown again after a refusal (the password never)
        password = request.form.get("password", "")[:1024]
        store = accounts()
        try:
            account = store.verify(store.sign_in_name(typed), password, request.remote_addr or "-",
                                   services().settings.demo, venue_guest_networks(request.remote_addr))
        except Throttled as exc:
            error = _("Too many failed attempts: please wait %(n)s seconds.", n=exc.wait_s)
            return _login_page(typed, error=error), 429, {"Retry-After": str(exc.wait_s)}
        if account is None:  # both fields refused: which one was wrong is not told
            return _login_page(typed, error=_("Wrong username or password."), wrong=True), 401
        refused = changes_refused(account.username)  # each sign-in is an audit entry too
        if refused is not None:
            return refused
        session.clear()  # no session fixation: a fresh session at login
        session["sid"] = store.start_session(account.username)
        session.permanent = True
        AuditLog(services().db).record(account.venue, account.username, "login")
        return redirect(console_page(request.args.get("next")) or url_for("auth.home"), code=303)
    return _login_page()


def _login_page(username: str = "", **context) -> str:
    """The sign-in page; `signed_out=1` (from `signed_out_redirect`): a form met an ended session, not done."""
    return render_template("auth/login.html", username=username, signed_out=request.args.get("signed_out") == "1",
                           **context)


@bp.post("/logout")
def logout():
    sid = session.get("sid")
    if isinstance(sid, str):
        accounts().end_session(sid)
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/")
@login_required()
def home():
    """Each role's console home; the consoles register themselves by endpoint name."""
    account = current_account()
    endpoint = {"operator": "operator.home", "owner": "owner.home"}[account.role]
    if endpoint in current_app.view_functions:
        return redirect(url_for(endpoint, venue=account.venue))
    return render_template("auth/home.html", account=account)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key instead of on
    every request (Flask opens the session for each request, probes included: ~30 us each), and a cookie signed
    up to `max_skew_s` in the future accepted (another web host whose clock runs ahead re-signed it: Flask's own
    check refused it at -1 s, so a console user whose requests met two hosts was signed out)."""

    def __init__(self, max_skew_s: float = Settings.max_clock_skew_s) -> None:
        self.max_skew_s = max_skew_s

    def open_session(self, app: Flask, req: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = req.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        try:
            return self.session_class(loads_within(serializer, cookie, app.permanent_session_lifetime.total_seconds(),
                                                   self.max_skew_s))
        except BadSignature:
            return self.session_class()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != key:
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]


def init_auth(app: Flask) -> None:
    app.session_interface = SessionCookies(app.extensions["mallportal"].settings.max_clock_skew_s)
    # The cookie (slid on every request) outlives the server-side session, which decides when a sign-in ends: a
    # form sent after that still carries its CSRF token, so it reaches the login gate and its "not done" notice.
    app.config["PERMANENT_SESSION_LIFETIME"] = app.extensions["mallportal"].settings.console_session_max_s
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked per console blueprint
    # No age limit of its own: the token is bound to the session cookie's secret, which sign-in and sign-out
    # replace, and a console form is worth something only while the server-side session (CONSOLE_IDLE_S,
    # CONSOLE_SESSION_MAX_S) lives; Flask-WTF's default hour refused a form opened an hour before.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.register_blueprint(bp)
    db = app.extensions["mallportal"].db
    app.extensions["mallportal"].on_close(lambda timeout_s: _backlog.release(db, timeout_s))
    app.jinja_env.globals["current_account"] = current_account
