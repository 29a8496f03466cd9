"""Load the demo mall into the store (idempotent), with its zone apps and an API token."""

from __future__ import annotations

import logging

from fingerprints.demo_mall import build_demo_mall
from fingerprints.model import VenueMap
from portal.apps import registry
from portal.auth import AccountStore
from portal.captive.config import PortalConfigStore
from portal.demo import DEMO_PASSWORD, mark_demo_venue
from portal.ingest.meraki import ensure_demo_meraki
from portal.maps.builds import SEED_ACTION
from portal.services import Services

log = logging.getLogger(__name__)

# Which light app each demo zone lands on; apps not installed fall back to the directory.
DEMO_ZONE_APPS = {
    "cinema": "cinema",
    "garage": "parking",
    "foodcourt": "queue",
    "jade": "queue",
    "atrium": "activities",
    "kopi": "coupons",
    "books": "coupons",
    "lumen": "coupons",
    "pixel": "membership",
}
DEMO_TOKEN_LABEL = "demo-simulator"
DEMO_TIME_ZONE = "Asia/Shanghai"

# Demo console accounts (development only; README lists them): one operator, and one owner per
# business with the zones it runs.
DEMO_OWNERS = {
    "cinema": ("cinema",),
    "parking": ("garage",),
    "foodcourt": ("foodcourt",),
    "jade": ("jade",),
    "kopi": ("kopi",),
    "books": ("books",),
    "lumen": ("lumen",),
    "pixel": ("pixel",),
    "events": ("atrium",),
}


def ensure_demo_mall(svc: Services, venue_id: str = "demo", venue: VenueMap | None = None) -> bool:
    """Load the demo mall unless the venue already has a map. Returns True if it loaded it.
    `venue` lets tests pass a map built once instead of re-running the simulated survey."""
    mark_demo_venue(svc.db, venue_id)  # /demo and its simulator serve this venue (with DEMO=1 only)
    if svc.venues.current_version(venue_id):
        _seed_apps(svc, svc.venues.get_map(venue_id))  # apps added since the first load get their demo data
        return False
    if venue is None:
        log.info("building the demo mall (radio-simulated fingerprint survey)...")
        venue = build_demo_mall(venue_id)
    with svc.venues.edit(venue_id, SEED_ACTION, create=venue) as venue:
        pass  # the whole demo map is the change; announced like any other (audit; no rebuild, see builds)
    PortalConfigStore(svc.db).set(venue_id, {"time_zone": DEMO_TIME_ZONE})  # a Chinese mall, whatever the host's zone
    apps = registry.load(svc.settings.light_apps)
    for zone in venue.zones:
        app_name = DEMO_ZONE_APPS.get(zone.id, "directory")
        app = apps.get(app_name) or apps["directory"]
        svc.zone_apps.set(venue_id, zone.id, app.name, app.default_config())
    _seed_apps(svc, venue)
    _demo_accounts(svc, venue_id)
    ensure_demo_meraki(svc.db, venue_id, svc.settings.data_dir)  # README: pointing a Meraki network at the demo
    token_file = svc.settings.data_dir / "secrets" / f"{venue_id}_api_token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token = svc.tokens.issue(venue_id, DEMO_TOKEN_LABEL)
    token_file.write_text(token)
    token_file.chmod(0o600)
    log.info("demo mall loaded: %d reference points; API token in %s", len(venue.samples), token_file)
    return True


def _seed_apps(svc: Services, venue: VenueMap) -> None:
    """Each app's demo data; the hooks are idempotent, so this runs on every start."""
    for app in registry.load(svc.settings.light_apps).values():
        seed = registry.parts(app.name).seed_demo
        if seed is not None:
            seed(svc, venue)


def _demo_accounts(svc: Services, venue_id: str) -> None:
    store = AccountStore(svc.db)
    wanted = [("ops", "operator", ())] + [(name, "owner", zones) for name, zones in DEMO_OWNERS.items()]
    for username, role, zones in wanted:
        if store.get(username) is None:
            store.create(username, DEMO_PASSWORD, role, venue_id, zones, demo=True)  # demo mode only
