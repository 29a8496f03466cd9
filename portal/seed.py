"""Load the demo malls into the store (idempotent), with their zone apps and API tokens.

Two demo venues, both served by /demo (portal/demo.py) with `DEMO=1`:
- `demo`, Harbour Light Mall (fingerprints/demo_mall.py): the small teaching mall, two floors, nine large
  zones; its console accounts and app data are what the README and the tests use;
- `galleria`, The Galleria: a real mall's shape from the mall generator (fingerprints/mallgen.py, one fixed
  seed): a car park and three shop floors, ~100 zones (shops, anchors, a food hall of small stalls,
  kiosks), ~57 ceiling APs at enterprise density, surveyed in its own radio world. Off with
  LOAD_DEMO_GALLERIA=0. `load_generated_mall` is also how bench/landing.py sets up its malls."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from fingerprints.demo_mall import SHOP_DESCRIPTIONS_ZH, build_demo_mall
from fingerprints.mallgen import GeneratedMall, generate_mall
from fingerprints.model import VenueMap
from portal.apps import registry
from portal.apps.shop_profiles import ShopProfileStore
from portal.apps.zone_apps import DEFAULT_APP
from portal.auth import AccountStore
from portal.captive.config import PortalConfigStore
from portal.demo import DEMO_PASSWORD, is_demo_venue, mark_demo_venue
from portal.ingest.meraki import ensure_demo_meraki
from portal.ingest.tokens import declared_scopes
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
DEMO_OPERATOR = "ops"

# The realistic demo mall: always the same mall (the seed fixes geometry, names, APs and the survey).
GALLERIA_VENUE = "galleria"
GALLERIA_SEED = 2026
GALLERIA_SHAPE = "linear"  # 4 levels; "ring" (5 levels) takes twice as long to survey at first start
GALLERIA_NAME = ("The Galleria", "嘉丽广场")

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
        _demo_token(svc, venue_id)  # and their API scopes
        return False
    if venue is None:
        log.info("building the demo mall (radio-simulated fingerprint survey)...")
        venue = build_demo_mall(venue_id)
    venue = _store_map(svc, venue_id, venue, DEMO_ZONE_APPS)
    PortalConfigStore(svc.db).set(venue_id, {"time_zone": DEMO_TIME_ZONE})  # a Chinese mall, whatever the host's zone
    _seed_apps(svc, venue)
    _demo_accounts(svc, venue_id)
    _demo_credentials(svc, venue_id)
    _demo_shop_texts(svc, venue)
    log.info("demo mall loaded: %d reference points", len(venue.samples))
    return True


def _demo_shop_texts(svc: Services, venue: VenueMap) -> None:
    """Each demo shop's description in both languages, as its owner would write it (the map has English only)."""
    profiles = ShopProfileStore(svc.db)
    for shop in venue.shops:
        if shop.id in SHOP_DESCRIPTIONS_ZH:
            profiles.set(venue.id, shop.id, {"description_zh": SHOP_DESCRIPTIONS_ZH[shop.id],
                                             "description_en": shop.description})


def ensure_demo_venues(svc: Services) -> bool:
    """What `make run` loads at start (LOAD_DEMO, LOAD_DEMO_GALLERIA): Harbour Light as the VENUE
    setting's venue, and the Galleria. False when it loaded nothing (LOAD_DEMO off, a mall of its own)."""
    if not svc.settings.load_demo:
        return False
    own = malls_of_their_own(svc)
    if own:
        # LOAD_DEMO is on by default (`make run`): on a new mall's store it would load the demo mall INTO the
        # mall's VENUE (no map yet) or mark it a demo venue and seed demo data into its apps, and add the
        # demo venues and their accounts beside it.
        log.warning("not loading the demo malls: this store holds a mall of its own (%s); set LOAD_DEMO=0 to "
                    "say so", ", ".join(own))
        return False
    ensure_demo_mall(svc, svc.settings.default_venue)
    if svc.settings.load_demo_galleria and svc.settings.default_venue != GALLERIA_VENUE:
        ensure_galleria(svc)
    return True


