"""The probe lane: OS connectivity probes answered in plain WSGI, before Flask.

Every phone's OS sends several probes on joining the WiFi and more while its sign-in sheet is open,
so probes are most of the portal's requests. Flask's request and response machinery (context,
session, routing, response object) costs more CPU than all the work a probe needs, so probes are
answered here, with the same store objects the Flask views use: one round trip (ProbeStateStore)
answers a phone whose access was granted or whose position is still good; others are positioned now.
Anything else goes on to Flask. bench/portal.py measures this path against a bare Flask route.

Answers (captive-portals.md section 1): before the grant, a 302 to the phone's landing page (the mall
home when the phone is unknown or the position unsure); after it, the OS's exact "online" answer.
The store down or slow: a 302 to the static offline page at once (fail open), never a hang or a 5xx."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qsl

from flask import Flask

from portal.captive.common import (
    MAX_QUERY_BYTES,
    NO_STORE,
    STORE_ERRORS,
    captive_services_of,
    client_from_params,
    is_venue_id,
)
from portal.captive.landing import landing_page, locate_with_app
from portal.captive.probes import Probe, match_probe
from portal.errors import raw_json_error
from portal.shopper import ShopperTokenStore, new_shopper

log = logging.getLogger(__name__)

Answer = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body


class ProbeLane:
    """WSGI middleware in front of Flask: takes the requests `match_probe` recognises."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        # Landing paths, memoised per lane (a venue has a few hundred; the bound keeps junk venues out).
        self._path = functools.lru_cache(maxsize=4096)(self._build_path)
        self._tokens: ShopperTokenStore | None = None  # on the captive store client (short timeout)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        probe = match_probe(host, environ.get("PATH_INFO", ""))
        if probe is None:
            return self.wsgi_app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, headers, body = raw_json_error("405 Method Not Allowed", "probes are GET requests",
                                                   (("Allow", "GET, HEAD"),))
        else:
            status, headers, body = self.answer(environ, host, probe)
        start_response(status, headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def answer(self, environ: dict, host: str, probe: Probe) -> Answer:
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_BYTES:
            return raw_json_error("414 URI Too Long", "query string too long")
        args: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            args.setdefault(name, value)  # the first value wins, as in Flask's request.args.get
        core, cs = self.app.extensions["mallportal"], captive_services_of(self.app)
        venue = args.get("venue") or core.settings.default_venue
        if not is_venue_id(venue):
            return raw_json_error("400 Bad Request", "venue: not a venue id")
        try:
            # The IP table is filled only by requests the gateway vouched for; a MAC parameter anyone can
            # write, so it locates the phone but the token handed out is a new shopper's either way.
            client = client_from_params(core.hasher, args)
            by_ip = client is None
            client = client or cs.sessions.client_for_ip(venue, environ.get("REMOTE_ADDR", ""))
            state = cs.probe_state.read(venue, client) if client else None
            if state is not None and state.session is not None and not probe.always_redirect:
                return online_answer(probe)
            if state is not None and state.position is not None:
                position, app_name = state.position, state.app
            else:
                position, app_name = locate_with_app(core, venue, client) if client else (None, None)
            endpoint, values = landing_page(venue, position, app_name)
            token = self.tokens().mint(new_shopper(venue, client, phone_verified=by_ip), handout=True)
        except STORE_ERRORS as exc:
            log.error("store unavailable for venue %s, probe sent to the offline page: %s", venue, exc)
            return redirect_no_store(self.path_to(environ, "captive.offline", venue=venue))
        # The token is URL-safe (venue id, '.', URL-safe base64), so it is appended as it is.
        path = self.path_to(environ, endpoint, **values)
        return redirect_no_store(path + ("&c=" if "?" in path else "?c=") + token)

    def tokens(self) -> ShopperTokenStore:
        if self._tokens is None:
            core = self.app.extensions["mallportal"]
            self._tokens = ShopperTokenStore(captive_services_of(self.app).db, core.settings.shopper_token_ttl_s)
        return self._tokens

    def path_to(self, environ: dict, endpoint: str, **values: str) -> str:
        """The path of a page, relative, as url_for builds it."""
        return self._path(environ.get("SCRIPT_NAME", ""), endpoint, tuple(sorted(values.items())))

    def _build_path(self, script_name: str, endpoint: str, values: tuple[tuple[str, str], ...]) -> str:
        return self.app.url_map.bind("localhost", script_name=script_name or "/").build(endpoint, dict(values))


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
