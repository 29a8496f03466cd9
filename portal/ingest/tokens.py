"""Per-venue API tokens for machine sources (report sources, a light app's POS, parking or cinema system),
stored as SHA-256 digests only, each with the scopes it may use.

A scope names one machine API: `ingest` (the RSSI feeds of portal/api.py) or the one a light app's API
declares (`portal.api.api_scope`). A token reaches only the APIs of its scopes, so an access point's
token, which sits on a device in a ceiling, cannot grant membership points or push parking events.

Storage: one hash per venue, the digest -> the label (as before scopes existed), and `<digest>:scopes`
-> the scopes, space separated; one HSET writes both and one HMGET reads both. A token issued before
scopes existed has no scopes field: it is an ingest token (what every token was issued for then, per the
README); an operator gives a POS or car-park system a new token with `issue-token ... --scope <app>`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import redis

from core.security import hash_token, new_token
from core.storage import VenueKeys

INGEST = "ingest"
SCOPE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_SCOPES_SUFFIX = ":scopes"  # a digest is 64 hex digits: `<digest>:scopes` is never a digest
_declared: set[str] = {INGEST}


def check_scope(name: str) -> str:
    """`name` if it is a well-formed scope name (lowercase letters, digits, `-`); ValueError otherwise."""
    if not isinstance(name, str) or not SCOPE_NAME.match(name):
        raise ValueError(f"a scope is a short lowercase name (letters, digits, -), not {name!r}")
    return name


def declare_scope(name: str) -> str:
    """Make `name` a scope that tokens can be issued for (a light app's API, when it is imported)."""
    _declared.add(check_scope(name))
    return name


def declared_scopes() -> frozenset[str]:
    """`ingest` and every scope the APIs loaded in this process declared."""
    return frozenset(_declared)


class Source(NamedTuple):
    """Who holds a token: the label it was issued under and the scopes it may use."""

    label: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


class TokenKeys(VenueKeys):
    def tokens(self) -> str:
        return self.key("api", "tokens")


class ApiTokenStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def issue(self, venue: str, label: str, token: str | None = None,
              scopes: Iterable[str] = (INGEST,)) -> str:
        """A new token for the source `label`, allowed `scopes` (default: ingest only); returns the token,
        which is never stored. ValueError for a malformed or missing scope."""
        wanted = sorted({check_scope(scope) for scope in scopes})
        if not wanted:
            raise ValueError("a token needs at least one scope")
        token = token or new_token()
        digest = hash_token(token)
        # One HSET: label and scopes appear together, never a token with a label but not its scopes.
        self.db.hset(TokenKeys(venue).tokens(), mapping={digest: label, digest + _SCOPES_SUFFIX: " ".join(wanted)})
        return token

    def source_for(self, venue: str, token: str) -> Source | None:
        """The source owning this token in this venue, or None. Looking up the digest (not comparing raw
        tokens) leaves nothing for a timing attack to learn."""
        if not token:
            return None
        digest = hash_token(token)
        label, scopes = self.db.hmget(TokenKeys(venue).tokens(), [digest, digest + _SCOPES_SUFFIX])
        if label is None:
            return None
        return Source(label.decode(), _granted(scopes))

    def sources(self, venue: str) -> list[Source]:
        """Every token's source in this venue (labels and scopes only: the tokens themselves are never kept)."""
        return sorted(self._by_digest(venue).values())

    def revoke_label(self, venue: str, label: str) -> int:
        """Withdraw every token issued under `label` in this venue (a lost or leaked one: the token itself
        is not needed); returns how many."""
        digests = [digest for digest, source in self._by_digest(venue).items() if source.label == label]
        if digests:
            self.db.hdel(TokenKeys(venue).tokens(), *digests, *(d + _SCOPES_SUFFIX for d in digests))
        return len(digests)

    def _by_digest(self, venue: str) -> dict[str, Source]:
        """digest -> its source, for every token of the venue (one read of the hash)."""
        fields = self.db.hgetall(TokenKeys(venue).tokens())
        return {digest.decode(): Source(label.decode(), _granted(fields.get(digest + _SCOPES_SUFFIX.encode())))
                for digest, label in fields.items() if not digest.decode().endswith(_SCOPES_SUFFIX)}

    def revoke(self, venue: str, token: str) -> None:
        digest = hash_token(token)
        self.db.hdel(TokenKeys(venue).tokens(), digest, digest + _SCOPES_SUFFIX)


def _granted(scopes: bytes | None) -> frozenset[str]:
    """A token's stored scopes; none stored: issued before scopes existed, for a report source: ingest only."""
    return frozenset(scopes.decode().split()) if scopes is not None else frozenset({INGEST})
