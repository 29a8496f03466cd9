"""Notifications: the suite's settings with a Web Push key and the loopback push service allowed, a local
push service (a tiny HTTP server that keeps what it receives) and helpers to act as a browser."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.settings import NotifySettings
from tests.fake_http import serve_in_thread
from tests.portal_command import TEST_VAPID_KEY


@pytest.fixture(scope="session")
def settings(settings):
    """The suite's settings plus Web Push (a test VAPID key; the loopback push service is allowed) and
    quick retries (no test waits: the worker is stepped with an explicit clock)."""
    return settings.with_(portal_url="https://portal.test", notify=NotifySettings(
        vapid_private_key=TEST_VAPID_KEY, vapid_subject="mailto:ops@portal.test",
        push_hosts=("127.0.0.1", "fcm.googleapis.com"), max_attempts=3, retry_base_s=10.0))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Browser:
    """A browser's push subscription keys (RFC 8291): its ECDH key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> dict:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class PushService:
    """A local push service: answers `status` (200 by default, or a status per path) and keeps each
    request it receives."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status: dict[str, int] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(service.status.get(self.path, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = serve_in_thread(self.server)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def new_browser():
    """Makes browsers (push subscription keys)."""
    return Browser


@pytest.fixture
def contacts(svc):
    """The shoppers' opt-ins, as the app keeps them (phone numbers sealed with the suite's PHONE_KEY)."""
    from portal.notify.contacts import ContactStore

    return ContactStore(svc.db, svc.settings.phone_key)
