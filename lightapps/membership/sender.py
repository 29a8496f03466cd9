"""Sending verification codes: a pluggable `CodeSender`.

Production installs a real SMS gateway with `set_sender(app, sender)` (any object with
`send(venue, phone, code, expires_in_s)`). Development and tests use `LoggingCodeSender`: nothing leaves
the machine. Only in demo mode (DEMO=1, `make run`) does it log the code and keep the last messages where
a test can read them: in memory (`sender.sent`, same process) and in a short-lived development outbox in
the store (a test driving a real server in another process reads `dev_outbox_code(db, venue, phone)`; the
outbox names the number only by its hash). Otherwise it logs that a code was sent, without the code or
the number."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import redis

from core.storage import VenueKeys
from lightapps.membership.codes import mask_phone

log = logging.getLogger(__name__)
EXTENSION = "membership_sender"


class CodeSender(Protocol):
    def send(self, venue: str, phone: str, code: str, expires_in_s: int) -> None:
        """Deliver `code` to `phone`; raise SendError if it could not be sent."""


class SendError(RuntimeError):
    """The sender could not deliver the code (the gateway is down, the number is refused)."""


@dataclass(frozen=True)
class SentCode:
    venue: str
    phone: str
    code: str
    at: float


def _outbox_key(venue: str) -> str:
    return VenueKeys(venue).key("member", "dev_outbox")


def _outbox_phone(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()[:24]


class LoggingCodeSender:
    """Development sender: logs the code instead of sending an SMS."""

    OUTBOX_KEEP = 50
    OUTBOX_TTL_S = 600

    def __init__(self, db: redis.Redis | None = None, keep: int = 100, demo: bool = True) -> None:
        self.db = db
        self.demo = demo
        self.sent: deque[SentCode] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def send(self, venue: str, phone: str, code: str, expires_in_s: int) -> None:
        if not self.demo:  # a code is a key to a member's card: outside demo mode it is never kept
            log.warning("membership (development sender, no SMS sent): a code for a number in %s", venue)
            return
        log.warning("membership (development sender, demo mode, no SMS sent): code %s for %s in %s, valid %d s",
                    code, mask_phone(phone), venue, expires_in_s)
        item = SentCode(venue, phone, code, time.time())
        with self._lock:
            self.sent.append(item)
        if self.db is not None:
            key = _outbox_key(venue)
            pipe = self.db.pipeline(transaction=True)
            pipe.lpush(key, json.dumps({"phone": _outbox_phone(phone), "code": code, "at": item.at}))
            pipe.ltrim(key, 0, self.OUTBOX_KEEP - 1)
            pipe.expire(key, self.OUTBOX_TTL_S)
            pipe.execute()

    def last_code(self, phone: str) -> str | None:
        with self._lock:
            for item in reversed(self.sent):
                if item.phone == phone:
                    return item.code
        return None


def dev_outbox_code(db: redis.Redis, venue: str, phone: str) -> str | None:
    """Test hook: the last code the development sender "sent" to `phone` (from any process)."""
    for raw in db.lrange(_outbox_key(venue), 0, -1):
        item = json.loads(raw)
        if item["phone"] == _outbox_phone(phone):
            return item["code"]
    return None


def get_sender(flask_app) -> CodeSender:
    return flask_app.extensions[EXTENSION]


def set_sender(flask_app, sender: CodeSender) -> None:
    flask_app.extensions[EXTENSION] = sender
