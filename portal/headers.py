"""Security headers on every Flask response, written here rather than with flask-talisman: the portal
needs five headers and a per-request script nonce, while talisman would also force HTTPS redirects and
HSTS, which a captive portal must not do (a phone's first request before the grant is plain HTTP, and
redirecting it to HTTPS breaks the OS's sign-in sheet).

- Content-Security-Policy: scripts only from the portal itself or inline with this request's nonce
  (`csp_nonce()` in templates), no plugins, no <base>; styles inline too (the pages' small <style>
  blocks and style attributes); images from the portal or data: URIs; consoles may not be framed at all
  (`frame-ancestors 'none'`), shopper pages only by the portal itself (the owner console's preview).
- X-Frame-Options for browsers without frame-ancestors, X-Content-Type-Options: nosniff,
  Referrer-Policy: same-origin (shopper URLs carry the `c` token: it must never leave in a Referer).
- Cache-Control: no-store on the pages of one person (`cache_control`): consoles, shopper pages under /v/
  and the captive pages (/portal, /guest): they show personal data and bearer secrets (the `c` token in
  every link, coupon and ticket codes, keep links), which no shared cache, proxy or disk cache may keep.
  Static files, media and the captive lane's probe answers (which never reach Flask and send their own
  no-store) keep their caching.
- X-Logged-Path: the path the access logs show (gunicorn.conf.py; deploy/nginx.conf hides it from the client):
  the route's, its secret values (tokens, codes, ids) left as `<name>` (core/logredact.py `logged_path`)."""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, redirect, request

from core.logredact import LOGGED_PATH_HEADER, logged_path

CONSOLE_PREFIXES = ("/console",)
# pages of one person, and the partner APIs' answers: never cached
PERSONAL_PREFIXES = ("/console", "/v/", "/portal", "/guest/", "/api/")
NO_STORE = "no-store"


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str, console: bool) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'" if console else "frame-ancestors 'self'",
    ))


def _is_document(response: Response) -> bool:
    """A page, an API answer or a redirect (whose Location carries the `c` token): what a personal path
    must never let a cache keep, whatever its view said."""
    mimetype = response.mimetype or ""
    return (mimetype == "text/html" or mimetype == "application/json" or mimetype.endswith("+json")
            or 300 <= response.status_code < 400)


def cache_control(path: str, response: Response) -> str | None:
    """The Cache-Control to set on this response (None: leave it). On a personal path: no-store when its view
    set none, and over any weaker one a page, an API answer or a redirect was given; an image or file there
    (a versioned plan, a chart) keeps the caching its view chose. Elsewhere (/static, /media): untouched."""
    if not path.startswith(PERSONAL_PREFIXES):
        return None
    current = response.headers.get("Cache-Control")
    if current is None or (_is_document(response) and NO_STORE not in current.lower()):
        return NO_STORE
    return None


def _warn_untrusted_proxy_once(app: Flask) -> None:
    if not app.extensions.get("warned_untrusted_proxy"):
        app.extensions["warned_untrusted_proxy"] = True
        app.logger.warning("a proxy sends X-Forwarded-Proto: https but PROXY_HOPS=0: set PROXY_HOPS to the proxies "
                           "in front of the portal, so consoles asked over http are sent to https")


def init_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    secure = app.config.get("SESSION_COOKIE_SECURE", False)

    @app.before_request
    def _consoles_over_https():
        # An https portal (Secure cookies) serves its consoles over https only: a sign-in typed or linked as
        # http:// on the open guest WiFi would send the password in clear (the session cookie, Secure, would
        # not go). Shopper pages and the captive entry stay reachable as the gateway sends phones to them.
        if secure and not request.is_secure and request.path.startswith(CONSOLE_PREFIXES):
            if request.headers.get("X-Forwarded-Proto", "").lower() == "https":
                # a proxy says https but is not trusted (PROXY_HOPS=0): a 301 to the same URL would loop for
                # ever; a forged header only spares its own sender the upgrade
                _warn_untrusted_proxy_once(app)
                return None
            return redirect(request.url.replace("http://", "https://", 1), code=301)
        return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        console = request.path.startswith(CONSOLE_PREFIXES)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), console))
        headers.setdefault("X-Frame-Options", "DENY" if console else "SAMEORIGIN")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        cache = cache_control(request.path, response)
        if cache is not None:
            headers["Cache-Control"] = cache
        # what the access logs show for the path (core/logredact.py): the route, its secret values masked
        headers[LOGGED_PATH_HEADER] = request_logged_path()
        return response


def request_logged_path() -> str:
    """The current request's path as a log may show it (core/logredact.py `logged_path`): the access logs' and the
    application's own error lines alike."""
    rule = request.url_rule
    return logged_path(rule.rule if rule else None, request.view_args, request.path)
