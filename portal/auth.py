"""Console accounts: operators and zone owners.

argon2-hashed passwords, session login (the session cookie is signed and HttpOnly), CSRF on every
console form (Flask-WTF's token, checked only on console blueprints: shopper forms carry no ambient
credential, so they need none), a login throttle, and an audit log of changes."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from portal.services import services
from portal.storage import VenueKeys

ROLES = ("operator", "owner")
csrf = CSRFProtect()
# argon2id with the library's defaults (RFC 9106 low-memory profile). ARGON2_PROFILE=test (set by the test
# suite only) makes hashing cheap so hundreds of tests can create accounts; never set it in production.
_hasher = (PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if os.environ.get("ARGON2_PROFILE") == "test"
           else PasswordHasher())
# A fixed hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("no-such-user")


@dataclass(frozen=True)
class Account:
    username: str
    role: str  # operator | owner
    venue: str
    zones: tuple[str, ...] = field(default_factory=tuple)  # owners: the zones they may manage

    def may_manage_zone(self, venue: str, zone: str) -> bool:
        if venue != self.venue:
            return False
        return self.role == "operator" or zone in self.zones


class AccountKeys(VenueKeys):
    def account(self, username: str) -> str:
        return self.key("account", username)

    def usernames(self) -> str:
        return self.key("accounts")

    def login_failures(self, username: str) -> str:
        return self.key("loginfail", username)

    def audit(self) -> str:
        return self.key("audit")


class AccountStore:
    """Accounts live under the `{_accounts}` tag: a login names no venue."""

    TAG = "_accounts"
    MAX_FAILURES = 5
    LOCKOUT_S = 15 * 60

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self.keys = AccountKeys(self.TAG)

    def create(self, username: str, password: str, role: str, venue: str, zones: tuple[str, ...] = ()) -> Account:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").isalnum():
            raise ValueError("username: letters, digits, - and _ only, at most 64")
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        account = Account(username=username, role=role, venue=venue, zones=tuple(zones))
        created = self.db.hsetnx(self.keys.account(username), "hash", _hasher.hash(password))
        if not created:
            raise ValueError(f"account {username!r} already exists")
        self._save(account)
        return account

    def _save(self, account: Account) -> None:
        self.db.hset(self.keys.account(account.username), mapping={
            "role": account.role, "venue": account.venue, "zones": json.dumps(list(account.zones)),
        })
        self.db.sadd(self.keys.usernames(), account.username)

    def get(self, username: str) -> Account | None:
        data = self.db.hgetall(self.keys.account(username))
        if not data or b"role" not in data:
            return None
        return Account(username=username, role=data[b"role"].decode(), venue=data[b"venue"].decode(),
                       zones=tuple(json.loads(data[b"zones"])))

    def set_zones(self, username: str, zones: tuple[str, ...]) -> None:
        account = self.get(username)
        if account is None:
            raise KeyError(username)
        self._save(Account(account.username, account.role, account.venue, tuple(zones)))

    def all(self) -> list[Account]:
        names = sorted(n.decode() for n in self.db.smembers(self.keys.usernames()))
        return [a for a in (self.get(n) for n in names) if a is not None]

    def is_locked(self, username: str) -> bool:
        return int(self.db.get(self.keys.login_failures(username)) or 0) >= self.MAX_FAILURES

    def verify(self, username: str, password: str) -> Account | None:
        """The account if the password is right and the account is not locked out."""
        stored = self.db.hget(self.keys.account(username), "hash")
        try:
            ok = _hasher.verify(stored.decode() if stored else _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if self.is_locked(username) or not ok:
            pipe = self.db.pipeline()
            pipe.incr(self.keys.login_failures(username))
            pipe.expire(self.keys.login_failures(username), self.LOCKOUT_S)
            pipe.execute()
            return None
        self.db.delete(self.keys.login_failures(username))
        if _hasher.check_needs_rehash(stored.decode()):
            self.db.hset(self.keys.account(username), "hash", _hasher.hash(password))
        return self.get(username)


class AuditLog:
    """Who changed what, per venue, newest first (kept to the last 10,000 entries)."""

    KEEP = 10_000

    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def record(self, venue: str, user: str, action: str, **detail) -> None:
        entry = json.dumps({"ts": time.time(), "user": user, "action": action, "detail": detail})
        pipe = self.db.pipeline()
        pipe.lpush(AccountKeys(venue).audit(), entry)
        pipe.ltrim(AccountKeys(venue).audit(), 0, self.KEEP - 1)
        pipe.execute()

    def recent(self, venue: str, limit: int = 100) -> list[dict]:
        return [json.loads(e) for e in self.db.lrange(AccountKeys(venue).audit(), 0, limit - 1)]


def accounts() -> AccountStore:
    return AccountStore(services().db)


def audit(action: str, venue: str | None = None, **detail) -> None:
    account = current_account()
    AuditLog(services().db).record(venue or (account.venue if account else "-"),
                                   account.username if account else "-", action, **detail)


def current_account() -> Account | None:
    if "account" not in g:
        username = session.get("user")
        g.account = accounts().get(username) if username else None
    return g.account


def login_required(role: str | None = None) -> Callable:
    """Console views: 302 to the login page when logged out, 403 for the wrong role."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            account = current_account()
            if account is None:
                return redirect(url_for("auth.login", next=request.path))
            if role is not None and account.role != role:
                abort(403, _("This page is for %(role)s accounts.", role=role))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_zone(venue: str, zone: str) -> Account:
    """The logged-in account if it may manage this zone, else 403 (owners touch their zones only)."""
    account = current_account()
    if account is None or not account.may_manage_zone(venue, zone):
        abort(403, _("You do not manage this zone."))
    return account


def protect_console(blueprint: Blueprint) -> Blueprint:
    """CSRF check on every state-changing request of a console blueprint."""

    @blueprint.before_request
    def _check_csrf():
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    return blueprint


bp = protect_console(Blueprint("auth", __name__, url_prefix="/console"))


def _safe_next(target: str | None) -> str | None:
    """Only our own console paths are accepted as post-login destinations (no open redirect)."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:1024]
        account = accounts().verify(username, password)
        if account is None:
            flash(_("Wrong username or password (or too many attempts: wait 15 minutes)."), "error")
            return render_template("auth/login.html"), 401
        session.clear()  # no session fixation: a fresh session at login
        session["user"] = account.username
        session.permanent = True
        AuditLog(services().db).record(account.venue, account.username, "login")
        return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"), code=303)
    return render_template("auth/login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/")
@login_required()
def home():
    """Each role's console home; the consoles register themselves by endpoint name."""
    from flask import current_app

    account = current_account()
    endpoint = {"operator": "operator.home", "owner": "owner.home"}[account.role]
    if endpoint in current_app.view_functions:
        return redirect(url_for(endpoint, venue=account.venue))
    return render_template("auth/home.html", account=account)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key instead of on
    every request (Flask opens the session for each request, probes included: ~30 us each)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != key:
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]


def init_auth(app: Flask) -> None:
    app.session_interface = SessionCookies()
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked per console blueprint
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["current_account"] = current_account
