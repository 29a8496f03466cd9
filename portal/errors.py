"""Errors: JSON for API clients, a small HTML page for browsers; never a stack trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

import redis
from flask import Flask, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import CombinedMultiDict, Headers, ImmutableMultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map

from core.errors import CatalogText
from core.ids import is_venue_id
from core.logredact import LOGGED_PATH_HEADER, logged_path
from core.store_health import StoreBreaker, StoreUnavailable, VenueBreakers, is_store_fault
from portal.console_pages import console_referrer, is_console_path
from portal.headers import request_logged_path

log = logging.getLogger(__name__)

# The protection space of the machine APIs' tokens, named in their 401 challenges (RFC 9110 11.6.1).
AUTH_REALM = "mallportal"
BEARER_CHALLENGE = f'Bearer realm="{AUTH_REALM}"'

STORE_RETRY_AFTER_S = 5

# Paths only machines call (partner APIs, RFC 8908's CAPPORT API): their errors are JSON whatever they accept.
API_PREFIXES = ("/api/", "/capport/")
# The pages shoppers see: the light apps' (/v/<venue>/...: payment pages too, never the providers' /pay/notify/)
# and the captive portal's sign-in pages (/portal, its /portal/... pages; /guest/s/<site>/ for UniFi).
SHOPPER_PREFIXES = ("/v/", "/portal/", "/guest/")


class ApiError(Exception):
    """Raised by API views: becomes {"error": message, "field": field} with the status code. `headers`:
    (name, value) pairs the answer carries, e.g. a 401's WWW-Authenticate challenges (one pair each); `more`: keys
    the body carries beside those two (a 409's `available_at`)."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: Iterable[tuple[str, str]] = (), more: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = tuple(headers)
        self.more = dict(more or {})


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def is_shopper_path(path: str) -> bool:
    return (path == "/portal" or path.startswith(SHOPPER_PREFIXES)) and not is_api_path(path)


def wants_json() -> bool:
    return is_api_path(request.path) or request.accept_mimetypes.best == "application/json"


def api_error_headers(exc: ApiError) -> Headers:
    """The answer's headers: the error's own, Retry-After on a 503 ("retry later"), and on a 401 a Bearer
    challenge where the raiser gave none (RFC 9110 11.6.1: a 401 without WWW-Authenticate is malformed).
    A `Headers`, not pairs: Flask replaces a name's earlier values by its later ones from pairs, and keeps
    every value only from a `Headers` (two challenges are two WWW-Authenticate fields)."""
    headers = Headers(exc.headers)
    if exc.status == 503 and "Retry-After" not in headers:
        headers.add("Retry-After", str(STORE_RETRY_AFTER_S))
    if exc.status == 401 and "WWW-Authenticate" not in headers:
        headers.add("WWW-Authenticate", BEARER_CHALLENGE)
    return headers


# Translated when shown, one a page (lazy): translating every title on each error page cost about a sixth of it.
ERROR_TITLES = {
    400: _l("Something in this request is not right"), 403: _l("Not allowed"), 404: _l("Page not found"),
    405: _l("This page cannot be opened this way"), 409: _l("That did not work"), 410: _l("This has expired"),
    413: _l("That is too large"), 414: _l("That address is too long"), 422: _l("Please check what you entered"),
    429: _l("Too many tries"), 503: _l("Busy for a moment"), 507: _l("No room left"),
}
OTHER_ERROR_TITLE = _l("Something went wrong")
PLAIN_MESSAGES = {  # for the framework's own errors, whose English text people must not see
    404: _l("The page you asked for does not exist. It may have moved, or the link may be incomplete."),
    405: _l("This page is opened from a button on another page. Go back, or start again from the mall home."),
    400: _l("The page could not understand this request. Go back and try again."),
    413: _l("What was sent is too large."),
}
OTHER_PLAIN_MESSAGE = _l("Please go back and try again.")
# The same on a console page, whose way back in is the console's home, not the shoppers' mall home.
CONSOLE_PLAIN_MESSAGES = {
    405: _l("This page is opened from a button on another page. Go back, or start again from the console home."),
}


def error_title(status: int) -> str:
    """The heading of the error page people see, in their language."""
    return str(ERROR_TITLES.get(status, OTHER_ERROR_TITLE))


def _people_message(exc: HTTPException) -> str:
    """The app's own message (already in the shopper's language), else a plain one for the status: never
    the framework's English text."""
    own = exc.description and exc.description != type(exc).description
    if own:
        return exc.description
    plain = CONSOLE_PLAIN_MESSAGES if is_console_path(request.path) else {}
    return str(plain.get(exc.code or 500) or PLAIN_MESSAGES.get(exc.code or 500, OTHER_PLAIN_MESSAGE))


# The whole body, as an error's field. A field inside it is named as the light apps' APIs name theirs
# ("data.observations[3].rssi", "showtimes[0].price"): one spelling for every machine API's `field`.
ROOT = "$"


def error_body(message: str, field: str | None = None) -> dict[str, str | None]:
    """Every JSON error's body, the one shape clients read: `field` is always there (null when the error is about
    no one field: a 401, a 404, a 405, a 503), so a client can read body["field"] whatever the status."""
    return {"error": message, "field": field or None}


def error_response(status: int, message: str, field: str | None = None,
                   headers: Mapping[str, str] | Headers | None = None, more: Mapping[str, object] | None = None):
    if wants_json():
        return jsonify({**(more or {}), **error_body(message, field)}), status, headers or {}
    return (render_template("error.html", status=status, title=error_title(status), message=message,
                            venue=page_venue(status), console=console_error_links()), status, headers or {})


def console_error_links() -> dict[str, str | None] | None:
    """The ways on from a console page's error: the console home, and back to the console page of this site the
    request came from (not this very page); None off the consoles (the page links the mall home)."""
    if not is_console_path(request.path) or "auth.home" not in current_app.view_functions:
        return None
    back = console_referrer()
    return {"home": url_for("auth.home"), "back": None if back in (request.path, request.full_path) else back}


def page_venue(status: int, venue: str | None = None):
    """The venue a page is about (`venue`, else the one its URL names), for the header of a page without a map
    of its own (its name, as the venue's other pages show it); None for a server-side error (the 503 page must
    not wait on the store), an unknown venue, or when the store does not answer."""
    if g.get("venue_map") is not None:
        return g.venue_map
    venue = venue or (request.view_args or {}).get("venue")
    if status >= 500 or not isinstance(venue, str) or not is_venue_id(venue):
        return None
    svc = current_app.extensions["mallportal"]
    if svc.breaker.is_open:
        return None
    try:
        return svc.venues.get_map(venue)
    except (redis.RedisError, StoreUnavailable, OSError):
        return None


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.field, api_error_headers(exc), exc.more)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        """The 413 page never reads the body: whatever the page or a context processor asks of the form
        (the shopper's `c`, a language) finds it empty instead of raising again."""
        empty = ImmutableMultiDict()
        request.__dict__.update(form=empty, files=empty, values=CombinedMultiDict([request.args, empty]))
        return error_response(413, exc.description or exc.name)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        """A console form without its session's token (missing, from another site, or the session ended:
        signed out in this browser, which drops the cookie holding the token; a session that ended otherwise keeps
        it and meets the login gate, portal/auth.py `signed_out_redirect`): one plain message in the page's
        language, never Flask-WTF's English."""
        return error_response(400, _("This page was open too long or came from elsewhere: please go back, "
                                     "reload it and try again."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 404 and (lost := _lost_venue_page()) is not None:
            return lost
        message = (exc.description or exc.name) if wants_json() else _people_message(exc)
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response[2]["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.after_request
    def _api_options(response: Response) -> Response:
        return api_options_answer(response)

    @app.url_value_preprocessor
    def _store_breaker_open(endpoint: str | None, values: dict | None) -> None:
        """While the store breaker (core/store_health.py) says the store is down, a view that needs it
        answers 503 at once instead of waiting out the store's timeout: a stalled store must not tie
        up every worker thread while probes wait behind them. The captive portal's views fail open on
        their own; static files need no store. A URL value preprocessor of the app, not a before_request:
        those run after every blueprint's URL value preprocessors, and a light app's (portal/apps/views.py
        `_load_zone`) reads the zone's config from the store, which waited out the timeout first."""
        breaker = views_breaker()
        if breaker is not None and request.blueprint != "captive" and endpoint not in (None, "static"):
            breaker.check()

    @app.errorhandler(redis.RedisError)
    def _store_unavailable(exc: redis.RedisError):
        """The store is down or too slow: 503 with Retry-After (JSON for APIs, a localized page for people),
        never a 500. The probe lane and the gateway entry fail open on their own (portal/captive/)."""
        if isinstance(exc, StoreUnavailable):  # the breaker is open: it logged that once
            log.debug("store breaker open: 503 on %s %s", request.method, request_logged_path())
        else:
            log.error("store unavailable on %s %s: %s", request.method, request_logged_path(), type(exc).__name__)
        record_store_failure(exc)
        _page_for_no_shopper()
        return error_response(503, _("The service is busy for a moment. Please try again in a few seconds."),
                              headers={"Retry-After": str(STORE_RETRY_AFTER_S), "Cache-Control": "no-store"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request_logged_path())
        return error_response(500, "internal error; it has been logged")


def api_options_answer(response: Response) -> Response:
    """Flask's automatic OPTIONS answer on an API path as a 204 with its Allow and no body: Flask makes it a
    200 `text/html` with an empty body, which says the URL is a page. Views that answer OPTIONS themselves,
    and every other path, are left as they are."""
    rule = request.url_rule
    automatic = rule is not None and getattr(rule, "provide_automatic_options", False)
    if request.method != "OPTIONS" or not automatic or not is_api_path(request.path):
        return response
    if response.status_code != 200 or "Allow" not in response.headers:  # an error (a 503 while the store is
        return response  # down, say) is answered as it is, never turned into a 204 without Allow
    response.status_code = 204
    response.set_data(b"")
    del response.headers["Content-Type"]  # nothing to type (Werkzeug drops a 204's Content-Length itself)
    return response


def input_error_text(exc: Exception, label: str | None = None) -> str:
    """A library's input error in the page's language: one that carries its catalog message (`template`,
    `params`: core.errors.CatalogInputError, fingerprints' ImdfError with its catalog details) is translated,
    anything else is shown as it is (English). `label`: the field's name as the page shows it (a form's
    translated label), where the error's own `field` is an internal name."""
    details = getattr(exc, "details", None)
    template = getattr(exc, "template", None)
    if details is not None and isinstance(template, str):  # a list of problems, each translated if it can be
        shown = [input_error_text(p) if isinstance(p, Exception) else str(p) for p in details[:20]]
        more = f"\n... {len(details) - 20}" if len(details) > 20 else ""
        joiner = getattr(exc, "joiner", "\n")
        return _(template, **{**getattr(exc, "params", {}), "problems": joiner.join(shown) + more})
    params = getattr(exc, "params", None)
    if isinstance(template, str) and params is not None:  # a plain InputError's template is str()'s format
        shown = {k: said(v) for k, v in params.items()}
        return _(template, **{"label": said(getattr(exc, "field", "")) if label is None else label, **shown})
    return str(exc)


def said(value: object) -> object:
    """A core.errors.CatalogText ("unit.geojson: feature <id>") in the page's language; any other value as it
    is."""
    if isinstance(value, CatalogText):
        return _(value.template, **{k: said(v) for k, v in value.params.items()})
    return value


def _lost_venue_page() -> Response | None:
    """For a 404 on a shopper page of a venue the probe lane sent phones to and the store no longer has (it came
    back empty: data lost, a failover to a replica that had not synced), the captive portal's fail-open page: never
    "Page not found" for a phone the portal just redirected here. The venue check then fails its probes open too
    (portal/captive/landing.py VenueCheck.lost). None for any other 404."""
    venue = (request.view_args or {}).get("venue")
    check = current_app.extensions.get("captive.venues")
    fail_open = current_app.extensions.get("captive.fail_open")  # registered by portal/captive/views.py with it
    if (check is None or fail_open is None or not isinstance(venue, str) or not is_shopper_path(request.path)
            or not check.lost(venue)):
        return None
    return fail_open(venue, None)


def _page_for_no_shopper() -> None:
    """The 503 page of a store fault is rendered for no shopper. Every shopper extra of a page (the header's
    links, the privacy notice, a moment's offers, Continue, a light app's form token) first looks the shopper's
    token up in the store, and then reads that shopper's data: on a stalled store each read waits out the
    store's timeout (also while the breaker is open, which guards the views, not these reads), holding the
    worker thread the breaker is there to free. portal/shopper.py keeps the request's shopper in `g`, None
    there meaning none: as when the view's own lookup of the shopper was what failed. A light app's context
    processor may still make a new anonymous shopper for its forms (a sealed token, nothing stored): the
    extras that read a shopper's data ask `store_fault_page()` first."""
    page_for_no_shopper()
    g.store_fault = True


def page_for_no_shopper() -> None:
    """This request's page is rendered for no shopper (portal/shopper.py keeps the request's shopper in `g`, None
    meaning none): its header, notice and forms look no one up; the 503 page above and the service worker's
    offline page (portal/owner/pwa.py)."""
    g.shopper, g.shopper_token, g.cookie_shopper = None, None, None


def store_fault_page() -> bool:
    """Whether this request is answering a store fault with its 503 page: a page extra that would read the
    store (the privacy notice's consent, a moment's offers) leaves itself out."""
    return bool(g.get("store_fault"))


def record_store_failure(exc: redis.RedisError) -> None:
    """Count a failed store call toward the app's store breaker (a view that answers the failure itself,
    e.g. ingest's 503, calls this too). Only connection errors and timeouts say the store is down; a
    script or type error is a bug, not an outage."""
    breaker = views_breaker(recording=True)
    if breaker is not None and is_store_fault(exc):
        breaker.record_failure(exc)


def views_breaker(recording: bool = False) -> StoreBreaker | None:
    """The store breaker the views answer 503 by: the app's one, on a single store. On a cluster the breaker of
    the venue the URL names (the captive portal's per-venue ones, portal/captive/wiring.py), since one shard
    down must not stop the venues on the others; none for a page of no venue (its calls fail on their own).
    `recording` (a failure or a call's time to count): on a cluster, none. A page also reads keys of other slots
    (the console's accounts, the global registry), so its failures do not say the venue's shard is down: counted
    there, a hung accounts shard would open the breaker of a mall on a healthy one and fail its probes open. The
    probe lane, whose calls are the venue's slot's, opens it; a view's own calls are bounded by its store budget."""
    svc = current_app.extensions["mallportal"]
    if not svc.settings.redis_cluster:
        return svc.breaker
    if recording:
        return None
    venue = (request.view_args or {}).get("venue")
    breakers = getattr(current_app.extensions.get("captive"), "breaker", None)
    if not isinstance(breakers, VenueBreakers) or not isinstance(venue, str) or not is_venue_id(venue):
        return None
    return breakers.for_venue(venue)


class QueryStringGuard:
    """WSGI middleware: a query string that is huge or not UTF-8 gets a 4xx before Flask parses it
    (werkzeug would raise while reading request.args, anywhere, even in the error page)."""

    MAX_BYTES = 16 * 1024  # above the captive portal's 12 kB for gateway redirects (portal/captive/common.py)

    def __init__(self, wsgi_app, url_map: Map | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.url_map = url_map  # the app's routes: the access logs' path names the route (core/logredact.py)

    def __call__(self, environ, start_response):
        raw = environ.get("QUERY_STRING", "").encode("latin-1", "replace")
        problem = None
        if len(raw) > self.MAX_BYTES:
            problem = ("414 URI Too Long", "query string too long")
        else:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                problem = ("400 Bad Request", "query string is not UTF-8")
        if problem is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = raw_json_error(problem[0], problem[1])
        start_response(status, [*headers, (LOGGED_PATH_HEADER, self.logged_path(environ))])
        return [body]

    def logged_path(self, environ) -> str:
        """Answered before Flask, the access logs' path is set here as Flask's answers set it: the route the path
        matches, its secret values masked (a CAPPORT URI's token), else the path redacted."""
        path = environ.get("PATH_INFO", "")
        try:
            rule, values = self.url_map.bind("localhost").match(path, environ.get("REQUEST_METHOD", "GET"),
                                                                 return_rule=True)
        except (AttributeError, HTTPException):  # no routes given; no route (or a redirect to one)
            return logged_path(None, None, path)
        return logged_path(rule.rule, values, path)


def raw_json_error(status: str, message: str,
                   extra_headers: tuple[tuple[str, str], ...] = ()) -> tuple[str, list[tuple[str, str]], bytes]:
    """An error answered in plain WSGI, before Flask: (status line, headers, body)."""
    body = json.dumps(error_body(message)).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra_headers], body
