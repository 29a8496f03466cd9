"""Unsaved settings an owner previews: the landing page as a shopper would get it with them, before saving.

The zone console stores the settings under a random id for PREVIEW_TTL_S and opens the app's landing page with
`?preview=<id>`; `portal.apps.views.zone_app_config` then hands the app those settings instead of the saved
ones, for that zone and app only. Nothing is published: the probe path and every other shopper read the
saved assignment. The id is a bearer secret of the owner's browser (128 random bits); settings are not
secret to shoppers anyway.

A preview is read-only, by one platform rule rather than each app's care (`init_preview`): nothing changes through
a shopper page with a preview id (whoever's token comes with it: the id lends the unsaved settings) or under the
preview shopper (`is_preview_shopper`), nor her Web Push opt-in or WiFi grant; its pages say so, the unsaved
settings follow the app's own links, and its token never becomes the browser's shopper."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, g, has_request_context, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from core.security import Sealer
from core.storage import VenueKeys
from portal.api import bearer_token
from portal.apps.registry import LightApp
from portal.errors import error_response, page_venue, wants_json
from portal.shopper import (
    PREVIEW_CLIENT_PREFIX,
    SAFE_METHODS,
    Shopper,
    current_shopper,
    is_preview_shopper,
    shopper_url,
    token_store,
)

PREVIEW_TTL_S = 600
PREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
SHOPPER_PATHS = "/v/"  # the hub's shopper pages (Me, privacy, keep, payments) beside the apps'
SHOPPER_ACTIONS = frozenset({"captive.continue_to_internet", "captive.extend"})  # a shopper's changes outside /v/
PUSH_BLUEPRINT = "notify"  # the Web Push opt-in (portal/notify/views.py): its shopper is the bearer token's


class PreviewKeys(VenueKeys):
    def preview(self, preview_id: str) -> str:
        return self.key("preview", preview_id)

    def shopper_token(self, username: str) -> str:
        """STRING: the shopper token of an account's preview shopper in this venue, sealed (PreviewTokens)."""
        return self.key("previewshopper", username)


def save_preview(db: redis.Redis, venue: str, zone: str, app: str, config: dict[str, Any]) -> str:
    preview_id = secrets.token_urlsafe(16)
    db.set(PreviewKeys(venue).preview(preview_id), json.dumps({"zone": zone, "app": app, "config": config}),
           ex=PREVIEW_TTL_S)
    return preview_id


def load_preview(db: redis.Redis, venue: str, zone: str, app: str, preview_id: str) -> dict[str, Any] | None:
    """The previewed config when `preview_id` names one for this zone and app; else None."""
    if not PREVIEW_ID.match(preview_id or ""):
        return None
    raw = db.get(PreviewKeys(venue).preview(preview_id))
    if not raw:
        return None
    data = json.loads(raw)
    return data["config"] if (data.get("zone"), data.get("app")) == (zone, app) else None


class PreviewTokens:
    """The one shopper token an account's preview shopper has in a venue (the zone page's preview link and frame
    carry it): made the first time, then reused while it still resolves, so viewing the zone page stores nothing
    new. Kept sealed (a store dump hands out no token), for as long as the token itself lives (`ttl_s`, renewed
    with each use)."""

    def __init__(self, db: redis.Redis, secret_key: str, ttl_s: int) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._sealer = Sealer(secret_key, b"mallportal preview shopper token")

    def token(self, venue: str, username: str, mint: Callable[[], str], resolves: Callable[[str], bool]) -> str:
        """The account's preview token: the kept one when `resolves` says it still stands for the preview shopper,
        else a new one from `mint`, kept. Two pages at once may each mint one; the last kept is reused."""
        key = PreviewKeys(venue).shopper_token(username)
        sealed = self.db.getex(key, ex=self.ttl_s)
        if sealed:
            try:
                kept = self._sealer.open(sealed, key.encode()).decode()
            except ValueError:  # sealed under another SECRET_KEY: made again
                kept = None
            if kept and resolves(kept):
                return kept
        token = mint()
        self.db.set(key, self._sealer.seal(token.encode(), key.encode()), ex=self.ttl_s)
        return token


