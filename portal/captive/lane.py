"""The probe lane: OS connectivity probes, and hijacked requests, answered in plain WSGI before Flask.

Every phone's OS sends several probes on joining the WiFi and more while its sign-in sheet is open, so
probes are most of the portal's requests; Flask's per-request machinery costs more than a probe needs.
This lane only parses the request, asks the one landing decision (portal/captive/landing.py) and turns
it into a WSGI answer; bench/portal.py measures it against a bare Flask route.

Answers (captive-portals.md section 1): before the grant, a 302 to the phone's landing page (absolute on
PORTAL_URL when it is set, so the sign-in sheet leaves the probe's host); after it, the OS's exact
"online" answer. The venue's store down (its breaker open: the app's one on a single store, the venue's
own on a cluster, so one shard down fails open only its own venues): a 302 to the static offline page at once.

Hijacked requests: under DNS hijacking every host the phone asks for reaches the portal. A request whose
Host is a name that is not the portal's (PORTAL_URL, PORTAL_HOSTS) is answered like a probe: before the
grant a 302 to the portal; after it a short "you are online, reload" page (the phone's DNS cache still
points here for a moment; nothing else about that host is our business).

A venue that does not exist gets no landing (no token, no event, nothing stored): a probe naming one gets the
404 page, one naming none while the VENUE setting names no venue the "not set up" page (503), both answered
here, never a redirect (portal/captive/views.py venue_refusal; which venue: views.venue_check_of)."""

from __future__ import annotations

import functools
import html
import ipaddress
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from flask import Flask

from core.ids import is_venue_id
from core.logredact import LOGGED_PATH_HEADER, logged_path
from portal.captive.common import (
    MAX_QUERY_BYTES,
    NO_STORE,
    captive_services_of,
    client_and_ap_from_params,
)
from portal.captive.landing import Offline, Online, guest_ip
from portal.captive.probes import HIJACKED, Probe, match_probe
from portal.captive.views import venue_check_of, venue_refusal
from portal.errors import raw_json_error

Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body
MEMO_QUERY_CHARS = 512  # a probe's query (MAC, AP, venue) is far shorter; a gateway's redirect may be 8 kB


