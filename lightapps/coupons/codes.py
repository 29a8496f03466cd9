"""Coupon codes: a short typed code and a signed QR payload.

Short code: 10 symbols of Crockford base32 (50 random bits from `secrets`), shown `XXXXX-XXXXX`;
typing is forgiving (lower case, hyphens and spaces, I/L for 1, O for 0).
QR payload: `MPC1:<venue>:<code>:<sig>`, where sig is an HMAC-SHA256 (keyed with the app's SECRET_KEY)
over the venue and the code, so a QR code made up by hand is rejected before the store is asked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 10
QR_PREFIX = "MPC1"
_TYPO = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str | None) -> str | None:
    """The canonical code for what a person typed, or None if it cannot be one."""
    if not raw or len(raw) > 40:
        return None
    code = raw.strip().upper().replace("-", "").replace(" ", "").translate(_TYPO)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"




def _signature(secret: str, venue: str, code: str) -> str:
    digest = hmac.new(secret.encode(), f"coupon-qr|{venue}|{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode().rstrip("=")


def qr_payload(secret: str, venue: str, code: str) -> str:
    return f"{QR_PREFIX}:{venue}:{code}:{_signature(secret, venue, code)}"


def looks_like_qr(raw: str) -> bool:
    return raw.strip().upper().startswith(QR_PREFIX + ":")


class ForgedCode(ValueError):
    """A QR payload whose signature or shape is wrong."""


def read_qr_payload(secret: str, raw: str) -> tuple[str, str]:
    """(venue, code) from a scanned payload; ForgedCode if it is malformed or its HMAC is wrong."""
    raw = raw.strip()
    if len(raw) > 300:
        raise ForgedCode("too long")
    parts = raw.split(":")
    if len(parts) != 4 or parts[0].upper() != QR_PREFIX:
        raise ForgedCode("not a coupon QR code")
    _, venue, code, sig = parts
    if normalize_code(code) != code:
        raise ForgedCode("bad code")
    if not hmac.compare_digest(sig.upper().encode(), _signature(secret, venue, code).encode()):
        raise ForgedCode("bad signature")
    return venue, code
