"""Which console page a request may send a browser on to: after signing in (the login's `next=`), after a form
that met an ended session (back to the page it was sent from), and from a console error page. One rule for all
three: a path of our own consoles that a browser may open (GET), never another site's (no open redirect)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException

CONSOLE_PREFIX = "/console/"
# Pages that are no place to come back to: signing in would show the form again to a signed-in account.
_NOT_A_DESTINATION = frozenset({"auth.login", "auth.logout"})


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX.rstrip("/") or path.startswith(CONSOLE_PREFIX)


def console_page(target: str | None) -> str | None:
    """`target` (a path, with its query string) when it is a console page of ours that answers GET; else None.
    No `//` or `\\` (a browser reads those as another host), no control character (CR/LF would make the
    Location header unsendable: a 500 after signing in), and no URL that only takes a form (a button's POST:
    signing in and landing there answered 405, "this page cannot be opened this way")."""
    if not target or not target.startswith(CONSOLE_PREFIX) or "//" in target or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    try:
        endpoint, _values = current_app.create_url_adapter(request).match(unquote(target.split("?", 1)[0]),
                                                                          method="GET")
    except HTTPException:  # no such page, one that takes only a form, or one answered by a redirect
        return None
    return None if endpoint in _NOT_A_DESTINATION else target


def console_referrer() -> str | None:
    """The console page of this site the request was sent from (its Referer: path and query), when a browser
    may open it again; None for another site's page, or none named."""
    referrer = urlsplit(request.referrer or "")
    if referrer.scheme not in ("http", "https") or referrer.netloc != request.host:
        return None
    return console_page(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
