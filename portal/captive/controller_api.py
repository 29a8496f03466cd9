"""A controller's JSON API over HTTP(S), as the gateways whose grant is a controller call need it (UniFi,
TP-Link Omada): cookies kept across calls, a CSRF token header, and the controller's TLS certificate.

TLS: a controller usually has a self-signed certificate. Per venue, either a CA bundle (PEM) the
certificate must chain to, host name checked, or the SHA-256 fingerprint of the controller's own
certificate (pinned: the chain and the name are not checked, the exact certificate is). Neither: the
system's CAs. Every failure is a ControllerError naming the venue setting at fault (`<prefix>_url`,
`<prefix>_ca_bundle`, `<prefix>_cert_sha256` or `<prefix>`); its text is for the operator's log only."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import urllib.parse
from http.cookies import SimpleCookie


class ControllerError(Exception):
    """A failed controller call; `setting` names the venue setting at fault, if one is."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


TIMEOUT_S = 10.0  # a controller across a WAN link can be slow; the shopper waits on a "Connecting" page
MAX_ANSWER_BYTES = 1_048_576


class ControllerClient:
    """`prefix`: the venue settings' prefix (unifi, omada); `csrf_header`: the header the token goes in."""

    prefix = ""
    csrf_header = ""

    def __init__(self, base_url: str, *, ca_bundle: str = "", cert_sha256: str = "",
                 timeout_s: float = TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ControllerError("must be an http(s) URL", f"{self.prefix}_url")
        self.parts = parts
        self.ca_bundle = ca_bundle.strip()
        self.pin = cert_sha256.replace(":", "").strip().lower()
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def fail(self, message: str) -> ControllerError:
        return ControllerError(message, self.prefix)

    # -- HTTP ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict[str, str], object]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.csrf:
            headers[self.csrf_header] = self.csrf
        conn = self._connection()
        try:
            conn.connect()
            self._check_pin(conn)
            conn.request(method, self.parts.path + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(MAX_ANSWER_BYTES)
            answer_headers = {k.lower(): v for k, v in resp.getheaders()}
            for value in resp.headers.get_all("Set-Cookie") or ():
                cookie = SimpleCookie()
                cookie.load(value)
                self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        except (OSError, http.client.HTTPException, ssl.SSLError, UnicodeError) as exc:
            raise self.fail(f"controller unreachable: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        return resp.status, answer_headers, answer

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.parts.hostname, self.parts.port
        if self.parts.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        return http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._tls_context())

    def _tls_context(self) -> ssl.SSLContext:
        if self.pin:  # the exact certificate is checked after the handshake (_check_pin)
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            return ssl.create_default_context(cadata=self.ca_bundle or None)
        except (ssl.SSLError, ValueError):
            raise ControllerError("is not a PEM certificate bundle", f"{self.prefix}_ca_bundle") from None

    def _check_pin(self, conn: http.client.HTTPConnection) -> None:
        if not self.pin or not isinstance(conn, http.client.HTTPSConnection):
            return
        der = conn.sock.getpeercert(binary_form=True) if conn.sock else None
        if not der or hashlib.sha256(der).hexdigest() != self.pin:
            raise ControllerError("the controller's certificate does not match the pinned one",
                                  f"{self.prefix}_cert_sha256")


def cert_sha256(der: bytes) -> str:
    """The fingerprint format <prefix>_cert_sha256 takes (as `openssl x509 -fingerprint -sha256` prints it)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
