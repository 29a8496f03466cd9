"""A UniFi Network controller's guest authorisation, for both kinds of controller:

- the legacy Network application (self-hosted, Cloud Key Gen1; default port 8443): `POST /api/login`
  sets a `unifises` cookie; the API lives under `/api/s/<site>/...`;
- a UniFi OS console (UDM, UDR, UCG, UX, Cloud Key Gen2+, self-hosted UniFi OS Server; port 443):
  `POST /api/auth/login` sets a `TOKEN` cookie and answers an `X-CSRF-Token` header that every later
  call must send; the Network API lives under `/proxy/network/api/s/<site>/...`.
`kind="auto"` tells them apart as the Art-of-WiFi UniFi-API-client does: a UniFi OS console answers
`GET /` with 200, a legacy controller with a redirect to /manage.

TLS: a controller usually has a self-signed certificate. Per venue, either a CA bundle (PEM) the
certificate must chain to, host name checked, or the SHA-256 fingerprint of the controller's own
certificate (pinned: the chain and the name are not checked, the exact certificate is). Neither: the
system's CAs. Every failure is a UniFiError whose text is for the operator's log only."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import urllib.parse
from http.cookies import SimpleCookie


class UniFiError(Exception):
    """A failed controller call; `setting` names the venue setting at fault, if one is."""

    def __init__(self, message: str, setting: str = "unifi") -> None:
        super().__init__(message)
        self.setting = setting


TIMEOUT_S = 10.0  # a controller across a WAN link can be slow; the shopper waits on a "Connecting" page


class UniFiController:
    def __init__(self, base_url: str, *, kind: str = "auto", ca_bundle: str = "", cert_sha256: str = "",
                 timeout_s: float = TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UniFiError("must be an http(s) URL", "unifi_url")
        self.parts = parts
        self.kind = kind
        self.ca_bundle = ca_bundle.strip()
        self.pin = cert_sha256.replace(":", "").strip().lower()
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    # -- the calls ---------------------------------------------------------------------------------

    def authorize_guest(self, site: str, username: str, password: str, mac: str, minutes: int,
                        ap_mac: str | None = None) -> None:
        unifi_os = self.is_unifi_os()
        self.login(username, password, unifi_os)
        prefix = "/proxy/network" if unifi_os else ""
        body = {"cmd": "authorize-guest", "mac": mac, "minutes": minutes}
        if ap_mac:
            body["ap_mac"] = ap_mac
        status, _, answer = self.request("POST", f"{prefix}/api/s/{urllib.parse.quote(site, safe='')}/cmd/stamgr",
                                         body)
        rc = answer.get("meta", {}).get("rc") if isinstance(answer, dict) else None
        if status != 200 or rc != "ok":
            raise UniFiError(f"authorize-guest refused (HTTP {status}, rc={rc})", "unifi")

    def is_unifi_os(self) -> bool:
        if self.kind in ("controller", "unifi-os"):
            return self.kind == "unifi-os"
        status, _, _ = self.request("GET", "/")
        return status == 200

    def login(self, username: str, password: str, unifi_os: bool) -> None:
        path = "/api/auth/login" if unifi_os else "/api/login"
        status, headers, answer = self.request("POST", path, {"username": username, "password": password})
        legacy_ok = isinstance(answer, dict) and answer.get("meta", {}).get("rc") == "ok"
        if status != 200 or (not unifi_os and not legacy_ok):
            raise UniFiError(f"login refused (HTTP {status})", "unifi")
        self.csrf = headers.get("x-csrf-token") or headers.get("x-updated-csrf-token") or self.csrf

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
            headers["X-CSRF-Token"] = self.csrf
        conn = self._connection()
        try:
            conn.connect()
            self._check_pin(conn)
            conn.request(method, self.parts.path + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(1_048_576)
            answer_headers = {k.lower(): v for k, v in resp.getheaders()}
            for value in resp.headers.get_all("Set-Cookie") or ():
                cookie = SimpleCookie()
                cookie.load(value)
                self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise UniFiError(f"controller unreachable: {type(exc).__name__}: {exc}", "unifi") from None
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
            raise UniFiError("is not a PEM certificate bundle", "unifi_ca_bundle") from None

    def _check_pin(self, conn: http.client.HTTPConnection) -> None:
        if not self.pin or not isinstance(conn, http.client.HTTPSConnection):
            return
        der = conn.sock.getpeercert(binary_form=True) if conn.sock else None
        if not der or hashlib.sha256(der).hexdigest() != self.pin:
            raise UniFiError("the controller's certificate does not match the pinned one", "unifi_cert_sha256")


def cert_sha256(der: bytes) -> str:
    """The fingerprint format unifi_cert_sha256 takes (as `openssl x509 -fingerprint -sha256` prints it)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