def malls_of_their_own(svc: Services) -> list[str]:
    """Venues an operator set up (README "Open a new mall": an account first, then the map): the VENUE
    setting's venue with a map that is not a demo venue's, and every venue an account belongs to that is not
    a demo venue. The demo's own venues are marked before their accounts are made."""
    venue = svc.settings.default_venue
    venues = {v for a in AccountStore(svc.db).all() for v in (a.venue, *a.more_venues) if v}
    if svc.venues.current_version(venue):
        venues.add(venue)
    return sorted(v for v in venues if not is_demo_venue(svc.db, v))


def build_galleria(survey_step_m: float = 3.0, scans: int = 5) -> GeneratedMall:
    """The Galleria, generated and surveyed (a few seconds). Tests pass a coarser survey: the same mall
    (geometry, names and APs do not depend on the survey), fewer reference points."""
    mall = generate_mall(GALLERIA_SEED, GALLERIA_SHAPE, venue_id=GALLERIA_VENUE, survey_step_m=survey_step_m,
                         scans=scans)
    mall.venue.name, mall.venue.name_zh = GALLERIA_NAME
    _name_common_areas(mall.venue)
    return mall


_ZH_SIDES = {"west": "西", "east": "东", "north": "北", "south": "南"}


def _name_common_areas(venue: VenueMap) -> None:
    """Corridors named by the floor names shoppers see (the generator counts levels from the car park:
    its "Mall west L3" is on floor L2), and Chinese names for the common areas (shops keep their brands)."""
    floors = {f.level: f.name for f in venue.floors}
    for zone in venue.zones:
        words = zone.name.split()
        if zone.kind == "corridor" and len(words) == 3:
            side, floor = words[1], floors[zone.floor]
            zone.name, zone.name_zh = f"Mall {side} {floor}", f"{floor} {_ZH_SIDES.get(side, side)}区走廊"
        elif zone.kind == "garage":
            zone.name_zh = f"停车场 {words[-1]} 区"
        elif zone.kind == "lobby":
            zone.name_zh = f"电梯厅 {words[-1]}"
        elif zone.kind == "food":
            zone.name_zh = "美食广场"
    zones = {z.id: z for z in venue.zones}
    for shop in venue.shops:
        if shop.zone in zones and shop.id == shop.zone:
            shop.name, shop.name_zh = zones[shop.zone].name, zones[shop.zone].name_zh


def ensure_galleria(svc: Services, mall: GeneratedMall | None = None) -> bool:
    """Load the Galleria unless it has a map (True if it loaded it); on every start, mark it a demo venue,
    run the apps' demo seeds and let the demo operator run it. `mall`: one built once (tests)."""
    venue_id = GALLERIA_VENUE
    if svc.venues.current_version(venue_id):
        mark_demo_venue(svc.db, venue_id)
        _seed_apps(svc, svc.venues.get_map(venue_id))
        _demo_operator_runs(svc, venue_id)
        _demo_token(svc, venue_id)
        return False
    started = time.perf_counter()
    if mall is None:
        log.info("building the Galleria demo mall (generated, radio-simulated survey)...")
        mall = build_galleria()
    mark_demo_venue(svc.db, venue_id, radio=radio_model(mall))
    load_generated_mall(svc, mall)
    PortalConfigStore(svc.db).set(venue_id, {"time_zone": DEMO_TIME_ZONE})
    venue = svc.venues.get_map(venue_id)
    _seed_apps(svc, venue)
    _demo_operator_runs(svc, venue_id)
    _demo_credentials(svc, venue_id)
    log.info("Galleria loaded in %.1f s: %d levels, %d zones, %d APs, %d reference points",
             time.perf_counter() - started, len(venue.floors), len(venue.zones), len(venue.aps), len(venue.samples))
    return True


def radio_model(mall: GeneratedMall) -> dict:
    """The generated mall's RadioSimulator parameters, as JSON (portal/demo.py's demo_simulator)."""
    return {"seed": mall.seed, "wall_losses": {str(level): losses for level, losses in mall.wall_losses.items()},
            **mall.radio}


