"""One-time form tokens: a light-app form that changes something scarce (a draw, a prize handed out, a coupon
redeemed at the till) carries one, and the app's script keeps its first answer under it for a while, so the same
form sent again (a double tap, a reload after success) gets that answer instead of a second change or a refusal."""

from __future__ import annotations

import re
import secrets

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_nonce() -> str:
    """A new form's one-time token."""
    return secrets.token_urlsafe(16)


def read_nonce(raw: str | None) -> str | None:
    """The form's one-time token, or None (none sent, or not one of ours: the form works as without one)."""
    return raw if raw and NONCE.fullmatch(raw) else None
