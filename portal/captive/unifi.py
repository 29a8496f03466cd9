"""A UniFi Network controller's guest authorisation, for both kinds of controller:

- the legacy Network application (self-hosted, Cloud Key Gen1; default port 8443): `POST /api/login`
  sets a `unifises` cookie; the API lives under `/api/s/<site>/...`;
- a UniFi OS console (UDM, UDR, UCG, UX, Cloud Key Gen2+, self-hosted UniFi OS Server; port 443):
  `POST /api/auth/login` sets a `TOKEN` cookie and answers an `X-CSRF-Token` header that every later
  call must send; the Network API lives under `/proxy/network/api/s/<site>/...`.
`kind="auto"` tells them apart as the Art-of-WiFi UniFi-API-client does: a UniFi OS console answers
`GET /` with 200, a legacy controller with a redirect to /manage.

TLS and the HTTP plumbing: portal/captive/controller_api.py."""

from __future__ import annotations

import logging
import threading
import urllib.parse

from portal.captive.controller_api import ControllerClient

log = logging.getLogger(__name__)

MAX_SITE_WARNINGS = 64  # (venue, site) pairs warned about per process: made-up paths cannot flood the log
MAX_SITE_CHARS = 64  # of a path's site in the log line


class UniFiController(ControllerClient):
    prefix = "unifi"
    csrf_header = "X-CSRF-Token"

    def __init__(self, base_url: str, *, kind: str = "auto", **tls) -> None:
        super().__init__(base_url, **tls)
        self.kind = kind

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
            raise self.fail(f"authorize-guest refused (HTTP {status}, rc={rc})")

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
            raise self.fail(f"login refused (HTTP {status})")
        self.csrf = headers.get("x-csrf-token") or headers.get("x-updated-csrf-token") or self.csrf


class SiteMismatches:
    """The UniFi external portal names the controller's site in its path (/guest/s/<site>/); the grant uses the
    venue's `unifi_site`, which must name the same site (the path is anyone's to write, the setting is the
    operator's). A mismatch is most likely a venue set up with the wrong site, whose grants the controller then
    refuses or gives another site's guests: warned once per (venue, site) pair per process, at most
    MAX_SITE_WARNINGS pairs. Nothing about the phone in the line."""

    def __init__(self, limit: int = MAX_SITE_WARNINGS) -> None:
        self.limit = limit
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def note(self, venue: str, path_site: str, configured: str) -> None:
        if path_site == configured:
            return
        pair = (venue, path_site[:MAX_SITE_CHARS])
        with self._lock:
            if pair in self._warned or len(self._warned) >= self.limit:
                return
            self._warned.add(pair)
            last = len(self._warned) == self.limit
        log.warning("UniFi redirect for venue %s names site %r in its path, the venue's unifi_site is %r: the grant "
                    "uses %r (set unifi_site to the controller's site if this redirect is the venue's)", venue,
                    pair[1], configured, configured)
        if last:
            log.warning("UniFi site mismatches: %d pairs warned about, no more until the process restarts", self.limit)
