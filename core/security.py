"""Client-identity privacy and secret comparison."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from typing import NewType

# Three kinds of "who is this phone", kept apart by type: a raw MAC as a gateway or AP sent it (never
# stored, logged or put in a key), the keyed hash of it that everything stores and logs, and the id of a
# shopper the portal cannot tie to any MAC.
RawMac = NewType("RawMac", str)
ClientId = NewType("ClientId", str)
AnonId = NewType("AnonId", str)  # "anon-<16 hex>"

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")


def normalise_mac(raw: str) -> str:
    """'AA-BB-CC-DD-EE-FF', 'aabbccddeeff' or 'aa:bb:...' -> 'aa:bb:cc:dd:ee:ff'. ValueError if not a MAC.
    Locally administered (randomised) MACs are ordinary MACs here."""
    if not isinstance(raw, str) or not _MAC_RE.match(raw.strip()):
        raise ValueError("not a MAC address")
    digits = re.sub(r"[^0-9a-fA-F]", "", raw).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class MacHasher:
    """Keyed hash of client MACs: raw MACs never reach storage or logs, yet the same phone maps to
    the same id across the RSSI feed and the portal request (HMAC-SHA256, per-install key)."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("MAC hash key must not be empty")
        self._key = key.encode()
        # The same phones come back on every probe: memoised per instance (in process memory only,
        # bounded; raw MACs still never reach storage or logs).
        self.client_id = functools.lru_cache(maxsize=65_536)(self._client_id)

    def _client_id(self, mac: RawMac | str) -> ClientId:
        """ValueError if `mac` is not a MAC address."""
        digest = hmac.new(self._key, normalise_mac(mac).encode(), hashlib.sha256).hexdigest()
        return ClientId(digest[:24])  # 96 bits: collision-free at mall scale, short in keys


def hash_token(token: str) -> str:
    """Tokens are stored only as their SHA-256, so a store dump does not leak usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)
