"""Phone numbers, verification codes and the rotating member code.

Phone numbers: typed in any common format (with or without the country code, spaces, hyphens, brackets,
full-width digits), read in the venue's region; the result is E.164 (`+8613800138000`).

Rotating member code (shown as a QR and as a short code at the till): TOTP-like (RFC 6238 shape),
HMAC-SHA1 over the 30-second time step keyed with the member's own secret, truncated to 6 digits.
Short code `<member number>-<6 digits>`; QR payload `MPM1:<venue>:<member>:<6 digits>`. A till accepts
the code of the current step and the steps either side (clock skew, a slow scan); a code of the hour before is
"expired" (a card page left open, a screenshot), not a wrong code (`judge_code`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct

from portal.apps.locale import PhoneNumberError, parse_phone

STEP_S = 30
DIGITS = 6
SKEW_STEPS = 1
# How far back a code the member was shown still reads as "expired: refresh the card" rather than "wrong": a card
# page left open in a pocket or a background tab, a screenshot. Knowing an old code proves and grants nothing
# (HMAC: no later code follows from it), and a guess lands in this window 1 time in 10**6 / RECENT_STEPS.
RECENT_STEPS = 120
QR_PREFIX = "MPM1"
MEMBER_ID = re.compile(r"^[1-9][0-9]{5,11}$")
_SHORT = re.compile(r"^([1-9][0-9]{5,11})[\s-]?([0-9]{6})$")


class PhoneError(ValueError):
    """A phone number that is not E.164-ish; the message says why."""


def normalize_phone(raw: str | None, region: str = "CN") -> str:
    """'138 0013 8000', '13800138000', '+86 138-0013 8000' -> '+8613800138000' (a number without its
    country code is read in `region`, the venue's); PhoneError if it cannot be a valid phone number.
    The parsing is the platform's (portal.apps.locale.parse_phone, Google's libphonenumber)."""
    try:
        return parse_phone(None if raw is None else str(raw), region)
    except PhoneNumberError as exc:
        raise PhoneError(exc.message) from None


def new_verification_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def hash_code(secret: str, phone: str, code: str) -> str:
    """What the store keeps of a sent code (never the code itself)."""
    return hmac.new(secret.encode(), f"member-otp|{phone}|{code}".encode(), hashlib.sha256).hexdigest()


def new_member_secret() -> str:
    return secrets.token_hex(20)


def step_of(now: float) -> int:
    return int(now // STEP_S)


def totp(secret_hex: str, step: int) -> str:
    """The 6-digit code of one time step (RFC 4226 dynamic truncation)."""
    digest = hmac.new(bytes.fromhex(secret_hex), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def seconds_left(now: float) -> int:
    """Seconds until the current code rotates (at least 1)."""
    return max(1, int(STEP_S - (now % STEP_S)) or 1)


def short_code(member_id: str, code: str) -> str:
    return f"{member_id}-{code}"


def qr_payload(venue: str, member_id: str, code: str) -> str:
    return f"{QR_PREFIX}:{venue}:{member_id}:{code}"


class BadMemberCode(ValueError):
    """Not a member code at all (shape), as opposed to a code that is stale or wrong."""


def parse_member_code(raw: str | None, venue: str) -> tuple[str, str]:
    """(member id, 6 digits) from a scanned QR payload or a typed short code; BadMemberCode if it
    cannot be one (or is a QR of another mall)."""
    if raw is None or not str(raw).strip():
        raise BadMemberCode("member_code is required")
    text = str(raw).strip()
    if len(text) > 200:
        raise BadMemberCode("member_code is too long")
    if text.upper().startswith(QR_PREFIX + ":"):
        parts = text.split(":")
        if len(parts) != 4:
            raise BadMemberCode("member_code: malformed QR payload")
        _, qr_venue, member_id, code = parts
        if qr_venue != venue:
            raise BadMemberCode("member_code belongs to another mall")
        if not MEMBER_ID.match(member_id) or not re.fullmatch(r"[0-9]{6}", code):
            raise BadMemberCode("member_code: malformed QR payload")
        return member_id, code
    match = _SHORT.match(text.replace(" ", ""))
    if not match:
        raise BadMemberCode("member_code must look like 100001-123456 (member number, then 6 digits)")
    return match.group(1), match.group(2)


def code_matches(secret_hex: str, code: str, now: float, skew: int = SKEW_STEPS) -> bool:
    """True if `code` is the code of the current step or of a step within `skew` of it."""
    step = step_of(now)
    return _matches_any(secret_hex, code, range(step - skew, step + skew + 1))


def judge_code(secret_hex: str, code: str, now: float) -> str:
    """The verdict on a member's code: OK (code_matches), STALE (the code of one of the RECENT_STEPS steps before
    those accepted) or WRONG."""
    if code_matches(secret_hex, code, now):
        return "OK"
    oldest_accepted = step_of(now) - SKEW_STEPS
    stale = _matches_any(secret_hex, code, range(oldest_accepted - RECENT_STEPS, oldest_accepted))
    return "STALE" if stale else "WRONG"


def _matches_any(secret_hex: str, code: str, steps: range) -> bool:
    """Every step compared, in constant time: how long it takes tells nothing of which step matched."""
    ok = False
    for s in steps:
        ok |= hmac.compare_digest(totp(secret_hex, s), code)
    return ok
