"""Demo data: the demo mall's bookshop greets with this app (idempotent)."""

from __future__ import annotations

from tests.fixtures_apps.hello import APP


def seed(svc, venue_map) -> None:
    if venue_map.zone("books") is not None:
        svc.zone_apps.set(venue_map.id, "books", APP.name, APP.default_config())
