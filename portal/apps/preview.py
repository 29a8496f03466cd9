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
from typing import Any

import redis

from core.storage import VenueKeys

PREVIEW_TTL_S = 600
PREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


class PreviewKeys(VenueKeys):
    def preview(self, preview_id: str) -> str:
        return self.key("preview", preview_id)


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