def preview_shopper(venue: str, username: str) -> Shopper:
    """The shopper an account's preview links stand for in a venue."""
    return Shopper(venue=venue, client=PREVIEW_CLIENT_PREFIX + username)


def init_preview(flask_app: Flask, apps_by_blueprint: dict[str, LightApp]) -> None:
    """The preview's platform rule over every app's shopper pages (`apps_by_blueprint`: shopper blueprint name ->
    its app), the rest of /v/, and the shopper's Web Push opt-in and WiFi grant."""

    @flask_app.before_request
    def _preview_changes_nothing():
        if request.method not in SAFE_METHODS and _in_preview(apps_by_blueprint):
            return _refused(apps_by_blueprint.get(request.blueprint or ""))
        return None

    @flask_app.url_defaults
    def _keep_preview_id(endpoint: str, values: dict[str, Any]) -> None:
        if has_request_context() and "preview" not in values and _same_zone_page(endpoint, values, apps_by_blueprint):
            values["preview"] = request.args["preview"]

    # Registered after portal/shopper.py's `_keep_in_cookie` (platform after shopper in create_app), so it runs
    # before it (Flask runs after_request hooks last-registered first) and can keep the token out of the cookie.
    @flask_app.after_request
    def _preview_not_kept(response: Response) -> Response:
        if is_preview_shopper(g.get("shopper")):
            g.url_only_token = g.get("shopper_token")  # a cookie kept from before this rule: shopper.py drops it
        return response

    flask_app.jinja_env.globals.update(in_preview=lambda: is_preview_shopper(g.get("shopper")))


def _in_preview(apps_by_blueprint: dict[str, LightApp]) -> bool:
    """Whether a change would be made in a preview: a shopper page's with a preview id (whatever its value: refused,
    not ignored, so nothing is done under settings the page did not show), or one made as the preview shopper."""
    if request.blueprint == PUSH_BLUEPRINT:
        return is_preview_shopper(token_store().resolve(bearer_token() or None))
    if request.endpoint in SHOPPER_ACTIONS:  # only a `c` names her (never the cookie): the fail-open grant sends
        return _sent("c") and is_preview_shopper(current_shopper())  # none, and so reads no store here
    return _shopper_page(apps_by_blueprint) and (_sent("preview") or is_preview_shopper(current_shopper()))


def _sent(name: str) -> bool:
    """Whether the query or the form carries `name`."""
    try:
        return name in request.values
    except HTTPException:  # a body too large or malformed to read: the query's (its view answers the rest)
        return name in request.args


def _shopper_page(apps_by_blueprint: dict[str, LightApp]) -> bool:
    return request.blueprint in apps_by_blueprint or request.path.startswith(SHOPPER_PATHS)


def _same_zone_page(endpoint: str, values: dict[str, Any], apps_by_blueprint: dict[str, LightApp]) -> bool:
    """A link from an app's shopper page with a preview id to a page of the same app and zone (the only pages the
    previewed settings apply to)."""
    args = request.view_args or {}
    return (request.blueprint in apps_by_blueprint and "zone" in args
            and PREVIEW_ID.match(request.args.get("preview", "")) is not None
            and endpoint.rpartition(".")[0] == request.blueprint
            and (values.get("venue"), values.get("zone")) == (args.get("venue"), args["zone"]))


def _refused(app: LightApp | None) -> Any:
    """403: a page that says nothing was saved, with the way back to the app's preview (its landing page in the
    zone, the previewed settings kept by `_keep_preview_id`), else to the mall home."""
    title, message = _("This is a preview: nothing was saved"), _(
        "Actions are not available in a preview, so that it never changes what shoppers and staff see.")
    if wants_json():
        return error_response(403, message)
    args = request.view_args or {}
    back = (shopper_url(app.landing_endpoint, venue=args["venue"], zone=args["zone"])
            if app is not None and {"venue", "zone"} <= args.keys() else None)
    return render_template("preview_refused.html", status=403, title=title, message=message, back_url=back,
                           venue=page_venue(403)), 403
