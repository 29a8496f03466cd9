"""Client-identity privacy (MACs, phone numbers) and secret comparison."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from typing import Any, NewType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import SignatureExpired, URLSafeTimedSerializer

# Three kinds of "who is this phone", kept apart by type: a raw MAC as a gateway or AP sent it (never
# stored, logged or put in a key), the keyed hash of it that everything stores and logs, and the id of a
# shopper the portal cannot tie to any MAC.
RawMac = NewType("RawMac", str)
ClientId = NewType("ClientId", str)
AnonId = NewType("AnonId", str)  # "anon-<16 hex>"

# Pairs (colons, dashes or nothing between them) or groups of four, dotted as Cisco IOS and some controllers print
# them (`aabb.ccdd.eeff`) or dashed as Huawei's and H3C's (`aabb-ccdd-eeff`): one phone, one client id, whichever
# form a gateway or feed sends. The one rule for a client's and an AP's MAC (fingerprints.model.normalise_bssid);
# positioning.datasets._ap_key keeps a copy (tests/security/test_mac_forms_agree.py holds them alike).
_MAC_RE = re.compile(r"^(?:[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}"
                     r"|[0-9a-fA-F]{4}([.-])[0-9a-fA-F]{4}\2[0-9a-fA-F]{4})$")


def normalise_mac(raw: str) -> str:
    """'AA-BB-CC-DD-EE-FF', 'aabbccddeeff', 'aabb.ccdd.eeff', 'aabb-ccdd-eeff' or 'aa:bb:...' -> 'aa:bb:cc:dd:ee:ff'.
    ValueError if not a MAC. Locally administered (randomised) MACs are ordinary MACs here."""
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
    return hashlib.sha256(_utf8(token)).hexdigest()


def _utf8(text: str) -> bytes:
    """UTF-8, a lone surrogate included: JSON may carry one ("\\ud800") and it must compare as a wrong token,
    not raise. `surrogatepass` keeps the encoding one-to-one (no two strings share bytes) and equal to plain
    UTF-8 for every string without one, so stored hashes stay valid."""
    return text.encode("utf-8", "surrogatepass")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def b64url(raw: bytes) -> str:
    """URL-safe base64 without padding (VAPID keys, handed-out shopper tokens)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """`b64url` back to bytes (padding optional); binascii.Error (a ValueError) if it is not base64."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---- Web Push (VAPID, RFC 8292) keys -------------------------------------------------------------
# The private key is kept as its 32-byte scalar, base64url without padding (what web-push tools print and
# py_vapid's Vapid.from_raw reads); browsers get the public point (65 bytes, uncompressed) the same way.


def new_vapid_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def vapid_public_key(private_key: str) -> str:
    """The applicationServerKey a browser subscribes with; ValueError if `private_key` is not one of ours."""
    try:
        raw = unb64url(private_key.strip())
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint))


class Sealer:
    """Short values sealed (AES-GCM, `cryptography`) under a sub-key of a secret setting, one sub-key per
    purpose: a sealed value can be read, and trusted as made by this install unchanged, only by a holder
    of the same secret. `associated`: data the value is bound to without carrying it (e.g. its venue)."""

    NONCE_BYTES = 12
    OVERHEAD = NONCE_BYTES + 16  # the random nonce in front, the tag behind

    def __init__(self, key: str, purpose: bytes) -> None:
        if not key:
            raise ValueError("the sealing key must not be empty")
        self._aead = AESGCM(_derive(key, purpose))

    def seal(self, plaintext: bytes, associated: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(self.NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes = b"") -> bytes:
        """ValueError if `sealed` was not made by seal() under this key and purpose, for `associated`."""
        if len(sealed) < self.OVERHEAD:
            raise ValueError("too short to be sealed")
        try:
            return self._aead.decrypt(sealed[: self.NONCE_BYTES], sealed[self.NONCE_BYTES :], associated)
        except InvalidTag as exc:
            raise ValueError("not sealed under this key") from exc


class PhoneVault:
    """Phone numbers at rest: a keyed hash where a number names a key (a member, a pending code, a
    budget), and a `Sealer` where the number itself must come back (to send a code, to show it masked),
    stored as padded URL-safe base64. One setting (PHONE_KEY) with a sub-key derived for each use, so
    neither use weakens the other."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("phone key must not be empty")
        self._hash_key = _derive(key, b"mallportal phone hash")
        self._sealer = Sealer(key, b"mallportal phone encryption")

    def hashed(self, phone: str) -> str:
        return hmac.new(self._hash_key, phone.encode(), hashlib.sha256).hexdigest()[:32]

    def seal(self, phone: str) -> str:
        return base64.urlsafe_b64encode(self._sealer.seal(phone.encode())).decode()

    def open(self, sealed: str) -> str:
        """ValueError if `sealed` was not made by seal() under this key."""
        try:
            return self._sealer.open(base64.urlsafe_b64decode(sealed.encode())).decode()
        except (ValueError, TypeError) as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise ValueError("not a sealed phone number (another PHONE_KEY?)") from exc


def keyed_hash(key: str, purpose: bytes, value: str, length: int = 16) -> str:
    """A short keyed hash (HMAC-SHA256 under a sub-key of `key` for `purpose`) of `value`, in hex: the same value
    always gives the same hash, which names it in a log without revealing it to anyone without the key."""
    if not key:
        raise ValueError("the hashing key must not be empty")
    return hmac.new(_derive(key, purpose), value.encode(), hashlib.sha256).hexdigest()[:length]


def _derive(key: str, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(key.encode())


def loads_within(serializer: URLSafeTimedSerializer, token: str, max_age_s: float, max_skew_s: float) -> Any:
    """`serializer.loads(token, max_age=max_age_s)`, but a stamp up to `max_skew_s` in the future is no error:
    another host whose clock runs a little ahead signed it (itsdangerous refuses an age of -1 s, so a console
    session or a CAPPORT URI signed there was refused here). Raises BadSignature (SignatureExpired past the age)."""
    value, signed = serializer.loads(token, return_timestamp=True)
    age = time.time() - signed.timestamp()
    if not -max_skew_s <= age <= max_age_s:
        raise SignatureExpired(f"signature age {age:.0f} s outside [-{max_skew_s:.0f}, {max_age_s:.0f}]",
                               payload=value, date_signed=signed)
    return value