class ProbeLane:
    """WSGI middleware in front of Flask: takes the requests `match_probe` recognises, and requests
    for hosts that are not the portal's."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        settings = app.extensions["mallportal"].settings
        self.proxy_hops = settings.proxy_hops
        self.portal_url = settings.portal_url
        self.own_hosts = own_hosts(settings.portal_url, settings.portal_hosts)
        self.venues = venue_check_of(app)
        # Landing paths, memoised per lane (a venue has a few hundred; the bound keeps junk venues out).
        self._path = functools.lru_cache(maxsize=4096)(self._build_path)
        # A phone's probes repeat its query string: what it says, memoised per lane (bounded, short ones only).
        self._memo_params = functools.lru_cache(maxsize=8192)(self._read_params)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        probe = match_probe(host, environ.get("PATH_INFO", ""))
        if probe is None and self.is_hijacked(host):
            probe = HIJACKED
        if probe is None:
            return self.wsgi_app(environ, start_response)
        if probe is not HIJACKED and environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, headers, body = raw_json_error("405 Method Not Allowed", "probes are GET requests",
                                                   (("Allow", "GET, HEAD"),))
        else:
            status, headers, body = self.answer(environ, probe)
        # the access logs' path (core/logredact.py): a probe's own; a hijacked request's is another site's page,
        # which says what the shopper was reading
        logged = "(hijacked)" if probe is HIJACKED else logged_path(None, None, environ.get("PATH_INFO", ""))
        start_response(status, [*headers, (LOGGED_PATH_HEADER, logged)])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def is_hijacked(self, host: str) -> bool:
        """A host name that is not the portal's (only when PORTAL_URL says which host is ours; IP
        literals and localhost are always ours: gateways, report sources and health checks use them)."""
        if not self.own_hosts:
            return False
        try:
            name = (urlsplit("//" + host).hostname or "").rstrip(".")
        except ValueError:
            return True
        if not name or name == "localhost" or name in self.own_hosts:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return True
        return False

    def answer(self, environ: dict, probe: Probe) -> Answer:
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_BYTES:
            return raw_json_error("414 URI Too Long", "query string too long")
        # a hijacked request's query string is another site's: it means nothing to us
        named, client, ap = self.params("" if probe is HIJACKED else query)
        venue = self.venue_of(environ, named)
        if not isinstance(venue, str):
            return venue
        ip = guest_ip(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), self.proxy_hops)
        decision = captive_services_of(self.app).landing.decide(venue, client, probe=probe, ip=ip, associated_ap=ap)
        if isinstance(decision, Online):
            return online_answer(probe)
        if isinstance(decision, Offline):
            return redirect_no_store(self.url_to(environ, "captive.offline", venue=venue))
        # The token is URL-safe (itsdangerous or random), so it is appended as it is.
        url = self.url_to(environ, decision.endpoint, **decision.values)
        return redirect_no_store(url + ("&c=" if "?" in url else "?c=") + decision.token)

    def params(self, query: str) -> tuple[str | None, str | None, str | None]:
        """(the venue the query names, the phone's client id, its AP's BSSID), each None when absent; memoised
        for a query of up to MEMO_QUERY_CHARS (a probe's own: parsing it and finding and hashing the MAC cost
        2 us of CPU per probe, more than the rest of the lane around the landing decision), so the memo's
        bound holds its memory to a few MB."""
        return self._memo_params(query) if len(query) <= MEMO_QUERY_CHARS else self._read_params(query)

    def _read_params(self, query: str) -> tuple[str | None, str | None, str | None]:
        args: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            args.setdefault(name, value)  # the first value wins, as in Flask's request.args.get
        client, ap = client_and_ap_from_params(self.app.extensions["mallportal"].hasher, args)
        return args.get("venue"), client, ap

    def venue_of(self, environ: dict, named: str | None) -> str | Answer:
        """The probe's venue (VenueCheck: this process's registry copy, no round trip for a known venue), or the
        answer when there is none to land in: a malformed name (400), a named venue that does not exist (its
        page), none named and no default venue (the not-set-up page), a named one whose store does not answer
        (the offline page, as `decide` would: nothing may be handed out for a venue not known to exist)."""
        if not named:
            venue = self.venues.default()
            return venue if venue is not None else self.refusal(environ, None)
        if not is_venue_id(named):
            return raw_json_error("400 Bad Request", "venue: not a venue id")
        known = self.venues.known(named)
        if known is None:
            return redirect_no_store(self.url_to(environ, "captive.offline", venue=named))
        return named if known else self.refusal(environ, named)

    def refusal(self, environ: dict, named: str | None) -> Answer:
        """The page for a named venue that does not exist, or for none named (the portal is not set up),
        rendered by Flask in the probe's language: a rare answer, where Flask's request context is affordable."""
        with self.app.request_context(environ):
            response = venue_refusal(named)
        return response.status, response.headers.to_wsgi_list(), response.get_data()

    def url_to(self, environ: dict, endpoint: str, **values: str) -> str:
        """The page's URL: absolute on PORTAL_URL when set, else relative, as url_for builds it."""
        return self.portal_url + self._path(environ.get("SCRIPT_NAME", ""), endpoint, tuple(sorted(values.items())))

    def _build_path(self, script_name: str, endpoint: str, values: tuple[tuple[str, str], ...]) -> str:
        return self.app.url_map.bind("localhost", script_name=script_name or "/").build(endpoint, dict(values))


def own_hosts(portal_url: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The host names the portal answers as itself; empty when PORTAL_URL is unset (no hijack handling)."""
    if not portal_url:
        return frozenset()
    return frozenset({urlsplit(portal_url).hostname or "", *(h.strip().lower() for h in extra if h.strip())})


def redirect_no_store(location: str) -> Answer:
    """A 302 no cache keeps: the same probe must get a fresh answer once access is granted."""
    link = html.escape(location)
    body = f'<!doctype html>\n<title>Redirecting...</title>\n<p><a href="{link}">Continue</a></p>\n'.encode()
    headers = [("Location", location), ("Content-Type", "text/html; charset=utf-8"),
               ("Content-Length", str(len(body))), *NO_STORE.items()]
    return "302 Found", headers, body


def online_answer(probe: Probe) -> Answer:
    """Exactly what the OS's own check server answers."""
    body = probe.body.encode()
    headers = [*NO_STORE.items(), *probe.headers.items()]
    if probe.status != 204:  # a 204 has neither body nor type
        headers += [("Content-Type", probe.content_type), ("Content-Length", str(len(body)))]
    return f"{probe.status} {HTTPStatus(probe.status).phrase}", headers, body