def load_generated_mall(svc: Services, mall: GeneratedMall) -> bool:
    """A generated mall (fingerprints/mallgen.py) as an operator's set-up leaves it: its map as the first
    version, each zone's light app as the generator chose it by zone kind. Nothing when the venue has a
    map already (False). The realistic demo mall and bench/landing.py's malls both load through here."""
    if svc.venues.current_version(mall.venue.id):
        return False
    _store_map(svc, mall.venue.id, mall.venue, mall.zone_apps)
    return True


def _store_map(svc: Services, venue_id: str, venue: VenueMap, zone_apps: Mapping[str, str]) -> VenueMap:
    """The map as the venue's first version, and each zone's app (`zone_apps`, by zone id; a zone not
    named, or an app not installed, gets the directory)."""
    with svc.venues.edit(venue_id, SEED_ACTION, create=venue) as venue:
        pass  # the whole map is the change; announced like any other (audit; no rebuild, see builds)
    apps = registry.load(svc.settings.light_apps)
    for zone in venue.zones:
        app = apps.get(zone_apps.get(zone.id, DEFAULT_APP)) or apps[DEFAULT_APP]  # required: platform.REQUIRED_APPS
        svc.zone_apps.set(venue_id, zone.id, app.name, app.default_config())
    return venue


def _demo_credentials(svc: Services, venue_id: str) -> None:
    """The API token for report sources and the apps' APIs, and a demo Meraki network (README: pointing a Meraki
    network at the demo)."""
    ensure_demo_meraki(svc.db, venue_id, svc.settings.data_dir)
    _demo_token(svc, venue_id)


def _demo_token(svc: Services, venue_id: str) -> None:
    """The demo's API token in `<data_dir>/secrets/<venue>_api_token`, with every scope declared now: run on every
    start, since an app added since the first load declares a scope the token must cover. The token the file
    holds keeps its value (scripts and the README read the file once); a new one only where the store does not
    know it as the demo's."""
    token_file = svc.settings.data_dir / "secrets" / f"{venue_id}_api_token"
    kept = token_file.read_text().strip() if token_file.is_file() else ""
    source = svc.tokens.source_for(venue_id, kept)
    scopes = declared_scopes()
    ours = source is not None and source.label == DEMO_TOKEN_LABEL
    if ours and source.scopes >= scopes:
        return
    # Every scope (a demo convenience: the README's feed and app API examples use this one file); a real
    # venue gives each source its own token with only its own scope (issue-token --scope).
    token = svc.tokens.issue(venue_id, DEMO_TOKEN_LABEL, token=kept if ours else None, scopes=scopes)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token)
    token_file.chmod(0o600)
    log.info("%s: API token in %s", venue_id, token_file)


def _seed_apps(svc: Services, venue: VenueMap) -> None:
    """Each app's demo data; the hooks are idempotent, so this runs on every start."""
    for app in registry.load(svc.settings.light_apps).values():
        seed = registry.parts(app.name).seed_demo
        if seed is not None:
            seed(svc, venue)


def _demo_operator_runs(svc: Services, venue_id: str) -> None:
    """The demo operator (made with Harbour Light, or now) runs this venue too."""
    store = AccountStore(svc.db)
    if store.get(DEMO_OPERATOR) is None:
        store.create(DEMO_OPERATOR, DEMO_PASSWORD, "operator", venue_id, demo=True)  # demo mode only
    else:
        try:
            store.add_venue(DEMO_OPERATOR, venue_id)
        except ValueError:  # someone made `ops` an owner: leave it be, the demo still starts
            log.warning("%s is not an operator account: it does not run %s", DEMO_OPERATOR, venue_id)


def _demo_accounts(svc: Services, venue_id: str) -> None:
    store = AccountStore(svc.db)
    wanted = [(DEMO_OPERATOR, "operator", ())] + [(name, "owner", zones) for name, zones in DEMO_OWNERS.items()]
    for username, role, zones in wanted:
        if store.get(username) is None:
            store.create(username, DEMO_PASSWORD, role, venue_id, zones, demo=True)  # demo mode only
