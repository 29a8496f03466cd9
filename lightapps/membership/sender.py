"""Sending sign-up codes: through the portal's one SMS provider (portal/notify/sms.py), not a path of our own.

`SmsCodeSender` sends a code at once with `portal.apps.notify.send_sms_now` (a code cannot wait for the
outbox's worker): production configures the provider once for the whole portal (SMS_PROVIDER=tencent and
an SMS_TEMPLATES entry `membership.code=<template id>:code|minutes`); development uses its logging sender,
which sends nothing, and only in demo mode keeps the text where a test reads it (`dev_outbox_code`, from
any process: the development outbox names the number by a hash). Tests may install another object with
`send(venue, phone, code, expires_in_s)` with `set_sender(app, sender)`."""

from __future__ import annotations

import re
import threading
from collections import deque
from typing import Protocol

import redis
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.apps.notify import SmsError, send_sms_now
from portal.notify.sms import dev_sms, phone_hash

EXTENSION = "membership_sender"
EVENT = "membership.code"  # the SMS template's name in SMS_TEMPLATES


class CodeSender(Protocol):
    def send(self, venue: str, phone: str, code: str, expires_in_s: int) -> None:
        """Deliver `code` to `phone`; raise SendError if it could not be sent."""


class SendError(RuntimeError):
    """The code could not be delivered (the provider is down, the number is refused)."""


class SmsCodeSender:
    """Sign-up codes by SMS through the portal's provider, in the shopper's language."""

    def __init__(self, keep_codes: bool = False, keep: int = 100) -> None:
        # a code is a key to a member's card: kept (for tests) only in demo mode
        self.keep_codes = keep_codes
        self.sent: deque[tuple[str, str]] = deque(maxlen=keep)  # (phone, code) this process sent (demo mode)
        self._lock = threading.Lock()

    def send(self, venue: str, phone: str, code: str, expires_in_s: int) -> None:
        minutes = max(1, expires_in_s // 60)
        text = _("Your membership code is %(code)s (valid %(minutes)s minutes). Do not share it.", code=code,
                 minutes=minutes)
        try:
            send_sms_now(venue, phone, EVENT, {"code": code, "minutes": str(minutes)}, text, str(get_locale()))
        except SmsError as exc:
            raise SendError(exc.reason) from None
        if self.keep_codes:
            with self._lock:
                self.sent.append((phone, code))

    def last_code(self, phone: str) -> str | None:
        """Test hook: the last code this process sent to `phone` (demo mode only)."""
        with self._lock:
            return next((code for number, code in reversed(self.sent) if number == phone), None)


def dev_outbox_code(db: redis.Redis, venue: str, phone: str) -> str | None:
    """Test hook: the last code the development SMS sender "sent" to `phone` (demo mode; from any process)."""
    for item in dev_sms(db, venue):
        if item.get("event") == EVENT and item.get("to_hash") == phone_hash(phone):
            found = re.search(r"\b(\d{6})\b", item.get("text", ""))
            return found.group(1) if found else None
    return None


def get_sender(flask_app) -> CodeSender:
    return flask_app.extensions[EXTENSION]


def set_sender(flask_app, sender: CodeSender) -> None:
    flask_app.extensions[EXTENSION] = sender
