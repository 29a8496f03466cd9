"""Unsaved settings an owner previews: the landing page as a shopper would get it with them, before saving.

The zone console stores the settings under a random id for PREVIEW_TTL_S and opens the app's landing page with
`?preview=<id>`; `portal.apps.views.zone_app_config` then hands the app those settings instead of the saved
ones, for that zone and app only. Nothing is published: the probe path and every other shopper read the
saved assignment. The id is a bearer secret of the owner's browser (128 random bits); settings are not
secret to shoppers anyway."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import redis

from core.security import Sealer
from core.storage import VenueKeys

PREVIEW_TTL_S = 600
PREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


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
