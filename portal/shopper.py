"""Who the shopper is, carried in the URL.

The iOS captive mini-browser keeps no cookies, so the portal signs the shopper's client id into a
`c` query parameter on every link it builds; a cookie is set too, for browsers that keep one."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from flask import current_app, g, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException

from core.security import AnonId, ClientId

COOKIE = "mp_c"


@dataclass(frozen=True)
class Shopper:
    venue: str
    client: ClientId | AnonId  # keyed hash of the MAC, or a random id for a browser with no MAC known


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@functools.lru_cache(maxsize=4)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="shopper")


def shopper_token(shopper: Shopper) -> str:
    return sign_shopper(current_app.config["SECRET_KEY"], shopper)


def sign_shopper(secret_key: str, shopper: Shopper) -> str:
    """The shopper's token outside a Flask request (the probe lane answers before Flask)."""
    return _signed(secret_key, shopper.venue, shopper.client)


@functools.lru_cache(maxsize=16_384)
def _signed(secret_key: str, venue: str, client: str) -> str:
    """Signing is deterministic, and a phone's token is built on every probe and every link of every
    page it opens: kept for the most recent phones (a few MB at most)."""
    return _serializer_for(secret_key).dumps([venue, client])


def read_shopper_token(token: str | None) -> Shopper | None:
    if not token or len(token) > 300:
        return None
    try:
        venue, client = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return Shopper(venue=venue, client=client)


def current_shopper() -> Shopper | None:
    """From the `c` parameter (query or form), else the cookie. Cached per request."""
    if "shopper" not in g:
        try:
            token = request.values.get("c")
        except HTTPException:  # a body too large or malformed to read (e.g. on the 413 error page)
            token = request.args.get("c")
        token = token or request.cookies.get(COOKIE)
        g.shopper = read_shopper_token(token)
    return g.shopper


def shopper_url(endpoint: str, **values) -> str:
    """url_for that keeps the shopper's `c` token, so navigation works without cookies."""
    shopper = current_shopper()
    if shopper is not None and "c" not in values:
        values["c"] = shopper_token(shopper)
    return url_for(endpoint, **values)


def new_shopper(venue: str, client: ClientId | None = None) -> Shopper:
    """The shopper with this client id, or an anonymous one when the portal does not know the phone."""
    return Shopper(venue=venue, client=client or AnonId("anon-" + secrets.token_hex(8)))


def current_shopper_token() -> str:
    """For forms: the token of the shopper this page is for, however the page learnt who that is."""
    shopper = current_shopper()
    return shopper_token(shopper) if shopper else ""


def shopper_for_venue(venue: str) -> Shopper:
    """The current shopper of this venue, or a new anonymous one (a browser that arrived without the
    portal's redirect, e.g. from a bookmark). Links built with shopper_url carry it from then on."""
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        shopper = g.shopper = new_shopper(venue)
    return shopper
