"""The captive portal put together on an app (`init_captive`, called once by portal/bootstrap.py create_app): its
stores, its landing decision and its views on the app's one store connection. Not in the package's __init__,
which imports nothing: a module using one part (config.py's PortalConfigStore, probes.py) would load the views and
everything they use, services.py and the light-app platform included, which themselves use config.py."""

from __future__ import annotations

from flask import Flask, request

from core.memo import BoundedMemo
from core.store_health import StoreBreaker, VenueBreakers, venue_slot_ping
from portal.apps import registry
from portal.captive.cli import capport_uri, portal_config
from portal.captive.common import CaptiveServices
from portal.captive.config import PortalConfigStore, address_networks
from portal.captive.gateways import ContextSealer
from portal.captive.landing import Landing
from portal.captive.probe_state import ProbeStateStore
from portal.captive.probes import in_app_browser, is_captive_browser
from portal.captive.sessions import SessionStore
from portal.captive.unifi import SiteVenues
from portal.captive.views import bp
from portal.captive.wifidog import WiFiDogTickets
from portal.services import Services
from portal.shopper import token_store


def _landing_endpoint(app_name: str) -> str | None:
    app = registry.get(app_name)
    return app.landing_endpoint if app is not None else None


CLIENT_NETWORKS_MAX_AGE_S = 10.0  # a change of the setting reaches every process within this


def _client_networks(config: PortalConfigStore):
    """venue -> its `client_networks` setting parsed, memoised briefly: every probe naming a MAC asks."""
    memo = BoundedMemo(1024, max_age_s=CLIENT_NETWORKS_MAX_AGE_S)

    def networks(venue: str):
        return memo.get(venue, lambda: tuple(address_networks(config.client_networks(venue))))

    return networks


def _store_breakers(core: Services) -> StoreBreaker | VenueBreakers:
    """The breaker(s) the portal's store calls go through. One store: the app's one breaker, shared with the
    views' 503s (portal/errors.py), since every venue lives on that one server and fails with it. A cluster:
    a breaker per venue, whose recovery ping asks the venue's own slot, so that one shard down fails open only
    its own venues (the app's one breaker would fail open every venue after three failures of any). Kept for the
    venues known to exist: this process's registry copy lists them, or the venue check found them (VenueCheck)."""
    if not core.settings.redis_cluster:
        return core.breaker
    breakers = VenueBreakers(venue_slot_ping(core.db), known=core.venues.listed)
    core.on_close(breakers.close)  # its prober thread ends with the app (Services.close)
    return breakers


def init_captive(app: Flask) -> None:
    """The portal's stores, its landing decision and its views, on the app's one store connection. The
    OS probes are answered by ProbeLane (portal/captive/lane.py), which the app factory puts in front."""
    core = app.extensions["mallportal"]
    db = core.db
    breaker = _store_breakers(core)
    sessions = SessionStore(db)
    probe_state = ProbeStateStore(db, core.locator, core.zone_apps)
    config = PortalConfigStore(db)
    landing = Landing(probe_state=probe_state, sessions=sessions, locator=core.locator,
                      zone_app=lambda venue, zone: core.zone_apps.get(venue, zone)[0],
                      landing_endpoint=_landing_endpoint, breaker=breaker, tokens=token_store(app),
                      events=core.events, client_networks=_client_networks(config))
    app.extensions["captive"] = CaptiveServices(
        sessions=sessions, config=config,
        sealer=ContextSealer(core.settings.secret_key, core.settings.max_clock_skew_s),
        landing=landing, breaker=breaker, db=db, portal_url=core.settings.portal_url,
        direct_mode=core.settings.direct_mode, tickets=WiFiDogTickets(db, sessions),
        unifi_sites=SiteVenues(core.venues.venue_ids, config.unifi_site))
    app.register_blueprint(bp)
    app.cli.add_command(portal_config)
    app.cli.add_command(capport_uri)
    app.jinja_env.globals["in_captive_browser"] = lambda: is_captive_browser(request.headers.get("User-Agent", ""))
    # an app's browser (WeChat, Douyin, ...) keeps her, but it is not her phone's browser: the keep link's words differ
    app.jinja_env.globals["in_an_apps_browser"] = lambda: bool(in_app_browser(request.headers.get("User-Agent", "")))
