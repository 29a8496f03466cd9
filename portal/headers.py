"""Security headers on every Flask response, written here rather than with flask-talisman: the portal
needs five headers and a per-request script nonce, while talisman would also force HTTPS redirects and
HSTS, which a captive portal must not do (a phone's first request before the grant is plain HTTP, and
redirecting it to HTTPS breaks the OS's sign-in sheet).

- Content-Security-Policy: scripts only from the portal itself or inline with this request's nonce
  (`csp_nonce()` in templates), no plugins, no <base>; styles inline too (the pages' small <style>
  blocks and style attributes); images from the portal or data: URIs; consoles may not be framed at all
  (`frame-ancestors 'none'`), shopper pages only by the portal itself (the owner console's preview).
- X-Frame-Options for browsers without frame-ancestors, X-Content-Type-Options: nosniff,
  Referrer-Policy: same-origin (shopper URLs carry the `c` token: it must never leave in a Referer)."""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request

CONSOLE_PREFIXES = ("/console",)


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


def init_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    secure = app.config.get("SESSION_COOKIE_SECURE", False)

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
        return response
