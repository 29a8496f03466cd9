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
import time
import urllib.parse
from collections.abc import Callable

from portal.captive.controller_api import ControllerClient

log = logging.getLogger(__name__)

SITE_WARN_EVERY_S = 600.0  # a venue's site mismatches are warned about at most this often
SITE_VENUES_FOR_S = 60.0  # which venue each site is, read again this often (a venue's unifi_site rarely changes)
TRACKED_SITES = 16  # sites counted per venue between two warnings (made-up paths cannot grow it)
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


class SiteVenues:
    """Which venue a UniFi redirect is for when its URL names none. A controller's external portal setting takes
    an address only, and the controller builds `/guest/s/<site>/?ap=…&id=…&t=…&url=…&ssid=…` itself, so a
    `?venue=` cannot be added: the path's site is the venue whose `unifi_site` it is, set by the operator (`site_of`
    gives "" for a venue that sets none: every venue would otherwise name UniFi's "default"). Read from every
    venue's settings (`venue_ids`, `site_of`: one read a venue) at most every `every_s` by one thread while the
    others go by the last answer (a hung store holds up one redirect, not all), and a read that fails keeps the
    last answer. A site that no venue or two venues name is none's (the caller takes the default venue)."""

    def __init__(self, venue_ids: Callable[[], list[str]], site_of: Callable[[str], str],
                 every_s: float = SITE_VENUES_FOR_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.venue_ids = venue_ids
        self.site_of = site_of
        self.every_s = every_s
        self.clock = clock
        self._venues: dict[str, str | None] = {}  # site -> its venue (None: several venues name it)
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def venue_for(self, site: str) -> str | None:
        if self.clock() - self._read_at >= self.every_s and self._lock.acquire(blocking=False):
            try:
                self._read_at = self.clock()  # a failing store is asked again after every_s, not on each redirect
                self._venues = self._read()
            except Exception as exc:  # noqa: BLE001 - any store fault: the last answer stands
                log.warning("unifi: the venues' sites could not be read, the last answer stands: %s", exc)
            finally:
                self._lock.release()
        return self._venues.get(site)

    def _read(self) -> dict[str, str | None]:
        venues: dict[str, str | None] = {}
        for venue in self.venue_ids():
            site = self.site_of(venue)
            if site:
                venues[site] = None if site in venues else venue
        return venues


class SiteMismatches:
    """The UniFi external portal names the controller's site in its path (/guest/s/<site>/); the grant uses the
    venue's `unifi_site`, which must name the same site (the path is anyone's to write, the setting is the
    operator's). A mismatch is most likely a venue set up with the wrong site, whose grants the controller then
    refuses or gives another site's guests: warned about at the venue's first mismatch, then at most once per
    `every_s`, naming the sites most named since the last line. Made-up paths can neither flood the log nor hide
    a real mismatch: per venue at most `tracked` sites are counted (Misra-Gries: a site named by more than one in
    `tracked` of the mismatching redirects, as the real site is by every redirect of the venue's APs, keeps its
    count). Nothing about the phone in the line."""

    def __init__(self, every_s: float = SITE_WARN_EVERY_S, tracked: int = TRACKED_SITES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.tracked = tracked
        self.clock = clock
        self._counts: dict[str, dict[str, int]] = {}  # venue -> site -> count since its last line
        self._last: dict[str, float] = {}  # venue -> when its last line went out
        self._lock = threading.Lock()

    def note(self, venue: str, path_site: str, configured: str) -> None:
        if path_site == configured:
            return
        with self._lock:
            counts = self._counts.setdefault(venue, {})
            _count(counts, path_site[:MAX_SITE_CHARS], self.tracked)
            now, last = self.clock(), self._last.get(venue)
            if last is not None and now - last < self.every_s:
                return
            self._last[venue] = now
            named = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            counts.clear()
        log.warning("UniFi redirects for venue %s name sites in their path that are not its unifi_site %r: %s; the "
                    "grant uses %r (set unifi_site to the controller's site if these redirects are the venue's)",
                    venue, configured, ", ".join(f"{site!r} x{n}" for site, n in named), configured)


def _count(counts: dict[str, int], site: str, tracked: int) -> None:
    """Misra-Gries: count `site` among at most `tracked` counters (a full table takes one from every counter)."""
    if site in counts or len(counts) < tracked:
        counts[site] = counts.get(site, 0) + 1
        return
    for other in list(counts):
        counts[other] -= 1
        if not counts[other]:
            del counts[other]
